"""Writing a submission: who sees it, creating and saving (every save a version, checked
against the version the editor opened), the editing lock, the deadline and uploaded images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import calendar
from yuqing.cases import service as cases
from yuqing.core import audit
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local, utcnow
from yuqing.editorial import config, richtext, stages
from yuqing.editorial.models import (
    Attachment,
    EditorialImage,
    Submission,
    SubmissionKind,
    SubmissionVersion,
)
from yuqing.editorial.schemas import (
    EditorialError,
    EditorialPermissionError,
    SubmissionNotFound,
    VersionConflict,
)
from yuqing.org import service as org

READ, WRITE, REVIEW, MANAGE = (
    "editorial.read",
    "editorial.write",
    "editorial.review",
    "editorial.manage",
)
EDITABLE = ("draft", "returned")

current_time: Callable[[], datetime] = utcnow  # tests replay a day by setting it


@dataclass
class Draft:
    """What an editor sends: the fields of a submission (the body as pasted HTML)."""

    title: str
    body: str = ""
    kind_id: int | None = None
    unit_id: int | None = None
    author_person_id: int | None = None
    event_date: date | None = None
    channels: tuple[str, ...] = ()
    outlet: str = ""
    visit_at: datetime | None = None
    contact_person_id: int | None = None


# --- seeing ---------------------------------------------------------------------------


def sees(principal: Principal, submission: Submission) -> bool:
    return principal.visible_units is None or principal.sees_unit(submission.unit_id)


def get_submission(session: Session, *, principal: Principal, submission_id: int) -> Submission:
    """The submission, or SubmissionNotFound when it does not exist or lies outside the
    account's units (the same answer, so ids tell nothing)."""
    row = session.get(Submission, submission_id)
    if row is None or not sees(principal, row):
        raise SubmissionNotFound(f"稿件 {submission_id} 不存在或不在您的查看范围内")
    if not principal.can(READ):
        raise EditorialPermissionError("permission", "您的账号没有查看稿件的权限")
    return row


def list_submissions(
    session: Session, *, principal: Principal, states: tuple[str, ...] = (), limit: int = 500
) -> list[Submission]:
    statement = select(Submission)
    if principal.visible_units is not None:
        statement = statement.where(Submission.unit_id.in_(sorted(principal.visible_units)))
    if states:
        statement = statement.where(Submission.state.in_(states))
    statement = statement.order_by(Submission.updated_at.desc()).limit(limit)
    return list(session.execute(statement).scalars())


def list_versions(session: Session, *, submission: Submission) -> list[SubmissionVersion]:
    statement = select(SubmissionVersion).where(SubmissionVersion.submission_id == submission.id)
    return list(session.execute(statement.order_by(SubmissionVersion.number)).scalars())


def get_version(session: Session, *, submission: Submission, number: int) -> SubmissionVersion:
    row = session.execute(
        select(SubmissionVersion).where(
            SubmissionVersion.submission_id == submission.id, SubmissionVersion.number == number
        )
    ).scalar_one_or_none()
    if row is None:
        raise EditorialError("version_unknown", f"没有第 {number} 版")
    return row


# --- the deadline ---------------------------------------------------------------------


def deadline(
    session: Session, *, kind: SubmissionKind, event_date: date | None
) -> tuple[datetime | None, str | None]:
    """When the item is due: the end of the N-th working day after the event date, on the
    case calendar (holidays, 调休, closures); with the rule it was counted on."""
    if kind.due_working_days is None or event_date is None:
        return None, None
    workdays = calendar.load(session)
    closures = cases.list_closures(session)
    day = event_date
    for _ in range(max(1, round(kind.due_working_days))):
        day = calendar.next_working_day(day, closures, workdays=workdays)
    zone = ZoneInfo(get_settings().timezone)
    due = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
    rule = calendar.basis(workdays, event_date, day).label
    return due.astimezone(UTC).replace(tzinfo=None), rule


def is_overdue(submission: Submission, now: datetime | None = None) -> bool:
    """Due and not yet through review (approved or published in time counts as met)."""
    if submission.due_at is None:
        return False
    met = submission.approved_at or submission.published_at
    if met is not None:
        return met > submission.due_at
    return submission.state in config.OPEN_STATES and (now or current_time()) > submission.due_at


# --- creating and saving --------------------------------------------------------------


def _checked(session: Session, principal: Principal, draft: Draft) -> dict[str, Any]:
    title = (draft.title or "").strip()
    if not title:
        raise EditorialError("title_empty", "标题不能为空")
    if len(title) > config.MAX_TITLE_CHARS:
        raise EditorialError("title_long", f"标题不能超过 {config.MAX_TITLE_CHARS} 个字")
    if len(draft.body or "") > config.MAX_BODY_CHARS:
        raise EditorialError(
            "body_long",
            f"正文过长（{len(draft.body):,} 个字符，上限 {config.MAX_BODY_CHARS:,}）：请拆分或删减后再保存，已保存的内容不变",
        )
    body = richtext.clean(draft.body or "")
    if draft.unit_id is not None and org.get_unit(session, unit_id=draft.unit_id) is None:
        raise EditorialError("unit_unknown", f"单位 {draft.unit_id} 不存在")
    if draft.unit_id is not None and not principal.sees_unit(draft.unit_id):
        raise SubmissionNotFound("该单位不在您的范围内")
    for person_id in (draft.author_person_id, draft.contact_person_id):
        if person_id is not None and org.get_person(session, person_id=person_id) is None:
            raise EditorialError("person_unknown", f"人员 {person_id} 不存在")
    unknown = [c for c in draft.channels if c not in config.CHANNELS]
    if unknown:
        raise EditorialError("channel_unknown", f"未知的发布渠道：{'、'.join(unknown)}")
    return {
        "title": title,
        "body": body,
        "unit_id": draft.unit_id,
        "author_person_id": draft.author_person_id,
        "event_date": draft.event_date,
        "channels": " ".join(dict.fromkeys(draft.channels)),
        "outlet": draft.outlet.strip()[:200],
        "visit_at": draft.visit_at,
        "contact_person_id": draft.contact_person_id,
    }


def create_version(
    session: Session, submission: Submission, principal: Principal | None, note: str = ""
) -> SubmissionVersion:
    actor = principal.actor if principal else audit.SYSTEM
    row = SubmissionVersion(
        submission_id=submission.id,
        number=submission.version,
        title=submission.title,
        body=submission.body,
        note=note[:300],
        saved_by_user_id=actor.user_id,
        saved_by_name=actor.name,
        saved_at=current_time(),
    )
    session.add(row)
    session.flush()
    return row


def create_submission(
    session: Session, *, principal: Principal, draft: Draft, case_id: int | None = None
) -> Submission:
    """A new draft (version 1), locked to its writer; from a case when ``case_id`` is given."""
    if not principal.can(WRITE):
        raise EditorialPermissionError("permission", "您的账号没有撰写稿件的权限")
    kinds = {k.id: k for k in stages.list_kinds(session)}
    # Without a kind: a statement when it answers a case, else the default kind (新闻稿).
    wanted = (lambda k: k.key == "statement") if case_id is not None else (lambda k: k.is_default)
    kind = kinds.get(draft.kind_id or 0) or next(
        (k for k in kinds.values() if wanted(k)), next(iter(kinds.values()))
    )
    if draft.unit_id is None:
        draft.unit_id = principal.unit_id
    values = _checked(session, principal, draft)
    if case_id is not None:
        cases.get_case(session, principal=principal, case_id=case_id)  # seen, or it raises
    now = current_time()
    due, rule = deadline(session, kind=kind, event_date=values["event_date"])
    row = Submission(
        kind_id=kind.id,
        case_id=case_id,
        state="draft",
        version=1,
        due_at=due,
        due_rule=rule,
        created_by_user_id=principal.user_id,
        created_by_name=principal.actor.name,
        created_at=now,
        updated_at=now,
        lock_user_id=principal.user_id,
        lock_name=principal.actor.name,
        locked_at=now,
        **values,
    )
    audit.record_create(
        session,
        row,
        actor=principal.actor,
        object_type="submission",
        summary=f"新建稿件“{row.title[:60]}”（{kind.name}）",
        values=lambda r: {"title": r.title, "kind": kind.name, "unit_id": r.unit_id},
    )
    create_version(session, row, principal, "新建")
    if case_id is not None:
        cases.create_entry(
            session,
            case=cases.get_case(session, principal=principal, case_id=case_id),
            actor=principal.actor,
            kind="statement",
            text=f"起草{kind.name}：“{row.title}”（稿件 #{row.id}）",
        )
    return row


def _check_lock(submission: Submission, principal: Principal) -> None:
    if submission.lock_user_id in (None, principal.user_id):
        return
    stale = submission.locked_at is not None and current_time() - submission.locked_at > timedelta(
        minutes=config.LOCK_MINUTES
    )
    if not stale:
        raise EditorialError(
            "locked",
            f"稿件正由 {submission.lock_name} 编辑（{format_local(submission.locked_at)} 起），"
            "请稍后再试或请宣传部强制解锁",
        )


def update_submission(
    session: Session,
    *,
    principal: Principal,
    submission: Submission,
    draft: Draft,
    base_version: int,
) -> Submission:
    """Save: a new version when anything changed. ``base_version`` is the version the editor
    opened; when someone saved since, VersionConflict (nothing saved, the editor keeps the
    text)."""
    if not principal.can(WRITE):
        raise EditorialPermissionError("permission", "您的账号没有撰写稿件的权限")
    if submission.state not in EDITABLE:
        raise EditorialError("not_editable", f"稿件{config.STATES[submission.state]}，不能修改")
    if base_version != submission.version:
        last = list_versions_after(session, submission=submission, number=base_version)
        who = "、".join(dict.fromkeys(v.saved_by_name for v in last)) or "他人"
        raise VersionConflict(
            f"保存未成功：您打开的是第 {base_version} 版，{who} 已保存了第 {submission.version} 版。"
            "您的内容仍在下方编辑框中，未丢失；请先查看最新版本的差异，再合并后保存。",
            current=submission.version,
        )
    _check_lock(submission, principal)
    values = _checked(session, principal, draft)
    changed = {k: v for k, v in values.items() if getattr(submission, k) != v}
    if not changed:
        return submission
    before = {k: getattr(submission, k) for k in changed}
    for key, value in changed.items():
        setattr(submission, key, value)
    if "event_date" in changed:
        kind = session.get(SubmissionKind, submission.kind_id)
        assert kind is not None
        submission.due_at, submission.due_rule = deadline(
            session, kind=kind, event_date=submission.event_date
        )
    submission.version += 1
    submission.updated_at = current_time()
    submission.lock_user_id, submission.lock_name = principal.user_id, principal.actor.name
    submission.locked_at = current_time()
    session.flush()
    shown = {k: (v if k != "body" else f"{len(v)} 字符") for k, v in before.items()}
    after = {k: (v if k != "body" else f"{len(v)} 字符") for k, v in changed.items()}
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="submission",
        object_id=submission.id,
        summary=f"保存稿件“{submission.title[:60]}”第 {submission.version} 版",
        changes=audit.diff(shown, after),
    )
    create_version(session, submission, principal)
    return submission


def list_versions_after(
    session: Session, *, submission: Submission, number: int
) -> list[SubmissionVersion]:
    return [v for v in list_versions(session, submission=submission) if v.number > number]


# --- the lock -------------------------------------------------------------------------


def lock(session: Session, *, principal: Principal, submission: Submission) -> Submission:
    """Take the editing lock (refused while another editor holds a fresh one)."""
    _check_lock(submission, principal)
    submission.lock_user_id, submission.lock_name = principal.user_id, principal.actor.name
    submission.locked_at = current_time()
    session.flush()
    return submission


def unlock(
    session: Session, *, principal: Principal, submission: Submission, force: bool = False
) -> Submission:
    """Give the lock back; ``force``: the publicity department takes it off someone else
    (audited, and the editor's unsaved text stays in their browser)."""
    if submission.lock_user_id is None:
        return submission
    if submission.lock_user_id != principal.user_id:
        if not force or not principal.can(MANAGE):
            raise EditorialPermissionError("permission", "只有宣传部可以强制解锁他人的编辑")
        audit.record(
            session,
            actor=principal.actor,
            action="update",
            object_type="submission",
            object_id=submission.id,
            summary=f"强制解锁稿件“{submission.title[:60]}”（原由 {submission.lock_name} 编辑）",
            changes={"lock": [submission.lock_name, None]},
        )
    submission.lock_user_id, submission.lock_name, submission.locked_at = None, "", None
    session.flush()
    return submission


# --- images ---------------------------------------------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def images_dir() -> Path:
    return Path(get_settings().data_dir) / "editorial" / "images"


def _image_type(data: bytes) -> str | None:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def create_image(session: Session, *, principal: Principal, data: bytes) -> EditorialImage:
    """Store an uploaded picture by its hash (the same picture twice is one file). Only
    PNG, JPEG, GIF and WebP by their bytes, never SVG (it can carry script)."""
    if not principal.can(WRITE):
        raise EditorialPermissionError("permission", "您的账号没有撰写稿件的权限")
    if len(data) > config.MAX_IMAGE_BYTES:
        raise EditorialError(
            "image_large",
            f"图片过大（{len(data) / 1024 / 1024:.1f} MB），上限为 "
            f"{config.MAX_IMAGE_BYTES // 1024 // 1024} MB：请压缩后再上传",
        )
    ext = _image_type(data)
    if ext is None:
        raise EditorialError("image_type", "只能上传 PNG、JPEG、GIF 或 WebP 图片")
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    found = session.execute(
        select(EditorialImage).where(EditorialImage.name == name)
    ).scalar_one_or_none()
    if found is not None:
        return found
    folder = images_dir()
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{name}.part"
    temp.write_bytes(data)
    temp.replace(folder / name)
    row = EditorialImage(
        name=name,
        content_type=config.IMAGE_TYPES[ext],
        size=len(data),
        uploaded_by_user_id=principal.user_id,
        uploaded_at=current_time(),
    )
    session.add(row)
    session.flush()
    return row


def get_image_path(name: str) -> Path | None:
    """The stored file of an uploaded image name, or None (the name is checked: no paths)."""
    stem, _, ext = name.partition(".")
    if len(stem) != 64 or any(c not in "0123456789abcdef" for c in stem):
        return None
    if ext not in config.IMAGE_TYPES:
        return None
    path = images_dir() / name
    return path if path.is_file() else None


def attachments_dir() -> Path:
    return Path(get_settings().data_dir) / "editorial" / "attachments"


def create_attachment(
    session: Session, *, principal: Principal, submission: Submission, filename: str, data: bytes
) -> Attachment:
    """Attach a file to a submission (any state but the published ones: those are corrected
    through a new version). Office files, PDFs, pictures and zips, by their first bytes."""
    if not principal.can(WRITE):
        raise EditorialPermissionError("permission", "您的账号没有撰写稿件的权限")
    name = Path(filename or "").name.strip()[:200] or "附件"
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if len(data) > config.MAX_ATTACHMENT_BYTES:
        raise EditorialError(
            "attachment_large",
            f"附件过大（{len(data) / 1024 / 1024:.1f} MB），上限为 "
            f"{config.MAX_ATTACHMENT_BYTES // 1024 // 1024} MB",
        )
    magic = config.ATTACHMENT_MAGIC.get(ext)
    if magic is None or not any(data.startswith(m) for m in magic):
        kinds = "、".join(sorted(config.ATTACHMENT_MAGIC))
        raise EditorialError("attachment_type", f"附件须为以下格式且内容与扩展名相符：{kinds}")
    stored = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    folder = attachments_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / stored).is_file():
        temp = folder / f".{stored}.part"
        temp.write_bytes(data)
        temp.replace(folder / stored)
    row = Attachment(
        submission_id=submission.id,
        filename=name,
        stored=stored,
        content_type="application/octet-stream",
        size=len(data),
        uploaded_by_user_id=principal.user_id,
        uploaded_by_name=principal.actor.name,
        uploaded_at=current_time(),
    )
    audit.record_create(
        session,
        row,
        actor=principal.actor,
        object_type="editorial_attachment",
        summary=f"稿件“{submission.title[:60]}”添加附件 {name}",
        values=lambda r: {"filename": r.filename, "size": r.size, "submission_id": r.submission_id},
    )
    return row


def list_attachments(session: Session, *, submission: Submission) -> list[Attachment]:
    statement = select(Attachment).where(Attachment.submission_id == submission.id)
    return list(session.execute(statement.order_by(Attachment.id)).scalars())


def get_attachment(
    session: Session, *, submission: Submission, attachment_id: int
) -> tuple[Attachment, Path]:
    row = session.get(Attachment, attachment_id)
    path = attachments_dir() / row.stored if row is not None else None
    if row is None or row.submission_id != submission.id or path is None or not path.is_file():
        raise SubmissionNotFound(f"附件 {attachment_id} 不存在")
    return row, path


def count_by_state(session: Session, *, principal: Principal) -> dict[str, int]:
    statement = select(Submission.state, func.count()).group_by(Submission.state)
    if principal.visible_units is not None:
        statement = statement.where(Submission.unit_id.in_(sorted(principal.visible_units)))
    return {state: int(n) for state, n in session.execute(statement)}


def flags_of(submission: Submission) -> list[dict[str, Any]]:
    loaded = json.loads(submission.flags or "[]")
    return loaded if isinstance(loaded, list) else []
