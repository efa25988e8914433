"""Changes to the organisation made through the desk and the roster import, each guarded by
the viewer's units (a unit head changes their own units; all-units managers the rest)."""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.timeutil import utcnow
from yuqing.org import quota
from yuqing.org.models import DutyRole, Person, Unit, UnitKind
from yuqing.org.schemas import PersonIn, UnitIn, Viewer
from yuqing.org.service import (
    OrgAccessError,
    OrgError,
    _person_values,
    _replace_roles,
    check_all_units_manager,
    check_manage,
    create_unit,
    get_visible_unit,
    list_duty_roles,
    list_duty_roles_of,
    list_kinds,
    update_unit,
)


def _check_person_links(session: Session, *, viewer: Viewer, unit_in: UnitIn) -> None:
    for person_id in (unit_in.head_person_id, unit_in.contact_person_id):
        if person_id is not None:
            person = session.get(Person, person_id)
            if person is None or not viewer.sees_unit(person.unit_id):
                raise OrgError(f"人员 {person_id} 不存在或不在您的管理范围内")
    if unit_in.kind_id is not None and session.get(UnitKind, unit_in.kind_id) is None:
        raise OrgError(f"单位类型 {unit_in.kind_id} 不存在")


def create_managed_unit(session: Session, *, viewer: Viewer, unit_in: UnitIn) -> Unit:
    """A new unit below one the viewer manages (a top-level unit: all-units managers only)."""
    if unit_in.parent_id is None:
        check_all_units_manager(viewer)
    else:
        get_visible_unit(session, viewer=viewer, unit_id=unit_in.parent_id)
        check_manage(viewer, unit_in.parent_id)
    _check_person_links(session, viewer=viewer, unit_in=unit_in)
    unit = create_unit(
        session,
        name=unit_in.name,
        actor=viewer.actor,
        parent_id=unit_in.parent_id,
        student_count=unit_in.student_count,
    )
    if unit_in.kind_id is not None:
        update_unit(session, unit=unit, actor=viewer.actor, kind_id=unit_in.kind_id)
    quota.ensure_defaults(session)  # a named unit (马克思主义学院) gets its core-member rule
    return unit


def update_managed_unit(session: Session, *, viewer: Viewer, unit: Unit, unit_in: UnitIn) -> Unit:
    """Change a unit the viewer manages; only all-units managers move a unit in the tree."""
    check_manage(viewer, unit.id)
    if unit_in.parent_id != unit.parent_id:
        check_all_units_manager(viewer)
        if unit_in.parent_id is not None and session.get(Unit, unit_in.parent_id) is None:
            raise OrgError(f"上级单位 {unit_in.parent_id} 不存在")
    _check_person_links(session, viewer=viewer, unit_in=unit_in)
    updated = update_unit(session, unit=unit, actor=viewer.actor, **unit_in.model_dump())
    quota.ensure_defaults(session)  # renamed to a named unit: its core-member rule
    return updated


def save_person(
    session: Session, *, viewer: Viewer, person_in: PersonIn, person: Person | None = None
) -> tuple[Person, str]:
    """Create or update a person with their duty roles; one audit row for the whole change.
    Returns the person and what happened: ``create``, ``update`` or ``unchanged``."""
    if person is not None:
        check_manage(viewer, person.unit_id)
    if session.get(Unit, person_in.unit_id) is None:
        raise OrgAccessError("单位不存在或不在您的管理范围内")
    check_manage(viewer, person_in.unit_id)
    roles = {r.key: r for r in list_duty_roles(session)}
    unknown = [k for k in person_in.role_keys if k not in roles]
    if unknown:
        raise OrgError(f"未知的职责角色：{'、'.join(unknown)}")
    values = person_in.model_dump(exclude={"role_keys"})
    after_roles = sorted({roles[k].name for k in person_in.role_keys})
    if person is None:
        before: dict[str, Any] = {}
        person = Person(created_at=utcnow(), active=True, **values)
        session.add(person)
        session.flush()
    else:
        before = {
            **_person_values(person),
            "duty_roles": sorted(
                r.name for r in list_duty_roles_of(session, person_ids=[person.id])[person.id]
            ),
        }
        for key, value in values.items():
            setattr(person, key, value)
    _replace_roles(
        session, person_id=person.id, role_ids={roles[k].id for k in person_in.role_keys}
    )
    changes = audit.diff(before, {**_person_values(person), "duty_roles": after_roles})
    if not changes:
        return person, "unchanged"
    action = "create" if not before else "update"
    if action == "update":
        person.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=viewer.actor,
        action=action,
        object_type="person",
        object_id=person.id,
        summary=f"{'新增' if action == 'create' else '修改'}人员 {person.name}",
        changes=changes,
    )
    return person, action


def update_duty_role_name(session: Session, *, viewer: Viewer, role_id: int, name: str) -> DutyRole:
    return _rename_by_id(session, viewer=viewer, row_id=role_id, name=name, table=DutyRole)


def create_duty_role(
    session: Session, *, viewer: Viewer, name: str, description: str = ""
) -> DutyRole:
    check_all_units_manager(viewer)
    name = _lookup_name(session, DutyRole, name)
    order = max((r.order for r in list_duty_roles(session)), default=0) + 10
    role = DutyRole(
        key=f"custom_{secrets.token_hex(4)}", name=name, order=order, description=description
    )
    return _added(session, viewer=viewer, row=role, object_type="duty_role")


def update_kind_name(session: Session, *, viewer: Viewer, kind_id: int, name: str) -> UnitKind:
    return _rename_by_id(session, viewer=viewer, row_id=kind_id, name=name, table=UnitKind)


def create_kind(session: Session, *, viewer: Viewer, name: str) -> UnitKind:
    check_all_units_manager(viewer)
    name = _lookup_name(session, UnitKind, name)
    order = max((k.order for k in list_kinds(session)), default=0) + 10
    kind = UnitKind(key=f"custom_{secrets.token_hex(4)}", name=name, order=order)
    return _added(session, viewer=viewer, row=kind, object_type="unit_kind")


_LOOKUP_LABELS = {"duty_role": "职责角色", "unit_kind": "单位类型"}


def _rename_by_id(
    session: Session,
    *,
    viewer: Viewer,
    row_id: int,
    name: str,
    table: type[DutyRole] | type[UnitKind],
) -> Any:
    """Rename a duty role or unit kind (all-units managers only; unknown id: not found)."""
    check_all_units_manager(viewer)
    object_type = "duty_role" if table is DutyRole else "unit_kind"
    row = cast("DutyRole | UnitKind | None", session.get(table, row_id))
    if row is None:
        raise OrgAccessError(f"{_LOOKUP_LABELS[object_type]} {row_id} 不存在")
    return _rename(session, viewer=viewer, row=row, name=name, object_type=object_type)


def _lookup_name(
    session: Session, table: type[DutyRole] | type[UnitKind], name: str, *, own_id: int = 0
) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise OrgError("名称不能为空，且不超过 60 个字符")
    taken = session.execute(select(table.id).where(table.name == name, table.id != own_id)).first()
    if taken is not None:
        raise OrgError(f"已有名为“{name}”的项，请换一个名称")
    return name


def _rename(
    session: Session, *, viewer: Viewer, row: DutyRole | UnitKind, name: str, object_type: str
) -> Any:
    name = _lookup_name(session, type(row), name, own_id=row.id)
    if name == row.name:
        return row
    before, row.name = row.name, name
    summary = f"{_LOOKUP_LABELS[object_type]}“{before}”改名为“{name}”"
    return _flushed(
        session, viewer=viewer, row=row, object_type=object_type, before=before, summary=summary
    )


def _added(session: Session, *, viewer: Viewer, row: DutyRole | UnitKind, object_type: str) -> Any:
    session.add(row)
    summary = f"新增{_LOOKUP_LABELS[object_type]}“{row.name}”"
    return _flushed(
        session, viewer=viewer, row=row, object_type=object_type, before=None, summary=summary
    )


def _flushed(
    session: Session,
    *,
    viewer: Viewer,
    row: DutyRole | UnitKind,
    object_type: str,
    before: str | None,
    summary: str,
) -> Any:
    """Write a lookup's new or changed name and audit it (``before`` None: a new row)."""
    session.flush()
    audit.record(
        session,
        actor=viewer.actor,
        action="create" if before is None else "update",
        object_type=object_type,
        object_id=row.id,
        summary=summary,
        changes={"name": [before, row.name]},
    )
    return row
