"""The daily digest's figures and sentences against known data."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from yuqing.mentions.models import Mention
from yuqing.reports import service
from yuqing.reports.schemas import ReportContent

from .conftest import DAY, NOW, Known


def _assert_quotes_verbatim(session: Session, content: ReportContent) -> None:
    for quote in content.quotes():
        mention = session.get(Mention, quote.mention_id)
        assert mention is not None
        assert quote.text in mention.text or quote.text in mention.title, quote.text
        assert quote.url == (mention.url or "")


def test_daily_counts_and_change(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    overview = content.sections[0].paragraphs[0].text
    assert f"共监测到相关信息 {known.on_day} 条" in overview
    assert f"前一日 {known.day_before} 条" in overview
    assert "较前一日增加500.0%" in overview
    split = service.count_by_sentiment(session, start=content.period_start, end=content.period_end)
    assert sum(split.values()) == known.on_day


def test_daily_top_event_is_the_canteen(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    events = content.sections[1]
    assert events.tables[0].rows[0][2] == 3  # three canteen posts
    first = events.paragraphs[0]
    assert first.quotes and first.quotes[0].mention_id in known.canteen_ids
    _assert_quotes_verbatim(session, content)


def test_every_sentence_is_verbatim_with_its_link(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    assert content.quotes()
    _assert_quotes_verbatim(session, content)
    assert 150 <= len(content.plain_text()) <= 900


def test_day_without_data_is_readable(session: Session) -> None:
    content = service.daily(session, day=date(2023, 1, 1), now=NOW)
    text = content.plain_text()
    assert "共监测到相关信息 0 条" in text
    assert "本时段未形成热点事件" in text
    assert "新增舆情处置单 0 件" in text
