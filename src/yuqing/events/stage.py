"""The pipeline stage of events: put each new mention (and exact copy) of a batch into an event.

All the work is after the insert, since events link to mention ids in their own table
(``event_member``); the batch says which rows are new (an updated mention keeps its event),
which are exact copies and of what, and the places found in each. Order of evidence,
strongest first:

1. repost chain: a mention whose ``root_external_id`` or ``parent_external_id`` names a
   mention of the same source joins that mention's event (ids are matched within one
   source: platform ids are unique on their platform, and one source is one platform; ids of
   two different sites may collide). Reposts of a root not collected (yet) join the event of
   their siblings, and a root that arrives after its reposts joins theirs;
2. near-duplicate group: a mention with ``near_group_id`` joins its representative's event;
3. exact copy (stored without analysis): its root link, else its original's event;
4. its text (title, lead, places) within 72 hours: average similarity to an event's text
   members and shared rare bigrams (see events/cluster.py);
5. otherwise it starts a new event.

Exact copies are members of their event but never counted in it (``duplicate_count``: the
page shows 重复 N). A post that leaves a story's event for its own cascade keeps a 相关事件
link (``related_to_id``) to the story.

Counters (size, sentiment split, sources, first/last seen, hourly trend, heat) are written
once per touched event and batch (events/placer.py). The text index of recent events is a
process cache rebuilt from the database (events/index.py). See docs/events.md.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from yuqing.analysis.places import Place, grouped
from yuqing.core.database import where_in
from yuqing.events.placer import Item, Placer
from yuqing.mentions import neardup
from yuqing.mentions.batch import Batch, Row


class Events:
    """Places the batch's new mentions and exact copies in events once they have ids."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        return None

    def after_insert(self, session: Session, batch: Batch) -> None:
        """Runs even for a batch without rows to analyse: its exact copies need events."""
        items = [_item(row) for row in batch.new] + _copies(session, batch)
        if items:
            _serialise(session)
            Placer(session, batch.source.id).place(items)


# Key of the transaction lock that puts the events stage of concurrent transactions in a row.
EVENTS_LOCK = 0x595104E7


def _serialise(session: Session) -> None:
    """One transaction at a time places items into events, until it commits or rolls back.

    The window of open events is one view per process (``index``): a transaction's new
    events enter it under temporary ids before the commit, so a second transaction placing
    at the same time could join an event that is not stored (or not yet). SQLite has one
    writer, so this holds by itself; on PostgreSQL two fetches, or a fetch and the push
    writer, run their transactions side by side, and a transaction-scoped advisory lock
    (released by the commit or rollback, seen by PostgreSQL's deadlock detector) orders them.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK})


_LOCAL = ("县", "区", "旗", "镇", "乡", "村", "街道")


def _local_places(places: list[Place]) -> list[str]:
    """The local place names the places stage found (county and finer, as its display text
    shows them): a province or city is shared by unrelated stories of one region, so only a
    county, district or town is evidence of one story. ``grouped``'s names in its order:
    its cut at 500 characters of display text cannot bind for up to 8 places (at most 24
    names of at most 15 characters, with separators under 400), so it is only asked for
    more; the loop below is its grouping without that cut."""
    if not places:
        return []
    if len(places) > 8:
        return [name for names in grouped(places) for name in names if name.endswith(_LOCAL)]
    groups: dict[str, list[str]] = {}
    for place in places:
        names = groups.get(place.province)
        if names is None:
            names = groups[place.province] = [place.province]
        for name in (place.city, place.name):
            if name and name not in names:
                names.append(name)
    return [name for names in groups.values() for name in names if name.endswith(_LOCAL)]


def _item(row: Row) -> Item:
    assert row.id is not None
    root, parent = row.root_external_id, row.parent_external_id
    title = row.title or ""
    if root or parent:  # placed by its link alone: its text is not needed (title may be)
        return Item(
            row.id,
            row.external_id,
            root,
            parent,
            None,
            row.published_at,
            row.sentiment,
            title,
            "",
            [],
        )
    return Item(
        row.id,
        row.external_id,
        None,
        None,
        row.near_group_id,
        row.published_at,
        row.sentiment,
        title,
        row.text or "",
        _local_places(row.places),
    )


def _copies(session: Session, batch: Batch) -> list[Item]:
    """The batch's exact copies, each with its original's sentiment (from the batch when the
    original is new in it, else as stored)."""
    if not batch.copies:
        return []
    sentiment_of = {row.id: row.sentiment for row in batch.new}
    stored = {row.duplicate_of_id for row in batch.copies} - sentiment_of.keys()
    query = "SELECT id, sentiment FROM mention WHERE id"
    sentiment_of.update(where_in(session, query, stored, ints=True))
    items = []
    for row in batch.copies:
        assert row.id is not None
        root, parent, original = row.root_external_id, row.parent_external_id, row.duplicate_of_id
        if root or parent:
            original = None  # placed by its link alone
        elif len(neardup.clean(row.search_text or "")) < neardup.MIN_CHARS:
            original = None  # "转发微博" copies one text across stories: no evidence
        item = Item(
            row.id,
            row.external_id,
            root,
            parent,
            original,
            row.published_at,
            sentiment_of.get(row.duplicate_of_id),
            row.title or "",
            "",
            [],
            True,
        )
        items.append(item)
    return items
