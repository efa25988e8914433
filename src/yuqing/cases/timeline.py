"""The timeline of a case (处置记录): one entry per transition, comment, link or reminder."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.cases import clocks
from yuqing.cases.models import Case, CaseEntry
from yuqing.core import audit
from yuqing.core.audit import Actor


def list_entries(session: Session, *, case: Case) -> list[CaseEntry]:
    """The case's entries, oldest first."""
    statement = select(CaseEntry).where(CaseEntry.case_id == case.id)
    return list(session.execute(statement.order_by(CaseEntry.at, CaseEntry.id)).scalars())


def create_entry(
    session: Session,
    *,
    case: Case,
    actor: Actor,
    kind: str,
    text: str,
    from_status: str | None = None,
    to_status: str | None = None,
) -> CaseEntry:
    """One line on the timeline, stamped with the case clock's time (``clocks.current_time``)."""
    entry = CaseEntry(
        case_id=case.id,
        at=clocks.current_time(),
        actor_id=actor.user_id,
        actor_name=actor.name[:100],
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )
    session.add(entry)
    session.flush()
    return entry


def record_change(
    session: Session,
    *,
    actor: Actor,
    case: Case,
    summary: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """The audit row of a change to one case (its timeline entry is written apart)."""
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="case",
        object_id=case.id,
        summary=summary,
        changes=changes,
    )
