"""Notify test helpers: a small organisation, channels on the local HTTP server, an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from tests.support import free_port
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.core.settings import reset_settings_cache
from yuqing.notify.models import Channel
from yuqing.org.models import DutyRole, Person, PersonRole, Unit

PASSWORD = "test-password-42"


@dataclass
class Org:
    """计算机学院 (张三 with an account and the 信息员 role, 李四) and 外国语学院 (王五)."""

    cs: int
    lang: int
    role: int
    zhang: int
    li: int
    wang: int
    zhang_user: int


@pytest.fixture
def people(session: Session) -> Org:
    cs, lang = Unit(name="计算机学院"), Unit(name="外国语学院")
    role = DutyRole(key="informant", name="网络信息员")
    session.add_all([cs, lang, role])
    session.flush()
    zhang = Person(name="张三", unit_id=cs.id, email="Zhang@Example.cn", phone="13800000001")
    li = Person(name="李四", unit_id=cs.id, email="li@example.cn", phone="13800000002")
    wang = Person(name="王五", unit_id=lang.id, email=None, phone="13800000003")
    session.add_all([zhang, li, wang])
    session.flush()
    session.add(PersonRole(person_id=zhang.id, duty_role_id=role.id))
    user = auth.create_user(
        session,
        username="zhangsan",
        password=PASSWORD,
        role_key="unit_member",
        actor=SYSTEM,
        person_id=zhang.id,
        unit_id=cs.id,
        must_change_password=False,
    )
    session.commit()
    return Org(cs.id, lang.id, role.id, zhang.id, li.id, wang.id, user.id)


def add_channel(session: Session, kind: str, url: str, secret: str = "", name: str = "") -> Channel:
    channel = Channel(kind=kind, name=name or f"{kind} 测试群", url=url, secret=secret)
    session.add(channel)
    session.commit()
    return channel


def set_env(monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"YUQING_{key.upper()}", str(value))
    reset_settings_cache()


@dataclass
class Mailbox:
    """What the SMTP server received."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; the settings point at it."""
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    set_env(monkeypatch, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_from="desk@example.cn")
    yield mailbox
    controller.stop()
