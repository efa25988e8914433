"""Files imported on the desk (导入任务): kept under the data dir, previewed, mapped, then
stored in a background thread whose progress is a database row the page polls.

The file is saved before anything else, so a restart loses no upload: an import whose
heartbeat stopped shows as interrupted and can be started again (storing is idempotent: rows
stored before count as unchanged).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.database import session_scope
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.sources import importers
from yuqing.sources.importers import ImportFileError, Preview
from yuqing.sources.models import ImportJob, Source
from yuqing.sources.storing import Store

log = logging.getLogger(__name__)

SUFFIXES = (".xlsx", ".csv", ".jsonl", ".ndjson", ".tsv", ".txt")
BATCH_ROWS = 1000  # rows per stored batch (as the CLI): the bar moves every few seconds
STALE_AFTER = timedelta(minutes=5)  # no heartbeat for this long: the import was interrupted
_running: set[int] = set()  # jobs running in this process
_running_lock = threading.Lock()

# The fields a column can go to, in the words of the desk (order of the mapping menu).
TARGET_LABELS: dict[str, str] = {
    "title": "标题",
    "text": "内容",
    "url": "链接",
    "published_at": "发布时间",
    "site": "来源/平台",
    "author": "作者",
    "reposts": "转发数",
    "comments": "评论数",
    "likes": "点赞数",
    "external_id": "编号（平台上的 id）",
    "parent_external_id": "转发自（上级 id）",
    "root_external_id": "原帖 id",
    "html": "网页源码",
    "language": "语言代码",
    importers.RAW: "保留原样（附加信息）",
    importers.IGNORE: "不导入",
}
TEXT_TARGETS = ("title", "text", "html")
SINGLE_TARGETS = frozenset(TARGET_LABELS) - {importers.RAW, importers.IGNORE}


class MappingError(ValueError):
    """A column mapping the desk cannot use; the message says why, in Chinese."""


@dataclass(frozen=True)
class RefusedRow:
    """A row not stored, and why."""

    row: int
    reason: str
    title: str = ""
    url: str = ""


def imports_dir() -> Path:
    path = Path(get_settings().data_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_of(job: ImportJob) -> Path:
    return imports_dir() / job.stored_name


def _suffix(filename: str) -> str:
    return Path(filename).suffix.lower()


def save_upload(
    session: Session, *, source: Source, filename: str, data: IO[bytes], actor: Actor
) -> tuple[ImportJob, Preview]:
    """Keep the uploaded file under the data dir and read its first rows. A file that cannot
    be read raises ImportFileError and is not kept."""
    name = Path(filename.replace("\\", "/")).name[-200:] or "上传文件"
    suffix = _suffix(name)
    if suffix in (".xls", ".et"):
        raise ImportFileError(
            f"不支持旧版 Excel 文件 {name}：请在 Excel 或 WPS 中另存为 .xlsx 或 CSV"
        )
    if suffix not in SUFFIXES:
        raise ImportFileError(f"不支持的文件类型 {name}：请上传 .xlsx、.csv 或 .jsonl 文件")
    stored = f"{secrets.token_hex(12)}{suffix}"
    path = imports_dir() / stored
    with path.open("wb") as handle:
        shutil.copyfileobj(data, handle, length=1024 * 1024)
    try:
        preview = importers.preview_file(path, remembered=remembered_mapping(source))
    except ImportFileError as error:
        path.unlink(missing_ok=True)
        raise ImportFileError(str(error).replace(path.name, name)) from None
    except Exception:
        path.unlink(missing_ok=True)
        raise
    job = ImportJob(
        source_id=source.id,
        filename=name,
        stored_name=stored,
        size_bytes=path.stat().st_size,
        status="mapping",
        created_by_id=actor.user_id,
        created_by=actor.name,
    )
    session.add(job)
    session.flush()
    return job, preview


def preview(job: ImportJob, source: Source) -> Preview:
    """The preview of a job's kept file (read again: only the first rows)."""
    try:
        return importers.preview_file(file_of(job), remembered=remembered_mapping(source))
    except ImportFileError as error:
        raise ImportFileError(str(error).replace(job.stored_name, job.filename)) from None


def remembered_mapping(source: Source) -> dict[str, str]:
    return _json_dict(source.import_mapping)


def job_mapping(job: ImportJob) -> dict[str, str]:
    return _json_dict(job.mapping)


def _json_dict(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def check_mapping(headers: Sequence[str], chosen: Sequence[str]) -> dict[str, str]:
    """Header → target from the desk's choices, one per column; raises MappingError when no
    column gives the text or two columns go to one field."""
    if len(chosen) != len(headers):
        raise MappingError("列的对应关系不完整，请重新选择。")
    mapping: dict[str, str] = {}
    by_target: dict[str, list[str]] = {}
    for header, target in zip(headers, chosen, strict=True):
        if not header:
            continue
        if target not in TARGET_LABELS:
            raise MappingError(f"「{header}」的对应字段无效，请重新选择。")
        mapping[header] = target
        by_target.setdefault(target, []).append(header)
    for target, columns in by_target.items():
        if target in SINGLE_TARGETS and len(columns) > 1:
            shown = "、".join(f"「{c}」" for c in columns)
            raise MappingError(
                f"{shown} 都对应到了「{TARGET_LABELS[target]}」，一个字段只能对应一列。"
            )
    if not any(t in by_target for t in TEXT_TARGETS):
        raise MappingError("请至少把一列对应到「标题」或「内容」：没有它们，信息无法保存。")
    return mapping


def start(
    session: Session, *, job: ImportJob, source: Source, mapping: dict[str, str], actor: Actor
) -> bool:
    """Confirm the mapping, remember it for the source and queue the job. False when the job
    was started already (a second click)."""
    allowed = ["mapping"]
    if interrupted(job):
        allowed.append(job.status)
    text = orjson.dumps(mapping).decode()
    claimed = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status.in_(allowed))
        .values(status="queued", mapping=text, heartbeat_at=utcnow(), error=None)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    session.refresh(job)
    before = source.import_mapping
    source.import_mapping = text
    audit.record(
        session,
        actor=actor,
        action="import",
        object_type="source",
        object_id=source.id,
        summary=f"开始导入文件 {job.filename} 到信息源 {source.name}",
        changes=audit.diff({"import_mapping": before}, {"import_mapping": text}),
    )
    return True


def get(session: Session, *, job_id: int) -> ImportJob | None:
    return session.get(ImportJob, job_id)


def for_source(session: Session, *, source_id: int, limit: int = 10) -> Sequence[ImportJob]:
    return (
        session.execute(
            select(ImportJob)
            .where(ImportJob.source_id == source_id)
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def remove_for_source(session: Session, *, source_id: int) -> None:
    """Forget a source's imports and their kept files (the source is being deleted)."""
    for job in for_source(session, source_id=source_id, limit=1_000_000):
        file_of(job).unlink(missing_ok=True)
        session.delete(job)


def interrupted(job: ImportJob) -> bool:
    """Queued or running, but not here and without a heartbeat for a while."""
    if job.status not in ("queued", "running"):
        return False
    with _running_lock:
        if job.id in _running:
            return False
    beat = job.heartbeat_at or job.started_at or job.created_at
    return utcnow() - beat > STALE_AFTER


def refused_rows(job: ImportJob) -> list[RefusedRow]:
    if not job.refused:
        return []
    return [RefusedRow(**row) for row in orjson.loads(job.refused)]


def notes(job: ImportJob) -> list[importers.RowError]:
    if not job.notes:
        return []
    return [importers.RowError(**row) for row in orjson.loads(job.notes)]


# Running (commits: this is the thread's own unit of work, not a request's)


def run_in_background(job_id: int, *, store: Store) -> threading.Thread:
    """Run the import in a daemon thread; the page follows it through the job row."""
    with _running_lock:
        _running.add(job_id)
    thread = threading.Thread(
        target=_run_guarded, args=(job_id, store), name=f"yuqing-import-{job_id}", daemon=True
    )
    thread.start()
    return thread


def _run_guarded(job_id: int, store: Store) -> None:
    try:
        run(job_id, store=store)
    except Exception as error:  # the page must learn the import ended, whatever happened
        log.exception("import job %s failed", job_id)
        message = (
            f"导入中断：{error}。已保存的行会保留；修正后重新上传即可，已保存的行不会重复保存。"
        )
        _set(job_id, status="failed", error=message, finished_at=utcnow())
    finally:
        with _running_lock:
            _running.discard(job_id)


def _set(job_id: int, **values: Any) -> None:
    with session_scope() as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


def run(job_id: int, *, store: Store) -> None:
    """Read the kept file with the confirmed mapping and store its rows batch by batch
    through ``store`` (the pipeline, which the desk's view passes)."""
    now = utcnow()
    _set(job_id, status="running", started_at=now, heartbeat_at=now, rows_done=0)
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        source = session.get(Source, job.source_id) if job else None
        if job is None or source is None:
            return
        try:
            batch = importers.read_import_file(file_of(job), mapping=job_mapping(job))
        except ImportFileError as error:
            message = str(error).replace(job.stored_name, job.filename)
            _set(job_id, status="failed", error=message, finished_at=utcnow())
            return
        items = dict(batch.items)
        total = len(batch.items) + len(batch.errors)
        _set(job_id, rows_total=total, rows_done=len(batch.errors), heartbeat_at=utcnow())

        def progress(done: int, _valid: int) -> None:
            _set(job_id, rows_done=len(batch.errors) + done, heartbeat_at=utcnow())

        report = importers.store_batch(
            session, batch, source=source, batch_size=BATCH_ROWS, progress=progress, store=store
        )
        refused = [_refused(e, items.get(e.row)) for e in report.errors]
        job.status = "done"
        job.finished_at = job.heartbeat_at = utcnow()
        job.rows_done = job.rows_total = total
        job.count_new = report.new
        job.count_duplicate = report.duplicate
        job.count_updated = report.updated
        job.count_unchanged = report.unchanged
        job.count_refused = len(refused)
        job.refused = orjson.dumps([r.__dict__ for r in refused]).decode()
        job.notes = orjson.dumps([n.__dict__ for n in report.warnings]).decode()
        audit.record(
            session,
            actor=Actor(job.created_by_id, job.created_by or "系统"),
            action="import",
            object_type="source",
            object_id=source.id,
            summary=(
                f"导入文件 {job.filename} 到信息源 {source.name}：新增 {report.new} 条，"
                f"重复 {report.duplicate + report.unchanged} 条，更新 {report.updated} 条，"
                f"拒绝 {len(refused)} 条"
            ),
        )


def _refused(error: importers.RowError, item: dict[str, Any] | None) -> RefusedRow:
    item = item or {}
    return RefusedRow(
        row=error.row,
        reason=error.reason,
        title=str(item.get("title") or item.get("text") or "")[:200],
        url=str(item.get("url") or "")[:500],
    )


# The refused rows as a file to fix and import again

REFUSED_HEADERS = ("行号", "原因", "标题", "链接")


def refused_table(job: ImportJob) -> list[list[object]]:
    rows: list[list[object]] = [list(REFUSED_HEADERS)]
    rows += [[r.row, r.reason, r.title, r.url] for r in refused_rows(job)]
    return rows


def refused_xlsx(job: ImportJob) -> bytes:
    import io

    from openpyxl import Workbook

    from yuqing.core.xlsx import neutralise

    book = Workbook(write_only=True)
    sheet = book.create_sheet("未导入的行")
    for row in refused_table(job):
        sheet.append([neutralise(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def refused_csv(job: ImportJob) -> bytes:
    """UTF-8 with a BOM, so Excel on Chinese Windows opens it without garbling."""
    import csv
    import io

    from yuqing.core.xlsx import neutralise

    out = io.StringIO()
    writer = csv.writer(out)
    for row in refused_table(job):
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
