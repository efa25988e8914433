"""Org services refuse records outside the viewer's units themselves, not only the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.org.conftest import Tree
from yuqing.auth import service as auth
from yuqing.auth.schemas import Principal
from yuqing.core.audit import SYSTEM
from yuqing.org import desk
from yuqing.org import service as org
from yuqing.org.models import PersonRole
from yuqing.org.schemas import PersonIn


def _viewer(session: Session, role: str, unit_id: int | None) -> Principal:
    user = auth.create_user(
        session,
        username=f"u_{role}",
        password="correct-horse-42",
        role_key=role,
        actor=SYSTEM,
        unit_id=unit_id,
        must_change_password=False,
    )
    return auth.principal_for(session, user=user)


def test_service_refuses_other_units(session: Session, tree: Tree) -> None:
    head = _viewer(session, "unit_head", tree.cs)
    other = org.create_person(session, actor=SYSTEM, name="王五", unit_id=tree.lang)
    with pytest.raises(org.OrgAccessError):
        org.get_visible_person(session, viewer=head, person_id=other.id)
    with pytest.raises(org.OrgAccessError):
        desk.save_person(session, viewer=head, person_in=PersonIn(name="新人", unit_id=tree.lang))
    with pytest.raises(org.OrgAccessError):
        desk.save_person(
            session, viewer=head, person=other, person_in=PersonIn(name="王五", unit_id=tree.se)
        )
    assert {row.unit_id for row in org.list_unit_tree(session, viewer=head)} == {tree.cs, tree.se}


def test_leader_may_read_but_service_refuses_changes(session: Session, tree: Tree) -> None:
    leader = _viewer(session, "leader", None)
    with pytest.raises(org.OrgPermissionError):
        desk.save_person(session, viewer=leader, person_in=PersonIn(name="新人", unit_id=tree.cs))
    with pytest.raises(org.OrgPermissionError):
        desk.create_duty_role(session, viewer=leader, name="校园记者")
    assert len(org.list_unit_tree(session, viewer=leader)) == 4


def test_kept_roles_keep_their_since_date(session: Session, tree: Tree) -> None:
    person = org.create_person(session, actor=SYSTEM, name="张三", unit_id=tree.cs)
    org.update_duty_roles(session, person=person, role_keys=["correspondent"], actor=SYSTEM)
    first = session.execute(select(PersonRole.since)).scalar_one()
    org.update_duty_roles(
        session, person=person, role_keys=["correspondent", "info_officer"], actor=SYSTEM
    )
    since = {r.duty_role_id: r.since for r in session.execute(select(PersonRole)).scalars()}
    assert first in since.values() and len(since) == 2
