"""Registration rounds (登记): the department opens one with a deadline; each unit keeps its
roster on the desk or uploads its 登记表, then its head submits the form with the scanned
stamped copy; the department accepts it or returns it with the reason. The roster as
submitted is kept with the form (a snapshot), with the quota warnings of that moment."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.timeutil import utcnow
from yuqing.org import excel, files, quota, service
from yuqing.org.changes import PROPOSE, check_department
from yuqing.org.models import RegistrationForm, RegistrationRound
from yuqing.org.schemas import RosterImport, Viewer
from yuqing.org.service import OrgAccessError, OrgError, OrgPermissionError

STATUS_LABELS = {
    "draft": "未提交",
    "submitted": "已提交待受理",
    "returned": "已退回待修改",
    "accepted": "已受理",
}
ACTION_LABELS = {"submit": "提交", "return": "退回", "accept": "受理"}
# Allowed moves: action → (from states, to state).
MOVES = {
    "submit": (("draft", "returned"), "submitted"),
    "return": (("submitted",), "returned"),
    "accept": (("submitted",), "accepted"),
}


def open_round(
    session: Session, *, viewer: Viewer, title: str, deadline: datetime
) -> RegistrationRound:
    """A new round, with a draft form for every unit that has a quota."""
    check_department(viewer)
    title = " ".join(title.split())
    if not title or len(title) > 200:
        raise OrgError("请填写登记名称（不超过 200 字）")
    if deadline <= utcnow():
        raise OrgError("截止时间须晚于现在")
    quota.ensure_defaults(session)
    found = RegistrationRound(
        title=title, deadline=deadline, opened_by=viewer.actor.name, opened_at=utcnow()
    )
    audit.record_create(
        session,
        found,
        actor=viewer.actor,
        object_type="registration_round",
        summary=f"发起登记“{title}”",
        values=lambda r: {"title": r.title, "deadline": r.deadline.isoformat()},
    )
    for unit in quota.list_compliance(session, viewer=viewer):
        session.add(RegistrationForm(round_id=found.id, unit_id=unit.unit_id, status="draft"))
    session.flush()
    return found


def list_rounds(session: Session) -> list[RegistrationRound]:
    query = select(RegistrationRound).order_by(RegistrationRound.opened_at.desc())
    return list(session.execute(query).scalars())


def get_round(session: Session, *, round_id: int) -> RegistrationRound | None:
    return session.get(RegistrationRound, round_id)


def list_forms(
    session: Session, *, round_id: int, viewer: Viewer | None = None
) -> list[RegistrationForm]:
    query = select(RegistrationForm).where(RegistrationForm.round_id == round_id)
    if viewer is not None and viewer.visible_units is not None:
        query = query.where(RegistrationForm.unit_id.in_(viewer.visible_units))
    return list(session.execute(query.order_by(RegistrationForm.unit_id)).scalars())


def list_not_submitted(session: Session, *, round_id: int) -> list[RegistrationForm]:
    """Forms not yet handed in (draft or returned and not sent again)."""
    return [f for f in list_forms(session, round_id=round_id) if f.status in ("draft", "returned")]


def get_visible_form(
    session: Session, *, viewer: Viewer, round_id: int, unit_id: int
) -> RegistrationForm:
    form = session.execute(
        select(RegistrationForm).where(
            RegistrationForm.round_id == round_id, RegistrationForm.unit_id == unit_id
        )
    ).scalar_one_or_none()
    if form is None or not viewer.sees_unit(unit_id):
        raise OrgAccessError("该单位的登记表不存在或不在您的查看范围内")
    return form


def _check_unit(viewer: Viewer, form: RegistrationForm) -> None:
    if not viewer.can(PROPOSE):
        raise OrgPermissionError("您的账号不能填报登记表")
    if form.status not in ("draft", "returned"):
        raise OrgError(f"登记表{STATUS_LABELS[form.status]}，不能再修改")


def upload(
    session: Session, *, viewer: Viewer, form: RegistrationForm, data: bytes, filename: str
) -> RosterImport:
    """The unit's 登记表 into the roster (rows of other units are refused by the import)."""
    _check_unit(viewer, form)
    return excel.import_roster(session, viewer=viewer, data=data, filename=filename)


def snapshot(session: Session, *, unit_id: int) -> list[dict[str, object]]:
    """The unit's active people and their roles, as the form records them."""
    people = [p for p in service.list_people(session, unit_id=unit_id) if p.active]
    roles = service.list_duty_roles_of(session, person_ids=[p.id for p in people])
    return [
        {
            "person_id": p.id,
            "name": p.name,
            "position": p.position or "",
            "phone": p.phone or "",
            "political_status": p.political_status or "",
            "roles": [r.name for r in roles[p.id]],
        }
        for p in people
    ]


def submit(
    session: Session,
    *,
    viewer: Viewer,
    form: RegistrationForm,
    scan: bytes,
    scan_name: str,
) -> RegistrationForm:
    """The unit head hands the form in with the scan of the stamped copy; the roster and
    the quota warnings of this moment are kept with it (over quota: kept, with a warning)."""
    _check_unit(viewer, form)
    if not scan:
        raise OrgError("请上传盖章登记表的扫描件（PDF 或图片）")
    form.scan_stored = files.store("scans", data=scan, filename=scan_name, allowed=files.SCAN_TYPES)
    form.scan_name = scan_name[:200]
    form.snapshot = json.dumps(snapshot(session, unit_id=form.unit_id), ensure_ascii=False)
    lines = quota.list_compliance(session, viewer=viewer, unit_ids=frozenset({form.unit_id}))
    warnings = [w for unit in lines for w in unit.warnings]
    warnings += [
        f"{line.role}缺额 {line.missing} 人"
        for unit in lines
        for line in unit.lines
        if line.missing
    ]
    form.warnings = "\n".join(warnings)
    form.submitted_by, form.submitted_at = viewer.actor.name, utcnow()
    return _move(session, viewer=viewer, form=form, action="submit")


def accept(session: Session, *, viewer: Viewer, form: RegistrationForm) -> RegistrationForm:
    check_department(viewer)
    form.accepted_by, form.accepted_at = viewer.actor.name, utcnow()
    return _move(session, viewer=viewer, form=form, action="accept")


def return_(
    session: Session, *, viewer: Viewer, form: RegistrationForm, reason: str
) -> RegistrationForm:
    check_department(viewer)
    reason = reason.strip()
    if not reason:
        raise OrgError("请写明退回的理由")
    form.return_reason, form.returned_at = reason[:2000], utcnow()
    return _move(session, viewer=viewer, form=form, action="return")


def _move(
    session: Session, *, viewer: Viewer, form: RegistrationForm, action: str
) -> RegistrationForm:
    """The one guarded transition of a form, audited."""
    sources, target = MOVES[action]
    if form.status not in sources:
        raise OrgError(f"登记表{STATUS_LABELS[form.status]}，不能{ACTION_LABELS[action]}")
    before, form.status = form.status, target
    session.flush()
    audit.record(
        session,
        actor=viewer.actor,
        action="update",
        object_type="registration_form",
        object_id=form.id,
        summary=f"登记表{STATUS_LABELS[target]}",
        changes={"status": [before, target]},
    )
    return form


def rows_of(form: RegistrationForm) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(form.snapshot or "[]")
    return rows
