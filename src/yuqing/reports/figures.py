"""Figures over a period for the reports: counts, rankings, quotes and the cases to mention.

Every figure is a query over [start, end) (naive UTC); every sentence about an item is
quoted from it (summarise.py), so a reader can follow each statement to its source.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.cases.config import HIDDEN_UNIT
from yuqing.cases.schemas import BoardRow
from yuqing.core.labels import SENTIMENT_LABELS
from yuqing.core.palette import SENTIMENT_COLORS
from yuqing.core.timeutil import local_zone
from yuqing.events.models import Event, EventMember
from yuqing.mentions import service as mentions
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.reports import summarise
from yuqing.reports.schemas import ChartSpec, Quote
from yuqing.sources.models import Source

# The reader of the institution's report (the office, leaders, the scheduled daily): it
# reads every unit's cases.
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


def local_today(now: datetime) -> date:
    """The institution's date at ``now`` (naive UTC)."""
    return now.replace(tzinfo=UTC).astimezone(local_zone()).date()


def week_bounds(day: date) -> tuple[date, date]:
    """The Monday-to-Sunday week holding ``day``: [first, next first)."""
    first = day - timedelta(days=day.weekday())
    return first, first + timedelta(days=7)


def month_days(day: date) -> tuple[date, date]:
    """The month holding ``day``: [first, next first)."""
    first = day.replace(day=1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt


# --- figures over a period ------------------------------------------------------------


def _listed(start: datetime, end: datetime) -> list[Any]:
    return [Mention.status == "new", Mention.published_at >= start, Mention.published_at < end]


def count_items(session: Session, *, start: datetime, end: datetime) -> int:
    """Items (duplicates not counted) published in [start, end)."""
    statement = select(func.count()).select_from(Mention).where(*_listed(start, end))
    return int(session.execute(statement).scalar_one())


def count_by_sentiment(session: Session, *, start: datetime, end: datetime) -> dict[str, int]:
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


def list_top_events(
    session: Session, *, start: datetime, end: datetime, limit: int = TOP_EVENTS
) -> list[tuple[Event, int]]:
    """The events with most items published in the period, listed hottest first as the desk
    ranks them (the period's item count, then the id, break ties)."""
    n = func.count().label("n")
    statement = (
        select(Event, n)
        .join(EventMember, EventMember.event_id == Event.id)
        .where(EventMember.published_at >= start, EventMember.published_at < end)
        .group_by(Event.id)
        .order_by(n.desc(), Event.heat.desc(), Event.id)
        .limit(limit)
    )
    chosen = [(event, int(count)) for event, count in session.execute(statement)]
    return sorted(chosen, key=lambda pair: (-pair[0].heat, -pair[1], pair[0].id))


def get_event_quote(session: Session, *, event: Event) -> Quote | None:
    """One sentence from the event's representative (else first) item, with its link."""
    mention_id = event.representative_id or event.first_mention_id
    mention = mentions.get(session, mention_id=mention_id) if mention_id else None
    if mention is None:
        return None
    return quote_of(mention, event.terms.split()[:10])


def quote_of(mention: Mention, terms: list[str] | None = None) -> Quote | None:
    """The sentence of the item that best says what it is about (terms first), quoted."""
    sentence = summarise.best_sentence(mention.text, terms or [], mention.title)
    if not sentence:
        return None
    return Quote(text=sentence, mention_id=mention.id, url=mention.url or "")


def list_attention_items(
    session: Session, *, start: datetime, end: datetime, limit: int = ATTENTION_ITEMS
) -> list[Mention]:
    """Negative items of the period with the highest risk."""
    statement = (
        select(Mention)
        .where(*_listed(start, end), Mention.sentiment == "negative")
        .order_by(Mention.risk_score.desc().nulls_last(), Mention.published_at.desc())
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def list_overdue_cases(
    session: Session, *, now: datetime, reader: Principal = REPORTER
) -> list[BoardRow]:
    """Open cases the reader sees with a clock past due; a case another unit handles names
    no unit (as on the reader's board)."""
    rows = [row for row in cases.list_board_rows(session, principal=reader, now=now) if row.overdue]
    return [
        row if reader.sees_unit(row.unit_id) else replace(row, unit_name=HIDDEN_UNIT)
        for row in rows
    ]


def count_by_source(
    session: Session, *, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """Items per source in the period, the most first."""
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


def count_by_region(
    session: Session, *, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """Items per province named in them in the period, the most first."""
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


def count_by_day(session: Session, *, start: datetime, end: datetime) -> list[tuple[str, int]]:
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


def split_text(split: dict[str, int]) -> str:
    """The sentiment split said in a sentence, with shares."""
    total = sum(split.values())
    if not total:
        return "无正面、中性、负面信息"
    parts = [f"{SENTIMENT_LABELS[k]} {v} 条（{v / total * 100:.1f}%）" for k, v in split.items()]
    return "，".join(parts)


def sentiment_chart(split: dict[str, int]) -> ChartSpec:
    """The sentiment split as a pie in the desk's colours."""
    return ChartSpec(
        kind="pie",
        title="情感分布",
        labels=[SENTIMENT_LABELS[k] for k in split],
        values=[float(v) for v in split.values()],
        colors=[SENTIMENT_COLORS[k] for k in split],  # the desk's 负面 red and 正面 green
    )
