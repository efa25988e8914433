"""Typed values of assessment: a month, a credited item and the figures computed from them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from yuqing.core.timeutil import local_zone, to_utc_naive

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class AssessmentError(ValueError):
    """Refused input, with a message for the user (Chinese)."""


@dataclass(frozen=True)
class Month:
    """A calendar month of the institution's time zone (YYYY-MM)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = MONTH.match(text.strip())
        if not found:
            raise AssessmentError(f"月份“{text}”格式不对，应为 2026-11 这样的年-月")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year} 年 {self.month} 月"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as naive UTC, from local midnights."""
        zone = local_zone()

        def midnight(m: Month) -> datetime:
            return to_utc_naive(datetime.combine(date(m.year, m.month, 1), time(), zone))

        return midnight(self), midnight(self.next())


@dataclass(frozen=True)
class CreditItem:
    """One credited thing, traceable to its record: ``ref`` names it (case:12, activity:7,
    training:3:45) and is unique within a month."""

    ref: str
    kind: str  # a credit weight key
    person_id: int | None
    unit_id: int | None
    at: datetime
    points: float
    title: str = ""
    link: str = ""


@dataclass
class PersonFigures:
    """One person's month: items, completion of each task, quality and score."""

    person_id: int
    name: str
    unit_id: int | None
    role_ids: list[int]
    items: list[CreditItem] = field(default_factory=list)
    tasks: list[tuple[str, int, float, float]] = field(
        default_factory=list
    )  # metric, target, done, ratio
    completion: float = 1.0  # 0–1, mean over the person's tasks (1 without tasks)
    quality: float | None = None
    score: float | None = None  # None: not a team member this month, so not scored

    @property
    def member(self) -> bool:
        """Holds a duty role: someone removed from every role (撤销) has left the team and is
        shown apart, unscored, rather than as a member with nothing asked of them (100)."""
        return bool(self.role_ids)

    @property
    def credit(self) -> float:
        return round(sum(i.points for i in self.items), 2)


@dataclass
class UnitFigures:
    """A unit's month: its people's figures summed, and items not tied to a person."""

    unit_id: int
    name: str
    people: list[PersonFigures] = field(default_factory=list)
    unattributed: list[CreditItem] = field(default_factory=list)  # a case without assignee

    @property
    def items(self) -> list[CreditItem]:
        return [i for p in self.people for i in p.items] + self.unattributed

    @property
    def credit(self) -> float:
        return round(sum(i.points for i in self.items), 2)

    @property
    def members(self) -> list[PersonFigures]:
        return [p for p in self.people if p.member]

    @property
    def completion(self) -> float:
        tasked = [p.completion for p in self.members if p.tasks]
        return sum(tasked) / len(tasked) if tasked else 1.0

    @property
    def score(self) -> float:
        scored = [p.score for p in self.members if p.score is not None]
        return round(sum(scored) / len(scored), 1) if scored else 0.0


@dataclass
class MonthFigures:
    """Everything the month's pages and bulletin show."""

    month: Month
    units: list[UnitFigures]
    people: dict[int, PersonFigures]
    items: list[CreditItem]
    role_names: dict[int, str]
    tasks_from: str  # the month whose tasks apply (copied forward when the month has none)
