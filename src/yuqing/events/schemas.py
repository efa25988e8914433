"""Shapes the events pages and API read: summaries, trend points, chain nodes, hot topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from yuqing.events.models import Event
from yuqing.mentions.models import Mention


@dataclass
class EventRow:
    """One line of the events list."""

    event: Event
    trend: list[int]  # counts per hour over the event's last hours of activity
    related: list[Event] = field(default_factory=list)  # 相关事件: the same story's others


@dataclass
class ChainNode:
    """A post in the repost chain (转发链): the account as published, never a profile."""

    mention: Mention
    source_name: str
    depth: int
    children: list[ChainNode] = field(default_factory=list)


@dataclass
class HotTopic:
    """A key phrase rising in the last hour against the day before it."""

    term: str
    last_hour: int
    per_hour_before: float
    ratio: float
    event_ids: list[int]


@dataclass
class RisingEvent:
    """An event whose last hour is well above its hourly rate of the day before."""

    event: Event
    last_hour: int
    per_hour_before: float
    ratio: float


@dataclass
class EventDetail:
    """Everything the page of one event shows (the members list is paged separately)."""

    event: Event
    representative: Mention | None
    first: Mention | None
    by_kind: list[tuple[str, int]]
    by_source: list[tuple[str, int]]
    trend: list[tuple[datetime, int]]
    chain: list[ChainNode]
    chain_total: int
    merged_into: Event | None = None
