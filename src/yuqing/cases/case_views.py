"""Desk pages of one case (舆情处置单): the page with its timeline, clocks and links, and one
route per action on it (研判, 下发, 签收, 反馈, 登记回应, 审核, 退回, 办结, 上报, 重新打开, 备注,
关联信息).

Access is the service's: CaseNotFound → 404 (also for another unit's case), a refused
permission → 403, a refused rule (CaseError) → the page again with the rule's message (422)
and nothing changed. Routes also declare the permission they need. A viewer of a unit that
reported a case another unit handles sees the case, not that unit's name or people.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth import service as auth
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.cases import config, service
from yuqing.cases.models import Case
from yuqing.cases.schemas import CaseError, CaseNotFound, CasePermissionError
from yuqing.core.database import SessionDep
from yuqing.editorial import config as editorial_config
from yuqing.editorial import service as editorial
from yuqing.events import service as events
from yuqing.mentions import service as mentions
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, refused, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require("cases.read"))]
Reporter = Annotated[Principal, Depends(require("cases.report"))]
Manager = Annotated[Principal, Depends(require("cases.manage"))]
Handler = Annotated[Principal, Depends(require("cases.handle"))]
Text = Annotated[str, Form(max_length=20_000)]
HIDDEN_ACTOR = "承办单位"  # signs the handling unit's steps for a viewer who may not see it

ENTRY_KINDS = {
    "comment": "备注",
    "attach": "关联信息",
    "detach": "取消关联",
    "reminder": "时限提醒",
    "escalation": "超时升级",
    "deadline": "时限重算",
    "statement": "官方声明",
}
# Timestamps shown on the case page after the report, in the order of the flow.
STAMPS = (
    ("triaged_at", "研判时间"),
    ("assigned_at", "下发时间"),
    ("in_progress_at", "签收时间"),
    ("info_published_at", "发布权威信息"),
    ("responded_at", "公开回应"),
    ("feedback_at", "反馈时间"),
    ("returned_at", "退回时间"),
    ("reviewed_at", "审核时间"),
    ("escalated_at", "上报时间"),
    ("closed_at", "办结时间"),
    ("reopened_at", "重新打开"),
)
SOURCE_LABELS = {"manual": "人工报送", "mention": "信息", "event": "事件", "alert": "预警"}


def _not_found(request: Request) -> HTMLResponse:
    return error_page(
        request,
        status_code=404,
        title="找不到",
        message="该舆情处置单不存在，或不在您的查看范围内。",
    )


def int_or_none(value: str | None) -> int | None:
    """A form's id, or None when it is empty or not a plausible id."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def sees_unit_of(principal: Principal, case: Case) -> bool:
    """Whether the viewer may see who handles the case: a unit that reported a case another
    unit handles sees the case, not the other unit's name or people."""
    return case.unit_id is None or principal.sees_unit(case.unit_id)


def opened_case(
    request: Request,
    session: Session,
    principal: Principal,
    opener: Callable[[], Case],
    *,
    missing: str | None = None,
) -> Response:
    """Open (or find) a case with ``opener``, commit and go to it: the one answer the case
    buttons of a mention, event, alert and the mentions' batch 开启处置 give. ``missing``:
    the 404's message (the refused rule's own when None)."""
    try:
        case = opener()
    except CasePermissionError as error:
        return refused(request, error.message)
    except CaseError as error:
        session.rollback()
        message = error.message if missing is None else missing
        return error_page(request, status_code=404, title="找不到", message=message)
    session.commit()
    if not service.sees_case(principal, case):
        # Someone else's unit reported it first: say so without naming their case.
        return error_page(
            request,
            status_code=200,
            title="已有处置单",
            message="此条目已被报送，宣传部（舆情办）正在处置；该处置单不在您的查看范围内。",
        )
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# --- one case -------------------------------------------------------------------------


def _case_page(
    request: Request,
    session: Session,
    principal: Principal,
    case: Case,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """``form``: a refused action's fields, shown again as they were sent."""
    context = {
        "nav": "cases",
        **_case_context(session, principal, case),
        "form": form or {},
        "error": error,
        "notice": None if error else request.query_params.get("notice"),
        # The statements that answer the case (稿件审发), with their state and links.
        "statements": editorial.list_for_case(session, principal=principal, case_id=case.id),
        "statement_states": editorial_config.STATES,
    }
    return render(request, "cases/case.html", context, status_code=status_code)


def _case_context(session: Session, principal: Principal, case: Case) -> dict[str, Any]:
    shows_unit = sees_unit_of(principal, case)
    grade = {g.id: g for g in service.list_grades(session)}.get(case.grade_id or 0)
    unit = org.get_unit(session, unit_id=case.unit_id) if case.unit_id and shows_unit else None
    person = (
        org.get_person(session, person_id=case.assignee_person_id)
        if case.assignee_person_id and shows_unit
        else None
    )
    timers = service.list_timers(session, case=case)
    actions = service.allowed_transitions(case, principal)
    mention_ids = service.list_mention_ids(session, case=case)
    event_ids = service.list_event_ids(session, case=case)
    return {
        "case": case,
        "grade": grade,
        "status_label": service.status_label(case.status),
        "status_labels": config.STATUSES,
        "entry_kinds": ENTRY_KINDS,
        "unit_name": unit.name if unit else (config.HIDDEN_UNIT if case.unit_id else ""),
        "person": person,
        "reporter": _reporter(session, case),
        "stamps": [(label, getattr(case, f)) for f, label in STAMPS if getattr(case, f)],
        "source_label": _source_label(case),
        "timers": timers,
        "overdue": any(t.state == "overdue" for t in timers),
        "entries": _entries(session, principal, case, shows_unit),
        "mentions": mentions.get_many(session, mention_ids=mention_ids),
        "events": [e for i in event_ids if (e := events.get(session, event_id=i)) is not None],
        "actions": actions,
        "can_comment": principal.can("cases.read"),
        "can_link": _handles(principal, case, actions),
        "can_respond": _handles(principal, case, actions),
        **(_assign_choices(session) if "assign" in actions else {}),
        "grades": service.list_grades(session) if "triage" in actions else [],
    }


def _handles(principal: Principal, case: Case, actions: list[str]) -> bool:
    """Whether the viewer may record responses and links: the office, or the handling unit
    (the same rule as the service's, read off the actions it allows)."""
    if case.status == "closed":
        return False
    office = principal.can("cases.manage") and principal.visible_units is None
    return office or any(a in actions for a in ("start", "give_feedback", "escalate"))


def _assign_choices(session: Session) -> dict[str, Any]:
    units = org.list_units(session)
    labels = org.unit_labels(units)
    people = [p for p in org.list_people(session) if p.active and p.unit_id]
    staffed = {p.unit_id for p in people}
    return {
        "units": sorted(labels.items(), key=lambda kv: kv[1]),
        "people": people,
        "unit_names": labels,
        "unstaffed": {u.id for u in units if u.id not in staffed},  # no one to pick there
    }


def _reporter(session: Session, case: Case) -> str:
    user = auth.get_user(session, user_id=case.reporter_user_id) if case.reporter_user_id else None
    return (user.display_name or user.username) if user else ""


def _source_label(case: Case) -> str:
    label = SOURCE_LABELS.get(case.source_type, case.source_type)
    return f"{label} #{case.source_id}" if case.source_id else label


def _entries(session: Session, principal: Principal, case: Case, shows_unit: bool) -> list[Any]:
    entries = service.list_entries(session, case=case)
    if shows_unit:
        return entries
    # The hand-off line names the other unit and its person, and the unit's own steps are
    # signed by its people: say only that it was handed on and that the handling unit acted.
    hidden = _unseen_unit_accounts(session, principal, {e.actor_id for e in entries})
    masked: list[Any] = []
    for e in entries:
        handed_on = e.kind == "transition" and e.to_status == "assigned"
        if handed_on or e.actor_id in hidden:
            actor = HIDDEN_ACTOR if e.actor_id in hidden else e.actor_name
            masked.append(replace_text(e, "已下发承办单位" if handed_on else e.text, actor))
        else:
            masked.append(e)
    return masked


def _unseen_unit_accounts(
    session: Session, principal: Principal, user_ids: set[int | None]
) -> set[int]:
    """Accounts of a unit role whose unit the viewer does not see (the office's accounts,
    which see every unit, keep their names)."""
    ids = {i for i in user_ids if i}
    bound = auth.list_unit_accounts(session, user_ids=ids)
    return {user_id for user_id, unit_id in bound.items() if not principal.sees_unit(unit_id)}


def replace_text(entry: Any, text: str, actor_name: str | None = None) -> dict[str, Any]:
    """A timeline entry as a plain mapping with its text (and signer) replaced (the row stays
    as stored)."""
    fields = ("at", "actor_name", "kind", "from_status", "to_status")
    mapping = {**{f: getattr(entry, f) for f in fields}, "text": text}
    if actor_name is not None:
        mapping["actor_name"] = actor_name
    return mapping


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, case_id: int, session: SessionDep, principal: Reader
) -> HTMLResponse:
    try:
        case = service.get_case(session, principal=principal, case_id=case_id)
    except CaseNotFound:
        return _not_found(request)
    return _case_page(request, session, principal, case)


def _act(
    request: Request,
    session: Session,
    principal: Principal,
    case_id: int,
    action: Any,
    notice: str,
    form: dict[str, str] | None = None,
) -> Response:
    """Run one action on a visible case: commit and go back to the page, or show why not
    (with the action's ``form`` fields kept)."""
    try:
        case = service.get_case(session, principal=principal, case_id=case_id)
    except CaseNotFound:
        return _not_found(request)
    try:
        action(case)
    except CaseNotFound:
        session.rollback()
        return _not_found(request)
    except CasePermissionError as error:
        session.rollback()
        return refused(request, error.message)
    except CaseError as error:
        session.rollback()
        case = service.get_case(session, principal=principal, case_id=case_id)
        return _case_page(
            request, session, principal, case, error=error.message, form=form, status_code=422
        )
    session.commit()
    return RedirectResponse(f"/cases/{case_id}?notice={quote(notice)}", status_code=303)


@router.post("/cases/{case_id}/triage", response_class=HTMLResponse)
def triage(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    grade: Annotated[str, Form(max_length=40)] = "",
    note: Text = "",
) -> Response:
    def run(case: Case) -> None:
        service.triage(session, principal=p, case=case, grade_key=grade, summary=note or None)

    return _act(request, session, p, case_id, run, "已研判定级")


@router.post("/cases/{case_id}/assign", response_class=HTMLResponse)
def assign(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    unit_id: Annotated[str, Form(max_length=12)] = "",
    person_id: Annotated[str, Form(max_length=12)] = "",
    note: Text = "",
) -> Response:
    def run(case: Case) -> None:
        unit = int_or_none(unit_id)
        if unit is None:
            raise CaseError("unit_missing", "请选择责任单位")
        person = int_or_none(person_id)
        if person is not None:
            chosen = org.get_person(session, person_id=person)
            if chosen is not None and chosen.unit_id != unit:
                raise CaseError("person_unit", f"责任人“{chosen.name}”不属于所选单位")
        service.assign(session, principal=p, case=case, unit_id=unit, person_id=person)

    form = {"unit_id": unit_id, "person_id": person_id, "note": note}
    return _act(request, session, p, case_id, run, "已下发", form)


@router.post("/cases/{case_id}/start", response_class=HTMLResponse)
def start(
    request: Request, case_id: int, session: SessionDep, _csrf: CsrfChecked, p: Handler
) -> Response:
    def run(case: Case) -> None:
        service.start(session, principal=p, case=case)

    return _act(request, session, p, case_id, run, "已签收")


@router.post("/cases/{case_id}/feedback", response_class=HTMLResponse)
def feedback(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Handler,
    feedback_text: Text = "",
    response_text: Text = "",
    response_url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def run(case: Case) -> None:
        _check_url(response_url)
        service.give_feedback(
            session,
            principal=p,
            case=case,
            feedback_text=feedback_text,
            response_text=response_text or None,
            response_url=response_url or None,
        )

    return _act(request, session, p, case_id, run, "已反馈")


def _check_url(url: str) -> None:
    if url.strip() and not url.strip().lower().startswith(("http://", "https://")):
        raise CaseError("response_url", "回应发布地址须以 http:// 或 https:// 开头")


@router.post("/cases/{case_id}/response", response_class=HTMLResponse)
def response(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Handler,
    response_text: Text = "",
    response_url: Annotated[str, Form(max_length=2000)] = "",
    kind: Annotated[str, Form(max_length=10)] = "public",
) -> Response:
    def run(case: Case) -> None:
        _check_url(response_url)
        service.record_response(
            session,
            principal=p,
            case=case,
            response_text=response_text,
            response_url=response_url or None,
            kind="info" if kind == "info" else "public",
        )

    return _act(request, session, p, case_id, run, "已登记回应")


@router.post("/cases/{case_id}/accept", response_class=HTMLResponse)
def accept(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    note: Text = "",
) -> Response:
    def run(case: Case) -> None:
        service.accept(session, principal=p, case=case, note=note or None)

    return _act(request, session, p, case_id, run, "已审核通过")


@router.post("/cases/{case_id}/return", response_class=HTMLResponse)
def return_for_more(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    reason: Text = "",
) -> Response:
    def run(case: Case) -> None:
        service.return_for_more(session, principal=p, case=case, reason=reason)

    return _act(request, session, p, case_id, run, "已退回补充")


@router.post("/cases/{case_id}/close", response_class=HTMLResponse)
def close(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    lessons: Text = "",
    tags: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def run(case: Case) -> None:
        words = tags.replace("，", " ").replace(",", " ").replace("、", " ")
        service.close(session, principal=p, case=case, lessons=lessons or None, tags=words)

    return _act(request, session, p, case_id, run, "已办结")


@router.post("/cases/{case_id}/escalate", response_class=HTMLResponse)
def escalate(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Handler,
    reason: Text = "",
) -> Response:
    def run(case: Case) -> None:
        service.escalate(session, principal=p, case=case, reason=reason)

    return _act(request, session, p, case_id, run, "已上报")


@router.post("/cases/{case_id}/reopen", response_class=HTMLResponse)
def reopen(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Manager,
    reason: Text = "",
) -> Response:
    def run(case: Case) -> None:
        service.reopen(session, principal=p, case=case, reason=reason)

    return _act(request, session, p, case_id, run, "已重新打开")


@router.post("/cases/{case_id}/comment", response_class=HTMLResponse)
def comment(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Reader,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    def run(case: Case) -> None:
        service.comment(session, principal=p, case=case, text=text)

    return _act(request, session, p, case_id, run, "已添加备注")


def _ids(text: str) -> list[int]:
    parts = text.replace("，", " ").replace(",", " ").replace("#", " ").split()
    bad = [x for x in parts if not x.isdigit() or len(x) > 11]
    if bad:
        raise CaseError("ids", f"无法识别的编号：{bad[0][:20]}")
    return [int(x) for x in parts][:100]


@router.post("/cases/{case_id}/attach", response_class=HTMLResponse)
def attach(
    request: Request,
    case_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Handler,
    mention_ids: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    def run(case: Case) -> None:
        ids = _ids(mention_ids)
        if not ids:
            raise CaseError("ids", "请填写要关联的信息编号")
        service.attach_mentions(session, principal=p, case=case, mention_ids=ids)

    return _act(request, session, p, case_id, run, "已关联")


@router.post("/cases/{case_id}/mentions/{mention_id}/detach", response_class=HTMLResponse)
def detach(
    request: Request,
    case_id: int,
    mention_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    p: Handler,
) -> Response:
    def run(case: Case) -> None:
        service.detach_mentions(session, principal=p, case=case, mention_ids=[mention_id])

    return _act(request, session, p, case_id, run, "已取消关联")
