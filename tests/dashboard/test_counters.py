"""Dashboard counters against the mention table: after pipeline ingest, after an update and a
copy, and after a rebuild; the snapshot's figures on known data; cases scoped to the unit."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.dashboard import service, stage
from yuqing.dashboard.models import ALL_PLACES, DashboardDay, DashboardHour
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.sources.models import Source
from yuqing.worker import pipeline

NOW = datetime(2024, 5, 20, 6, 30)  # 14:30 in Beijing


def _items(prefix: str, hours_ago: list[int]) -> list[dict[str, Any]]:
    places = ["南京市发布通知", "浙江省杭州市和江苏省南京市联合调查", "学校教务处发布安排"]
    return [
        {
            "external_id": f"{prefix}{i}",
            "title": f"{prefix}第{i}条：{places[i % 3]}",
            "text": f"{places[i % 3]}，群众投诉强烈，严重不满。" if i % 2 else "工作顺利推进。",
            "published_at": (NOW - timedelta(hours=h)).isoformat() + "+00:00",
        }
        for i, h in enumerate(hours_ago)
    ]


def _stored(session: Session) -> tuple[Counter[Any], Counter[str]]:
    rows = session.execute(
        select(Mention.published_at, Mention.sentiment, Source.kind)
        .join(Source, Source.id == Mention.source_id)
        .where(Mention.status == "new")
    ).all()
    totals = Counter((p.replace(minute=0, second=0, microsecond=0), k, s or "") for p, s, k in rows)
    places = session.execute(
        select(func.substr(MentionPlace.code, 1, 2), MentionPlace.mention_id)
        .join(Mention, Mention.id == MentionPlace.mention_id)
        .where(Mention.status == "new")
        .distinct()
    ).all()
    provinces = Counter(prefix + "0000" for prefix, _ in places)
    return totals, provinces


def _counted(session: Session) -> tuple[Counter[Any], Counter[str]]:
    totals: Counter[Any] = Counter()
    provinces: Counter[str] = Counter()
    for row in session.execute(select(DashboardHour)).scalars():
        if row.province == ALL_PLACES:
            totals[row.hour, row.kind, row.sentiment] += row.count
        else:
            provinces[row.province] += row.count
    days = session.execute(select(func.sum(DashboardDay.count))).scalar() or 0
    hours = session.execute(select(func.sum(DashboardHour.count))).scalar() or 0
    assert days == hours  # the day table holds the same counts
    return totals, provinces


def _seed(session: Session) -> tuple[Source, Source]:
    push = Source(name="推送", kind="push")
    feed = Source(name="新闻网", kind="rss")
    session.add_all([push, feed])
    session.flush()
    pipeline.process(session, source=push, items=_items("p", [0, 0, 1, 3, 30, 50]))
    pipeline.process(session, source=feed, items=_items("f", [0, 2, 2, 24 * 5]))
    session.commit()
    return push, feed


def test_counters_equal_stored_mentions_after_ingest_update_copy_and_rebuild(
    session: Session,
) -> None:
    push, feed = _seed(session)
    # Sent again: unchanged items, an exact copy from another source: none counts twice.
    pipeline.process(session, source=push, items=_items("p", [0, 0, 1, 3, 30, 50]))
    copy = _items("p", [0])[0] | {"external_id": "copy-1"}
    pipeline.process(session, source=feed, items=[copy])
    session.commit()

    stored, stored_places = _stored(session)
    assert sum(stored.values()) == 10
    assert stored_places["320000"] >= 3 and stored_places["330000"] >= 1
    assert _counted(session) == (stored, stored_places)

    service.rebuild(session)
    session.commit()
    assert _counted(session) == (stored, stored_places)


def test_provinces_of_display_regions() -> None:
    assert stage.provinces_of("江苏省 南京市 玄武区; 浙江省") == ("320000", "330000")
    assert stage.provinces_of(None) == ()
    assert stage.provinces_of("不存在省") == ()


def _office() -> Principal:
    return Principal(
        1, "office", "宣传部", "publicity", frozenset({"mentions.read", "cases.read"}), None, None
    )


def test_snapshot_on_known_data(session: Session) -> None:
    _seed(session)
    snap = service.snapshot(session, principal=_office(), now=NOW)
    hourly = snap["hourly"]
    assert len(hourly["labels"]) == 48 and hourly["labels"][-1] == "05-20 14:00"
    last_hour = sum(series[-1] for series in hourly["series"].values())
    assert last_hour == 3  # two pushed and one feed item in the current hour
    assert sum(sum(s) for s in hourly["series"].values()) == 8  # 50 hours and 5 days ago are out
    assert sum(sum(s) for s in snap["daily"]["series"].values()) == 10
    assert {k["kind"]: k["count"] for k in snap["kinds"]} == {"push": 6, "rss": 4}
    assert snap["kinds"][0]["label"] == "推送接口"
    names = {p["name"]: p["count"] for p in snap["provinces"]}
    assert names["江苏省"] >= names.get("浙江省", 0) >= 1
    assert snap["totals"]["period"] == 10
    assert snap["alerts"]["total"] == 0 and [x["label"] for x in snap["alerts"]["levels"]] == [
        "提示",
        "预警",
        "紧急",
    ]
