"""Near-duplicates (相似文章): MinHash with LSH bands stored in the database, verified by Jaccard.

A mention's search form is cleaned of what differs between reposts of one text (URLs,
``@names``, ``[表情]``, "转发微博", punctuation, emoji, spaces); its character trigrams are
hashed in one numpy pass per batch into a MinHash signature of ``BANDS × ROWS`` values. Each
band of ``ROWS`` values becomes one 64-bit key in ``mention_band``; two texts sharing a key are
candidates, and a candidate is taken only when the exact Jaccard similarity of the two trigram
sets reaches ``THRESHOLD``. Groups are stars: the first mention of a group is its
representative (``near_group_id`` NULL, ``near_count`` = members); each member points at it.
See docs/near-duplicates.md for the measurements behind the numbers.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from yuqing.core.database import insert_many, pg_array, where_in
from yuqing.mentions.batch import Row
from yuqing.mentions.models import Mention, MentionBand

SHINGLE = 3  # characters per shingle: bigrams merged too many different questions
MIN_CHARS = 12  # shorter cleaned texts are not grouped: too little evidence
MIN_SHARED = 10  # shingles in common, so that questions differing in one word stay apart
MAX_CHARS = 10_000  # only the start of a long text is compared (bounded time and memory)
BANDS = 8
ROWS = 2
THRESHOLD = 0.5  # verified trigram Jaccard to join a group
MAX_VERIFIED = 6  # candidates checked per row, most shared bands first
HOLDERS_PER_GROUP = 4  # band rows kept per key and group: a group's lookups stay bounded
HOLDERS_PER_KEY = 16  # band rows kept per key: a key this common says little (a stop word)

_NOISE = re.compile(
    r"https?://[0-9a-z./?=&%#_\-:~+]*"  # links differ per copy (short-link services)
    r"|www\.[0-9a-z./?=&%#_\-~+]*"
    r"|@[\w\-·]{1,30}"  # reposters' and mentioned names, as in "//@某某:"
    r"|\[[^\[\]\s]{1,8}\]"  # [表情] emoticons
    r"|转发微博|轉發微博|repost"
)
_NOT_TEXT = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

_MASK = (1 << 64) - 1
_rng = np.random.default_rng(20240611)  # fixed: stored keys must stay comparable across runs
_PERM_A = _rng.integers(1, 2**63, size=BANDS * ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _rng.integers(0, 2**63, size=BANDS * ROWS, dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_CODE_MUL = (np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9), np.uint64(0x27D4EB2F))
_ROW_MUL = _rng.integers(1, 2**63, size=ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_BAND_SALT = _rng.integers(0, 2**63, size=BANDS, dtype=np.uint64)


def clean(search_text: str) -> str:
    """What is compared of a search form: its words, without the parts reposts change.

    A title that only repeats the start of the text (ingest makes one so when an item has
    none) is dropped, or every short post would count twice its length.
    """
    title, _, body = search_text.partition("\n")
    if body.startswith(title):
        return _clean(body)
    title, body = _clean(title), _clean(body)
    return body if body.startswith(title) else title + body


def _clean(form: str) -> str:
    return _NOT_TEXT.sub("", _NOISE.sub(" ", form))


def shingles(cleaned: str) -> set[str]:
    """The character shingles of a cleaned text (its first ``MAX_CHARS`` characters)."""
    text = cleaned[:MAX_CHARS]
    return {text[i : i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def similar(a: set[str], b: set[str]) -> bool:
    """The verification: enough shingles in common, and a Jaccard similarity ≥ THRESHOLD."""
    common = len(a & b)
    return common >= MIN_SHARED and common >= THRESHOLD * (len(a) + len(b) - common)


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures (len(texts) × BANDS·ROWS, uint64) of cleaned texts of at least
    ``SHINGLE`` characters, all shingles of the batch hashed at once."""
    texts = [t[:MAX_CHARS] for t in texts]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    last = len(codes) - SHINGLE + 1
    value = codes[:last] * _CODE_MUL[0]
    for i in range(1, SHINGLE):
        value ^= codes[i : last + i] * _CODE_MUL[i]
    value ^= value >> np.uint64(29)
    value *= _MIX
    # A shingle that starts in the last SHINGLE-1 characters of a text crosses into the next.
    keep = np.ones(last, dtype=bool)
    ends = np.cumsum(lengths)
    crossing = (ends[:, None] - np.arange(1, SHINGLE, dtype=np.int64)[None, :]).ravel()
    keep[crossing[crossing < last]] = False
    value = value[keep]
    counts = lengths - SHINGLE + 1
    offsets = np.cumsum(counts) - counts
    sig = np.empty((len(texts), BANDS * ROWS), dtype=np.uint64)
    for j in range(BANDS * ROWS):
        sig[:, j] = np.minimum.reduceat(value * _PERM_A[j] + _PERM_B[j], offsets)
    return sig


def band_keys(sig: np.ndarray) -> np.ndarray:
    """One signed 64-bit key per band (len × BANDS, int64), as stored in ``mention_band``."""
    rows = sig.reshape(len(sig), BANDS, ROWS)
    key = (rows * _ROW_MUL).sum(axis=2, dtype=np.uint64) + _BAND_SALT
    key ^= key >> np.uint64(31)
    key *= _MIX
    key ^= key >> np.uint64(29)
    return key.view(np.int64)


@dataclass
class _Item:
    """A row of the batch that is long enough to group."""

    position: int
    cleaned: str
    keys: list[int]
    own_id: int | None  # an update's stored id: a mention is not its own copy
    grams: set[str] | None = None
    group: int | None = None  # a stored representative's id
    follows: int | None = None  # position of an earlier row of the batch it joins

    def shingle_set(self) -> set[str]:
        if self.grams is None:
            self.grams = shingles(self.cleaned)
        return self.grams


@dataclass
class _Candidate:
    id: int
    group: int
    cleaned: str
    grams: set[str] | None = None

    def shingle_set(self) -> set[str]:
        if self.grams is None:
            self.grams = shingles(self.cleaned)
        return self.grams


def group(session: Session, rows: list[Row]) -> None:
    """Put rows that repeat a stored mention into its group (``near_group_id``), and note
    on each row what storing its group needs once it has an id: its band keys
    (``near_keys``) and the earlier row of the batch it joins (``near_follows``)."""
    updated = [row.id for row in rows if row.id is not None]
    was = _old_groups(session, updated)
    for row in rows:
        row.near_group_id = row.near_keys = row.near_follows = None
        row.near_was = was.get(row.id) if row.id is not None else None
    items = _eligible(rows)
    held: Counter[Any] = Counter()
    if items:
        held = _join_stored(session, items)
        _join_batch(items)
    for index, item in enumerate(items):
        row = rows[item.position]
        row.near_keys = _keys_to_store(item, index, held)
        row.near_group_id = item.group
        if item.follows is not None:
            row.near_follows = rows[items[item.follows].position].index


def _eligible(rows: list[Row]) -> list[_Item]:
    cleaned = [clean(row.search_text or "") for row in rows]
    positions = [i for i, text in enumerate(cleaned) if len(text) >= MIN_CHARS]
    if not positions:
        return []
    keys = band_keys(signatures([cleaned[i] for i in positions])).tolist()
    return [
        _Item(
            position=i,
            cleaned=cleaned[i],
            keys=row_keys,
            own_id=rows[i].id,
        )
        for i, row_keys in zip(positions, keys, strict=True)
    ]


def _keys_to_store(item: _Item, index: int, held: Counter[Any]) -> list[int]:
    """The band keys an item stores: those its group holds fewer than ``HOLDERS_PER_GROUP``
    times and all groups fewer than ``HOLDERS_PER_KEY`` times. A text repeated thousands of
    times, or a phrase thousands of different posts share, would otherwise give its keys
    thousands of rows, and every later item's lookup would read them all. A copy is still
    found through the members that do hold the key, and through its other bands."""
    if item.group is not None:
        group: Any = item.group
    else:
        group = ("batch", item.follows if item.follows is not None else index)
    kept = []
    for key in dict.fromkeys(item.keys):
        if held[key, group] < HOLDERS_PER_GROUP and held[key] < HOLDERS_PER_KEY:
            held[key, group] += 1
            held[key] += 1
            kept.append(key)
    return kept


VERIFY_ROUNDS = (1, 3, MAX_VERIFIED)
"""Candidates each row has checked by the end of each round of ``_join_stored``."""


def _join_stored(session: Session, items: list[_Item]) -> Counter[Any]:
    """Join items to the stored groups they repeat; returns how many band rows each key,
    and each (key, group), holds already.

    Each item checks its candidates in order, most shared bands first, and stops at the
    first similar one. Their rows are read in rounds (the first candidate of every item,
    then the next two of those still unmatched, then the rest): in a flood of copies the
    first candidate is nearly always the one. Reading the candidates' rows was a fifth of
    the push writer's time at 300,000 items; read in rounds and by id, 1,684 → 1,971
    items/s in-process (docs/near-duplicates.md). The outcome is the same as reading them
    all first."""
    rows = where_in(
        session,
        "SELECT band_key, mention_id, group_id FROM mention_band WHERE band_key",
        {key for item in items for key in item.keys},
        ints=True,
    )
    if not rows:
        return Counter()
    held: Counter[Any] = Counter(map(itemgetter(0), rows))  # counted in C: rows are many
    held.update(map(itemgetter(0, 2), rows))
    holders: dict[int, list[int]] = defaultdict(list)
    for key, mention_id, _ in rows:
        holders[key].append(mention_id)
    chosen: list[list[int]] = []
    for item in items:
        shared = Counter(chain.from_iterable(holders.get(key, ()) for key in item.keys))
        if item.own_id is not None:
            del shared[item.own_id]
        chosen.append(sorted(shared, key=lambda m: (-shared[m], m))[:MAX_VERIFIED])
    candidates: dict[int, _Candidate | None] = {}
    checked = 0
    for upto in VERIFY_ROUNDS:
        waiting = [
            (item, ids[checked:upto])
            for item, ids in zip(items, chosen, strict=True)
            if item.group is None and len(ids) > checked
        ]
        unread = {m for _, ids in waiting for m in ids if m not in candidates}
        candidates.update(dict.fromkeys(unread))
        candidates.update(_load_candidates(session, unread))
        for item, ids in waiting:
            for mention_id in ids:
                candidate = candidates[mention_id]
                if candidate is not None and similar(item.shingle_set(), candidate.shingle_set()):
                    item.group = candidate.group
                    break
        checked = upto
    return held


# The status is tested on the rows read, not in the statement: with ``status = 'new'`` in
# it SQLite, without statistics, walked the status index over every listed row and tested
# each id against the list (EXPLAIN QUERY PLAN), a cost growing with the table, instead of
# reading the rows by id.
_CANDIDATES = "SELECT id, near_group_id, search_text, status FROM mention WHERE id"


def _load_candidates(session: Session, ids: set[int]) -> dict[int, _Candidate]:
    return {
        mid: _Candidate(id=mid, group=group or mid, cleaned=clean(form or ""))
        for mid, group, form, status in where_in(session, _CANDIDATES, ids, ints=True)
        if status == "new"
    }


def _join_batch(items: list[_Item]) -> None:
    """Rows similar to an earlier row of the same batch join it (or the group it joined)."""
    first_with_key: dict[int, int] = {}
    for index, item in enumerate(items):
        if item.group is None:
            earlier_rows = {first_with_key[k] for k in item.keys if k in first_with_key}
            for j in sorted(earlier_rows)[:MAX_VERIFIED]:
                earlier = items[j]
                if similar(item.shingle_set(), earlier.shingle_set()):
                    if earlier.group is not None:
                        item.group = earlier.group
                    else:
                        item.follows = earlier.follows if earlier.follows is not None else j
                    break
        for key in item.keys:
            first_with_key.setdefault(key, index)


def store_groups(session: Session, rows: list[Row]) -> None:
    """Band rows, batch links and representative counts of ``rows`` (grouped by ``group``),
    once they have ids; an updated row's ``near_was`` is the group it leaves, and only
    updated rows can hold band rows already."""
    old_groups = {row.id: row.near_was for row in rows if row.id is not None and row.near_was}
    position_of = {row.index: position for position, row in enumerate(rows)}
    mention_ids = [row.id for row in rows if row.id is not None]
    assert len(mention_ids) == len(rows), "rows are stored before their groups"
    groups: dict[int, int | None] = {}
    for position, row in enumerate(rows):
        if row.near_keys is None:
            continue
        if row.near_follows is not None:
            groups[position] = mention_ids[position_of[row.near_follows]]
        else:
            groups[position] = row.near_group_id
    bumps: Counter[int] = Counter()
    links: list[dict[str, Any]] = []
    keep_as_rep = _representatives_with_members(session, old_groups)
    # Only rows that can be grouped, or were, have anything to store.
    positions = sorted({*groups, *(i for i, m in enumerate(mention_ids) if m in old_groups)})
    for position in positions:
        mention_id = mention_ids[position]
        group = groups.get(position)
        if mention_id in keep_as_rep:
            group = None  # a representative with members stays one when it is edited
            groups[position] = None
        if group != rows[position].near_group_id:
            links.append({"m_id": mention_id, "g_id": group})
        old = old_groups.get(mention_id)
        if old == group:
            continue
        if old is not None and old != mention_id:
            bumps[old] -= 1
        if group is not None:
            bumps[group] += 1
    if old_groups:
        session.execute(delete(MentionBand).where(MentionBand.mention_id.in_(list(old_groups))))
    bands = [
        (key, mention_ids[position], groups[position] or mention_ids[position])
        for position, row in enumerate(rows)
        if row.near_keys is not None
        for key in dict.fromkeys(row.near_keys)
    ]
    _insert_bands(session, bands)
    _write_links(session, links, bumps)


def _old_groups(session: Session, mention_ids: list[int]) -> dict[int, int]:
    """The group each updated mention was in (its own id when it led or was alone): read
    from the mention, since a member may hold no band rows."""
    query = "SELECT id, near_group_id FROM mention WHERE id"
    return {m: group or m for m, group in where_in(session, query, mention_ids, ints=True)}


def _representatives_with_members(session: Session, old_groups: dict[int, int]) -> set[int]:
    reps = [m for m, g in old_groups.items() if g == m]
    if not reps:
        return set()
    query = select(Mention.id).where(Mention.id.in_(reps), Mention.near_count > 0)
    return set(session.execute(query).scalars())


def _insert_bands(session: Session, bands: list[tuple[int, int, int]]) -> None:
    if not bands:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # The driver's executemany: SQLAlchemy's per-row parameter handling costs more here.
        connection.exec_driver_sql(
            "INSERT OR IGNORE INTO mention_band (band_key, mention_id, group_id) VALUES (?, ?, ?)",
            bands,
        )
        return
    table = cast(Table, MentionBand.__table__)
    insert_many(connection, table, ("band_key", "mention_id", "group_id"), bands)


def _write_links(session: Session, links: list[dict[str, Any]], bumps: Counter[int]) -> None:
    connection = session.connection()
    changes = [{"g_id": g, "extra": n} for g, n in bumps.items() if n]
    if connection.dialect.name == "sqlite":
        # The driver's executemany: SQLAlchemy's per-row parameter handling costs more here.
        if links:
            connection.exec_driver_sql(
                "UPDATE mention SET near_group_id = ? WHERE id = ?",
                [(link["g_id"], link["m_id"]) for link in links],
            )
        if changes:
            connection.exec_driver_sql(
                "UPDATE mention SET near_count = near_count + ? WHERE id = ?",
                [(change["extra"], change["g_id"]) for change in changes],
            )
        return
    # One statement each, the pairs as two array literals: one UPDATE per row (psycopg's
    # executemany) cost the server 0.1 ms a row, 57 rows a batch of 100 in bench/soak.py.
    if links:
        connection.exec_driver_sql(
            "UPDATE mention SET near_group_id = v.g"
            f" FROM {_PAIRS} AS v(m, g) WHERE mention.id = v.m",
            (
                pg_array([link["m_id"] for link in links]),
                pg_array([link["g_id"] for link in links]),
            ),
        )
    if changes:
        changes.sort(key=itemgetter("g_id"))  # representatives are shared: one lock order
        connection.exec_driver_sql(
            "UPDATE mention SET near_count = near_count + v.n"
            f" FROM {_PAIRS} AS v(g, n) WHERE mention.id = v.g",
            (
                pg_array([change["g_id"] for change in changes]),
                pg_array([change["extra"] for change in changes]),
            ),
        )


_PAIRS = "unnest(CAST(%s AS BIGINT[]), CAST(%s AS BIGINT[]))"


def members(session: Session, *, mention_id: int, limit: int = 200) -> list[Mention]:
    """The members of the group that ``mention_id`` represents, newest first."""
    return list(
        session.execute(
            select(Mention)
            .where(Mention.near_group_id == mention_id)
            .order_by(Mention.published_at.desc(), Mention.id.desc())
            .limit(limit)
        ).scalars()
    )
