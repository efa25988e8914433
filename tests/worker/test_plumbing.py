"""The pipeline's fast storing paths write what the plain ORM would: risk, matches, places."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.analysis import risk
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.schemes import service as schemes
from yuqing.schemes.models import SchemeMatch
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline

TEXTS = [
    "南京市江城大学第二食堂发生学生腹泻，家长质疑食品安全管理，要求公开调查结果。",
    "杭州西湖边今天游客很多，天气晴朗，大家玩得很开心，拍了很多照片留念。",
    "江城大学食堂饭菜涨价，学生不满，有人说要去教育局投诉这件事情。",
    "这家店的服务太差了，等了一个小时还没上菜，再也不会来了，非常失望。",
]


def _items(texts: list[str]) -> list[dict[str, object]]:
    return [
        {"external_id": f"p{i}", "text": text, "published_at": f"2024-05-0{i + 1}T08:30:15+08:00"}
        for i, text in enumerate(texts)
    ]


def _scheme(session: Session) -> int:
    scheme = schemes.create(
        session,
        scheme_in=SchemeIn(
            name="食堂", subject_words=["江城大学"], event_words=["食堂"], weight=1.5
        ),
    )
    session.commit()
    return scheme.id


def test_stored_risk_is_the_score_of_each_mention(session: Session, push_source: Source) -> None:
    _scheme(session)
    pipeline.process(session, source=push_source, items=_items(TEXTS * 2))
    session.commit()
    listed = select(Mention).where(Mention.status == "new").order_by(Mention.id)
    mentions = session.execute(listed).scalars().all()
    assert len(mentions) == len(TEXTS)  # the second half are exact copies, not analysed
    for mention in mentions:
        weights = session.execute(
            select(SchemeMatch.scheme_id).where(SchemeMatch.mention_id == mention.id)
        ).all()
        expected = risk.score(
            sentiment=mention.sentiment,
            sentiment_score=mention.sentiment_score,
            scheme_weights=[1.5] * len(weights),
            source_weight=push_source.weight,
        )
        assert (mention.risk_score, mention.risk_parts) == (expected.score, expected.to_json())


def test_matches_and_places_read_back_through_the_orm(
    session: Session, push_source: Source
) -> None:
    scheme_id = _scheme(session)
    result = pipeline.process(session, source=push_source, items=_items(TEXTS))
    session.commit()
    first = result.outcomes[0].mention_id
    match = session.execute(select(SchemeMatch).where(SchemeMatch.mention_id == first)).scalar_one()
    assert match.scheme_id == scheme_id
    assert set(json.loads(match.words)) == {"江城大学", "食堂"}
    assert isinstance(match.matched_at, datetime)
    places = session.execute(
        select(MentionPlace.name, MentionPlace.level).where(MentionPlace.mention_id == first)
    ).all()
    assert ("南京市", "city") in [tuple(p) for p in places]
    mention = session.get(Mention, first)
    assert mention is not None and mention.published_at == datetime(2024, 5, 1, 0, 30, 15)


def test_an_edited_item_replaces_its_matches_and_places(
    session: Session, push_source: Source
) -> None:
    _scheme(session)
    pipeline.process(session, source=push_source, items=_items(TEXTS))
    session.commit()
    edited = _items(TEXTS)[:1]
    edited[0]["text"] = "杭州今天下雨了，西湖边游客少了很多，大家都在室内躲雨。"
    result = pipeline.process(session, source=push_source, items=edited)
    session.commit()
    assert result.updated == 1
    mention_id = result.outcomes[0].mention_id
    matches = session.execute(select(SchemeMatch).where(SchemeMatch.mention_id == mention_id))
    assert matches.all() == []
    names = session.execute(
        select(MentionPlace.name).where(MentionPlace.mention_id == mention_id)
    ).scalars()
    assert "南京市" not in list(names)
