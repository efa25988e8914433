"""Change requests (变更): a unit proposes adding, removing or replacing a member in a duty
role, the department approves or refuses; an approved change is applied to the roster and
filed (备案) with who and when. The role history (``org_role_term``) keeps every state, so
the ledger of any past date can be printed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.timeutil import utcnow
from yuqing.org import service
from yuqing.org.models import ChangeRequest, DutyRole, Person, PersonRole, RoleTerm
from yuqing.org.schemas import Viewer
from yuqing.org.service import OrgAccessError, OrgError, OrgPermissionError

DECIDE = "team.manage"  # the department's permission (with every unit in view)
PROPOSE = "team.unit"
KINDS = {"add": "增补", "remove": "撤销", "replace": "替换"}
STATUS_LABELS = {"proposed": "待审批", "approved": "已批准备案", "refused": "未批准"}


def check_department(viewer: Viewer) -> None:
    """Only the department (team.manage, every unit) decides and files."""
    if not viewer.can(DECIDE) or viewer.visible_units is not None:
        raise OrgPermissionError("只有宣传部可以审批变更、受理登记表")


def _holds(session: Session, person_id: int, role_id: int) -> bool:
    found = session.get(PersonRole, (person_id, role_id))
    return found is not None


def _member(session: Session, person_id: int | None, unit_id: int, what: str) -> Person:
    """A current member of the unit; a person who left (inactive, or moved to another
    unit) is refused with the reason."""
    person = session.get(Person, person_id) if person_id else None
    if person is None or person.unit_id != unit_id:
        raise OrgError(f"{what}不是本单位的人员")
    if not person.active:
        raise OrgError(f"{what}“{person.name}”已离开（已停用），不能再做变更")
    return person


def _check(session: Session, request: ChangeRequest) -> tuple[Person | None, Person | None]:
    """The person leaving the role and the person taking it, checked against today."""
    role = session.get(DutyRole, request.duty_role_id)
    if role is None:
        raise OrgError("职责角色不存在")
    leaving = taking = None
    if request.kind in ("remove", "replace"):
        leaving = _member(session, request.person_id, request.unit_id, "撤销的人员")
        if not _holds(session, leaving.id, role.id):
            raise OrgError(f"{leaving.name} 并未担任{role.name}")
    if request.kind in ("add", "replace"):
        if request.new_person_id:
            taking = _member(session, request.new_person_id, request.unit_id, "增补的人员")
            if _holds(session, taking.id, role.id):
                raise OrgError(f"{taking.name} 已担任{role.name}")
        elif not request.new_person_name:
            raise OrgError("请选择或填写增补的人员")
    return leaving, taking


def propose(
    session: Session,
    *,
    viewer: Viewer,
    unit_id: int,
    kind: str,
    duty_role_id: int,
    reason: str,
    person_id: int | None = None,
    new_person_id: int | None = None,
    new_person_name: str | None = None,
) -> ChangeRequest:
    if not viewer.sees_unit(unit_id) or service.get_unit(session, unit_id=unit_id) is None:
        raise OrgAccessError("单位不存在或不在您的管理范围内")
    if not viewer.can(PROPOSE):
        raise OrgPermissionError("您的账号不能提出变更申请")
    if kind not in KINDS:
        raise OrgError(f"未知的变更类型 {kind}")
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise OrgError("请填写变更理由（不超过 2000 字）")
    name = " ".join((new_person_name or "").split()) or None
    if name and len(name) > 60:
        raise OrgError("姓名不超过 60 个字符")
    request = ChangeRequest(
        unit_id=unit_id,
        kind=kind,
        duty_role_id=duty_role_id,
        person_id=person_id if kind != "add" else None,
        new_person_id=new_person_id if kind != "remove" else None,
        new_person_name=name if kind != "remove" and not new_person_id else None,
        reason=reason,
        proposed_by=viewer.actor.name,
        proposed_at=utcnow(),
        status="proposed",
    )
    _check(session, request)
    audit.record_create(
        session,
        request,
        actor=viewer.actor,
        object_type="change_request",
        summary=f"提出变更申请（{KINDS[kind]}）",
        values=_values,
    )
    return request


def _values(request: ChangeRequest) -> dict[str, object]:
    return {
        "unit_id": request.unit_id,
        "kind": request.kind,
        "duty_role_id": request.duty_role_id,
        "person_id": request.person_id,
        "new_person_id": request.new_person_id,
        "new_person_name": request.new_person_name,
        "reason": request.reason,
        "status": request.status,
    }


def _decided(request: ChangeRequest) -> None:
    if request.status != "proposed":
        raise OrgError(f"该申请已{STATUS_LABELS[request.status]}，不能再审批")


def approve(
    session: Session, *, viewer: Viewer, request: ChangeRequest, note: str = ""
) -> ChangeRequest:
    """Apply the change to the roster and file it (备案); the role history keeps the old
    state. Checked again against today: a person who left since is refused."""
    check_department(viewer)
    _decided(request)
    leaving, taking = _check(session, request)
    if taking is None and request.kind != "remove":
        taking = service.create_person(
            session, actor=viewer.actor, name=request.new_person_name or "", unit_id=request.unit_id
        )
        request.new_person_id = taking.id
    for person, add in ((leaving, False), (taking, True)):
        if person is None:
            continue
        held = {
            r.id for r in service.list_duty_roles_of(session, person_ids=[person.id])[person.id]
        }
        wanted = held | {request.duty_role_id} if add else held - {request.duty_role_id}
        service._replace_roles(
            session, person_id=person.id, role_ids=wanted, change_request_id=request.id
        )
    return _decide(session, viewer=viewer, request=request, status="approved", note=note)


def refuse(session: Session, *, viewer: Viewer, request: ChangeRequest, note: str) -> ChangeRequest:
    check_department(viewer)
    _decided(request)
    if not note.strip():
        raise OrgError("请写明不批准的理由")
    return _decide(session, viewer=viewer, request=request, status="refused", note=note)


def _decide(
    session: Session, *, viewer: Viewer, request: ChangeRequest, status: str, note: str
) -> ChangeRequest:
    now = utcnow()
    request.status, request.decided_by, request.decision_note = status, viewer.actor.name, note
    if status == "approved":
        request.approved_at = now
    else:
        request.refused_at = now
    session.flush()
    audit.record(
        session,
        actor=viewer.actor,
        action="update",
        object_type="change_request",
        object_id=request.id,
        summary=f"变更申请{STATUS_LABELS[status]}",
        changes={"status": ["proposed", status], "note": [None, note]},
    )
    return request


def get_visible_request(session: Session, *, viewer: Viewer, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id)
    if request is None or not viewer.sees_unit(request.unit_id):
        raise OrgAccessError(f"变更申请 {request_id} 不存在或不在您的查看范围内")
    return request


def list_requests(session: Session, *, viewer: Viewer) -> list[ChangeRequest]:
    query = select(ChangeRequest).order_by(ChangeRequest.proposed_at.desc(), ChangeRequest.id)
    if viewer.visible_units is not None:
        query = query.where(ChangeRequest.unit_id.in_(viewer.visible_units))
    return list(session.execute(query).scalars())


def list_terms_on(
    session: Session, *, on: datetime, unit_ids: frozenset[int] | None = None
) -> list[RoleTerm]:
    """The role terms open at ``on`` (naive UTC): the ledger of that moment."""
    query = select(RoleTerm).where(
        RoleTerm.valid_from <= on, (RoleTerm.valid_to.is_(None)) | (RoleTerm.valid_to > on)
    )
    if unit_ids is not None:
        query = query.where(RoleTerm.unit_id.in_(unit_ids))
    return list(session.execute(query.order_by(RoleTerm.unit_id, RoleTerm.person_id)).scalars())
