"""Who sees which case, and who may take which action on it (the guard of every transition).

A principal sees the cases of its units (handled or reported by them; the office sees all);
``list_cases`` and ``get_case`` never return another unit's case. ``TRANSITIONS`` names each
action with the states it leaves from, the state it enters and who may take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import config
from yuqing.cases.models import Case, CaseEvent, CaseMention, Grade
from yuqing.cases.schemas import CaseError, CaseNotFound, CasePermissionError
from yuqing.core.counting import Count, capped_count

READ, REPORT, MANAGE, HANDLE = "cases.read", "cases.report", "cases.manage", "cases.handle"


@dataclass(frozen=True)
class Transition:
    """A named action: the states it leaves from, the state it enters, who may."""

    sources: frozenset[str]
    target: str
    who: Literal["manage", "handle"]  # handle: the office, or the case's own unit


TRANSITIONS: dict[str, Transition] = {
    "triage": Transition(
        frozenset({"new", "triaged", "escalated", "reopened"}), "triaged", "manage"
    ),
    "assign": Transition(
        frozenset({"triaged", "assigned", "in_progress", "returned", "escalated", "reopened"}),
        "assigned",
        "manage",
    ),
    "start": Transition(frozenset({"assigned", "returned"}), "in_progress", "handle"),
    "give_feedback": Transition(frozenset({"in_progress", "returned"}), "feedback", "handle"),
    "accept": Transition(frozenset({"feedback"}), "review", "manage"),
    "return_for_more": Transition(frozenset({"feedback", "review"}), "returned", "manage"),
    "close": Transition(frozenset({"review", "new", "triaged"}), "closed", "manage"),
    "escalate": Transition(
        frozenset({"triaged", "assigned", "in_progress", "returned"}), "escalated", "handle"
    ),
    "reopen": Transition(frozenset({"closed"}), "reopened", "manage"),
}

# --- reading: access, lists ----------------------------------------------------------


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """Cases of the principal's units (assigned to them or reported by them)."""
    if principal.visible_units is None:
        return None
    units = sorted(principal.visible_units)
    return or_(Case.unit_id.in_(units), Case.reporter_unit_id.in_(units))


def sees_case(principal: Principal, case: Case) -> bool:
    """Whether the case is handled or reported by one of the principal's units."""
    if principal.visible_units is None:
        return True
    return principal.sees_unit(case.unit_id) or principal.sees_unit(case.reporter_unit_id)


def get_case(session: Session, *, principal: Principal, case_id: int) -> Case:
    """The case, or CaseNotFound when it does not exist or lies outside the principal's
    units (the view answers 404 either way)."""
    case = session.get(Case, case_id)
    if case is None or not sees_case(principal, case):
        raise CaseNotFound(f"舆情处置单 {case_id} 不存在或不在您的查看范围内")
    if not principal.can(READ):
        raise CasePermissionError("permission", "您的账号没有查看舆情处置的权限")
    return case


def list_cases(
    session: Session,
    *,
    principal: Principal,
    status: str | Sequence[str] | None = None,
    grade: str | None = None,
    unit_id: int | None = None,
    q: str | None = None,
    tag: str | None = None,
    closed: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], Count]:
    """Cases the principal may see, newest first, with the total before paging (capped:
    ``counting.COUNT_CAP``)."""
    if not principal.can(READ):
        raise CasePermissionError("permission", "您的账号没有查看舆情处置的权限")
    clauses: list[ColumnElement[bool]] = []
    scope = _scope(principal)
    if scope is not None:
        clauses.append(scope)
    if status:
        clauses.append(Case.status.in_([status] if isinstance(status, str) else list(status)))
    if grade:
        clauses.append(
            Case.grade_id == select(Grade.id).where(Grade.key == grade).scalar_subquery()
        )
    if unit_id is not None:
        clauses.append(Case.unit_id == unit_id)
    if closed is not None:
        clauses.append(Case.status == "closed" if closed else Case.status != "closed")
    if tag and tag.strip():
        padded = literal(" ") + Case.tags + literal(" ")
        clauses.append(padded.contains(f" {tag.strip()} ", autoescape=True))
    if q and q.strip():
        clauses.append(_text_match(q.strip()))
    total = capped_count(session, select(Case).where(*clauses))
    rows = session.execute(
        select(Case)
        .where(*clauses)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    return list(rows), total


_TEXT_COLUMNS = (
    Case.title,
    Case.summary,
    Case.feedback_text,
    Case.response_text,
    Case.lessons,
    Case.tags,
)


def _text_match(q: str) -> ColumnElement[bool]:
    """Every word (up to 8) in the title, summary, feedback, response, lessons or tags."""

    def anywhere(word: str) -> ColumnElement[bool]:
        return or_(
            *(
                func.lower(func.coalesce(c, "")).contains(word.lower(), autoescape=True)
                for c in _TEXT_COLUMNS
            )
        )

    return and_(*(anywhere(w) for w in q.split()[:8]))


def list_opened_cases(session: Session, *, start: datetime, end: datetime) -> list[Case]:
    """Cases opened in [start, end) (naive UTC), oldest first, of every unit: the caller
    keeps those its reader sees (``sees_case``)."""
    statement = (
        select(Case)
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at)
    )
    return list(session.execute(statement).scalars())


def get_case_of_event(session: Session, *, event_id: int) -> Case | None:
    """The first case opened on the event (by id), or None."""
    statement = (
        select(Case)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.event_id == event_id)
        .order_by(Case.id)
    )
    return session.execute(statement).scalars().first()


def list_mention_ids(session: Session, *, case: Case) -> list[int]:
    """The ids of the items linked to the case, in id order."""
    statement = select(CaseMention.mention_id).where(CaseMention.case_id == case.id)
    return list(session.execute(statement.order_by(CaseMention.mention_id)).scalars())


def list_event_ids(session: Session, *, case: Case) -> list[int]:
    """The ids of the events linked to the case, in id order."""
    statement = select(CaseEvent.event_id).where(CaseEvent.case_id == case.id)
    return list(session.execute(statement.order_by(CaseEvent.event_id)).scalars())


def status_label(status: str) -> str:
    """The Chinese label of a status key (the key itself when unknown)."""
    return config.STATUSES.get(status, status)


# --- permissions of an action ---------------------------------------------------------


def may_act(principal: Principal, case: Case, who: str) -> bool:
    """Whether the principal may act as ``who`` on the case: the office always; for
    "handle", also the handling unit with the permission to handle."""
    if principal.can(MANAGE) and principal.visible_units is None:
        return True
    if who == "manage":
        return False
    return principal.can(HANDLE) and case.unit_id is not None and principal.sees_unit(case.unit_id)


def allowed_transitions(case: Case, principal: Principal) -> list[str]:
    """The actions the principal may take on the case now (the page's buttons)."""
    return [
        name
        for name, t in TRANSITIONS.items()
        if case.status in t.sources and may_act(principal, case, t.who)
    ]


def check_transition(case: Case, principal: Principal, action: str) -> Transition:
    """The transition ``action``, or CaseError/CasePermissionError when the case's state or
    the principal does not allow it now."""
    t = TRANSITIONS[action]
    if case.status not in t.sources:
        raise CaseError(
            "state",
            f"当前状态“{status_label(case.status)}”不能执行“{config.ACTIONS[action]}”",
        )
    if not may_act(principal, case, t.who):
        who = "宣传部（舆情办）" if t.who == "manage" else "宣传部或承办单位"
        raise CasePermissionError("permission", f"只有{who}可以执行“{config.ACTIONS[action]}”")
    return t
