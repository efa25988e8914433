"""Units, people and duty roles: plain functions over a session; every change is audited.

The changes the desk and the roster import make, guarded by the viewer's units, are the
room ``org.desk``; the reads other domains call are at the end."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.org import config
from yuqing.org.models import DutyRole, Person, PersonRole, RoleTerm, Unit, UnitKind
from yuqing.org.schemas import TreeRow, Viewer


class OrgError(ValueError):
    """A refused change to the organisation, with a message for the user (Chinese)."""


class OrgAccessError(LookupError):
    """A unit or person outside the viewer's units, or none at all: the desk answers 404 for
    both, so an id never tells whether another unit's record exists."""


class OrgPermissionError(PermissionError):
    """The viewer sees the record but may not change it (a leader reads only): 403."""


MANAGE = "org.manage"
PATH_SEPARATOR = " > "  # joins unit names into a path where a name alone is ambiguous


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


def get_kind(session: Session, *, key: str) -> UnitKind | None:
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
        "political_status": person.political_status,
        "note": person.note,
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


def get_unit_by_name(session: Session, *, name: str) -> Unit | None:
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
    kind = get_kind(session, key=kind_key) if kind_key else None
    unit = Unit(
        name=name,
        parent_id=parent_id,
        kind_id=kind.id if kind else None,
        student_count=student_count,
        created_at=utcnow(),
    )
    session.add(unit)
    session.flush()
    _record_change(session, actor=actor, row=unit, kind="unit", before={}, after=_unit_values(unit))
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
    _set_fields(unit, before, values)
    session.flush()
    after = _unit_values(unit)
    _record_change(session, actor=actor, row=unit, kind="unit", before=before, after=after)
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


def list_duty_roles_of(session: Session, *, person_ids: Iterable[int]) -> dict[int, list[DutyRole]]:
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
    after = _person_values(person)
    _record_change(session, actor=actor, row=person, kind="person", before={}, after=after)
    return person


def update_person(session: Session, *, person: Person, actor: Actor, **values: Any) -> Person:
    before = _person_values(person)
    _set_fields(person, before, values)
    person.updated_at = utcnow()
    session.flush()
    if {"unit_id", "active"} & values.keys():
        sync_terms(session, person_id=person.id)  # a move or leaving ends the role terms
    after = _person_values(person)
    _record_change(session, actor=actor, row=person, kind="person", before=before, after=after)
    return person


def _set_fields(row: Unit | Person, known: dict[str, Any], values: dict[str, Any]) -> None:
    """Set the given fields, refusing any the row's audit values do not know."""
    for key, value in values.items():
        if key not in known:
            raise OrgError(f"未知字段 {key}")
        setattr(row, key, value)


_CHANGE_SUMMARY = {
    ("unit", "create"): "新建单位",
    ("unit", "update"): "修改单位",
    ("person", "create"): "新增人员",
    ("person", "update"): "修改人员",
}


def _record_change(
    session: Session,
    *,
    actor: Actor,
    row: Unit | Person,
    kind: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Audit a unit or person made (``before`` empty) or changed, when anything changed
    (a new row always has its name)."""
    changes = audit.diff(before, after)
    if changes:
        action = "update" if before else "create"
        audit.record(
            session,
            actor=actor,
            action=action,
            object_type=kind,
            object_id=row.id,
            summary=f"{_CHANGE_SUMMARY[kind, action]} {row.name}",
            changes=changes,
        )


def update_duty_roles(
    session: Session, *, person: Person, role_keys: list[str], actor: Actor
) -> list[DutyRole]:
    """Replace the duty roles a person holds."""
    roles = {r.key: r for r in list_duty_roles(session)}
    unknown = [k for k in role_keys if k not in roles]
    if unknown:
        raise OrgError(f"未知的职责角色：{'、'.join(unknown)}")
    before = sorted(r.key for r in list_duty_roles_of(session, person_ids=[person.id])[person.id])
    after = sorted(dict.fromkeys(role_keys))
    if before == after:
        return [roles[k] for k in after]
    _replace_roles(session, person_id=person.id, role_ids={roles[k].id for k in after})
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


def delete_person(session: Session, *, person: Person, actor: Actor) -> None:
    values = _person_values(person)
    # Units name their head and contact by id without a foreign key: clear them here.
    session.execute(
        update(Unit).where(Unit.head_person_id == person.id).values(head_person_id=None)
    )
    session.execute(
        update(Unit).where(Unit.contact_person_id == person.id).values(contact_person_id=None)
    )
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


def _replace_roles(
    session: Session, *, person_id: int, role_ids: set[int], change_request_id: int | None = None
) -> None:
    """Make the person hold exactly ``role_ids``; roles kept keep their ``since`` date. The
    role history follows (``sync_terms``)."""
    held = set(
        session.execute(
            select(PersonRole.duty_role_id).where(PersonRole.person_id == person_id)
        ).scalars()
    )
    gone = held - role_ids
    if gone:
        session.execute(
            delete(PersonRole).where(
                PersonRole.person_id == person_id, PersonRole.duty_role_id.in_(gone)
            )
        )
    for role_id in sorted(role_ids - held):
        session.add(PersonRole(person_id=person_id, duty_role_id=role_id, since=utcnow()))
    session.flush()
    sync_terms(session, person_id=person_id, change_request_id=change_request_id)


def sync_terms(session: Session, *, person_id: int, change_request_id: int | None = None) -> None:
    """Bring the role history (``org_role_term``) in line with the person today: an open
    term per role held, in the person's unit, while the person is active. A role dropped,
    a move to another unit or leaving closes terms; a role taken, a move or a return opens
    them. The ledger of a past date reads these terms, so nothing is overwritten."""
    person = session.get(Person, person_id)
    if person is None:
        return
    roles: set[int] = set()
    if person.active:
        roles = set(
            session.execute(
                select(PersonRole.duty_role_id).where(PersonRole.person_id == person_id)
            ).scalars()
        )
    now = utcnow()
    still_open: set[int] = set()
    for term in session.execute(
        select(RoleTerm).where(RoleTerm.person_id == person_id, RoleTerm.valid_to.is_(None))
    ).scalars():
        if term.duty_role_id in roles and term.unit_id == person.unit_id:
            still_open.add(term.duty_role_id)
        else:
            term.valid_to = now
    for role_id in sorted(roles - still_open):
        session.add(
            RoleTerm(
                person_id=person_id,
                duty_role_id=role_id,
                unit_id=person.unit_id,
                valid_from=now,
                change_request_id=change_request_id,
            )
        )
    session.flush()


# --- access by the viewer's units ------------------------------------------------------


def check_manage(viewer: Viewer, unit_id: int | None) -> None:
    """The viewer may change people and units of ``unit_id``: OrgAccessError when the unit
    is not theirs, OrgPermissionError when they only read."""
    if not viewer.sees_unit(unit_id):
        raise OrgAccessError("单位不存在或不在您的管理范围内")
    if not viewer.can(MANAGE):
        raise OrgPermissionError("您的账号只能查看单位与人员，不能修改")


def check_all_units_manager(viewer: Viewer) -> None:
    """Lookup data (duty roles, unit kinds) belongs to the whole institution."""
    if not viewer.can(MANAGE) or viewer.visible_units is not None:
        raise OrgPermissionError("只有宣传部或系统管理员可以修改职责角色和单位类型")


def get_visible_unit(session: Session, *, viewer: Viewer, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not viewer.sees_unit(unit.id):
        raise OrgAccessError(f"单位 {unit_id} 不存在或不在您的查看范围内")
    return unit


def get_visible_person(session: Session, *, viewer: Viewer, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or not viewer.sees_unit(person.unit_id):
        raise OrgAccessError(f"人员 {person_id} 不存在或不在您的查看范围内")
    return person


def list_visible_units(session: Session, *, viewer: Viewer) -> list[Unit]:
    return list_units(session, visible=viewer.visible_units)


def list_visible_people(
    session: Session, *, viewer: Viewer, unit_id: int | None = None
) -> list[Person]:
    return list_people(session, visible=viewer.visible_units, unit_id=unit_id)


def unit_labels(units: Iterable[Unit]) -> dict[int, str]:
    """A label per unit: its name, or its path (学院 > 办公室) where the name repeats."""
    units = list(units)
    by_id = {u.id: u for u in units}
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit.name] = counts.get(unit.name, 0) + 1
    return {u.id: u.name if counts[u.name] == 1 else unit_path(u, by_id) for u in units}


def unit_path(unit: Unit, by_id: dict[int, Unit]) -> str:
    names, seen, current = [unit.name], {unit.id}, unit.parent_id
    while current is not None and current in by_id and current not in seen:
        seen.add(current)
        names.append(by_id[current].name)
        current = by_id[current].parent_id
    return PATH_SEPARATOR.join(reversed(names))


def list_unit_tree(session: Session, *, viewer: Viewer) -> list[TreeRow]:
    """The viewer's units depth first, with people and duty-role holders counted per unit.
    A unit whose parent the viewer does not see is a root of their tree."""
    units = list_visible_units(session, viewer=viewer)
    ids = {u.id for u in units}
    kinds = {k.id: k.name for k in list_kinds(session)}
    people: dict[int, int] = {
        unit_id or 0: count
        for unit_id, count in session.execute(
            select(Person.unit_id, func.count())
            .where(Person.unit_id.in_(ids))
            .group_by(Person.unit_id)
        )
    }
    holders: dict[int, dict[int, int]] = {}
    for unit_id, role_id, count in session.execute(
        select(Person.unit_id, PersonRole.duty_role_id, func.count())
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.unit_id.in_(ids))
        .group_by(Person.unit_id, PersonRole.duty_role_id)
    ):
        holders.setdefault(unit_id or 0, {})[role_id] = count
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in ids else None
        children.setdefault(parent, []).append(unit)
    rows: list[TreeRow] = []
    stack = [(u, 0) for u in reversed(children.get(None, []))]
    while stack:
        unit, depth = stack.pop()
        rows.append(
            TreeRow(
                unit_id=unit.id,
                name=unit.name,
                depth=depth,
                kind=kinds.get(unit.kind_id or 0, ""),
                people=people.get(unit.id, 0),
                roles=holders.get(unit.id, {}),
                student_count=unit.student_count,
            )
        )
        stack.extend((c, depth + 1) for c in reversed(children.get(unit.id, [])))
    return rows


# --- reads for other domains ---------------------------------------------------------------


def list_subtree_ids(session: Session, *, unit_id: int) -> frozenset[int]:
    """A unit and every unit below it (the units an account of that unit may see)."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in session.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found, stack = {unit_id}, [unit_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def list_active_people(
    session: Session,
    *,
    person_ids: Iterable[int] = (),
    unit_ids: Iterable[int] = (),
    duty_role_ids: Iterable[int] = (),
) -> list[Person]:
    """Active people who are one of ``person_ids``, belong to one of ``unit_ids`` or hold
    one of ``duty_role_ids`` (each once, by id): the people a message is addressed to."""
    ids, units, roles = set(person_ids), set(unit_ids), set(duty_role_ids)
    clauses: list[Any] = []
    if ids:
        clauses.append(Person.id.in_(ids))
    if units:
        clauses.append(Person.unit_id.in_(units))
    if roles:
        holders = select(PersonRole.person_id).where(PersonRole.duty_role_id.in_(roles))
        clauses.append(Person.id.in_(holders))
    if not clauses:
        return []
    statement = select(Person).where(Person.active.is_(True), or_(*clauses)).order_by(Person.id)
    return list(session.execute(statement).scalars())


def list_unit_names(session: Session) -> dict[int, str]:
    """Unit id → name, in the tree's order (for choices and labels in other domains)."""
    rows = session.execute(select(Unit.id, Unit.name).order_by(Unit.order, Unit.id))
    return {int(i): str(n) for i, n in rows}


def list_duty_role_names(session: Session) -> dict[int, str]:
    """Duty role id → name, in the roles' order."""
    rows = session.execute(select(DutyRole.id, DutyRole.name).order_by(DutyRole.order, DutyRole.id))
    return {int(i): str(n) for i, n in rows}


def list_active_person_names(session: Session) -> dict[int, str]:
    """Active person id → name, by id."""
    statement = select(Person.id, Person.name).where(Person.active.is_(True)).order_by(Person.id)
    return {int(i): str(n) for i, n in session.execute(statement)}
