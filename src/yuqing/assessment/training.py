"""Training sessions (培训): the department plans them, invites by duty role or unit,
uploads the materials; people sign in by the session's QR code or the organiser ticks the
list. Signing in twice changes nothing. Attendance is credit (sources.training_attended)."""

from __future__ import annotations

import io
import json
import secrets
from datetime import datetime

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.assessment import config
from yuqing.assessment.models import TrainingAttendance, TrainingInvite, TrainingSession
from yuqing.assessment.schemas import AssessmentError
from yuqing.assessment.service import check_department
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.org import files
from yuqing.org import service as org
from yuqing.org.models import Person

MATERIAL_TYPES = (".pdf", ".docx", ".pptx", ".xlsx", ".png", ".jpg", ".jpeg")


def create_session(
    session: Session,
    *,
    viewer: org.Viewer,
    topic: str,
    kind: str,
    starts_at: datetime,
    place: str = "",
    link: str = "",
    trainer: str = "",
) -> TrainingSession:
    check_department(viewer)
    topic = " ".join(topic.split())
    if not topic or len(topic) > 200:
        raise AssessmentError("请填写培训主题（不超过 200 字）")
    if kind not in config.TRAINING_KINDS:
        raise AssessmentError(f"未知的培训类型 {kind}")
    if link and not link.startswith(("https://", "http://")):
        raise AssessmentError("线上链接应以 http:// 或 https:// 开头")
    row = TrainingSession(
        topic=topic, kind=kind, starts_at=starts_at, place=place.strip()[:200],
        link=link.strip()[:500], trainer=trainer.strip()[:100], materials="[]",
        sign_token=secrets.token_urlsafe(18), created_by=viewer.actor.name, created_at=utcnow(),
    )  # fmt: skip
    audit.record_create(
        session, row, actor=viewer.actor, object_type="training", summary=f"安排培训“{topic}”",
        values=lambda t: {"topic": t.topic, "kind": t.kind, "starts_at": t.starts_at.isoformat()},
    )  # fmt: skip
    return row


def list_sessions(session: Session) -> list[TrainingSession]:
    query = select(TrainingSession).order_by(TrainingSession.starts_at.desc())
    return list(session.execute(query).scalars())


def get_session(session: Session, *, training_id: int) -> TrainingSession | None:
    return session.get(TrainingSession, training_id)


def get_by_token(session: Session, *, token: str) -> TrainingSession | None:
    query = select(TrainingSession).where(TrainingSession.sign_token == token)
    return session.execute(query).scalar_one_or_none()


def invite(
    session: Session,
    *,
    viewer: org.Viewer,
    training: TrainingSession,
    duty_role_ids: list[int],
    unit_ids: list[int],
) -> int:
    """Invite the active holders of the roles and the people of the units; returns how many
    were new (someone invited twice is invited once)."""
    check_department(viewer)
    people = org.list_active_people(session, unit_ids=unit_ids, duty_role_ids=duty_role_ids)
    have = set(
        session.execute(
            select(TrainingInvite.person_id).where(TrainingInvite.training_id == training.id)
        ).scalars()
    )
    new = [p.id for p in people if p.id not in have]
    session.add_all(TrainingInvite(training_id=training.id, person_id=pid) for pid in new)
    session.flush()
    audit.record(
        session, actor=viewer.actor, action="update", object_type="training",
        object_id=training.id, summary=f"邀请 {len(new)} 人参加培训",
        changes={"invited": [len(have), len(have) + len(new)]},
    )  # fmt: skip
    return len(new)


def add_material(
    session: Session, *, viewer: org.Viewer, training: TrainingSession, data: bytes, filename: str
) -> None:
    check_department(viewer)
    stored = files.store("materials", data=data, filename=filename, allowed=MATERIAL_TYPES)
    materials = [*json.loads(training.materials), [filename[:200], stored]]
    training.materials = json.dumps(materials, ensure_ascii=False)
    session.flush()
    audit.record(
        session, actor=viewer.actor, action="update", object_type="training",
        object_id=training.id, summary=f"上传培训资料 {filename[:100]}",
    )  # fmt: skip


def materials_of(training: TrainingSession) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in json.loads(training.materials or "[]")]


def sign_in(
    session: Session, *, training: TrainingSession, person_id: int, method: str, actor: Actor
) -> tuple[TrainingAttendance, bool]:
    """Record the person's attendance; a second sign-in returns the first (``False``)."""
    found = session.get(TrainingAttendance, (training.id, person_id))
    if found is not None:
        return found, False
    person = session.get(Person, person_id)
    if person is None or not person.active:
        raise AssessmentError("该人员不存在或已停用，不能签到")
    row = TrainingAttendance(
        training_id=training.id, person_id=person.id, unit_id=person.unit_id,
        signed_at=utcnow(), method=method, signed_by=actor.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="create", object_type="training_attendance",
        object_id=f"{training.id}:{person.id}", summary=f"{person.name} 签到“{training.topic}”",
    )  # fmt: skip
    return row, True


def list_attendance(session: Session, *, training_id: int) -> list[TrainingAttendance]:
    query = select(TrainingAttendance).where(TrainingAttendance.training_id == training_id)
    return list(session.execute(query.order_by(TrainingAttendance.signed_at)).scalars())


def list_invited(session: Session, *, training_id: int) -> list[int]:
    query = select(TrainingInvite.person_id).where(TrainingInvite.training_id == training_id)
    return list(session.execute(query).scalars())


def qr_svg(url: str) -> bytes:
    """The sign-in QR code (segno, no network) of the session's sign-in page, as a file an
    <img> can show: with the SVG namespace (``svg_inline`` leaves it out, and a browser then
    draws nothing)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, xmldecl=False)
    return out.getvalue()
