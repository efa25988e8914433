"""``yuqing schemes …``: list, add, check a query, backfill history, remove."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yuqing.core.database import session_scope, upgrade_database
from yuqing.core.terminal import found
from yuqing.schemes.query import SchemeSyntaxError, parse_query

app = typer.Typer(help="监测方案。", no_args_is_help=True)
console = Console()


@app.command("list")
def list_command() -> None:
    """列出监测方案及命中数（今日 / 全部）。"""
    from yuqing.schemes import service

    upgrade_database()
    table = Table("ID", "名称", "分组", "模式", "启用", "权重", "今日/全部")
    with session_scope() as session:
        groups = {g.id: g.name for g in service.list_groups(session)}
        counts = service.match_counts(session)
        for s in service.list_all(session):
            today, total = counts.get(s.id, (0, 0))
            table.add_row(
                str(s.id),
                escape(s.name),
                escape(groups.get(s.group_id or 0, "")),
                "高级" if s.mode == "advanced" else "简单",
                "是" if s.enabled else "否",
                f"{s.weight:g}",
                f"{today}/{total}",
            )
    console.print(table)


@app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="方案名称")],
    subject: Annotated[str, typer.Option("--subject", help="主体词（空格或逗号分隔）")] = "",
    region: Annotated[str, typer.Option("--region", help="地域词")] = "",
    person: Annotated[str, typer.Option("--person", help="人物词")] = "",
    event: Annotated[str, typer.Option("--event", help="事件词")] = "",
    exclude: Annotated[str, typer.Option("--exclude", help="排除词")] = "",
    query: Annotated[str | None, typer.Option("--query", help="高级模式检索式")] = None,
    group: Annotated[str | None, typer.Option("--group", help="分组名称")] = None,
    scope: Annotated[str, typer.Option(help="both | title | text")] = "both",
    weight: Annotated[float, typer.Option(help="权重")] = 1.0,
) -> None:
    """添加方案：用词组（简单模式）或 --query（高级模式）。"""
    from yuqing.schemes import service
    from yuqing.schemes.schemas import SchemeIn

    if query is not None:
        _check_or_exit(query)
    upgrade_database()
    try:
        scheme_in = SchemeIn(
            name=name,
            group=group,
            mode="advanced" if query is not None else "simple",
            subject_words=subject,
            region_words=region,
            person_words=person,
            event_words=event,
            exclude_words=exclude,
            query=query or "",
            scope=scope,
            weight=weight,
        )
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]{escape(str(problem['msg']).removeprefix('Value error, '))}[/red]")
        raise typer.Exit(2) from error
    with session_scope() as session:
        scheme = service.create(session, scheme_in=scheme_in)
        console.print(f"已添加监测方案 {scheme.id}：{escape(scheme.name)}")


def _check_or_exit(query: str) -> None:
    try:
        parse_query(query)
    except SchemeSyntaxError as error:
        console.print(f"[red]{escape(error.message)}[/red]")
        console.print(escape(query), highlight=False)
        console.print(" " * _width(query[: error.position]) + "^", highlight=False)
        raise typer.Exit(2) from error


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


@app.command("check")
def check_command(query: Annotated[str, typer.Argument(help="检索式")]) -> None:
    """检查高级模式检索式；有错时给出位置并以状态码 2 退出。"""
    _check_or_exit(query)
    console.print("检索式正确。")


@app.command("backfill")
def backfill_command(scheme_id: Annotated[int, typer.Argument(help="方案 ID")]) -> None:
    """用方案回溯已收录的历史信息（分批提交，不影响工作台）。"""
    from yuqing.schemes import backfill

    upgrade_database()
    with Progress(
        TextColumn("回溯"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("回溯", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = backfill.backfill(scheme_id, progress=report)
        except backfill.BackfillError as error:
            console.print(f"[red]{escape(str(error))}[/red]")
            raise typer.Exit(2) from error
    console.print(f"回溯完成：检查 {result.scanned} 条，命中 {result.matched} 条。")


@app.command("remove")
def remove_command(
    scheme_id: Annotated[int, typer.Argument(help="方案 ID")],
    yes: Annotated[bool, typer.Option("--yes", help="不再确认")] = False,
) -> None:
    """删除方案及其命中记录（信息本身保留）。"""
    from yuqing.schemes import service

    upgrade_database()
    with session_scope() as session:
        scheme = found(
            service.get(session, scheme_id=scheme_id), f"没有 ID 为 {scheme_id} 的监测方案"
        )
        if not yes:
            typer.confirm(f"删除方案“{scheme.name}”？", abort=True)
        service.remove(session, scheme=scheme)
        console.print(f"已删除监测方案 {scheme_id}。")
