"""Accounts, sign-in, sessions, tokens and the audit chain on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

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


def test_wrong_passwords_lock_the_account_and_every_attempt_is_audited(session: Session) -> None:
    user = _user(session)
    for _ in range(4):
        with pytest.raises(service.AuthError, match="用户名或密码不正确"):
            service.authenticate(session, username="wang", password="nope", ip="10.0.0.9")
    with pytest.raises(service.AuthError, match="已锁定"):
        service.authenticate(session, username="wang", password="nope", ip="10.0.0.9")
    with pytest.raises(service.AuthError, match="已锁定"):  # even the right password now
        service.authenticate(session, username="wang", password=PASSWORD, ip="10.0.0.9")
    session.commit()
    actions = (
        session.execute(select(AuditEntry.action).where(AuditEntry.object_id == str(user.id)))
        .scalars()
        .all()
    )
    assert actions.count("login_failed") == 6
    user.locked_until = utcnow() - timedelta(seconds=1)
    assert service.authenticate(session, username="WANG", password=PASSWORD, ip=None).id == user.id


def test_unknown_user_gets_the_same_message(session: Session) -> None:
    with pytest.raises(service.AuthError, match="用户名或密码不正确"):
        service.authenticate(session, username="ghost", password=PASSWORD, ip=None)


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
