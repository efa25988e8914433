"""Desk pages of sources (信息源): health, add, edit, pause and resume, remove, fetch now,
and importing a file (upload, preview, column mapping, progress, result)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.mentions import service as mentions_service
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, found_or_404, render
from yuqing.sources import import_jobs, service
from yuqing.sources.health import Health, health_for_all, source_health
from yuqing.sources.importers import ImportFileError
from yuqing.sources.models import FetchRun, ImportJob, Source
from yuqing.sources.schemas import FETCHED_KINDS, SourceIn
from yuqing.worker import collect, pipeline

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
    return _NOTICES.get(params.get("done", ""))


_NOTICES = {
    "edited": "已保存修改。",
    "paused": "已暂停：不再定时抓取，恢复后立即抓取。",
    "resumed": "已恢复：调度器会尽快抓取一次。",
    "unchanged": "没有变化。",
}


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


def _interval_minutes(form: dict[str, str], errors: dict[str, str]) -> int:
    """The fetch interval in whole minutes (15 when blank); a bad value is noted in ``errors``
    and 15 stands in, so the rest of the form is still checked."""
    try:
        return int(form["interval"] or "15")
    except ValueError:
        errors["interval"] = "抓取间隔应为整数分钟。"
        return 15


def _check_name_free(
    session: Session, form: dict[str, str], errors: dict[str, str], *, own_id: int | None = None
) -> None:
    """Note in ``errors`` when another source (not ``own_id``) already has the form's name."""
    other = service.get_by_name(session, name=form["name"]) if form["name"] else None
    if other is not None and other.id != own_id:
        errors["name"] = f"已有名为“{form['name']}”的信息源，请换一个名称。"


@router.post("/sources", response_class=HTMLResponse)
def add_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    interval: Annotated[str, Form()] = "15",
) -> Response:
    """Add a source from the form; problems come back on the form, in Chinese."""
    form = {"name": name.strip(), "kind": kind, "url": url.strip(), "interval": interval.strip()}
    errors: dict[str, str] = {}
    minutes = _interval_minutes(form, errors)
    _check_name_free(session, form, errors)
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
    if source.kind == "import":  # the next step is the upload
        return RedirectResponse(f"/sources/{source.id}?added={source.id}#import", status_code=303)
    return RedirectResponse(f"/sources?added={source.id}#source-{source.id}", status_code=303)


def _source_or_404(request: Request, session: Session, source_id: int) -> Source | HTMLResponse:
    return found_or_404(
        request,
        service.get(session, source_id=source_id),
        title="找不到这个信息源",
        message=f"编号为 {source_id} 的信息源不存在，可能已被删除。",
    )


@router.post("/sources/{source_id}/remove", response_class=HTMLResponse)
def remove_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    source_id: int,
) -> Response:
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    import_jobs.remove_for_source(session, source_id=source.id)
    removed = mentions_service.delete_for_source(session, source_id=source.id)
    service.delete_source(session, source=source, mentions_deleted=removed, actor=principal.actor)
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
        run = collect.fetch_source(session, source)
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
    _csrf: CsrfChecked,
    source_id: int,
) -> Response:
    """Fetch one source now; HTMX gets the result line, a plain form the whole page."""
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


# One source: its page, edit, pause and resume


def _source_page(
    request: Request,
    session: Session,
    source: Source,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    upload_error: str | None = None,
    notice: str | None = None,
    notice_ok: bool = True,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "sources/source.html",
        {
            "nav": "sources",
            "source": source,
            "health": _health_of(session, source),
            "runs": service.recent_runs(session, source_id=source.id),
            "imports": import_jobs.for_source(session, source_id=source.id),
            "fetched_kinds": FETCHED_KINDS,
            "form": form or _form_of(source),
            "errors": errors or {},
            "upload_error": upload_error,
            "notice": notice,
            "notice_ok": notice_ok,
            "accept": ",".join(import_jobs.SUFFIXES),
        },
        status_code=status_code,
    )


def _health_of(session: Session, source: Source) -> Health | None:
    try:
        return source_health(session, source)
    except Exception:  # advisory, as on the list
        log.exception("source health failed")
        return None


def _form_of(source: Source) -> dict[str, str]:
    return {
        "name": source.name,
        "url": source.url or "",
        "interval": str(source.interval_seconds // 60),
        "weight": f"{source.weight:g}",
    }


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    request: Request, session: SessionDep, principal: CanRead, source_id: int
) -> HTMLResponse:
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    return _source_page(request, session, source, notice=_notice(request, session))


@router.post("/sources/{source_id}/edit", response_class=HTMLResponse)
def edit_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    source_id: int,
    name: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    interval: Annotated[str, Form()] = "15",
    weight: Annotated[str, Form()] = "1",
) -> Response:
    """Save the edit form; problems come back on the form, in Chinese."""
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    form = {
        "name": name.strip(),
        "url": url.strip(),
        "interval": interval.strip(),
        "weight": weight.strip(),
    }
    errors: dict[str, str] = {}
    minutes = _interval_minutes(form, errors)
    try:
        factor = float(form["weight"] or "1")
    except ValueError:
        errors["weight"] = "权重应为 0 到 10 之间的数。"
        factor = 1.0
    _check_name_free(session, form, errors, own_id=source.id)
    try:
        source_in = SourceIn(
            name=form["name"],
            kind=source.kind,
            url=form["url"] or None,
            interval_seconds=minutes * 60,
            enabled=source.enabled,
            weight=factor,
        )
    except ValidationError as error:
        errors = {**_validation_messages(error), **errors}
    if errors:
        return _source_page(request, session, source, form=form, errors=errors, status_code=422)
    service.update(session, source=source, source_in=source_in, actor=principal.actor)
    session.commit()
    return RedirectResponse(f"/sources/{source.id}?done=edited", status_code=303)


@router.post("/sources/{source_id}/pause", response_class=HTMLResponse)
@router.post("/sources/{source_id}/resume", response_class=HTMLResponse)
def pause_or_resume_source(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    source_id: int,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Pause or resume a source; the last step of the address says which, so both buttons
    share one body."""
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    enabled = request.url.path.endswith("/resume")
    changed = service.set_enabled(session, source=source, enabled=enabled, actor=principal.actor)
    session.commit()
    done = ("resumed" if enabled else "paused") if changed else "unchanged"
    where = "/sources" if back == "list" else f"/sources/{source.id}"
    anchor = f"#source-{source.id}" if where == "/sources" else ""
    return RedirectResponse(f"{where}?done={done}{anchor}", status_code=303)


# Importing a file: upload → preview and mapping → progress → result


@router.post("/sources/{source_id}/import", response_class=HTMLResponse)
async def upload_file(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    source_id: int,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Keep the file under the data dir and show its first rows with the columns to map."""
    source = _source_or_404(request, session, source_id)
    if not isinstance(source, Source):
        return source
    if source.kind in FETCHED_KINDS:
        message = "这个信息源按地址抓取，不能导入文件；请新建一个“导入文件”类型的信息源。"
        return _source_page(request, session, source, upload_error=message, status_code=400)
    if file is None or not file.filename:
        message = "请选择要导入的文件（.xlsx、.csv 或 .jsonl）。"
        return _source_page(request, session, source, upload_error=message, status_code=400)
    try:
        job, _preview = import_jobs.save_upload(
            session, source=source, filename=file.filename, data=file.file, actor=principal.actor
        )
    except ImportFileError as error:
        session.rollback()
        return _source_page(request, session, source, upload_error=str(error), status_code=400)
    session.commit()
    return RedirectResponse(f"/sources/{source.id}/imports/{job.id}", status_code=303)


def _job_or_404(
    request: Request, session: Session, source_id: int, job_id: int
) -> tuple[Source, ImportJob] | HTMLResponse:
    source = service.get(session, source_id=source_id)
    job = import_jobs.get(session, job_id=job_id)
    if source is None or job is None or job.source_id != source.id:
        return error_page(
            request,
            status_code=404,
            title="找不到这次导入",
            message=f"编号为 {job_id} 的导入不存在，可能其信息源已被删除。",
        )
    return source, job


def _job_page(
    request: Request,
    session: Session,
    source: Source,
    job: ImportJob,
    *,
    mapping_error: str | None = None,
    chosen: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    preview = None
    file_error = None
    if job.status == "mapping" or import_jobs.interrupted(job):
        try:
            preview = import_jobs.preview(job, source)
        except (ImportFileError, OSError) as error:
            file_error = f"无法再读取已上传的文件：{error}"
    guessed = dict(preview.guessed) if preview else {}
    guessed.update(import_jobs.job_mapping(job) if job.status != "mapping" else {})
    guessed.update(chosen or {})
    return render(
        request,
        "sources/import.html",
        {
            "nav": "sources",
            "source": source,
            "job": job,
            "preview": preview,
            "guessed": guessed,
            "file_error": file_error,
            "mapping_error": mapping_error,
            "targets": import_jobs.TARGET_LABELS,
            "interrupted": import_jobs.interrupted(job),
            "refused": import_jobs.refused_rows(job)[:200] if job.status == "done" else [],
            "notes": import_jobs.notes(job)[:50] if job.status == "done" else [],
        },
        status_code=status_code,
    )


@router.get("/sources/{source_id}/imports/{job_id}", response_class=HTMLResponse)
def import_page(
    request: Request, session: SessionDep, principal: CanRead, source_id: int, job_id: int
) -> HTMLResponse:
    found = _job_or_404(request, session, source_id, job_id)
    if not isinstance(found, tuple):
        return found
    return _job_page(request, session, *found)


@router.post("/sources/{source_id}/imports/{job_id}/start", response_class=HTMLResponse)
async def start_import(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    source_id: int,
    job_id: int,
) -> Response:
    """Confirm the column mapping and store the rows in the background."""
    found = _job_or_404(request, session, source_id, job_id)
    if not isinstance(found, tuple):
        return found
    source, job = found
    if job.status != "mapping" and not import_jobs.interrupted(job):
        return RedirectResponse(f"/sources/{source.id}/imports/{job.id}", status_code=303)
    try:
        headers = import_jobs.preview(job, source).headers
    except (ImportFileError, OSError):
        return _job_page(request, session, source, job, status_code=400)
    form = await request.form()
    chosen = [str(form.get(f"col{i}") or "") for i in range(len(headers))]
    try:
        mapping = import_jobs.check_mapping(headers, chosen)
    except import_jobs.MappingError as error:
        picked = dict(zip(headers, chosen, strict=True))
        return _job_page(
            request, session, source, job, mapping_error=str(error), chosen=picked, status_code=422
        )
    started = import_jobs.start(
        session, job=job, source=source, mapping=mapping, actor=principal.actor
    )
    session.commit()
    if started:
        import_jobs.run_in_background(job.id, store=pipeline.process)
    return RedirectResponse(f"/sources/{source.id}/imports/{job.id}", status_code=303)


@router.get("/sources/{source_id}/imports/{job_id}/progress")
def import_progress(
    request: Request, session: SessionDep, principal: CanRead, source_id: int, job_id: int
) -> Response:
    """How far the import got, for the page's progress bar (polled)."""
    found = _job_or_404(request, session, source_id, job_id)
    if not isinstance(found, tuple):
        return found
    job = found[1]
    return JSONResponse(
        {
            "status": "interrupted" if import_jobs.interrupted(job) else job.status,
            "done": job.rows_done,
            "total": job.rows_total,
        },
        headers={"Cache-Control": "no-store"},
    )


_DOWNLOADS = {
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        import_jobs.refused_xlsx,
    ),
    "csv": ("text/csv; charset=utf-8", import_jobs.refused_csv),
}


@router.get("/sources/{source_id}/imports/{job_id}/refused.{kind}")
def refused_download(
    request: Request,
    session: SessionDep,
    principal: CanRead,
    source_id: int,
    job_id: int,
    kind: str,
) -> Response:
    """The refused rows with their reasons, as .xlsx or .csv."""
    found = _job_or_404(request, session, source_id, job_id)
    if not isinstance(found, tuple):
        return found
    if kind not in _DOWNLOADS:
        return error_page(
            request, status_code=404, title="没有这种格式", message="只能下载 .xlsx 或 .csv。"
        )
    media, build = _DOWNLOADS[kind]
    job = found[1]
    name = f"import-{job.id}-refused.{kind}"
    return Response(
        build(job),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
