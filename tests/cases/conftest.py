"""Cases test helpers: an institution with an office, a leading group and two colleges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.auth.models import User
from yuqing.auth.schemas import Principal
from yuqing.cases import clocks, service
from yuqing.core.audit import SYSTEM
from yuqing.mentions.models import Mention
from yuqing.org import service as org
from yuqing.org.models import DutyRole, PersonRole
from yuqing.sources.models import Source


@dataclass
class World:
    """示范大学 → 领导小组 (校长), 宣传部 (干事, 宣传部管理员), 计算机学院 (张院长 head,
    李老师), 外国语学院 (no head). Principals: office, leader, cs_head, cs_member, lang_head."""

    school: int
    leading: int
    publicity: int
    cs: int
    lang: int
    leader_person: int
    officer_person: int
    cs_head_person: int
    cs_teacher_person: int
    office: Principal
    leader: Principal
    cs_head: Principal
    cs_member: Principal
    lang_head: Principal


def principal(session: Session, username: str, role: str, unit_id: int | None) -> Principal:
    """An account of ``role`` in ``unit_id`` (no password: these tests never sign in, and
    hashing one costs 0.4 s)."""
    role_id = auth.get_role(session, key=role).id
    user = User(
        username=username,
        display_name=username,
        password_hash="!",
        role_id=role_id,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return auth.principal_for(session, user=user)


@pytest.fixture
def world(session: Session) -> World:
    org.ensure_defaults(session)
    school = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")

    def unit(name: str, kind: str) -> int:
        return org.create_unit(
            session, name=name, actor=SYSTEM, parent_id=school.id, kind_key=kind
        ).id

    leading, publicity = unit("舆情工作领导小组", "leading_group"), unit("宣传部", "office")
    cs, lang = unit("计算机学院", "college"), unit("外国语学院", "college")

    def person(name: str, unit_id: int, email: str) -> int:
        return org.create_person(session, actor=SYSTEM, name=name, unit_id=unit_id, email=email).id

    leader_p = person("王校长", leading, "leader@example.cn")
    officer_p = person("赵干事", publicity, "office@example.cn")
    head_p = person("张院长", cs, "head@example.cn")
    teacher_p = person("李老师", cs, "teacher@example.cn")
    role_id = session.execute(
        select(DutyRole.id).where(DutyRole.key == "publicity_admin")
    ).scalar_one()
    session.add(PersonRole(person_id=officer_p, duty_role_id=role_id))
    org.get_unit(session, unit_id=cs).head_person_id = head_p  # type: ignore[union-attr]
    service.ensure_defaults(session)
    w = World(
        school=school.id,
        leading=leading,
        publicity=publicity,
        cs=cs,
        lang=lang,
        leader_person=leader_p,
        officer_person=officer_p,
        cs_head_person=head_p,
        cs_teacher_person=teacher_p,
        office=principal(session, "office", "publicity", publicity),
        leader=principal(session, "leader", "leader", leading),
        cs_head=principal(session, "cshead", "unit_head", cs),
        cs_member=principal(session, "csmember", "unit_member", cs),
        lang_head=principal(session, "langhead", "unit_head", lang),
    )
    session.commit()
    return w


@pytest.fixture
def mention(session: Session) -> Mention:
    source = Source(name="测试论坛", kind="push")
    session.add(source)
    session.flush()
    item = Mention(
        source_id=source.id,
        external_id="p1",
        url="https://bbs.example.cn/t/1",
        title="学生反映食堂饭菜质量问题",
        text="有学生在论坛发帖称食堂饭菜质量下降，引发讨论。",
        published_at=datetime(2024, 3, 4, 1, 0),
        content_hash=1,
    )
    session.add(item)
    session.commit()
    return item


class Clock:
    """The time the case service stamps, set by the test (naive UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fixed = Clock(datetime(2024, 3, 4, 1, 0))  # Monday 09:00 in Beijing
    monkeypatch.setattr(clocks, "current_time", fixed)
    yield fixed
