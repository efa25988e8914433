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
