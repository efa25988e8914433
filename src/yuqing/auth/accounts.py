"""Accounts and their passwords, and sign-in (账号与密码): plain functions over a session."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import limits, passwords
from yuqing.auth.models import Role, User
from yuqing.auth.roles import ensure_roles, get_role
from yuqing.auth.schemas import AuthError
from yuqing.auth.sessions import end_user_sessions, revoke_all_tokens
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


def check_password_strength(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse a short or easily guessed password (``passwords.check_strength``)."""
    try:
        passwords.check_strength(password, user_inputs=user_inputs)
    except passwords.WeakPassword as weak:
        raise AuthError(str(weak)) from weak


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, *, username: str) -> User | None:
    return session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()


def record_account(
    session: Session,
    *,
    actor: Actor,
    user: User,
    action: str,
    summary: str,
    changes: Mapping[str, Any],
) -> None:
    """Audit a change made to an account (the audit row's object is the account)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.id,
        summary=summary,
        changes=changes,
    )


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
    if get_user_by_username(session, username=username) is not None:
        raise AuthError(f"用户名 {username} 已存在")
    check_password_strength(password, user_inputs=(username, display_name or ""))
    role = get_role(session, key=role_key)
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
    record_account(
        session,
        actor=actor,
        user=user,
        action="create",
        summary=f"新建账号 {username}（{role.name}）",
        changes=audit.diff(
            {}, {"username": username, "role": role.key, "unit_id": unit_id, "person_id": person_id}
        ),
    )
    return user


def update_user_role(
    session: Session, *, user: User, role_key: str, unit_id: int | None, actor: Actor
) -> User:
    role = get_role(session, key=role_key)
    before = {
        "role": session.get(Role, user.role_id).key if user.role_id else None,  # type: ignore[union-attr]
        "unit_id": user.unit_id,
    }
    user.role_id, user.unit_id = role.id, unit_id
    after = {"role": role.key, "unit_id": unit_id}
    session.flush()
    record_account(
        session,
        actor=actor,
        user=user,
        action="permission",
        summary=f"调整账号 {user.username} 的角色或单位",
        changes=audit.diff(before, after),
    )
    return user


def update_user_active(session: Session, *, user: User, active: bool, actor: Actor) -> User:
    before = user.active
    user.active = active
    if not active:
        end_user_sessions(session, user=user)
    record_account(
        session,
        actor=actor,
        user=user,
        action="permission",
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
    end_user_sessions(session, user=user)
    revoked = revoke_all_tokens(session, user=user)
    record_account(
        session,
        actor=actor,
        user=user,
        action="password",
        summary=f"{'修改' if current is not None else '重置'}账号 {user.username} 的密码"
        + (f"，吊销其接口令牌 {revoked} 个" if revoked else ""),
        changes=audit.diff(before, {"must_change_password": current is None}),
    )
    return revoked


# --- sign-in (the password checked; the session is ``sessions.start_session``) ----------

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
    user = get_user_by_username(session, username=username)
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


# --- reads for other domains ---------------------------------------------------------------


def list_active_user_ids(session: Session, *, person_ids: Iterable[int]) -> list[int]:
    """The active accounts of these people of the roster, by id (their desk inboxes)."""
    ids = list(person_ids)
    if not ids:
        return []
    statement = select(User.id).where(User.person_id.in_(ids), User.active.is_(True))
    return list(session.execute(statement.order_by(User.id)).scalars())


def list_user_ids_holding(session: Session, *, permission: str) -> list[int]:
    """The active accounts whose role holds ``permission`` (e.g. the administrators)."""
    statement = (
        select(User.id, Role.permissions)
        .join(Role, Role.id == User.role_id)
        .where(User.active.is_(True))
        .order_by(User.id)
    )
    return [
        int(user_id)
        for user_id, held in session.execute(statement)
        if permission in (held or "").split()
    ]


def list_user_names(session: Session, *, user_ids: Iterable[int]) -> dict[int, str]:
    """Account id → the name people read (display name, else user name)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = session.execute(select(User).where(User.id.in_(ids))).scalars()
    return {u.id: (u.display_name or u.username) for u in rows}
