"""Each channel against real local servers: formats, recomputed signatures, plain errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session

from tests.notify.conftest import Mailbox, Org, add_channel, free_port, set_env
from tests.support import LocalServer, Reply, Seen
from yuqing.core.timeutil import utcnow
from yuqing.notify import service, worker
from yuqing.notify.models import Channel, Notification
from yuqing.notify.schemas import Message, MessageItem, Recipient

OK_WECOM = Reply(200, b'{"errcode":0,"errmsg":"ok"}')
OK_FEISHU = Reply(200, b'{"code":0,"msg":"success","data":{}}')


def _message(level: str = "warning") -> Message:
    return Message(
        title="食堂舆情预警",
        text="近一小时出现 12 条负面信息。\n<script>alert(1)</script> & 其他",
        items=[
            MessageItem(
                title="学校食堂饭菜涨价",
                url="https://example.cn/a/1",
                snippet="食堂的饭菜又涨价了",
                source="贴吧",
            )
        ],
        highlight=["食堂", "涨价"],
        level=level,  # type: ignore[arg-type]
        link="https://desk.example.cn/alerts/1",
    )


def _send_to_channel(
    session: Session, channel: Channel, level: str = "warning", people: Org | None = None
) -> Notification:
    recipients = [Recipient(kind="channel", id=channel.id)]
    if people is not None:
        recipients.append(Recipient(kind="unit", id=people.cs))
    rows = service.enqueue(session, message=_message(level), recipients=recipients)
    session.commit()
    worker.run_once(20)
    row = next(r for r in rows if r.channel_id == channel.id)
    session.refresh(row)
    session.refresh(channel)
    return row


def _json(seen: Seen) -> dict:  # type: ignore[type-arg]
    return json.loads(seen.body)


def test_wecom_markdown(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/cgi-bin/webhook/send"] = OK_WECOM
    channel = add_channel(session, "wecom", http_server.url("/cgi-bin/webhook/send?key=abc"))
    row = _send_to_channel(session, channel)
    assert row.state == "delivered" and row.attempts == 1 and row.delivered_at is not None
    assert channel.last_success_at is not None and channel.last_error is None
    (seen,) = http_server.requests
    assert seen.path == "/cgi-bin/webhook/send?key=abc"
    body = _json(seen)
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("### 【预警】食堂舆情预警")
    assert "[学校食堂饭菜涨价](https://example.cn/a/1)（贴吧）" in content
    assert "> 食堂的饭菜又涨价了" in content
    assert "[在工作台查看](https://desk.example.cn/alerts/1)" in content


def test_wecom_urgent_ats_mobiles_in_a_text_message(
    session: Session, http_server: LocalServer, people: Org
) -> None:
    http_server.routes["/send"] = OK_WECOM
    channel = add_channel(session, "wecom", http_server.url("/send?key=abc"))
    row = _send_to_channel(session, channel, "urgent", people)
    assert row.state == "delivered"
    body = _json(http_server.requests[0])
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13800000001", "13800000002"]
    assert "【紧急】食堂舆情预警" in body["text"]["content"]


def test_dingtalk_signed_markdown_with_at(
    session: Session, http_server: LocalServer, people: Org
) -> None:
    secret = "SEC0123456789abcdef"
    http_server.routes["/robot/send"] = OK_WECOM
    channel = add_channel(
        session, "dingtalk", http_server.url("/robot/send?access_token=t1"), secret
    )
    row = _send_to_channel(session, channel, "urgent", people)
    assert row.state == "delivered", row.last_error
    seen = http_server.requests[0]
    query = parse_qs(urlsplit(seen.path).query)
    assert query["access_token"] == ["t1"]
    stamp = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]  # parse_qs undid the URL encoding
    assert "%2B" in seen.path or "%2F" in seen.path or "%3D" in seen.path  # encoded
    assert abs(int(stamp) / 1000 - utcnow().timestamp()) < 3600
    body = _json(seen)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "食堂舆情预警"
    assert body["at"] == {"atMobiles": ["13800000001", "13800000002"], "isAtAll": False}
    assert "@13800000001" in body["markdown"]["text"]


def test_dingtalk_without_urgency_ats_nobody(
    session: Session, http_server: LocalServer, people: Org
) -> None:
    http_server.routes["/robot/send"] = OK_WECOM
    channel = add_channel(session, "dingtalk", http_server.url("/robot/send?access_token=t1"))
    _send_to_channel(session, channel, "warning", people)
    body = _json(http_server.requests[0])
    assert body["at"]["atMobiles"] == []
    assert "sign=" not in http_server.requests[0].path  # no secret, no signature


def test_feishu_signed_card(session: Session, http_server: LocalServer) -> None:
    secret = "feishu-secret-xyz"
    http_server.routes["/open-apis/bot/v2/hook/h1"] = OK_FEISHU
    channel = add_channel(session, "feishu", http_server.url("/open-apis/bot/v2/hook/h1"), secret)
    row = _send_to_channel(session, channel, "urgent")
    assert row.state == "delivered", row.last_error
    body = _json(http_server.requests[0])
    stamp = body["timestamp"]
    expected = base64.b64encode(
        hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert body["sign"] == expected
    assert abs(int(stamp) - utcnow().timestamp()) < 3600  # seconds, not milliseconds
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["template"] == "red"
    assert body["card"]["header"]["title"]["content"] == "【紧急】食堂舆情预警"
    assert (
        "[学校食堂饭菜涨价](https://example.cn/a/1)"
        in body["card"]["elements"][0]["text"]["content"]
    )


def test_feishu_error_code_is_kept_in_words(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/hook/h2"] = Reply(200, b'{"code":19021,"msg":"sign match fail"}')
    channel = add_channel(session, "feishu", http_server.url("/hook/h2"), "s")
    row = _send_to_channel(session, channel)
    assert row.state == "retry"
    assert row.last_error == "返回错误 19021（签名校验失败，请核对密钥）：sign match fail"


def test_webhook_signed_with_delivery_id(session: Session, http_server: LocalServer) -> None:
    secret = "hook-secret"
    http_server.routes["/hook"] = Reply(204)
    channel = add_channel(session, "webhook", http_server.url("/hook"), secret)
    row = _send_to_channel(session, channel)
    assert row.state == "delivered", row.last_error
    seen = http_server.requests[0]
    stamp = seen.headers["x-yuqing-timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + seen.body, hashlib.sha256)
    assert seen.headers["x-yuqing-signature"] == "sha256=" + mac.hexdigest()
    assert seen.headers["x-yuqing-delivery"] == str(row.id)
    body = _json(seen)
    assert body["delivery"] == str(row.id)
    assert body["title"] == "食堂舆情预警" and body["level"] == "warning"
    assert body["items"][0]["url"] == "https://example.cn/a/1"


def test_robot_error_code_retries_with_backoff(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/send"] = Reply(200, b'{"errcode":45009,"errmsg":"api freq out of limit"}')
    channel = add_channel(session, "wecom", http_server.url("/send?key=k"))
    before = utcnow()
    row = _send_to_channel(session, channel)
    assert row.state == "retry" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("返回错误 45009（发送太频繁")
    assert channel.last_error == row.last_error
    wait = (row.next_attempt_at - before).total_seconds()
    assert 59 <= wait <= 62  # the first backoff step is one minute
    assert worker.run_once(10).claimed == 0  # not due yet


def test_gives_up_after_the_last_attempt(
    session: Session, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, notify_backoff_base_seconds=0, notify_max_attempts=6)
    http_server.routes["/hook"] = Reply(503, b"busy")
    channel = add_channel(session, "webhook", http_server.url("/hook"))
    row = _send_to_channel(session, channel)
    for _ in range(10):
        worker.run_once(10)
    session.refresh(row)
    assert row.state == "failed" and row.attempts == 6
    assert row.last_error == "返回 HTTP 503（服务暂不可用）：busy（已尝试 6 次，不再重试）"
    assert len(http_server.requests) == 6


def test_backoff_doubles_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.core.settings import get_settings

    settings = get_settings()
    steps = [worker.backoff_seconds(n, settings) for n in range(1, 8)]
    assert steps == [60, 120, 240, 480, 960, 1800, 1800]


def test_connection_refused(session: Session) -> None:
    channel = add_channel(session, "webhook", f"http://127.0.0.1:{free_port()}/hook")
    row = _send_to_channel(session, channel)
    assert row.state == "retry"
    assert row.last_error == "连接被拒绝（对方没有在该端口提供服务）"
    assert channel.last_error == row.last_error and channel.last_error_at is not None


def test_slow_robot_times_out(
    session: Session, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, notify_timeout_seconds=0.3)
    http_server.routes["/send"] = Reply(200, b'{"errcode":0}', delay=1.0)
    channel = add_channel(session, "wecom", http_server.url("/send?key=k"))
    row = _send_to_channel(session, channel)
    assert row.state == "retry"
    assert row.last_error == "超时（0.3 秒内没有回应）"


def test_private_address_is_refused_without_retry(session: Session) -> None:
    channel = add_channel(session, "webhook", "http://10.20.30.40:8080/hook")
    row = _send_to_channel(session, channel)
    assert row.state == "failed" and row.attempts == 1
    assert (
        row.last_error is not None and "内网地址" in row.last_error and "已拒绝" in row.last_error
    )


def test_email_multipart_with_marked_words(
    session: Session, people: Org, smtp_server: Mailbox
) -> None:
    rows = service.enqueue(
        session, message=_message(), recipients=[Recipient(kind="person", id=people.li)]
    )
    session.commit()
    assert worker.run_once(10).delivered == 1
    session.refresh(rows[0])
    assert rows[0].state == "delivered"
    ((recipients, mail),) = smtp_server.messages
    assert recipients == ["li@example.cn"]
    assert mail["Subject"] == "【预警】食堂舆情预警"
    assert mail["From"] == "desk@example.cn"
    assert mail["X-Yuqing-Delivery"] == str(rows[0].id)
    assert f"yuqing-{rows[0].id}" in mail["Message-ID"]
    assert mail.get_content_type() == "multipart/alternative"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    assert "<script>alert(1)</script> & 其他" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 其他" in html
    assert "<script>" not in html
    assert "<mark>食堂</mark>" in html and "<mark>涨价</mark>" in html
    assert '<a href="https://example.cn/a/1">学校<mark>食堂</mark>饭菜<mark>涨价</mark></a>' in html


def test_email_invalid_address_fails_at_once(
    session: Session, people: Org, smtp_server: Mailbox
) -> None:
    li = session.get(__import__("yuqing.org.models", fromlist=["Person"]).Person, people.li)
    li.email = "not-an-address"
    session.commit()
    rows = service.enqueue(
        session, message=_message(), recipients=[Recipient(kind="person", id=people.li)]
    )
    session.commit()
    worker.run_once(10)
    session.refresh(rows[0])
    assert rows[0].state == "failed"
    assert rows[0].last_error == "邮箱地址无效：not-an-address"
    assert smtp_server.messages == []


def test_email_refused_by_server_is_permanent(session: Session, smtp_server: Mailbox) -> None:
    channel = add_channel(session, "email", "nobody@example.cn", name="值班邮箱")
    row = _send_to_channel(session, channel)
    assert row.state == "failed"
    assert row.last_error is not None
    assert row.last_error.startswith("邮件服务器拒收该地址 nobody@example.cn（550")
    assert smtp_server.messages == []


def test_email_server_down(session: Session, people: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, smtp_host="127.0.0.1", smtp_port=free_port())
    rows = service.enqueue(
        session, message=_message(), recipients=[Recipient(kind="person", id=people.li)]
    )
    session.commit()
    worker.run_once(10)
    session.refresh(rows[0])
    assert rows[0].state == "retry"
    assert rows[0].last_error is not None and rows[0].last_error.startswith(
        "连接被拒绝（邮件服务器 127.0.0.1:"
    )
    assert rows[0].next_attempt_at > utcnow() + timedelta(seconds=30)
