"""Roles and their permissions, and the principal an account acts as (角色与权限)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import config
from yuqing.auth.models import ApiToken, Role, User
from yuqing.auth.schemas import AuthError, Principal
from yuqing.org import service as org


def permission_label(permission: str) -> str:
    return config.PERMISSIONS.get(permission, permission)


def ensure_roles(session: Session) -> None:
    """Create the default roles that do not exist yet (names stay editable). The
    administrator role holds every permission by definition, so permissions added by an
    upgrade are given to it here; other roles keep what the institution set, except that a
    permission split off an older one (``config.SPLIT_FROM``) goes to the roles holding the
    older one. The administrator's missing permissions are what this upgrade adds, so that
    happens once, and a permission an institution removes later stays removed."""
    admin = session.execute(select(Role).where(Role.key == "admin")).scalar_one_or_none()
    if admin is not None:
        held = admin.permissions.split()
        missing = [p for p in config.PERMISSIONS if p not in held]
        if missing:
            admin.permissions = " ".join([*held, *missing])
            _grant_split(session, [p for p in missing if p in config.SPLIT_FROM])
    existing = set(session.execute(select(Role.key)).scalars())
    for key, name, order, all_units, permissions in config.ROLES:
        if key not in existing:
            session.add(
                Role(
                    key=key,
                    name=name,
                    order=order,
                    all_units=all_units,
                    permissions=" ".join(permissions),
                )
            )
    session.flush()


def _grant_split(session: Session, added: list[str]) -> None:
    for role in session.execute(select(Role).where(Role.key != "admin")).scalars():
        held = role.permissions.split()
        for permission in added:
            older, every_unit = config.SPLIT_FROM[permission]
            if older in held and (role.all_units or not every_unit) and permission not in held:
                held.append(permission)
        role.permissions = " ".join(held)


def get_role(session: Session, *, key: str) -> Role:
    """The role of this key; the default roles are created first if they are missing.
    Raises ``AuthError`` for a key no role has."""
    role = session.execute(select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        ensure_roles(session)
        role = session.execute(select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        raise AuthError(f"没有名为 {key} 的角色")
    return role


def list_roles(session: Session) -> list[Role]:
    return list(session.execute(select(Role).order_by(Role.order)).scalars())


def principal_for(
    session: Session, *, user: User, ip: str | None = None, token: ApiToken | None = None
) -> Principal:
    role = session.get(Role, user.role_id)
    permissions = frozenset(role.permissions.split()) if role else frozenset()
    all_units = bool(role and role.all_units)
    visible = (
        None
        if all_units
        else (org.list_subtree_ids(session, unit_id=user.unit_id) if user.unit_id else frozenset())
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role_key=role.key if role else "",
        permissions=permissions,
        unit_id=user.unit_id,
        visible_units=visible,
        ip=ip,
        token_scopes=frozenset(token.scopes.split()) if token else None,
    )
