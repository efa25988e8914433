"""Credit, tasks, scores and the bulletin of a small month made by hand, on the real
database: every figure of the bulletin equals the sum of the items it traces to."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from yuqing.assessment import bulletin, jobs, service, training
from yuqing.assessment.models import Activity
from yuqing.assessment.schemas import AssessmentError, Month
from yuqing.auth.schemas import Principal
from yuqing.cases.models import Case, CaseTimer
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import to_utc_naive, utcnow
from yuqing.notify.models import Notification
from yuqing.org import service as org
from yuqing.org.models import Person, Unit

MONTH = Month(2026, 11)


def office() -> Principal:
    perms = frozenset({"team.read", "team.manage", "team.unit", "org.read", "org.manage"})
    return Principal(
        user_id=0, username="office", display_name="宣传部", role_key="publicity",
        permissions=perms, unit_id=None, visible_units=None,
    )  # fmt: skip


def at(day: int, hour: int = 10) -> datetime:
    start, _ = MONTH.bounds()
    return start + timedelta(days=day - 1, hours=hour)


def _person(session: Session, name: str, unit: Unit, *roles: str) -> Person:
    person = org.create_person(session, actor=SYSTEM, name=name, unit_id=unit.id)
    org.update_duty_roles(session, person=person, role_keys=list(roles), actor=SYSTEM)
    return person


def _case(session: Session, title: str, unit: Unit, person: Person, *, late: bool) -> None:
    due = at(10)
    case = Case(title=title, unit_id=unit.id, assignee_person_id=person.id, status="closed")
    session.add(case)
    session.flush()
    done = due + timedelta(hours=3 if late else -3)
    session.add(
        CaseTimer(
            case_id=case.id, clock="feedback", started_at=at(9), due_at=due, satisfied_at=done
        )
    )
    session.flush()


def _month(session: Session) -> dict[str, Person]:
    org.ensure_defaults(session)
    college = org.create_unit(session, name="文学院", actor=SYSTEM, kind_key="college")
    office_unit = org.create_unit(session, name="后勤处", actor=SYSTEM, kind_key="office")
    people = {
        "news": _person(session, "甲通讯员", college, "correspondent"),
        "patrol": _person(session, "乙信息员", college, "info_officer"),
        "backbone": _person(session, "丙骨干", office_unit, "backbone_commentator"),
    }
    # Stories published outside the desk's column (a newspaper's print edition), recorded
    # by the department; the column's own pieces are read from editorial.
    for n, grade in enumerate(["", "featured", "picked_up"]):
        service.record_news(
            session, person_id=people["news"].id, published_at=at(3 + n), title=f"稿件{n}",
            source_type="print", source_id=str(n), grade=grade, actor=SYSTEM,
        )  # fmt: skip
    # Published again (same story, same source): still one item.
    service.record_news(
        session, person_id=people["news"].id, published_at=at(3), title="稿件0",
        source_type="print", source_id="0", actor=SYSTEM,
    )  # fmt: skip
    for day in range(1, 6):
        service.file_patrol(
            session, person_id=people["patrol"].id, day=date(2026, 11, day), actor=SYSTEM
        )
    service.file_patrol(session, person_id=people["patrol"].id, day=date(2026, 11, 1), actor=SYSTEM)
    _case(session, "按时的事件", office_unit, people["backbone"], late=False)
    _case(session, "超时的事件", office_unit, people["backbone"], late=True)
    service.add_manual(
        session, viewer=office(), person_id=people["backbone"].id, points=3, title="获评先进",
        reason="市级表彰", at=at(20),
    )  # fmt: skip
    found = training.create_session(
        session, viewer=office(), topic="网络安全法", kind="law", starts_at=at(15)
    )
    first, new = training.sign_in(
        session, training=found, person_id=people["news"].id, method="qr", actor=SYSTEM
    )
    again, new_again = training.sign_in(
        session, training=found, person_id=people["news"].id, method="qr", actor=SYSTEM
    )
    assert new and not new_again and first is again
    first.signed_at = at(15)
    service.save_quality(
        session, viewer=office(), month=MONTH, person_id=people["news"].id, score=90, note=""
    )
    session.flush()
    return people


def test_bulletin_figures_trace_to_their_items(session: Session) -> None:
    people = _month(session)
    found = service.compute_month(session, month=MONTH)
    news = found.people[people["news"].id]
    # 1 + 1×2 + 1×3 for the stories, 1 for the training
    assert sorted(i.points for i in news.items) == [1.0, 1.0, 2.0, 3.0]
    assert news.credit == 7.0
    assert news.tasks[0][:3] == ("news", 2, 3.0) and news.completion == 1.0
    assert news.score == pytest.approx(100 * 0.7 + 90 * 0.3)
    patrol = found.people[people["patrol"].id]
    assert len(patrol.items) == 5 and patrol.completion == pytest.approx(5 / 20)
    backbone = found.people[people["backbone"].id]
    assert sorted(i.kind for i in backbone.items) == ["case_late", "case_on_time", "manual"]
    assert backbone.credit == 2.0 - 2.0 + 3.0 and backbone.completion == 0.5
    made = bulletin.content(session, found=found)
    ranking = made.sections[1].tables[0].rows
    for row in ranking:
        unit = next(u for u in found.units if u.name == row[1])
        assert row[4] == round(sum(i.points for i in unit.items), 2)
    assert sum(float(r[4]) for r in ranking) == pytest.approx(sum(i.points for i in found.items))
    roles = {r[0]: r for r in made.sections[2].tables[0].rows}
    assert roles["新闻通讯员"][3] == 7.0
    assert made.sections[3].tables[0].rows[0][0] == "稿件2"  # picked up: ×3
    assert made.sections[5].tables[0].rows[0][0] == "超时的事件"


def test_multipliers_are_configurable(session: Session) -> None:
    people = _month(session)
    service.update_weight(session, viewer=office(), key="x_picked_up", points=5)
    found = service.compute_month(session, month=MONTH)
    assert found.people[people["news"].id].credit == 1 + 2 + 5 + 1


def test_tasks_copy_forward_and_manual_items_need_a_reason(session: Session) -> None:
    people = _month(session)
    roles = {r.key: r.id for r in org.list_duty_roles(session)}
    service.save_task(
        session,
        viewer=office(),
        month=MONTH,
        duty_role_id=roles["correspondent"],
        metric="news",
        target=4,
    )
    tasks, source = service.list_tasks(session, month=MONTH.next())
    assert source == str(MONTH) and any(t.target == 4 for t in tasks)
    with pytest.raises(AssessmentError, match="理由"):
        service.add_manual(
            session, viewer=office(), person_id=people["news"].id, points=1, title="x", reason=" "
        )
    assert session.query(Activity).filter_by(kind="patrol").count() == 5


def test_bulletin_docx_year_export_and_schedule(session: Session) -> None:
    people = _month(session)
    publicity = _person(session, "宣传部管理员甲", org.list_units(session)[0], "publicity_admin")
    publicity.email = "office@example.cn"
    row = bulletin.make(session, month=MONTH, actor=SYSTEM)
    text = "\n".join(p.text for p in Document(io.BytesIO(bulletin.docx(row))).paragraphs)
    assert "月度通报" in text and "超时处置" in text
    book = load_workbook(io.BytesIO(bulletin.export_year(session, year=2026, actor=SYSTEM)))
    values = [c.value for r in book.active.iter_rows() for c in r]
    assert "文学院" in values
    first = to_utc_naive(datetime(2026, 12, 1, 10, 5), assume=None)
    session.query(type(row)).delete()
    made = jobs.run_schedule(session, first.replace(hour=first.hour))
    assert made is not None and made.sent_at is not None
    assert jobs.run_schedule(session, first) is None  # once
    assert session.query(Notification).filter_by(source_type="bulletin").count() >= 1
    assert people


def test_registration_reminders_go_once_to_units_that_have_not_submitted(session: Session) -> None:
    from yuqing.org import rounds

    org.ensure_defaults(session)
    college = org.create_unit(session, name="文学院", actor=SYSTEM, kind_key="college")
    head = _person(session, "院长", college, "unit_head")
    head.email = "head@example.cn"
    org.update_unit(session, unit=college, actor=SYSTEM, head_person_id=head.id)
    now = utcnow()
    found = rounds.open_round(
        session, viewer=office(), title="登记", deadline=now + timedelta(days=10)
    )
    assert jobs.remind_registration(session, now) == 0  # too early
    later = found.deadline - timedelta(hours=24)
    assert jobs.remind_registration(session, later) == 1
    assert jobs.remind_registration(session, later + timedelta(minutes=1)) == 0  # once
    sent = session.query(Notification).filter_by(source_type="registration_round").all()
    assert sent and all("登记" in n.title for n in sent)


def test_someone_who_left_the_team_is_not_scored_as_a_full_member(session: Session) -> None:
    people = _month(session)
    college = session.get(Unit, people["news"].unit_id)
    assert college is not None
    dropped = _person(session, "丁已撤销", college, "correspondent")
    org.update_duty_roles(session, person=dropped, role_keys=[], actor=SYSTEM)  # 撤销: no role
    gone = _person(session, "戊已离职", college, "info_officer")
    org.update_person(session, person=gone, actor=SYSTEM, active=False)  # 离职
    found = service.compute_month(session, month=MONTH)
    assert gone.id not in found.people
    apart = found.people[dropped.id]
    assert not apart.member and apart.score is None  # shown apart, never 100
    unit = next(u for u in found.units if u.unit_id == college.id)
    assert [p.name for p in unit.members] == ["甲通讯员", "乙信息员"]
    made = bulletin.content(session, found=found)
    assert "3 名队伍成员" in made.sections[0].paragraphs[0].text
    row = next(r for r in made.sections[1].tables[0].rows if r[1] == "文学院")
    assert row[2] == 2
