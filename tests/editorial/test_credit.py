"""Published pieces count for their authors in the team's monthly credit (docs/team.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.editorial.conftest import World
from tests.editorial.test_service import _news
from yuqing.assessment import service as assessment
from yuqing.assessment.schemas import Month
from yuqing.core.timeutil import to_local
from yuqing.editorial import service


def _published(session: Session, world: World) -> int:
    row = _news(session, world)
    service.submit(session, principal=world.correspondent, submission=row)
    service.approve(session, principal=world.cs_head, submission=row, proofread=True)
    service.approve(session, principal=world.editor, submission=row, proofread=True)
    service.approve(session, principal=world.chief, submission=row)
    service.publish(session, principal=world.chief, submission=row)
    session.commit()
    return row.id


def _news_items(session: Session, world: World, month: Month) -> list[tuple[str, float]]:
    return [
        (i.ref, i.points)
        for i in assessment.collect_items(session, month=month)
        if i.kind == "news" and i.person_id == world.correspondent_person
    ]


def test_a_published_story_is_credited_once_with_its_grade(session: Session, world: World) -> None:
    piece = _published(session, world)
    row = service.get_submission(session, principal=world.chief, submission_id=piece)
    assert row.published_at is not None
    local = to_local(row.published_at)
    month = Month(local.year, local.month)
    assert _news_items(session, world, month) == [(f"news:{piece}", 1.0)]

    assessment.record_news(
        session, person_id=world.correspondent_person, published_at=row.published_at,
        title=row.title, source_type="editorial", source_id=str(piece), grade="featured",
        actor=world.chief.actor,
    )  # fmt: skip
    session.commit()
    # The grade multiplies the one item; the recorded grade is not a second story.
    assert _news_items(session, world, month) == [(f"news:{piece}", 2.0)]

    service.unpublish(session, principal=world.chief, submission=row, note="信息有误，撤下核实")
    session.commit()
    assert _news_items(session, world, month) == []
