"""A simulated day of case clocks: reminders and escalations at the right minute to the right
people, none twice, none lost after a restart or a rolled-back run."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.cases.conftest import Clock, World
from yuqing.cases import jobs, service
from yuqing.cases.models import Case, CaseEntry
from yuqing.notify.models import Notification

OFFICE, HEAD, TEACHER, LEADER = (
    "office@example.cn",
    "head@example.cn",
    "teacher@example.cn",
    "leader@example.cn",
)


def _sent(session: Session) -> list[tuple[str, str]]:
    """(dedupe key without the case and generation, target) of every e-mail queued by the
    timers, in order."""
    rows = session.execute(
        select(Notification.dedupe_key, Notification.target)
        .where(
            Notification.channel == "email",
            Notification.dedupe_key.contains(":remind")
            | Notification.dedupe_key.contains(":escalate"),
        )
        .order_by(Notification.id)
    ).all()
    return [(f"{k.split(':')[2]}:{k.split(':')[4]}", t) for k, t in rows]


def _open_two_cases(session: Session, world: World, clock: Clock) -> tuple[Case, Case]:
    """较大 case A assigned to 李老师 of 计算机学院; 一般 case B graded, not yet assigned."""
    a = service.open_case(session, principal=world.office, title="较大舆情A")
    service.triage(session, principal=world.office, case=a, grade_key="larger")
    service.assign(
        session,
        principal=world.office,
        case=a,
        unit_id=world.cs,
        person_id=world.cs_teacher_person,
    )
    b = service.open_case(session, principal=world.office, title="一般舆情B")
    service.triage(session, principal=world.office, case=b, grade_key="general")
    session.commit()
    return a, b


def _run(engine: Engine, now: datetime, *, commit: bool = True) -> jobs.TimerReport:
    """One minute of the worker: a fresh session, as after a restart."""
    with Session(engine, expire_on_commit=False) as fresh:
        report = jobs.run_timers(fresh, now=now)
        if commit:
            fresh.commit()
        else:
            fresh.rollback()
    return report


def test_a_simulated_day(session: Session, engine: Engine, world: World, clock: Clock) -> None:
    t0 = clock.now
    a, b = _open_two_cases(session, world, clock)
    fired: dict[str, int] = {}  # what → minute it first fired
    for minute in range(0, 14 * 60 + 1):
        now = t0 + timedelta(minutes=minute)
        if minute == 200:  # the unit takes case A: its acknowledge clock stops
            clock.now = now
            with Session(engine, expire_on_commit=False) as s:
                case = s.get(Case, a.id)
                assert case is not None
                service.start(s, principal=world.cs_head, case=case)
                s.commit()
        report = _run(engine, now)
        for detail in report.details:
            fired.setdefault(detail.replace(f"#{a.id} ", "A ").replace(f"#{b.id} ", "B "), minute)
        again = _run(engine, now)  # the same minute twice (two workers, or a retry)
        assert again.reminders == again.escalations == again.notifications == 0

    assert fired == {
        # A (较大): acknowledge 1 h from assignment, missed: reminders, then one step per 30 min.
        "A acknowledge remind50": 30,
        "A acknowledge remind80": 48,
        "A acknowledge escalate1": 60,
        "A acknowledge escalate2": 90,
        "A acknowledge escalate3": 120,
        # A: unit feedback 12 h; public response 48 h from the report (50 % at 24 h: not today).
        "A unit_feedback remind50": 360,
        "A unit_feedback remind80": 576,
        "A unit_feedback escalate1": 720,
        "A unit_feedback escalate2": 750,
        "A unit_feedback escalate3": 780,
        # B (一般, not assigned): closure in 3 working days (Mon 09:00 → Thu 09:00): 50 % at 36 h.
    }
    sent = _sent(session)
    assert len(sent) == len(set(sent))  # nothing twice
    assert set(sent) == {
        ("acknowledge:remind50", TEACHER),
        ("acknowledge:remind80", TEACHER),
        ("acknowledge:escalate1", HEAD),
        ("acknowledge:escalate2", OFFICE),
        ("acknowledge:escalate3", LEADER),
        ("unit_feedback:remind50", TEACHER),
        ("unit_feedback:remind80", TEACHER),
        ("unit_feedback:escalate1", HEAD),
        ("unit_feedback:escalate2", OFFICE),
        ("unit_feedback:escalate3", LEADER),
    }
    # B's closure clock reminds the office (no assignee yet) at 50 %: Tuesday 21:00 Beijing;
    # A's public response (48 h from the report) passed its 50 % at 24 h, while no one ran.
    report = _run(engine, t0 + timedelta(hours=36))
    assert report.details == [f"#{a.id} public_response remind50", f"#{b.id} closure remind50"]
    assert ("closure:remind50", OFFICE) in _sent(session)
    timeline = session.execute(
        select(CaseEntry.kind).where(CaseEntry.case_id == a.id, CaseEntry.kind != "transition")
    ).scalars()
    assert sorted(timeline) == ["escalation"] * 6 + ["reminder"] * 5  # + public response 50 %


def test_a_rolled_back_run_loses_nothing_and_a_late_run_catches_up(
    session: Session, engine: Engine, world: World, clock: Clock
) -> None:
    t0 = clock.now
    a, _b = _open_two_cases(session, world, clock)
    crashed = _run(engine, t0 + timedelta(minutes=31), commit=False)  # the worker dies
    assert crashed.details == [f"#{a.id} acknowledge remind50"]
    assert _sent(session) == []
    retried = _run(engine, t0 + timedelta(minutes=32))
    assert retried.details == crashed.details
    assert _sent(session) == [("acknowledge:remind50", TEACHER)]

    # The worker was down from minute 32 to 3 h 10: only the newest reminder of a clock goes,
    # and the escalation climbs one step per run, never two at once.
    late = t0 + timedelta(hours=3, minutes=10)
    steps = [_run(engine, late + timedelta(minutes=i)).details for i in range(4)]
    assert steps == [
        [f"#{a.id} acknowledge escalate1"],
        [f"#{a.id} acknowledge escalate2"],
        [f"#{a.id} acknowledge escalate3"],
        [],
    ]


def test_paused_clocks_stay_silent_and_closed_cases_stop(
    session: Session, engine: Engine, world: World, clock: Clock
) -> None:
    t0 = clock.now
    case = service.open_case(session, principal=world.office, title="一般舆情C")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    service.start(session, principal=world.cs_head, case=case)
    service.give_feedback(session, principal=world.cs_head, case=case, feedback_text="已处理")
    service.return_for_more(session, principal=world.office, case=case, reason="请补充")
    session.commit()
    # Returned: the closure clock (3 working days) is paused; two days later, still silent.
    assert _run(engine, t0 + timedelta(days=2)).details == []
    clock.now = t0 + timedelta(days=2)
    service.give_feedback(session, principal=world.cs_head, case=case, feedback_text="已补充")
    service.accept(session, principal=world.office, case=case)
    service.close(session, principal=world.office, case=case)
    session.commit()
    assert _run(engine, t0 + timedelta(days=30)).checked == 0
