"""``yuqing calendar``: the working calendar (法定节假日与调休) from the command line.

Only Typer is imported at the top: ``yuqing --help`` must not load the database layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="工作日历：查看、导入放假通知、从软件包补充年份。", no_args_is_help=True)


@app.command("list")
def list_years() -> None:
    """列出已有官方数据的年份，并提示缺少的年份。"""
    from yuqing.cases import calendar_service
    from yuqing.core.database import session_scope

    with session_scope() as session:
        years = calendar_service.list_years(session)
        warning = calendar_service.get_coverage_warning(
            session, today=calendar_service.current_date()
        )
    for y in years:
        note = f"（{y.note}）" if y.note else ""
        typer.echo(
            f"{y.year}  休 {y.days_off:>3} 天  班 {y.working_days:>2} 天  {y.source_label}{note}"
        )
    if not years:
        typer.echo("工作日历还没有任何年份的官方数据。")
    if warning:
        typer.secho(warning, fg=typer.colors.YELLOW, err=True)


@app.command("show")
def show(year: Annotated[int, typer.Argument(help="年份，例如 2027")]) -> None:
    """按导入文件的格式打印一年的安排（可改后再导入）。"""
    from yuqing.cases import calendar_service, schedule
    from yuqing.core.database import session_scope

    with session_scope() as session:
        days = [
            schedule.ScheduleDay(d.date, d.working, d.name)
            for d in calendar_service.list_days(session, year=year)
        ]
    if not days:
        typer.secho(f"{year} 年没有官方数据：按周一至周五计算。", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
    typer.echo(schedule.format_days(days), nl=False)


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="放假通知文件（每行：日期 休/班 名称）")],
) -> None:
    """导入放假通知；文件有任何一行不对时整份拒绝，已有安排不变。"""
    from yuqing.cases import calendar_service
    from yuqing.core.audit import SYSTEM
    from yuqing.core.database import session_scope

    try:
        data = path.read_bytes()
    except OSError as error:
        typer.secho(f"读不了文件 {path}：{error.strerror}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    try:
        with session_scope() as session:
            result = calendar_service.import_text(session, by=SYSTEM, data=data, filename=path.name)
    except calendar_service.CalendarError as error:
        typer.secho(error.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    years = "、".join(str(y) for y in result.years) or "（无整年替换）"
    typer.echo(f"已导入 {years} 年：休 {result.days_off} 天，班 {result.working_days} 天。")
    if result.moved_deadlines:
        typer.echo(f"{result.moved_deadlines} 个进行中的时限已按新日历重新计算。")


@app.command("seed")
def seed() -> None:
    """从 holidays 软件包补充工作日历缺少的年份（不覆盖已有年份）。"""
    from yuqing.cases import calendar_service, schedule
    from yuqing.core.audit import SYSTEM
    from yuqing.core.database import session_scope

    with session_scope() as session:
        years = calendar_service.seed_from_package(session, by=SYSTEM)
    if years:
        typer.echo(
            f"已从 {schedule.package_version()} 补充 {'、'.join(str(y) for y in years)} 年。"
        )
    else:
        typer.echo(f"{schedule.package_version()} 没有工作日历缺少的年份。")
