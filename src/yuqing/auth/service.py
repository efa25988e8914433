"""The auth domain's face (账号、会话与权限): what the views and other domains call.

The work lives in rooms by role: ``accounts`` (accounts, passwords, sign-in), ``sessions``
(signed-in sessions and API tokens), ``roles`` (roles, permissions, the principal). Account
administration, whose guards span all three, stays here.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import config, limits
from yuqing.auth.accounts import (
    admit_login,
    authenticate,
    bootstrap_admin,
    change_password,
    check_login,
    check_password_strength,
    create_user,
    get_user,
    get_user_by_username,
    hash_password,
    list_active_user_ids,
    list_user_ids_holding,
    list_user_names,
    list_users,
    record_account,
    update_user_active,
    update_user_role,
)
from yuqing.auth.models import Role, User
from yuqing.auth.roles import (
    ensure_roles,
    get_role,
    list_roles,
    permission_label,
    principal_for,
)
from yuqing.auth.schemas import AuthError, Principal
from yuqing.auth.sessions import (
    TOKEN_PREFIX,
    create_own_token,
    create_token,
    end_session,
    end_user_sessions,
    list_tokens,
    revoke_all_tokens,
    revoke_token,
    start_session,
    user_for_session,
    user_for_token,
)
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.org import service as org

__all__ = [
    "MANAGE_USERS",
    "TOKEN_PREFIX",
    "AuthError",
    "admit_login",
    "authenticate",
    "bootstrap_admin",
    "change_password",
    "check_login",
    "check_password_strength",
    "create_account",
    "create_own_token",
    "create_token",
    "create_user",
    "end_session",
    "end_user_sessions",
    "ensure_roles",
    "get_role",
    "get_user",
    "get_user_by_username",
    "hash_password",
    "list_active_user_ids",
    "list_paused_names",
    "list_roles",
    "list_tokens",
    "list_user_ids_holding",
    "list_user_names",
    "list_users",
    "one_time_password",
    "permission_label",
    "principal_for",
    "reset_password",
    "revoke_all_tokens",
    "revoke_token",
    "start_session",
    "unlock",
    "unlock_address",
    "update_account",
    "update_account_active",
    "update_account_person",
    "update_role_permissions",
    "update_user_active",
    "update_user_role",
    "user_for_session",
    "user_for_token",
]


# --- account administration (账号管理) -------------------------------------------------

MANAGE_USERS = "users.manage"


def one_time_password() -> str:
    """A random password to hand over once; the account must change it at first sign-in."""
    return secrets.token_urlsafe(12) + "7k"  # token_urlsafe may be letters only


def list_paused_names(session: Session) -> dict[str, datetime]:
    """Account names paused from some address now → the end of their longest pause."""
    found: dict[str, datetime] = {}
    for row in limits.paused(session, usernames=[u.username for u in list_users(session)]):
        if row.kind == limits.NAME and row.locked_until is not None:
            found.setdefault(row.username, row.locked_until)
    return found


def _check_links(session: Session, *, unit_id: int | None, person_id: int | None) -> None:
    if unit_id is not None and org.get_unit(session, unit_id=unit_id) is None:
        raise AuthError(f"单位 {unit_id} 不存在")
    if person_id is not None and org.get_person(session, person_id=person_id) is None:
        raise AuthError(f"人员 {person_id} 不存在")


def create_account(
    session: Session,
    *,
    username: str,
    role_key: str,
    actor: Actor,
    display_name: str | None = None,
    unit_id: int | None = None,
    person_id: int | None = None,
) -> tuple[User, str]:
    """A new account with a one-time password; returns the account and that password."""
    _check_links(session, unit_id=unit_id, person_id=person_id)
    password = one_time_password()
    user = create_user(
        session,
        username=username,
        password=password,
        role_key=role_key,
        actor=actor,
        display_name=display_name,
        unit_id=unit_id,
        person_id=person_id,
        must_change_password=True,
    )
    return user, password


def _managers(
    session: Session,
    *,
    user_id: int | None = None,
    role_id: int | None = None,
    active: bool | None = None,
    role_permissions: tuple[int, set[str]] | None = None,
) -> set[int]:
    """The active accounts that may manage accounts, after an intended change: one account's
    role or active flag, or one role's permissions."""
    perms = {r.id: set(r.permissions.split()) for r in list_roles(session)}
    if role_permissions is not None:
        perms[role_permissions[0]] = role_permissions[1]
    found: set[int] = set()
    for uid, rid, is_active in session.execute(select(User.id, User.role_id, User.active)):
        if uid == user_id:
            rid = role_id if role_id is not None else rid
            is_active = active if active is not None else is_active
        if is_active and MANAGE_USERS in perms.get(rid, set()):
            found.add(uid)
    return found


def _guard_managers(before: set[int], after: set[int], *, by: Principal) -> None:
    """Refuse a change that takes an administrator's own rights or leaves none at all."""
    if by.user_id in before and by.user_id not in after:
        raise AuthError("不能停用自己的账号或取消自己的账号管理权限，请由另一位管理员操作")
    if before and not after:
        raise AuthError("这是最后一个启用的管理员账号，不能停用或降级")


def update_account(
    session: Session, *, user: User, role_key: str, unit_id: int | None, by: Principal
) -> User:
    """Change an account's role and unit (audited as a permission change)."""
    role = get_role(session, key=role_key)
    if role.id == user.role_id and unit_id == user.unit_id:
        return user  # nothing to change, nothing to audit
    _check_links(session, unit_id=unit_id, person_id=None)
    _guard_managers(_managers(session), _managers(session, user_id=user.id, role_id=role.id), by=by)
    return update_user_role(session, user=user, role_key=role_key, unit_id=unit_id, actor=by.actor)


def update_account_person(
    session: Session, *, user: User, person_id: int | None, actor: Actor
) -> User:
    """Say which person of the roster an account is (``None`` unlinks it): messages to that
    person then reach the account's desk inbox. Audited as a permission change."""
    if person_id == user.person_id:
        return user  # nothing to change, nothing to audit
    _check_links(session, unit_id=None, person_id=person_id)
    before = user.person_id
    user.person_id = person_id
    session.flush()
    record_account(
        session,
        actor=actor,
        user=user,
        action="permission",
        summary=f"调整账号 {user.username} 对应的人员",
        changes={"person_id": [before, person_id]},
    )
    return user


def update_account_active(session: Session, *, user: User, active: bool, by: Principal) -> User:
    """Deactivate or reactivate an account (its sessions end when deactivated)."""
    if user.active == active:
        return user
    _guard_managers(_managers(session), _managers(session, user_id=user.id, active=active), by=by)
    update_user_active(session, user=user, active=active, actor=by.actor)
    session.flush()
    return user


def reset_password(session: Session, *, user: User, actor: Actor) -> str:
    """An administrator's reset: a one-time password (returned once); the account's tokens
    are revoked, its sessions ended and its sign-in pauses lifted (``change_password``)."""
    password = one_time_password()
    change_password(session, user=user, current=None, new=password, actor=actor)
    session.flush()
    return password


def unlock(session: Session, *, user: User, actor: Actor) -> int:
    """Lift the sign-in pauses of an account from every address; returns how many."""
    lifted = limits.clear(session, username=user.username)
    record_account(
        session,
        actor=actor,
        user=user,
        action="update",
        summary=f"解除账号 {user.username} 的登录限制（{lifted} 处暂停）",
        changes={"paused": [lifted, 0]},
    )
    session.flush()
    return lifted


def unlock_address(session: Session, *, ip: str, actor: Actor) -> int:
    """Lift the pauses of a source address (its own and its names'); returns how many."""
    lifted = limits.clear(session, ip=ip)
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="login_limit",
        object_id=ip[:64],
        summary=f"解除地址 {ip[:64]} 的登录限制（{lifted} 处暂停）",
    )
    session.flush()
    return lifted


def update_role_permissions(
    session: Session, *, role: Role, permissions: list[str], by: Principal
) -> Role:
    """Replace a role's permissions (audited as a permission change)."""
    unknown = [p for p in permissions if p not in config.PERMISSIONS]
    if unknown:
        raise AuthError(f"未知的权限：{'、'.join(unknown)}")
    wanted = [p for p in config.PERMISSIONS if p in set(permissions)]  # the catalogue's order
    before = role.permissions.split()
    if set(before) == set(wanted):
        return role
    _guard_managers(
        _managers(session), _managers(session, role_permissions=(role.id, set(wanted))), by=by
    )
    added = [permission_label(p) for p in wanted if p not in before]
    removed = [permission_label(p) for p in before if p not in wanted]
    parts = ([f"增加 {'、'.join(added)}"] if added else []) + (
        [f"取消 {'、'.join(removed)}"] if removed else []
    )
    role.permissions = " ".join(wanted)
    session.flush()
    audit.record(
        session,
        actor=by.actor,
        action="permission",
        object_type="role",
        object_id=role.id,
        summary=f"调整角色“{role.name}”的权限：{'；'.join(parts)}",
        changes={"permissions": [before, wanted]},
    )
    return role


# --- reads for other domains' pages (added for cases: who signed a case's steps) ----------


def list_unit_accounts(session: Session, *, user_ids: set[int]) -> dict[int, int | None]:
    """Of ``user_ids``, the accounts whose role is bound to their own unit (not every unit),
    each with that unit: a case page hides the names of another unit's people."""
    if not user_ids:
        return {}
    statement = (
        select(User.id, User.unit_id)
        .join(Role, Role.id == User.role_id)
        .where(User.id.in_(user_ids), Role.all_units.is_(False))
    )
    return {user_id: unit_id for user_id, unit_id in session.execute(statement)}
