"""The ingest stage of events: put each new mention (and exact copy) into an event.

``stage(session, source, rows)`` follows the contract of the pipeline's analysis stages: it
runs before the bulk insert and returns ``finish(mention_ids)``, run after it in the same
transaction. All the work is in ``finish``, since events link to mention ids in their own
table (``event_member``). Order of evidence, strongest first:

1. repost chain: a mention whose ``root_external_id`` or ``parent_external_id`` names a
   mention of the same source joins that mention's event (ids are matched within one
   source: platform ids are unique on their platform, and one source is one platform; ids of
   two different sites may collide). Reposts of a root not collected (yet) join the event of
   their siblings, and a root that arrives after its reposts joins theirs;
2. near-duplicate group: a mention with ``near_group_id`` joins its representative's event;
3. exact copy (stored by ingest without analysis): its root link, else its original's event;
4. its text (title, lead, places) within 72 hours: average similarity to an event's text
   members and shared rare bigrams (see events/cluster.py);
5. otherwise it starts a new event.

Exact copies are members of their event but never counted in it (``duplicate_count``: the
page shows 重复 N). A post that leaves a story's event for its own cascade keeps a 相关事件
link (``related_to_id``) to the story.

Counters (size, sentiment split, sources, first/last seen, hourly trend, heat) are written
once per touched event and batch. See docs/events.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, event, insert, text
from sqlalchemy.orm import Session

from yuqing.core.timeutil import utcnow
from yuqing.events import heat as heat_index
from yuqing.events.cluster import WINDOW, Batch, Doc, TextIndex, key_terms_many, terms_text
from yuqing.events.models import Event
from yuqing.mentions import neardup

Finish = Callable[[list[int]], None]
_TOUCHED = "yuqing.events.index_touched"


# --- the in-memory term index, one per database ------------------------------------------


_INDEXES: dict[int, TextIndex] = {}
_STALE: set[int] = set()


def _key(session: Session) -> int:
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    return id(engine)


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    """Events added by a transaction that rolled back must not stay in memory."""
    touched = session.info.pop(_TOUCHED, None)
    if touched is not None:
        _STALE.add(touched)


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def text_index(session: Session) -> TextIndex:
    """The text index of this database, brought up to date with the event table: rebuilt
    after a rollback or when the table was emptied, topped up with events other processes
    created."""
    key = _key(session)
    index = _INDEXES.get(key)
    top = session.execute(text("SELECT MAX(id) FROM event")).scalar() or 0
    if index is None or key in _STALE or top < index.max_event_id:
        _STALE.discard(key)
        index = _INDEXES[key] = _load(session, after=0)
    elif top > index.max_event_id:
        _load(session, after=index.max_event_id, into=index)
    session.info[_TOUCHED] = key
    return index


def forget(session: Session, event_ids: Iterable[int]) -> None:
    """Drop events (merged away) from this database's index."""
    index = _INDEXES.get(_key(session))
    if index is not None:
        for event_id in event_ids:
            index.forget(event_id)


def reload(session: Session, events: Iterable[Event]) -> None:
    """Take changed profiles (a merge) into this database's index."""
    index = _INDEXES.get(_key(session))
    if index is None:
        return
    for item in events:
        index.forget(item.id)
        if item.vector and item.merged_into_id is None:
            index.load(item.id, item.vector, item.last_seen_at)


def _load(session: Session, *, after: int, into: TextIndex | None = None) -> TextIndex:
    index = into or TextIndex()
    latest = session.execute(text("SELECT MAX(last_seen_at) FROM event")).scalar()
    if latest is None:
        return index
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    query = text(
        "SELECT id, vector, last_seen_at FROM event WHERE id > :after AND "
        "merged_into_id IS NULL AND last_seen_at >= :since ORDER BY id"
    ).bindparams(bindparam("since", type_=DateTime))
    for event_id, vector, last_seen in session.execute(
        query, {"after": after, "since": latest - WINDOW}
    ):
        if isinstance(last_seen, str):
            last_seen = datetime.fromisoformat(last_seen)
        if vector:
            index.load(event_id, bytes(vector), last_seen)
        index.max_event_id = max(index.max_event_id, event_id)
    return index


# --- the stage ----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Item:
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


@dataclass
class _Delta:
    """What a batch adds to one event. Only the count of copies and the latest time are
    kept as items arrive; the sentiment split, first item and hours are summed once, when
    the counters are written (``settle``)."""

    last: datetime | None = None
    representative: _Item | None = None
    duplicates: int = 0  # exact copies: members, never counted
    items: list[tuple[_Item, bool]] = field(default_factory=list)
    counted: list[_Item] = field(default_factory=list)
    sentiments: Counter[str] = field(default_factory=Counter)
    first: tuple[datetime, int] | None = None
    hours: Counter[datetime] = field(default_factory=Counter)

    def add(self, item: _Item, *, duplicate: bool = False) -> None:
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
        self.sentiments = Counter([i.sentiment or "" for i in counted])
        self.first = min([(i.published_at, i.mention_id) for i in counted])
        self.hours = Counter([_hour(i.published_at) for i in counted])

    def without(self, item: _Item) -> _Delta:
        """This delta without one of its items (a post leaving for its own cascade: rare)."""
        rest = _Delta()
        for other, duplicate in self.items:
            if other is not item:
                rest.add(other, duplicate=duplicate)
        if self.representative is not item:
            rest.representative = self.representative
        return rest


def stage(session: Session, source: Any, rows: list[dict[str, Any]]) -> Finish:
    """Place the batch's new mentions in events once they have ids (see the module doc).

    Called even for a batch without rows to analyse: its exact copies still need events.
    """
    high_water = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM mention")).scalar_one()

    def finish(mention_ids: list[int]) -> None:
        items = _items(rows, mention_ids, high_water) + _copies(session, source.id, high_water)
        if items:
            Placer(session, source.id).place(items)

    return finish


_LOCAL = ("县", "区", "旗", "镇", "乡", "村", "街道")


def _places(regions: str | None) -> list[str]:
    """The local place names of the places stage (county and finer): a province or city is
    shared by unrelated stories of one region, so only a county, district or town is
    evidence of one story."""
    if not regions:
        return []
    return [name for name in regions.replace(";", " ").split() if name.endswith(_LOCAL)]


def _items(rows: list[dict[str, Any]], mention_ids: list[int], high_water: int) -> list[_Item]:
    # Ids at or below the high-water mark are updates of stored mentions: they keep their event.
    items = []
    for row, mid in zip(rows, mention_ids, strict=True):
        if mid <= high_water:
            continue
        root, parent = row.get("root_external_id"), row.get("parent_external_id")
        if root or parent:  # placed by its link alone: its text is not needed (title may be)
            item = _Item(
                mid,
                row.get("external_id"),
                root,
                parent,
                None,
                row["published_at"],
                row.get("sentiment"),
                row.get("title") or "",
                "",
                [],
            )
        else:
            item = _Item(
                mid,
                row.get("external_id"),
                None,
                None,
                row.get("near_group_id"),
                row["published_at"],
                row.get("sentiment"),
                row.get("title") or "",
                row.get("text") or "",
                _places(row.get("regions")),
            )
        items.append(item)
    return items


def _copies(session: Session, source_id: int, high_water: int) -> list[_Item]:
    """Exact copies this ingest stored (ingest passes only originals to the stages): rows of
    this source above the high-water mark that have no event yet."""
    # "status || ''": SQLite would otherwise read every duplicate ever stored through the
    # status index instead of this batch's id range (a cost growing with the table).
    query = text(
        "SELECT c.id, c.external_id, c.root_external_id, c.parent_external_id, "
        "c.duplicate_of_id, c.published_at, o.sentiment, c.title, "
        "CASE WHEN c.root_external_id IS NULL AND c.parent_external_id IS NULL "
        "THEN c.search_text END "
        "FROM mention c JOIN mention o ON o.id = c.duplicate_of_id "
        "WHERE c.id > :hw AND c.source_id = :sid AND c.status || '' = 'duplicate' "
        "AND NOT EXISTS (SELECT 1 FROM event_member em WHERE em.mention_id = c.id) "
        "ORDER BY c.id"
    )
    items = []
    for mid, ext, root, parent, original, published, sentiment, title, form in session.execute(
        query, {"hw": high_water, "sid": source_id}
    ):
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        if root or parent:
            original = None  # placed by its link alone
        elif len(neardup.clean(form or "")) < neardup.MIN_CHARS:
            original = None  # "转发微博" copies one text across stories: no evidence
        items.append(
            _Item(mid, ext, root, parent, original, published, sentiment, title or "", "", [], True)
        )
    return items


def _headline(title: str, text: str) -> str:
    """The title when it is one (a headline weighs more); ingest gives a post without one
    the start of its text, which must not count twice."""
    if not title:
        return ""
    head, start = _NON_WORD.sub("", title), _NON_WORD.sub("", text[: len(title) + 20])
    return "" if start.startswith(head[:-1]) else title


_NON_WORD = re.compile(r"\W+")


def where_in(
    session: Session, query: str, values: Iterable[Any], *, ints: bool, tail: str = ""
) -> list[Any]:
    """Rows of ``query`` (ending in a column) for many values in one parameter, then
    ``tail`` (a GROUP BY)."""
    values = list(values)
    if not values:
        return []
    if session.get_bind().dialect.name == "sqlite":
        statement = text(f"{query} IN (SELECT value FROM json_each(:v)) {tail}")
        return list(session.execute(statement, {"v": json.dumps(values)}))
    kind = "BIGINT[]" if ints else "TEXT[]"
    statement = text(f"{query} = ANY(CAST(:v AS {kind})) {tail}")
    return list(session.execute(statement, {"v": values}))


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
        self.new_events: dict[int, _Item] = {}  # temporary (negative) id → seed
        self.batch: Batch | None = None
        self.rows: dict[int, int] = {}  # mention id → row of the text batch
        self.related: dict[int, int] = {}  # new (temporary) event → the story it left
        self.changed: set[int] = set()  # events whose text profile changed
        # Original posts that joined another post's event (text, near-duplicate, copy), by
        # external id: their first own repost makes them the root of their own event.
        self.guests: dict[str, _Item] = {}
        self.guest_rows: dict[int, int] = {}  # mention id → index in members (this batch)
        self.moved: list[tuple[_Item, int, int]] = []  # stored guest, old event, new (temp)

    def place(self, items: list[_Item]) -> None:
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
        stamp = _stamp(self.session)
        write_many(
            self.session,
            "INSERT INTO event_member (mention_id, event_id, published_at, reason, sentiment) "
            "VALUES (?, ?, ?, ?, ?)",
            [(m, ids.get(e, e), stamp(at), why, feel) for m, e, at, why, feel in self.members],
            converted=True,
        )
        self._write_counts(ids)
        if self.moved:
            self._move_stored(ids)
        if self.related:
            self._relate(ids)
        self.index.prune(self._reference_time())

    # -- evidence ------------------------------------------------------------------------

    def _vectorise(self, items: list[_Item]) -> None:
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

    def _look_up(self, items: list[_Item]) -> None:
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
                guest = _Item(
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

    def _choose(self, item: _Item) -> tuple[int | None, str]:
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

    def _detach(self, guest: _Item, old: int) -> int:
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

    def _join(self, item: _Item, event_id: int | None, reason: str) -> None:
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

    def _join_chain(self, item: _Item, event_id: int) -> None:
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
        write_many(self.session, _UNCOUNT, [(g.sentiment,) * 3 + (old,) for g, old, _ in moves])
        _refirst(self.session, [old for (old,) in olds], {g.mention_id for g, _, _ in moves})

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
        now = utcnow()
        at = self._reference_time()
        rows = []
        seeds = list(self.new_events.values())
        terms = key_terms_many(
            [terms_text(s.title, s.text) for s in seeds], [s.places for s in seeds]
        )
        for (temp, seed), words in zip(self.new_events.items(), terms, strict=True):
            delta = self.deltas[temp]
            assert delta.first is not None and delta.last is not None
            rows.append(
                {
                    "title": _title(seed),
                    "representative_id": seed.mention_id,
                    "representative_is_reply": seed.is_reply,
                    "first_mention_id": delta.first[1],
                    "first_seen_at": delta.first[0],
                    "last_seen_at": delta.last,
                    "size": delta.size,
                    "count_positive": delta.sentiments["positive"],
                    "count_neutral": delta.sentiments["neutral"],
                    "count_negative": delta.sentiments["negative"],
                    "source_count": 1,
                    "heat": _heat(delta.size, delta.sentiments, 1, delta.hours, at),
                    "terms": " ".join(words),
                    "duplicate_count": delta.duplicates,
                    "vector": self._vector(temp),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        real = insert_events(self.session, rows)
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
        recent = _recent_hours(self.session, existing, at)
        updates = []
        copies_only = []
        for event_id in existing:
            delta, row = self.deltas[event_id], current.get(event_id)
            if row is None:
                continue
            if delta.first is None:
                copies_only.append((delta.duplicates, event_id))
                continue
            sources = row[5] + (0 if event_id in had_source else 1)
            counts = (
                Counter({"positive": row[2], "neutral": row[3], "negative": row[4]})
                + delta.sentiments
            )
            rep = delta.representative if row[6] else None
            first_at, first_id = delta.first
            vector = self._vector(event_id) if event_id in self.changed else None
            size = row[1] + delta.size
            updates.append(
                (
                    delta.size,
                    delta.sentiments["positive"],
                    delta.sentiments["neutral"],
                    delta.sentiments["negative"],
                    sources,
                    _heat(size, counts, sources, recent[event_id], at),
                    utcnow(),
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
        write_many(self.session, _UPDATE, updates)
        write_many(
            self.session,
            "UPDATE event SET duplicate_count = duplicate_count + ? WHERE id = ?",
            copies_only,
        )


_UPDATE = (
    "UPDATE event SET size = size + ?, count_positive = count_positive + ?, "
    "count_neutral = count_neutral + ?, count_negative = count_negative + ?, "
    "source_count = ?, heat = ?, updated_at = ?, "
    "first_mention_id = CASE WHEN ? < first_seen_at THEN ? ELSE first_mention_id END, "
    "first_seen_at = CASE WHEN ? < first_seen_at THEN ? ELSE first_seen_at END, "
    "last_seen_at = CASE WHEN ? > last_seen_at THEN ? ELSE last_seen_at END, "
    "representative_id = COALESCE(?, representative_id), "
    "representative_is_reply = CASE WHEN ? THEN false ELSE representative_is_reply END, "
    "title = COALESCE(?, title), duplicate_count = duplicate_count + ?, "
    "vector = COALESCE(?, vector) WHERE id = ?"
)

# One guest fewer: size and sentiment counters down by one, sources recounted (few rows).
_UNCOUNT = (
    "UPDATE event SET size = size - 1, "
    "count_positive = count_positive - CASE WHEN ? = 'positive' THEN 1 ELSE 0 END, "
    "count_neutral = count_neutral - CASE WHEN ? = 'neutral' THEN 1 ELSE 0 END, "
    "count_negative = count_negative - CASE WHEN ? = 'negative' THEN 1 ELSE 0 END, "
    "source_count = (SELECT COUNT(*) FROM event_source es WHERE es.event_id = event.id) "
    "WHERE id = ?"
)
_GUEST_REASONS = ("text", "near", "copy")


def _refirst(session: Session, event_ids: list[int], gone: set[int]) -> None:
    """Events whose first or representative mention left them take their earliest
    remaining member instead (rare: a guest is seldom earlier than the post it joined)."""
    query = "SELECT id, first_mention_id, representative_id FROM event WHERE id"
    for event_id, first, representative in where_in(session, query, event_ids, ints=True):
        if first not in gone and representative not in gone:
            continue
        row = session.execute(
            text(
                "SELECT em.mention_id, em.published_at, m.title FROM event_member em "
                "JOIN mention m ON m.id = em.mention_id WHERE em.event_id = :e "
                "ORDER BY em.published_at, em.mention_id LIMIT 1"
            ),
            {"e": event_id},
        ).first()
        if row is None:
            continue
        mention_id, published, title = row
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        values: dict[str, Any] = {"e": event_id}
        sets = []
        if first in gone:
            sets.append("first_mention_id = :m, first_seen_at = :at")
            values.update(m=mention_id, at=published)
        if representative in gone:
            sets.append("representative_id = :m, title = :t")
            values.update(m=mention_id, t=" ".join((title or "").split())[:300])
        statement = text(f"UPDATE event SET {', '.join(sets)} WHERE id = :e")
        if "at" in values:
            statement = statement.bindparams(bindparam("at", type_=DateTime))
        session.execute(statement, values)


_EVENT_COLUMNS = (
    "title",
    "representative_id",
    "representative_is_reply",
    "first_mention_id",
    "first_seen_at",
    "last_seen_at",
    "size",
    "count_positive",
    "count_neutral",
    "count_negative",
    "source_count",
    "heat",
    "terms",
    "duplicate_count",
    "vector",
    "created_at",
    "updated_at",
)


_EVENT_TIME_SLOTS = tuple(
    _EVENT_COLUMNS.index(c) for c in ("first_seen_at", "last_seen_at", "created_at", "updated_at")
)


def _driver_value(value: Any) -> Any:
    # The text SQLAlchemy's SQLite DateTime stores, so stored and compared times agree.
    if value.__class__ is datetime:
        return value.isoformat(" ", "microseconds")
    return value


def _same(value: Any) -> Any:
    return value


def _sqlite_time(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def _stamp(session: Session) -> Callable[[datetime], Any]:
    """How a time is passed to this database's driver (see ``_driver_value``)."""
    return _sqlite_time if session.get_bind().dialect.name == "sqlite" else _same


def write_many(
    session: Session, statement: str, rows: Sequence[Sequence[Any]], *, converted: bool = False
) -> None:
    """The driver's executemany (``?`` placeholders): SQLAlchemy's per-row parameter
    handling costs more than the statements themselves at ingest rates. ``converted``: the
    rows' times are already in the driver's form (``_stamp``)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        statement = statement.replace("?", "%s")
    elif not converted:
        rows = [tuple(map(_driver_value, row)) for row in rows]
    connection.exec_driver_sql(statement, rows)


def insert_events(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert events; their ids in order. On SQLite (one writer, held since this
    transaction's first write) the rows of one executemany get consecutive ids."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        statement = insert(Event).returning(Event.id, sort_by_parameter_order=True)
        return list(session.execute(statement, rows).scalars())
    columns = ", ".join(_EVENT_COLUMNS)
    marks = ", ".join("?" * len(_EVENT_COLUMNS))
    values = []
    for row in rows:  # the times in SQLAlchemy's text form; the other values are plain
        value = [row[c] for c in _EVENT_COLUMNS]
        for slot in _EVENT_TIME_SLOTS:
            value[slot] = _sqlite_time(value[slot])
        values.append(tuple(value))
    write_many(session, f"INSERT INTO event ({columns}) VALUES ({marks})", values, converted=True)
    last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _title(item: _Item) -> str:
    title = " ".join((item.title or item.text).split())
    return title[:300]


def _recent_hours(
    session: Session, event_ids: list[int], at: datetime
) -> dict[int, Counter[datetime]]:
    """Hourly counts of the 25 hours up to ``at`` for each event (growth of the heat); an
    event's hours are few (it lives for days), so older ones are dropped here, not in SQL."""
    since = _hour(at) - timedelta(hours=24)
    found: dict[int, Counter[datetime]] = {e: Counter() for e in event_ids}
    query = "SELECT event_id, hour, count FROM event_hour WHERE event_id"
    for event_id, hour, count in where_in(session, query, event_ids, ints=True):
        if isinstance(hour, str):
            hour = datetime.fromisoformat(hour)
        if since <= hour <= at:
            found[event_id][hour] += count
    return found


def _heat(
    size: int, sentiments: Counter[str], sources: int, hours: Counter[datetime], at: datetime
) -> float:
    current = _hour(at)
    last = hours.get(current, 0)
    previous = sum(n for hour, n in hours.items() if hour < current)
    negative = sentiments["negative"]
    return _heat_of(
        size,
        last,
        previous,
        sources,
        negative,
        sentiments["positive"] + sentiments["neutral"] + negative,
    )


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
