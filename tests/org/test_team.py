"""Quotas, change requests, the ledger of a past date and registration rounds, on the real
database: rules as data, over-quota kept with a warning, a person who left refused, a form
returned and resubmitted."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.org import changes, desk, excel, quota, rounds
from yuqing.org import service as org
from yuqing.org.models import Person, RoleTerm, Unit
from yuqing.org.schemas import UnitIn
from yuqing.org.service import OrgError, OrgPermissionError

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


def office() -> Principal:
    perms = frozenset({"org.read", "org.manage", "team.read", "team.manage", "team.unit"})
    return Principal(
        user_id=0, username="office", display_name="宣传部", role_key="publicity",
        permissions=perms, unit_id=None, visible_units=None,
    )  # fmt: skip


def head_of(unit: Unit) -> Principal:
    perms = frozenset({"org.read", "org.manage", "team.read", "team.unit"})
    return Principal(
        user_id=0, username="head", display_name="单位负责人", role_key="unit_head",
        permissions=perms, unit_id=unit.id, visible_units=frozenset({unit.id}),
    )  # fmt: skip


def _world(session: Session) -> tuple[Unit, Unit]:
    org.ensure_defaults(session)
    root = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")
    college = org.create_unit(
        session, name="文学院", actor=SYSTEM, parent_id=root.id, kind_key="college",
        student_count=401,
    )  # fmt: skip
    dept = org.create_unit(
        session, name="党委宣传部", actor=SYSTEM, parent_id=root.id, kind_key="office"
    )
    quota.ensure_defaults(session)
    return college, dept


def _lines(session: Session, unit: Unit) -> dict[str, quota.RoleLine]:
    found = quota.list_compliance(session, viewer=office(), unit_ids=frozenset({unit.id}))
    return {line.role: line for line in found[0].lines}


def test_quota_rules_are_data_and_compliance_counts_holders(session: Session) -> None:
    college, dept = _world(session)
    lines = _lines(session, college)
    assert lines["骨干网评员"].required == 2
    assert lines["基层网评员"].required == 3  # 401 students: three started groups of 200
    assert lines["新闻通讯员"].required == 1 and lines["新闻通讯员"].missing == 1
    assert _lines(session, dept)["核心网评员"].required == 2  # a named unit's rule
    assert _lines(session, dept)["骨干网评员"].required == 1
    for n in range(3):  # one correspondent over quota: kept, with a warning
        person = org.create_person(session, actor=SYSTEM, name=f"通讯员{n}", unit_id=college.id)
        org.update_duty_roles(session, person=person, role_keys=["correspondent"], actor=SYSTEM)
    assert _lines(session, college)["新闻通讯员"].filled == 3
    found = quota.list_compliance(session, viewer=office(), unit_ids=frozenset({college.id}))
    assert any("超出定额 2 人" in w for w in found[0].warnings)
    quota.save_rule(
        session, viewer=office(), duty_role_id=lines["新闻通讯员"].role_id,
        unit_kind_id=college.kind_id, unit_id=None, fixed=3, per_students=None,
    )  # fmt: skip
    assert _lines(session, college)["新闻通讯员"].missing == 0


def test_a_headcount_of_zero_is_a_warning_not_an_error(session: Session) -> None:
    college, _ = _world(session)
    org.update_unit(session, unit=college, actor=SYSTEM, student_count=0)
    found = quota.list_compliance(session, viewer=office(), unit_ids=frozenset({college.id}))
    assert _lines(session, college)["基层网评员"].required == 0
    assert any("学生人数为 0" in w for w in found[0].warnings)


def test_compliance_exports_short_rows_in_red(session: Session) -> None:
    _world(session)
    book = load_workbook(io.BytesIO(quota.export_compliance(session, viewer=office())))
    sheet = book.active
    assert sheet is not None
    short = [row for row in sheet.iter_rows(min_row=4) if row[5].value]
    assert short and all(c.fill.fgColor.rgb.endswith("FFC7CE") for c in short[0])


def test_headcounts_import_from_a_sheet(session: Session) -> None:
    college, _ = _world(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["单位", "学生人数"], ["文学院", 1000], ["不存在学院", 5], ["党委宣传部", "很多"]):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    problems = quota.import_headcounts(
        session, viewer=office(), data=buffer.getvalue(), filename="人数.xlsx"
    )
    assert college.student_count == 1000
    assert len(problems) == 2 and "不存在学院" in problems[0]


def test_change_request_applies_and_the_ledger_keeps_history(session: Session) -> None:
    college, _ = _world(session)
    old = org.create_person(session, actor=SYSTEM, name="老骨干", unit_id=college.id)
    org.update_duty_roles(session, person=old, role_keys=["backbone_commentator"], actor=SYSTEM)
    backbone = next(r for r in org.list_duty_roles(session) if r.key == "backbone_commentator")
    before = utcnow()
    request = changes.propose(
        session, viewer=head_of(college), unit_id=college.id, kind="replace",
        duty_role_id=backbone.id, person_id=old.id, new_person_name="新骨干", reason="工作调动",
    )  # fmt: skip
    with pytest.raises(OrgPermissionError):
        changes.approve(session, viewer=head_of(college), request=request)
    changes.approve(session, viewer=office(), request=request, note="同意")
    assert request.status == "approved" and request.approved_at and request.decided_by == "宣传部"
    holders = {p.name for p in org.list_people(session, unit_id=college.id)}
    assert "新骨干" in holders
    assert org.list_duty_roles_of(session, person_ids=[old.id])[old.id] == []
    then = {t.person_id for t in changes.list_terms_on(session, on=before - timedelta(seconds=0))}
    now = {t.person_id for t in changes.list_terms_on(session, on=utcnow() + timedelta(seconds=1))}
    assert old.id in then and old.id not in now and request.new_person_id in now
    terms = session.execute(select(RoleTerm).where(RoleTerm.person_id == old.id)).scalars()
    assert [t.valid_to is not None for t in terms] == [True]
    book = load_workbook(
        io.BytesIO(excel.export_ledger_on(session, viewer=office(), on=before, label="那天"))
    )
    assert "老骨干" in [c.value for row in book.active.iter_rows() for c in row]
    summaries = session.execute(select(AuditEntry.summary)).scalars().all()
    assert "提出变更申请（替换）" in summaries and "变更申请已批准备案" in summaries


def test_a_change_for_a_person_who_left_is_refused(session: Session) -> None:
    college, _ = _world(session)
    gone = org.create_person(session, actor=SYSTEM, name="已离职", unit_id=college.id)
    org.update_duty_roles(session, person=gone, role_keys=["correspondent"], actor=SYSTEM)
    org.update_person(session, person=gone, actor=SYSTEM, active=False)
    role = next(r for r in org.list_duty_roles(session) if r.key == "correspondent")
    with pytest.raises(OrgError, match="已离开"):
        changes.propose(
            session, viewer=head_of(college), unit_id=college.id, kind="remove",
            duty_role_id=role.id, person_id=gone.id, reason="离职",
        )  # fmt: skip


def test_registration_round_return_and_resubmit(session: Session) -> None:
    college, dept = _world(session)
    found = rounds.open_round(
        session, viewer=office(), title="2026 年度登记", deadline=utcnow() + timedelta(days=7)
    )
    assert {f.unit_id for f in rounds.list_not_submitted(session, round_id=found.id)} == {
        college.id,
        dept.id,
    }
    form = rounds.get_visible_form(
        session, viewer=head_of(college), round_id=found.id, unit_id=college.id
    )
    with pytest.raises(OrgError, match="扫描件"):
        rounds.submit(session, viewer=head_of(college), form=form, scan=b"", scan_name="x.pdf")
    with pytest.raises(OrgError, match="不符"):
        rounds.submit(session, viewer=head_of(college), form=form, scan=b"hi", scan_name="x.pdf")
    rounds.submit(session, viewer=head_of(college), form=form, scan=PNG, scan_name="盖章.png")
    assert form.status == "submitted" and "缺额" in form.warnings
    rounds.return_(session, viewer=office(), form=form, reason="缺少通讯员")
    assert [f.unit_id for f in rounds.list_not_submitted(session, round_id=found.id)] == [
        college.id,
        dept.id,
    ] or form.status == "returned"
    person = org.create_person(session, actor=SYSTEM, name="通讯员", unit_id=college.id)
    org.update_duty_roles(session, person=person, role_keys=["correspondent"], actor=SYSTEM)
    rounds.submit(session, viewer=head_of(college), form=form, scan=PNG, scan_name="盖章.png")
    rounds.accept(session, viewer=office(), form=form)
    assert form.status == "accepted" and rounds.rows_of(form)[0]["name"] == "通讯员"
    with pytest.raises(OrgError):
        rounds.accept(session, viewer=office(), form=form)


def _roster(rows: list[list[object]], merge: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["登记表"])
    sheet.append(["单位", "姓名", "手机", "职责角色"])
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_roster_with_merged_unit_cells_and_a_person_in_two_units(session: Session) -> None:
    college, dept = _world(session)
    org.create_person(session, actor=SYSTEM, name="王五", unit_id=dept.id, phone="13900000001")
    data = _roster(
        [
            ["文学院", "张三", "13900000002", "新闻通讯员"],
            [None, "李四", "13900000003", "网络信息员"],
            [None, "王五", "13900000001", ""],
        ],
        merge="A3:A5",
    )
    report = excel.import_roster(session, viewer=office(), data=data, filename="登记表.xlsx")
    names = {p.name for p in org.list_people(session, unit_id=college.id)}
    assert names == {"张三", "李四"}
    assert report.created == 2 and len(report.problems) == 1
    assert "一人不能同时在两个单位" in report.problems[0].reason


def test_roster_without_the_name_column_is_refused_whole(session: Session) -> None:
    _world(session)
    data = _roster([])
    book = load_workbook(io.BytesIO(data))
    book.active.delete_cols(2)
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(excel.RosterFileError, match="表头"):
        excel.import_roster(session, viewer=office(), data=buffer.getvalue(), filename="a.xlsx")
    assert session.execute(select(Person)).first() is None


def test_leaving_and_moving_close_role_terms(session: Session) -> None:
    college, dept = _world(session)
    person = org.create_person(session, actor=SYSTEM, name="调动者", unit_id=college.id)
    org.update_duty_roles(session, person=person, role_keys=["correspondent"], actor=SYSTEM)
    before = utcnow()
    org.update_person(session, person=person, actor=SYSTEM, unit_id=dept.id)
    terms = changes.list_terms_on(session, on=utcnow() + timedelta(seconds=1))
    assert [(t.person_id, t.unit_id) for t in terms] == [(person.id, dept.id)]
    assert [t.unit_id for t in changes.list_terms_on(session, on=before)] == [college.id]
    org.update_person(session, person=person, actor=SYSTEM, active=False)
    assert changes.list_terms_on(session, on=utcnow() + timedelta(seconds=1)) == []


def test_a_named_unit_added_on_the_desk_gets_its_core_rule(session: Session) -> None:
    college, _dept = _world(session)
    kind = college.kind_id
    marx = desk.create_managed_unit(
        session, viewer=office(), unit_in=UnitIn(name="马克思主义学院", parent_id=college.parent_id,
                                                 kind_id=kind),
    )  # fmt: skip
    assert _lines(session, marx)["核心网评员"].required == 4
    art = desk.create_managed_unit(
        session, viewer=office(), unit_in=UnitIn(name="美术学院", parent_id=college.parent_id)
    )
    desk.update_managed_unit(
        session, viewer=office(), unit=art,
        unit_in=UnitIn(name="信息化中心", parent_id=college.parent_id),
    )  # fmt: skip
    assert _lines(session, art)["核心网评员"].required == 2
