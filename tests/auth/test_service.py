"""Accounts, sign-in, sessions, tokens and the audit chain on a real database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from yuqing.audit import search
from yuqing.auth import service
from yuqing.auth.models import UserSession
from yuqing.core import audit
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.org import service as org

PASSWORD = "correct-horse-42"


def _user(session: Session, name: str = "wang", role: str = "unit_member", unit: int | None = None):  # type: ignore[no-untyped-def]
    user = service.create_user(
        session,
        username=name,
        password=PASSWORD,
        role_key=role,
        actor=SYSTEM,
        unit_id=unit,
        must_change_password=False,
    )
    session.commit()
    return user


def test_first_administrator_is_made_once_with_a_one_time_password(session: Session) -> None:
    made = service.bootstrap_admin(session)
    session.commit()
    assert made is not None
    admin, password = made
    assert admin.must_change_password and admin.username == "admin"
    assert (
        service.authenticate(session, username="admin", password=password, ip=None).id == admin.id
    )
    assert service.bootstrap_admin(session) is None


def test_sessions_expire_when_idle_and_end_on_password_change(session: Session) -> None:
    user = _user(session)
    secret = service.start_session(session, user=user)
    session.commit()
    assert service.user_for_session(session, secret=secret) is user
    assert service.user_for_session(session, secret=secret + "x") is None  # tampered cookie
    session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=13)))
    assert service.user_for_session(session, secret=secret) is None
    again = service.start_session(session, user=user)
    service.change_password(
        session, user=user, current=PASSWORD, new="another-pass-77", actor=SYSTEM
    )
    assert service.user_for_session(session, secret=again) is None


def test_weak_passwords_are_refused(session: Session) -> None:
    with pytest.raises(service.AuthError, match="至少需要"):
        service.create_user(
            session, username="li", password="short1", role_key="leader", actor=SYSTEM
        )
    with pytest.raises(service.AuthError, match="字母和数字"):
        service.create_user(
            session, username="li", password="onlyletterslong", role_key="leader", actor=SYSTEM
        )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password1234", "常见密码"),
        ("Passw0rd2024", "常见密码"),
        ("iloveyou520", "常见密码"),
        ("asdfghjkl;12", "键盘上相邻的按键"),
        ("aaaaaaaaa111", "重复的字符或片段"),
        ("19900101abc", "日期或年份"),
        ("1qaz2wsx3edc", "常见密码"),
        ("abc123abc123abc", "重复的字符或片段"),
        ("abcdefghij12", "连续的字母或数字"),
        ("liming123456", "用户名、姓名或系统名称"),
        ("yuqing123456", "用户名、姓名或系统名称"),
    ],
)
def test_common_and_patterned_passwords_are_refused_saying_why(
    session: Session, password: str, reason: str
) -> None:
    """Each passes the old rules (10 characters, letters and digits) and is guessed in under
    10^8 tries: a common password, a keyboard walk, a repeat, a sequence, one's own name."""
    with pytest.raises(service.AuthError, match="密码太容易被猜到") as refused:
        service.create_user(
            session, username="liming", password=password, role_key="leader", actor=SYSTEM
        )
    assert reason in str(refused.value)


def test_a_long_passphrase_or_a_random_password_is_accepted(session: Session) -> None:
    for n, password in enumerate(["江城大学-食堂-1937-晨光", "tk7-Qw-91-xz", PASSWORD]):
        service.create_user(
            session, username=f"ok{n}", password=password, role_key="leader", actor=SYSTEM
        )
    long = (hashlib.sha512(b"yuqing").hexdigest() * 4)[:500]  # the first 72 are estimated
    service.create_user(session, username="long", password=long, role_key="leader", actor=SYSTEM)


def test_the_current_password_cannot_be_the_new_one(session: Session) -> None:
    user = _user(session)
    with pytest.raises(service.AuthError, match="新密码不能与当前密码相同"):
        service.change_password(session, user=user, current=PASSWORD, new=PASSWORD, actor=SYSTEM)


def test_a_password_change_or_reset_revokes_every_token_of_the_account(
    session: Session,
) -> None:
    user = _user(session, role="publicity")
    other = _user(session, "li", role="publicity")
    secrets = [
        service.create_token(session, user=u, name="t", scopes=["push"], actor=SYSTEM)[1]
        for u in (user, user, other)
    ]
    session.commit()
    revoked = service.change_password(
        session, user=user, current=PASSWORD, new="another-pass-77", actor=SYSTEM
    )
    assert revoked == 2
    assert [service.user_for_token(session, secret=s) is None for s in secrets] == [
        True,
        True,
        False,  # another account's token stays
    ]
    assert (
        "吊销其接口令牌 2 个"
        in search.list_entries(session, filters=search.AuditFilters(), limit=1)[0].summary
    )
    fresh = service.create_token(session, user=user, name="t", scopes=["push"], actor=SYSTEM)[1]
    service.reset_password(session, user=user, actor=SYSTEM)
    assert service.user_for_token(session, secret=fresh) is None
    assert user.must_change_password


def test_a_token_of_an_account_with_a_one_time_password_opens_nothing(session: Session) -> None:
    user, _ = service.create_account(session, username="newbie", role_key="admin", actor=SYSTEM)
    _, secret = service.create_token(session, user=user, name="t", scopes=["push"], actor=SYSTEM)
    assert service.user_for_token(session, secret=secret) is None
    found = service.user_for_token(session, secret=secret, pending=True)
    assert found is not None and found[0].id == user.id  # found, to be refused with a reason


def test_a_token_cannot_make_a_token(session: Session) -> None:
    user = _user(session, role="admin")
    token, _ = service.create_token(session, user=user, name="t", scopes=["push"], actor=SYSTEM)
    by_token = service.principal_for(session, user=user, token=token)
    with pytest.raises(service.AuthError, match="接口令牌不能创建令牌"):
        service.create_own_token(session, principal=by_token, name="x", scopes=["users.manage"])
    person = service.principal_for(session, user=user)
    made, _ = service.create_own_token(session, principal=person, name="x", scopes=["push"])
    assert made.scopes == "push"


def test_tokens_are_shown_once_stored_hashed_scoped_and_revocable(session: Session) -> None:
    user = _user(session, role="publicity")
    token, secret = service.create_token(
        session, user=user, name="采集器", scopes=["push"], actor=SYSTEM
    )
    session.commit()
    assert secret not in token.token_hash and token.prefix == secret[:10]
    found = service.user_for_token(session, secret=secret)
    assert found is not None
    principal = service.principal_for(session, user=found[0], token=found[1])
    assert principal.can("push") and not principal.can("sources.manage")
    service.revoke_token(session, token=token, actor=SYSTEM)
    assert service.user_for_token(session, secret=secret) is None


def test_unit_roles_see_their_unit_and_below(session: Session) -> None:
    org.ensure_defaults(session)
    school = org.create_unit(session, name="江城大学", actor=SYSTEM, kind_key="institution")
    college = org.create_unit(session, name="材料学院", actor=SYSTEM, parent_id=school.id)
    dept = org.create_unit(session, name="材料系", actor=SYSTEM, parent_id=college.id)
    other = org.create_unit(session, name="外国语学院", actor=SYSTEM, parent_id=school.id)
    head = _user(session, "head", role="unit_head", unit=college.id)
    office = _user(session, "office", role="publicity")
    scoped = service.principal_for(session, user=head)
    assert scoped.sees_unit(dept.id) and not scoped.sees_unit(other.id)
    assert service.principal_for(session, user=office).sees_unit(other.id)


def test_audit_chain_verifies_and_finds_edits_and_deletions(
    engine: Engine, session: Session
) -> None:
    for name in ("a", "b", "c"):
        _user(session, name)
    assert audit.verify(session).ok
    with pytest.raises(DBAPIError):  # the database refuses edits
        session.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(summary="x"))
    session.rollback()
    with engine.begin() as connection:  # someone with the database file bypasses that
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_entry_no_update"))
            connection.execute(text("DROP TRIGGER audit_entry_no_delete"))
        else:
            connection.execute(
                text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change")
            )
        connection.execute(text("UPDATE audit_entry SET summary = '改过' WHERE seq = 1"))
        connection.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
        if engine.dialect.name != "sqlite":
            connection.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))
    session.expire_all()
    problems = audit.verify(session).problems
    assert any("第 1 条记录的内容与哈希不符" in p for p in problems)
    assert any("第 2 条至第 2 条记录缺失" in p for p in problems), problems
    with engine.begin() as connection:
        if engine.dialect.name != "sqlite":
            connection.execute(
                text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change")
            )
        connection.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
        if engine.dialect.name != "sqlite":
            connection.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))
    session.expire_all()
    assert any("末尾记录被删除" in p for p in audit.verify(session).problems)
