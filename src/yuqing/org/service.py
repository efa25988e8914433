"""Units, people and duty roles: plain functions over a session; every change is audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.org import config
from yuqing.org.models import DutyRole, Person, PersonRole, Unit, UnitKind


class OrgError(ValueError):
    """A refused change to the organisation, with a message for the user (Chinese)."""


def ensure_defaults(session: Session) -> None:
    """Create the default unit kinds and duty roles that do not exist yet."""
    kinds = set(session.execute(select(UnitKind.key)).scalars())
    for key, name, order in config.UNIT_KINDS:
        if key not in kinds:
            session.add(UnitKind(key=key, name=name, order=order))
    roles = set(session.execute(select(DutyRole.key)).scalars())
    for key, name, order, description in config.DUTY_ROLES:
        if key not in roles:
            session.add(DutyRole(key=key, name=name, order=order, description=description))
    session.flush()


def kind_by_key(session: Session, key: str) -> UnitKind | None:
    return session.execute(select(UnitKind).where(UnitKind.key == key)).scalar_one_or_none()


def list_kinds(session: Session) -> list[UnitKind]:
    return list(session.execute(select(UnitKind).order_by(UnitKind.order)).scalars())


def list_duty_roles(session: Session) -> list[DutyRole]:
    return list(session.execute(select(DutyRole).order_by(DutyRole.order)).scalars())


def _unit_values(unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "parent_id": unit.parent_id,
        "kind_id": unit.kind_id,
        "head_person_id": unit.head_person_id,
        "contact_person_id": unit.contact_person_id,
        "student_count": unit.student_count,
    }


def _person_values(person: Person) -> dict[str, Any]:
    return {
        "name": person.name,
        "unit_id": person.unit_id,
        "position": person.position,
        "phone": person.phone,
        "email": person.email,
        "wecom_userid": person.wecom_userid,
        "dingtalk_userid": person.dingtalk_userid,
        "active": person.active,
    }


def get_unit(session: Session, *, unit_id: int) -> Unit | None:
    return session.get(Unit, unit_id)


def list_units(session: Session, *, visible: frozenset[int] | None = None) -> list[Unit]:
    """Units in tree order; ``visible`` limits them to a principal's units."""
    query = select(Unit).order_by(Unit.order, Unit.name)
    if visible is not None:
        query = query.where(Unit.id.in_(visible))
    return list(session.execute(query).scalars())


def unit_by_name(session: Session, *, name: str) -> Unit | None:
    return session.execute(select(Unit).where(Unit.name == name.strip())).scalars().first()


def create_unit(
    session: Session,
    *,
    name: str,
    actor: Actor,
    parent_id: int | None = None,
    kind_key: str | None = None,
    student_count: int | None = None,
) -> Unit:
    name = name.strip()
    if not name or len(name) > 100:
        raise OrgError("单位名称不能为空，且不超过 100 个字符")
    if parent_id is not None and session.get(Unit, parent_id) is None:
        raise OrgError(f"上级单位 {parent_id} 不存在")
    kind = kind_by_key(session, kind_key) if kind_key else None
    unit = Unit(
        name=name,
        parent_id=parent_id,
        kind_id=kind.id if kind else None,
        student_count=student_count,
        created_at=utcnow(),
    )
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        object_type="unit",
        object_id=unit.id,
        summary=f"新建单位 {name}",
        changes=audit.diff({}, _unit_values(unit)),
    )
    return unit


def update_unit(session: Session, *, unit: Unit, actor: Actor, **values: Any) -> Unit:
    before = _unit_values(unit)
    if "parent_id" in values and values["parent_id"] is not None:
        ancestor: int | None = values["parent_id"]
        while ancestor is not None:  # a unit may not sit below itself
            if ancestor == unit.id:
                raise OrgError("不能把单位移到它自己的下级之下")
            parent = session.get(Unit, ancestor)
            ancestor = parent.parent_id if parent else None
    for key, value in values.items():
        if key not in before:
            raise OrgError(f"未知字段 {key}")
        setattr(unit, key, value)
    session.flush()
    changes = audit.diff(before, _unit_values(unit))
    if changes:
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="unit",
            object_id=unit.id,
            summary=f"修改单位 {unit.name}",
            changes=changes,
        )
    return unit


def get_person(session: Session, *, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def list_people(
    session: Session, *, visible: frozenset[int] | None = None, unit_id: int | None = None
) -> list[Person]:
    """People of the units a principal sees (``visible``: ``None`` means all)."""
    query = select(Person).order_by(Person.unit_id, Person.name)
    if visible is not None:
        query = query.where(Person.unit_id.in_(visible))
    if unit_id is not None:
        query = query.where(Person.unit_id == unit_id)
    return list(session.execute(query).scalars())


def roles_of(session: Session, person_ids: Iterable[int]) -> dict[int, list[DutyRole]]:
    ids = list(person_ids)
    found: dict[int, list[DutyRole]] = {pid: [] for pid in ids}
    if not ids:
        return found
    rows = session.execute(
        select(PersonRole.person_id, DutyRole)
        .join(DutyRole, DutyRole.id == PersonRole.duty_role_id)
        .where(PersonRole.person_id.in_(ids))
        .order_by(DutyRole.order)
    )
    for person_id, role in rows:
        found[person_id].append(role)
    return found


def create_person(
    session: Session, *, actor: Actor, name: str, unit_id: int | None, **values: Any
) -> Person:
    name = name.strip()
    if not name or len(name) > 60:
        raise OrgError("姓名不能为空，且不超过 60 个字符")
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise OrgError(f"单位 {unit_id} 不存在")
    person = Person(name=name, unit_id=unit_id, created_at=utcnow(), active=True, **values)
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        object_type="person",
        object_id=person.id,
        summary=f"新增人员 {name}",
        changes=audit.diff({}, _person_values(person)),
    )
    return person


def update_person(session: Session, *, person: Person, actor: Actor, **values: Any) -> Person:
    before = _person_values(person)
    for key, value in values.items():
        if key not in before:
            raise OrgError(f"未知字段 {key}")
        setattr(person, key, value)
    person.updated_at = utcnow()
    session.flush()
    changes = audit.diff(before, _person_values(person))
    if changes:
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="person",
            object_id=person.id,
            summary=f"修改人员 {person.name}",
            changes=changes,
        )
    return person


def set_duty_roles(
    session: Session, *, person: Person, role_keys: list[str], actor: Actor
) -> list[DutyRole]:
    """Replace the duty roles a person holds."""
    roles = {r.key: r for r in list_duty_roles(session)}
    unknown = [k for k in role_keys if k not in roles]
    if unknown:
        raise OrgError(f"未知的职责角色：{'、'.join(unknown)}")
    before = sorted(r.key for r in roles_of(session, [person.id])[person.id])
    after = sorted(dict.fromkeys(role_keys))
    if before == after:
        return [roles[k] for k in after]
    session.execute(delete(PersonRole).where(PersonRole.person_id == person.id))
    for key in after:
        session.add(PersonRole(person_id=person.id, duty_role_id=roles[key].id, since=utcnow()))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="person",
        object_id=person.id,
        summary=f"调整 {person.name} 的职责角色",
        changes={"duty_roles": [before, after]},
    )
    return [roles[k] for k in after]


def remove_person(session: Session, *, person: Person, actor: Actor) -> None:
    values = _person_values(person)
    session.delete(person)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="delete",
        object_type="person",
        object_id=person.id,
        summary=f"删除人员 {values['name']}",
        changes=audit.diff(values, {}),
    )
