"""Accounts, passwords, sessions, API tokens and permissions: plain functions over a session."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from yuqing.auth import config, limits, passwords
from yuqing.auth.models import ApiToken, Role, User, UserSession
from yuqing.auth.schemas import Principal
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.org.models import Person, Unit


class AuthError(Exception):
    """A refused sign-in or credential, with a message for the user (Chinese)."""


def permission_label(permission: str) -> str:
    return config.PERMISSIONS.get(permission, permission)


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


def check_password_strength(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse a short or easily guessed password (``passwords.check_strength``)."""
    try:
        passwords.check_strength(password, user_inputs=user_inputs)
    except passwords.WeakPassword as weak:
        raise AuthError(str(weak)) from weak


def _hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- roles ----------------------------------------------------------------------------


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


def role_by_key(session: Session, key: str) -> Role:
    role = session.execute(select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        ensure_roles(session)
        role = session.execute(select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        raise AuthError(f"没有名为 {key} 的角色")
    return role


def list_roles(session: Session) -> list[Role]:
    return list(session.execute(select(Role).order_by(Role.order)).scalars())


# --- accounts -------------------------------------------------------------------------


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_username(session: Session, *, username: str) -> User | None:
    return session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role_key: str,
    actor: Actor,
    display_name: str | None = None,
    unit_id: int | None = None,
    person_id: int | None = None,
    must_change_password: bool = True,
) -> User:
    username = username.strip().lower()
    if (
        not username
        or len(username) > 60
        or not username.replace("_", "").replace(".", "").isalnum()
    ):
        raise AuthError("用户名只能包含字母、数字、点和下划线，最长 60 个字符")
    if get_by_username(session, username=username) is not None:
        raise AuthError(f"用户名 {username} 已存在")
    check_password_strength(password, user_inputs=(username, display_name or ""))
    role = role_by_key(session, role_key)
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:60],
        password_hash=hash_password(password),
        role_id=role.id,
        unit_id=unit_id,
        person_id=person_id,
        must_change_password=must_change_password,
        password_changed_at=utcnow(),
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        object_type="user",
        object_id=user.id,
        summary=f"新建账号 {username}（{role.name}）",
        changes=audit.diff(
            {}, {"username": username, "role": role.key, "unit_id": unit_id, "person_id": person_id}
        ),
    )
    return user


def set_role(
    session: Session, *, user: User, role_key: str, unit_id: int | None, actor: Actor
) -> User:
    role = role_by_key(session, role_key)
    before = {
        "role": session.get(Role, user.role_id).key if user.role_id else None,  # type: ignore[union-attr]
        "unit_id": user.unit_id,
    }
    user.role_id, user.unit_id = role.id, unit_id
    after = {"role": role.key, "unit_id": unit_id}
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="permission",
        object_type="user",
        object_id=user.id,
        summary=f"调整账号 {user.username} 的角色或单位",
        changes=audit.diff(before, after),
    )
    return user


def set_active(session: Session, *, user: User, active: bool, actor: Actor) -> User:
    before = user.active
    user.active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(
        session,
        actor=actor,
        action="permission",
        object_type="user",
        object_id=user.id,
        summary=f"{'启用' if active else '停用'}账号 {user.username}",
        changes={"active": [before, active]},
    )
    return user


def change_password(
    session: Session, *, user: User, current: str | None, new: str, actor: Actor
) -> int:
    """Change a password; ``current`` is required unless an administrator resets it. Ends
    the account's other sessions, revokes all its API tokens (a token made by whoever knew
    the old password must not outlive it) and lifts its sign-in pauses. Returns how many
    tokens were revoked."""
    if current is not None and not passwords.verify(user.password_hash, current):
        raise AuthError("当前密码不正确")
    if current is not None and new == current:
        raise AuthError("新密码不能与当前密码相同")
    check_password_strength(new, user_inputs=(user.username, user.display_name))
    before = {"must_change_password": user.must_change_password}
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = current is None  # an administrator's reset is one-time
    limits.clear(session, username=user.username)
    # Other browsers signed in with the old password are signed out.
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    revoked = revoke_all_tokens(session, user=user)
    audit.record(
        session,
        actor=actor,
        action="password",
        object_type="user",
        object_id=user.id,
        summary=f"{'修改' if current is not None else '重置'}账号 {user.username} 的密码"
        + (f"，吊销其接口令牌 {revoked} 个" if revoked else ""),
        changes=audit.diff(before, {"must_change_password": current is None}),
    )
    return revoked


# --- sign-in and sessions -------------------------------------------------------------

_WRONG = "用户名或密码不正确"


def admit_login(session: Session, *, username: str, ip: str | None) -> None:
    """Count a sign-in attempt before its password is checked; raises
    ``limits.LoginPaused`` (nothing hashed, nothing audited but a count) when the name from
    this address, or the address, is paused. The caller commits before ``check_login``, so
    simultaneous attempts see each other's counts."""
    for summary in limits.admit(session, username=username, ip=ip):
        _audit_limit(session, summary, ip)


def _audit_limit(session: Session, summary: str, ip: str | None) -> None:
    audit.record(
        session,
        actor=Actor(None, "登录限制", ip),
        action="login_failed",
        object_type="login_limit",
        summary=summary,
    )


def check_login(session: Session, *, username: str, password: str, ip: str | None) -> User:
    """Check the password of an admitted attempt. An unknown or disabled account is checked
    against a dummy hash, and answers the same message as a wrong password, as slowly. Every
    failure is audited and may start a pause (``limits.failed``)."""
    user = get_by_username(session, username=username)
    usable = user is not None and user.active
    if not passwords.verify(user.password_hash if user and usable else None, password):
        for summary in limits.failed(session, username=username, ip=ip):
            _audit_limit(session, summary, ip)
        audit.record(
            session,
            actor=Actor(
                user.id if user else None,
                (user.username if user else username.strip()[:60]) or "（空）",
                ip,
            ),
            action="login_failed",
            object_type="user",
            object_id=user.id if user else None,
            summary="登录失败：" + ("密码错误" if usable else "账号不存在或已停用"),
        )
        raise AuthError(_WRONG)
    assert user is not None
    limits.succeeded(session, username=username, ip=ip)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(
        session,
        actor=Actor(user.id, user.username, ip),
        action="login",
        object_type="user",
        object_id=user.id,
        summary="登录成功",
    )
    return user


def authenticate(session: Session, *, username: str, password: str, ip: str | None) -> User:
    """``admit_login`` then ``check_login`` in one transaction (commands and tests; the
    sign-in page commits in between)."""
    admit_login(session, username=username, ip=ip)
    return check_login(session, username=username, password=password, ip=ip)


def start_session(session: Session, *, user: User) -> str:
    """A new signed-in session; returns the secret for the cookie (only its hash is kept)."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            id_hash=_hash_secret(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=config.SESSION_MAX_DAYS),
        )
    )
    session.flush()
    return secret


def end_session(session: Session, *, secret: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id_hash == _hash_secret(secret)))


def user_for_session(session: Session, *, secret: str) -> User | None:
    """The account of a session cookie, or ``None`` when unknown, expired or idle too long."""
    if not secret or len(secret) > 200:
        return None
    found = session.get(UserSession, _hash_secret(secret))
    if found is None:
        return None
    now = utcnow()
    idle = timedelta(hours=config.SESSION_IDLE_HOURS)
    if found.expires_at <= now or found.last_seen_at + idle <= now:
        session.delete(found)
        session.flush()
        return None
    user = session.get(User, found.user_id)
    if user is None or not user.active:
        return None
    if now - found.last_seen_at > timedelta(minutes=5):  # write at most every few minutes
        found.last_seen_at = now
    return user


# --- API tokens -----------------------------------------------------------------------

TOKEN_PREFIX = "yq_"


def create_token(
    session: Session,
    *,
    user: User,
    name: str,
    scopes: list[str],
    actor: Actor,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token; returns it with the secret, which is shown once and never stored."""
    unknown = [s for s in scopes if s not in config.PERMISSIONS]
    if unknown:
        raise AuthError(f"未知的权限范围：{'、'.join(unknown)}")
    if not scopes:
        raise AuthError("请至少选择一个权限范围")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:100] or "未命名令牌",
        prefix=secret[:10],
        token_hash=_hash_secret(secret),
        scopes=" ".join(dict.fromkeys(scopes)),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token",
        object_type="api_token",
        object_id=token.id,
        summary=f"为账号 {user.username} 新建接口令牌“{token.name}”（{token.scopes}）",
    )
    return token, secret


def create_own_token(
    session: Session, *, principal: Principal, name: str, scopes: list[str]
) -> tuple[ApiToken, str]:
    """A token a person makes for their own account on the desk: never by a token (a token
    that could mint tokens could widen its own scopes), never beyond what the account may."""
    if principal.by_token:
        raise AuthError("接口令牌不能创建令牌，请登录工作台后操作")
    user = get_user(session, user_id=principal.user_id)
    if user is None or not user.active:
        raise AuthError("账号不存在或已停用")
    if user.must_change_password:
        raise AuthError("请先修改初始密码，再创建令牌")
    if [s for s in scopes if s in config.PERMISSIONS and not principal.can(s)]:
        raise AuthError("令牌的权限不能超过账号本身的权限")
    return create_token(session, user=user, name=name, scopes=scopes, actor=principal.actor)


def revoke_all_tokens(session: Session, *, user: User) -> int:
    """Revoke every token of an account still in force; returns how many."""
    now = utcnow()
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(cast(CursorResult[Any], result).rowcount)


def revoke_token(session: Session, *, token: ApiToken, actor: Actor) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="token",
            object_type="api_token",
            object_id=token.id,
            summary=f"吊销接口令牌“{token.name}”",
        )


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(
        session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        ).scalars()
    )


def user_for_token(
    session: Session, *, secret: str, pending: bool = False
) -> tuple[User, ApiToken] | None:
    """The account and token of a bearer secret, or ``None`` when unknown, revoked, expired,
    of a disabled account, or (unless ``pending``) of an account whose one-time password is
    not changed yet: such an account does nothing but change it."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session.execute(
        select(ApiToken).where(ApiToken.token_hash == _hash_secret(secret))
    ).scalar_one_or_none()
    now = utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active or (user.must_change_password and not pending):
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now
    return user, token


# --- permissions and unit scope -------------------------------------------------------


def unit_subtree(session: Session, unit_id: int) -> frozenset[int]:
    """A unit and every unit below it."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in session.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found, stack = {unit_id}, [unit_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def principal_for(
    session: Session, *, user: User, ip: str | None = None, token: ApiToken | None = None
) -> Principal:
    role = session.get(Role, user.role_id)
    permissions = frozenset(role.permissions.split()) if role else frozenset()
    all_units = bool(role and role.all_units)
    visible = (
        None
        if all_units
        else (unit_subtree(session, user.unit_id) if user.unit_id else frozenset())
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


# --- the first administrator ----------------------------------------------------------


def bootstrap_admin(session: Session) -> tuple[User, str] | None:
    """Create the first administrator with a random one-time password (changed at the first
    sign-in); ``None`` when any account exists already."""
    ensure_roles(session)
    if session.execute(select(User.id).limit(1)).first() is not None:
        return None
    password = secrets.token_urlsafe(12)
    user = create_user(
        session,
        username="admin",
        password=password + "9a",  # token_urlsafe may be letters only
        role_key="admin",
        actor=audit.SYSTEM,
        display_name="系统管理员",
        must_change_password=True,
    )
    return user, password + "9a"


# --- account administration (账号管理) -------------------------------------------------

MANAGE_USERS = "users.manage"


def one_time_password() -> str:
    """A random password to hand over once; the account must change it at first sign-in."""
    return secrets.token_urlsafe(12) + "7k"  # token_urlsafe may be letters only


def paused_names(session: Session) -> dict[str, datetime]:
    """Account names paused from some address now → the end of their longest pause."""
    found: dict[str, datetime] = {}
    for row in limits.paused(session, usernames=[u.username for u in list_users(session)]):
        if row.kind == limits.NAME and row.locked_until is not None:
            found.setdefault(row.username, row.locked_until)
    return found


def _check_links(session: Session, *, unit_id: int | None, person_id: int | None) -> None:
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise AuthError(f"单位 {unit_id} 不存在")
    if person_id is not None and session.get(Person, person_id) is None:
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


def admin_update(
    session: Session, *, user: User, role_key: str, unit_id: int | None, by: Principal
) -> User:
    """Change an account's role and unit (audited as a permission change)."""
    role = role_by_key(session, role_key)
    if role.id == user.role_id and unit_id == user.unit_id:
        return user  # nothing to change, nothing to audit
    _check_links(session, unit_id=unit_id, person_id=None)
    _guard_managers(_managers(session), _managers(session, user_id=user.id, role_id=role.id), by=by)
    return set_role(session, user=user, role_key=role_key, unit_id=unit_id, actor=by.actor)


def admin_link_person(session: Session, *, user: User, person_id: int | None, actor: Actor) -> User:
    """Say which person of the roster an account is (``None`` unlinks it): messages to that
    person then reach the account's desk inbox. Audited as a permission change."""
    if person_id == user.person_id:
        return user  # nothing to change, nothing to audit
    _check_links(session, unit_id=None, person_id=person_id)
    before = user.person_id
    user.person_id = person_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="permission",
        object_type="user",
        object_id=user.id,
        summary=f"调整账号 {user.username} 对应的人员",
        changes={"person_id": [before, person_id]},
    )
    return user


def admin_set_active(session: Session, *, user: User, active: bool, by: Principal) -> User:
    """Deactivate or reactivate an account (its sessions end when deactivated)."""
    if user.active == active:
        return user
    _guard_managers(_managers(session), _managers(session, user_id=user.id, active=active), by=by)
    set_active(session, user=user, active=active, actor=by.actor)
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
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="user",
        object_id=user.id,
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


def set_role_permissions(
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
