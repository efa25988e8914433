"""Desk pages: the inbox and its badge, the channels page (add, test, disable), permissions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.notify.conftest import PASSWORD, Org
from tests.support import LocalServer, Reply, make_user, sign_in
from yuqing.core.audit import AuditEntry
from yuqing.notify import service, views
from yuqing.notify.models import Channel
from yuqing.notify.schemas import Message, Recipient
from yuqing.web.app import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    application = create_app()
    if not any(getattr(r, "path", "") == "/inbox" for r in application.routes):
        application.include_router(views.router)  # until web/app.py includes it
    return application


@pytest.fixture
def office(app: FastAPI, engine: Engine) -> Iterator[TestClient]:
    make_user(engine, "office", "publicity")
    with TestClient(app) as client:
        yield sign_in(client, "office", PASSWORD)


def _csrf(html: str) -> str:
    found = _TOKEN.search(html)
    assert found
    return found.group(1)


def test_inbox_lists_unread_and_opening_marks_read(
    app: FastAPI, session: Session, people: Org
) -> None:
    rows = service.enqueue(
        session,
        message=Message(title="食堂舆情<预警>", text="第一段\n\n第二段", level="urgent"),
        recipients=[Recipient(kind="person", id=people.zhang)],
    )
    session.commit()
    inbox_row = next(r for r in rows if r.channel == "inbox")
    with TestClient(app) as client:
        sign_in(client, "zhangsan", PASSWORD)
        badge = client.get("/inbox/badge")
        assert badge.status_code == 200
        assert 'hx-trigger="every 10s"' in badge.text and ">1</span>" in badge.text
        page = client.get("/inbox")
        assert "食堂舆情&lt;预警&gt;" in page.text and "未读" in page.text
        assert '<strong id="unread-count">1</strong>' in page.text
        opened = client.get(f"/inbox/{inbox_row.id}")
        assert opened.status_code == 200 and "<p>第二段</p>" in opened.text
        assert "【紧急】" in opened.text
        assert '<strong id="unread-count">0</strong>' in client.get("/inbox").text
        assert "</span>" not in client.get("/inbox/badge").text


def test_someone_elses_inbox_message_is_not_found(
    app: FastAPI, engine: Engine, session: Session, people: Org
) -> None:
    rows = service.enqueue(
        session,
        message=Message(title="私信"),
        recipients=[Recipient(kind="person", id=people.zhang)],
    )
    session.commit()
    make_user(engine, "other", "unit_member")
    with TestClient(app) as client:
        sign_in(client, "other", PASSWORD)
        assert client.get(f"/inbox/{rows[-1].id}").status_code == 404
        assert "私信" not in client.get("/inbox").text
    assert service.count_unread(session, user_id=people.zhang_user) == 1


def test_signed_out_badge_poll_leaves_the_page_alone(app: FastAPI) -> None:
    """A background poll answered after signing out (or as the session ends) swaps nothing
    and navigates nowhere: it replaced the signed-out page, and would lose a form's text.
    Another HTMX request is sent to sign in, back to the page it came from."""
    page = "http://testserver/cases?status=open"
    with TestClient(app) as client:
        polled = client.get(
            "/inbox/badge",
            headers={"HX-Request": "true", "X-Yuqing-Poll": "1", "HX-Current-URL": page},
            follow_redirects=False,
        )
        assert polled.status_code == 204 and "HX-Redirect" not in polled.headers
        assert polled.content == b""
        answer = client.get(
            "/inbox/badge",
            headers={"HX-Request": "true", "HX-Current-URL": page},
            follow_redirects=False,
        )
        assert answer.status_code == 401
        assert answer.headers["HX-Redirect"].startswith("/login?next=%2Fcases%3Fstatus%3Dopen&")
        elsewhere = client.get(
            "/inbox/badge",
            headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example//x"},
            follow_redirects=False,
        )
        assert elsewhere.headers["HX-Redirect"].startswith("/login?next=%2F&")
        plain = client.get("/inbox/badge", follow_redirects=False)
        assert plain.status_code == 303 and "next=%2Finbox%2Fbadge" in plain.headers["location"]


def test_add_test_and_disable_a_channel(
    office: TestClient, session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/send"] = Reply(200, b'{"errcode":0,"errmsg":"ok"}')
    page = office.get("/notify/channels")
    assert page.status_code == 200
    answer = office.post(
        "/notify/channels",
        data={
            "kind": "dingtalk",
            "name": "舆情值班群",
            "url": http_server.url("/send?access_token=tok123"),
            "secret": "SECverysecretvalue9876",
            "csrf_token": _csrf(page.text),
        },
    )
    assert answer.status_code == 200 and "已添加通知渠道“舆情值班群”" in answer.text
    assert "SECverysecretvalue9876" not in answer.text and "••••9876" in answer.text
    assert "tok123" not in answer.text
    channel = session.execute(select(Channel)).scalar_one()
    assert channel.secret == "SECverysecretvalue9876"

    tested = office.post(
        f"/notify/channels/{channel.id}/test", data={"csrf_token": _csrf(answer.text)}
    )
    assert "测试消息已发到“舆情值班群”" in tested.text
    assert "sign=" in http_server.requests[0].path
    session.refresh(channel)
    assert channel.last_success_at is not None

    office.post(
        f"/notify/channels/{channel.id}/enabled",
        data={"enabled": "0", "csrf_token": _csrf(tested.text)},
    )
    session.refresh(channel)
    assert channel.enabled is False
    entries = (
        session.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == "notify_channel")
            .order_by(AuditEntry.seq)
        )
        .scalars()
        .all()
    )
    assert [e.action for e in entries] == ["create", "update", "update"]
    assert all(e.actor_id is not None for e in entries)  # the signed-in account acted
    assert all("SECverysecretvalue9876" not in e.changes + e.summary for e in entries)
    assert "停用" in entries[2].summary


def test_failed_test_shows_the_reason(
    office: TestClient, session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/send"] = Reply(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    channel = Channel(kind="wecom", name="坏群", url=http_server.url("/send?key=x"))
    session.add(channel)
    session.commit()
    page = office.get("/notify/channels")
    tested = office.post(
        f"/notify/channels/{channel.id}/test", data={"csrf_token": _csrf(page.text)}
    )
    assert "“坏群”测试失败：返回错误 93000（机器人地址无效" in tested.text
    session.refresh(channel)
    assert channel.last_error is not None and channel.last_error.startswith("返回错误 93000")


def test_bad_channel_form_says_what_is_wrong(office: TestClient, session: Session) -> None:
    page = office.get("/notify/channels")
    answer = office.post(
        "/notify/channels",
        data={"kind": "feishu", "name": "飞书群", "url": "ftp://x", "csrf_token": _csrf(page.text)},
    )
    assert answer.status_code == 422 and "https://" in answer.text
    assert session.execute(select(Channel)).first() is None


def test_channels_need_the_manage_permission(app: FastAPI, engine: Engine) -> None:
    make_user(engine, "member", "unit_member")
    with TestClient(app) as client:
        sign_in(client, "member", PASSWORD)
        assert client.get("/notify/channels").status_code == 403
        assert client.get("/inbox").status_code == 200  # everyone has an inbox


def test_posts_without_csrf_are_refused(office: TestClient, session: Session) -> None:
    answer = office.post(
        "/notify/channels", data={"kind": "wecom", "name": "x", "url": "https://a.cn"}
    )
    assert answer.status_code == 403
    assert session.execute(select(Channel)).first() is None
