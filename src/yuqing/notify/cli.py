"""``yuqing notify …``: test a channel, run the delivery worker, show the outbox."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yuqing.core.audit import SYSTEM
from yuqing.core.database import session_scope
from yuqing.core.timeutil import format_local
from yuqing.notify import service, worker
from yuqing.notify.channels import CHANNEL_KINDS

app = typer.Typer(help="通知：测试渠道、运行投递进程、查看发件箱。", no_args_is_help=True)
console = Console()


@app.command("send-test")
def send_test(channel_id: Annotated[int, typer.Argument(help="渠道编号")]) -> None:
    """立即向渠道发送一条测试消息（不经发件箱）。"""
    with session_scope() as session:
        channel = service.get_channel(session, channel_id=channel_id)
        if channel is None:
            console.print(f"[red]编号为 {channel_id} 的通知渠道不存在。[/red]")
            raise typer.Exit(1)
        error = service.send_test(session, channel=channel, actor=SYSTEM)
        name = escape(channel.name)
    if error:
        console.print(f"[red]渠道“{name}”测试失败：{escape(error)}[/red]")
        raise typer.Exit(1)
    console.print(f"渠道“{name}”测试成功。")


@app.command("worker")
def run_worker(
    once: Annotated[bool, typer.Option("--once", help="只处理一轮到期的通知后退出")] = False,
    limit: Annotated[int, typer.Option(help="每轮最多领取的通知条数")] = 20,
) -> None:
    """投递发件箱中的通知（重试、退避、租约防重）。"""
    if once:
        result = worker.run_once(limit)
        console.print(
            f"领取 {result.claimed} 条：送达 {result.delivered}，"
            f"待重试 {result.retried}，失败 {result.failed}。"
        )
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print("通知投递进程已启动（Ctrl+C 停止）。")
    worker.run_forever(stop, limit=limit)


@app.command("status")
def status() -> None:
    """发件箱各状态的条数、各渠道的健康状况和最近的失败。"""
    with session_scope() as session:
        summary = service.count_outbox_by_state(session)
        channels = service.list_channels(session)
        problems = service.list_recent_problems(session, limit=10)
        counts = "，".join(
            f"{label} {summary.get(state, 0)}" for state, label in service.STATE_LABELS.items()
        )
        console.print(f"发件箱：{counts}")
        table = Table("编号", "名称", "类型", "状态", "上次成功", "上次错误")
        for channel in channels:
            table.add_row(
                str(channel.id),
                escape(channel.name),
                CHANNEL_KINDS.get(channel.kind, channel.kind),
                "启用" if channel.enabled else "停用",
                format_local(channel.last_success_at),
                escape(channel.last_error or ""),
            )
        console.print(table)
        for row in problems:
            state = service.STATE_LABELS.get(row.state, row.state)
            console.print(
                f"#{row.id} {escape(row.channel)} {escape(row.target)} {state}"
                f"（第 {row.attempts} 次）：{escape(row.last_error or '')}"
            )


if __name__ == "__main__":
    app()
