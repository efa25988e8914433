"""Build report content from stored data: the daily digest, weekly/monthly and the 专报.

Every figure is a query over the period; every sentence about an item is quoted from it
(summarise.py), so a reader can follow each statement to its source.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.service import Principal
from yuqing.cases import service as cases
from yuqing.cases.models import Case
from yuqing.cases.schemas import BoardRow
from yuqing.core.timeutil import format_local, local_zone, utcnow
from yuqing.events.models import Event, EventMember
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.reports import summarise
from yuqing.reports.schemas import (
    KIND_LABELS,
    ChartSpec,
    Paragraph,
    Quote,
    ReportContent,
    Section,
    Table,
)
from yuqing.sources.models import Source

SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}
# Reports read every case: they go to the office, which sees all units.
REPORTER = Principal(
    user_id=0,
    username="reports",
    display_name="报告生成",
    role_key="system",
    permissions=frozenset({cases.READ}),
    unit_id=None,
    visible_units=None,
)
TOP_EVENTS = 5
ATTENTION_ITEMS = 3


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day ``day`` as naive UTC [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=local_zone())
    end = start + timedelta(days=1)
    return _utc(start), _utc(end)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _local_today(now: datetime) -> date:
    return now.replace(tzinfo=UTC).astimezone(local_zone()).date()


# --- figures over a period ------------------------------------------------------------


def _listed(start: datetime, end: datetime) -> list[Any]:
    return [Mention.status == "new", Mention.published_at >= start, Mention.published_at < end]


def count_items(session: Session, start: datetime, end: datetime) -> int:
    """Items (duplicates not counted) published in [start, end)."""
    statement = select(func.count()).select_from(Mention).where(*_listed(start, end))
    return int(session.execute(statement).scalar_one())


def sentiment_split(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Items per sentiment (positive/neutral/negative; unscored count as neutral)."""
    split = dict.fromkeys(SENTIMENT_LABELS, 0)
    statement = (
        select(Mention.sentiment, func.count())
        .where(*_listed(start, end))
        .group_by(Mention.sentiment)
    )
    for label, n in session.execute(statement):
        key = label if label in split else "neutral"
        split[key] += int(n)
    return split


def top_events(
    session: Session, start: datetime, end: datetime, limit: int = TOP_EVENTS
) -> list[tuple[Event, int]]:
    """Events with most items published in the period (heat breaks ties)."""
    n = func.count().label("n")
    statement = (
        select(Event, n)
        .join(EventMember, EventMember.event_id == Event.id)
        .where(EventMember.published_at >= start, EventMember.published_at < end)
        .group_by(Event.id)
        .order_by(n.desc(), Event.heat.desc(), Event.id)
        .limit(limit)
    )
    return [(event, int(count)) for event, count in session.execute(statement)]


def event_quote(session: Session, event: Event) -> Quote | None:
    """One sentence from the event's representative (else first) item, with its link."""
    mention_id = event.representative_id or event.first_mention_id
    mention = session.get(Mention, mention_id) if mention_id else None
    if mention is None:
        return None
    return quote_of(mention, event.terms.split()[:10])


def quote_of(mention: Mention, terms: list[str] | None = None) -> Quote | None:
    sentence = summarise.best_sentence(mention.text, terms or [], mention.title)
    if not sentence:
        return None
    return Quote(text=sentence, mention_id=mention.id, url=mention.url or "")


def attention_items(
    session: Session, start: datetime, end: datetime, limit: int = ATTENTION_ITEMS
) -> list[Mention]:
    """Negative items of the period with the highest risk."""
    statement = (
        select(Mention)
        .where(*_listed(start, end), Mention.sentiment == "negative")
        .order_by(Mention.risk_score.desc().nulls_last(), Mention.published_at.desc())
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def new_cases(session: Session, start: datetime, end: datetime) -> list[Case]:
    statement = (
        select(Case)
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at)
    )
    return list(session.execute(statement).scalars())


def overdue_cases(session: Session, now: datetime) -> list[BoardRow]:
    return [row for row in cases.board(session, principal=REPORTER, now=now) if row.overdue]


def source_counts(
    session: Session, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    n = func.count().label("n")
    statement = (
        select(Source.name, n)
        .join(Mention, Mention.source_id == Source.id)
        .where(*_listed(start, end))
        .group_by(Source.name)
        .order_by(n.desc(), Source.name)
        .limit(limit)
    )
    return [(name, int(c)) for name, c in session.execute(statement)]


def region_counts(
    session: Session, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    n = func.count().label("n")
    statement = (
        select(MentionPlace.name, n)
        .join(Mention, Mention.id == MentionPlace.mention_id)
        .where(*_listed(start, end), MentionPlace.level == "province")
        .group_by(MentionPlace.name)
        .order_by(n.desc(), MentionPlace.name)
        .limit(limit)
    )
    return [(name, int(c)) for name, c in session.execute(statement)]


def daily_counts(session: Session, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """Items per local day of [start, end)."""
    zone = local_zone()
    days: dict[str, int] = {}
    cursor = start
    while cursor < end:
        days[cursor.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")] = 0
        cursor += timedelta(days=1)
    statement = select(Mention.published_at).where(*_listed(start, end))
    for (published,) in session.execute(statement):
        key = published.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")
        days[key] = days.get(key, 0) + 1
    return list(days.items())


def _change(now_n: int, before_n: int) -> str:
    if before_n == 0:
        return "前一日无数据" if now_n else "与前一日持平"
    pct = (now_n - before_n) / before_n * 100
    if abs(pct) < 0.05:
        return "与前一日持平"
    return f"较前一日{'增加' if pct > 0 else '减少'}{abs(pct):.1f}%"


def _split_text(split: dict[str, int]) -> str:
    total = sum(split.values())
    if not total:
        return "无正面、中性、负面信息"
    parts = [f"{SENTIMENT_LABELS[k]} {v} 条（{v / total * 100:.1f}%）" for k, v in split.items()]
    return "，".join(parts)


def _sentiment_chart(split: dict[str, int]) -> ChartSpec:
    return ChartSpec(
        kind="pie",
        title="情感分布",
        labels=[SENTIMENT_LABELS[k] for k in split],
        values=[float(v) for v in split.values()],
    )


# --- the daily digest -------------------------------------------------------------------


def daily(
    session: Session, *, day: date | None = None, now: datetime | None = None
) -> ReportContent:
    """The daily digest (每日舆情) of local day ``day`` (default: yesterday)."""
    now = now or utcnow()
    day = day or _local_today(now) - timedelta(days=1)
    start, end = day_bounds(day)
    total = count_items(session, start, end)
    before = count_items(session, start - timedelta(days=1), start)
    split = sentiment_split(session, start, end)
    events = top_events(session, start, end)
    overview = Paragraph(
        text=(
            f"{day:%Y年%m月%d日}共监测到相关信息 {total} 条，{_change(total, before)}"
            f"（前一日 {before} 条）。其中{_split_text(split)}。"
        )
    )
    sections = [
        Section(heading="一、总体情况", paragraphs=[overview], charts=[_sentiment_chart(split)]),
        _events_section(session, "二、重点事件", events),
        _attention_section(session, "三、需关注的负面信息", start, end),
        _cases_section(session, "四、舆情处置", start, end, now),
    ]
    return ReportContent(
        kind="daily",
        title=f"{KIND_LABELS['daily']}（{day:%Y年%m月%d日}）",
        period_label=f"统计时段：{format_local(start)} 至 {format_local(end)}",
        period_start=start,
        period_end=end,
        generated_at=now,
        sections=sections,
    )


def _events_section(session: Session, heading: str, events: list[tuple[Event, int]]) -> Section:
    if not events:
        return Section(heading=heading, paragraphs=[Paragraph(text="本时段未形成热点事件。")])
    paragraphs = []
    table = Table(
        title="热点事件", columns=["序号", "事件", "本时段信息数", "热度", "负面数", "链接"]
    )
    for i, (event, n) in enumerate(events, 1):
        quote = event_quote(session, event)
        paragraphs.append(
            Paragraph(
                text=f"{i}. {event.title}（本时段 {n} 条，热度 {event.heat:.1f}）：",
                quotes=[quote] if quote else [],
            )
        )
        link = quote.url if quote else ""
        table.rows.append([i, event.title, n, round(event.heat, 1), event.count_negative, link])
    return Section(heading=heading, paragraphs=paragraphs, tables=[table])


def _attention_section(session: Session, heading: str, start: datetime, end: datetime) -> Section:
    items = attention_items(session, start, end)
    if not items:
        return Section(
            heading=heading, paragraphs=[Paragraph(text="本时段无需重点关注的负面信息。")]
        )
    paragraphs = []
    for item in items:
        quote = quote_of(item)
        label = item.title or "无标题"
        paragraphs.append(
            Paragraph(
                text=f"{label}（风险 {item.risk_score or 0}，{format_local(item.published_at)}）：",
                quotes=[quote] if quote else [],
            )
        )
    return Section(heading=heading, paragraphs=paragraphs)


def _cases_section(
    session: Session, heading: str, start: datetime, end: datetime, now: datetime
) -> Section:
    opened = new_cases(session, start, end)
    late = overdue_cases(session, now)
    text = f"本时段新增舆情处置单 {len(opened)} 件，当前超时未办结 {len(late)} 件。"
    table = Table(title="舆情处置", columns=["编号", "标题", "状态", "类别", "责任单位"])
    for case in opened:
        table.rows.append([case.id, case.title, cases.status_label(case.status), "新增", ""])
    for row in late:
        table.rows.append([row.case_id, row.title, row.status_label, "超时", row.unit_name])
    return Section(heading=heading, paragraphs=[Paragraph(text=text)], tables=[table])
