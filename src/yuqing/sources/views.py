"""Desk pages of sources (信息源): health, add, remove, fetch now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.service import Principal
from yuqing.core.database import SessionDep
from yuqing.sources import flows, service
from yuqing.sources.health import Health, health_for_all
from yuqing.sources.models import FetchRun, Source
from yuqing.sources.schemas import FETCHED_KINDS, SourceIn
from yuqing.web.csrf import CsrfProblem
from yuqing.web.templating import error_page, refused, render
from yuqing.worker import pipeline

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

CanRead = Annotated[Principal, Depends(require("sources.read"))]
CanManage = Annotated[Principal, Depends(require("sources.manage"))]

KIND_CHOICES = (
    ("rss", "订阅源（RSS / Atom / JSON Feed）"),
    ("page", "单个网页"),
    ("list", "列表页（跟进其中的文章链接）"),
    ("import", "导入文件"),
    ("push", "推送接口"),
)

_FIELD_MESSAGES = {
    "name": "请填写名称（最多 200 个字符）。",
    "interval_seconds": "抓取间隔应在 1 分钟到 7 天（10080 分钟）之间。",
    "url": "地址最多 2000 个字符。",
}


def _health_by_id(session: Session) -> dict[int, Health]:
    try:
        return health_for_all(session)
    except Exception:  # health is advisory: a bug there must not take the page down
        log.exception("source health failed")
        return {}


def _page(
    request: Request,
    session: Session,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    notice_ok: bool = True,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "sources/sources.html",
        {
            "nav": "sources",
            "sources": service.list_all(session),
            "health": _health_by_id(session),
            "kind_choices": KIND_CHOICES,
            "fetched_kinds": FETCHED_KINDS,
            "form": form or {"kind": "rss", "interval": "15"},
            "errors": errors or {},
            "notice": notice,
            "notice_ok": notice_ok,
        },
        status_code=status_code,
    )


def _notice(request: Request, session: Session) -> str | None:
    """The message after a redirect (POST → GET), rebuilt from the database."""
    params = request.query_params
    if added := params.get("added"):
        source = service.get(session, source_id=int(added)) if added.isdigit() else None
        return f"已添加信息源“{source.name}”。" if source else None
    if (removed := params.get("removed")) is not None and removed.isdigit():
        return f"已删除信息源及其 {removed} 条信息。"
    return None


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, session: SessionDep, principal: CanRead) -> HTMLResponse:
    return _page(request, session, notice=_notice(request, session))


def _validation_messages(error: ValidationError) -> dict[str, str]:
    messages: dict[str, str] = {}
    for problem in error.errors():
        where = str(problem["loc"][0]) if problem["loc"] else "url"
        if problem["type"] == "value_error":
            text = str(problem["msg"]).removeprefix("Value error, ")
        else:
            text = _FIELD_MESSAGES.get(where, "填写有误。")
        messages.setdefault("interval" if where == "interval_seconds" else where, text)
    return messages


@router.post("/sources", response_class=HTMLResponse)
def add_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    problem: CsrfProblem,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    interval: Annotated[str, Form()] = "15",
) -> Response:
    """Add a source from the form; problems come back on the form, in Chinese."""
    if problem:
        return refused(request, problem)
    form = {"name": name.strip(), "kind": kind, "url": url.strip(), "interval": interval.strip()}
    errors: dict[str, str] = {}
    try:
        minutes = int(form["interval"] or "15")
    except ValueError:
        errors["interval"] = "抓取间隔应为整数分钟。"
        minutes = 15
    if form["name"] and service.get_by_name(session, name=form["name"]):
        errors["name"] = f"已有名为“{form['name']}”的信息源，请换一个名称。"
    try:
        source_in = SourceIn(
            name=form["name"], kind=kind, url=form["url"] or None, interval_seconds=minutes * 60
        )
    except ValidationError as error:
        errors = {**_validation_messages(error), **errors}
    if errors:
        return _page(request, session, form=form, errors=errors, status_code=422)
    source = service.create(session, source_in=source_in, actor=principal.actor)
    session.commit()
    return RedirectResponse(f"/sources?added={source.id}#source-{source.id}", status_code=303)


def _source_or_404(request: Request, session: Session, source_id: int) -> Source | HTMLResponse:
    source = service.get(session, source_id=source_id)
    if source is None:
        return error_page(
            request,
            status_code=404,
            title="找不到这个信息源",
            message=f"编号为 {source_id} 的信息源不存在，可能已被删除。",
        )
    return source


@router.post("/sources/{source_id}/remove", response_class=HTMLResponse)
def remove_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    problem: CsrfProblem,
    source_id: int,
) -> Response:
    if problem:
        return refused(request, problem)
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    removed = service.remove(session, source=source, actor=principal.actor)
    session.commit()
    return RedirectResponse(f"/sources?removed={removed}", status_code=303)


@dataclass
class FetchOutcome:
    """What "立即抓取" did, in words for the desk."""

    ok: bool
    message: str
    run: FetchRun | None = None


def _fetch_outcome(session: Session, source: Source) -> FetchOutcome:
    """Fetch now and describe what happened, from the run the fetch recorded."""
    try:
        run = flows.fetch_source(session, source, store=pipeline.process)
        session.commit()
    except Exception as error:  # shown to the user; the scheduler keeps its own record
        session.rollback()
        log.exception("fetch of source %s failed", source.id)
        return FetchOutcome(False, f"抓取“{source.name}”时出错：{error}")
    if not run.ok:
        return FetchOutcome(False, f"抓取失败：{run.error or '原因不明'}", run)
    if run.not_modified or run.content_unchanged:
        return FetchOutcome(True, "抓取成功：内容自上次以来没有变化。", run)
    return FetchOutcome(
        True,
        f"抓取成功：共 {run.items_seen} 条，新增 {run.items_new} 条，"
        f"重复 {run.items_duplicate} 条，更新 {run.items_updated} 条，失败 {run.items_failed} 条。",
        run,
    )


@router.post("/sources/{source_id}/fetch", response_class=HTMLResponse)
def fetch_now(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    problem: CsrfProblem,
    source_id: int,
) -> Response:
    """Fetch one source now; HTMX gets the result line, a plain form the whole page."""
    if problem:
        return refused(request, problem)
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    if source.kind not in FETCHED_KINDS:
        outcome = FetchOutcome(False, "导入和推送类信息源不需要抓取，信息由它们送入。")
    else:
        outcome = _fetch_outcome(session, source)
    if request.headers.get("hx-request") == "true":
        return render(request, "sources/_fetch_result.html", {"outcome": outcome})
    session.refresh(source)
    return _page(request, session, notice=outcome.message, notice_ok=outcome.ok)
