"""The demo desk reads like a real week of a university: no test artefacts, complaints that
read as complaints, and one ready alert rule whose alerts reach the desk inbox (issue 12)."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing import demo
from yuqing.alerts.models import Alert, AlertRule
from yuqing.auth import service as auth
from yuqing.auth.models import User
from yuqing.mentions.models import Mention
from yuqing.notify import service as notify
from yuqing.notify.models import Notification


def test_the_demo_stream_has_no_test_artefacts() -> None:
    items = demo._items(random.Random(7), 240)
    for item in items:
        words = f"{item.get('title') or ''}{item['text']}".lower()
        assert "<script" not in words and "alert(" not in words and "桌面应当" not in words
        assert "demo" not in item.get("url", "")  # links read as real links in reports


def test_the_demo_has_complaints_praise_and_notices() -> None:
    texts = [item["text"] for item in demo._items(random.Random(7), 240)]
    for cue in ("停电", "空调故障", "频繁掉线", "补贴发放延迟", "涨价", "校运会", "科研", "通知"):
        assert any(cue in text for text in texts), cue
    # A repost of a complaint does not cheer it on.
    complaints = ("停电", "空调故障", "频繁掉线", "发放延迟", "涨价")
    reposts = [t for t in texts if t.startswith("转发：") and any(c in t for c in complaints)]
    assert reposts and not any(t.endswith(("点赞！", "太棒了！", "祝贺！")) for t in reposts)


def test_the_demo_ships_a_rule_whose_alerts_reach_the_admins_inbox(session: Session) -> None:
    auth.bootstrap_admin(session)
    session.commit()
    assert demo.load_demo(session) is not None
    rule = session.execute(select(AlertRule)).scalar_one()
    assert rule.name == demo.DEMO_RULE and rule.enabled
    alerts = list(session.execute(select(Alert)).scalars())
    assert alerts and all(a.rule_id == rule.id for a in alerts)
    admin = session.execute(select(User).where(User.username == "admin")).scalar_one()
    assert notify.count_unread(session, user_id=admin.id) >= len(alerts)
    # Every alert reached the inbox (the demo case's report notice comes besides).
    inbox = select(Notification).where(
        Notification.target == f"user:{admin.id}", Notification.source_type == "alert"
    )
    assert len(list(session.execute(inbox).scalars())) == len(alerts)
    stored = " ".join(session.execute(select(Mention.text)).scalars())
    assert "<script" not in stored


def test_the_fictional_university_is_placed_nowhere() -> None:
    from yuqing.analysis.places import find_places

    texts = [item["text"] for item in demo._items(random.Random(7), 240)]
    assert not any(find_places(texts))  # "说不清原因" once put it in 清原满族自治县


def test_the_demo_shows_the_team_and_the_editorial_desk_alive(session: Session) -> None:
    """Issues 15 and 16 on a fresh demo desk: submissions in their states through the
    editorial service (versions, reviews, audit), the column written, a statement on a case,
    interview requests; quotas with a unit short, an open round, changes, a training with
    sign-ins, this month's tasks, manual credit, and last month's bulletin can be made."""
    from yuqing.assessment import bulletin
    from yuqing.assessment.models import Activity, MonthlyTask, TrainingAttendance
    from yuqing.assessment.schemas import Month
    from yuqing.auth.roles import principal_for
    from yuqing.cases.models import Case
    from yuqing.core.audit import SYSTEM, AuditEntry
    from yuqing.core.timeutil import to_local, utcnow
    from yuqing.editorial import service as editorial
    from yuqing.editorial.models import ReviewAction, Submission, SubmissionVersion
    from yuqing.org import quota
    from yuqing.org.models import ChangeRequest, RegistrationForm

    auth.bootstrap_admin(session)
    session.commit()
    assert demo.load_demo(session) is not None
    subs = {s.title: s for s in session.execute(select(Submission)).scalars()}
    kinds = {k.id: k.key for k in editorial.list_kinds(session)}
    states = sorted((kinds[s.kind_id], s.state) for s in subs.values())
    assert states == [
        ("interview", "approved"), ("interview", "in_review"), ("news", "in_review"),
        ("news", "published"), ("news", "returned"), ("statement", "draft"),
    ]  # fmt: skip
    published = next(s for s in subs.values() if s.state == "published")
    site = editorial.site_dir()
    assert (site / "feed.xml").read_text(encoding="utf-8").count(published.title) >= 1
    assert (site / "a").is_dir() and any((site / "a").iterdir())
    statement = next(s for s in subs.values() if kinds[s.kind_id] == "statement")
    assert statement.case_id is not None and session.get(Case, statement.case_id) is not None
    assert next(s for s in subs.values() if s.state == "approved").conditions
    returned = next(s for s in subs.values() if s.state == "returned")
    actions = session.execute(
        select(ReviewAction.action, ReviewAction.stage_name)
        .where(ReviewAction.submission_id == returned.id).order_by(ReviewAction.id)
    ).all()  # fmt: skip
    assert [tuple(a) for a in actions] == [("submit", ""), ("approve", "初审"), ("return", "复审")]
    assert session.execute(select(SubmissionVersion)).first() is not None
    audited = set(session.execute(select(AuditEntry.object_type)).scalars())
    assert {"submission", "registration_round", "change_request", "training", "activity"} <= audited

    admin = session.execute(select(User).where(User.username == "admin")).scalar_one()
    viewer = principal_for(session, user=admin)
    units = quota.list_compliance(session, viewer=viewer)
    short = {unit.unit for unit in units if any(line.missing for line in unit.lines)}
    assert short == {"材料科学与工程学院"}  # shown in red; the other units are full
    statuses = sorted(f.status for f in session.execute(select(RegistrationForm)).scalars())
    assert {"accepted", "returned", "draft"} <= set(statuses)
    changes = sorted(c.status for c in session.execute(select(ChangeRequest)).scalars())
    assert changes == ["approved", "proposed"]
    assert len(list(session.execute(select(TrainingAttendance)).scalars())) >= 3
    month = Month.of((to_local(utcnow()) or utcnow()).date())
    tasks = session.execute(select(MonthlyTask).where(MonthlyTask.month == str(month)))
    assert tasks.first() is not None
    manual = list(session.execute(select(Activity).where(Activity.kind == "manual")).scalars())
    assert len(manual) >= 3 and all(a.reason for a in manual)
    made = bulletin.make(session, month=month.previous(), actor=SYSTEM)
    assert bulletin.content_of(made).title

    assert demo.load_demo(session) is None  # a second run adds nothing
    assert len(list(session.execute(select(Submission)).scalars())) == len(subs)
