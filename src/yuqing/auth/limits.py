"""Sign-in limits (登录限制): an account name tried from one address pauses after a few wrong
passwords, for a delay that doubles at each pause; one address pauses after a budget of
failures over all names. A paused attempt is refused before any password hashing, and only
counted: the audit log gets one row per pause, not one per refused attempt.

Why per name *and* address: a lock of the account for everyone let anyone keep a colleague
out for good; a name paused from one address leaves the other addresses (and the command
line, ``yuqing users unlock``) open. The name is kept as typed, known or not, so a pause
tells nothing about which accounts exist.

Every attempt is counted before its password is checked (``admit``; the caller commits
first), so a burst of simultaneous attempts cannot all slip under the budget; a success
gives its count back (``succeeded``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from yuqing.auth import config
from yuqing.auth.models import LoginLimit
from yuqing.core.timeutil import utcnow

NAME, ADDRESS = "name", "address"
_BUSY_SECONDS = 5  # the budget is full of attempts still being checked


class LoginPaused(Exception):
    """A sign-in refused before its password was checked, with the reason (Chinese) and the
    seconds to wait (for ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """The numbers of one kind of limit (see ``config``)."""

    kind: str
    failures: int
    base_seconds: int


def limit_of(kind: str) -> Limit:
    if kind == NAME:
        return Limit(NAME, config.LOCKOUT_FAILURES, config.LOCKOUT_BASE_SECONDS)
    return Limit(ADDRESS, config.ADDRESS_FAILURES, config.ADDRESS_WINDOW_MINUTES * 60)


def normal_name(username: str) -> str:
    return username.strip().lower()[:100]


def _keys(username: str, ip: str | None) -> dict[str, tuple[str, str, str]]:
    """kind → (key, username, address) of the two rows an attempt counts on."""
    name, address = normal_name(username), (ip or "")[:64]
    return {
        ADDRESS: (f"{ADDRESS}:{address}", "", address),
        NAME: (f"{NAME}:{address}:{name}", name, address),
    }


def backoff(limit: Limit, pauses: int) -> int:
    """Seconds of the pause after ``pauses`` earlier ones: the base, doubled each time."""
    return int(min(limit.base_seconds * 2 ** min(pauses, 30), config.LOCKOUT_MAX_SECONDS))


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{max(seconds, 1)} 秒"
    if seconds < 3600:
        return f"{-(-seconds // 60)} 分钟"
    return f"{-(-seconds // 3600)} 小时"


def _ensure(session: Session, keys: dict[str, tuple[str, str, str]], now: datetime) -> None:
    rows = [
        {"key": key, "kind": kind, "username": name, "ip": address, "window_start": now,
         "updated_at": now, "failures": 0, "pauses": 0, "refused": 0}
        for kind, (key, name, address) in keys.items()
    ]  # fmt: skip
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(LoginLimit).values(rows).on_conflict_do_nothing())


def _lock(session: Session, keys: dict[str, tuple[str, str, str]]) -> None:
    """Lock an attempt's two rows in one order (the address's key sorts first) before any
    change: sign-ins of one name from one address that succeed and fail together otherwise
    locked them in opposite orders, and PostgreSQL broke the deadlock with a 500.
    (SQLite has one writer at a time and no row locks: nothing to do there.)"""
    if session.get_bind().dialect.name == "sqlite":
        return
    wanted = sorted(key for key, _, _ in keys.values())
    session.execute(
        select(LoginLimit.key)
        .where(LoginLimit.key.in_(wanted))
        .order_by(LoginLimit.key)
        .with_for_update()
    ).all()


def _not_paused(now: datetime) -> ColumnElement[bool]:
    return or_(LoginLimit.locked_until.is_(None), LoginLimit.locked_until <= now)


def _forget(session: Session, keys: list[str], now: datetime) -> None:
    """Start a new count where the last one is old: an address's window has passed, or a
    name has been quiet for a day (its delays then start small again)."""
    memory = now - timedelta(hours=config.LOCKOUT_MEMORY_HOURS)
    window = now - timedelta(minutes=config.ADDRESS_WINDOW_MINUTES)
    stale = or_(
        LoginLimit.updated_at <= memory,
        and_(LoginLimit.kind == ADDRESS, LoginLimit.window_start <= window),
    )
    session.execute(
        update(LoginLimit)
        .where(LoginLimit.key.in_(keys), _not_paused(now), stale)
        .values(
            failures=0,
            window_start=now,
            pauses=case((LoginLimit.updated_at <= memory, 0), else_=LoginLimit.pauses),
        )
        .execution_options(synchronize_session=False)
    )


def _ended_pauses(session: Session, keys: list[str], now: datetime) -> list[str]:
    """Summaries of pauses that have ended with refused attempts not yet reported; their
    count is reset, so each pause is reported once."""
    rows = session.execute(
        select(LoginLimit).where(
            LoginLimit.key.in_(keys), LoginLimit.refused > 0, LoginLimit.locked_until <= now
        )
    ).scalars()
    summaries = []
    for row in rows:
        summaries.append(f"{_who(row)}的暂停已结束：暂停期间拒绝登录尝试 {row.refused} 次")
        row.refused = 0
    return summaries


def _who(row: LoginLimit) -> str:
    address = row.ip or "未知地址"
    return f"地址 {address}" if row.kind == ADDRESS else f"名称“{row.username}”在地址 {address}"


def admit(session: Session, *, username: str, ip: str | None) -> list[str]:
    """Count one attempt on its address and its name before the password is checked.
    Raises ``LoginPaused`` when either is paused or its budget is full of attempts being
    checked; returns summaries of ended pauses to audit. The caller commits before hashing."""
    now = utcnow()
    keys = _keys(username, ip)
    _ensure(session, keys, now)
    _lock(session, keys)
    _forget(session, [key for key, _, _ in keys.values()], now)
    ended = _ended_pauses(session, [key for key, _, _ in keys.values()], now)
    counted: list[str] = []
    for kind in (ADDRESS, NAME):  # the address first: a flood stops at its first row
        key = keys[kind][0]
        admitted = _changed(
            session,
            update(LoginLimit)
            .where(
                LoginLimit.key == key,
                LoginLimit.failures < limit_of(kind).failures,
                _not_paused(now),
            )
            .values(failures=LoginLimit.failures + 1, updated_at=now)
            .execution_options(synchronize_session=False),
        )
        if not admitted:
            _refund(session, counted)
            raise _refusal(session, key, kind, now)
        counted.append(key)
    return ended


def _changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE changed."""
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def _refund(session: Session, keys: Iterable[str]) -> None:
    session.execute(
        update(LoginLimit)
        .where(LoginLimit.key.in_(list(keys)), LoginLimit.failures > 0)
        .values(failures=LoginLimit.failures - 1)
        .execution_options(synchronize_session=False)
    )


def _refusal(session: Session, key: str, kind: str, now: datetime) -> LoginPaused:
    session.execute(
        update(LoginLimit)
        .where(LoginLimit.key == key)
        .values(refused=LoginLimit.refused + 1)
        .execution_options(synchronize_session=False)
    )
    until = session.execute(
        select(LoginLimit.locked_until).where(LoginLimit.key == key)
    ).scalar_one_or_none()
    if until is None or until <= now:
        return LoginPaused("登录尝试过于频繁，请稍后再试", _BUSY_SECONDS)
    seconds = max(1, int((until - now).total_seconds()) + 1)
    if kind == ADDRESS:
        message = f"来自您所在网络地址的登录失败次数过多，请 {wait_text(seconds)}后再试"
    else:
        message = (
            f"登录失败次数过多，请 {wait_text(seconds)}后再试；如需立即登录，请联系管理员解除锁定"
        )
    return LoginPaused(message, seconds)


def failed(session: Session, *, username: str, ip: str | None) -> list[str]:
    """After a wrong password (already counted by ``admit``): pause the name or the address
    whose count has reached its limit. Returns a summary of each pause begun, to audit."""
    now = utcnow()
    begun = []
    keys = _keys(username, ip)
    _lock(session, keys)
    for kind, (key, _, _) in keys.items():
        limit = limit_of(kind)
        row = session.execute(
            select(LoginLimit.failures, LoginLimit.pauses).where(LoginLimit.key == key)
        ).one_or_none()
        if row is None or row.failures < limit.failures:
            continue
        seconds = backoff(limit, row.pauses)
        paused = _changed(
            session,
            update(LoginLimit)
            # Only one of two attempts failing together starts the pause.
            .where(
                LoginLimit.key == key,
                LoginLimit.failures >= limit.failures,
                LoginLimit.pauses == row.pauses,
            )
            .values(
                failures=0,
                pauses=row.pauses + 1,
                locked_until=now + timedelta(seconds=seconds),
                refused=0,
                window_start=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False),
        )
        if paused:
            limit_row = session.get(LoginLimit, key)
            who = _who(limit_row) if limit_row is not None else key
            begun.append(
                f"登录受限：{who}登录失败 {limit.failures} 次，暂停 {wait_text(seconds)}"
                f"（第 {row.pauses + 1} 次暂停）"
            )
    return begun


def succeeded(session: Session, *, username: str, ip: str | None) -> None:
    """A right password: the name's count from this address starts over, the address gets
    this attempt back, and counts quiet for a day are dropped.

    The name's row is reset, not deleted: an attempt of the same name being admitted at
    the same moment (several people or tabs signing in together) has made sure of the row
    and then counts on it; deleted in between, its count found no row and the attempt was
    refused as "too frequent" (one of five readers signing in at once, bench/soak.py with
    two web processes)."""
    now = utcnow()
    keys = _keys(username, ip)
    _lock(session, keys)
    session.execute(
        update(LoginLimit)
        .where(LoginLimit.key == keys[NAME][0])
        .values(failures=0, pauses=0, locked_until=None, window_start=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    _refund(session, [keys[ADDRESS][0]])
    memory = now - timedelta(hours=config.LOCKOUT_MEMORY_HOURS)
    session.execute(delete(LoginLimit).where(LoginLimit.updated_at <= memory, _not_paused(now)))


def paused(
    session: Session, *, usernames: Iterable[str] | None = None, limit: int | None = None
) -> list[LoginLimit]:
    """The pauses in force, longest first (of these account names only, when given)."""
    query = select(LoginLimit).where(LoginLimit.locked_until > utcnow())
    if usernames is not None:
        query = query.where(LoginLimit.kind == NAME, LoginLimit.username.in_(list(usernames)))
    query = query.order_by(LoginLimit.locked_until.desc()).limit(limit)
    return list(session.execute(query).scalars())


def clear(session: Session, *, username: str | None = None, ip: str | None = None) -> int:
    """Forget the counts and pauses of an account name (from every address) or of an
    address (its own and its names'); returns how many pauses in force were lifted."""
    where = []
    if username is not None:
        where.append(and_(LoginLimit.kind == NAME, LoginLimit.username == normal_name(username)))
    if ip is not None:
        where.append(LoginLimit.ip == ip[:64])
    if not where:
        return 0
    lifted = len(
        session.execute(
            select(LoginLimit.key).where(or_(*where), LoginLimit.locked_until > utcnow())
        ).all()
    )
    session.execute(delete(LoginLimit).where(or_(*where)))
    return lifted
