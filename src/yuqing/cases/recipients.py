"""Who hears about a case, and the one way a case message goes out (the notify outbox).

Recipients are named by role, unit or person and resolved by notify when it sends, so a
message queued now reaches whoever holds the role then.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from yuqing.cases import config
from yuqing.cases.models import Case
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.org import service as org


def list_publicity_recipients(session: Session) -> list[Recipient]:
    """The publicity office: holders of the duty role 宣传部管理员."""
    roles = [r for r in org.list_duty_roles(session) if r.key == config.PUBLICITY_DUTY_ROLE]
    return [Recipient(kind="role", id=roles[0].id)] if roles else []


def list_leading_group_recipients(session: Session) -> list[Recipient]:
    """The people of every unit of kind 领导小组."""
    kinds = {k.id for k in org.list_kinds(session) if k.key == config.LEADING_GROUP_KIND}
    units = [u.id for u in org.list_units(session) if u.kind_id in kinds]
    return [Recipient(kind="unit", id=u) for u in units]


def list_responsible_recipients(session: Session, *, case: Case) -> list[Recipient]:
    """The assignee; before assignment, the publicity office."""
    if case.assignee_person_id is not None:
        return [Recipient(kind="person", id=case.assignee_person_id)]
    return list_publicity_recipients(session)


def list_unit_head_recipients(session: Session, *, case: Case) -> list[Recipient]:
    """The head of the handling unit; without one, the publicity office."""
    unit = org.get_unit(session, unit_id=case.unit_id) if case.unit_id is not None else None
    if unit is None or unit.head_person_id is None:
        return list_publicity_recipients(session)
    return [Recipient(kind="person", id=unit.head_person_id)]


def notify_case(
    session: Session,
    *,
    case: Case,
    title: str,
    text: str,
    recipients: list[Recipient],
    dedupe_key: str,
    level: Literal["info", "warning", "urgent"] = "warning",
) -> int:
    """One message about the case through the outbox; the number of deliveries queued."""
    if not recipients:
        return 0
    message = Message(title=title, text=text, level=level, link=config.CASE_LINK.format(id=case.id))
    rows = notify.enqueue(
        session,
        message=message,
        recipients=recipients,
        dedupe_key=dedupe_key,
        source_type="case",
        source_id=case.id,
    )
    return len(rows)
