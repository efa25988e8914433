"""Opening a case (报送): by hand, or from collected items, an event or an alert.

Opening again from the same mention, event or alert returns the case already opened (the
source is unique on the case; a race is settled by the constraint), so a double click or two
people at once never make two cases.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.alerts import service as alerts
from yuqing.auth.schemas import Principal
from yuqing.cases import access, clocks, recipients, timeline
from yuqing.cases.models import Case, CaseEvent, CaseMention
from yuqing.cases.schemas import CaseError, CasePermissionError
from yuqing.core import audit
from yuqing.core.database import savepoint
from yuqing.events import service as events
from yuqing.mentions import service as mentions


def _existing(session: Session, source_type: str, source_id: int | None) -> Case | None:
    if source_id is None:
        return None
    found = session.execute(
        select(Case).where(Case.source_type == source_type, Case.source_id == source_id)
    ).scalar_one_or_none()
    if found is None and source_type == "mention":
        linked = select(CaseMention.case_id).where(CaseMention.mention_id == source_id)
        found = session.execute(
            select(Case).where(Case.id.in_(linked)).order_by(Case.id).limit(1)
        ).scalar_one_or_none()
    return found


def _source_of(
    mention_ids: Sequence[int], event_id: int | None, alert_id: int | None
) -> tuple[str, int | None]:
    if alert_id is not None:
        return "alert", alert_id
    if event_id is not None:
        return "event", event_id
    if mention_ids:
        return "mention", mention_ids[0]
    return "manual", None


def open_case(
    session: Session,
    *,
    principal: Principal,
    title: str,
    link: str | None = None,
    summary: str = "",
    mention_ids: Sequence[int] = (),
    event_id: int | None = None,
    alert_id: int | None = None,
) -> Case:
    """Report a case (报送). Opening again from the same mention, event or alert returns the
    case already opened (no second row, no second audit)."""
    if not principal.can(access.REPORT) and not principal.can(access.MANAGE):
        raise CasePermissionError("permission", "您的账号没有报送舆情的权限")
    title = " ".join(title.split())[:300]
    if not title:
        raise CaseError("title", "报送舆情需要填写标题")
    source_type, source_id = _source_of(list(mention_ids), event_id, alert_id)
    found = _existing(session, source_type, source_id)
    if found is not None:
        return found
    check_links(session, mention_ids=mention_ids, event_id=event_id)
    now = clocks.current_time()
    case = Case(
        title=title,
        link=(link or "").strip() or None,
        summary=summary.strip(),
        status="new",
        reporter_user_id=principal.user_id,
        reporter_unit_id=principal.unit_id,
        created_at=now,
        reported_at=now,
        source_type=source_type,
        source_id=source_id,
    )
    try:
        with savepoint(session):
            session.add(case)
            session.flush()
    except IntegrityError:  # another request opened it at the same moment
        again = _existing(session, source_type, source_id)
        if again is None:
            raise
        return again
    link_items(session, case=case, mention_ids=mention_ids, event_id=event_id)
    _record_opening(session, principal, case)
    return case


def check_links(session: Session, *, mention_ids: Sequence[int], event_id: int | None) -> None:
    """CaseError unless every item and the event exist."""
    for mention_id in mention_ids:
        if mentions.get(session, mention_id=mention_id) is None:
            raise CaseError("mention_unknown", f"信息 {mention_id} 不存在")
    if event_id is not None and events.get(session, event_id=event_id) is None:
        raise CaseError("event_unknown", f"事件 {event_id} 不存在")


def link_items(
    session: Session, *, case: Case, mention_ids: Sequence[int], event_id: int | None
) -> None:
    """Link the items (each once) and the event to the case."""
    for mention_id in dict.fromkeys(mention_ids):
        session.add(CaseMention(case_id=case.id, mention_id=mention_id))
    if event_id is not None:
        session.add(CaseEvent(case_id=case.id, event_id=event_id))
    session.flush()


def _record_opening(session: Session, principal: Principal, case: Case) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action="create",
        object_type="case",
        object_id=case.id,
        summary=f"报送舆情 #{case.id}“{case.title[:60]}”",
        changes={"title": [None, case.title], "link": [None, case.link]},
    )
    entry = timeline.create_entry(
        session,
        case=case,
        actor=principal.actor,
        kind="transition",
        text=f"报送：{case.title}",
        to_status="new",
    )
    recipients.notify_case(
        session,
        case=case,
        title=f"新报送舆情：{case.title}",
        text="\n".join(
            x for x in (case.link or "", case.summary[:300], f"报送人：{principal.actor.name}") if x
        ),
        recipients=recipients.list_publicity_recipients(session),
        dedupe_key=f"case:{case.id}:open:{entry.id}",
    )


def open_from_mention(session: Session, *, principal: Principal, mention_id: int) -> Case:
    """Report the incident a collected item is about (its title and link)."""
    return open_from_mentions(session, principal=principal, mention_ids=[mention_id])


def open_from_mentions(
    session: Session, *, principal: Principal, mention_ids: Sequence[int]
) -> Case:
    """Report the incident collected items are about (信息流's batch 开启处置): the first
    item's title and link, every item linked. Opening again from the same first item
    returns its case."""
    if not mention_ids:
        raise CaseError("mention_unknown", "没有选中信息")
    mention_id = mention_ids[0]
    mention = mentions.get(session, mention_id=mention_id)
    if mention is None:
        raise CaseError("mention_unknown", f"信息 {mention_id} 不存在")
    title = mention.title or mention.text[:60]
    return open_case(
        session,
        principal=principal,
        title=title or f"信息 {mention_id}",
        link=mention.url,
        summary=mention.text[:500],
        mention_ids=list(mention_ids),
    )


def open_from_event(session: Session, *, principal: Principal, event_id: int) -> Case:
    """Report an event (its title, and the link of its representative item)."""
    event = events.get(session, event_id=event_id)
    if event is None:
        raise CaseError("event_unknown", f"事件 {event_id} 不存在")
    rep = (
        mentions.get(session, mention_id=event.representative_id)
        if event.representative_id
        else None
    )
    return open_case(
        session,
        principal=principal,
        title=event.title or f"事件 {event_id}",
        link=rep.url if rep else None,
        summary=(rep.text[:500] if rep else ""),
        mention_ids=[rep.id] if rep else [],
        event_id=event_id,
    )


def open_from_alert(session: Session, *, principal: Principal, alert_id: int) -> Case:
    """Report what an alert fired on (its mention and event are linked)."""
    alert = alerts.get_alert(session, alert_id=alert_id)
    if alert is None:
        raise CaseError("alert_unknown", f"预警 {alert_id} 不存在")
    mention = mentions.get(session, mention_id=alert.mention_id) if alert.mention_id else None
    known = alert.event_id and events.get(session, event_id=alert.event_id)
    event_id = alert.event_id if known else None
    return open_case(
        session,
        principal=principal,
        title=alert.title or alert.rule_name or f"预警 {alert_id}",
        link=mention.url if mention else None,
        summary=mention.text[:500] if mention else "",
        mention_ids=[mention.id] if mention else [],
        event_id=event_id,
        alert_id=alert_id,
    )
