"""One guarded function per status change of a case (研判, 下发, 签收, 反馈, 审核, 退回, 办结,
上报, 重新打开), and the official response recorded on the way.

Each checks its guard (``access.check_transition``: from which states, who may), sets its
timestamp, writes one audit row and one timeline entry, starts/stops/pauses the SLA clocks and
puts its notifications in the outbox; a refused one raises CaseError and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import access, clocks, config, grades, recipients, timeline
from yuqing.cases.models import Case, CaseEntry, Grade
from yuqing.cases.schemas import CaseError, CasePermissionError
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import format_local
from yuqing.notify.schemas import Recipient
from yuqing.org import service as org
from yuqing.org.models import Person, Unit


def _apply(
    session: Session,
    *,
    principal: Principal | Actor,
    case: Case,
    action: str,
    text: str,
    values: dict[str, Any] | None = None,
    events: Iterable[str] = (),
    regrade: bool = False,
) -> CaseEntry:
    """The common body of a transition: values, timestamp, clocks, audit, timeline."""
    actor = principal.actor if isinstance(principal, Principal) else principal
    target = access.TRANSITIONS[action].target
    now = clocks.current_time()
    before_status = case.status
    values = dict(values or {})
    values["status"] = target
    values[clocks.STAMP[target]] = now
    marks = {target}
    for event in events:
        if getattr(case, clocks.STAMP[event]) is None:
            values[clocks.STAMP[event]] = now
            marks.add(event)
    before = {k: getattr(case, k) for k in values}
    for key, value in values.items():
        setattr(case, key, value)
    session.flush()
    clocks.update_clocks(
        session, case=case, marks=marks, before=before_status, now=now, regrade=regrade
    )
    timeline.record_change(
        session,
        actor=actor,
        case=case,
        summary=f"舆情处置单 #{case.id}“{case.title[:60]}”：{config.ACTIONS[action]}",
        changes=audit.diff(before, values),
    )
    return timeline.create_entry(
        session,
        case=case,
        actor=actor,
        kind="transition",
        text=text,
        from_status=before_status,
        to_status=target,
    )


def triage(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    grade_key: str,
    summary: str | None = None,
) -> Case:
    """研判: set the grade; its clocks start (back-dated to the report where they run from it)."""
    access.check_transition(case, principal, "triage")
    grade = grades.get_grade(session, key=grade_key)
    values: dict[str, Any] = {"grade_id": grade.id}
    if summary is not None and summary.strip():
        values["summary"] = summary.strip()
    _apply(
        session,
        principal=principal,
        case=case,
        action="triage",
        text=f"研判定级：{grade.name}"
        + (f"。{summary.strip()}" if summary and summary.strip() else ""),
        values=values,
        regrade=True,
    )
    return case


def _assignee(session: Session, unit: Unit, person_id: int | None) -> Person:
    person_id = person_id if person_id is not None else unit.head_person_id
    if person_id is None:
        raise CaseError("no_responsible", f"该单位没有指定负责人（{unit.name}），请指定承办人")
    person = org.get_person(session, person_id=person_id)
    if person is None or not person.active:
        raise CaseError("person_unknown", f"承办人 {person_id} 不存在或已停用")
    return person


def assign(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    unit_id: int,
    person_id: int | None = None,
) -> Case:
    """下发: hand the case to a unit and its responsible person (the unit head by default)."""
    access.check_transition(case, principal, "assign")
    if case.grade_id is None:
        raise CaseError("no_grade", "请先研判定级，再下发")
    unit = org.get_unit(session, unit_id=unit_id)
    if unit is None:
        raise CaseError("unit_unknown", f"单位 {unit_id} 不存在")
    person = _assignee(session, unit, person_id)
    entry = _apply(
        session,
        principal=principal,
        case=case,
        action="assign",
        text=f"下发至 {unit.name}，承办人 {person.name}",
        values={"unit_id": unit.id, "assignee_person_id": person.id},
    )
    told = [Recipient(kind="person", id=person.id)]
    if unit.head_person_id and unit.head_person_id != person.id:
        told.append(Recipient(kind="person", id=unit.head_person_id))
    recipients.notify_case(
        session,
        case=case,
        title=f"舆情处置任务：{case.title}",
        text=_deadlines_text(session, case),
        recipients=told,
        dedupe_key=f"case:{case.id}:assign:{entry.id}",
        level=_grade_level(session, case),
    )
    return case


def _grade_level(session: Session, case: Case) -> Literal["warning", "urgent"]:
    grade = session.get(Grade, case.grade_id) if case.grade_id else None
    return "urgent" if grade is not None and grade.color in {"red", "orange"} else "warning"


def _deadlines_text(session: Session, case: Case) -> str:
    lines = [case.link or "", case.summary[:300]]
    for view in clocks.list_timers(session, case=case):
        if view.state in {"running", "overdue"}:
            guess = f"（{view.rule_label}）" if view.rule_guessed else ""
            lines.append(f"{view.label}时限：{format_local(view.due_at)} 前{guess}")
    return "\n".join(x for x in lines if x)


def start(session: Session, *, principal: Principal, case: Case) -> Case:
    """处置中: the unit has taken the case (签收)."""
    access.check_transition(case, principal, "start")
    _apply(session, principal=principal, case=case, action="start", text="签收，开始处置")
    return case


def _response_events(response_text: str | None, response_url: str | None) -> list[str]:
    return ["info_published", "responded"] if (response_text or response_url) else []


def give_feedback(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    feedback_text: str,
    response_text: str | None = None,
    response_url: str | None = None,
) -> Case:
    """已反馈: the unit's report (what was found and done) and, if any, the official response
    and where it was published. The case then waits for the office's review (审核)."""
    access.check_transition(case, principal, "give_feedback")
    text = (feedback_text or "").strip()
    if not text:
        raise CaseError("feedback_empty", "反馈内容不能为空")
    values: dict[str, Any] = {"feedback_text": text}
    if response_text and response_text.strip():
        values["response_text"] = response_text.strip()
    if response_url and response_url.strip():
        values["response_url"] = response_url.strip()
    entry = _apply(
        session,
        principal=principal,
        case=case,
        action="give_feedback",
        text=f"反馈：{text}",
        values=values,
        events=_response_events(values.get("response_text"), values.get("response_url")),
    )
    recipients.notify_case(
        session,
        case=case,
        title=f"舆情处置已反馈，待审核：{case.title}",
        text=text[:500],
        recipients=recipients.list_publicity_recipients(session),
        dedupe_key=f"case:{case.id}:feedback:{entry.id}",
        level="info",
    )
    return case


def record_response(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    response_text: str,
    response_url: str | None = None,
    kind: Literal["info", "public"] = "public",
) -> Case:
    """Record the official text (权威信息 or 公开回应) before the feedback; it stops the
    clocks waiting for it. Not a status change."""
    if case.status == "closed" or not access.may_act(principal, case, "handle"):
        raise CasePermissionError("permission", "只有宣传部或承办单位可以登记回应，且处置单未办结")
    text = response_text.strip()
    if not text:
        raise CaseError("response_empty", "回应内容不能为空")
    now = clocks.current_time()
    events = ["info_published"] if kind == "info" else ["info_published", "responded"]
    marks = {e for e in events if getattr(case, clocks.STAMP[e]) is None}
    before = {"response_text": case.response_text, "response_url": case.response_url}
    case.response_text, case.response_url = text, (response_url or "").strip() or None
    for event in marks:
        setattr(case, clocks.STAMP[event], now)
    session.flush()
    clocks.update_clocks(
        session, case=case, marks=marks, before=case.status, now=now, regrade=False
    )
    timeline.record_change(
        session,
        actor=principal.actor,
        case=case,
        summary=f"舆情处置单 #{case.id}：登记{'权威信息' if kind == 'info' else '公开回应'}",
        changes=audit.diff(before, {"response_text": text, "response_url": case.response_url}),
    )
    timeline.create_entry(
        session,
        case=case,
        actor=principal.actor,
        kind="comment",
        text=f"登记{'权威信息' if kind == 'info' else '公开回应'}：{text}",
    )
    return case


def accept(session: Session, *, principal: Principal, case: Case, note: str | None = None) -> Case:
    """审核通过: the office accepts the unit's feedback; the case waits for 办结."""
    access.check_transition(case, principal, "accept")
    extra = f"：{note.strip()}" if note and note.strip() else ""
    _apply(session, principal=principal, case=case, action="accept", text="审核通过" + extra)
    return case


def return_for_more(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """退回补充: the office asks the unit for more; clocks pause if their policy says so."""
    access.check_transition(case, principal, "return_for_more")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "退回需要说明原因")
    entry = _apply(
        session, principal=principal, case=case, action="return_for_more", text=f"退回补充：{text}"
    )
    recipients.notify_case(
        session,
        case=case,
        title=f"舆情处置被退回补充：{case.title}",
        text=text,
        recipients=recipients.list_responsible_recipients(session, case=case),
        dedupe_key=f"case:{case.id}:return:{entry.id}",
    )
    return case


def close(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    lessons: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> Case:
    """办结: after review; or straight from 新报送/研判 when no handling is needed, which
    needs a note in ``lessons`` saying why. Every running clock stops."""
    access.check_transition(case, principal, "close")
    note = (lessons or "").strip()
    if case.status != "review" and not note:
        raise CaseError("close_reason", "未经处置直接办结，需要在经验教训中说明原因")
    words = tags.split() if isinstance(tags, str) else list(tags or [])
    values: dict[str, Any] = {
        "lessons": note or case.lessons,
        "tags": " ".join(dict.fromkeys(words))[:500],
    }
    _apply(
        session,
        principal=principal,
        case=case,
        action="close",
        text="办结" + (f"：{note}" if note else ""),
        values=values,
    )
    return case


def escalate(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """上报: the unit cannot handle it; it goes back to the publicity office and the leading
    group at once."""
    access.check_transition(case, principal, "escalate")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "上报需要说明原因")
    entry = _apply(session, principal=principal, case=case, action="escalate", text=f"上报：{text}")
    recipients.notify_case(
        session,
        case=case,
        title=f"舆情上报：{case.title}",
        text=f"{text}\n上报人：{principal.actor.name}",
        recipients=recipients.list_publicity_recipients(session)
        + recipients.list_leading_group_recipients(session),
        dedupe_key=f"case:{case.id}:escalate:{entry.id}",
        level="urgent",
    )
    return case


def reopen(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """重新打开 a closed case; it goes on by 研判 or 下发, and its clocks that run from the
    report start again from now."""
    access.check_transition(case, principal, "reopen")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "重新打开需要说明原因")
    _apply(
        session,
        principal=principal,
        case=case,
        action="reopen",
        text=f"重新打开：{text}",
        events=(),
    )
    clocks.update_clocks(
        session,
        case=case,
        marks={"new"},
        before="reopened",
        now=clocks.current_time(),
        regrade=False,
    )
    return case
