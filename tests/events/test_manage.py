"""Merge, split, heat, hot topics: services on a real database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.events.conftest import Store
from yuqing.core.audit import Actor, AuditEntry
from yuqing.events import heat, service
from yuqing.events import jobs as event_jobs
from yuqing.events.models import Event, EventHour, EventMember
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

T0 = datetime(2024, 5, 1, 8, 0)
EDITOR = Actor(user_id=None, name="宣传部张老师", ip="127.0.0.1")
STORIES = [
    "南江大学第三食堂今天中午发生学生集体腹泻，二十多名学生被送往校医院，后勤处已封存食材。",
    "南江大学图书馆新馆今天正式开放，设有自习座位三千个，学生可用校园卡预约，开放到晚上十一点。",
]


def _two_events(push_source: Source, store: Store) -> dict[str, int]:
    items = [{"mid": "a", "time": T0.isoformat() + "Z", "text": STORIES[0]}]
    items += [
        {
            "mid": f"a{i}",
            "root": "a",
            "time": (T0 + timedelta(minutes=i)).isoformat() + "Z",
            "text": f"第{i}条评论",
        }
        for i in range(1, 4)
    ]
    items.append(
        {"mid": "b", "time": (T0 + timedelta(hours=2)).isoformat() + "Z", "text": STORIES[1]}
    )
    return store(push_source, items)


def test_merge_moves_members_and_writes_one_audit_row(
    session: Session, push_source: Source, store: Store
) -> None:
    found = _two_events(push_source, store)
    target, other = session.get(Event, found["a"]), session.get(Event, found["b"])
    assert target is not None and other is not None and target.id != other.id
    service.merge(session, target=target, others=[other], actor=EDITOR)
    session.commit()
    assert target.size == 5 and other.size == 0 and other.merged_into_id == target.id
    assert target.first_seen_at == T0
    hours = session.execute(select(EventHour.count).where(EventHour.event_id == target.id))
    assert sum(hours.scalars()) == 5
    rows = session.execute(select(AuditEntry).where(AuditEntry.action == "event.merge")).scalars()
    (row,) = list(rows)
    assert row.actor_name == "宣传部张老师" and row.object_id == str(target.id)
    with pytest.raises(service.EventError):
        service.merge(session, target=target, others=[other], actor=EDITOR)


def test_split_makes_a_new_event_of_the_chosen_mentions(
    session: Session, push_source: Source, store: Store
) -> None:
    found = _two_events(push_source, store)
    event = session.get(Event, found["a"])
    assert event is not None
    ids = list(
        session.execute(
            select(Mention.id).where(Mention.external_id.in_(["a2", "a3"])).order_by(Mention.id)
        ).scalars()
    )
    created = service.split(session, event=event, mention_ids=ids, actor=EDITOR)
    session.commit()
    assert created.size == 2 and event.size == 2
    moved = session.execute(
        select(EventMember.mention_id).where(EventMember.event_id == created.id)
    ).scalars()
    assert sorted(moved) == ids
    assert created.title == "第2条评论"
    assert event.representative_id is not None
    audit_rows = list(
        session.execute(select(AuditEntry).where(AuditEntry.action == "event.split")).scalars()
    )
    assert len(audit_rows) == 1 and str(created.id) in audit_rows[0].summary
    with pytest.raises(service.EventError, match="全部"):
        keep = session.execute(
            select(EventMember.mention_id).where(EventMember.event_id == event.id)
        ).scalars()
        service.split(session, event=event, mention_ids=list(keep), actor=EDITOR)
    with pytest.raises(service.EventError, match="不属于"):
        service.split(session, event=event, mention_ids=[ids[0]], actor=EDITOR)


@pytest.mark.parametrize(
    "counts",
    [
        dict(size=0, last_hour=0, previous_day=0, sources=0, negative=0, scored=0),
        dict(size=1, last_hour=1, previous_day=0, sources=1, negative=0, scored=1),
        dict(
            size=10**9, last_hour=10**9, previous_day=0, sources=500, negative=10**9, scored=10**9
        ),
        dict(size=-5, last_hour=-1, previous_day=-3, sources=-2, negative=-1, scored=0),
    ],
)
def test_heat_stays_within_0_and_100(counts: dict[str, int]) -> None:
    value = heat.heat(**counts)
    assert 0.0 <= value <= 100.0


def test_heat_rises_with_volume_growth_spread_and_negative_share() -> None:
    base = dict(size=50, last_hour=5, previous_day=48, sources=1, negative=5, scored=50)
    h = heat.heat(**base)
    assert heat.heat(**{**base, "size": 500}) > h
    assert heat.heat(**{**base, "last_hour": 40}) > h
    assert heat.heat(**{**base, "sources": 4}) > h
    assert heat.heat(**{**base, "negative": 40}) > h
    assert (
        heat.heat(size=10**6, last_hour=10**6, previous_day=0, sources=99, negative=1, scored=1)
        == 100.0
    )


def test_hot_topics_and_rising_events(session: Session, push_source: Source, store: Store) -> None:
    now = T0 + timedelta(hours=30, minutes=30)
    # Yesterday, a steady trickle about the library; in the last hour, a burst about the canteen.
    quiet = [
        {
            "mid": f"q{i}",
            "root": "b",
            "time": (T0 + timedelta(hours=i + 5)).isoformat() + "Z",
            "text": f"图书馆评论{i}",
        }
        for i in range(24)
    ]
    store(
        push_source,
        [
            {"mid": "b", "time": (T0 + timedelta(hours=4)).isoformat() + "Z", "text": STORIES[1]},
            *quiet,
        ],
    )
    burst = [
        {
            "mid": f"h{i}",
            "root": "a",
            "time": (now - timedelta(minutes=20 - i)).isoformat() + "Z",
            "text": f"食堂评论{i}",
        }
        for i in range(12)
    ]
    found = store(
        push_source,
        [
            {
                "mid": "a",
                "time": (now - timedelta(minutes=25)).isoformat() + "Z",
                "text": STORIES[0],
            },
            *burst,
        ],
    )
    rising = service.rising_events(session, now=now)
    assert [r.event.id for r in rising][:1] == [found["a"]]
    assert rising[0].last_hour == 13 and rising[0].ratio > 5
    topics = service.hot_topics(session, now=now)
    words = [t.term for t in topics]
    assert "食堂" in words and "图书馆" not in words
    assert all(t.last_hour >= service.MIN_RISING for t in topics)
    assert service.hot_topics(session, now=now + timedelta(days=3)) == []


def test_refresh_heat_cools_a_quiet_event(
    session: Session, push_source: Source, store: Store
) -> None:
    items = [
        {
            "mid": f"a{i}",
            "root": "a",
            "time": (T0 + timedelta(minutes=i)).isoformat() + "Z",
            "text": f"第{i}条评论",
        }
        for i in range(1, 9)
    ]
    found = store(
        push_source, [{"mid": "a", "time": T0.isoformat() + "Z", "text": STORIES[0]}, *items]
    )
    event = session.get(Event, found["a"])
    assert event is not None
    session.refresh(event)
    hot = event.heat
    assert hot == heat.heat(
        size=9, last_hour=9, previous_day=0, sources=1, negative=event.count_negative, scored=9
    )
    event_jobs.refresh_heat(session, now=T0 + timedelta(days=2), days=5)
    assert event.heat < hot
