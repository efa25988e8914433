"""The charts of one event's page (趋势、情感走势、来源与平台、转发树) as plain data for ECharts.

Every count leaves out exact copies (重复), as the page's other numbers do. The repost tree
shows posts (title and time), never accounts: nothing here is gathered per person.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.core.labels import SENTIMENT_LABELS, UNSCORED_LABEL
from yuqing.core.timeutil import format_local
from yuqing.events import service
from yuqing.events.models import Event, EventMember, EventSource
from yuqing.events.schemas import ChainNode
from yuqing.mentions.models import Mention
from yuqing.mentions.platforms import PLATFORMS
from yuqing.sources.models import Source

TREE_LIMIT = 150
"""Posts drawn in the repost tree; the page says how many more there are."""
TOP_SOURCES = 10
SENTIMENTS = {**SENTIMENT_LABELS, "": UNSCORED_LABEL}
HOUR_LABEL = "%m-%d %H:00"


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def snapshot(session: Session, *, event: Event) -> dict[str, Any]:
    """Trend with the first post, sentiment per hour, sources, platforms and repost tree."""
    hours = service.trend(session, event=event)
    return {
        "event": {"id": event.id, "title": event.title, "size": event.size},
        "trend": _trend(event, hours),
        "sentiment": _sentiment(session, event, [h for h, _ in hours]),
        "sources": _sources(session, event),
        "platforms": _platforms(session, event),
        "tree": _tree(session, event),
    }


def _trend(event: Event, hours: list[tuple[datetime, int]]) -> dict[str, Any]:
    """Counts per hour; ``first`` is the index of the first post's hour (``None`` when the
    drawn hours begin later: a long event shows its last two weeks)."""
    first = None
    first_hour = _hour(event.first_seen_at) if event.first_seen_at else None
    for index, (hour, _) in enumerate(hours):
        if hour == first_hour:
            first = index
            break
    return {
        "labels": [format_local(h, HOUR_LABEL) for h, _ in hours],
        "counts": [n for _, n in hours],
        "first": first,
        "first_at": format_local(event.first_seen_at) if event.first_seen_at else "",
        "first_mention_id": event.first_mention_id,
    }


def _hour_of(session: Session, column: Any) -> Any:
    """The hour ``column`` falls in, grouped by the database (a big event has 10⁵ members)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _sentiment(session: Session, event: Event, hours: list[datetime]) -> dict[str, Any]:
    """Members per hour and sentiment over the trend's hours (a stacked chart)."""
    index = {hour: i for i, hour in enumerate(hours)}
    series = {key: [0] * len(hours) for key in SENTIMENTS}
    if hours:
        hour = _hour_of(session, EventMember.published_at)
        query = (
            select(hour, EventMember.sentiment, func.count())
            .where(EventMember.event_id == event.id, EventMember.published_at >= hours[0])
            .group_by(hour, EventMember.sentiment)
        )
        if event.duplicate_count:  # else no member is a copy: spare a join per member
            query = query.join(Mention, Mention.id == EventMember.mention_id).where(
                Mention.status != service.DUPLICATE
            )
        rows = session.execute(query).all()
        for at, sentiment, count in rows:
            step = index.get(at if isinstance(at, datetime) else datetime.fromisoformat(at))
            if step is not None:
                series[sentiment if sentiment in SENTIMENTS else ""][step] += count
    return {
        "series": [
            {"key": key, "label": label, "counts": series[key]}
            for key, label in SENTIMENTS.items()
            if any(series[key]) or key != ""
        ]
    }


def _sources(session: Session, event: Event) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Source.name, EventSource.count)
        .join(Source, Source.id == EventSource.source_id)
        .where(EventSource.event_id == event.id, EventSource.count > 0)
        .order_by(EventSource.count.desc(), Source.name)
    ).all()
    shown = [{"label": name, "count": count} for name, count in rows[:TOP_SOURCES]]
    rest = sum(count for _, count in rows[TOP_SOURCES:])
    if rest:
        shown.append({"label": f"其他 {len(rows) - TOP_SOURCES} 个信息源", "count": rest})
    return shown


def _platforms(session: Session, event: Event) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Mention.platform, func.count())
        .join(EventMember, EventMember.mention_id == Mention.id)
        .where(EventMember.event_id == event.id, Mention.status != service.DUPLICATE)
        .group_by(Mention.platform)
    ).all()
    counts: Counter[str] = Counter()
    for key, count in rows:
        counts[key if key in PLATFORMS else "other"] += count
    return [
        {"key": key, "label": PLATFORMS[key], "count": count} for key, count in counts.most_common()
    ]


def _tree(session: Session, event: Event) -> dict[str, Any]:
    """The repost forest under one root (the event), cascades first, at most ``TREE_LIMIT``
    posts; ``hidden`` counts the event's posts not drawn."""
    roots, total = service.repost_chain(session, event=event)
    ordered = sorted(roots, key=lambda n: (-_size(n), n.mention.published_at, n.mention.id))
    budget = [TREE_LIMIT]
    children = [c for c in (_node(n, budget) for n in ordered) if c is not None]
    drawn = TREE_LIMIT - budget[0]
    reposts = sum(_size(n) - 1 for n in roots)
    return {
        "root": {
            "name": f"事件 #{event.id}",
            "title": event.title or "（无标题）",
            "children": children,
        },
        "drawn": drawn,
        "hidden": max(0, total - drawn),
        "reposts": reposts,
    }


def _size(node: ChainNode) -> int:
    size, stack = 0, [node]
    while stack:
        current = stack.pop()
        size += 1
        stack.extend(current.children)
    return size


def _node(node: ChainNode, budget: list[int]) -> dict[str, Any] | None:
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    m = node.mention
    title = (m.title or m.text or "（无标题）").strip().replace("\n", " ")
    kids = [c for c in (_node(child, budget) for child in node.children) if c is not None]
    return {
        "name": title[:16] + ("…" if len(title) > 16 else ""),
        "title": title[:80],
        "time": format_local(m.published_at),
        "source": node.source_name,
        "href": f"/mentions/{m.id}",
        "children": kids,
    }
