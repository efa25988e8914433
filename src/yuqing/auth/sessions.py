"""Signed-in sessions and API tokens (登录会话与接口令牌): only hashes of their secrets are kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from yuqing.auth import config
from yuqing.auth.models import ApiToken, User, UserSession
from yuqing.auth.schemas import AuthError, Principal
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow


def _hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


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


def end_user_sessions(session: Session, *, user: User) -> None:
    """Sign an account out of every browser (its password changed, or it was disabled)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


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
    summary = f"为账号 {user.username} 新建接口令牌“{token.name}”（{token.scopes}）"
    _record_token(session, actor=actor, token=token, summary=summary)
    return token, secret


def _record_token(session: Session, *, actor: Actor, token: ApiToken, summary: str) -> None:
    """Audit a token made or revoked."""
    audit.record(
        session,
        actor=actor,
        action="token",
        object_type="api_token",
        object_id=token.id,
        summary=summary,
    )


def create_own_token(
    session: Session, *, principal: Principal, name: str, scopes: list[str]
) -> tuple[ApiToken, str]:
    """A token a person makes for their own account on the desk: never by a token (a token
    that could mint tokens could widen its own scopes), never beyond what the account may."""
    if principal.by_token:
        raise AuthError("接口令牌不能创建令牌，请登录工作台后操作")
    user = session.get(User, principal.user_id)
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
        _record_token(session, actor=actor, token=token, summary=f"吊销接口令牌“{token.name}”")


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
