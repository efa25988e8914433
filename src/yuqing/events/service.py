"""Reading events (lists, detail, repost chain, hot topics, 相关事件) and changing them by
hand (merge, split, relate). The timed work over events (the pass that merges one story's
events, the heat refresh) is ``events/jobs.py``."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.counting import Count, capped_count
from yuqing.core.timeutil import utcnow
from yuqing.events import cluster, index
from yuqing.events import heat as heat_index
from yuqing.events.models import Event, EventHour, EventMember, EventSource
from yuqing.events.schemas import ChainNode, EventDetail, EventRow, HotTopic, RisingEvent
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

MIN_RISING = 3  # mentions in the last hour before a phrase or an event can be "rising"
SMOOTHING = 1.0  # added to both rates: a phrase going from 0 to 1 is not infinitely rising
CHAIN_LIMIT = 300  # posts drawn in the chain; the page says when there are more
SPARK_HOURS = 24
DUPLICATE = "duplicate"  # mention status of an exact copy: a member never counted


class EventError(Exception):
    """A hand change that cannot be made; the message names the event or mention."""


def get(session: Session, *, event_id: int) -> Event | None:
    return session.get(Event, event_id)


def reference_time(session: Session, now: datetime | None = None) -> datetime:
    """``now``, or the latest activity when nothing came in lately (an imported archive)."""
    if now is not None:
        return now
    latest = session.execute(select(func.max(Event.last_seen_at))).scalar()
    current = utcnow()
    return min(current, latest) if latest is not None else current


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def list_events(
    session: Session, *, page: int = 1, per_page: int = 20, min_size: int = 1
) -> tuple[list[EventRow], Count]:
    """One page of live events, hottest first, with their sparkline counts, and how many
    there are (capped: ``counting.COUNT_CAP``)."""
    query = select(Event).where(Event.merged_into_id.is_(None), Event.size >= min_size)
    total = capped_count(session, query)
    events = list(
        session.execute(
            query.order_by(Event.heat.desc(), Event.last_seen_at.desc(), Event.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).scalars()
    )
    stories = _stories(session, events)
    sparks = _sparks(session, events)
    return [
        EventRow(e, sparks[e.id], [o for o in stories.get(_lead(e), []) if o.id != e.id])
        for e in events
    ], total


def _lead(event: Event) -> int:
    return event.related_to_id or event.id


def _stories(session: Session, events: Sequence[Event]) -> dict[int, list[Event]]:
    """The live events of the stories of ``events`` (one query), by the story's first event."""
    leads = {_lead(e) for e in events}
    if not leads:
        return {}
    found: dict[int, list[Event]] = defaultdict(list)
    # One set of ids from two index lookups (an OR of the two made SQLite scan every event).
    story = (
        select(Event.id)
        .where(Event.id.in_(leads))
        .union(select(Event.id).where(Event.related_to_id.in_(leads)))
    )
    for other in session.execute(
        select(Event)
        .where(Event.id.in_(story), Event.merged_into_id.is_(None))
        .order_by(Event.first_seen_at, Event.id)
    ).scalars():
        found[_lead(other)].append(other)
    return {lead: others for lead, others in found.items() if len(others) > 1}


def _sparks(session: Session, events: Sequence[Event]) -> dict[int, list[int]]:
    """The sparkline counts (the last ``SPARK_HOURS`` hours of each) of ``events``, by id,
    from one query."""
    if not events:
        return {}
    starts = {e.id: _hour(e.last_seen_at) - timedelta(hours=SPARK_HOURS - 1) for e in events}
    counts: dict[int, dict[datetime, int]] = defaultdict(dict)
    for event_id, hour, count in session.execute(
        select(EventHour.event_id, EventHour.hour, EventHour.count).where(
            EventHour.event_id.in_(list(starts)), EventHour.hour >= min(starts.values())
        )
    ):
        counts[event_id][hour] = count
    return {
        event_id: [counts[event_id].get(start + timedelta(hours=i), 0) for i in range(SPARK_HOURS)]
        for event_id, start in starts.items()
    }


def trend(session: Session, *, event: Event, limit: int = 24 * 14) -> list[tuple[datetime, int]]:
    """Counts per hour from the first to the last hour (missing hours as 0), the last
    ``limit`` hours at most."""
    rows = session.execute(
        select(EventHour.hour, EventHour.count)
        .where(EventHour.event_id == event.id)
        .order_by(EventHour.hour)
    ).all()
    if not rows:
        return []
    counts = dict(rows)
    end = rows[-1][0]
    start = max(rows[0][0], end - timedelta(hours=limit - 1))
    hours = int((end - start).total_seconds() // 3600) + 1
    return [
        (start + timedelta(hours=i), counts.get(start + timedelta(hours=i), 0))
        for i in range(hours)
    ]


def detail(session: Session, *, event: Event) -> EventDetail:
    by_source = session.execute(
        select(Source.name, Source.kind, EventSource.count)
        .join(Source, Source.id == EventSource.source_id)
        .where(EventSource.event_id == event.id)
        .order_by(EventSource.count.desc())
    ).all()
    kinds: Counter[str] = Counter()
    for _, kind, count in by_source:
        kinds[kind] += count
    chain, total = repost_chain(session, event=event)
    return EventDetail(
        event=event,
        representative=session.get(Mention, event.representative_id)
        if event.representative_id
        else None,
        first=session.get(Mention, event.first_mention_id) if event.first_mention_id else None,
        by_kind=kinds.most_common(),
        by_source=[(name, count) for name, _, count in by_source],
        trend=trend(session, event=event),
        chain=chain,
        chain_total=total,
        merged_into=session.get(Event, event.merged_into_id) if event.merged_into_id else None,
    )


def members(
    session: Session, *, event: Event, page: int = 1, per_page: int = 20
) -> tuple[list[tuple[Mention, str]], Count]:
    """One page of an event's mentions (earliest first) with their source names, and how
    many there are (capped); exact copies are left out (the page shows them as 重复 N)."""
    total = capped_count(
        session,
        select(EventMember.mention_id)
        .join(Mention, Mention.id == EventMember.mention_id)
        .where(EventMember.event_id == event.id, Mention.status != DUPLICATE),
    )
    rows = session.execute(
        select(Mention, Source.name)
        .join(EventMember, EventMember.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .where(EventMember.event_id == event.id, Mention.status != DUPLICATE)
        .order_by(EventMember.published_at, Mention.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [(m, name) for m, name in rows], total


def repost_chain(session: Session, *, event: Event) -> tuple[list[ChainNode], int]:
    """Who reposted whom: the event's posts as a forest, each under the post it names as
    parent (else its root) when that post is in the event, earliest first. Accounts appear
    as published on each post; nothing is gathered per person. Exact copies are left out."""
    total = event.size
    rows = session.execute(
        select(Mention, Source.name)
        .join(EventMember, EventMember.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .where(EventMember.event_id == event.id, Mention.status != DUPLICATE)
        .order_by(EventMember.published_at, Mention.id)
        .limit(CHAIN_LIMIT)
    ).all()
    nodes = [ChainNode(mention=m, source_name=name, depth=0) for m, name in rows]
    by_id = {
        (n.mention.source_id, n.mention.external_id): n for n in nodes if n.mention.external_id
    }
    roots: list[ChainNode] = []
    for node in nodes:
        m = node.mention
        up = None
        for key in (m.parent_external_id, m.root_external_id):
            candidate = by_id.get((m.source_id, key)) if key else None
            if candidate is not None and candidate is not node:
                up = candidate
                break
        (up.children if up is not None else roots).append(node)
    _set_depths(roots, 0)
    return roots, total


def _set_depths(nodes: list[ChainNode], depth: int) -> None:
    stack = [(n, depth) for n in nodes]
    while stack:
        node, level = stack.pop()
        node.depth = level
        stack.extend((child, level + 1) for child in node.children)


def flatten(nodes: list[ChainNode]) -> list[ChainNode]:
    """The forest in display order (depth-first), for an indented list."""
    out: list[ChainNode] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


# --- hot topics ---------------------------------------------------------------------------


def window_counts(session: Session, now: datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Per event: mentions in the hour up to ``now`` and in the 24 hours before it."""
    current = _hour(now)
    rows = session.execute(
        select(EventHour.event_id, EventHour.hour, EventHour.count).where(
            EventHour.hour >= current - timedelta(hours=24), EventHour.hour <= current
        )
    ).all()
    last: dict[int, int] = defaultdict(int)
    before: dict[int, int] = defaultdict(int)
    for event_id, hour, count in rows:
        (last if hour == current else before)[event_id] += count
    return last, before


def _ratio(last: int, before: int) -> float:
    return (last + SMOOTHING) / (before / 24 + SMOOTHING)


def rising_events(
    session: Session, now: datetime | None = None, limit: int = 20, min_count: int = MIN_RISING
) -> list[RisingEvent]:
    """Events whose last hour has at least ``min_count`` mentions, by how far it exceeds
    their hourly rate over the day before (smoothed ratio), highest first."""
    at = reference_time(session, now)
    last, before = window_counts(session, at)
    wanted = {e: n for e, n in last.items() if n >= min_count}
    if not wanted:
        return []
    events = {
        e.id: e
        for e in session.execute(
            select(Event).where(Event.id.in_(list(wanted)), Event.merged_into_id.is_(None))
        ).scalars()
    }
    found = [
        RisingEvent(events[e], n, before.get(e, 0) / 24, _ratio(n, before.get(e, 0)))
        for e, n in wanted.items()
        if e in events
    ]
    found.sort(key=lambda r: (-r.ratio, -r.last_hour, r.event.id))
    return found[:limit]


def hot_topics(session: Session, now: datetime | None = None, limit: int = 20) -> list[HotTopic]:
    """Key phrases rising in the last hour against the day before: each event's key terms
    count its mentions; a phrase needs ``MIN_RISING`` mentions in the last hour and is
    ranked by the smoothed ratio of its last hour to its mean hour of the day before."""
    at = reference_time(session, now)
    last, before = window_counts(session, at)
    if not last:
        return []
    active = set(last) | set(before)
    terms = session.execute(
        select(Event.id, Event.terms).where(
            Event.id.in_(list(active)), Event.merged_into_id.is_(None)
        )
    ).all()
    phrase_last: Counter[str] = Counter()
    phrase_before: Counter[str] = Counter()
    holders: dict[str, list[int]] = defaultdict(list)
    for event_id, words in terms:
        for word in dict.fromkeys((words or "").split()[:15]):
            phrase_last[word] += last.get(event_id, 0)
            phrase_before[word] += before.get(event_id, 0)
            if last.get(event_id):
                holders[word].append(event_id)
    found = [
        HotTopic(
            term=word,
            last_hour=n,
            per_hour_before=phrase_before[word] / 24,
            ratio=_ratio(n, phrase_before[word]),
            event_ids=sorted(holders[word], key=lambda e: -last.get(e, 0))[:5],
        )
        for word, n in phrase_last.items()
        if n >= MIN_RISING
    ]
    found.sort(key=lambda t: (-t.ratio, -t.last_hour, t.term))
    return found[:limit]


# --- hand changes ---------------------------------------------------------------------------


def recount(session: Session, *, event: Event, now: datetime | None = None) -> None:
    """Rebuild an event's counters from its members (after a merge or split: rare, so a
    scan is fine here, unlike at ingest)."""
    session.flush()
    rows: Sequence[Any] = session.execute(
        select(
            EventMember.mention_id,
            EventMember.published_at,
            EventMember.sentiment,
            Mention.source_id,
            Mention.parent_external_id,
            Mention.root_external_id,
            Mention.status,
        )
        .join(Mention, Mention.id == EventMember.mention_id)
        .where(EventMember.event_id == event.id)
        .order_by(EventMember.published_at, EventMember.mention_id)
    ).all()
    counted = [r for r in rows if r.status != DUPLICATE]
    if rows and not counted:
        counted = list(rows[:1])  # a copy that started its event is its one item
    event.duplicate_count = len(rows) - len(counted)
    rows = counted
    session.execute(delete(EventSource).where(EventSource.event_id == event.id))
    session.execute(delete(EventHour).where(EventHour.event_id == event.id))
    sentiments = Counter(r.sentiment for r in rows)
    sources = Counter(r.source_id for r in rows)
    hours = Counter(_hour(r.published_at) for r in rows)
    for source_id, count in sources.items():
        session.add(EventSource(event_id=event.id, source_id=source_id, count=count))
    for hour, count in hours.items():
        session.add(EventHour(event_id=event.id, hour=hour, count=count))
    event.size = len(rows)
    event.count_positive = sentiments["positive"]
    event.count_neutral = sentiments["neutral"]
    event.count_negative = sentiments["negative"]
    event.source_count = len(sources)
    if rows:
        event.first_mention_id, event.first_seen_at = rows[0].mention_id, rows[0].published_at
        event.last_seen_at = max(r.published_at for r in rows)
        ids = {r.mention_id for r in rows}
        if event.representative_id not in ids:
            originals = [r for r in rows if not (r.parent_external_id or r.root_external_id)]
            pick = (originals or list(rows))[0]
            _represent(session, event, pick.mention_id, is_reply=not originals)
    at = _hour(now or event.last_seen_at)
    scored = sentiments["positive"] + sentiments["neutral"] + sentiments["negative"]
    event.heat = heat_index.heat(
        size=len(rows),
        last_hour=hours.get(at, 0),
        previous_day=sum(n for h, n in hours.items() if at - timedelta(hours=24) <= h < at),
        sources=len(sources),
        negative=sentiments["negative"],
        scored=scored,
    )
    event.updated_at = utcnow()
    session.flush()


def _represent(session: Session, event: Event, mention_id: int, *, is_reply: bool) -> None:
    mention = session.get(Mention, mention_id)
    event.representative_id = mention_id
    event.representative_is_reply = is_reply
    if mention is not None:
        event.title = " ".join((mention.title or mention.text).split())[:300]


def merge(
    session: Session,
    *,
    target: Event,
    others: Sequence[Event],
    actor: Actor,
    automatic: bool = False,
) -> Event:
    """Move every mention of ``others`` into ``target``; the others are kept, empty, with a
    pointer to it (old links keep working). One audit row, also when the periodic pass
    (``automatic``) merges."""
    others = [e for e in others if e.id != target.id]
    if not others:
        raise EventError("请至少选择一个要并入的其他事件")
    if target.merged_into_id is not None:
        raise EventError(f"事件 {target.id} 已并入其他事件，不能作为合并目标")
    for other in others:
        if other.merged_into_id is not None:
            raise EventError(f"事件 {other.id} 已并入事件 {other.merged_into_id}")
    before = {"size": target.size}
    ids = [e.id for e in others]
    session.execute(
        update(EventMember).where(EventMember.event_id.in_(ids)).values(event_id=target.id)
    )
    session.execute(
        update(Event).where(Event.related_to_id.in_(ids)).values(related_to_id=target.id)
    )
    if target.related_to_id in ids:
        target.related_to_id = None
    target.vector = cluster.combine([target.vector, *(o.vector for o in others)])
    for other in others:
        other.merged_into_id = target.id
        recount(session, event=other)
        other.terms, other.vector, other.related_to_id = "", None, None
    words = dict.fromkeys(" ".join([target.terms, *(o.terms for o in others)]).split())
    target.terms = " ".join(list(words)[: cluster.MAX_EVENT_TERMS])
    recount(session, event=target)
    index.forget(session, ids)
    index.reload(session, [target])
    how = "（定期合并：文本判定为同一报道）" if automatic else ""
    audit.record(
        session,
        actor=actor,
        action="event.merge",
        object_type="event",
        object_id=target.id,
        summary=f"将事件 {', '.join(map(str, ids))} 并入事件 {target.id}{how}",
        changes={"size": [before["size"], target.size], "merged": [None, ids]},
    )
    return target


def split(session: Session, *, event: Event, mention_ids: Sequence[int], actor: Actor) -> Event:
    """Move the chosen mentions of ``event`` into a new event; one audit row."""
    chosen = sorted(set(mention_ids))
    if not chosen:
        raise EventError("请选择要拆分出去的信息")
    present = set(
        session.execute(
            select(EventMember.mention_id).where(
                EventMember.event_id == event.id, EventMember.mention_id.in_(chosen)
            )
        ).scalars()
    )
    missing = [m for m in chosen if m not in present]
    if missing:
        raise EventError(f"信息 {', '.join(map(str, missing[:5]))} 不属于事件 {event.id}")
    if len(present) >= event.size:
        raise EventError(f"不能把事件 {event.id} 的全部信息都拆分出去")
    first = session.get(Mention, chosen[0])
    assert first is not None
    created = Event(
        title="",
        first_seen_at=first.published_at,
        last_seen_at=first.published_at,
        terms="",
    )
    session.add(created)
    session.flush()
    session.execute(
        update(EventMember)
        .where(EventMember.mention_id.in_(chosen))
        .values(event_id=created.id, reason="manual")
    )
    created.representative_id = None
    recount(session, event=created)
    recount(session, event=event)
    audit.record(
        session,
        actor=actor,
        action="event.split",
        object_type="event",
        object_id=event.id,
        summary=f"从事件 {event.id} 拆分出 {len(chosen)} 条信息，成为事件 {created.id}",
        changes={"size": [event.size + len(chosen), event.size], "new_event": [None, created.id]},
    )
    return created


def related(session: Session, *, event: Event) -> list[Event]:
    """相关事件: the other live events of this event's story (the story's first event and
    the events that point at it), earliest first."""
    story = event.related_to_id or event.id
    return list(
        session.execute(
            select(Event)
            .where(
                or_(Event.id == story, Event.related_to_id == story),
                Event.id != event.id,
                Event.merged_into_id.is_(None),
            )
            .order_by(Event.first_seen_at, Event.id)
        ).scalars()
    )


def relate(session: Session, *, event: Event, story: Event, actor: Actor) -> None:
    """Mark ``event`` as 相关事件 of ``story`` (kept apart: each has its own cascade). One
    audit row."""
    lead = story.related_to_id or story.id
    if lead in (event.id, event.related_to_id):
        return  # already one story
    session.execute(update(Event).where(Event.related_to_id == event.id).values(related_to_id=lead))
    event.related_to_id = lead
    audit.record(
        session,
        actor=actor,
        action="event.relate",
        object_type="event",
        object_id=event.id,
        summary=f"事件 {event.id} 与事件 {lead} 为同一报道的相关事件（各有转发链，分开跟踪）",
        changes={"related_to": [None, lead]},
    )


def sentiment_share(event: Event) -> dict[str, float]:
    """Shares (0–1) of positive, neutral, negative and unscored mentions."""
    size = max(event.size, 1)
    unscored = max(
        event.size - event.count_positive - event.count_neutral - event.count_negative, 0
    )
    return {
        "positive": event.count_positive / size,
        "neutral": event.count_neutral / size,
        "negative": event.count_negative / size,
        "unscored": unscored / size,
    }


def sparkline(counts: Sequence[int], width: int = 120, height: int = 24) -> str:
    """Points of an SVG polyline for hourly counts (drawn server-side, no script)."""
    if not counts:
        return ""
    top = max(max(counts), 1)
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (c / top) * (height - 2):.1f}" for i, c in enumerate(counts)
    )


def log_scale(value: int) -> float:
    return math.log10(1 + value)


# --- counts for the alert rules (they run per rule every minute) ---------------------------


def get_event_title(session: Session, *, event_id: int) -> str | None:
    """An event's title, or ``None`` when it is gone (plain SQL: an ORM select costs more
    than the lookup, and a spike rule asks once per event that fired)."""
    from sqlalchemy import text

    return session.execute(
        text("SELECT title FROM event WHERE id = :id"), {"id": event_id}
    ).scalar()


def count_hour_windows(
    session: Session, *, base: datetime, start: datetime, until: datetime
) -> dict[int, tuple[int, int]]:
    """Per event seen since ``start`` (and not merged away), its hourly counts from
    ``start`` to ``until`` and from ``base`` to ``start``: event id → (current, before)."""
    from sqlalchemy import text  # plain SQL, as the rules had it: one indexed scan

    rows = session.execute(
        text(
            "SELECT h.event_id, sum(CASE WHEN h.hour >= :start THEN h.count ELSE 0 END),"
            " sum(h.count) FROM event_hour h JOIN event e ON e.id = h.event_id"
            " WHERE e.last_seen_at >= :start AND e.merged_into_id IS NULL"
            " AND h.hour >= :base AND h.hour <= :now GROUP BY h.event_id"
        ),
        {"start": start, "base": base, "now": until},
    )
    return {int(eid): (int(c or 0), int(t or 0) - int(c or 0)) for eid, c, t in rows}
