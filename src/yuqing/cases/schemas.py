"""What the cases service hands out: board rows, timer views, unit figures, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field


class CaseError(ValueError):
    """A refused case action; ``rule`` names the rule (for tests and logs), ``message`` says it
    to the user in Chinese. Nothing was changed."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class CasePermissionError(CaseError):
    """The principal may see the case but not do this to it (the view answers 403)."""


class CaseNotFound(LookupError):
    """No such case, or outside the principal's units (the view answers 404)."""


@dataclass(frozen=True)
class TimerView:
    """One clock of a case as the page shows it."""

    clock: str
    label: str
    started_at: datetime
    due_at: datetime
    seconds_left: float  # negative when overdue; frozen at the moment it was met or paused
    state: str  # running | paused | met | missed | overdue
    state_label: str
    escalation_step: int
    rule_label: str = ""  # the calendar the due time was counted on (calendar.rule_label)
    rule_guessed: bool = False  # counted Monday to Friday for a year without official data


@dataclass(frozen=True)
class BoardRow:
    """An open case on the board, with its nearest clock."""

    case_id: int
    title: str
    status: str
    status_label: str
    grade_key: str | None
    grade_name: str
    grade_color: str
    unit_id: int | None
    unit_name: str
    assignee_name: str
    clock: str | None
    clock_label: str
    due_at: datetime | None
    seconds_left: float | None
    overdue: bool


@dataclass
class UnitFigures:
    """A unit's accountability figures for one month (问责统计)."""

    unit_id: int
    unit_name: str
    received: int = 0
    met: dict[str, int] = field(default_factory=dict)  # clock → met in time
    missed: dict[str, int] = field(default_factory=dict)  # clock → late or still overdue
    overdue: int = 0  # cases with at least one clock missed
    avg_hours_to_feedback: float | None = None


@dataclass
class TimerReport:
    """What one run of the timers did."""

    checked: int = 0
    reminders: int = 0
    escalations: int = 0
    notifications: int = 0
    details: list[str] = field(default_factory=list)


class GradeIn(BaseModel):
    """An edit of a grade."""

    name: str = Field(min_length=1, max_length=60)
    order: int = 0
    color: str = Field(default="blue", max_length=20)
    is_default: bool = False


class ClockIn(BaseModel):
    """An edit of one SLA clock of a grade."""

    clock: str
    starts_on: str
    stops_on: str
    amount: float = Field(gt=0)
    unit: str = "hours"
    pause_when_returned: bool = False
