"""The whole ingest pipeline on real parts: push and fetch store analysed mentions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import LocalServer, Reply, desk_client
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.schemes import service as schemes
from yuqing.schemes.models import SchemeMatch
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import collect

AUTH = {"Authorization": "Bearer test-push-token"}
FIXTURES = Path(__file__).parent.parent / "sources" / "fixtures"

STORY = (
    "南京市江城大学第二食堂今天中午发生学生集体腹泻事件，多名学生被送往医院治疗，"
    "学生家长在网上质疑学校食品安全管理存在严重问题，要求学校尽快公开调查结果。"
)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


@pytest.fixture
def canteen_scheme(session: Session) -> int:
    scheme = schemes.create(
        session,
        scheme_in=SchemeIn(
            name="食堂安全", subject_words=["江城大学"], event_words=["食堂", "腹泻"], weight=2.0
        ),
    )
    session.commit()
    return scheme.id


def _push(client: TestClient, items: list[dict[str, object]]) -> dict[str, object]:
    reply = client.post("/api/v1/mentions", json={"source": "采集器", "items": items}, headers=AUTH)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_pushed_items_come_out_analysed(
    client: TestClient, engine: Engine, canteen_scheme: int
) -> None:
    _push(
        client,
        [
            {"id": "1", "text": STORY, "time": "2024-05-01 12:00"},
            {
                "id": "2",
                "text": "今天天气很好，大家出去走走吧，心情愉快。",
                "time": "2024-05-01 12:05",
            },
        ],
    )
    with Session(engine) as session:
        story, other = session.execute(select(Mention).order_by(Mention.id)).scalars().all()
        assert story.sentiment in {"negative", "neutral", "positive"}
        assert story.sentiment_score is not None and 0 <= story.sentiment_score <= 1
        assert story.regions and "南京市" in story.regions
        places = session.execute(
            select(MentionPlace.name).where(MentionPlace.mention_id == story.id)
        ).scalars()
        assert "南京市" in set(places)
        match = session.execute(select(SchemeMatch)).scalar_one()
        assert (match.scheme_id, match.mention_id) == (canteen_scheme, story.id)
        assert {"江城大学", "食堂"} <= set(json.loads(match.words))
        assert story.risk_score is not None and other.risk_score is not None
        parts = json.loads(story.risk_parts or "{}")
        assert parts, "the risk score keeps its parts"
        assert story.risk_score > other.risk_score  # matched a weighted scheme


def test_an_edited_repost_joins_the_original_group(client: TestClient, engine: Engine) -> None:
    _push(client, [{"id": "1", "text": STORY}])
    edited = "转发微博 //@路人: 太可怕了 " + STORY.replace("今天中午", "今天").replace("严重", "")
    _push(client, [{"id": "2", "text": edited}])
    with Session(engine) as session:
        first, copy = session.execute(select(Mention).order_by(Mention.id)).scalars().all()
        assert copy.near_group_id == first.id
        assert first.near_count == 1


def test_an_updated_item_is_matched_again(
    client: TestClient, engine: Engine, canteen_scheme: int
) -> None:
    _push(client, [{"id": "1", "text": STORY}])
    _push(client, [{"id": "1", "text": "江城大学图书馆延长开放时间，方便学生复习备考。"}])
    with Session(engine) as session:
        assert session.execute(select(SchemeMatch)).scalars().all() == []
        mention = session.execute(select(Mention)).scalar_one()
        assert mention.regions is None


def test_fetching_a_feed_through_the_pipeline_analyses_it(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/feed.xml"] = Reply(
        200, (FIXTURES / "atom.xml").read_bytes(), {"Content-Type": "application/atom+xml"}
    )
    source = Source(name="日报", kind="rss", url=http_server.url("/feed.xml"))
    session.add(source)
    session.commit()
    run = collect.fetch_source(session, source)
    session.commit()
    assert run.ok and run.items_new == 1
    mention = session.execute(select(Mention)).scalar_one()
    assert mention.sentiment is not None and mention.risk_score is not None
