"""Editorial test helpers: a college with its head and correspondent, the publicity
department with its editor and head, and another college's head (not in any stage here)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import make_user
from yuqing.auth import service as auth
from yuqing.auth.models import User
from yuqing.auth.schemas import Principal
from yuqing.core.audit import SYSTEM
from yuqing.editorial import service
from yuqing.org import service as org
from yuqing.org.models import DutyRole, PersonRole


@dataclass
class World:
    school: int
    publicity: int
    cs: int
    lang: int
    correspondent: Principal
    cs_head: Principal
    editor: Principal
    chief: Principal
    lang_head: Principal
    correspondent_person: int
    cs_contact_person: int


def account(
    session: Session, username: str, role: str, unit_id: int, person_id: int | None
) -> Principal:
    """An account of ``role`` in ``unit_id`` linked to a roster person (no password)."""
    user = User(
        username=username,
        display_name=username,
        password_hash="!",
        role_id=auth.get_role(session, key=role).id,
        unit_id=unit_id,
        person_id=person_id,
    )
    session.add(user)
    session.flush()
    return auth.principal_for(session, user=user)


def give_role(session: Session, person_id: int, key: str) -> None:
    role_id = session.execute(select(DutyRole.id).where(DutyRole.key == key)).scalar_one()
    session.add(PersonRole(person_id=person_id, duty_role_id=role_id))
    session.flush()


def build_world(session: Session) -> World:
    org.ensure_defaults(session)
    service.ensure_defaults(session)
    school = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")

    def unit(name: str, kind: str) -> int:
        return org.create_unit(
            session, name=name, actor=SYSTEM, parent_id=school.id, kind_key=kind
        ).id

    publicity, cs, lang = (
        unit("宣传部", "office"),
        unit("计算机学院", "college"),
        unit("外国语学院", "college"),
    )

    def person(name: str, unit_id: int, duty: str | None) -> int:
        found = org.create_person(
            session, actor=SYSTEM, name=name, unit_id=unit_id, email=f"{abs(hash(name))}@example.cn"
        ).id
        if duty:
            give_role(session, found, duty)
        return found

    corr = person("刘通讯员", cs, "correspondent")
    head = person("张院长", cs, "unit_head")
    contact = person("陈联络人", cs, None)
    editor = person("赵编辑", publicity, "publicity_editor")
    chief = person("钱部长", publicity, "publicity_head")
    lang_head = person("孙院长", lang, "unit_head")
    cs_unit = org.get_unit(session, unit_id=cs)
    assert cs_unit is not None
    cs_unit.head_person_id, cs_unit.contact_person_id = head, contact
    world = World(
        school=school.id,
        publicity=publicity,
        cs=cs,
        lang=lang,
        correspondent=account(session, "corr", "unit_member", cs, corr),
        cs_head=account(session, "cshead", "unit_head", cs, head),
        editor=account(session, "editor", "publicity", publicity, editor),
        chief=account(session, "chief", "publicity", publicity, chief),
        lang_head=account(session, "langhead", "unit_head", lang, lang_head),
        correspondent_person=corr,
        cs_contact_person=contact,
    )
    session.commit()
    return world


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def accounts_with_people(engine: Engine) -> dict[str, int]:
    """The college and the four accounts of the story, each linked to a roster person."""
    with Session(engine) as session:
        org.ensure_defaults(session)
        service.ensure_defaults(session)
        school = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")
        cs = org.create_unit(
            session, name="计算机学院", actor=SYSTEM, parent_id=school.id, kind_key="college"
        )
        office = org.create_unit(
            session, name="宣传部", actor=SYSTEM, parent_id=school.id, kind_key="office"
        )
        session.commit()
        ids = {"cs": cs.id, "office": office.id}
    accounts = {
        "corr": ("unit_member", cs.id, "刘通讯员", "correspondent"),
        "cshead": ("unit_head", cs.id, "张院长", "unit_head"),
        "editor": ("publicity", office.id, "赵编辑", "publicity_editor"),
        "chief": ("publicity", office.id, "钱部长", "publicity_head"),
    }
    for username, (role, unit, name, duty) in accounts.items():
        make_user(engine, username, role, unit)
        with Session(engine) as session:
            person = org.create_person(session, actor=SYSTEM, name=name, unit_id=unit)
            give_role(session, person.id, duty)
            user = session.execute(select(User).where(User.username == username)).scalar_one()
            user.person_id = person.id
            user.display_name = name
            session.commit()
    return ids
