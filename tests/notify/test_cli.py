"""``yuqing notify …``: send-test, worker --once, status."""

from __future__ import annotations

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.notify.conftest import add_channel
from tests.support import LocalServer, Reply, free_port
from yuqing.notify import service
from yuqing.notify.cli import app
from yuqing.notify.schemas import Message, Recipient

runner = CliRunner()


def test_send_test_reports_success_and_failure(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/hook"] = Reply(200)
    good = add_channel(session, "webhook", http_server.url("/hook"), name="好渠道")
    bad = add_channel(session, "webhook", f"http://127.0.0.1:{free_port()}/x", name="坏渠道")
    result = runner.invoke(app, ["send-test", str(good.id)])
    assert result.exit_code == 0 and "测试成功" in result.output
    assert http_server.requests[0].headers["x-yuqing-delivery"].startswith(f"test-{good.id}-")
    result = runner.invoke(app, ["send-test", str(bad.id)])
    assert result.exit_code == 1 and "连接被拒绝" in result.output
    assert runner.invoke(app, ["send-test", "999"]).exit_code == 1


def test_worker_once_and_status(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/hook"] = Reply(500, b"oops")
    channel = add_channel(session, "webhook", http_server.url("/hook"), name="回调")
    service.enqueue(
        session,
        message=Message(title="预警"),
        recipients=[Recipient(kind="channel", id=channel.id)],
    )
    session.commit()
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0 and "待重试 1" in result.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0
    assert "等待重试 1" in status.output
    assert "返回 HTTP 500（服务器内部错误）" in status.output
