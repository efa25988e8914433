"""Events pages on the real app: list, detail, hot topics, merge/split forms, escaping."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.events.conftest import Store, events_client
from yuqing.core.audit import AuditEntry
from yuqing.events.models import Event
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

T0 = datetime(2024, 5, 1, 8, 0)
EVIL = "<script>alert(1)</script>南江大学食堂腹泻事件后勤处封存食材调查原因学生送医"


def _seed(push_source: Source, store: Store) -> dict[str, int]:
    items = [
        {
            "mid": "r",
            "time": T0.isoformat() + "Z",
            "title": EVIL,
            "text": EVIL,
            "author": "<b>网友</b>",
        }
    ]
    items += [
        {
            "mid": f"c{i}",
            "root": "r",
            "parent": "c1" if i > 1 else None,
            "time": (T0 + timedelta(minutes=i)).isoformat() + "Z",
            "text": f"评论第{i}条",
            "author": f"网友{i}",
        }
        for i in range(1, 4)
    ]
    items.append(
        {
            "mid": "x",
            "time": T0.isoformat() + "Z",
            "text": "南江大学图书馆新馆今天开放，自习座位三千个可预约。",
        }
    )
    return store(push_source, items)


def _csrf(client: object) -> str:
    token = client.cookies.get("yuqing_csrf")  # type: ignore[attr-defined]
    assert token
    return str(token)


def test_pages_render_escaped(
    engine: Engine, session: Session, push_source: Source, store: Store
) -> None:
    found = _seed(push_source, store)
    with events_client(engine, role="leader") as client:
        listing = client.get("/events")
        assert listing.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
        assert "<script>alert(1)" not in listing.text
        assert '<svg class="ev-spark"' in listing.text and "<polyline points=" in listing.text
        page = client.get(f"/events/{found['r']}")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;b&gt;网友&lt;/b&gt;" in page.text
        # the chain: c2 and c3 answer c1, which answers the root
        assert 'style="margin-left: 2.5rem"' in page.text
        assert "推送接口 4" in page.text  # counts by source kind
        assert "合并事件" not in page.text  # leaders read only
        assert client.get("/events/hot").status_code == 200
        assert client.get("/events/999999").status_code == 404
        refused = client.post(
            f"/events/{found['r']}/merge",
            data={"others": str(found["x"]), "csrf_token": _csrf(client)},
        )
        assert refused.status_code == 403


def test_merge_and_split_forms(
    engine: Engine, session: Session, push_source: Source, store: Store
) -> None:
    found = _seed(push_source, store)
    with events_client(engine) as client:
        page = client.get(f"/events/{found['r']}")
        assert "合并事件" in page.text
        no_token = client.post(f"/events/{found['r']}/merge", data={"others": str(found["x"])})
        assert no_token.status_code == 403
        bad = client.post(
            f"/events/{found['r']}/merge", data={"others": "abc", "csrf_token": _csrf(client)}
        )
        assert bad.status_code == 422 and "无法识别的事件编号" in bad.text
        merged = client.post(
            f"/events/{found['r']}/merge",
            data={"others": str(found["x"]), "csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert merged.status_code == 303
        session.expire_all()
        event = session.get(Event, found["r"])
        assert event is not None and event.size == 5
        moved = session.execute(select(Mention.id).where(Mention.external_id == "c3")).scalar_one()
        split = client.post(
            f"/events/{found['r']}/split",
            data={"mention_ids": [str(moved)], "csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert split.status_code == 303
        new_id = int(split.headers["location"].split("/")[2].split("?")[0])
        session.expire_all()
        created = session.get(Event, new_id)
        assert created is not None and created.size == 1
        actions = session.execute(select(AuditEntry.action, AuditEntry.actor_name)).all()
        assert ("event.merge", "publicity_events") in actions
        assert ("event.split", "publicity_events") in actions


def test_charts_api(engine: Engine, session: Session, push_source: Source, store: Store) -> None:
    """The event page's chart data: hourly trend with the first post's hour, sentiment per
    hour, sources, platforms and the repost tree of posts (titles and times, no authors)."""
    found = _seed(push_source, store)
    with events_client(engine, role="leader") as client:
        page = client.get(f"/events/{found['r']}")
        assert f'data-api="/api/v1/events/{found["r"]}/charts"' in page.text
        assert '<script src="/static/js/event-charts.js" defer></script>' in page.text
        answer = client.get(f"/api/v1/events/{found['r']}/charts")
        assert answer.status_code == 200
        data = answer.json()
        trend = data["trend"]
        assert sum(trend["counts"]) == 4 and trend["first"] == 0
        assert trend["labels"][0].endswith(":00") and trend["first_at"]
        sentiment_total = sum(sum(s["counts"]) for s in data["sentiment"]["series"])
        assert sentiment_total == 4
        assert {s["label"] for s in data["sentiment"]["series"]} >= {"正面", "中性", "负面"}
        assert data["sources"] == [{"label": "推送测试", "count": 4}]
        assert sum(p["count"] for p in data["platforms"]) == 4
        tree = data["tree"]
        assert tree["drawn"] == 4 and tree["hidden"] == 0 and tree["reposts"] == 3
        (root,) = tree["root"]["children"]
        assert root["title"].startswith("<script>")  # data, escaped by the drawing script
        (c1,) = root["children"]
        assert c1["title"] == "评论第1条" and len(c1["children"]) == 2
        assert c1["href"].startswith("/mentions/") and c1["time"]
        assert "网友" not in answer.text and "author" not in answer.text  # no people
        missing = client.get("/api/v1/events/999999/charts")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/json")
    from fastapi.testclient import TestClient

    from yuqing.web.app import create_app

    with TestClient(create_app()) as anonymous:
        assert anonymous.get(f"/api/v1/events/{found['r']}/charts").status_code == 401


def test_charts_tree_is_capped(
    engine: Engine, session: Session, push_source: Source, store: Store, monkeypatch: object
) -> None:
    """A big cascade draws at most TREE_LIMIT posts and says how many more there are."""
    from yuqing.events import charts

    items = [{"mid": "r", "time": T0.isoformat() + "Z", "title": "南江大学食堂事件原帖"}]
    items += [
        {
            "mid": f"c{i}",
            "root": "r",
            "time": (T0 + timedelta(minutes=i)).isoformat() + "Z",
            "text": f"转发第{i}条",
        }
        for i in range(1, 30)
    ]
    found = store(push_source, items)
    event = session.get(Event, found["r"])
    assert event is not None and event.size == 30
    monkeypatch.setattr(charts, "TREE_LIMIT", 10)  # type: ignore[attr-defined]
    tree = charts.snapshot(session, event=event)["tree"]
    assert tree["drawn"] == 10 and tree["hidden"] == 20
    (root,) = tree["root"]["children"]
    assert len(root["children"]) == 9


def test_charts_leave_out_exact_copies(
    engine: Engine, session: Session, push_source: Source, store: Store
) -> None:
    """An exact copy is a member of the event but counted nowhere: not in the sentiment per
    hour (grouped by the database, PostgreSQL or SQLite), the platforms or the tree."""
    from yuqing.events import charts

    found = _seed(push_source, store)
    copier = Source(name="转载站", kind="push")
    session.add(copier)
    session.commit()
    store(copier, [{"mid": "copy", "time": T0.isoformat() + "Z", "title": EVIL, "text": EVIL}])
    session.expire_all()
    event = session.get(Event, found["r"])
    assert event is not None and event.duplicate_count == 1 and event.size == 4
    data = charts.snapshot(session, event=event)
    assert sum(sum(s["counts"]) for s in data["sentiment"]["series"]) == 4
    assert sum(p["count"] for p in data["platforms"]) == 4
    assert data["tree"]["drawn"] == 4
