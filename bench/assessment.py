"""The month of a whole institution: all scores and the monthly bulletin in ≤ 5 s.

Usage: .venv/bin/python bench/assessment.py [--units 60] [--people 2000] [--items 20000]
       [--database postgresql://…]

A fresh database (SQLite in a temporary directory unless ``--database``) gets 60 units
(40 colleges, 20 offices), 2,000 people holding duty roles, and one month of 20,000
credited activities: published news (a tenth featured, a twentieth picked up), patrol
reports and manual items in the activity table, plus 600 cases with their clocks (a fifth
late) and 2,000 training sign-ins, all read by the real credit sources. The figure is the
wall time of ``service.compute_month`` plus ``bulletin.content`` (every person's credit,
task completion and score, every unit's sums and ranking, the bulletin's sections), best
of ``--repeat``. Baseline in the same run: only reading the month's activity rows (the
floor any design pays). The check that the bulletin's figures equal their items' sums runs
here too, on the whole month.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

TARGET_SECONDS = 5.0


def build(session: Session, *, units: int, people: int, items: int) -> None:
    from yuqing.assessment.models import Activity, TrainingAttendance, TrainingSession
    from yuqing.assessment.schemas import Month
    from yuqing.assessment.service import ensure_defaults
    from yuqing.cases.models import Case, CaseTimer
    from yuqing.core.audit import SYSTEM
    from yuqing.org import service as org
    from yuqing.org.models import Person, PersonRole

    rng = random.Random(7)
    ensure_defaults(session)
    root = org.create_unit(session, name="示范大学", actor=SYSTEM, kind_key="institution")
    unit_ids = [
        org.create_unit(
            session, name=f"单位{n:02d}", actor=SYSTEM, parent_id=root.id,
            kind_key="college" if n < units * 2 // 3 else "office", student_count=3000,
        ).id
        for n in range(units)
    ]  # fmt: skip
    roles = {r.key: r.id for r in org.list_duty_roles(session)}
    keys = ["correspondent", "info_officer", "backbone_commentator", "grassroots_commentator"]
    session.execute(
        insert(Person),
        [
            {"name": f"人员{n}", "unit_id": unit_ids[n % units], "active": True}
            for n in range(people)
        ],
    )
    person_ids = list(session.execute(select(Person.id, Person.unit_id)).all())
    session.execute(
        insert(PersonRole),
        [
            {"person_id": p, "duty_role_id": roles[keys[i % 4]]}
            for i, (p, _) in enumerate(person_ids)
        ],
    )
    start, end = Month(2026, 11).bounds()
    span = (end - start).total_seconds() - 1
    rows = []
    for n in range(items):
        person, unit = person_ids[rng.randrange(len(person_ids))]
        kind = rng.choice(["news", "news", "patrol", "patrol", "patrol", "manual"])
        grade = "" if kind != "news" else rng.choice([""] * 17 + ["featured"] * 2 + ["picked_up"])
        rows.append({
            "at": start + timedelta(seconds=rng.random() * span), "person_id": person,
            "unit_id": unit, "kind": kind, "grade": grade, "title": f"记录{n}",
            "points": 1.0 if kind == "manual" else None, "source_type": "bench",
            "source_id": str(n), "reason": "", "recorded_by": "bench",
        })  # fmt: skip
    session.execute(insert(Activity), rows)
    for n in range(600):
        person, unit = person_ids[n * 3 % len(person_ids)]
        case = Case(title=f"事件{n}", unit_id=unit, assignee_person_id=person, status="closed")
        session.add(case)
        session.flush()
        due = start + timedelta(days=1 + n % 27)
        done = due + timedelta(hours=2 if n % 5 == 0 else -2)
        session.add(
            CaseTimer(
                case_id=case.id,
                clock="feedback",
                started_at=due - timedelta(hours=12),
                due_at=due,
                satisfied_at=done,
            )
        )
    training = TrainingSession(
        topic="培训",
        kind="law",
        starts_at=start + timedelta(days=3),
        sign_token="bench",
        materials="[]",
    )
    session.add(training)
    session.flush()
    session.execute(
        insert(TrainingAttendance),
        [{"training_id": training.id, "person_id": p, "unit_id": u, "signed_at": start + timedelta(days=3), "method": "qr", "signed_by": ""} for p, u in person_ids],
    )  # fmt: skip
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="yuqing-bench-team-"))
    os.environ.setdefault("YUQING_DATA_DIR", str(workdir))
    from yuqing.assessment import bulletin, service
    from yuqing.assessment.models import Activity
    from yuqing.assessment.schemas import Month
    from yuqing.core import database

    url = args.database or f"sqlite:///{workdir / 'bench.db'}"
    engine = database.make_engine(url)
    database.upgrade_database(engine)
    database.set_engine(engine)
    month = Month(2026, 11)
    with Session(engine) as session:
        t0 = time.perf_counter()
        build(session, units=args.units, people=args.people, items=args.items)
        print(f"built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    best, floor = float("inf"), float("inf")
    for _ in range(args.repeat):
        with Session(engine) as session:
            start, end = month.bounds()
            t0 = time.perf_counter()
            session.execute(select(Activity.id, Activity.kind, Activity.person_id, Activity.unit_id, Activity.at, Activity.points, Activity.grade, Activity.title).where(Activity.at >= start, Activity.at < end)).all()  # fmt: skip
            floor = min(floor, time.perf_counter() - t0)
        with Session(engine) as session:
            t0 = time.perf_counter()
            found = service.compute_month(session, month=month)
            made = bulletin.content(session, found=found)
            best = min(best, time.perf_counter() - t0)
    ranking = made.sections[1].tables[0].rows
    traced = all(
        row[4] == round(sum(i.points for i in u.items), 2)
        for row in ranking
        for u in found.units
        if u.name == row[1]
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"month: {len(found.items)} credited items, {len(found.people)} people, {len(found.units)} units; figures trace to items: {traced}"
    )
    print("| figure | value | target | baseline (same run) | ratio | load average |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| all scores + bulletin, {args.units} units / {args.people} people / "
        f"{len(found.items)} items | {best:.2f} s | ≤ {TARGET_SECONDS:.0f} s | reading the "
        f"month's activity rows alone {floor:.2f} s | {best / floor:.1f}× | {load} |"
    )
    if not traced or best > TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
