"""Online clustering by text: character-bigram vectors of items and the recent events' profiles.

An item that no repost link or near-duplicate group places is compared with the events seen
in the last ``WINDOW`` (and with the items of its own batch) by its text: the character
bigrams of its title (counted ``TITLE_WEIGHT`` times) and of the lead of its body (the first
``LEAD_CHARS`` characters: a news article states its facts first), plus the place names the
places stage found. Weights are TF-IDF (sublinear term frequency, inverse document frequency
over the items seen, bigrams hashed into ``BUCKETS`` columns), each vector scaled to length
1 and cut to its ``ITEM_FEATURES`` strongest bigrams.

An event keeps the sum of its text members' vectors (its strongest ``EVENT_FEATURES``), so
an item's **average similarity to the event's members** (average link) is one dot product
divided by the member count. The item joins the best event when

- the average similarity reaches ``THRESHOLD``, and
- it shares at least ``MIN_SHARED`` bigrams with the event: a short comment that shares
  one phrase ("可怕") with another is no evidence of one story. (No bar on how rare the
  shared bigrams must be: while a story is big, its own words are common, and the inverse
  document frequency already weighs words every story uses.)

Average link rather than the nearest member: a story reported by several outlets is a
cluster whose members resemble each other on the whole, while two incidents at one campus
share a name and a few words with each other's nearest item only. Everything per batch is
vectorised (numpy, scipy sparse products); only the choice of event is a loop per item.
See docs/events.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import rjieba
from scipy import sparse

from yuqing.events.similarity import NEGLIGIBLE, Products
from yuqing.events.vectors import (
    BUCKET_BITS,
    BUCKETS,
    ITEM_FEATURES,
    LEAD_CHARS,
    MARK,
    NOISE,
    PLACE_WEIGHT,
    STOP_WORDS,
    TITLE_WEIGHT,
    Doc,
    Frequencies,
    batch_vectors,
    bigram_counts,
    place_bucket,
    stable_order,
    vectors,
)

__all__ = [  # names of the vectors and similarity modules, for callers of this one
    "BUCKETS",
    "ITEM_FEATURES",
    "LEAD_CHARS",
    "NEGLIGIBLE",
    "PLACE_WEIGHT",
    "TITLE_WEIGHT",
    "Doc",
    "Frequencies",
    "bigram_counts",
    "place_bucket",
    "vectors",
]

WINDOW = timedelta(hours=72)
THRESHOLD = 0.10  # average cosine similarity of an item to an event's text members
MIN_SHARED = 5  # bigrams: one shared name ("南江大学") is three
EVENT_FEATURES = 256
PRUNE_EVERY = timedelta(hours=1)
MAX_EVENT_TERMS = 60  # display terms kept per event (hot topics)
TERM_CHARS = 80  # characters of a new event's title (else text) cut into display terms

_WORD = re.compile(r"^[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]{2,}$")
_STOP = frozenset(STOP_WORDS.split())


# --- display terms (hot topics): words, once per new event ---------------------------------


def key_terms(text: str, places: Iterable[str] = ()) -> list[str]:
    """Readable key terms of a short text (rjieba words of two or more characters, stop
    words, links, ``@names``, ``[表情]`` and repost boilerplate left out), place names
    first, each once. Cut once per new event for hot topics, never per item."""
    return key_terms_many([text], [places])[0]


def key_terms_many(texts: Sequence[str], places: Sequence[Iterable[str]]) -> list[list[str]]:
    """``key_terms`` of many texts (a batch's new events) in one rjieba call: the texts are
    cut as one, a line break between two (rjieba yields it as a word of its own)."""
    if not texts:
        return []
    joined = "\n".join([t[:TERM_CHARS].replace("\n", " ") for t in texts]).lower()
    if MARK.search(joined):
        joined = NOISE.sub(" ", joined)
    found: list[list[str]] = []
    seen: dict[str, None] = dict.fromkeys(p for p in places[0] if len(p) >= 2)
    kinds = _WORD_KINDS
    if len(kinds) > _MAX_WORD_KINDS:
        kinds.clear()
    for word in rjieba.cut(joined):
        kind = kinds.get(word)
        if kind is None:
            kind = kinds[word] = _word_kind(word)
        if kind == _TERM:
            seen[word] = None  # a word seen before keeps its place
        elif kind == _BREAK:
            found.append(list(seen)[:MAX_EVENT_TERMS])
            seen = dict.fromkeys(p for p in places[len(found)] if len(p) >= 2)
    found.append(list(seen)[:MAX_EVENT_TERMS])
    return found


_SKIP, _TERM, _BREAK = 0, 1, 2
# What each word rjieba yields is (a display term, the break between two texts, neither):
# judged once per process (the words of a stream repeat), forgotten past a bound.
_WORD_KINDS: dict[str, int] = {}
_MAX_WORD_KINDS = 200_000


def _word_kind(word: str) -> int:
    if word == "\n":
        return _BREAK
    if len(word) >= 2 and word not in _STOP and _WORD.match(word) and not word.isdigit():
        return _TERM
    return _SKIP


# --- the index of recent events ---------------------------------------------------------


@dataclass
class Profile:
    """One event's text: the sum of its text members' vectors, how many, last seen."""

    columns: np.ndarray
    weights: np.ndarray
    members: int
    last_seen: datetime
    _set: frozenset[int] | None = None

    def add(self, columns: np.ndarray, weights: np.ndarray, members: int) -> None:
        self.members += members
        self._set = None
        if not len(self.columns) and members == 1:  # one item's columns are distinct
            order = np.argsort(columns)
            self.columns, self.weights = columns[order].astype(np.int64), weights[order]
            return
        keys = np.concatenate([self.columns, columns])
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        heads = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        summed = np.add.reduceat(np.concatenate([self.weights, weights])[order], heads)
        keys = keys[heads]
        if len(keys) > EVENT_FEATURES:
            top = np.argpartition(-summed, EVENT_FEATURES)[:EVENT_FEATURES]
            keys, summed = keys[top], summed[top]
        order = np.argsort(keys)
        self.columns, self.weights = keys[order], summed[order].astype(np.float32)

    def column_set(self) -> frozenset[int]:
        if self._set is None:
            self._set = frozenset(self.columns.tolist())
        return self._set

    def to_bytes(self) -> bytes:
        head = self.members.to_bytes(4, "little", signed=True)
        return head + self.columns.astype(np.int32).tobytes() + self.weights.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, last_seen: datetime) -> Profile:
        members = int(np.frombuffer(data[:4], dtype=np.int32)[0])
        body = data[4:]
        half = len(body) // 2
        columns = np.frombuffer(body[:half], dtype=np.int32).astype(np.int64)
        weights = np.frombuffer(body[half:], dtype=np.float32).copy()
        return cls(columns, weights, members, last_seen)


@dataclass
class Match:
    """Why an item joins an event: its average similarity and the bigrams they share."""

    event_id: int
    score: float
    shared: int


@dataclass
class TextIndex:
    """The text profiles of recent events (and the frequencies their weights come from)."""

    profiles: dict[int, Profile] = field(default_factory=dict)
    frequencies: Frequencies = field(default_factory=Frequencies)
    max_event_id: int = 0
    pruned_at: datetime | None = None

    def batch(self, docs: Sequence[Doc], times: Sequence[datetime]) -> Batch:
        """Start placing a batch of items: their vectors and their similarities to the
        recent events and to each other, in two sparse products."""
        return Batch(self, docs, times)

    def add(
        self,
        event_id: int,
        columns: np.ndarray,
        weights: np.ndarray,
        at: datetime,
        *,
        members: int = 1,
    ) -> None:
        """Add a member's vector (or the sum of several members') to an event's profile."""
        profile = self.profiles.get(event_id)
        if profile is None:
            self.profiles[event_id] = profile = Profile(
                np.zeros(0, np.int64), np.zeros(0, np.float32), 0, at
            )
        profile.add(columns, weights, members)
        profile.last_seen = max(profile.last_seen, at)
        if event_id > 0:
            self.max_event_id = max(self.max_event_id, event_id)

    def rename(self, old: int, new: int) -> None:
        """Give an event created in this batch (temporary id) its stored id."""
        profile = self.profiles.pop(old, None)
        if profile is not None:
            self.profiles[new] = profile
        self.max_event_id = max(self.max_event_id, new)

    def touch(self, event_id: int, at: datetime) -> None:
        profile = self.profiles.get(event_id)
        if profile is not None and at > profile.last_seen:
            profile.last_seen = at

    def forget(self, event_id: int) -> None:
        self.profiles.pop(event_id, None)

    def prune(self, now: datetime) -> None:
        """Drop events not seen within the window before ``now`` (at most once an hour of
        stream time: the scan is over every profile)."""
        if self.pruned_at is not None and timedelta(0) <= now - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = now
        for event_id in [e for e, p in self.profiles.items() if now - p.last_seen > WINDOW]:
            del self.profiles[event_id]

    def load(self, event_id: int, data: bytes, last_seen: datetime) -> None:
        """A stored event's profile (a process starting, or another process's event); its
        bigrams count once in the frequencies (an approximation: one document per event)."""
        profile = Profile.from_bytes(data, last_seen)
        if profile.members:
            self.profiles[event_id] = profile
            self.frequencies.observe(profile.columns, 1)
        self.max_event_id = max(self.max_event_id, event_id)


class Batch:
    """One batch being placed: ``best(i)`` for its items in order, ``join(i, event)`` for
    those placed by text (or seeding an event), then ``commit()`` adds them to the index."""

    def __init__(self, index: TextIndex, docs: Sequence[Doc], times: Sequence[datetime]) -> None:
        self.index = index
        self.times = list(times)
        self.vectors = batch_vectors(docs, index.frequencies)
        self.matrix = self.vectors.matrix
        earliest = min(self.times, default=None)
        self.events = [
            e
            for e, p in index.profiles.items()
            if earliest is not None and earliest - p.last_seen <= WINDOW
        ]
        recent = [index.profiles[e] for e in self.events]
        # per recent event (by its place in ``events``): last seen and members before this
        # batch; ``_sizes``: members with this batch's, of the events it names
        self._seen = [p.last_seen for p in recent]
        self._members = [p.members for p in recent]
        self._sizes = dict(zip(self.events, self._members, strict=True))
        products = Products(self.vectors)
        # per member: an event's part of an item's average similarity (before this batch)
        self._events_rows = products.to_events(
            [p.columns for p in recent],
            [p.weights for p in recent],
            np.array(self._members, dtype=np.float64),
        )
        # Only earlier items of the batch can have been placed when an item is.
        self._batch_rows = products.to_earlier()
        self.placed: list[int | None] = [None] * len(self.times)  # batch row → event
        self.joined: dict[int, list[int]] = {}  # event → batch rows that joined it
        # Python lists: the loop per item reads them faster than numpy scalars.
        self._item_bounds = self.matrix.indptr.tolist()
        self._item_columns = self.matrix.indices.tolist()
        self._event_columns: dict[int, set[int] | frozenset[int]] = {}
        # rows that joined an event after its columns were gathered: added when it is next
        # compared (most events are not, after their last member joins)
        self._pending: dict[int, list[int]] = {}

    def best(self, row: int) -> Match | None:
        """The event item ``row`` belongs to, or None (see the module doc)."""
        at = self.times[row]
        sums: dict[int, float] = {}
        indptr, indices, data = self._events_rows
        start, end = indptr[row], indptr[row + 1]
        if start != end:
            events, seen, members = self.events, self._seen, self._members
            for column, value in zip(indices[start:end], data[start:end], strict=True):
                if at - seen[column] <= WINDOW:
                    sums[events[column]] = value * members[column]
        indptr, indices, data = self._batch_rows
        start, end = indptr[row], indptr[row + 1]
        if start != end:
            placed, get = self.placed, sums.get
            for other, value in zip(indices[start:end], data[start:end], strict=True):
                joined = placed[other]
                if joined is not None:
                    sums[joined] = get(joined, 0.0) + value
        if not sums:
            return None
        sizes = self._sizes
        ranked = [(total / sizes[e], e) for e, total in sums.items() if total >= THRESHOLD]
        if not ranked:
            return None
        ranked.sort(reverse=True)
        for score, event_id in ranked[:3]:
            if score < THRESHOLD:
                break
            shared = self._shared(row, event_id)
            if shared:
                return Match(event_id=event_id, score=score, shared=shared)
        return None

    def _columns(self, row: int) -> list[int]:
        start, end = self._item_bounds[row], self._item_bounds[row + 1]
        return self._item_columns[start:end]

    def _shared(self, row: int, event_id: int) -> int:
        """Bigrams the item shares with the event (0 when too few): the event's columns are
        its profile's (not copied until a member of this batch joins) and its new members'."""
        theirs = self._event_columns.get(event_id)
        pending = self._pending.pop(event_id, None)
        if pending is not None and theirs is not None:
            if not isinstance(theirs, set):  # still the profile's own (frozen) set
                theirs = self._event_columns[event_id] = set(theirs)
            for other in pending:
                theirs.update(self._columns(other))
        if theirs is None:
            profile = self.index.profiles.get(event_id)
            theirs = profile.column_set() if profile is not None else frozenset()
            joined = self.joined.get(event_id)
            if joined:
                theirs = set(theirs)
                for other in joined:
                    theirs.update(self._columns(other))
            self._event_columns[event_id] = theirs
        shared = len(theirs.intersection(self._columns(row)))
        return shared if shared >= MIN_SHARED else 0

    def join(self, row: int, event_id: int) -> None:
        """Item ``row`` is placed in ``event_id`` by its text (or seeds it)."""
        self.placed[row] = event_id
        rows = self.joined.get(event_id)
        if rows is None:
            self.joined[event_id] = [row]
            if event_id not in self._sizes:
                profile = self.index.profiles.get(event_id)
                self._sizes[event_id] = profile.members if profile is not None else 0
        else:
            rows.append(row)
        self._sizes[event_id] += 1
        if event_id in self._event_columns:
            pending = self._pending.get(event_id)
            if pending is None:
                self._pending[event_id] = [row]
            else:
                pending.append(row)

    def move(self, row: int, event_id: int) -> None:
        """Item ``row`` leaves the event it joined for ``event_id`` (a cascade of its own)."""
        old = self.placed[row]
        if old is not None and row in self.joined.get(old, ()):
            self._event_columns.pop(old, None)
            self._pending.pop(old, None)
            self.joined[old].remove(row)
            self._sizes[old] -= 1
            if not self.joined[old]:
                del self.joined[old]
        self.join(row, event_id)

    def commit(self) -> set[int]:
        """Add the batch's text members to their events' profiles; the events changed. The
        sums of all events that grew are formed in one sort (no numpy calls per event)."""
        bounds, matrix, times = self._item_bounds, self.matrix, self.times
        profiles = self.index.profiles
        grown: list[tuple[int, list[int]]] = []
        for event_id, rows in self.joined.items():
            if len(rows) == 1 and event_id not in profiles:  # most: a new event of one item
                row = rows[0]
                span = slice(bounds[row], bounds[row + 1])
                profiles[event_id] = Profile(
                    matrix.indices[span].astype(np.int64), matrix.data[span], 1, times[row]
                )
            else:
                grown.append((event_id, rows))
        if grown:
            self._grow(grown)
        return set(self.joined)

    def _grow(self, grown: list[tuple[int, list[int]]]) -> None:
        """``Profile.add`` for many events at once: each event's stored sum and its new
        members' vectors, summed per column, cut to the ``EVENT_FEATURES`` strongest."""
        matrix, times = self.matrix, self.times
        profiles = self.index.profiles
        owners: list[int] = []
        columns: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        rows_of: list[int] = []
        members: list[int] = []  # the joined rows of all events, in order
        member_owners: list[int] = []
        for k, (event_id, rows) in enumerate(grown):
            profile = profiles.get(event_id)
            if profile is not None and len(profile.columns):
                columns.append(profile.columns)
                weights.append(profile.weights)
                owners.append(k)
                rows_of.append(len(profile.columns))
            members += rows
            member_owners += [k] * len(rows)
        # The members' entries in one gather (after the profiles': the stable sort below
        # keeps, within one event and column, a profile's sum first and its members in order).
        taken = np.array(members, dtype=np.int64)
        starts = matrix.indptr[taken].astype(np.int64)
        lengths = matrix.indptr[taken + 1] - starts
        spans = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        picks = spans + np.arange(len(spans))
        columns.append(matrix.indices[picks])
        weights.append(matrix.data[picks])
        owners += member_owners
        rows_of += lengths.tolist()
        event_of = np.repeat(np.array(owners, dtype=np.int64), rows_of)
        keys = (event_of << BUCKET_BITS) | np.concatenate(columns).astype(np.int64)
        order = stable_order(keys)
        keys = keys[order]
        heads = np.flatnonzero(np.concatenate([[len(keys) > 0], keys[1:] != keys[:-1]]))
        summed = np.add.reduceat(np.concatenate(weights)[order], heads).astype(np.float32)
        keys = keys[heads]
        event_of = keys >> BUCKET_BITS
        starts = np.searchsorted(event_of, np.arange(len(grown) + 1))
        long = np.flatnonzero(np.diff(starts) > EVENT_FEATURES)
        if len(long):  # the strongest EVENT_FEATURES of an event that has more
            keep = np.ones(len(keys), dtype=bool)
            for k in long.tolist():
                start, end = int(starts[k]), int(starts[k + 1])
                weak = np.argpartition(-summed[start:end], EVENT_FEATURES)[EVENT_FEATURES:]
                keep[start + weak] = False
            keys, summed, event_of = keys[keep], summed[keep], event_of[keep]
            starts = np.searchsorted(event_of, np.arange(len(grown) + 1))
        columns_all = keys & (BUCKETS - 1)
        edges = starts.tolist()
        for k, (event_id, rows) in enumerate(grown):
            at = max(times[r] for r in rows)
            cut = slice(edges[k], edges[k + 1])
            profile = profiles.get(event_id)
            if profile is None:  # a new event of several members: made with its sums
                profiles[event_id] = Profile(columns_all[cut], summed[cut], len(rows), at)
            else:
                profile.columns, profile.weights = columns_all[cut], summed[cut]
                profile.members += len(rows)
                profile._set = None
                profile.last_seen = max(profile.last_seen, at)
            if event_id > 0:
                self.index.max_event_id = max(self.index.max_event_id, event_id)


def terms_text(title: str, text: str) -> str:
    """What a new event's display terms are cut from: the title, else the start of the text."""
    return title if len(title) >= 4 else text[:TERM_CHARS]


def combine(vectors: Iterable[bytes | None]) -> bytes | None:
    """The profile of events merged into one: the sums added, the members counted."""
    found = [Profile.from_bytes(v, datetime.min) for v in vectors if v]
    if not found:
        return None
    merged = found[0]
    for other in found[1:]:
        merged.add(other.columns, other.weights, other.members)
    return merged.to_bytes()


def similar_pairs(profiles: dict[int, Profile]) -> list[tuple[float, int, int]]:
    """Pairs of events that are each other's most similar event and whose members are, on
    average, as similar as an item must be to join an event (average link between the two
    reaches ``THRESHOLD``, with ``MIN_SHARED`` shared bigrams); most similar first. The
    periodic pass merges them: online, an early item may have started an event before its
    story's vocabulary had arrived. Each other's nearest: posts about one institution share
    its name and stock phrases, so two of its stories can reach the bar while each is much
    closer to its own story's other events."""
    ids = [e for e, p in profiles.items() if p.members]
    if len(ids) < 2:
        return []
    rows = [profiles[e] for e in ids]
    lengths = np.fromiter((len(p.columns) for p in rows), np.int64, len(rows))
    used, compact = np.unique(np.concatenate([p.columns for p in rows]), return_inverse=True)
    matrix = sparse.csr_matrix(
        (
            np.concatenate([p.weights for p in rows]),
            compact,
            np.concatenate([[0], np.cumsum(lengths)]),
        ),
        shape=(len(rows), len(used)),
    )
    products = (matrix @ matrix.T).tocoo()
    members = np.fromiter((p.members for p in rows), np.float64, len(rows))
    scores = products.data / (members[products.row] * members[products.col])
    off = products.row != products.col
    row, col, scores = products.row[off], products.col[off], scores[off]
    if not len(row):
        return []
    order = np.lexsort((-scores, row))
    row, col, scores = row[order], col[order], scores[order]
    heads = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]]))
    nearest = dict(zip(row[heads].tolist(), col[heads].tolist(), strict=True))
    found = []
    for i, j in nearest.items():
        if i < j and nearest.get(j) == i:
            score = float(scores[heads[np.searchsorted(row[heads], i)]])
            shared = np.intersect1d(rows[i].columns, rows[j].columns, assume_unique=True)
            if score >= THRESHOLD and len(shared) >= MIN_SHARED:
                found.append((score, ids[i], ids[j]))
    found.sort(reverse=True)
    return found


def warm_up() -> None:
    """Load what the first batch would otherwise pay for (rjieba's dictionary, numpy and
    scipy code paths): a worker calls it when it starts, the bench before it times."""
    key_terms("江城大学宿舍楼夜间停电")
    batch = TextIndex().batch([Doc("预热", "江城大学宿舍楼夜间停电")], [datetime(2000, 1, 1)])
    batch.best(0)
    batch.join(0, 1)
    batch.commit()
