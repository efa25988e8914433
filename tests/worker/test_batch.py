"""The pipeline's contract: a batch is plain data that round-trips through JSON, and a batch
that went through JSON (as a queue worker will receive it) stores what the original would."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from yuqing.mentions import store
from yuqing.mentions.batch import Batch
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline

STORY = (
    "南京市江城大学第二食堂今天中午发生学生集体腹泻事件，多名学生被送往医院治疗，"
    "学生家长在网上质疑学校食品安全管理存在严重问题，要求学校尽快公开调查结果。"
)
REPOST = "转发微博 //@城南小李: " + STORY.replace("今天中午", "今日午间") + "🔥"
OTHER = "杭州市西湖区今天游客很多，天气晴朗，大家玩得很开心，拍了很多照片留念。"


def _stored_before(session: Session, source: Source) -> None:
    """Mentions the batch then finds: one it changes, one it copies exactly."""
    schemes.create(
        session,
        scheme_in=SchemeIn(name="食堂", subject_words=["江城大学"], event_words=["食堂"]),
    )
    pipeline.process(
        session,
        source=source,
        items=[
            {"id": "old-1", "text": "江城大学食堂饭菜涨价，学生不满，要去投诉。", "reposts": 3},
            {"id": "old-2", "text": OTHER, "time": "2024-05-01 09:00"},
        ],
    )
    session.commit()


def _items() -> list[dict[str, Any]]:
    return [
        {"id": "n1", "text": STORY, "time": "2024-05-01 12:00"},
        {"id": "n2", "text": REPOST, "time": "2024-05-01 12:10", "root": "n1"},
        {"id": "n3", "text": STORY, "time": "2024-05-01 12:20"},  # exact copy of n1 (in batch)
        {"id": "n4", "text": OTHER, "time": "2024-05-01 12:30"},  # exact copy of old-2 (stored)
        {"id": "old-1", "text": "江城大学食堂饭菜涨价，学生不满，要去投诉。", "reposts": 9},
        {"id": "n5", "title": "", "text": ""},  # fails
    ]


def _through_json(batch: Batch) -> Batch:
    return Batch.from_dict(json.loads(json.dumps(batch.to_dict(), ensure_ascii=False)))


def test_a_prepared_and_an_analysed_batch_round_trip_through_json(
    session: Session, push_source: Source
) -> None:
    _stored_before(session, push_source)
    batch = store.prepare(session, source=push_source, items=_items())
    assert [len(batch.new), len(batch.changed), len(batch.copies)] == [2, 1, 2]
    assert _through_json(batch).to_dict() == batch.to_dict()
    batch.analysed = True
    for stage in pipeline.STAGES:
        stage.before_insert(session, batch)
    assert batch.new[0].places and batch.new[0].hits  # what the stages found travels along
    again = _through_json(batch)
    assert again.to_dict() == batch.to_dict()
    assert again.new[0].places == batch.new[0].places
    assert again.new[0].hits == batch.new[0].hits


def _stored(session: Session) -> dict[str, Any]:
    """What the batch stored, mention ids replaced by external ids (PostgreSQL does not
    give a rolled-back id again), times written at storing left out."""
    ext = "(SELECT external_id FROM mention x WHERE x.id = {})"
    queries = {
        "mention": (
            "SELECT external_id, status, " + ext.format("m.duplicate_of_id") + ", title, text, "
            "sentiment, sentiment_score, risk_score, risk_parts, regions, near_count, "
            "duplicate_count, reposts, heat, " + ext.format("m.near_group_id") + " FROM mention m"
        ),
        "place": "SELECT " + ext.format("p.mention_id") + ", code, name FROM mention_place p",
        "match": "SELECT " + ext.format("s.mention_id") + ", scheme_id, words FROM scheme_match s",
        "band": (
            "SELECT band_key, "
            + ext.format("b.mention_id")
            + ", "
            + ext.format("b.group_id")
            + " FROM mention_band b"
        ),
        "member": (
            "SELECT " + ext.format("em.mention_id") + ", em.reason, e.title, e.size, "
            "e.duplicate_count FROM event_member em JOIN event e ON e.id = em.event_id"
        ),
        "hour": "SELECT kind, sentiment, province, count FROM dashboard_hour",
        "source": "SELECT name, count_new, count_duplicate, count_updated, count_failed FROM source",
    }
    return {
        name: sorted(tuple(str(v) for v in row) for row in session.execute(text(query)))
        for name, query in queries.items()
    }


def test_processing_a_batch_that_went_through_json_stores_the_same(
    session: Session, push_source: Source
) -> None:
    _stored_before(session, push_source)
    batch = store.prepare(session, source=push_source, items=_items())
    sent = json.dumps(batch.to_dict(), ensure_ascii=False)

    direct = pipeline.run(session, batch)
    stored = _stored(session)
    session.rollback()

    received = pipeline.run(session, Batch.from_dict(json.loads(sent)))
    assert _stored(session) == stored
    assert [(o.index, o.status) for o in received.outcomes] == [
        (o.index, o.status) for o in direct.outcomes
    ]
    assert [o.status for o in direct.outcomes] == [
        "new",
        "new",
        "duplicate",
        "duplicate",
        "updated",
        "failed",
    ]


def test_a_batch_handed_over_between_the_two_halves_of_the_stages_stores_the_same(
    session: Session, push_source: Source
) -> None:
    """What the stages find before the insert (places, hits, groups, band keys) travels on the
    batch: a batch serialised after ``before_insert`` stores what the unbroken run stores."""
    _stored_before(session, push_source)
    sent = json.dumps(store.prepare(session, source=push_source, items=_items()).to_dict())

    pipeline.run(session, Batch.from_dict(json.loads(sent)))
    stored = _stored(session)
    session.rollback()

    batch = Batch.from_dict(json.loads(sent))
    batch.analysed = True
    for stage in pipeline.STAGES:
        stage.before_insert(session, batch)
    handed = _through_json(batch)
    result = store.store(session, handed)
    for stage in pipeline.STAGES:
        stage.after_insert(session, handed)
    store.finish(session, handed, result)
    assert _stored(session) == stored
