"""The editorial service on a real database: the three reviews, refusals, conflicts, limits."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.editorial.conftest import World
from yuqing.cases import service as cases
from yuqing.core.audit import AuditEntry
from yuqing.core.settings import get_settings
from yuqing.editorial import config, editing, service
from yuqing.editorial.models import Submission
from yuqing.editorial.schemas import EditorialError, EditorialPermissionError, VersionConflict
from yuqing.notify.models import Notification

WORD_PASTE = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><style>p.MsoNormal'
    "{margin:0}</style><script>alert('x')</script></head><body>"
    "<!--[if gte mso 9]><xml><w:WordDocument></w:WordDocument></xml><![endif]-->"
    '<p class="MsoNormal" style="mso-line-height:150%" onclick="alert(1)">'
    '<span style="font-family:宋体">3月5日，计算机学院举行<b>人工智能</b>学术报告会</span>'
    "<o:p></o:p></p><p>共有<span lang=EN-US>120</span>名师生参加。</p>"
    '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">详情</a></body></html>'
)


def _news(session: Session, world: World, **extra: object) -> Submission:
    draft = service.Draft(
        title="计算机学院举行人工智能学术报告会",
        body=WORD_PASTE,
        unit_id=world.cs,
        author_person_id=world.correspondent_person,
        event_date=date(2026, 3, 5),
        channels=("column",),
    )
    for key, value in extra.items():
        setattr(draft, key, value)
    row = service.create_submission(session, principal=world.correspondent, draft=draft)
    session.commit()
    return row


def test_pasted_word_html_is_sanitised_and_keeps_its_text(session: Session, world: World) -> None:
    row = _news(session, world)
    for bad in ("<script", "alert", "onclick", "onerror", "style=", "javascript:", "<o:p", "mso"):
        assert bad not in row.body
    text = service.list_versions(session, submission=row)[0].body
    assert "3月5日，计算机学院举行" in text and "人工智能" in text and "120" in text
    assert "名师生参加" in text and "详情" in text


def test_three_reviews_with_a_return_then_publish(session: Session, world: World) -> None:
    row = _news(session, world)
    service.submit(session, principal=world.correspondent, submission=row)
    session.commit()
    assert row.state == "in_review" and service.stage_label(session, _stage(session, row)) == (
        "本单位的单位负责人"
    )
    service.approve(session, principal=world.cs_head, submission=row, proofread=True)
    service.return_(
        session,
        principal=world.editor,
        submission=row,
        comment="请核对人数",
        inline=[{"quote": "120", "remark": "人数是否准确"}],
    )
    session.commit()
    assert row.state == "returned" and row.returned_at is not None
    service.update_submission(
        session,
        principal=world.correspondent,
        submission=row,
        draft=service.Draft(title=row.title, body=row.body.replace("120", "150"), unit_id=world.cs,
                            author_person_id=world.correspondent_person,
                            event_date=date(2026, 3, 5), channels=("column",)),
        base_version=row.version,
    )  # fmt: skip
    service.submit(session, principal=world.correspondent, submission=row)
    flags = service.flags_of(row)
    assert any(f["kind"] == "number" and f["term"] == "150" for f in flags)
    service.approve(session, principal=world.cs_head, submission=row, proofread=True)
    service.approve(session, principal=world.editor, submission=row, proofread=True)
    service.approve(session, principal=world.chief, submission=row, comment="同意发布")
    session.commit()
    assert row.state == "approved"
    service.publish(session, principal=world.chief, submission=row)
    session.commit()
    site = Path(get_settings().data_dir) / "editorial" / "site"
    page = (site / "a" / f"{row.slug}.html").read_text(encoding="utf-8")
    assert "150" in page and "计算机学院" in page
    assert row.title in (site / "feed.xml").read_text(encoding="utf-8")
    form = Document(
        __import__("io").BytesIO(
            service.approval_form(
                session, submission=row, reviews=service.list_reviews(session, submission=row)
            )
        )
    )
    cells = " ".join(c.text for t in form.tables for r in t.rows for c in r.cells)
    assert ("终审" in cells and "钱部长" not in cells) or "chief" in cells
    assert "请核对人数" in cells and "同意发布" in cells
    sent = session.execute(select(Notification.title)).scalars().all()
    assert any("待复审" in t for t in sent) and any("退回" in t for t in sent)


def _stage(session: Session, row: Submission):  # type: ignore[no-untyped-def]
    from yuqing.editorial.models import ReviewStage

    return session.get(ReviewStage, row.stage_id)


def test_a_reviewer_outside_the_stage_is_refused_and_audited(
    session: Session, world: World
) -> None:
    row = _news(session, world)
    service.submit(session, principal=world.correspondent, submission=row)
    session.commit()
    for outsider in (world.lang_head, world.editor, world.correspondent):
        with pytest.raises(EditorialPermissionError):
            service.approve(session, principal=outsider, submission=row)
        session.commit()  # what the view does: the refusal's audit row is kept
    assert row.state == "in_review"
    refused = (
        session.execute(select(AuditEntry).where(AuditEntry.action == "refused")).scalars().all()
    )
    assert len(refused) == 3 and "初审" in refused[0].summary


def test_two_people_saving_the_same_version(session: Session, world: World) -> None:
    row = _news(session, world)
    service.unlock(session, principal=world.correspondent, submission=row)
    base = row.version
    first = service.Draft(title=row.title, body="<p>第一人的修改</p>", unit_id=world.cs)
    second = service.Draft(title=row.title, body="<p>第二人的修改</p>", unit_id=world.cs)
    service.update_submission(
        session, principal=world.correspondent, submission=row, draft=first, base_version=base
    )
    session.commit()
    service.unlock(session, principal=world.correspondent, submission=row)
    with pytest.raises(VersionConflict) as refused:
        service.update_submission(
            session, principal=world.cs_head, submission=row, draft=second, base_version=base
        )
    session.rollback()
    assert "未丢失" in refused.value.message and "corr" in refused.value.message
    assert "第一人的修改" in row.body and second.body == "<p>第二人的修改</p>"
    assert [v.number for v in service.list_versions(session, submission=row)] == [1, 2]


def test_the_lock_refuses_another_editor_until_forced(session: Session, world: World) -> None:
    row = _news(session, world)
    with pytest.raises(EditorialError, match="正由 corr 编辑"):
        service.lock(session, principal=world.cs_head, submission=row)
    with pytest.raises(EditorialPermissionError):
        service.unlock(session, principal=world.cs_head, submission=row, force=True)
    service.unlock(session, principal=world.chief, submission=row, force=True)
    service.lock(session, principal=world.cs_head, submission=row)
    assert row.lock_name == "cshead"


def test_a_body_past_the_limit_is_refused_and_nothing_is_lost(
    session: Session, world: World
) -> None:
    row = _news(session, world)
    before = row.body
    huge = service.Draft(title=row.title, body="字" * (config.MAX_BODY_CHARS + 1))
    with pytest.raises(EditorialError, match="正文过长"):
        service.update_submission(
            session, principal=world.correspondent, submission=row, draft=huge,
            base_version=row.version,
        )  # fmt: skip
    session.rollback()
    assert row.body == before and row.version == 1
    exact = service.Draft(title=row.title, body="字" * config.MAX_BODY_CHARS, unit_id=world.cs)
    service.update_submission(
        session, principal=world.correspondent, submission=row, draft=exact, base_version=1
    )
    assert row.version == 2


def test_images_a_5_mb_photo_is_taken_a_larger_one_refused(session: Session, world: World) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024)
    image = service.create_image(session, principal=world.correspondent, data=photo)
    assert image.name.endswith(".jpg") and service.get_image_path(image.name) is not None
    with pytest.raises(EditorialError, match="图片过大"):
        service.create_image(
            session,
            principal=world.correspondent,
            data=b"\xff\xd8\xff" + b"\0" * config.MAX_IMAGE_BYTES,
        )
    with pytest.raises(EditorialError, match="只能上传"):
        service.create_image(session, principal=world.correspondent, data=b"<svg onload=x>")
    assert service.get_image_path("../../etc/passwd") is None


def test_news_is_due_one_working_day_after_the_event(session: Session, world: World) -> None:
    # 2026-02-14 is a Saturday and an official make-up working day (调休, Spring Festival):
    # the next working day after Friday 13 February is that Saturday.
    row = _news(session, world, event_date=date(2026, 2, 13))
    assert row.due_at is not None
    from yuqing.core.timeutil import to_local

    due = to_local(row.due_at)
    assert due is not None and due.date() in {date(2026, 2, 15), date(2026, 2, 17)}
    later = _news(session, world, event_date=date(2026, 3, 6))  # Friday → Monday 9 March
    local = to_local(later.due_at)
    assert local is not None and local.date() == date(2026, 3, 10) and local.hour == 0
    editing.current_time = lambda: datetime(2026, 3, 11)
    try:
        assert service.is_overdue(later)
    finally:
        editing.current_time = __import__("yuqing.core.timeutil", fromlist=["utcnow"]).utcnow


def test_a_statement_from_a_case_shows_on_its_timeline(session: Session, world: World) -> None:
    case = cases.open_case(session, principal=world.chief, title="食堂排队过长", link=None)
    session.commit()
    kinds = {k.key: k.id for k in service.list_kinds(session)}
    row = service.create_submission(
        session,
        principal=world.chief,
        draft=service.Draft(title="关于食堂排队的情况说明", body="<p>已增开窗口。</p>",
                            kind_id=kinds["statement"], unit_id=world.publicity),
        case_id=case.id,
    )  # fmt: skip
    session.commit()
    assert [
        s.id for s in service.list_for_case(session, principal=world.chief, case_id=case.id)
    ] == [row.id]
    texts = [e.text for e in cases.list_entries(session, case=case)]
    assert any("关于食堂排队的情况说明" in t for t in texts)


def test_interview_request_approved_with_conditions_tells_the_contact(
    session: Session, world: World
) -> None:
    kinds = {k.key: k.id for k in service.list_kinds(session)}
    row = service.create_submission(
        session,
        principal=world.correspondent,
        draft=service.Draft(title="某报采访人工智能实验室", body="<p>采访提纲</p>",
                            kind_id=kinds["interview"], unit_id=world.cs, outlet="某日报",
                            visit_at=datetime(2026, 4, 1, 2, 0)),
    )  # fmt: skip
    service.submit(session, principal=world.correspondent, submission=row)
    with pytest.raises(EditorialPermissionError):
        service.approve(session, principal=world.cs_head, submission=row, comment="同意")
    service.approve(session, principal=world.chief, submission=row, comment="须由宣传部陪同")
    session.commit()
    assert row.state == "approved" and row.conditions == "须由宣传部陪同"
    told = (
        session.execute(select(Notification).where(Notification.source_id == row.id))
        .scalars()
        .all()
    )
    assert any("须由宣传部陪同" in json.loads(n.payload)["text"] for n in told)
    with pytest.raises(EditorialError):
        service.publish(session, principal=world.chief, submission=row)


def test_deadline_reminders_go_once(session: Session, world: World) -> None:
    from yuqing.editorial import jobs

    row = _news(session, world, event_date=date(2026, 3, 6))  # due Tue 10 March 00:00 local
    assert row.due_at is not None
    early = jobs.run_deadlines(session, row.due_at - timedelta(hours=10))
    soon = jobs.run_deadlines(session, row.due_at - timedelta(hours=2))
    again = jobs.run_deadlines(session, row.due_at - timedelta(hours=1))
    late = jobs.run_deadlines(session, row.due_at + timedelta(minutes=1))
    later = jobs.run_deadlines(session, row.due_at + timedelta(hours=5))
    session.commit()
    assert (early.reminded, soon.reminded, again.reminded) == (0, 1, 0)
    assert (late.overdue, later.overdue) == (1, 0)
    titles = (
        session.execute(select(Notification.title).where(Notification.source_id == row.id))
        .scalars()
        .all()
    )
    assert any("即将到期" in t for t in titles) and any("超过报送时限" in t for t in titles)


def test_a_stage_given_to_a_person_moves_the_pen(session: Session, world: World) -> None:
    kinds = {k.key: k.id for k in service.list_kinds(session)}
    first = service.list_stages(session, kind_id=kinds["news"])[0]
    with pytest.raises(EditorialPermissionError):
        service.update_stage(session, principal=world.cs_head, stage=first, name="初审",
                             duty_role_id=None, unit_rule="any", unit_id=None,
                             person_id=world.correspondent_person)  # fmt: skip
    with pytest.raises(EditorialError, match="无人可审"):
        service.update_stage(session, principal=world.chief, stage=first, name="初审",
                             duty_role_id=None, unit_rule="any", unit_id=None, person_id=None)  # fmt: skip
    contact = world.cs_contact_person
    service.update_stage(session, principal=world.chief, stage=first, name="初审",
                         duty_role_id=None, unit_rule="any", unit_id=None, person_id=contact)  # fmt: skip
    session.commit()
    assert service.stage_label(session, first) == "陈联络人"
    row = _news(session, world)
    service.submit(session, principal=world.correspondent, submission=row)
    with pytest.raises(EditorialPermissionError):
        service.approve(session, principal=world.cs_head, submission=row)


def test_init_makes_the_kinds_stages_and_word_lists(engine: Engine) -> None:
    """A fresh desk has its 三审 defaults from ``yuqing init``, before any page is opened."""
    from typer.testing import CliRunner

    from yuqing.cli import app as main_cli
    from yuqing.editorial.models import ReviewStage, SubmissionKind, WordList

    result = CliRunner().invoke(main_cli, ["init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        kinds = set(session.execute(select(SubmissionKind.key)).scalars())
        assert kinds == {kind[0] for kind in config.KINDS}
        assert session.execute(select(ReviewStage.id).limit(1)).first() is not None
        assert session.execute(select(WordList.id).limit(1)).first() is not None
