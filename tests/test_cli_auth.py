"""The account and audit commands of ``yuqing`` on a real database."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.assessment.config import CREDIT_WEIGHTS
from yuqing.assessment.models import CreditWeight
from yuqing.auth import limits, service
from yuqing.auth.models import LoginLimit, User
from yuqing.cli import app
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import utcnow
from yuqing.org.models import QuotaRule

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _one_time(output: str) -> str:
    found = re.findall(r"一次性密码[：:\s]*(\S+)", output)
    assert len(found) == 1, output
    return found[0]


def _signs_in(engine: Engine, username: str, password: str, ip: str | None = None) -> bool:
    with Session(engine) as session:
        try:
            service.authenticate(session, username=username, password=password, ip=ip)
        except (service.AuthError, limits.LoginPaused):
            return False
        finally:
            session.commit()
        return True


def test_init_makes_the_first_administrator_once(engine: Engine) -> None:
    first = _run("init")
    password = _one_time(first)
    assert "admin" in first and "首次登录后须修改密码" in first
    again = _run("init")
    assert "一次性密码" not in again and password not in again
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == 1
        admin = service.get_user_by_username(session, username="admin")
        assert admin is not None and admin.must_change_password
    assert _signs_in(engine, "admin", password)


def test_init_stores_the_default_quota_rules_once(engine: Engine) -> None:
    _run("init")
    with Session(engine) as session:
        first = session.execute(select(func.count()).select_from(QuotaRule)).scalar_one()
    assert first > 0  # /team reads them; it no longer stores them on a GET
    with Session(engine) as session:
        weights = session.execute(select(func.count()).select_from(CreditWeight)).scalar_one()
    assert weights == len(CREDIT_WEIGHTS)  # so are the credit weights the month pages read
    _run("init")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(QuotaRule)).scalar_one() == first


def test_users_add_list_and_reset_password(engine: Engine) -> None:
    added = _run("users", "add", "zhang", "--role", "leader", "--name", "张三")
    password = _one_time(added)
    assert "已创建账号 zhang" in added
    listed = _run("users", "list")
    assert "zhang" in listed and "张三" in listed and "领导" in listed and "启用" in listed
    assert "已存在" in _run("users", "add", "zhang", "--role", "leader", code=2)
    assert "没有名为" in _run("users", "add", "li", "--role", "boss", code=2)

    assert not _signs_in(engine, "zhang", "wrong-pass-1")
    reset = _run("users", "reset-password", "zhang")
    fresh = _one_time(reset)
    assert fresh != password
    assert not _signs_in(engine, "zhang", password) and _signs_in(engine, "zhang", fresh)
    assert "没有账号 ghost" in _run("users", "reset-password", "ghost", code=2)


def _paused(engine: Engine, username: str, ip: str) -> bool:
    with Session(engine) as session:
        try:
            service.admit_login(session, username=username, ip=ip)
        except limits.LoginPaused:
            return True
        finally:
            session.rollback()
        return False


def test_an_administrator_can_always_get_in_from_the_command_line(engine: Engine) -> None:
    """Sign-in pauses (of the account from an address, or of the address) are lifted by
    ``users unlock``; a reset lifts them too and revokes the account's tokens."""
    password = _one_time(_run("users", "add", "zhang", "--role", "admin"))
    for _ in range(5):
        assert not _signs_in(engine, "zhang", "wrong-pass-1", ip="10.0.0.9")
    assert _paused(engine, "zhang", "10.0.0.9")
    unlocked = _run("users", "unlock", "zhang")
    assert "已解除账号 zhang 的登录限制（1 处暂停）" in unlocked
    assert _signs_in(engine, "zhang", password, ip="10.0.0.9")

    with Session(engine) as session:
        session.execute(  # an address paused after a flood
            update(LoginLimit)
            .where(LoginLimit.kind == limits.ADDRESS)
            .values(locked_until=utcnow() + timedelta(minutes=15))
        )
        session.commit()
    assert _paused(engine, "zhang", "10.0.0.9")
    assert "（1 处暂停）" in _run("users", "unlock", "--address", "10.0.0.9")
    assert not _paused(engine, "zhang", "10.0.0.9")
    assert "请给出用户名" in _run("users", "unlock", code=2)
    assert "没有账号 ghost" in _run("users", "unlock", "ghost", code=2)

    for _ in range(5):
        _signs_in(engine, "zhang", "wrong-pass-1", ip="10.0.0.8")
    with Session(engine) as session:
        user = service.get_user_by_username(session, username="zhang")
        assert user is not None
        _, secret = service.create_token(
            session, user=user, name="t", scopes=["push"], actor=SYSTEM
        )
        session.commit()
    reset = _run("users", "reset-password", "zhang")
    assert "接口令牌已全部吊销" in reset
    assert _signs_in(engine, "zhang", _one_time(reset), ip="10.0.0.8")
    with Session(engine) as session:
        assert service.user_for_token(session, secret=secret, pending=True) is None


def test_audit_verify_passes_then_names_the_edited_row(engine: Engine) -> None:
    _run("users", "add", "zhang", "--role", "leader")
    _run("users", "add", "wang", "--role", "leader")
    intact = _run("audit", "verify")
    assert "审计日志完整" in intact and "共 2 条记录" in intact
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_entry_no_update"))
        else:
            connection.execute(
                text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change")
            )
        connection.execute(text("UPDATE audit_entry SET actor_name = '某人' WHERE seq = 1"))
        if engine.dialect.name != "sqlite":
            connection.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))
    broken = _run("audit", "verify", code=1)
    assert "第 1 条记录的内容与哈希不符" in broken and "第 2 条" not in broken
