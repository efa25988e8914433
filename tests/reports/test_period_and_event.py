"""Weekly/monthly reports and the special report (专报) against known data."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.events.models import EventMember
from yuqing.mentions.models import Mention
from yuqing.reports import service
from yuqing.reports.cli import app
from yuqing.reports.docx import to_docx
from yuqing.reports.schemas import ReportError

from .conftest import DAY, NOW, Known
from .test_service import _assert_quotes_verbatim


def test_weekly_counts_trend_and_sources(session: Session, known: Known) -> None:
    content = service.weekly(session, day=DAY, now=NOW)
    overview = content.sections[0]
    trend = dict((r[0], r[1]) for r in overview.tables[0].rows)
    assert trend["03-05"] == known.on_day and trend["03-04"] == known.day_before
    assert trend["03-06"] == 1 and len(trend) == 7
    assert (
        f"共监测到相关信息 {known.on_day + known.day_before + 1} 条" in overview.paragraphs[0].text
    )
    sources = content.sections[2].tables[0]
    assert sources.rows == [[known.source.name, known.on_day + known.day_before + 1]]
    _assert_quotes_verbatim(session, content)
    Document(io.BytesIO(to_docx(content)))  # three charts and five sections render


def test_monthly_has_timeliness_table(session: Session, known: Known) -> None:
    content = service.monthly(session, day=DAY, now=NOW)
    assert content.title == "舆情月报（2024年03月）"
    assert content.sections[-1].tables[-1].title == "各单位处置时效"


def _event_of(session: Session, mention_id: int) -> int:
    return session.execute(
        select(EventMember.event_id).where(EventMember.mention_id == mention_id)
    ).scalar_one()


def test_event_report_four_parts(session: Session, known: Known) -> None:
    content = service.event_report(
        session, event_id=_event_of(session, known.canteen_ids[0]), now=NOW
    )
    assert [s.heading for s in content.sections] == [
        "一、舆情概况",
        "二、传播情况",
        "三、内容分析",
        "四、处置建议",
    ]
    overview = content.sections[0].paragraphs[0]
    assert "共有相关信息 3 条" in overview.text and known.source.name in overview.text
    assert overview.quotes[0].mention_id == known.canteen_ids[0]
    words = [row[0] for row in content.sections[2].tables[0].rows]
    assert "食堂" in words
    assert content.sections[3].paragraphs[0].editable
    _assert_quotes_verbatim(session, content)


def test_event_with_one_item(session: Session, known: Known) -> None:
    lone = session.execute(select(Mention.id).where(Mention.external_id == "late")).scalar_one()
    content = service.event_report(session, event_id=_event_of(session, lone), now=NOW)
    assert "共有相关信息 1 条" in content.sections[0].paragraphs[0].text
    Document(io.BytesIO(to_docx(content)))


def test_unknown_event_is_a_clear_error(session: Session) -> None:
    with pytest.raises(ReportError, match="事件 999 不存在"):
        service.event_report(session, event_id=999)


def test_cli_writes_each_format(session: Session, known: Known, tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("docx", "xlsx", "html"):
        out = tmp_path / f"daily.{fmt}"
        result = runner.invoke(
            app, ["daily", "--date", "2024-03-05", "--format", fmt, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    assert "每日舆情（2024年03月05日）" in (tmp_path / "daily.html").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["event", "999", "--out", str(tmp_path / "x.docx")])
    assert bad.exit_code == 1 and "事件 999 不存在" in bad.output
    assert not (tmp_path / "x.docx").exists()
