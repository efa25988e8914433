"""The pipeline's contract: a typed batch of collected items, and the stage protocol over it.

``mentions.store.prepare`` turns the items of one source into a ``Batch``: new originals,
changed rows (items stored before that changed) and exact copies, each a ``Row`` holding its
normalised fields. The stages fill the analysis fields of the rows to analyse (new and
changed) before the insert; ``mentions.store.store`` writes the batch and fills each row's
``id``; the stages then store what links to those ids. Everything a stage learns that a
later stage needs (places, scheme hits, near-duplicate groups, ids) travels on the rows, so
no stage asks the database for what another already knew.

A batch is plain data: ``to_dict``/``from_dict`` round-trip it through JSON, which is what
a queue worker will receive. The pipeline that runs the stages is ``worker/pipeline.py``
(this module is below it and must not import it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

from yuqing.sources.schemas import ItemOutcome

Level = Literal["province", "city", "county"]


@dataclass(frozen=True, slots=True)
class Place:
    """A place named in a text (地名): an administrative division with its province and city.

    ``city`` is the prefecture-level city the place lies in: itself for a city, ``None`` for a
    province and for a county directly under a province or municipality (直辖市的区, 省直辖县级市).
    """

    code: str
    level: Level
    name: str
    province: str
    city: str | None


@dataclass(frozen=True)
class SchemeHit:
    """A scheme that matched one document, the words that matched and the scheme's weight."""

    scheme_id: int
    words: list[str]
    weight: float = 1.0


ANALYSIS_COLUMNS = (
    "sentiment",
    "sentiment_score",
    "sentiment_model",
    "emotion",
    "risk_score",
    "risk_parts",
    "near_group_id",
    "regions",
)
"""Columns the analysis stages fill before a row is stored."""

INSERTED_COLUMNS = (
    # The mention columns an ingest writes, in the order of the bulk insert.
    "source_id",
    "external_id",
    "url",
    "canonical_url",
    "url_hash",
    "title",
    "text",
    "author",
    "published_at",
    "collected_at",
    "parent_external_id",
    "root_external_id",
    "language",
    "raw",
    "status",
    "content_hash",
    "duplicate_of_id",
    "duplicate_count",
    "near_count",
    "search_text",
    "platform",
    "reposts",
    "comments",
    "likes",
    "heat",
    *ANALYSIS_COLUMNS,
)

_TIMES = frozenset({"published_at", "collected_at"})


@dataclass(slots=True, kw_only=True, eq=False)
class Row:
    """One collected item, normalised: the mention row to store and what the stages add.

    ``index`` is the item's position in what the collector sent (outcomes are reported by
    it). ``id`` is filled in once the row is stored (for a changed row: the stored id).
    """

    index: int
    # -- the stored columns (INSERTED_COLUMNS)
    source_id: int
    external_id: str | None
    url: str | None
    canonical_url: str | None
    url_hash: int | None
    title: str
    text: str
    author: str | None
    published_at: datetime
    collected_at: datetime
    parent_external_id: str | None
    root_external_id: str | None
    language: str | None
    raw: str | None
    status: str
    content_hash: int
    duplicate_of_id: int | None
    duplicate_count: int
    near_count: int
    search_text: str
    platform: str | None
    reposts: int | None
    comments: int | None
    likes: int | None
    heat: int
    sentiment: str | None = None
    sentiment_score: float | None = None
    sentiment_model: str | None = None
    emotion: str | None = None
    risk_score: int | None = None
    risk_parts: str | None = None
    near_group_id: int | None = None
    regions: str | None = None
    # -- not stored as such
    published_given: bool = True  # False: the time defaulted to the time of collection
    id: int | None = None
    changed: list[str] = field(default_factory=list)  # an update: the columns it changes
    stored_status: str | None = None  # an update: the stored row's status
    original_index: int | None = None  # an exact copy of an earlier item of this batch
    places: list[Place] = field(default_factory=list)  # places stage
    hits: list[SchemeHit] = field(default_factory=list)  # schemes stage
    near_keys: list[int] | None = None  # near-duplicates stage: band keys (None: too short)
    near_follows: int | None = None  # near-duplicates: ``index`` of the batch row it joins
    near_was: int | None = None  # near-duplicates, an update: its group before (or its id)

    def columns(self) -> dict[str, Any]:
        """The stored columns, by name."""
        return {name: getattr(self, name) for name in INSERTED_COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (times as ISO text, places and hits as lists)."""
        data: dict[str, Any] = {}
        for name in _ROW_FIELDS:
            value = getattr(self, name)
            if name in _TIMES:
                value = value.isoformat()
            elif name == "places":
                value = [[p.code, p.level, p.name, p.province, p.city] for p in value]
            elif name == "hits":
                value = [[h.scheme_id, list(h.words), h.weight] for h in value]
            elif isinstance(value, list):
                value = list(value)
            data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        values = dict(data)
        for name in _TIMES:
            values[name] = datetime.fromisoformat(values[name])
        values["places"] = [Place(*p) for p in values.get("places", [])]
        values["hits"] = [SchemeHit(s, list(w), float(weight)) for s, w, weight in values["hits"]]
        return cls(**values)


_ROW_FIELDS = tuple(f.name for f in fields(Row))


@dataclass(slots=True, frozen=True)
class SourceRef:
    """What the stages read of the batch's source (not the ORM object: a batch is data)."""

    id: int
    name: str
    kind: str
    weight: float
    platform: str | None

    @classmethod
    def of(cls, source: Any) -> SourceRef:
        return cls(
            id=source.id,
            name=source.name or "",
            kind=source.kind or "",
            weight=source.weight,
            platform=source.platform,
        )


@dataclass(slots=True, eq=False)
class Batch:
    """One source's collected items, prepared for storing (see the module doc).

    ``outcomes`` holds what was decided while preparing (failed and unchanged items);
    ``analysed`` is set by the pipeline: only then does an update rewrite the analysis
    columns of a changed row.
    """

    source: SourceRef
    collected_at: datetime
    new: list[Row] = field(default_factory=list)
    changed: list[Row] = field(default_factory=list)
    copies: list[Row] = field(default_factory=list)
    outcomes: list[ItemOutcome] = field(default_factory=list)
    analysed: bool = False

    @property
    def analysed_rows(self) -> list[Row]:
        """The rows the stages analyse: new originals, then changed rows (copies are not
        analysed: they are counted on their original)."""
        return self.new + self.changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": {
                "id": self.source.id,
                "name": self.source.name,
                "kind": self.source.kind,
                "weight": self.source.weight,
                "platform": self.source.platform,
            },
            "collected_at": self.collected_at.isoformat(),
            "new": [row.to_dict() for row in self.new],
            "changed": [row.to_dict() for row in self.changed],
            "copies": [row.to_dict() for row in self.copies],
            "outcomes": [outcome.model_dump() for outcome in self.outcomes],
            "analysed": self.analysed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        return cls(
            source=SourceRef(**data["source"]),
            collected_at=datetime.fromisoformat(data["collected_at"]),
            new=[Row.from_dict(row) for row in data["new"]],
            changed=[Row.from_dict(row) for row in data["changed"]],
            copies=[Row.from_dict(row) for row in data["copies"]],
            outcomes=[ItemOutcome.model_validate(o) for o in data["outcomes"]],
            analysed=data["analysed"],
        )


class Stage(Protocol):
    """One step of the pipeline over a batch; the pipeline calls every stage's
    ``before_insert`` in order, stores the batch, then every stage's ``after_insert``, all in
    the caller's transaction.

    A stage keeps no state between the two calls other than what it puts on the batch, and
    none between batches that it cannot rebuild from the database (a process cache that
    reloads from its tables is fine), so that any worker can run any batch.
    """

    def before_insert(self, session: Session, batch: Batch) -> None:
        """Fill the analysis fields of ``batch.analysed_rows`` (no ids yet)."""

    def after_insert(self, session: Session, batch: Batch) -> None:
        """Store what links to the rows' ids (every row's ``id`` is set)."""
