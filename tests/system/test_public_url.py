"""The desk's public address: set by ``yuqing init`` or on 系统设置, and every link in a
message that leaves the desk (robots, webhooks, e-mail) is absolute with it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.notify.conftest import Mailbox, Org, add_channel, set_env
from tests.support import LocalServer, Reply, desk_client
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.notify import service as notify
from yuqing.notify import worker
from yuqing.notify.schemas import Message, MessageItem, Recipient
from yuqing.system import service

BASE = "https://yuqing.example.edu.cn"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def admin(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, "admin", "root") as client:
        yield client


def _csrf(html: str) -> str:
    found = _TOKEN.search(html)
    assert found
    return found.group(1)


def test_the_settings_page_says_when_the_address_is_missing_and_saves_it(
    admin: TestClient, session: Session
) -> None:
    page = admin.get("/admin/settings")
    assert page.status_code == 200 and "尚未设置工作台访问地址" in page.text
    assert 'href="/admin/settings" aria-current="page">系统设置<' in page.text
    bad = admin.post(
        "/admin/settings", data={"public_url": "yuqing.example", "csrf_token": _csrf(page.text)}
    )
    assert bad.status_code == 422 and "应以 http:// 或 https:// 开头" in bad.text
    saved = admin.post(
        "/admin/settings",
        data={"public_url": BASE + "/", "csrf_token": _csrf(page.text)},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "已保存" in saved.text
    assert "尚未设置" not in saved.text and BASE in saved.text
    assert service.get_public_url(session).url == BASE  # the trailing slash is dropped
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "site_setting")
    ).scalar_one()
    assert entry.actor_name == "root" and BASE in entry.summary


def test_only_administrators_change_system_settings(engine: Engine) -> None:
    with desk_client(engine, "publicity", "office") as office:
        assert office.get("/admin/settings").status_code == 403


def test_the_environment_gives_the_default_and_the_desk_overrides_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert service.get_public_url(session).url == ""
    set_env(monkeypatch, public_url="http://10.1.2.3:8000/")
    assert service.get_public_url(session).url == "http://10.1.2.3:8000"
    assert service.get_public_url(session).origin == "environment"
    service.update_public_url(session, url=BASE, actor=SYSTEM)
    assert service.get_public_url(session).url == BASE
    service.update_public_url(session, url="", actor=SYSTEM)
    assert service.get_public_url(session).url == "http://10.1.2.3:8000"


def _alert(session: Session, recipients: list[Recipient]) -> None:
    message = Message(
        title="食堂涨价投诉增多",
        text="1 小时内 12 条负面",
        level="warning",
        link="/alerts/7",
        items=[MessageItem(title="原帖", url="https://weibo.example/1")],
    )
    notify.enqueue(session, message=message, recipients=recipients, dedupe_key="alert:7")
    session.commit()


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_robot_markdown_keeps_an_absolute_link(
    session: Session, http_server: LocalServer, kind: str
) -> None:
    answer = b'{"errcode":0,"code":0}'
    http_server.routes["/robot"] = Reply(200, answer, {"Content-Type": "application/json"})
    channel = add_channel(session, kind, http_server.url("/robot"))
    service.update_public_url(session, url=BASE, actor=SYSTEM)
    _alert(session, [Recipient(kind="channel", id=channel.id)])
    assert worker.run_once().delivered == 1
    body = json.loads(http_server.requests[0].body)
    text = json.dumps(body, ensure_ascii=False)
    assert f"[在工作台查看]({BASE}/alerts/7)" in text, text
    assert "[原帖](https://weibo.example/1)" in text


def test_without_an_address_the_robot_still_shows_the_page(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/robot"] = Reply(200, b'{"errcode":0}')
    channel = add_channel(session, "wecom", http_server.url("/robot"))
    _alert(session, [Recipient(kind="channel", id=channel.id)])
    assert worker.run_once().delivered == 1
    content = json.loads(http_server.requests[0].body)["markdown"]["content"]
    assert "在工作台查看：工作台 /alerts/7" in content


def test_webhooks_and_email_carry_absolute_links(
    session: Session, http_server: LocalServer, smtp_server: Mailbox, people: Org
) -> None:
    http_server.routes["/hook"] = Reply(200)
    channel = add_channel(session, "webhook", http_server.url("/hook"))
    desk_base = BASE + "/desk"
    service.update_public_url(session, url=desk_base, actor=SYSTEM)
    _alert(
        session, [Recipient(kind="channel", id=channel.id), Recipient(kind="person", id=people.li)]
    )
    result = worker.run_once()
    assert result.delivered == 2, result
    assert json.loads(http_server.requests[0].body)["link"] == f"{BASE}/desk/alerts/7"
    ((_, mail),) = smtp_server.messages
    plain = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"在工作台查看：{BASE}/desk/alerts/7" in plain
    assert f'href="{BASE}/desk/alerts/7"' in html
    # The outbox keeps the desk path: the address in force when sending is used.
    row = session.execute(select(notify.Notification)).scalars().first()
    assert row is not None and json.loads(row.payload)["link"] == "/alerts/7"


def test_init_sets_and_prints_the_public_url(engine: Engine) -> None:
    from yuqing.cli import app as main_cli

    runner = CliRunner()
    first = runner.invoke(main_cli, ["init"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "尚未设置工作台访问地址" in first.output
    bad = runner.invoke(main_cli, ["init", "--public-url", "ftp://x"], catch_exceptions=False)
    assert bad.exit_code == 2 and "http://" in bad.output
    done = runner.invoke(main_cli, ["init", "--public-url", BASE], catch_exceptions=False)
    assert done.exit_code == 0 and f"工作台访问地址：{BASE}" in done.output
    with Session(engine) as session:
        assert service.get_public_url(session).url == BASE
