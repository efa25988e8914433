"""Cases: the whole flow, idempotent opening, guards that change nothing, access by unit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.conftest import Clock, World
from yuqing.alerts.models import Alert
from yuqing.cases import service
from yuqing.cases.models import Case, CaseEntry, CaseTimer, Grade
from yuqing.cases.schemas import CaseError, CaseNotFound, CasePermissionError, ClockIn
from yuqing.core.audit import AuditEntry
from yuqing.core.counting import Count
from yuqing.events.models import Event
from yuqing.mentions.models import Mention
from yuqing.notify.models import Notification


def _count(session: Session, model: type) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def _targets(session: Session, key_prefix: str) -> set[str]:
    rows = session.execute(
        select(Notification.target).where(Notification.dedupe_key.startswith(key_prefix))
    )
    return set(rows.scalars())


def test_whole_flow_from_mention_to_closure(
    session: Session, world: World, mention: Mention, clock: Clock
) -> None:
    start = clock.now
    case = service.open_from_mention(session, principal=world.cs_member, mention_id=mention.id)
    assert (case.status, case.link, case.reporter_unit_id) == ("new", mention.url, world.cs)
    assert _targets(session, f"case:{case.id}:open") == {"office@example.cn"}
    audit_before = _count(session, AuditEntry)

    steps = [
        lambda: service.triage(session, principal=world.office, case=case, grade_key="general"),
        lambda: service.assign(session, principal=world.office, case=case, unit_id=world.cs),
        lambda: service.start(session, principal=world.cs_head, case=case),
        lambda: service.give_feedback(
            session,
            principal=world.cs_head,
            case=case,
            feedback_text="已核实：食堂更换了供应商，已约谈并整改。",
            response_text="学校后勤处关于食堂饭菜质量的说明",
            response_url="https://www.example.cn/notice/1",
        ),
        lambda: service.accept(session, principal=world.office, case=case),
        lambda: service.close(
            session, principal=world.office, case=case, lessons="及时回应", tags="后勤 食堂"
        ),
    ]
    expected = ["triaged", "assigned", "in_progress", "feedback", "review", "closed"]
    for minutes, (step, status) in enumerate(zip(steps, expected, strict=True), start=1):
        clock.now = start + timedelta(minutes=10 * minutes)
        step()
        assert case.status == status
    session.commit()

    # One audit row and one timeline entry per transition, a timestamp per status.
    assert _count(session, AuditEntry) - audit_before == len(steps)
    entries = service.list_entries(session, case=case)
    assert [e.to_status for e in entries] == ["new", *expected]
    assert case.assigned_at == start + timedelta(minutes=20)
    assert case.closed_at == start + timedelta(minutes=60)
    assert case.assignee_person_id == world.cs_head_person  # the unit head by default
    assert case.tags == "后勤 食堂" and case.responded_at is not None
    assert _targets(session, f"case:{case.id}:assign") == {"head@example.cn"}
    assert _targets(session, f"case:{case.id}:feedback") == {"office@example.cn"}
    # 一般: unit feedback within 12 h, closure within 3 working days: both met, none running.
    views = {v.clock: v for v in service.list_timers(session, case=case)}
    assert {k: v.state for k, v in views.items()} == {"unit_feedback": "met", "closure": "met"}
    assert views["unit_feedback"].due_at == start + timedelta(minutes=20, hours=12)
    assert service.allowed_transitions(case, world.office) == ["reopen"]


def test_opening_twice_returns_the_same_case(
    session: Session, world: World, mention: Mention
) -> None:
    first = service.open_from_mention(session, principal=world.office, mention_id=mention.id)
    audits = _count(session, AuditEntry)
    again = service.open_from_mention(session, principal=world.cs_member, mention_id=mention.id)
    by_hand = service.open_case(
        session, principal=world.office, title="同一条", mention_ids=[mention.id]
    )
    assert first.id == again.id == by_hand.id
    assert _count(session, AuditEntry) == audits

    event = Event(
        title="食堂事件",
        representative_id=mention.id,
        first_seen_at=mention.published_at,
        last_seen_at=mention.published_at,
    )
    session.add(event)
    session.flush()
    alert = Alert(kind="rule", title="负面预警", mention_id=mention.id, dedupe_key="a1")
    session.add(alert)
    session.flush()
    from_event = service.open_from_event(session, principal=world.office, event_id=event.id)
    assert (
        from_event.id
        == service.open_from_event(session, principal=world.office, event_id=event.id).id
    )
    assert service.list_event_ids(session, case=from_event) == [event.id]
    from_alert = service.open_from_alert(session, principal=world.office, alert_id=alert.id)
    assert (
        from_alert.id
        == service.open_from_alert(session, principal=world.office, alert_id=alert.id).id
    )
    assert len({first.id, from_event.id, from_alert.id}) == 3
    session.commit()
    assert _count(session, Case) == 3


def _snapshot(session: Session, case: Case) -> tuple[object, ...]:
    session.expire_all()
    fresh = session.get(Case, case.id)
    assert fresh is not None
    return (
        fresh.status,
        fresh.grade_id,
        fresh.unit_id,
        fresh.feedback_text,
        _count(session, AuditEntry),
        _count(session, CaseEntry),
        _count(session, CaseTimer),
        _count(session, Notification),
    )


def test_refusals_name_the_rule_and_change_nothing(session: Session, world: World) -> None:
    case = service.open_case(session, principal=world.office, title="网传某学院违规收费")
    session.commit()
    before = _snapshot(session, case)

    with pytest.raises(CaseError) as wrong_state:
        service.accept(session, principal=world.office, case=case)
    assert wrong_state.value.rule == "state"
    assert str(wrong_state.value) == "当前状态“新报送”不能执行“审核通过”"
    with pytest.raises(CaseError, match="当前状态“新报送”不能执行“下发”"):
        service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    assert _snapshot(session, case) == before

    service.triage(session, principal=world.office, case=case, grade_key="larger")
    session.commit()
    before = _snapshot(session, case)
    with pytest.raises(CaseError) as no_head:
        service.assign(session, principal=world.office, case=case, unit_id=world.lang)
    assert no_head.value.rule == "no_responsible"
    assert "该单位没有指定负责人" in no_head.value.message
    assert _snapshot(session, case) == before

    service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    service.start(session, principal=world.cs_head, case=case)
    session.commit()
    before = _snapshot(session, case)
    for blank in ("", "   "):
        with pytest.raises(CaseError, match="反馈内容不能为空") as empty:
            service.give_feedback(session, principal=world.cs_head, case=case, feedback_text=blank)
        assert empty.value.rule == "feedback_empty"
    with pytest.raises(CaseError, match="当前状态“已反馈”不能执行“下发”"):
        service.give_feedback(session, principal=world.cs_head, case=case, feedback_text="x")
        service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    session.rollback()  # the caller's transaction: the feedback before goes too
    assert _snapshot(session, case) == before

    grade = service.get_grade(session, key="larger")
    with pytest.raises(CaseError, match="该等级正在被 1 个处置单使用，不能删除") as in_use:
        service.delete_grade(session, principal=world.office, grade=grade)
    assert in_use.value.rule == "grade_in_use"
    session.rollback()
    assert session.get(Grade, grade.id) is not None
    assert len(service.list_clocks(session, grade_id=grade.id)) == 3
    unused = service.get_grade(session, key="severe")
    service.delete_grade(session, principal=world.office, grade=unused)
    assert [g.key for g in service.list_grades(session)] == ["general", "larger", "major"]


def test_a_unit_sees_its_own_cases_and_the_office_sees_all(session: Session, world: World) -> None:
    ours = service.open_case(session, principal=world.office, title="计算机学院的事")
    theirs = service.open_case(session, principal=world.office, title="外国语学院的事")
    reported = service.open_case(session, principal=world.cs_member, title="计算机学院报送的")
    for case in (ours, theirs):
        service.triage(session, principal=world.office, case=case, grade_key="general")
    service.assign(session, principal=world.office, case=ours, unit_id=world.cs)
    service.assign(
        session,
        principal=world.office,
        case=theirs,
        unit_id=world.lang,
        person_id=world.cs_teacher_person,
    )
    session.commit()

    def visible(who: object) -> set[int]:
        cases, total = service.list_cases(session, principal=who)  # type: ignore[arg-type]
        assert total == Count(len(cases))
        return {c.id for c in cases}

    assert visible(world.office) == visible(world.leader) == {ours.id, theirs.id, reported.id}
    assert visible(world.cs_head) == visible(world.cs_member) == {ours.id, reported.id}
    assert visible(world.lang_head) == {theirs.id}
    with pytest.raises(CaseNotFound):
        service.get_case(session, principal=world.cs_head, case_id=theirs.id)
    with pytest.raises(CaseNotFound):
        service.get_case(session, principal=world.lang_head, case_id=ours.id)
    with pytest.raises(CaseNotFound):
        service.get_case(session, principal=world.office, case_id=99999)
    assert service.get_case(session, principal=world.cs_member, case_id=reported.id) is reported

    # Buttons and guards: the member reads and reports, the head handles its unit's case.
    assert service.allowed_transitions(ours, world.cs_head) == ["start", "escalate"]
    assert service.allowed_transitions(ours, world.cs_member) == []
    assert service.allowed_transitions(ours, world.leader) == []
    assert "assign" in service.allowed_transitions(ours, world.office)
    with pytest.raises(CasePermissionError):
        service.start(session, principal=world.cs_member, case=ours)
    with pytest.raises(CasePermissionError):
        service.start(session, principal=world.lang_head, case=ours)
    with pytest.raises(CasePermissionError):
        service.triage(session, principal=world.cs_head, case=reported, grade_key="major")
    board = service.list_board_rows(session, principal=world.cs_head)
    assert {r.case_id for r in board} == {ours.id, reported.id}


def test_serious_grade_clocks_backdate_and_escalation_goes_up(
    session: Session, world: World, clock: Clock
) -> None:
    reported_at = clock.now
    case = service.open_case(session, principal=world.office, title="重大舆情")
    clock.now += timedelta(minutes=40)
    service.triage(session, principal=world.office, case=case, grade_key="major")
    views = {v.clock: v for v in service.list_timers(session, case=case, now=clock.now)}
    # Authoritative information within 5 h of the report, not of the grading.
    assert views["authoritative_info"].due_at == reported_at + timedelta(hours=5)
    assert views["public_response"].due_at == reported_at + timedelta(hours=24)
    assert "acknowledge" not in views  # starts on 下发
    clock.now += timedelta(minutes=5)
    service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    ack = {v.clock: v for v in service.list_timers(session, case=case, now=clock.now)}[
        "acknowledge"
    ]
    assert ack.due_at == clock.now + timedelta(minutes=30)
    clock.now += timedelta(minutes=10)
    service.escalate(
        session, principal=world.cs_head, case=case, reason="涉及多个部门，学院无法处置"
    )
    assert case.status == "escalated" and case.escalated_at == clock.now
    assert _targets(session, f"case:{case.id}:escalate") == {
        "office@example.cn",
        "leader@example.cn",
    }
    service.record_response(
        session, principal=world.office, case=case, response_text="情况通报", kind="info"
    )
    views = {v.clock: v for v in service.list_timers(session, case=case, now=clock.now)}
    assert views["authoritative_info"].state == "met"
    assert views["public_response"].state == "running"
    # Regrade to 一般: the serious clocks that still run are dropped, 一般's start back-dated.
    service.triage(session, principal=world.office, case=case, grade_key="general")
    views = {v.clock: v for v in service.list_timers(session, case=case, now=clock.now)}
    assert set(views) == {"authoritative_info", "unit_feedback", "closure"}


def test_returned_case_pauses_the_clocks_its_policy_pauses(
    session: Session, world: World, clock: Clock
) -> None:
    case = service.open_case(session, principal=world.office, title="一般舆情")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    service.start(session, principal=world.cs_head, case=case)
    service.give_feedback(session, principal=world.cs_head, case=case, feedback_text="已处理")
    closure = session.execute(
        select(CaseTimer).where(CaseTimer.case_id == case.id, CaseTimer.clock == "closure")
    ).scalar_one()
    due = closure.due_at
    service.return_for_more(session, principal=world.office, case=case, reason="请补充整改材料")
    assert case.status == "returned" and closure.paused_at == clock.now
    assert _targets(session, f"case:{case.id}:return") == {"head@example.cn"}
    clock.now += timedelta(hours=3)
    paused = {v.clock: v.state for v in service.list_timers(session, case=case, now=clock.now)}
    assert paused == {"closure": "paused", "unit_feedback": "met"}
    service.give_feedback(session, principal=world.cs_head, case=case, feedback_text="已补充")
    assert closure.paused_at is None and closure.due_at == due + timedelta(hours=3)
    assert closure.paused_seconds == pytest.approx(3 * 3600)


def test_reopen_restarts_the_report_clocks_and_grades_are_data(
    session: Session, world: World, clock: Clock
) -> None:
    case = service.open_case(session, principal=world.office, title="误报")
    with pytest.raises(CaseError, match="需要在经验教训中说明原因"):
        service.close(session, principal=world.office, case=case)
    service.triage(session, principal=world.office, case=case, grade_key="general")
    service.close(session, principal=world.office, case=case, lessons="核实为误报")
    clock.now += timedelta(days=10)
    service.reopen(session, principal=world.office, case=case, reason="再次发酵")
    assert case.status == "reopened" and case.reopened_at == clock.now
    closure = {v.clock: v for v in service.list_timers(session, case=case, now=clock.now)}[
        "closure"
    ]
    assert closure.state == "running" and closure.started_at == clock.now
    assert service.allowed_transitions(case, world.office) == ["triage", "assign"]

    grade = service.get_grade(session, key="general")
    service.update_clock(
        session,
        principal=world.office,
        grade=grade,
        clock_in=ClockIn(
            clock="unit_feedback", starts_on="assigned", stops_on="feedback", amount=6
        ),
    )
    assert service.list_clocks(session, grade_id=grade.id)["unit_feedback"].amount == 6
    with pytest.raises(CaseError, match="完成条件"):
        service.update_clock(
            session,
            principal=world.office,
            grade=grade,
            clock_in=ClockIn(clock="closure", starts_on="new", stops_on="nowhere", amount=1),
        )
    with pytest.raises(CasePermissionError):
        service.delete_grade(session, principal=world.cs_head, grade=grade)


def test_text_search_and_accountability(session: Session, world: World, clock: Clock) -> None:
    done = service.open_case(session, principal=world.office, title="宿舍停水")
    late = service.open_case(session, principal=world.office, title="考试泄题传言")
    for case in (done, late):
        service.triage(session, principal=world.office, case=case, grade_key="general")
        service.assign(session, principal=world.office, case=case, unit_id=world.cs)
        service.start(session, principal=world.cs_head, case=case)
    clock.now += timedelta(hours=4)
    service.give_feedback(session, principal=world.cs_head, case=done, feedback_text="已恢复供水")
    clock.now += timedelta(hours=20)  # the other one's 12 h feedback clock is missed
    service.accept(session, principal=world.office, case=done)
    service.close(session, principal=world.office, case=done, lessons="提前通知停水", tags="后勤")
    session.commit()

    found, total = service.list_cases(session, principal=world.office, q="停水 通知", closed=True)
    assert [c.id for c in found] == [done.id] and total == Count(1)
    assert service.list_cases(session, principal=world.office, tag="后勤")[1] == Count(1)
    assert service.list_cases(session, principal=world.office, status="in_progress")[1] == Count(1)

    [figures] = service.list_unit_figures(session, month=clock.now.date(), now=clock.now)
    assert (figures.unit_name, figures.received, figures.overdue) == ("计算机学院", 2, 1)
    assert figures.met == {"unit_feedback": 1, "closure": 1}
    assert figures.missed == {"unit_feedback": 1}
    assert figures.avg_hours_to_feedback == 4.0
    rows = service.list_board_rows(session, principal=world.office, now=clock.now)
    assert [(r.case_id, r.overdue, r.clock) for r in rows] == [(late.id, True, "unit_feedback")]
    assert rows[0].grade_color == "blue" and rows[0].assignee_name == "张院长"
