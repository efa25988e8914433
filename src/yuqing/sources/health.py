"""Watch the sources themselves: is each one healthy, silent, flooding, failing or unused.

Health is computed from the fetch runs (``FetchRun.items_new`` at ``started_at``), a table
this domain owns and indexes by (source, start time), rather than by scanning mentions.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core.timeutil import format_local, utcnow
from yuqing.sources.models import FetchRun, Source
from yuqing.sources.schemas import FETCHED_KINDS

HISTORY = timedelta(days=28)
SILENT_WINDOW = timedelta(days=14)
SILENT_FACTOR = 3  # silent when quiet for more than 3x the usual gap between new items
SILENT_MIN_INTERVALS = 2  # ... and for at least two fetch intervals
SILENT_MIN_GAPS = 2  # a usual gap needs at least three runs with new items
FLOOD_WINDOW = timedelta(days=7)
FLOOD_FACTOR = 5
FLOOD_FLOOR = 50  # fewer new items in an hour than this is never a flood
FLOOD_MIN_AGE = timedelta(hours=2)  # a new source's first backlog is not a flood

STATE_LABELS = {
    "ok": "正常",
    "silent": "沉默",
    "flooding": "异常增多",
    "failing": "失败",
    "never": "未抓取",
    "disabled": "已暂停",
}


@dataclass(frozen=True)
class Health:
    """The state of one source and why, in plain Chinese."""

    state: str  # ok | silent | flooding | failing | never | disabled
    explanation: str
    title: str = ""  # a label more precise than the state's ("失败 2 次", "未收到")

    @property
    def label(self) -> str:
        return self.title or STATE_LABELS[self.state]


NewRun = tuple[datetime, int]  # (started_at, items_new) of a run that brought new items


def source_health(session: Session, source: Source, now: datetime | None = None) -> Health:
    """The health of one source."""
    now = now or utcnow()
    runs = _new_item_runs(session, now=now, source_ids=[source.id])
    return assess(source, runs.get(source.id, []), now=now)


def health_for_all(session: Session, now: datetime | None = None) -> dict[int, Health]:
    """The health of every source, by source id (one query for all the runs)."""
    now = now or utcnow()
    runs = _new_item_runs(session, now=now)
    sources = session.execute(select(Source)).scalars()
    return {s.id: assess(s, runs.get(s.id, []), now=now) for s in sources}


def _new_item_runs(
    session: Session, *, now: datetime, source_ids: Iterable[int] | None = None
) -> dict[int, list[NewRun]]:
    query = (
        select(FetchRun.source_id, FetchRun.started_at, FetchRun.items_new)
        .where(FetchRun.items_new > 0, FetchRun.started_at >= now - HISTORY)
        .order_by(FetchRun.started_at)
    )
    if source_ids is not None:
        query = query.where(FetchRun.source_id.in_(list(source_ids)))
    found: dict[int, list[NewRun]] = {}
    for source_id, started_at, items_new in session.execute(query):
        found.setdefault(source_id, []).append((started_at, items_new))
    return found


def assess(source: Source, runs: Sequence[NewRun], *, now: datetime) -> Health:
    """The health of ``source`` from its runs that brought new items (oldest first)."""
    if not source.enabled:
        if source.kind not in FETCHED_KINDS:
            return Health("disabled", "已暂停")
        return Health("disabled", "已暂停，不再定时抓取；恢复后立即抓取")
    if source.kind not in FETCHED_KINDS:
        return _received(source)
    failures = source.consecutive_failures or 0
    if failures:
        return _failing(source, failures)
    if source.last_attempt_at is None:
        return Health("never", "尚未抓取" + _next_try(source, "，将于 {} 首次抓取"))
    return _flooding(source, runs, now) or _silent(source, runs, now) or _fine(source)


def _next_try(source: Source, pattern: str) -> str:
    at = source.next_attempt_at
    return pattern.format(format_local(at)) if at is not None else ""


def _failing(source: Source, failures: int) -> Health:
    """One state for any run of failures: how many, the last error and the next try."""
    text = f"连续失败 {failures} 次：{source.last_error or '原因不明'}"
    if source.last_success_at is not None:
        text += f"；最近一次成功于 {format_local(source.last_success_at)}"
    else:
        text += "；从未成功"
    text += _next_try(source, "；下次重试 {}")
    return Health("failing", text, title=f"失败 {failures} 次")


def _received(source: Source) -> Health:
    if source.last_new_item_at is None:
        return Health("never", "尚未收到内容", title="未收到")
    return Health("ok", f"最近一次收到新内容于 {format_local(source.last_new_item_at)}")


def _flooding(source: Source, runs: Sequence[NewRun], now: datetime) -> Health | None:
    hour_ago = now - timedelta(hours=1)
    last_hour = sum(n for at, n in runs if at > hour_ago)
    if last_hour < FLOOD_FLOOR or source.created_at > now - FLOOD_MIN_AGE:
        return None
    start = max(now - FLOOD_WINDOW, source.created_at)
    hours = max(1.0, (hour_ago - start).total_seconds() / 3600)
    before = sum(n for at, n in runs if start <= at <= hour_ago)
    average = before / hours
    if last_hour <= FLOOD_FACTOR * average:
        return None
    if average < 0.05:
        usual = "而过去 7 天几乎没有新内容"
    else:
        usual = f"是过去 7 天平均每小时 {average:.1f} 条的 {last_hour / average:.0f} 倍"
    return Health("flooding", f"最近 1 小时新增 {last_hour} 条，{usual}")


def _silent(source: Source, runs: Sequence[NewRun], now: datetime) -> Health | None:
    if not runs:
        last = source.last_new_item_at
        if last is not None and now - last > HISTORY:
            return Health("silent", f"已 {_span(now - last)}无新内容")
        return None
    last = runs[-1][0]
    times = [at for at, _ in runs if at >= last - SILENT_WINDOW]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    if len(gaps) < SILENT_MIN_GAPS:
        return None
    usual = timedelta(seconds=statistics.median(g.total_seconds() for g in gaps))
    quiet = now - last
    interval = timedelta(seconds=source.interval_seconds)
    if quiet <= SILENT_FACTOR * usual or quiet < SILENT_MIN_INTERVALS * interval:
        return None
    return Health("silent", f"已 {_span(quiet)}无新内容（通常每 {_span(usual)}有新内容）")


def _fine(source: Source) -> Health:
    if source.last_success_at is None:  # tried, no failure counted, no success: not yet done
        return Health("never", "尚未成功抓取" + _next_try(source, "，下次抓取 {}"))
    text = f"正常，最近一次成功抓取于 {format_local(source.last_success_at)}"
    return Health("ok", text + _next_try(source, "；下次抓取 {}"))


def _span(value: timedelta) -> str:
    """A duration in the unit people would say: minutes, hours or days."""
    minutes = value.total_seconds() / 60
    if minutes < 120:
        return f"{max(1, round(minutes))} 分钟"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} 小时"
    return f"{minutes / 1440:.0f} 天"
