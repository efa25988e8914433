"""``yuqing report``: write a daily, weekly, monthly or special report to a file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from yuqing.core.database import session_scope
from yuqing.reports import service
from yuqing.reports.docx import to_docx
from yuqing.reports.html import to_html
from yuqing.reports.schemas import ReportContent, ReportError
from yuqing.reports.xlsx import to_xlsx

app = typer.Typer(help="生成舆情报告（日报、周报、月报、专报）。", no_args_is_help=True)


class Format(StrEnum):
    docx = "docx"
    xlsx = "xlsx"
    html = "html"


DateOpt = Annotated[
    str | None, typer.Option("--date", help="报告所属日期 YYYY-MM-DD（默认：上一期）")
]
FormatOpt = Annotated[Format, typer.Option("--format", help="输出格式")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="输出文件（默认：当前目录）")]
TemplateOpt = Annotated[Path | None, typer.Option("--template", help="Word 信笺模板 .docx")]


def render(content: ReportContent, fmt: Format, template: Path | None = None) -> bytes:
    """The report in ``fmt`` as bytes."""
    if fmt is Format.docx:
        return to_docx(content, template)
    if fmt is Format.xlsx:
        return to_xlsx(content)
    return to_html(content).encode("utf-8")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(
            f"日期 {value!r} 格式不对，应为 YYYY-MM-DD", param_hint="--date"
        ) from None


def _write(content: ReportContent, fmt: Format, out: Path | None, template: Path | None) -> None:
    try:
        data = render(content, fmt, template)
    except ReportError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(1) from None
    path = out or Path(f"{content.kind}-{content.period_start:%Y%m%d}.{fmt.value}")
    path.write_bytes(data)
    typer.echo(f"已生成 {content.title} → {path}（{len(data)} 字节）")


def _run(build: object, fmt: Format, out: Path | None, template: Path | None) -> None:
    with session_scope() as session:
        try:
            content = build(session)  # type: ignore[operator]
        except ReportError as exc:
            typer.echo(f"错误：{exc}", err=True)
            raise typer.Exit(1) from None
        _write(content, fmt, out, template)


def _period_command(name: str, build: Callable[..., ReportContent], help_text: str) -> None:
    """Register one periodic report command; daily, weekly and monthly differ only in the
    service function that builds the content and their help line."""

    def command(
        day: DateOpt = None,
        fmt: FormatOpt = Format.docx,
        out: OutOpt = None,
        template: TemplateOpt = None,
    ) -> None:
        d = _day(day)
        _run(lambda s: build(s, day=d), fmt, out, template)

    command.__doc__ = help_text
    app.command(name)(command)


_period_command("daily", service.daily, "每日舆情（默认：昨天）。")
_period_command("weekly", service.weekly, "舆情周报（该日期所在的周；默认：上周）。")
_period_command("monthly", service.monthly, "舆情月报（该日期所在的月；默认：上月）。")


@app.command()
def event(
    event_id: Annotated[int, typer.Argument(help="事件编号")],
    fmt: FormatOpt = Format.docx,
    out: OutOpt = None,
    template: TemplateOpt = None,
) -> None:
    """舆情专报：一个事件的概况、传播、内容分析与处置建议。"""

    def build(s: Session) -> ReportContent:
        return service.event_report(s, event_id=event_id)

    _run(build, fmt, out, template)
