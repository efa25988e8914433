"""``yuqing retention …`` and ``yuqing people …``: retention rules and the purge; finding,
erasing and the pseudonymised export of people named in the data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from yuqing.core.audit import SYSTEM
from yuqing.core.database import new_session, session_scope, upgrade_database
from yuqing.core.settings import get_settings
from yuqing.core.terminal import console, fail
from yuqing.core.timeutil import format_local, utcnow
from yuqing.maintenance import people, retention

app = typer.Typer(help="数据保留期限与清理。", no_args_is_help=True)
people_app = typer.Typer(
    help="数据中出现的个人：查找、按申请删除、化名导出。", no_args_is_help=True
)


@app.command("show")
def retention_show() -> None:
    """列出各类数据的保留天数（管理员设定的，或默认值）。"""
    upgrade_database()
    table = Table("类别", "名称", "保留天数", "默认", "清理什么", "最近修改")
    with session_scope() as session:
        for rule in retention.list_rules(session):
            changed = (
                f"{format_local(rule.updated_at)} {rule.updated_by}" if rule.updated_at else ""
            )
            table.add_row(
                rule.kind, rule.label, str(rule.days), str(rule.default), rule.what, changed
            )
        unfinished = retention.list_unfinished(session)
    console.print(table)
    for run in unfinished:
        console.print(
            f"[yellow]{run.kind} 的清理未完成（已删 {run.deleted} 条），下次清理时继续。[/yellow]"
        )


@app.command("set")
def retention_set(
    kind: Annotated[
        str, typer.Argument(help="mentions | raw | alerts | inbox | sessions | logins")
    ],
    days: Annotated[str, typer.Argument(help="保留天数（1–36500）")],
) -> None:
    """设定一类数据的保留天数（记入审计日志）。"""
    upgrade_database()
    try:
        with session_scope() as session:
            rule = retention.update_rule(session, kind=kind, days=days, actor=SYSTEM)
    except retention.RetentionError as error:
        fail(str(error))
    console.print(f"{rule.label}：保留 {rule.days} 天。")


@app.command("purge")
def retention_purge(
    kind: Annotated[str | None, typer.Option(help="只清理这一类")] = None,
    batch: Annotated[int | None, typer.Option(min=1, max=10000, help="每批条数")] = None,
) -> None:
    """现在按保留期限清理（分批、小事务，工作台照常运行；中断后再运行会从断点继续）。"""
    upgrade_database()
    kinds = [kind] if kind else list(retention.RETENTION_KINDS)
    for name in kinds:
        if name not in retention.RETENTION_KINDS:
            fail(f"没有这种数据：{name}")
    size = batch or get_settings().purge_batch
    for name in kinds:
        outcome = retention.purge_kind(new_session, kind=name, batch=size)
        resumed = "（续上次中断）" if outcome.resumed else ""
        console.print(f"{retention.RETENTION_KINDS[name][0]}：清理 {outcome.deleted} 条{resumed}。")


@people_app.command("find")
def people_find(name: Annotated[str, typer.Argument(help="作者名或平台账号名")]) -> None:
    """查找某人发布的信息条数，以及其中须为处置记录保留的条数。"""
    upgrade_database()
    try:
        with session_scope() as session:
            found = people.find_person(session, name=name)
    except people.PeopleError as error:
        fail(str(error))
    console.print(
        f"“{escape(found.name)}”发布的信息 {found.mentions} 条，其中 {found.kept_by_cases} 条"
        "属于处置记录，删除时保留。"
    )


@people_app.command("erase")
def people_erase(
    name: Annotated[str, typer.Argument(help="作者名或平台账号名")],
    yes: Annotated[bool, typer.Option("--yes", help="确认删除")] = False,
) -> None:
    """按本人申请删除其发布的信息（处置记录须保留的除外），记入审计日志。"""
    upgrade_database()
    if not yes:
        fail("删除不可恢复：确认后加 --yes 再运行（可先用 yuqing people find 查看条数）")
    try:
        with session_scope() as session:
            found = people.erase_person(session, name=name, actor=SYSTEM)
    except people.PeopleError as error:
        fail(str(error))
    console.print(
        f"已删除 {found.mentions - found.kept_by_cases} 条；{found.kept_by_cases} 条为处置记录保留。"
    )


@people_app.command("export")
def people_export(
    out: Annotated[Path, typer.Argument(help="写入的 CSV 文件")],
    kind: Annotated[str, typer.Option(help="mentions | events")] = "mentions",
    days: Annotated[int, typer.Option(min=1, max=3660, help="最近多少天")] = 30,
) -> None:
    """化名导出：作者与平台账号换成稳定的化名（密钥在数据库之外），供对外分享统计。"""
    upgrade_database()
    if kind not in ("mentions", "events"):
        fail("--kind 只能是 mentions 或 events")
    end = utcnow() + timedelta(seconds=1)
    start = end - timedelta(days=days)
    with session_scope() as session:
        writer = people.export_mentions if kind == "mentions" else people.export_events
        text = writer(session, start=start, end=end, actor=SYSTEM)
    out.write_text(text, encoding="utf-8")
    console.print(f"已写入 {out}（{text.count(chr(10)) - 1} 行）。")
