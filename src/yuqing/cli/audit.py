"""``yuqing audit …``: verify the audit log's hash chain and print signed anchors of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from yuqing.core import audit
from yuqing.core.database import session_scope, upgrade_database
from yuqing.core.terminal import console, fail

app = typer.Typer(help="审计日志。", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="锚点：`yuqing audit anchor` 打印的一行，或存有锚点的文件"),
    ] = None,
) -> None:
    """校验审计日志的哈希链：被改动、删除或插入的记录都会被指出；给出锚点时，还核对日志
    仍含该条记录且未被改写（发现末尾被截断）。"""
    anchors: list[audit.Anchor] = []
    if anchor is not None:
        try:
            is_text = audit.ANCHOR_TAG in anchor
            text = anchor if is_text else Path(anchor).read_text(encoding="utf-8")
            anchors = audit.parse_anchors(text)
        except (OSError, UnicodeDecodeError, audit.AnchorError) as error:
            fail(f"无法读取锚点：{error}")
    upgrade_database()
    with session_scope() as session:
        report = audit.verify(session, anchors=anchors)
    if report.ok:
        checked = f"，与 {report.anchors_checked} 个锚点相符" if report.anchors_checked else ""
        console.print(f"审计日志完整：共 {report.rows} 条记录，哈希链无误{checked}。")
        return
    console.print(
        f"[red]审计日志有 {len(report.problems)} 处问题（共 {report.rows} 条记录）：[/red]"
    )
    for problem in report.problems[:100]:
        console.print(f"  [red]{escape(problem)}[/red]")
    raise typer.Exit(1)


@app.command("anchor")
def audit_anchor() -> None:
    """打印签名的链头（序号、哈希、时间、HMAC）：请保存到工作台以外（邮件、纸面、另一系统），
    日后用 `yuqing audit verify --anchor` 核对日志未被截断或改写。"""
    upgrade_database()
    with session_scope() as session:
        try:
            anchor = audit.make_anchor(session)
        except (audit.AnchorError, audit.AuditKeyError) as error:
            fail(str(error), code=1)
    # The advice goes to stderr, so `yuqing audit anchor >> anchors.txt` keeps only anchors.
    typer.echo("请把下面这一行保存到工作台以外（可逐日追加到同一个文件）：", err=True)
    typer.echo(str(anchor))
