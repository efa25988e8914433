"""JSON API of incident handling: report a negative item (报送) with its title and link, list
and read cases, and move a case on by a named action. An API token or the desk session (a
write then needs the CSRF header) identifies the caller; another unit's case is a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.cases import config, service
from yuqing.cases.models import Case
from yuqing.cases.schemas import CaseError, CaseNotFound, CasePermissionError, TimerView
from yuqing.core.database import SessionDep

router = APIRouter(prefix="/api/v1/cases", tags=["舆情处置 cases"])

Reader = Annotated[Principal, Depends(require("cases.read"))]
Reporter = Annotated[Principal, Depends(require("cases.report"))]


class CaseIn(BaseModel):
    """A report (报送): what was seen and where."""

    title: str = Field(min_length=1, max_length=300, description="标题")
    link: str | None = Field(default=None, max_length=2000, description="原文链接")
    summary: str = Field(default="", max_length=10_000, description="情况简述")


class TimerOut(BaseModel):
    clock: str
    label: str
    started_at: datetime
    due_at: datetime
    seconds_left: float
    state: str
    state_label: str
    rule_label: str = ""  # the calendar the due time was counted on
    rule_guessed: bool = False  # a year without official data, counted Monday to Friday


class CaseOut(BaseModel):
    """A case as the API shows it; times are UTC."""

    id: int
    title: str
    link: str | None
    summary: str
    status: str
    status_label: str
    grade: str | None
    unit_id: int | None
    assignee_person_id: int | None
    reported_at: datetime
    closed_at: datetime | None
    feedback_text: str | None
    response_text: str | None
    response_url: str | None
    lessons: str | None
    tags: list[str]
    timers: list[TimerOut] = []
    actions: list[str] = Field(default=[], description="当前账号可执行的操作")


class CaseList(BaseModel):
    total: int = Field(description="符合条件的数量；total_capped 为真时表示“超过 total 条”")
    total_capped: bool = False
    items: list[CaseOut]


class TransitionIn(BaseModel):
    """One action on a case; each action reads the fields it needs."""

    action: Literal[
        "triage",
        "assign",
        "start",
        "give_feedback",
        "accept",
        "return_for_more",
        "close",
        "escalate",
        "reopen",
    ]
    grade: str | None = Field(default=None, max_length=40, description="triage：等级键")
    unit_id: int | None = Field(default=None, description="assign：责任单位")
    person_id: int | None = Field(default=None, description="assign：责任人")
    feedback_text: str | None = Field(default=None, max_length=20_000)
    response_text: str | None = Field(default=None, max_length=20_000)
    response_url: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=4000, description="退回/上报/重新打开")
    note: str | None = Field(default=None, max_length=4000, description="研判意见/审核意见")
    lessons: str | None = Field(default=None, max_length=20_000)
    tags: list[str] = Field(default=[], max_length=20)


def _timer(view: TimerView) -> TimerOut:
    return TimerOut(**{f: getattr(view, f) for f in TimerOut.model_fields})


def _out(session: Session, principal: Principal, case: Case, *, full: bool = False) -> CaseOut:
    grades = {g.id: g.key for g in service.list_grades(session)}
    # A reporting unit sees its case, not which other unit handles it or who.
    shows_unit = case.unit_id is None or principal.sees_unit(case.unit_id)
    return CaseOut(
        id=case.id,
        title=case.title,
        link=case.link,
        summary=case.summary,
        status=case.status,
        status_label=service.status_label(case.status),
        grade=grades.get(case.grade_id or 0),
        unit_id=case.unit_id if shows_unit else None,
        assignee_person_id=case.assignee_person_id if shows_unit else None,
        reported_at=case.reported_at,
        closed_at=case.closed_at,
        feedback_text=case.feedback_text,
        response_text=case.response_text,
        response_url=case.response_url,
        lessons=case.lessons,
        tags=case.tags.split(),
        timers=[_timer(t) for t in service.list_timers(session, case=case)] if full else [],
        actions=service.allowed_transitions(case, principal) if full else [],
    )


def _refusal(error: CaseError) -> HTTPException:
    status = 403 if isinstance(error, CasePermissionError) else 422
    return HTTPException(status, {"rule": error.rule, "message": error.message})


def _case(session: Session, principal: Principal, case_id: int) -> Case:
    try:
        return service.get_case(session, principal=principal, case_id=case_id)
    except CaseNotFound:
        raise HTTPException(404, f"舆情处置单 {case_id} 不存在或不在您的查看范围内") from None


@router.post("", status_code=201, response_model=CaseOut, summary="报送舆情")
def report(case_in: CaseIn, session: SessionDep, principal: Reporter) -> CaseOut:
    link = (case_in.link or "").strip()
    if link and not link.lower().startswith(("http://", "https://")):
        raise HTTPException(422, {"rule": "link", "message": "链接须以 http:// 或 https:// 开头"})
    try:
        case = service.open_case(
            session,
            principal=principal,
            title=case_in.title,
            link=link or None,
            summary=case_in.summary,
        )
    except CaseError as error:
        session.rollback()
        raise _refusal(error) from None
    session.commit()
    return _out(session, principal, case, full=True)


@router.get("", response_model=CaseList, summary="舆情处置单列表")
def list_cases(
    session: SessionDep,
    principal: Reader,
    status: Annotated[str | None, Query(max_length=20)] = None,
    grade: Annotated[str | None, Query(max_length=40)] = None,
    unit_id: int | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    closed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CaseList:
    if status and status not in config.STATUSES:
        raise HTTPException(422, {"rule": "status", "message": f"没有名为“{status}”的状态"})
    if unit_id is not None and not principal.sees_unit(unit_id):
        unit_id = 0  # no unit has id 0: a reporting unit must not find who handles its case
    cases, total = service.list_cases(
        session,
        principal=principal,
        status=status,
        grade=grade,
        unit_id=unit_id,
        q=q,
        closed=closed,
        limit=limit,
        offset=offset,
    )
    return CaseList(
        total=total.value,
        total_capped=total.capped,
        items=[_out(session, principal, c) for c in cases],
    )


@router.get("/{case_id}", response_model=CaseOut, summary="一个舆情处置单")
def get_case(case_id: int, session: SessionDep, principal: Reader) -> CaseOut:
    return _out(session, principal, _case(session, principal, case_id), full=True)


@router.post("/{case_id}/transitions", response_model=CaseOut, summary="办理（状态变更）")
def transition(case_id: int, step: TransitionIn, session: SessionDep, principal: Reader) -> CaseOut:
    case = _case(session, principal, case_id)
    try:
        _run(session, principal, case, step)
    except CaseError as error:
        session.rollback()
        raise _refusal(error) from None
    session.commit()
    return _out(session, principal, case, full=True)


def _run(session: Session, principal: Principal, case: Case, step: TransitionIn) -> None:
    common: dict[str, Any] = {"principal": principal, "case": case}
    match step.action:
        case "triage":
            service.triage(session, **common, grade_key=step.grade or "", summary=step.note)
        case "assign":
            if step.unit_id is None:
                raise CaseError("unit_missing", "下发需要指定责任单位（unit_id）")
            service.assign(session, **common, unit_id=step.unit_id, person_id=step.person_id)
        case "start":
            service.start(session, **common)
        case "give_feedback":
            service.give_feedback(
                session,
                **common,
                feedback_text=step.feedback_text or "",
                response_text=step.response_text,
                response_url=step.response_url,
            )
        case "accept":
            service.accept(session, **common, note=step.note)
        case "return_for_more":
            service.return_for_more(session, **common, reason=step.reason or "")
        case "close":
            service.close(session, **common, lessons=step.lessons, tags=step.tags)
        case "escalate":
            service.escalate(session, **common, reason=step.reason or "")
        case "reopen":
            service.reopen(session, **common, reason=step.reason or "")
