"""Desk pages of the institution's own voice (编辑发布): the board and the visits calendar,
writing with the editor and its lock, one page per submission (review with diff, flags and
actions), the approval form, images, the pre-check word lists, and the public column at
``/news`` (read-only static files, no account needed).

Access is the service's: SubmissionNotFound → 404 (also another unit's), a refused
permission → 403 (a refused stage role is audited: that row is committed), a refused rule →
the page again with the message (422) and nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as Path_
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from yuqing.assessment.config import GRADES
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.cases.schemas import CaseError, CaseNotFound
from yuqing.core import audit
from yuqing.core.database import SessionDep
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import to_local, utcnow
from yuqing.editorial import config, service
from yuqing.editorial.models import ReviewStage, Submission, WordList
from yuqing.editorial.schemas import (
    EditorialError,
    EditorialPermissionError,
    SubmissionNotFound,
    VersionConflict,
)
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, refused, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require(service.READ))]
Writer = Annotated[Principal, Depends(require(service.WRITE))]
Reviewer = Annotated[Principal, Depends(require(service.REVIEW))]
Department = Annotated[Principal, Depends(require(service.MANAGE))]
Body = Annotated[str, Form(max_length=config.MAX_BODY_CHARS * 2)]
Note = Annotated[str, Form(max_length=20_000)]


def _not_found(request: Request) -> HTMLResponse:
    return error_page(
        request, status_code=404, title="找不到", message="该稿件不存在，或不在您的查看范围内。"
    )


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()) if value and value.strip() else None
    except ValueError as error:
        raise EditorialError("date", f"日期格式不正确：{value}") from error


def _local_datetime(value: str | None) -> datetime | None:
    """A ``datetime-local`` field in the institution's zone, as naive UTC."""
    if not value or not value.strip():
        return None
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise EditorialError("datetime", f"时间格式不正确：{value}") from error
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(get_settings().timezone)
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _draft(form: dict[str, Any], channels: list[str]) -> service.Draft:
    return service.Draft(
        title=form.get("title", ""),
        body=form.get("body", ""),
        kind_id=_int(form.get("kind_id")),
        unit_id=_int(form.get("unit_id")),
        author_person_id=_int(form.get("author_person_id")),
        event_date=_date(form.get("event_date")),
        channels=tuple(channels),
        outlet=form.get("outlet", ""),
        visit_at=_local_datetime(form.get("visit_at")),
        contact_person_id=_int(form.get("contact_person_id")),
    )


def _load(session: Session, principal: Principal, submission_id: int) -> Submission:
    return service.get_submission(session, principal=principal, submission_id=submission_id)


# --- the board and the visits -------------------------------------------------------


@router.get("/editorial", response_class=HTMLResponse)
def board_page(
    request: Request,
    session: SessionDep,
    principal: Reader,
    kind_id: Annotated[str, Query(max_length=12)] = "",
    overdue: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    rows = service.list_board_rows(session, principal=principal, kind_id=_int(kind_id))
    if overdue:
        rows = [r for r in rows if r.overdue]
    return render(
        request,
        "editorial/board.html",
        {
            "nav": "editorial",
            "rows": rows,
            "kinds": service.list_kinds(session),
            "kind_id": _int(kind_id),
            "overdue_count": sum(r.overdue for r in rows),
            "counts": service.count_by_state(session, principal=principal),
            "states": config.STATES,
            "notice": request.query_params.get("notice"),
        },
    )


@router.get("/editorial/visits", response_class=HTMLResponse)
def visits_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    """The calendar of upcoming outside-media visits (approved interview requests)."""
    interviews = {k.id for k in service.list_kinds(session) if k.is_interview}
    now = utcnow()
    rows = [
        s
        for s in service.list_submissions(session, principal=principal)
        if s.kind_id in interviews and s.visit_at is not None and s.visit_at >= now
        and s.state in {"approved", "in_review"}
    ]  # fmt: skip
    rows.sort(key=lambda s: s.visit_at or now)
    days: dict[str, list[Submission]] = {}
    for row in rows:
        local = to_local(row.visit_at)
        days.setdefault(local.strftime("%Y-%m-%d") if local else "", []).append(row)
    return render(
        request,
        "editorial/visits.html",
        {"nav": "editorial", "days": days, "units": org.list_unit_names(session),
         "states": config.STATES},
    )  # fmt: skip


# --- the pre-check word lists -----------------------------------------------------------


@router.get("/editorial/wordlists", response_class=HTMLResponse)
def wordlists_page(request: Request, session: SessionDep, principal: Department) -> HTMLResponse:
    return render(
        request,
        "editorial/wordlists.html",
        {"nav": "editorial", "lists": service.list_word_lists(session),
         "notice": request.query_params.get("notice")},
    )  # fmt: skip


@router.post("/editorial/wordlists/{list_id}")
def save_wordlist(
    request: Request,
    session: SessionDep,
    principal: Department,
    list_id: int,
    _csrf: CsrfChecked,
    words: Annotated[str, Form(max_length=2_000_000)] = "",
) -> Response:
    row = session.get(WordList, list_id)
    if row is None:
        return error_page(request, status_code=404, title="找不到", message="没有这个词表。")
    cleaned = "\n".join(dict.fromkeys(w.strip() for w in words.splitlines() if w.strip()))
    if cleaned != row.words:
        before = len(row.words.splitlines())
        row.words = cleaned
        audit.record_update(
            session, row, actor=principal.actor, object_type="editorial_wordlist",
            summary=f"修改预检词表“{row.name}”",
            changes={"words": [before, len(cleaned.splitlines())]},
        )  # fmt: skip
    session.commit()
    return RedirectResponse("/editorial/wordlists?notice=已保存", status_code=303)


# --- the review stages ----------------------------------------------------------------


def _stages_page(
    request: Request, session: Session, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    kinds = service.list_kinds(session)
    return render(
        request,
        "editorial/stages.html",
        {
            "nav": "editorial",
            "kinds": [(k, service.list_stages(session, kind_id=k.id)) for k in kinds],
            "roles": sorted(org.list_duty_role_names(session).items(), key=lambda kv: kv[0]),
            "units": sorted(org.list_unit_names(session).items(), key=lambda kv: kv[1]),
            "people": sorted(org.list_active_person_names(session).items(), key=lambda kv: kv[1]),
            "unit_rules": service.UNIT_RULES,
            "error": error,
            "notice": request.query_params.get("notice"),
        },
        status_code=status_code,
    )


@router.get("/editorial/stages", response_class=HTMLResponse)
def stages_page(request: Request, session: SessionDep, principal: Department) -> HTMLResponse:
    return _stages_page(request, session)


@router.post("/editorial/stages/{stage_id}")
def save_stage(
    request: Request,
    session: SessionDep,
    principal: Department,
    stage_id: int,
    _csrf: CsrfChecked,
    name: Annotated[str, Form(max_length=60)] = "",
    duty_role_id: Annotated[str, Form(max_length=12)] = "",
    unit_rule: Annotated[str, Form(max_length=10)] = "any",
    unit_id: Annotated[str, Form(max_length=12)] = "",
    person_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    stage = session.get(ReviewStage, stage_id)
    if stage is None:
        return error_page(request, status_code=404, title="找不到", message="没有这个审核环节。")
    try:
        service.update_stage(
            session, principal=principal, stage=stage, name=name,
            duty_role_id=_int(duty_role_id), unit_rule=unit_rule, unit_id=_int(unit_id),
            person_id=_int(person_id),
        )  # fmt: skip
    except EditorialPermissionError as error:
        return refused(request, error.message)
    except EditorialError as error:
        session.rollback()
        return _stages_page(request, session, error=error.message, status_code=422)
    session.commit()
    return RedirectResponse("/editorial/stages?notice=已保存", status_code=303)


# --- writing --------------------------------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, Any],
    *,
    submission: Submission | None = None,
    error: str | None = None,
    status_code: int = 200,
    conflict: bool = False,
) -> HTMLResponse:
    units = org.list_visible_units(session, viewer=principal)
    people = org.list_visible_people(session, viewer=principal)
    return render(
        request,
        "editorial/edit.html",
        {
            "nav": "editorial",
            "form": form,
            "submission": submission,
            "error": error,
            "conflict": conflict,
            "kinds": service.list_kinds(session),
            "units": sorted(org.unit_labels(units).items(), key=lambda kv: kv[1]),
            "people": [(p.id, p.name) for p in people],
            "channels": config.CHANNELS,
            "max_body": config.MAX_BODY_CHARS,
            "max_image_mb": config.MAX_IMAGE_BYTES // 1024 // 1024,
        },
        status_code=status_code,
    )


def _form_of(submission: Submission) -> dict[str, Any]:
    visit = to_local(submission.visit_at)
    return {
        "title": submission.title,
        "body": submission.body,
        "kind_id": str(submission.kind_id),
        "unit_id": str(submission.unit_id or ""),
        "author_person_id": str(submission.author_person_id or ""),
        "event_date": submission.event_date.isoformat() if submission.event_date else "",
        "channels": submission.channels.split(),
        "outlet": submission.outlet,
        "visit_at": visit.strftime("%Y-%m-%dT%H:%M") if visit else "",
        "contact_person_id": str(submission.contact_person_id or ""),
        "base_version": str(submission.version),
        "case_id": str(submission.case_id or ""),
    }


@router.get("/editorial/new", response_class=HTMLResponse)
def new_page(
    request: Request,
    session: SessionDep,
    principal: Writer,
    kind: Annotated[str, Query(max_length=40)] = "",
    case_id: Annotated[str, Query(max_length=12)] = "",
) -> HTMLResponse:
    kinds = {k.key: k for k in service.list_kinds(session)}
    chosen = kinds.get(kind) or next(k for k in kinds.values() if k.is_default)
    form = {
        "title": "", "body": "", "kind_id": str(chosen.id),
        "unit_id": str(principal.unit_id or ""), "author_person_id": "", "event_date": "",
        "channels": ["column"], "outlet": "", "visit_at": "", "contact_person_id": "",
        "base_version": "", "case_id": case_id if _int(case_id) else "",
    }  # fmt: skip
    return _form_page(request, session, principal, form)


@router.post("/editorial/new", response_class=HTMLResponse)
async def create_page(
    request: Request, session: SessionDep, principal: Writer, _csrf: CsrfChecked
) -> Response:
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    channels = [c for c in data.getlist("channels") if isinstance(c, str)]
    form["channels"] = channels  # type: ignore[assignment]
    try:
        row = service.create_submission(
            session,
            principal=principal,
            draft=_draft(form, channels),
            case_id=_int(form.get("case_id")),
        )
    except EditorialPermissionError as error:
        return refused(request, error.message)
    except SubmissionNotFound:
        session.rollback()
        return _not_found(request)
    except EditorialError as error:
        session.rollback()
        return _form_page(request, session, principal, form, error=error.message, status_code=422)
    except CaseNotFound:  # the case is not there or not the account's
        session.rollback()
        return error_page(request, status_code=404, title="找不到", message="该舆情处置单不存在。")
    except CaseError as error:  # may see the case, may not read cases
        session.rollback()
        return refused(request, error.message)
    session.commit()
    return RedirectResponse(f"/editorial/{row.id}/edit?notice=已保存草稿", status_code=303)


@router.get("/editorial/{submission_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, session: SessionDep, principal: Writer, submission_id: int
) -> HTMLResponse:
    try:
        row = _load(session, principal, submission_id)
    except SubmissionNotFound:
        return _not_found(request)
    error = None
    if row.state in {"draft", "returned"}:
        try:
            service.lock(session, principal=principal, submission=row)
            session.commit()
        except EditorialError as refused_lock:
            session.rollback()
            error = refused_lock.message
    else:
        error = f"稿件{config.STATES[row.state]}，不能修改"
    return _form_page(request, session, principal, _form_of(row), submission=row, error=error)


@router.post("/editorial/{submission_id}/edit", response_class=HTMLResponse)
async def save_page(
    request: Request,
    session: SessionDep,
    principal: Writer,
    submission_id: int,
    _csrf: CsrfChecked,
) -> Response:
    try:
        row = _load(session, principal, submission_id)
    except SubmissionNotFound:
        return _not_found(request)
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    channels = [c for c in data.getlist("channels") if isinstance(c, str)]
    form["channels"] = channels  # type: ignore[assignment]
    try:
        service.update_submission(
            session,
            principal=principal,
            submission=row,
            draft=_draft(form, channels),
            base_version=_int(form.get("base_version")) or 0,
        )
    except EditorialPermissionError as error:
        return refused(request, error.message)
    except SubmissionNotFound:
        session.rollback()
        return _not_found(request)
    except EditorialError as error:
        session.rollback()
        return _form_page(
            request, session, principal, form, submission=row, error=error.message,
            status_code=409 if isinstance(error, VersionConflict) else 422,
            conflict=isinstance(error, VersionConflict),
        )  # fmt: skip
    session.commit()
    return RedirectResponse(f"/editorial/{row.id}/edit?notice=已保存第 {row.version} 版", 303)


@router.post("/editorial/{submission_id}/unlock")
def unlock_page(
    request: Request,
    session: SessionDep,
    principal: Writer,
    submission_id: int,
    _csrf: CsrfChecked,
    force: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    try:
        row = _load(session, principal, submission_id)
        service.unlock(session, principal=principal, submission=row, force=bool(force))
    except SubmissionNotFound:
        return _not_found(request)
    except EditorialError as error:
        session.rollback()
        return refused(request, error.message)
    session.commit()
    return RedirectResponse(f"/editorial/{submission_id}?notice=已解锁", status_code=303)


# --- one submission -------------------------------------------------------------------


def _pieces(session: Session, row: Submission, a: int | None, b: int | None) -> dict[str, Any]:
    from yuqing.editorial.richtext import text_of

    versions = service.list_versions(session, submission=row)
    numbers = [v.number for v in versions]
    b = b if b in numbers else numbers[-1]
    a = a if a in numbers else (numbers[-2] if len(numbers) > 1 else numbers[-1])
    first = service.get_version(session, submission=row, number=a)
    second = service.get_version(session, submission=row, number=b)
    pieces = service.diff_text(
        f"{first.title}\n{text_of(first.body)}", f"{second.title}\n{text_of(second.body)}"
    )
    return {"versions": versions, "a": a, "b": b, "pieces": pieces,
            "changes": service.count_changes(pieces)}  # fmt: skip


def _marked(text: str, flags: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    """The plain text cut at the flags' places: (text, flag or None) runs."""
    runs: list[tuple[str, dict[str, Any] | None]] = []
    at = 0
    for flag in sorted((f for f in flags if f["end"] > f["start"]), key=lambda f: f["start"]):
        if flag["start"] < at:
            continue
        runs.append((text[at : flag["start"]], None))
        runs.append((text[flag["start"] : flag["end"]], flag))
        at = flag["end"]
    runs.append((text[at:], None))
    return runs


def _saved_grade(session: Session, row: Submission) -> str:
    """The grade the department recorded for a published piece's author, for the form."""
    from yuqing.assessment import service as assessment

    if row.state != "published" or row.author_person_id is None:
        return ""
    return assessment.news_grade(
        session, person_id=row.author_person_id, source_type="editorial", source_id=str(row.id)
    )


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    row: Submission,
    *,
    error: str | None = None,
    status_code: int = 200,
    a: int | None = None,
    b: int | None = None,
) -> HTMLResponse:
    from yuqing.editorial.richtext import text_of

    stage = service.list_stages(session, kind_id=row.kind_id)
    current = next((s for s in stage if s.id == row.stage_id), None)
    flags = service.flags_of(row)
    kind = service.kind_of(session, submission=row)
    people = org.list_active_person_names(session)
    return render(
        request,
        "editorial/submission.html",
        {
            "nav": "editorial",
            "s": row,
            "kind": kind,
            "stages": [(s, service.stage_label(session, s)) for s in stage],
            "current": current,
            "flags": flags,
            "marked": _marked(f"{row.title}\n{text_of(row.body)}", flags),
            "actions": service.allowed_actions(session, principal=principal, submission=row),
            "reviews": service.list_reviews(session, submission=row),
            "review_inline": {
                r.id: json.loads(r.inline or "[]")
                for r in service.list_reviews(session, submission=row)
            },
            "states": config.STATES,
            "grades": GRADES,
            "grade": _saved_grade(session, row),
            "action_labels": config.ACTIONS,
            "channels": config.CHANNELS,
            "unit_name": org.list_unit_names(session).get(row.unit_id or 0, ""),
            "author_name": people.get(row.author_person_id or 0, ""),
            "contact_name": people.get(row.contact_person_id or 0, ""),
            "overdue": service.is_overdue(row),
            "share": service.share_kit(session, submission=row)
            if row.state == "published"
            else None,
            "error": error,
            "notice": request.query_params.get("notice"),
            "may_force": principal.can(service.MANAGE),
            "attachments": service.list_attachments(session, submission=row),
            "max_attachment_mb": config.MAX_ATTACHMENT_BYTES // 1024 // 1024,
            **_pieces(session, row, a, b),
        },
        status_code=status_code,
    )


@router.get("/editorial/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request,
    session: SessionDep,
    principal: Reader,
    submission_id: int,
    a: Annotated[str, Query(max_length=12)] = "",
    b: Annotated[str, Query(max_length=12)] = "",
) -> HTMLResponse:
    try:
        row = _load(session, principal, submission_id)
    except SubmissionNotFound:
        return _not_found(request)
    return _page(request, session, principal, row, a=_int(a), b=_int(b))


def _act(
    request: Request,
    session: Session,
    principal: Principal,
    submission_id: int,
    work: Callable[[Submission], object],
    done: str,
) -> Response:
    try:
        row = _load(session, principal, submission_id)
    except SubmissionNotFound:
        return _not_found(request)
    try:
        work(row)
    except EditorialPermissionError as error:
        session.commit()  # only the audit row of the refusal was written
        return refused(request, error.message)
    except EditorialError as error:
        session.rollback()
        session.refresh(row)
        return _page(request, session, principal, row, error=error.message, status_code=422)
    session.commit()
    return RedirectResponse(f"/editorial/{submission_id}?notice={quote(done)}", status_code=303)


@router.post("/editorial/{submission_id}/submit")
def submit_page(
    request: Request, session: SessionDep, principal: Writer, submission_id: int, _csrf: CsrfChecked
) -> Response:
    return _act(
        request, session, principal, submission_id,
        lambda row: service.submit(session, principal=principal, submission=row), "已提交审核",
    )  # fmt: skip


def _inline(quotes: list[str], remarks: list[str]) -> list[dict[str, str]]:
    return [
        {"quote": q.strip()[:500], "remark": r.strip()[:2000]}
        for q, r in zip(quotes, remarks, strict=False)
        if q.strip() and r.strip()
    ]


@router.post("/editorial/{submission_id}/review")
async def review_page(
    request: Request,
    session: SessionDep,
    principal: Reviewer,
    submission_id: int,
    _csrf: CsrfChecked,
) -> Response:
    """通过 / 退回修改 / 不予采用 at the current stage, with comments and the 校对 pass."""
    data = await request.form()
    text = {k: v for k, v in data.items() if isinstance(v, str)}
    decision = text.get("decision", "")
    comment = text.get("comment", "")[:20_000]
    proofread = bool(text.get("proofread"))
    note = text.get("proofread_note", "")[:2000]
    quotes = [q for q in data.getlist("quote") if isinstance(q, str)]
    remarks = [r for r in data.getlist("remark") if isinstance(r, str)]

    def work(row: Submission) -> object:
        if decision == "approve":
            return service.approve(
                session,
                principal=principal,
                submission=row,
                comment=comment,
                proofread=proofread,
                proofread_note=note,
            )
        if decision == "return":
            return service.return_(
                session,
                principal=principal,
                submission=row,
                comment=comment,
                inline=_inline(quotes, remarks),
                proofread=proofread,
                proofread_note=note,
            )
        if decision == "reject":
            return service.reject(session, principal=principal, submission=row, comment=comment)
        raise EditorialError("decision", "请选择审核结果：通过、退回修改或不予采用")  # fmt: skip

    return _act(request, session, principal, submission_id, work, "已记录审核意见")


@router.post("/editorial/{submission_id}/publish")
def publish_page(
    request: Request,
    session: SessionDep,
    principal: Department,
    submission_id: int,
    _csrf: CsrfChecked,
) -> Response:
    return _act(
        request, session, principal, submission_id,
        lambda row: service.publish(session, principal=principal, submission=row), "已发布",
    )  # fmt: skip


@router.post("/editorial/{submission_id}/unpublish")
def unpublish_page(
    request: Request,
    session: SessionDep,
    principal: Department,
    submission_id: int,
    _csrf: CsrfChecked,
    note: Note = "",
) -> Response:
    return _act(
        request, session, principal, submission_id,
        lambda row: service.unpublish(session, principal=principal, submission=row, note=note),
        "已撤下",
    )  # fmt: skip


@router.post("/editorial/{submission_id}/grade")
def grade_page(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require("team.manage"))],
    submission_id: int,
    _csrf: CsrfChecked,
    grade: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The department grades a published piece for the team's credit (精品/头条, 被转载):
    the author's news credit is multiplied by it (docs/team.md)."""
    from yuqing.assessment import service as assessment
    from yuqing.assessment.schemas import AssessmentError

    def work(row: Submission) -> None:
        if row.state != "published" or row.published_at is None:
            raise EditorialError("grade", "只有已发布的稿件可以评定等级")
        if row.author_person_id is None:
            raise EditorialError("grade", "稿件没有登记作者，无法计分")
        try:
            assessment.record_news(
                session, person_id=row.author_person_id, published_at=row.published_at,
                title=row.title, source_type="editorial", source_id=str(row.id), grade=grade,
                actor=principal.actor,
            )  # fmt: skip
        except AssessmentError as error:
            raise EditorialError("grade", str(error)) from None

    return _act(request, session, principal, submission_id, work, "已评定稿件等级")


@router.post("/editorial/{submission_id}/correct")
def correct_page(
    request: Request,
    session: SessionDep,
    principal: Department,
    submission_id: int,
    _csrf: CsrfChecked,
    body: Body = "",
    note: Note = "",
) -> Response:
    return _act(
        request, session, principal, submission_id,
        lambda row: service.correct(session, principal=principal, submission=row, body=body,
                                    note=note),
        "已更正并重新发布",
    )  # fmt: skip


@router.get("/editorial/{submission_id}/approval.docx")
def approval_form(
    request: Request, session: SessionDep, principal: Reader, submission_id: int
) -> Response:
    try:
        row = _load(session, principal, submission_id)
    except SubmissionNotFound:
        return _not_found(request)
    data = service.approval_form(
        session, submission=row, reviews=service.list_reviews(session, submission=row)
    )
    name = quote(f"媒体信息发布审批表-{row.id}.docx")
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


# --- attachments --------------------------------------------------------------------


@router.post("/editorial/{submission_id}/attachments")
async def upload_attachment(
    request: Request,
    session: SessionDep,
    principal: Writer,
    submission_id: int,
    _csrf: CsrfChecked,
    file: Annotated[UploadFile, File()],
) -> Response:
    data = await file.read(config.MAX_ATTACHMENT_BYTES + 1)
    name = file.filename or ""
    return _act(
        request, session, principal, submission_id,
        lambda row: service.create_attachment(
            session, principal=principal, submission=row, filename=name, data=data
        ),
        "已添加附件",
    )  # fmt: skip


@router.get("/editorial/{submission_id}/attachments/{attachment_id}")
def attachment_file(
    request: Request, session: SessionDep, principal: Reader, submission_id: int, attachment_id: int
) -> Response:
    try:
        row = _load(session, principal, submission_id)
        attachment, path = service.get_attachment(
            session, submission=row, attachment_id=attachment_id
        )
    except SubmissionNotFound:
        return _not_found(request)
    name = quote(attachment.filename)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


# --- images ---------------------------------------------------------------------------


@router.post("/editorial/images")
async def upload_image(
    request: Request,
    session: SessionDep,
    principal: Writer,
    _csrf: CsrfChecked,
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    data = await file.read(config.MAX_IMAGE_BYTES + 1)
    try:
        image = service.create_image(session, principal=principal, data=data)
    except EditorialError as error:
        session.rollback()
        return JSONResponse({"detail": error.message}, status_code=422)
    session.commit()
    return JSONResponse({"url": f"/editorial/images/{image.name}", "size": image.size})


@router.get("/editorial/images/{name}")
def image_file(request: Request, principal: Reader, name: str) -> Response:
    path = service.get_image_path(name)
    if path is None:
        return error_page(request, status_code=404, title="找不到", message="没有这张图片。")
    ext = name.rsplit(".", 1)[-1]
    return FileResponse(path, media_type=config.IMAGE_TYPES[ext])


# --- the public column ------------------------------------------------------------------


@router.get(config.PUBLIC_PATH)
def column_root() -> Response:
    return RedirectResponse(f"{config.PUBLIC_PATH}/index.html", status_code=303)


_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/atom+xml; charset=utf-8",
          ".css": "text/css; charset=utf-8", **{f".{k}": v for k, v in config.IMAGE_TYPES.items()}}  # fmt: skip


def _column_file(request: Request, relative: str) -> Response:
    """A file of the published column, read-only, for anyone (the institution's own site)."""
    root = service.site_dir().resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix not in _TYPES:
        if relative == "index.html":
            return HTMLResponse(
                "<!doctype html><meta charset=utf-8><title>新闻发布</title><p>暂无发布的文章。</p>"
            )
        return error_page(request, status_code=404, title="找不到", message="没有这篇文章。")
    return FileResponse(Path(target), media_type=_TYPES[target.suffix])


@router.get(config.PUBLIC_PATH + "/a/{slug}.html")
def column_article(
    request: Request, slug: Annotated[str, Path_(pattern=r"^[0-9a-f]{12}$")]
) -> Response:
    return _column_file(request, f"a/{slug}.html")


@router.get(config.PUBLIC_PATH + "/images/{name}")
def column_image(request: Request, name: Annotated[str, Path_(max_length=80)]) -> Response:
    if service.get_image_path(name) is None:  # the name's form is checked there
        return error_page(request, status_code=404, title="找不到", message="没有这张图片。")
    return _column_file(request, f"images/{name}")


@router.get(config.PUBLIC_PATH + "/{name}")
def column_page(request: Request, name: Annotated[str, Path_(max_length=40)]) -> Response:
    """index.html, feed.xml and site.css."""
    if name not in {"index.html", "feed.xml", "site.css"}:
        return error_page(request, status_code=404, title="找不到", message="没有这个页面。")
    return _column_file(request, name)
