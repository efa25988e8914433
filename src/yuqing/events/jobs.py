"""Timed work over events, run every minute by the runner: the pass that merges events of
one story (audited like a hand merge) and the heat refresh, which cools quiet events."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core.audit import SYSTEM, Actor
from yuqing.events import cluster, service
from yuqing.events import heat as heat_index
from yuqing.events.models import Event, EventMember

MERGE_ROUNDS = 5  # rounds of the periodic pass (each merges disjoint pairs)


def merge_stories(
    session: Session, *, now: datetime | None = None, actor: Actor = SYSTEM
) -> tuple[int, int]:
    """The periodic pass: events active within the window whose members are, on average,
    as alike as one story's (cluster.similar_pairs) are merged, the later into the earlier,
    audited like a hand merge; two events that each carry their own repost cascade stay
    apart and become 相关事件 instead; events a person split are left to people. Returns
    (merged, related)."""
    at = service.reference_time(session, now)
    merged = linked = 0
    for _ in range(MERGE_ROUNDS):
        events = {
            e.id: e
            for e in session.execute(
                select(Event).where(
                    Event.merged_into_id.is_(None),
                    Event.vector.is_not(None),
                    Event.last_seen_at >= at - cluster.WINDOW,
                )
            ).scalars()
        }
        profiles = {
            i: cluster.Profile.from_bytes(e.vector, e.last_seen_at)
            for i, e in events.items()
            if e.vector
        }
        pairs = cluster.similar_pairs(profiles)
        named = {i for _, a, b in pairs for i in (a, b)}
        cascades = _with_reason(session, named, "root")
        used = _with_reason(session, named, "manual")  # a person split them: theirs to join
        changed = 0
        for _, a, b in pairs:
            first, second = sorted((events[a], events[b]), key=lambda e: (e.first_seen_at, e.id))
            if a in used or b in used or _same_story(first, second):
                continue
            used |= {a, b}
            changed += 1
            if first.id in cascades and second.id in cascades:
                service.relate(session, event=second, story=first, actor=actor)
                linked += 1
            else:
                target, other = (second, first) if second.id in cascades else (first, second)
                service.merge(session, target=target, others=[other], actor=actor, automatic=True)
                merged += 1
        if not changed:
            break
    session.flush()
    return merged, linked


def _same_story(first: Event, second: Event) -> bool:
    lead = first.related_to_id or first.id
    return (second.related_to_id or second.id) == lead


def _with_reason(session: Session, event_ids: set[int], reason: str) -> set[int]:
    """Events with members placed for ``reason``: ``root``, a repost cascade of their own;
    ``manual``, a person split or moved them."""
    if not event_ids:
        return set()
    return set(
        session.execute(
            select(EventMember.event_id)
            .where(EventMember.event_id.in_(event_ids), EventMember.reason == reason)
            .distinct()
        ).scalars()
    )


def refresh_heat(session: Session, *, now: datetime | None = None, days: int = 3) -> int:
    """Recompute the heat of events active in the last ``days`` (growth decays when an
    event goes quiet; a scheduler may call this every few minutes). Returns how many."""
    at = service.reference_time(session, now)
    last, before = service.window_counts(session, at)
    events = session.execute(
        select(Event).where(
            Event.merged_into_id.is_(None), Event.last_seen_at >= at - timedelta(days=days)
        )
    ).scalars()
    count = 0
    for event in events:
        scored = event.count_positive + event.count_neutral + event.count_negative
        event.heat = heat_index.heat(
            size=event.size,
            last_hour=last.get(event.id, 0),
            previous_day=before.get(event.id, 0),
            sources=event.source_count,
            negative=event.count_negative,
            scored=scored,
        )
        count += 1
    session.flush()
    return count
