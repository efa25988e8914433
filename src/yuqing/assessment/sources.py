"""Where credit comes from: each source reads what the desk already knows for a month and
returns ``CreditItem``s. Sources are registered by name, so a domain that cannot be imported
elsewhere is wired in by adding one function (docs/team.md, "Credit from editorial").

Built in: handled cases (on time, and late ones counted against), reports that became
cases or were marked important, training attended, news and signed commentary published on
the institution's column (read from editorial, graded by the department), and the activity
table (``assessment_activity``: patrol reports, manual items, news recorded by hand). Cases,
marks and accounts are read here, read-only, in one place, because those domains have no
monthly reads of their own yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from yuqing.assessment.models import Activity, TrainingAttendance, TrainingSession
from yuqing.assessment.schemas import CreditItem
from yuqing.auth.models import User
from yuqing.cases.models import Case, CaseTimer
from yuqing.editorial import service as editorial
from yuqing.mentions.models import MentionMark

# A source: (session, start, end, weights) → items of [start, end) (naive UTC).
EDITORIAL = "editorial"  # the activity rows that carry an editorial piece's grade

Source = Callable[[Session, datetime, datetime, dict[str, float]], Iterable[CreditItem]]
SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    """Add (or replace) a credit source; the month's figures read every registered one."""
    SOURCES[name] = source


def news_points(weights: dict[str, float], grade: str) -> float:
    """A story's points: the news weight times its grade's multiplier (×2 featured, ×3
    picked up by outside media, both configurable)."""
    multiplier = weights.get(f"x_{grade}", 1.0) if grade else 1.0
    return weights.get("news", 1.0) * multiplier


def _persons_of_users(session: Session, user_ids: set[int]) -> dict[int, tuple[int, int | None]]:
    """Account id → (its person, the person's unit) for accounts linked to a person."""
    if not user_ids:
        return {}
    from yuqing.org.models import Person

    rows = session.execute(
        select(User.id, Person.id, Person.unit_id)
        .join(Person, Person.id == User.person_id)
        .where(User.id.in_(user_ids))
    )
    return {int(u): (int(p), unit) for u, p, unit in rows}


def cases_handled(
    session: Session, start: datetime, end: datetime, weights: dict[str, float]
) -> Iterable[CreditItem]:
    """One item per case whose clocks all stopped in the month (on time: every clock met
    by its due time) or whose clock ran out in the month unmet (late)."""
    rows = session.execute(
        select(Case.id, Case.title, Case.unit_id, Case.assignee_person_id, CaseTimer)
        .join(CaseTimer, CaseTimer.case_id == Case.id)
        .where(
            or_(
                and_(CaseTimer.satisfied_at >= start, CaseTimer.satisfied_at < end),
                and_(CaseTimer.due_at >= start, CaseTimer.due_at < end),
            )
        )
    )
    cases: dict[int, tuple[str, int | None, int | None, list[CaseTimer]]] = {}
    for case_id, title, unit_id, person_id, timer in rows:
        cases.setdefault(case_id, (title, unit_id, person_id, []))[3].append(timer)
    for case_id, (title, unit_id, person_id, timers) in cases.items():
        late = [t for t in timers if (t.satisfied_at or end) > t.due_at and t.due_at < end]
        if late:
            at = min(t.due_at for t in late)
            if not start <= at < end:
                continue
            kind = "case_late"
        elif all(t.satisfied_at for t in timers):
            at = max(t.satisfied_at for t in timers if t.satisfied_at)
            if not start <= at < end:
                continue
            kind = "case_on_time"
        else:
            continue
        yield CreditItem(
            ref=f"case:{case_id}",
            kind=kind,
            person_id=person_id,
            unit_id=unit_id,
            at=at,
            points=weights.get(kind, 0.0),
            title=title,
            link=f"/cases/{case_id}",
        )


def reports_taken_up(
    session: Session, start: datetime, end: datetime, weights: dict[str, float]
) -> Iterable[CreditItem]:
    """Reports (报送) of the month that became cases, and items marked important, credited
    to the person the reporting account belongs to."""
    opened = list(
        session.execute(
            select(Case.id, Case.title, Case.reporter_user_id, Case.reported_at).where(
                Case.reporter_user_id.is_not(None),
                Case.reported_at >= start,
                Case.reported_at < end,
            )
        )
    )
    marked = list(
        session.execute(
            select(MentionMark.user_id, MentionMark.mention_id, MentionMark.important_at).where(
                MentionMark.important.is_(True),
                MentionMark.important_at >= start,
                MentionMark.important_at < end,
            )
        )
    )
    users = {int(r[2] or 0) for r in opened} | {int(r[0]) for r in marked}
    people = _persons_of_users(session, users)
    for case_id, title, user_id, at in opened:
        if user_id in people:
            person, unit = people[user_id]
            yield CreditItem(
                f"report:{case_id}", "report_case", person, unit, at,
                weights.get("report_case", 0.0), title, f"/cases/{case_id}",
            )  # fmt: skip
    for user_id, mention_id, marked_at in marked:
        if user_id in people and marked_at is not None:
            person, unit = people[user_id]
            yield CreditItem(
                f"important:{user_id}:{mention_id}", "report_important", person, unit, marked_at,
                weights.get("report_important", 0.0), f"信息 {mention_id}",
                f"/mentions/{mention_id}",
            )  # fmt: skip


def training_attended(
    session: Session, start: datetime, end: datetime, weights: dict[str, float]
) -> Iterable[CreditItem]:
    """Attendance counts in the month the training took place, whenever the organiser
    ticked the list (a session on the 30th signed off on the 2nd is that month's work)."""
    rows = session.execute(
        select(TrainingAttendance, TrainingSession.topic, TrainingSession.starts_at)
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.training_id)
        .where(TrainingSession.starts_at >= start, TrainingSession.starts_at < end)
    )
    for attendance, topic, held_at in rows:
        yield CreditItem(
            f"training:{attendance.training_id}:{attendance.person_id}", "training",
            attendance.person_id, attendance.unit_id, held_at,
            weights.get("training", 0.0), topic, f"/team/training/{attendance.training_id}",
        )  # fmt: skip


def activities(
    session: Session, start: datetime, end: datetime, weights: dict[str, float]
) -> Iterable[CreditItem]:
    """The activity table: patrol reports, manual items with their points, news stories
    (weighted by grade). Read as plain rows: a month holds tens of thousands."""
    rows = session.execute(
        select(
            Activity.id, Activity.kind, Activity.person_id, Activity.unit_id, Activity.at,
            Activity.points, Activity.grade, Activity.title,
        ).where(
            Activity.at >= start, Activity.at < end,
            # A grade recorded for an editorial piece is read by news_published.
            Activity.source_type != EDITORIAL,
        )
    )  # fmt: skip
    news, default = weights.get("news", 1.0), weights
    for row_id, kind, person_id, unit_id, at, points, grade, title in rows:
        if points is None:
            points = (
                news * default.get(f"x_{grade}", 1.0)
                if kind == "news" and grade
                else (default.get(kind, 0.0))
            )
        yield CreditItem(f"activity:{row_id}", kind, person_id, unit_id, at, points, title)


def news_published(
    session: Session, start: datetime, end: datetime, weights: dict[str, float]
) -> Iterable[CreditItem]:
    """Stories and signed commentary published on the institution's column in the month,
    credited to their authors; a piece taken down earns nothing. Its grade (featured,
    picked up by outside media) is the one the department recorded for it
    (``service.record_news`` with source ``editorial``)."""
    pieces = [
        p for p in editorial.list_published(session, start=start, end=end) if p.author_person_id
    ]
    grades: dict[str, str] = {}
    if pieces:
        rows = session.execute(
            select(Activity.source_id, Activity.grade).where(
                Activity.kind == "news", Activity.source_type == EDITORIAL,
                Activity.source_id.in_([str(p.id) for p in pieces]),
            )
        )  # fmt: skip
        grades = {str(source_id): grade for source_id, grade in rows}
    for piece in pieces:
        yield CreditItem(
            f"news:{piece.id}", "news", piece.author_person_id, piece.unit_id,
            piece.published_at, news_points(weights, grades.get(str(piece.id), "")),
            piece.title, f"/editorial/{piece.id}",
        )  # fmt: skip


register("cases", cases_handled)
register("reports", reports_taken_up)
register("training", training_attended)
register("activities", activities)
register("news", news_published)
