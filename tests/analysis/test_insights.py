"""The analysis page (分析) and its JSON on the real app and database: the counts equal what
was planted, per sentiment, platform, source, day, hour and province; the orders of the
spread and negative lists; the stream's filters narrow it as they narrow the stream."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.analysis import insights, insights_views
from yuqing.core.timeutil import to_local, utcnow
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    insights_views.RECENT.clear()  # answers of earlier tests' databases
    with desk_client(engine) as test_client:
        yield test_client
    insights_views.RECENT.clear()


# key: (age, url, sentiment, risk, counts, source, province code of a place named)
PLANTED: dict[str, tuple[timedelta, str, str | None, int | None, dict[str, int], str, str]] = {
    "a": (timedelta(hours=1), "https://weibo.com/u/a", "negative", 90, {"reposts": 5, "comments": 1, "likes": 1}, "甲", "420100"),
    "b": (timedelta(hours=2, minutes=30), "https://weibo.com/u/b", "positive", 10, {}, "甲", "420000"),
    "c": (timedelta(days=2, hours=1), "https://mp.weixin.qq.com/s/c", "negative", 50, {"likes": 100}, "乙", "110000"),
    "d": (timedelta(days=2, hours=3), "https://www.people.com.cn/n/d", "neutral", None, {}, "乙", ""),
    "e": (timedelta(days=5), "https://weibo.com/u/e", None, None, {}, "甲", ""),
    "f": (timedelta(days=10), "https://weibo.com/u/f", "negative", 99, {"likes": 9999}, "甲", "420000"),
}  # fmt: skip
IN_7_DAYS = "abcde"


def _plant(session: Session) -> tuple[dict[str, int], dict[str, datetime], dict[str, int]]:
    sources = {name: Source(name=f"来源{name}", kind="push") for name in ("甲", "乙")}
    session.add_all(sources.values())
    session.commit()
    now = utcnow()
    published = {key: now - row[0] for key, row in PLANTED.items()}
    for key, (_, url, _, _, counts, source, _) in PLANTED.items():
        item = {
            "id": key,
            "title": f"食堂涨价引发讨论{key}",
            "text": "同学们反映食堂饭菜价格上涨。",
            "url": url,
            "published_at": published[key].isoformat(" ") + "Z",
            **counts,
        }
        ingest(session, source=sources[source], items=[item])
    session.commit()
    ids = {m.external_id: m.id for m in session.scalars(select(Mention))}
    for key, (_, _, sentiment, risk, _, _, place) in PLANTED.items():
        session.execute(
            update(Mention)
            .where(Mention.id == ids[key])
            .values(sentiment=sentiment, risk_score=risk)
        )
        if place:
            level = "province" if place.endswith("0000") else "city"
            session.execute(
                insert(MentionPlace).values(mention_id=ids[key], code=place, level=level, name="地")
            )
    session.commit()
    assert ids.keys() == set(PLANTED)
    return ids, published, {name: s.id for name, s in sources.items()}


def test_the_counts_are_what_was_planted(client: TestClient, session: Session) -> None:
    ids, published, source_ids = _plant(session)
    data = client.get("/api/v1/analysis").json()  # no range: the last 7 days

    assert data["total"] == len(IN_7_DAYS)
    assert data["stream"] == {"range": "7d"}
    assert data["range"]["unit"] == "day"
    sentiments = {s["key"]: s["count"] for s in data["sentiments"]}
    assert sentiments == {"negative": 2, "positive": 1, "neutral": 1, "": 1}
    assert {p["key"]: p["count"] for p in data["platforms"]} == {
        "weibo": 3,
        "wechat": 1,
        "news": 1,
    }
    assert {s["id"]: s["count"] for s in data["sources"]} == {
        source_ids["甲"]: 3,
        source_ids["乙"]: 2,
    }
    first = data["sources"][0]
    assert (first["label"], first["query"]) == ("来源甲", {"source_id": source_ids["甲"]})

    # Per day (local days), per sentiment, with every day of the range on the axis.
    trend = data["trend"]
    assert len(trend["labels"]) == len(trend["queries"]) in (7, 8)
    days = [q["start"] for q in trend["queries"]]
    planted_days = Counter(to_local(published[k]).strftime("%Y-%m-%d") for k in IN_7_DAYS)
    totals = [sum(trend["series"][s][i] for s in insights.SENTIMENTS) for i in range(len(days))]
    assert dict(zip(days, totals, strict=True)) == {d: planted_days.get(d, 0) for d in days}
    negative_days = Counter(
        to_local(published[k]).strftime("%Y-%m-%d")
        for k in IN_7_DAYS
        if PLANTED[k][2] == "negative"
    )
    assert {d: n for d, n in zip(days, trend["series"]["negative"], strict=True) if n} == dict(
        negative_days
    )
    assert trend["queries"][-1] == {"range": "custom", "start": days[-1], "end": days[-1]}

    # Provinces: 湖北 (a city and a province row) twice, 北京 once; f is outside the range.
    assert [(p["code"], p["count"]) for p in data["places"]] == [("420000", 2), ("110000", 1)]
    assert data["places"][0]["label"] == "湖北省"

    # Spread: most first, items without counts left out; negatives: highest risk first.
    assert [i["id"] for i in data["top_items"]] == [ids["c"], ids["a"]]
    assert data["top_items"][1]["heat"] == 7
    assert [i["id"] for i in data["negative_items"]] == [ids["a"], ids["c"]]
    assert data["negative_items"][0]["risk"] == 90

    words = {w["term"]: w["count"] for w in data["hot_words"]}
    assert words["食堂"] == len(IN_7_DAYS)
    assert "同学们" not in words or words["同学们"] == len(IN_7_DAYS)
    assert not {"我们", "http"} & words.keys()
    assert data["hot_words"][0]["href"].startswith("/search?")


def test_the_stream_filters_narrow_the_analysis(client: TestClient, session: Session) -> None:
    ids, published, source_ids = _plant(session)

    day = client.get("/api/v1/analysis?range=24h").json()
    assert day["total"] == 2 and day["range"]["unit"] == "hour"
    assert sum(sum(v) for v in day["trend"]["series"].values()) == 2
    hours = Counter(to_local(published[k]).strftime("%m-%d %H:00") for k in "ab")
    shown = {
        label: sum(day["trend"]["series"][s][i] for s in insights.SENTIMENTS)
        for i, label in enumerate(day["trend"]["labels"])
    }
    assert {k: v for k, v in shown.items() if v} == dict(hours)

    weibo = client.get("/api/v1/analysis?platform=weibo&sentiment=negative").json()
    assert weibo["total"] == 1 and weibo["stream"] == {
        "range": "7d",
        "platform": "weibo",
        "sentiment": "negative",
    }
    source = client.get(f"/api/v1/analysis?source_id={source_ids['乙']}").json()
    assert source["total"] == 2
    assert client.get("/api/v1/analysis?province=420000").json()["total"] == 2

    # A custom range: its days, also the 10-day-old item; longer than 92 days is cut.
    start = to_local(published["f"]).strftime("%Y-%m-%d")
    wide = client.get(f"/api/v1/analysis?range=custom&start={start}").json()
    assert wide["total"] == len(PLANTED)
    assert [i["id"] for i in wide["negative_items"]] == [ids["f"], ids["a"], ids["c"]]
    cut = client.get("/api/v1/analysis?range=custom&start=2000-01-01").json()
    assert cut["total"] == len(PLANTED) and "92" in cut["problems"][0]


def test_the_page_renders_with_its_filters(client: TestClient, session: Session) -> None:
    _plant(session)
    page = client.get("/analysis?platform=weibo")
    assert page.status_code == 200
    assert 'data-api="/api/v1/analysis?range=7d&amp;platform=weibo"' in page.text
    assert 'href="/?range=7d&amp;platform=weibo"' in page.text  # 在信息流中查看
    assert "/static/vendor/echarts.min.js" in page.text
    assert "<script>" not in page.text and "<style" not in page.text
    assert re.search(r"<h1>分析当前筛选</h1>", page.text)
    assert client.get("/api/v1/analysis", headers={"Cookie": ""}).status_code in (200, 401)


def test_the_scheme_page_and_the_stream_link_to_the_analysis(
    client: TestClient, session: Session
) -> None:
    from yuqing.schemes.models import Scheme

    scheme = Scheme(name="食堂方案", mode="simple", query="食堂")
    session.add(scheme)
    session.commit()
    page = client.get(f"/analysis?scheme_id={scheme.id}")
    assert "方案分析：食堂方案" in page.text
    assert f'href="/analysis?scheme_id={scheme.id}"' in client.get(f"/schemes/{scheme.id}").text
    stream = client.get("/?platform=weibo").text
    assert 'href="/analysis?platform=weibo"' in stream


def test_the_aggregates_read_indexes_not_rows(session: Session) -> None:
    """At 1M mentions a read of every row of a week costs seconds: the counts come from the
    facets index alone, the 热度/风险 lists from their indexes top-down (no sort)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite (the bench's database)")
    now = utcnow()
    scope = insights.Scope(start=now - timedelta(days=7), end=now)
    bucket = insights._bucket(session, "day", 28800)
    counted = scope.narrow(select(bucket, Mention.sentiment, Mention.platform, Mention.source_id))
    top = scope.narrow(select(Mention.id)).order_by(*insights.service.stream_order(session, "heat"))
    risky = scope.narrow(select(Mention.id)).where(Mention.sentiment == "negative")
    risky = risky.order_by(*insights.service.stream_order(session, "risk"))

    def plan(query: Any) -> str:
        compiled = query.limit(10).compile(
            session.get_bind(), compile_kwargs={"literal_binds": True}
        )
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return " | ".join(str(row[-1]) for row in rows)

    assert "COVERING INDEX ix_mention_stream_facets" in plan(counted)
    # (Sorting ties on the index's order, "RIGHT PART OF ORDER BY", stops at the limit.)
    assert "heat" in plan(top) and "B-TREE FOR ORDER BY" not in plan(top)
    assert "risk" in plan(risky) and "B-TREE FOR ORDER BY" not in plan(risky)


def test_one_filter_is_computed_once_a_minute(client: TestClient, session: Session) -> None:
    """Readers of the same filter share an answer for 60 s (it says when it was computed);
    another filter, or the same one after the minute, is computed afresh."""
    _plant(session)
    first = client.get("/api/v1/analysis?range=7d").json()
    session.execute(update(Mention).values(sentiment="negative"))
    session.commit()
    again = client.get("/api/v1/analysis?range=7d").json()
    assert again == first
    other = client.get("/api/v1/analysis?range=7d&platform=weibo").json()
    assert {s["key"]: s["count"] for s in other["sentiments"]}["negative"] == 3
    insights_views.RECENT.seconds = 0
    try:
        fresh = client.get("/api/v1/analysis?range=7d").json()
    finally:
        insights_views.RECENT.seconds = 60
    assert {s["key"]: s["count"] for s in fresh["sentiments"]}["negative"] == len(IN_7_DAYS)
