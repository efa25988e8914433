"""Monthly tasks, credit and scores: the lookup data (weights, rubrics), what the desk
records itself (patrol reports, manual items, quality scores) and the month's figures,
computed from the credit sources as one pure pass over their items."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.assessment import config, sources
from yuqing.assessment.models import Activity, CreditWeight, MonthlyTask, QualityScore, ScoreRubric
from yuqing.assessment.schemas import (
    AssessmentError,
    CreditItem,
    Month,
    MonthFigures,
    PersonFigures,
    UnitFigures,
)
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.database import savepoint
from yuqing.core.timeutil import local_zone, to_utc_naive, utcnow
from yuqing.org import service as org
from yuqing.org.models import Person, PersonRole

MANAGE = "team.manage"


def check_department(viewer: org.Viewer) -> None:
    if not viewer.can(MANAGE) or viewer.visible_units is not None:
        raise org.OrgPermissionError("只有宣传部可以布置任务、评分和人工加减分")


def ensure_defaults(session: Session) -> None:
    """Seed credit weights and rubrics that do not exist yet (names and points editable).
    Run by `yuqing init`, the demo and the writes that change them; the month's figures
    read the defaults of what is missing without storing it, so a page's GET never writes."""
    org.ensure_defaults(session)
    have = set(session.execute(select(CreditWeight.key)).scalars())
    for key, name, points, order in config.CREDIT_WEIGHTS:
        if key not in have:
            session.add(CreditWeight(key=key, name=name, points=points, order=order))
    rubrics = set(session.execute(select(ScoreRubric.duty_role_id)).scalars())
    for role in org.list_duty_roles(session):
        if role.id not in rubrics:
            done, quality = config.DEFAULT_RUBRIC
            session.add(
                ScoreRubric(duty_role_id=role.id, completion_weight=done, quality_weight=quality)
            )
    session.flush()


def list_weights(session: Session) -> list[CreditWeight]:
    """The stored weights, and the default of each one not stored yet (not added to the
    session: a read stores nothing)."""
    stored = list(session.execute(select(CreditWeight).order_by(CreditWeight.order)).scalars())
    have = {w.key for w in stored}
    missing = [
        CreditWeight(key=key, name=name, points=points, order=order)
        for key, name, points, order in config.CREDIT_WEIGHTS
        if key not in have
    ]
    return sorted(stored + missing, key=lambda w: w.order)


def weights_by_key(session: Session) -> dict[str, float]:
    return {w.key: w.points for w in list_weights(session)}


def update_weight(session: Session, *, viewer: org.Viewer, key: str, points: float) -> None:
    check_department(viewer)
    ensure_defaults(session)
    weight = session.execute(
        select(CreditWeight).where(CreditWeight.key == key)
    ).scalar_one_or_none()
    if weight is None:
        raise AssessmentError(f"未知的计分项 {key}")
    if not -100 <= points <= 100:
        raise AssessmentError("分值应在 -100 到 100 之间")
    if weight.points != points:
        before, weight.points = weight.points, points
        audit.record(
            session, actor=viewer.actor, action="update", object_type="credit_weight",
            object_id=weight.id, summary=f"计分项“{weight.name}”改为 {points}",
            changes={"points": [before, points]},
        )  # fmt: skip


# --- monthly tasks --------------------------------------------------------------------


def list_tasks(session: Session, *, month: Month) -> tuple[list[MonthlyTask], str]:
    """The month's tasks, or (copied forward by default) the latest earlier month's; the
    second value names the month they were issued for. No month has tasks yet: defaults."""
    latest = session.execute(
        select(func.max(MonthlyTask.month)).where(MonthlyTask.month <= str(month))
    ).scalar()
    if latest is None:
        return _default_tasks(session, month), "默认"
    query = select(MonthlyTask).where(MonthlyTask.month == latest).order_by(MonthlyTask.id)
    return list(session.execute(query).scalars()), str(latest)


def _default_tasks(session: Session, month: Month) -> list[MonthlyTask]:
    roles = {r.key: r.id for r in org.list_duty_roles(session)}
    return [
        MonthlyTask(month=str(month), duty_role_id=roles[key], metric=metric, target=target)
        for key, metric, target in config.TASKS
        if key in roles
    ]


def issue_tasks(session: Session, *, viewer: org.Viewer, month: Month) -> list[MonthlyTask]:
    """Make the month's tasks its own (a copy of what applies), so they can be changed."""
    check_department(viewer)
    tasks, source = list_tasks(session, month=month)
    if source == str(month):
        return tasks
    made = [
        MonthlyTask(
            month=str(month), duty_role_id=t.duty_role_id, unit_id=t.unit_id, metric=t.metric,
            target=t.target, created_at=utcnow(),
        )
        for t in tasks
    ]  # fmt: skip
    session.add_all(made)
    session.flush()
    audit.record(
        session, actor=viewer.actor, action="create", object_type="monthly_task",
        summary=f"下达 {month} 月度任务（沿用 {source}）", changes={"tasks": [None, len(made)]},
    )  # fmt: skip
    return made


def save_task(
    session: Session,
    *,
    viewer: org.Viewer,
    month: Month,
    duty_role_id: int,
    metric: str,
    target: int,
    unit_id: int | None = None,
) -> MonthlyTask:
    """Set a role's target for a metric this month (for every unit, or one)."""
    if metric not in config.METRICS:
        raise AssessmentError(f"未知的任务指标 {metric}")
    if not 0 <= target <= 1000:
        raise AssessmentError("任务数量应在 0 到 1000 之间")
    if duty_role_id not in org.list_duty_role_names(session):
        raise AssessmentError(f"职责角色 {duty_role_id} 不存在")
    tasks = issue_tasks(session, viewer=viewer, month=month)
    task = next(
        (
            t
            for t in tasks
            if (t.duty_role_id, t.metric, t.unit_id) == (duty_role_id, metric, unit_id)
        ),
        None,
    )
    before = task.target if task else None
    if task is None:
        task = MonthlyTask(
            month=str(month), duty_role_id=duty_role_id, unit_id=unit_id, metric=metric,
            target=target, created_at=utcnow(),
        )  # fmt: skip
        session.add(task)
    task.target = target
    session.flush()
    audit.record(
        session, actor=viewer.actor, action="update" if before is not None else "create",
        object_type="monthly_task", object_id=task.id,
        summary=f"{month} 月度任务：{config.METRICS[metric][0]} {target}",
        changes={"target": [before, target]},
    )  # fmt: skip
    return task


# --- what the desk records itself ------------------------------------------------------


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise AssessmentError(f"人员 {person_id} 不存在")
    return person


def file_patrol(
    session: Session, *, person_id: int, day: date, actor: Actor, note: str = ""
) -> Activity:
    """The day's patrol report (巡查报告) of a person: one per person and day; filing it
    again keeps the first (the same report, not a second one)."""
    person = _person(session, person_id)
    existing = session.execute(
        select(Activity).where(
            Activity.kind == "patrol", Activity.source_type == "patrol",
            Activity.source_id == day.isoformat(), Activity.person_id == person.id,
        )
    ).scalar_one_or_none()  # fmt: skip
    if existing is not None:
        return existing
    noon = to_utc_naive(datetime.combine(day, time(12), local_zone()))  # counts in its month
    row = Activity(
        at=noon, person_id=person.id, unit_id=person.unit_id, kind="patrol",
        title=f"{day.isoformat()} 巡查报告", reason=note.strip()[:2000], source_type="patrol",
        source_id=day.isoformat(), recorded_by=actor.name,
    )  # fmt: skip
    audit.record_create(
        session, row, actor=actor, object_type="activity", summary=f"{person.name} 提交巡查报告",
        values=lambda a: {"kind": a.kind, "person_id": a.person_id, "day": a.source_id},
    )  # fmt: skip
    return row


def add_manual(
    session: Session,
    *,
    viewer: org.Viewer,
    person_id: int,
    points: float,
    title: str,
    reason: str,
    at: datetime | None = None,
) -> Activity:
    """A manual item (an award, a commendation, a penalty) with its reason, audited."""
    check_department(viewer)
    person = _person(session, person_id)
    title, reason = " ".join(title.split()), reason.strip()
    if not title or len(title) > 300:
        raise AssessmentError("请填写事项（不超过 300 字）")
    if not reason:
        raise AssessmentError("人工加减分须写明理由")
    if not -100 <= points <= 100 or points == 0:
        raise AssessmentError("分值应在 -100 到 100 之间且不为 0")
    row = Activity(
        at=at or utcnow(), person_id=person.id, unit_id=person.unit_id, kind="manual",
        points=points, title=title, reason=reason[:2000], source_type="manual",
        source_id=f"{utcnow().timestamp():.6f}", recorded_by=viewer.actor.name,
    )  # fmt: skip
    audit.record_create(
        session, row, actor=viewer.actor, object_type="activity",
        summary=f"人工{'加' if points > 0 else '减'}分：{person.name} {points:+g}（{title}）",
        values=lambda a: {"person_id": a.person_id, "points": a.points, "reason": a.reason},
    )  # fmt: skip
    return row


def record_news(
    session: Session,
    *,
    person_id: int,
    published_at: datetime,
    title: str,
    source_type: str,
    source_id: str,
    grade: str = "",
    actor: Actor,
) -> Activity:
    """A published news story credited to its author: the hook editorial's publishing is
    wired to (see docs/team.md). Idempotent per (source, person): publishing the same story
    again, or raising its grade, updates the one row."""
    if grade not in config.GRADES:
        raise AssessmentError(f"未知的稿件等级 {grade}")
    person = _person(session, person_id)
    row = session.execute(
        select(Activity).where(
            Activity.kind == "news", Activity.source_type == source_type,
            Activity.source_id == source_id, Activity.person_id == person.id,
        )
    ).scalar_one_or_none()  # fmt: skip
    if row is not None:
        if row.grade != grade:
            before, row.grade = row.grade, grade
            session.flush()
            audit.record(
                session, actor=actor, action="update", object_type="activity", object_id=row.id,
                summary=f"稿件等级改为{config.GRADES[grade]}", changes={"grade": [before, grade]},
            )  # fmt: skip
        return row
    row = Activity(
        at=published_at, person_id=person.id, unit_id=person.unit_id, kind="news", grade=grade,
        title=title[:300], source_type=source_type, source_id=source_id, recorded_by=actor.name,
    )  # fmt: skip
    with savepoint(session):
        audit.record_create(
            session, row, actor=actor, object_type="activity", summary=f"稿件计分：{title[:60]}",
            values=lambda a: {"person_id": a.person_id, "grade": a.grade, "source": source_id},
        )  # fmt: skip
    return row


def news_grade(session: Session, *, person_id: int, source_type: str, source_id: str) -> str:
    """The grade recorded for a story credited to ``person_id`` ("" for 普通 or none yet):
    what the grade form shows as chosen, so reopening it does not suggest a different one."""
    grade = session.execute(
        select(Activity.grade).where(
            Activity.kind == "news",
            Activity.source_type == source_type,
            Activity.source_id == source_id,
            Activity.person_id == person_id,
        )
    ).scalar_one_or_none()
    return grade or ""


def save_quality(
    session: Session, *, viewer: org.Viewer, month: Month, person_id: int, score: float, note: str
) -> QualityScore:
    """The department's quality score of a person for a month (0–100), audited."""
    check_department(viewer)
    _person(session, person_id)
    if not 0 <= score <= 100:
        raise AssessmentError("质量评分应在 0 到 100 之间")
    row = session.execute(
        select(QualityScore).where(
            QualityScore.month == str(month), QualityScore.person_id == person_id
        )
    ).scalar_one_or_none()
    before = row.score if row else None
    if row is None:
        row = QualityScore(month=str(month), person_id=person_id, score=score)
        session.add(row)
    row.score, row.note, row.scored_by, row.scored_at = (
        score,
        note.strip()[:2000],
        viewer.actor.name,
        utcnow(),
    )
    session.flush()
    audit.record(
        session, actor=viewer.actor, action="update" if before is not None else "create",
        object_type="quality_score", object_id=row.id, summary=f"{month} 质量评分 {score:g}",
        changes={"score": [before, score], "person_id": [None, person_id]},
    )  # fmt: skip
    return row


# --- the month's figures ----------------------------------------------------------------


def collect_items(session: Session, *, month: Month) -> list[CreditItem]:
    """Every credited item of the month from every registered source."""
    start, end = month.bounds()
    weights = weights_by_key(session)
    items: list[CreditItem] = []
    for source in sources.SOURCES.values():
        items.extend(source(session, start, end, weights))
    return items


def compute_month(session: Session, *, month: Month) -> MonthFigures:
    """The month's figures of every unit and person, each traceable to its items."""
    items = collect_items(session, month=month)
    tasks, tasks_from = list_tasks(session, month=month)
    people = session.execute(
        select(Person.id, Person.name, Person.unit_id).where(Person.active.is_(True))
    ).all()
    roles: dict[int, list[int]] = defaultdict(list)
    for person_id, role_id in session.execute(
        select(PersonRole.person_id, PersonRole.duty_role_id)
    ):
        roles[person_id].append(role_id)
    quality = {
        pid: score
        for pid, score in session.execute(
            select(QualityScore.person_id, QualityScore.score).where(
                QualityScore.month == str(month)
            )
        )
    }
    rubrics = {
        r.duty_role_id: (r.completion_weight, r.quality_weight)
        for r in session.execute(select(ScoreRubric)).scalars()
    }
    return figures(
        month=month, items=items, tasks=tasks, tasks_from=tasks_from,
        people=[(int(p), str(n), u) for p, n, u in people], roles=roles, quality=quality,
        rubrics=rubrics, unit_names=org.list_unit_names(session),
        role_names=org.list_duty_role_names(session),
    )  # fmt: skip


def figures(
    *,
    month: Month,
    items: list[CreditItem],
    tasks: list[MonthlyTask],
    tasks_from: str,
    people: list[tuple[int, str, int | None]],
    roles: dict[int, list[int]],
    quality: dict[int, float],
    rubrics: dict[int, tuple[float, float]],
    unit_names: dict[int, str],
    role_names: dict[int, str],
) -> MonthFigures:
    """The pure part: items to people and units, tasks to completion, rubric to score."""
    found = {pid: PersonFigures(pid, name, unit, roles.get(pid, [])) for pid, name, unit in people}
    units = {uid: UnitFigures(uid, name) for uid, name in unit_names.items()}
    for item in items:
        person = found.get(item.person_id or 0)
        if person is not None:
            person.items.append(item)
        elif item.unit_id in units:
            units[item.unit_id].unattributed.append(item)
    kinds_of = {metric: kinds for metric, (_, kinds) in config.METRICS.items()}
    for person in found.values():
        _score(person, tasks, kinds_of, quality, rubrics)
        if person.unit_id in units:
            units[person.unit_id].people.append(person)
    shown = [u for u in units.values() if u.people or u.unattributed]
    return MonthFigures(month, shown, found, items, role_names, tasks_from)


def _score(
    person: PersonFigures,
    tasks: list[MonthlyTask],
    kinds_of: dict[str, tuple[str, ...]],
    quality: dict[int, float],
    rubrics: dict[int, tuple[float, float]],
) -> None:
    if not person.member:
        return  # left the team (no duty role): their items count, they are not scored
    counts: dict[str, int] = defaultdict(int)
    for item in person.items:
        counts[item.kind] += 1
    for task in tasks:
        if task.duty_role_id not in person.role_ids or task.unit_id not in (None, person.unit_id):
            continue
        kinds = kinds_of.get(task.metric, ())
        if task.metric == "cases":  # a share: cases on time of those handled
            handled = counts["case_on_time"] + counts["case_late"]
            done = float(counts["case_on_time"])
            ratio = done / handled if handled else 1.0
        else:
            done = float(sum(counts[k] for k in kinds))
            ratio = min(1.0, done / task.target) if task.target else 1.0
        person.tasks.append((task.metric, task.target, done, ratio))
    if person.tasks:
        person.completion = sum(t[3] for t in person.tasks) / len(person.tasks)
    person.quality = quality.get(person.person_id)
    weights = [rubrics.get(r, config.DEFAULT_RUBRIC) for r in person.role_ids]
    done_w = sum(w[0] for w in weights) / len(weights)
    quality_w = sum(w[1] for w in weights) / len(weights)
    person.score = round(100 * person.completion * done_w + (person.quality or 0) * quality_w, 1)
