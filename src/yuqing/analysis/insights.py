"""The figures of an analysis page (分析): what the stream lists under its filters, over a
bounded time range, as SQL aggregates (never a read of every row into Python)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session

from yuqing.analysis import places
from yuqing.core import labels
from yuqing.core.timeutil import local_zone
from yuqing.mentions import platforms, search, service
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.sources.models import Source

HOUR_BUCKETS_UP_TO = timedelta(days=3)
"""Ranges up to three days are drawn by the hour, longer ones by the day."""
SENTIMENTS = ("negative", "neutral", "positive", "")
SENTIMENT_LABELS = {**labels.SENTIMENT_LABELS, "": labels.UNSCORED_LABEL}
TOP_SOURCES = 10
TOP_PLACES = 34  # every province-level division
TOP_ITEMS = 10
HOT_WORDS = 20
HOT_WORD_SAMPLE = 600
"""Hot words are counted over the newest this many items of the range: segmenting every
item of a large range would cost seconds; the newest items are what a reader watches."""
HOT_WORD_TEXT = 120
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
STOPWORDS_FILE = Path(__file__).parent / "data" / "hotword_stopwords.txt"


@dataclass
class Scope:
    """What one analysis covers: the stream's filters, with a time range always bounded."""

    start: datetime  # naive UTC, included
    end: datetime  # naive UTC, excluded: the end of the trend's axis
    # Whether ``end`` bounds the query too: a range that runs to now (7天, 24小时) leaves it
    # open, as the stream does, so the 热度 and 风险 orders read their indexes top-down and
    # stop after a page instead of sorting the whole range.
    end_bounds: bool = False
    source_id: int | None = None
    source_kind: str | None = None
    platform: str | None = None
    user_id: int | None = None
    mark: str | None = None
    analysis: search.SearchFilters = field(default_factory=search.SearchFilters)

    def narrow(self, query: SelectT) -> SelectT:
        """``query`` limited to the listed mentions of this scope (the stream's definition)."""
        self.analysis.start = self.start
        self.analysis.end = self.end if self.end_bounds else None
        return service.listed_select(
            query,
            source_id=self.source_id,
            source_kind=self.source_kind,
            analysis=self.analysis,
            platform=self.platform,
            user_id=self.user_id,
            mark=self.mark,
        )

    @property
    def unit(self) -> str:
        """``hour`` or ``day``: the width of one step of the trend."""
        return "hour" if self.end - self.start <= HOUR_BUCKETS_UP_TO else "day"


# --- time buckets -------------------------------------------------------------------------


def _offset_seconds(moment: datetime) -> int:
    """The local zone's offset from UTC at ``moment`` (the institution's zone has no summer
    time in China; elsewhere a bucket near the switch may be off by an hour)."""
    offset = moment.replace(tzinfo=UTC).astimezone(local_zone()).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _bucket(session: Session, unit: str, offset: int) -> ColumnElement[str]:
    """The local hour (``YYYY-MM-DD HH``) or day (``YYYY-MM-DD``) of ``published_at``."""
    if session.get_bind().dialect.name == "postgresql":
        shape = "YYYY-MM-DD HH24" if unit == "hour" else "YYYY-MM-DD"
        shifted = Mention.published_at + literal_column(f"interval '{int(offset)} seconds'")
        return func.to_char(shifted, shape)
    shape = "%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d"
    return func.strftime(shape, Mention.published_at, f"{int(offset):+d} seconds")


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(local_zone())


def buckets(scope: Scope) -> list[tuple[str, datetime]]:
    """Every step of the trend, as (key, local start), from the start of the range to its end."""
    first = _local(scope.start)
    if scope.unit == "hour":
        first = first.replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
        shape = "%Y-%m-%d %H"
    else:
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        step = timedelta(days=1)
        shape = "%Y-%m-%d"
    last = _local(scope.end)
    steps: list[tuple[str, datetime]] = []
    current = first
    while current < last:
        steps.append((current.strftime(shape), current))
        current = (current.replace(tzinfo=None) + step).replace(tzinfo=current.tzinfo)
    return steps


# --- aggregates ---------------------------------------------------------------------------


@dataclass
class Volume:
    """Counts of one scope by time step, sentiment, platform and source, from one query."""

    total: int = 0
    trend: dict[str, Counter[str]] = field(default_factory=dict)  # sentiment -> step -> n
    sentiments: Counter[str] = field(default_factory=Counter)
    platforms: Counter[str] = field(default_factory=Counter)
    sources: Counter[int] = field(default_factory=Counter)


def volume(session: Session, *, scope: Scope) -> Volume:
    """One grouped pass over the scope: every count the trend and the shares draw."""
    step = _bucket(session, scope.unit, _offset_seconds(scope.start)).label("step")
    query = scope.narrow(
        select(
            step,
            Mention.sentiment,
            Mention.platform,
            Mention.source_id,
            func.count().label("n"),
        )
    ).group_by(step, Mention.sentiment, Mention.platform, Mention.source_id)
    result = Volume(trend={s: Counter() for s in SENTIMENTS})
    for row in session.execute(query):
        sentiment = row.sentiment if row.sentiment in SENTIMENT_LABELS else ""
        result.total += row.n
        result.trend[sentiment][row.step] += row.n
        result.sentiments[sentiment] += row.n
        result.platforms[row.platform or platforms.OTHER] += row.n
        result.sources[row.source_id] += row.n
    return result


def province_counts(session: Session, *, scope: Scope) -> list[tuple[str, int]]:
    """(province code, items naming a place in it), most first."""
    prefix = func.substr(MentionPlace.code, 1, 2).label("prefix")
    query = scope.narrow(
        select(prefix, func.count(func.distinct(Mention.id)).label("n")).join(
            MentionPlace, MentionPlace.mention_id == Mention.id
        )
    ).group_by(prefix)
    names = {p.code[:2]: p.code for p in places.provinces()}
    counts = [(names[row.prefix], row.n) for row in session.execute(query) if row.prefix in names]
    return sorted(counts, key=lambda c: (-c[1], c[0]))[:TOP_PLACES]


def top_spread(session: Session, *, scope: Scope, limit: int = TOP_ITEMS) -> list[Mention]:
    """The items spread most (热度: reposts + comments + likes), newest first among equals;
    items nobody shared are left out. The order is the stream's 热度 order, which its
    index (status, heat, published_at) serves without a sort."""
    query = scope.narrow(select(Mention)).order_by(*service.stream_order(session, "heat"))
    return [m for m in session.scalars(query.limit(limit)) if m.heat > 0]


def negative_items(session: Session, *, scope: Scope, limit: int = TOP_ITEMS) -> list[Mention]:
    """The 负面 items that need attention: highest risk first, then newest (the stream's
    风险 order, served by its index)."""
    query = scope.narrow(select(Mention)).where(Mention.sentiment == "negative")
    return list(
        session.scalars(query.order_by(*service.stream_order(session, "risk")).limit(limit))
    )


@cache
def stopwords() -> frozenset[str]:
    """Words that say nothing about a topic (our own list, one a line, # comments)."""
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def _is_term(word: str, stop: frozenset[str]) -> bool:
    if len(word) < 2 or word in stop:
        return False
    if any("\u4e00" <= ch <= "\u9fff" for ch in word):
        return True
    # Latin words count from three letters (no "ok", no numbers, no punctuation runs).
    return word.isascii() and word.isalpha() and len(word) >= 3


def terms(texts: list[str]) -> Counter[str]:
    """How many of ``texts`` use each term (rjieba words, stop words left out)."""
    import rjieba  # imported here: only the analysis page segments text on request

    stop = stopwords()
    counts: Counter[str] = Counter()
    for text in texts:
        words = {w.strip().lower() for w in rjieba.cut(text, False)}
        counts.update(w for w in words if _is_term(w, stop))
    return counts


def hot_words(session: Session, *, scope: Scope, limit: int = HOT_WORDS) -> list[tuple[str, int]]:
    """The terms most items of the scope use, over its newest ``HOT_WORD_SAMPLE`` items."""
    query = scope.narrow(select(Mention.title, func.substr(Mention.text, 1, HOT_WORD_TEXT)))
    newest = query.order_by(Mention.published_at.desc(), Mention.id.desc()).limit(HOT_WORD_SAMPLE)
    texts = [f"{title or ''}\n{text or ''}" for title, text in session.execute(newest)]
    return terms(texts).most_common(limit)


def source_names(session: Session, source_ids: list[int]) -> dict[int, str]:
    if not source_ids:
        return {}
    rows = session.execute(select(Source.id, Source.name).where(Source.id.in_(source_ids)))
    return {row.id: row.name for row in rows}
