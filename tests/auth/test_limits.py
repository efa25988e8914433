"""Sign-in limits on a real database and through the real app: a name pauses from its address
only, with growing delays; unknown and known names answer alike; an address over its budget
is refused before any hashing, counted instead of audited attempt by attempt."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from yuqing.auth import config, limits, service
from yuqing.auth.models import LoginLimit
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.web.app import create_app

PASSWORD = "correct-horse-42"
WRONG = "wrong-pass-1"
HERE, THERE = "10.0.0.9", "10.0.0.7"


def _user(session: Session, name: str = "wang") -> None:
    service.create_user(
        session,
        username=name,
        password=PASSWORD,
        role_key="leader",
        actor=SYSTEM,
        must_change_password=False,
    )
    session.commit()


def _attempt(session: Session, name: str, password: str, ip: str) -> str:
    """What the sign-in answers: "ok", the refusal's message, or "paused: <message>"."""
    try:
        service.authenticate(session, username=name, password=password, ip=ip)
    except limits.LoginPaused as paused:
        return f"paused: {paused.message}"
    except service.AuthError as refused:
        return str(refused)
    finally:
        session.commit()
    return "ok"


def _end_pauses(session: Session) -> None:
    """Time passes: every pause in force ends now."""
    past = utcnow() - timedelta(seconds=1)
    session.execute(update(LoginLimit).where(LoginLimit.locked_until.is_not(None)).values(
        locked_until=past
    ))  # fmt: skip
    session.commit()


def _pause_seconds(session: Session, name: str, ip: str) -> float:
    session.expire_all()
    row = session.execute(
        select(LoginLimit).where(LoginLimit.username == name, LoginLimit.ip == ip)
    ).scalar_one()
    assert row.locked_until is not None
    return (row.locked_until - utcnow()).total_seconds()


def _audit_count(session: Session, action: str, since: int = 0) -> int:
    query = select(func.count()).where(AuditEntry.action == action, AuditEntry.seq > since)
    return int(session.scalar(query) or 0)


def _last_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEntry.seq))) or 0)


def test_a_name_pauses_from_its_address_only_and_each_pause_is_longer(session: Session) -> None:
    _user(session)
    answers = [_attempt(session, "wang", WRONG, HERE) for _ in range(5)]
    assert answers == ["用户名或密码不正确"] * 5
    # Paused from here, even with the right password, and before the password is checked.
    refused = _attempt(session, "wang", PASSWORD, HERE)
    assert refused.startswith("paused: 登录失败次数过多") and "分钟后再试" in refused
    # Anyone else (the account's owner at another address) still signs in.
    assert _attempt(session, "wang", PASSWORD, THERE) == "ok"
    first = _pause_seconds(session, "wang", HERE)
    assert 50 < first <= config.LOCKOUT_BASE_SECONDS
    _end_pauses(session)
    for _ in range(5):
        _attempt(session, "wang", WRONG, HERE)
    second = _pause_seconds(session, "wang", HERE)
    assert 2 * config.LOCKOUT_BASE_SECONDS - 10 < second <= 2 * config.LOCKOUT_BASE_SECONDS
    # Each wrong password is audited; the refused attempt is not; each pause is, once.
    summaries = list(
        session.execute(
            select(AuditEntry.summary).where(AuditEntry.object_type == "login_limit")
        ).scalars()
    )
    assert len(summaries) == 3, summaries  # pause 1, its end (1 refused), pause 2
    assert "第 1 次暂停" in summaries[0] and "第 2 次暂停" in summaries[2]
    assert "暂停期间拒绝登录尝试 1 次" in summaries[1]
    # A right password from here, once the pause ends, starts the count over.
    _end_pauses(session)
    assert _attempt(session, "wang", PASSWORD, HERE) == "ok"
    session.expire_all()
    row = session.get(LoginLimit, f"name:{HERE}:wang")
    assert row is not None and (row.failures, row.pauses, row.locked_until) == (0, 0, None)


def test_unknown_and_known_names_get_the_same_answers(session: Session) -> None:
    """No message (nor pause) tells whether an account exists."""
    _user(session)
    known = [_attempt(session, "wang", WRONG, HERE) for _ in range(6)]
    unknown = [_attempt(session, "ghost", WRONG, HERE) for _ in range(6)]
    assert known == unknown
    assert known[-1].startswith("paused: 登录失败次数过多")


def _timed(session: Session, name: str, ip: str) -> float:
    start = time.perf_counter()
    _attempt(session, name, WRONG, ip)
    return time.perf_counter() - start


def test_unknown_and_known_names_take_as_long(session: Session) -> None:
    """Both check a password against an argon2 hash (a dummy one for an unknown or disabled
    account); the medians of interleaved attempts are close."""
    _user(session)
    _user(session, "off")
    off_user = service.get_user_by_username(session, username="off")
    assert off_user is not None
    service.update_user_active(session, user=off_user, active=False, actor=SYSTEM)
    session.commit()
    times: dict[str, list[float]] = {"wang": [], "ghost": [], "off": []}
    for n in range(3):  # each from its own address: no pause on the way
        for name in times:
            times[name].append(_timed(session, name, f"10.1.{n}.{len(name)}"))
    known, unknown, off = (statistics.median(times[k]) for k in ("wang", "ghost", "off"))
    assert known > 0.05 and unknown > 0.05 and off > 0.05  # each hashed
    assert 0.5 < unknown / known < 2 and 0.5 < off / known < 2, times


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """An address budget of 4 failures, so the test spends 4 hashes, not 30."""
    monkeypatch.setattr(config, "ADDRESS_FAILURES", 4)
    yield 4


def test_an_address_over_its_budget_is_refused_before_hashing_and_counted(
    session: Session, small_budget: int
) -> None:
    _user(session)
    for n in range(small_budget):  # a different name each time: no name pauses
        assert _attempt(session, f"guess{n}", WRONG, HERE) == "用户名或密码不正确"
    seq = _last_seq(session)
    start = time.perf_counter()
    answers = [_attempt(session, "wang", PASSWORD, HERE) for _ in range(40)]
    spent = time.perf_counter() - start
    assert set(answers) == {answers[0]} and "来自您所在网络地址的登录失败次数过多" in answers[0]
    assert spent < 3.0, f"40 refused attempts took {spent:.2f} s: they were hashed"
    assert _audit_count(session, "login_failed", seq) == 0  # counted, not audited one by one
    session.expire_all()
    address = session.get(LoginLimit, f"address:{HERE}")
    assert address is not None and address.refused == 40
    assert _attempt(session, "wang", PASSWORD, THERE) == "ok"  # other addresses are not paused
    _end_pauses(session)
    assert _attempt(session, "wang", PASSWORD, HERE) == "ok"
    summaries = session.execute(
        select(AuditEntry.summary).where(AuditEntry.object_type == "login_limit")
    ).scalars()
    assert any("暂停期间拒绝登录尝试 40 次" in s for s in summaries)


def test_attempts_still_being_checked_count_against_the_budget(
    session: Session, small_budget: int
) -> None:
    """A burst of simultaneous attempts: each is counted (and committed) before its hash, so
    the fifth is refused while the first four are still being checked."""
    for n in range(small_budget):
        service.admit_login(session, username=f"burst{n}", ip=HERE)
        session.commit()
    with pytest.raises(limits.LoginPaused, match="登录尝试过于频繁"):
        service.admit_login(session, username="burst9", ip=HERE)


def test_the_backoff_doubles_up_to_a_day() -> None:
    name = limits.limit_of(limits.NAME)
    assert [limits.backoff(name, n) for n in range(4)] == [60, 120, 240, 480]
    assert limits.backoff(name, 40) == config.LOCKOUT_MAX_SECONDS == 86400


# --- through the sign-in page -----------------------------------------------------------


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), client=(HERE, 50000)) as test_client:
        yield test_client


def _login(client: TestClient, username: str, password: str) -> Any:
    client.get("/login")
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": client.cookies.get("yuqing_csrf"),
        },
        follow_redirects=False,
    )


def test_a_flood_of_sign_ins_is_answered_429_quickly_and_the_desk_stays_quick(
    client: TestClient, session: Session, small_budget: int
) -> None:
    _user(session)
    for n in range(small_budget):
        assert _login(client, f"guess{n}", WRONG).status_code == 401
    start = time.perf_counter()
    answers = [_login(client, "wang", PASSWORD) for _ in range(30)]
    spent = time.perf_counter() - start
    assert {a.status_code for a in answers} == {429}
    assert int(answers[-1].headers["retry-after"]) > 800  # the address's 15 minutes
    assert "登录失败次数过多" in answers[-1].text
    assert spent < 4.0, f"30 refused sign-ins (with their GET /login) took {spent:.2f} s"
    with TestClient(client.app, client=(THERE, 50000)) as colleague:
        assert _login(colleague, "wang", PASSWORD).status_code == 303


def test_the_admin_page_shows_pauses_and_lifts_an_accounts(
    client: TestClient, session: Session
) -> None:
    _user(session)
    service.create_user(
        session,
        username="boss",
        password=PASSWORD,
        role_key="admin",
        actor=SYSTEM,
        must_change_password=False,
    )
    session.commit()
    for _ in range(6):
        _login(client, "wang", WRONG)
    with TestClient(client.app, client=(THERE, 50000)) as admin:
        assert _login(admin, "boss", PASSWORD).status_code == 303
        page = admin.get("/admin/users").text
        assert "登录限制（1）" in page and HERE in page and "1 次" in page and "已锁定" in page
        wang = service.get_user_by_username(session, username="wang")
        assert wang is not None
        done = admin.post(
            f"/admin/users/{wang.id}/unlock", data={"csrf_token": admin.cookies.get("yuqing_csrf")}
        )
        assert "已解除锁定" in done.text
    assert _login(client, "wang", PASSWORD).status_code == 303


def test_simultaneous_sign_ins_of_one_name_never_deadlock(session: Session) -> None:
    # Sign-ins of one name from one address at once (several tabs, or readers signing in
    # together): each counts on the address's row and the name's, before and after the
    # password check. PostgreSQL answered a 500 when two locked the rows in opposite
    # orders (a success deleted the name's row first, an attempt updated the address's).
    from concurrent.futures import ThreadPoolExecutor

    bind = session.get_bind()

    def sign_ins(n: int) -> int:
        done = 0
        with Session(bind=bind) as own:
            for round_ in range(40):
                try:
                    limits.admit(own, username="wang", ip=HERE)
                except limits.LoginPaused:
                    own.commit()
                    continue
                own.commit()
                if (n + round_) % 4:
                    limits.succeeded(own, username="wang", ip=HERE)
                else:
                    limits.failed(own, username="wang", ip=HERE)
                own.commit()
                done += 1
        return done

    with ThreadPoolExecutor(max_workers=6) as pool:
        done = list(pool.map(sign_ins, range(6)))
    assert sum(done) > 0


def test_simultaneous_right_passwords_of_one_name_are_never_refused(session: Session) -> None:
    # Five readers signing in as one account at once: a success reset the name's row by
    # deleting it, and an attempt admitted in between (its row made sure of, then counted)
    # found no row and was refused as too frequent.
    from concurrent.futures import ThreadPoolExecutor

    bind = session.get_bind()

    def sign_ins(_: int) -> int:
        refused = 0
        with Session(bind=bind) as own:
            for _round in range(30):
                try:
                    limits.admit(own, username="wang", ip=HERE)
                except limits.LoginPaused:
                    refused += 1
                    own.rollback()
                    continue
                own.commit()
                limits.succeeded(own, username="wang", ip=HERE)
                own.commit()
        return refused

    with ThreadPoolExecutor(max_workers=4) as pool:
        refused = list(pool.map(sign_ins, range(4)))
    assert refused == [0, 0, 0, 0]
