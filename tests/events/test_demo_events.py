"""The demo desk: its handful of topics show as a handful of events (issue 11)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.demo import load_demo
from yuqing.events.models import Event


def test_the_demo_topics_show_as_at_most_fifteen_events(session: Session) -> None:
    assert load_demo(session) is not None
    live = session.execute(
        select(func.count()).select_from(Event).where(Event.merged_into_id.is_(None))
    ).scalar_one()
    assert 5 <= live <= 15  # five story lines and two special posts (was 185 events)
    copies = session.execute(select(func.sum(Event.duplicate_count))).scalar_one()
    assert copies and copies > 0  # the demo's exact copies show as 重复, not as items
