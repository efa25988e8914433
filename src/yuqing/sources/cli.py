"""``yuqing sources …``: list, add and remove the desk's sources (信息源)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from yuqing.core.database import session_scope, upgrade_database
from yuqing.core.terminal import console, found
from yuqing.core.timeutil import format_local

app = typer.Typer(help="管理信息源。", no_args_is_help=True)


@app.command("list")
def sources_list() -> None:
    """列出信息源及其状态。"""
    from yuqing.sources import service as sources

    upgrade_database()
    table = Table("ID", "名称", "类型", "地址", "启用", "上次成功", "新增/重复/失败", "最近错误")
    with session_scope() as session:
        for s in sources.list_all(session):
            table.add_row(
                str(s.id),
                s.name,
                s.kind,
                s.url or "",
                "是" if s.enabled else "否",
                format_local(s.last_success_at),
                f"{s.count_new}/{s.count_duplicate}/{s.count_failed}",
                s.last_error or "",
            )
    console.print(table)


@app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="名称")],
    kind: Annotated[str, typer.Option(help="rss | page | list | import | push")] = "rss",
    url: Annotated[str | None, typer.Option(help="地址")] = None,
    interval: Annotated[int, typer.Option(help="抓取间隔（分钟）")] = 15,
) -> None:
    """添加信息源。"""
    from pydantic import ValidationError

    from yuqing.sources import service as sources
    from yuqing.sources.schemas import SourceIn

    upgrade_database()
    try:
        source_in = SourceIn(name=name, kind=kind, url=url, interval_seconds=interval * 60)
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]{problem['msg'].removeprefix('Value error, ')}[/red]")
        raise typer.Exit(2) from error
    with session_scope() as session:
        source = sources.create(session, source_in=source_in)
        console.print(f"已添加信息源 {source.id}：{source.name}")


@app.command("remove")
def sources_remove(
    source_id: Annotated[int, typer.Argument(help="信息源 ID")],
    yes: Annotated[bool, typer.Option("--yes", help="不再确认")] = False,
) -> None:
    """删除信息源及其采集到的信息。"""
    from yuqing.mentions import service as mentions
    from yuqing.sources import service as sources

    upgrade_database()
    with session_scope() as session:
        source = found(
            sources.get(session, source_id=source_id), f"没有 ID 为 {source_id} 的信息源"
        )
        if not yes:
            typer.confirm(f"删除“{source.name}”及其全部信息？", abort=True)
        removed = mentions.delete_for_source(session, source_id=source.id)
        sources.delete_source(session, source=source, mentions_deleted=removed)
        console.print(f"已删除信息源 {source_id}，同时删除 {removed} 条信息。")
