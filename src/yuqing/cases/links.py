"""Items linked to a case (关联信息) and notes on its timeline (备注).

Linking and unlinking are for the office or the handling unit while the case is open; a
note is for anyone who sees the case. Each writes one audit row and one timeline entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import access, opening, timeline
from yuqing.cases.models import Case, CaseEntry, CaseMention
from yuqing.cases.schemas import CaseError, CaseNotFound, CasePermissionError


def _check_edit(principal: Principal, case: Case) -> None:
    if case.status == "closed" or not access.may_act(principal, case, "handle"):
        raise CasePermissionError(
            "permission", "只有宣传部或承办单位可以修改未办结处置单的关联信息"
        )


def attach_mentions(
    session: Session, *, principal: Principal, case: Case, mention_ids: Sequence[int]
) -> list[int]:
    """Link more items to the case; returns those newly linked."""
    _check_edit(principal, case)
    opening.check_links(session, mention_ids=mention_ids, event_id=None)
    have = set(access.list_mention_ids(session, case=case))
    new = [m for m in dict.fromkeys(mention_ids) if m not in have]
    if not new:
        return []
    opening.link_items(session, case=case, mention_ids=new, event_id=None)
    _log_links(session, principal, case, "attach", new)
    return new


def detach_mentions(
    session: Session, *, principal: Principal, case: Case, mention_ids: Sequence[int]
) -> list[int]:
    """Unlink items from the case; returns those unlinked."""
    _check_edit(principal, case)
    have = set(access.list_mention_ids(session, case=case))
    gone = [m for m in dict.fromkeys(mention_ids) if m in have]
    if not gone:
        return []
    session.execute(
        delete(CaseMention).where(CaseMention.case_id == case.id, CaseMention.mention_id.in_(gone))
    )
    _log_links(session, principal, case, "detach", gone)
    return gone


def _log_links(
    session: Session, principal: Principal, case: Case, kind: str, ids: list[int]
) -> None:
    verb = "关联" if kind == "attach" else "取消关联"
    listed = "、".join(str(i) for i in ids)
    timeline.record_change(
        session,
        actor=principal.actor,
        case=case,
        summary=f"舆情处置单 #{case.id}：{verb}信息 {listed}",
        changes={"mentions": [None, ids] if kind == "attach" else [ids, None]},
    )
    timeline.create_entry(
        session, case=case, actor=principal.actor, kind=kind, text=f"{verb}信息 {listed}"
    )


def comment(session: Session, *, principal: Principal, case: Case, text: str) -> CaseEntry:
    """A note on the timeline by anyone who may see the case."""
    if not access.sees_case(principal, case) or not principal.can(access.READ):
        raise CaseNotFound(f"舆情处置单 {case.id} 不存在或不在您的查看范围内")
    body = (text or "").strip()
    if not body:
        raise CaseError("comment_empty", "备注内容不能为空")
    timeline.record_change(
        session,
        actor=principal.actor,
        case=case,
        summary=f"舆情处置单 #{case.id}：备注",
    )
    return timeline.create_entry(
        session, case=case, actor=principal.actor, kind="comment", text=body[:5000]
    )
