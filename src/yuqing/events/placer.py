"""Placing one batch of new mentions in events (see events/stage.py for the order of
evidence), and writing the events' counters.

``Placer(session, source_id).place(items)`` takes the batch's new mentions and exact copies
(``Item``), finds each one's event by the evidence listed in events/stage.py, creates the
new events, and writes members and counters once per touched event and batch: size,
sentiment split, sources, first/last seen, hourly trend, heat. See docs/events.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from yuqing.core.database import where_in
from yuqing.core.timeutil import utcnow
from yuqing.events import heat as heat_index
from yuqing.events.cluster import WINDOW, Batch, Doc, key_terms_many, terms_text
from yuqing.events.index import text_index
from yuqing.events.sql import (
    UNCOUNT,
    UPDATE_EVENT,
    insert_events,
    recent_hours,
    refirst,
    stamp,
    write_many,
)


@dataclass(slots=True, eq=False)
class Item:
    """A new mention to place: a row of the batch or an exact copy."""

    mention_id: int
    external_id: str | None
    root: str | None
    parent: str | None
    near: int | None  # near-duplicate representative, or the original of an exact copy
    published_at: datetime
    sentiment: str | None
    title: str
    text: str
    places: list[str]
    copy: bool = False

    @property
    def is_reply(self) -> bool:
        return bool(self.root or self.parent)


class _Delta:
    """What a batch adds to one event. Only the count of copies and the latest time are
    kept as items arrive; the sentiment split, first item and hours are summed once, when
    the counters are written (``settle``). A plain class with slots and plain dicts: one is
    made per touched event and batch (most hold one item), where a dataclass with Counters
    cost three Counter constructions more."""

    __slots__ = (
        "counted",
        "duplicates",
        "first",
        "hours",
        "items",
        "last",
        "negative",
        "neutral",
        "positive",
        "representative",
    )

    def __init__(self) -> None:
        self.last: datetime | None = None
        self.representative: Item | None = None
        self.duplicates = 0  # exact copies: members, never counted
        self.items: list[tuple[Item, bool]] = []
        self.counted: list[Item] = []
        self.positive = self.neutral = self.negative = 0
        self.first: tuple[datetime, int] | None = None
        self.hours: dict[datetime, int] = {}

    def add(self, item: Item, *, duplicate: bool = False) -> None:
        self.items.append((item, duplicate))
        if duplicate:
            self.duplicates += 1
            return
        self.counted.append(item)
        if self.last is None or item.published_at > self.last:
            self.last = item.published_at

    @property
    def size(self) -> int:
        return len(self.counted)

    def settle(self) -> None:
        """Sum the sentiment split, the first item and the hours of the counted items."""
        counted = self.counted
        if not counted:
            return
        if len(counted) == 1:  # most events of a batch: one new item
            item = counted[0]
            self.first = (item.published_at, item.mention_id)
            self.hours = {_hour(item.published_at): 1}
            feeling = item.sentiment
            if feeling == "negative":
                self.negative = 1
            elif feeling == "positive":
                self.positive = 1
            elif feeling == "neutral":
                self.neutral = 1
            return
        feelings = [i.sentiment for i in counted]
        self.positive = feelings.count("positive")
        self.neutral = feelings.count("neutral")
        self.negative = feelings.count("negative")
        self.first = min([(i.published_at, i.mention_id) for i in counted])
        self.hours = dict(Counter([_hour(i.published_at) for i in counted]))

    def without(self, item: Item) -> _Delta:
        """This delta without one of its items (a post leaving for its own cascade: rare)."""
        rest = _Delta()
        for other, duplicate in self.items:
            if other is not item:
                rest.add(other, duplicate=duplicate)
        if self.representative is not item:
            rest.representative = self.representative
        return rest


def _headline(title: str, text: str) -> str:
    """The title when it is one (a headline weighs more); ingest gives a post without one
    the start of its text, which must not count twice. The title's word characters are
    only joined up (a regular expression's substitution) when the text starts with the
    same one: most do not."""
    if not title:
        return ""
    first = _WORD_CHAR.search(title)
    if first is None:
        return ""
    found = _WORD_CHAR.search(text, 0, len(title) + 20)
    if found is None or found.group() != first.group():  # most: the text starts otherwise
        # a title of one word character is none (what it would be compared by is empty)
        return title if _WORD_CHAR.search(title, first.end()) else ""
    head = _NON_WORD.sub("", title)[:-1]
    return "" if _NON_WORD.sub("", text[: len(title) + 20]).startswith(head) else title


_NON_WORD = re.compile(r"\W+")
_WORD_CHAR = re.compile(r"\w")


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class Placer:
    """Places one batch of new mentions of one source in events and writes the counters."""

    def __init__(self, session: Session, source_id: int) -> None:
        self.session = session
        self.source_id = source_id
        self.index = text_index(session)
        self.by_external: dict[str, int] = {}
        self.by_root: dict[str, int] = {}
        self.by_mention: dict[int, int] = {}
        self.last_seen: dict[int, datetime] = {}  # stored, of the events near-duplicates name
        self.deltas: dict[int, _Delta] = {}
        self.members: list[list[Any]] = []
        self.new_events: dict[int, Item] = {}  # temporary (negative) id → seed
        self.batch: Batch | None = None
        self.rows: dict[int, int] = {}  # mention id → row of the text batch
        self.related: dict[int, int] = {}  # new (temporary) event → the story it left
        self.changed: set[int] = set()  # events whose text profile changed
        # Original posts that joined another post's event (text, near-duplicate, copy), by
        # external id: their first own repost makes them the root of their own event.
        self.guests: dict[str, Item] = {}
        self.guest_rows: dict[int, int] = {}  # mention id → index in members (this batch)
        self.moved: list[tuple[Item, int, int]] = []  # stored guest, old event, new (temp)

    def place(self, items: list[Item]) -> None:
        self._look_up(items)
        self._vectorise(items)
        by_external, guests = self.by_external, self.guests
        for item in items:
            root = item.root
            if root and root in by_external and root not in guests:
                self._join_chain(item, by_external[root])  # most items: a repost of a known root
            else:
                event_id, reason = self._choose(item)
                self._join(item, event_id, reason)
        for event_id, delta in self.deltas.items():  # once per event, not per item
            if delta.last is not None:
                self.index.touch(event_id, delta.last)
                delta.settle()
        self.changed = self.batch.commit() if self.batch is not None else set()
        ids = self._insert_events()
        to_driver = stamp(self.session)
        write_many(
            self.session,
            "INSERT INTO event_member (mention_id, event_id, published_at, reason, sentiment) "
            "VALUES (?, ?, ?, ?, ?)",
            [(m, ids.get(e, e), to_driver(at), why, feel) for m, e, at, why, feel in self.members],
            converted=True,
        )
        self._write_counts(ids)
        if self.moved:
            self._move_stored(ids)
        if self.related:
            self._relate(ids)
        self.index.prune(self._reference_time())

    # -- evidence ------------------------------------------------------------------------

    def _vectorise(self, items: list[Item]) -> None:
        """The text vectors of the batch's original posts, and their similarities to the
        recent events and to each other (cluster.Batch), in one go."""
        texts = [i for i in items if not i.is_reply and not i.copy and (i.text or i.title)]
        if not texts:
            return
        self.rows = {item.mention_id: row for row, item in enumerate(texts)}
        self.batch = self.index.batch(
            [Doc(_headline(i.title, i.text), i.text, i.places) for i in texts],
            [i.published_at for i in texts],
        )

    def _look_up(self, items: list[Item]) -> None:
        """Stored events of the ids this batch names (three indexed queries per batch)."""
        joined = (
            "FROM mention m JOIN event_member em ON em.mention_id = m.id "
            f"WHERE m.source_id = {int(self.source_id)} AND "
        )
        links = {k for i in items for k in (i.root, i.parent) if k}
        query = (
            "SELECT m.external_id, em.event_id, em.reason, m.id, em.published_at, "
            "em.sentiment, m.title, m.root_external_id IS NULL AND m.parent_external_id IS NULL "
            + joined
            + "m.external_id"
        )
        for ext, event_id, reason, mid, published, sentiment, title, original in where_in(
            self.session, query, links, ints=False
        ):
            self.by_external[ext] = event_id
            if original and reason in _GUEST_REASONS:
                if isinstance(published, str):
                    published = datetime.fromisoformat(published)
                guest = Item(
                    mid,
                    ext,
                    None,
                    None,
                    None,
                    published,
                    sentiment,
                    title,
                    "",
                    [],
                    reason == "copy",
                )
                self.guests[ext] = guest
        waiting = {i.root for i in items if i.root and i.root not in self.by_external}
        waiting |= {i.external_id for i in items if i.external_id and not i.copy}
        query = "SELECT m.root_external_id, MIN(em.event_id) " + joined + "m.root_external_id"
        tail = "GROUP BY m.root_external_id"
        self.by_root.update(where_in(self.session, query, waiting, ints=False, tail=tail))
        nears = {i.near for i in items if i.near}
        query = (
            "SELECT em.mention_id, em.event_id, e.last_seen_at FROM event_member em "
            "JOIN event e ON e.id = em.event_id WHERE em.mention_id"
        )
        for mention_id, event_id, last_seen in where_in(self.session, query, nears, ints=True):
            if isinstance(last_seen, str):
                last_seen = datetime.fromisoformat(last_seen)
            self.by_mention[mention_id] = event_id
            self.last_seen[event_id] = last_seen

    def _choose(self, item: Item) -> tuple[int | None, str]:
        for key in (item.root, item.parent):
            if key and key in self.by_external:
                guest = self.guests.pop(key, None)
                if guest is not None:
                    return self._detach(guest, self.by_external[key]), "root"
                return self.by_external[key], "root"
        if item.root and item.root in self.by_root:
            return self.by_root[item.root], "root"  # a sibling: the root is not stored
        if item.is_reply:
            # The link is the evidence: a reply whose chain is not (yet) here starts the
            # chain's event, which its siblings and root then join; text never places it.
            return None, "seed"
        if item.external_id and item.external_id in self.by_root:
            return self.by_root[item.external_id], "root"  # its reposts came first
        if item.near and item.near in self.by_mention:
            event_id = self.by_mention[item.near]
            seen = self.last_seen.get(event_id)
            delta = self.deltas.get(event_id)
            if delta is not None and delta.last and (seen is None or delta.last > seen):
                seen = delta.last
            # A text that resurfaces after the window is a new incident, not the old story.
            if seen is None or item.published_at - seen <= WINDOW:
                return event_id, "copy" if item.copy else "near"
        row = self.rows.get(item.mention_id)
        if row is None or self.batch is None:
            return None, "seed"
        match = self.batch.best(row)
        if match is not None:
            return match.event_id, "text"
        return None, "seed"

    def _detach(self, guest: Item, old: int) -> int:
        """Move an original post that joined another post's event into an event of its own,
        now that it has reposts of its own (a cascade is one event: see docs/events.md)."""
        temp = -(len(self.new_events) + 1)
        self.new_events[temp] = guest
        self.related[temp] = old
        self.deltas[temp] = _Delta()
        self.deltas[temp].add(guest)
        row = self.guest_rows.pop(guest.mention_id, None)
        if row is not None:  # placed by this batch: still in memory
            self.members[row][1] = temp
            self.members[row][3] = "seed"
            rest = self.deltas[old].without(guest)
            if rest.size:
                self.deltas[old] = rest
            else:
                del self.deltas[old]
        else:
            self.moved.append((guest, old, temp))
        row = self.rows.get(guest.mention_id)
        if row is not None and self.batch is not None:
            self.batch.move(row, temp)
        if guest.external_id:
            self.by_external[guest.external_id] = temp
            self.by_root[guest.external_id] = temp
        self.by_mention[guest.mention_id] = temp
        return temp

    def _join(self, item: Item, event_id: int | None, reason: str) -> None:
        if event_id is None:
            event_id = -(len(self.new_events) + 1)
            self.new_events[event_id] = item
        delta = self.deltas.get(event_id)
        if delta is None:
            delta = self.deltas[event_id] = _Delta()
        delta.add(item, duplicate=item.copy and reason != "seed")
        if event_id > 0 and not item.is_reply and not item.copy and reason != "text":
            delta.representative = delta.representative or item
        row = self.rows.get(item.mention_id)
        if row is not None and self.batch is not None and reason in ("seed", "text"):
            self.batch.join(row, event_id)
        if item.external_id:
            self.by_external.setdefault(item.external_id, event_id)
            if reason in _GUEST_REASONS and not item.is_reply:
                self.guests[item.external_id] = item
                self.guest_rows[item.mention_id] = len(self.members)
        if item.root:
            self.by_root.setdefault(item.root, event_id)
        self.by_mention[item.mention_id] = event_id
        self.members.append([item.mention_id, event_id, item.published_at, reason, item.sentiment])

    def _join_chain(self, item: Item, event_id: int) -> None:
        """``_join`` for a reply whose root is placed (no new event, no terms, no guest)."""
        delta = self.deltas.get(event_id)
        if delta is None:
            delta = self.deltas[event_id] = _Delta()
        delta.add(item, duplicate=item.copy)
        if item.external_id:
            self.by_external.setdefault(item.external_id, event_id)
        self.by_mention[item.mention_id] = event_id
        self.members.append([item.mention_id, event_id, item.published_at, "root", item.sentiment])

    def _move_stored(self, ids: dict[int, int]) -> None:
        """Take stored guests out of their old events (their new ones already count them):
        the member row moves, the old event's counters go down by one each."""
        every = [(guest, old, ids[temp]) for guest, old, temp in self.moved]
        write_many(
            self.session,
            "UPDATE event_member SET event_id = ?, reason = 'seed' WHERE mention_id = ?",
            [(new, guest.mention_id) for guest, _, new in every],
        )
        write_many(  # an exact copy was never counted in its old event, only as 重复
            self.session,
            "UPDATE event SET duplicate_count = duplicate_count - 1 WHERE id = ?",
            [(old,) for guest, old, _ in every if guest.copy],
        )
        moves = [m for m in every if not m[0].copy]
        write_many(
            self.session,
            "UPDATE event_hour SET count = count - 1 WHERE event_id = ? AND hour = ?",
            [(old, _hour(guest.published_at)) for guest, old, _ in moves],
        )
        write_many(
            self.session,
            "UPDATE event_source SET count = count - 1 WHERE event_id = ? AND source_id = ?",
            [(old, self.source_id) for _, old, _ in moves],
        )
        olds = [(old,) for old in sorted({old for _, old, _ in moves})]
        for table in ("event_hour", "event_source"):
            write_many(self.session, f"DELETE FROM {table} WHERE event_id = ? AND count <= 0", olds)
        write_many(self.session, UNCOUNT, [(g.sentiment,) * 3 + (old,) for g, old, _ in moves])
        refirst(self.session, [old for (old,) in olds], {g.mention_id for g, _, _ in moves})

    # -- writing ---------------------------------------------------------------------------

    def _relate(self, ids: dict[int, int]) -> None:
        """相关事件: a post that left a story's event for its own cascade points at the story
        (the story's own first event when the event it left is itself related)."""
        rows = []
        for temp, old in self.related.items():
            story = ids.get(old, old)
            rows.append((story, story, ids[temp]))
        write_many(
            self.session,
            "UPDATE event SET related_to_id = COALESCE("
            "(SELECT s.related_to_id FROM event s WHERE s.id = ?), ?) WHERE id = ?",
            rows,
        )

    def _reference_time(self) -> datetime:
        latest = max((d.last for d in self.deltas.values() if d.last), default=utcnow())
        return min(latest, utcnow())

    def _insert_events(self) -> dict[int, int]:
        """Insert the new events with their counters; temporary id → real id."""
        if not self.new_events:
            return {}
        at = self._reference_time()
        # values in the driver's form (times as SQLite's text, a boolean as an integer there):
        # insert_returning_ids then converts nothing
        to_driver = stamp(self.session)
        sqlite = self.session.get_bind().dialect.name == "sqlite"
        now = to_driver(utcnow())
        rows: list[tuple[Any, ...]] = []
        seeds = list(self.new_events.values())
        terms = key_terms_many(
            [terms_text(s.title, s.text) for s in seeds], [s.places for s in seeds]
        )
        for (temp, seed), words in zip(self.new_events.items(), terms, strict=True):
            delta = self.deltas[temp]
            assert delta.first is not None and delta.last is not None
            size = len(delta.counted)
            counts = (delta.positive, delta.neutral, delta.negative)
            rows.append(  # in the order of sql.EVENT_COLUMNS
                (
                    _title(seed),  # title
                    seed.mention_id,  # representative_id
                    int(seed.is_reply) if sqlite else seed.is_reply,  # representative_is_reply
                    delta.first[1],  # first_mention_id
                    to_driver(delta.first[0]),  # first_seen_at
                    to_driver(delta.last),  # last_seen_at
                    size,
                    *counts,  # count_positive, count_neutral, count_negative
                    1,  # source_count
                    _heat(size, counts, 1, delta.hours, at),
                    " ".join(words),  # terms
                    delta.duplicates,  # duplicate_count
                    self._vector(temp),
                    now,  # created_at
                    now,  # updated_at
                )
            )
        real = insert_events(self.session, rows, converted=True)
        ids = dict(zip(self.new_events, real, strict=True))
        self.index.max_event_id = max(self.index.max_event_id, *real)
        for temp, event_id in ids.items():
            self.index.rename(temp, event_id)
            self.deltas[event_id] = self.deltas.pop(temp)
        return ids

    def _vector(self, event_id: int) -> bytes | None:
        profile = self.index.profiles.get(event_id)
        return profile.to_bytes() if profile is not None else None

    def _write_counts(self, new_ids: dict[int, int]) -> None:
        """Per-source and hourly counts (upserts), then one UPDATE per existing event."""
        fresh = set(new_ids.values())
        existing = [e for e in self.deltas if e not in fresh]
        had_source = {
            e
            for (e,) in where_in(
                self.session,
                f"SELECT event_id FROM event_source WHERE source_id = {int(self.source_id)} "
                "AND event_id",
                existing,
                ints=True,
            )
        }
        write_many(
            self.session,
            "INSERT INTO event_source (event_id, source_id, count) VALUES (?, ?, ?) "
            "ON CONFLICT (event_id, source_id) DO UPDATE "
            "SET count = event_source.count + excluded.count",
            [(e, self.source_id, d.size) for e, d in self.deltas.items() if d.size],
        )
        write_many(
            self.session,
            "INSERT INTO event_hour (event_id, hour, count) VALUES (?, ?, ?) "
            "ON CONFLICT (event_id, hour) DO UPDATE "
            "SET count = event_hour.count + excluded.count",
            [(e, hour, n) for e, d in self.deltas.items() for hour, n in d.hours.items()],
        )
        if existing:
            self._update_events(existing, had_source)

    def _update_events(self, existing: list[int], had_source: set[int]) -> None:
        at = self._reference_time()
        current = {
            row[0]: row
            for row in where_in(
                self.session,
                "SELECT id, size, count_positive, count_neutral, count_negative, source_count, "
                "representative_is_reply FROM event WHERE id",
                existing,
                ints=True,
            )
        }
        recent = recent_hours(self.session, existing, at)
        updates = []
        copies_only = []
        now = utcnow()
        for event_id in existing:
            delta, row = self.deltas[event_id], current.get(event_id)
            if row is None:
                continue
            if delta.first is None:
                copies_only.append((delta.duplicates, event_id))
                continue
            sources = row[5] + (0 if event_id in had_source else 1)
            counts = (
                row[2] + delta.positive,
                row[3] + delta.neutral,
                row[4] + delta.negative,
            )
            rep = delta.representative if row[6] else None
            first_at, first_id = delta.first
            vector = self._vector(event_id) if event_id in self.changed else None
            size = row[1] + delta.size
            updates.append(
                (
                    delta.size,
                    delta.positive,
                    delta.neutral,
                    delta.negative,
                    sources,
                    _heat(size, counts, sources, recent[event_id], at),
                    now,
                    first_at,
                    first_id,
                    first_at,
                    first_at,
                    delta.last,
                    delta.last,
                    rep.mention_id if rep else None,
                    rep is not None,
                    _title(rep) if rep else None,
                    delta.duplicates,
                    vector,
                    event_id,
                )
            )
        write_many(self.session, UPDATE_EVENT, updates)
        write_many(
            self.session,
            "UPDATE event SET duplicate_count = duplicate_count + ? WHERE id = ?",
            copies_only,
        )


_GUEST_REASONS = ("text", "near", "copy")


def _title(item: Item) -> str:
    title = " ".join((item.title or item.text).split())
    return title[:300]


def _heat(
    size: int,
    sentiments: tuple[int, int, int],
    sources: int,
    hours: Mapping[datetime, int],
    at: datetime,
) -> float:
    """``sentiments``: the event's (positive, neutral, negative) counts."""
    current = _hour(at)
    last = hours.get(current, 0)
    previous = sum(n for hour, n in hours.items() if hour < current)
    positive, neutral, negative = sentiments
    return _heat_of(size, last, previous, sources, negative, positive + neutral + negative)


@lru_cache(maxsize=4096)
def _heat_of(
    size: int, last: int, previous: int, sources: int, negative: int, scored: int
) -> float:
    """The heat of these counts: most events of a batch have the same few (one new item)."""
    return heat_index.heat(
        size=size,
        last_hour=last,
        previous_day=previous,
        sources=sources,
        negative=negative,
        scored=scored,
    )
