"""Negative means bad news for the institution: complaints come out 负面, the default never
hides a likely negative as 中性, the office's sensitivity and complaint lexicon take effect,
and the mention page says which cues drove the label."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing import demo
from yuqing.analysis import explain, features, sentiment, service
from yuqing.core.audit import Actor
from yuqing.sources.models import Source
from yuqing.worker import pipeline

COMPLAINTS = [
    "图书馆空调故障",
    "校园网频繁掉线",
    "研究生补贴发放延迟",
    "宿舍楼又停电了",
    "食堂涨价没有提前公示",
    "电梯困住了三名学生",
    "监控缺失是基本操作，呵呵",
]


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    sentiment.forget_models()
    yield
    sentiment.forget_models()


def test_institution_complaints_are_negative() -> None:
    model = sentiment.get_sentiment_model()
    assert [label for label, _ in model.predict(COMPLAINTS)] == ["negative"] * len(COMPLAINTS)
    praise = model.predict(["学校回应及时，处理得当，点赞", "这本书写得太好了，非常喜欢"])
    assert [label for label, _ in praise] == ["positive", "positive"]


def test_demo_complaint_posts_are_negative() -> None:
    items = demo._items(random.Random(7), 240)
    texts = [f"{i.get('title') or ''}\n{i['text']}" for i in items]
    cues = ("吐槽", "困住", "没有提前公示", "空调故障", "频繁掉线", "发放延迟")
    complaints = [t for t in texts if any(c in t for c in cues)]
    assert complaints, "the demo has complaint posts"
    labels = [label for label, _ in sentiment.get_sentiment_model().predict(complaints)]
    assert labels.count("negative") == len(labels), [
        t for t, label in zip(complaints, labels, strict=True) if label != "negative"
    ]


def test_default_never_hides_a_likely_negative_as_neutral() -> None:
    model = sentiment.get_sentiment_model()
    texts = [
        f"{a}{b}"
        for a in ("食堂", "宿舍", "学校", "", "老师")
        for b in ("还行吧", "有点慢", "一般般", "说不上好", "不太满意", "没什么感觉", "等通知")
    ]
    p_neg = model.negative_probability(texts)
    for (label, _), p in zip(model.predict(texts), p_neg, strict=True):
        if p >= 0.5:
            assert label == "negative"
    assert model.negative_threshold("balanced") <= 0.5


def test_sensitivity_moves_the_negative_threshold() -> None:
    model = sentiment.get_sentiment_model()
    texts = [f"{t}{w}" for t in ("食堂", "宿舍", "图书馆") for w in ("有点慢", "还行", "不太方便")]
    counts = {
        key: [label for label, _ in model.predict(texts, sensitivity=key)].count("negative")
        for key in sentiment.SENSITIVITIES
    }
    assert counts["high"] >= counts["balanced"] >= counts["quiet"]
    assert sentiment.get_sentiment_model().sensitivity == "balanced"
    sentiment.write_settings(sensitivity="high")
    assert sentiment.get_sentiment_model().sensitivity == "high"


def test_an_office_complaint_word_counts_without_retraining(session: Session) -> None:
    model = sentiment.get_sentiment_model()
    text_ = "宿舍十点熄灯太早"
    before = float(model.negative_probability([text_])[0])
    words = service.complaint_words()
    assert "停电" in words
    service.set_complaint_words(session, words=[*words, "熄灯太早"], actor=Actor(None, "测试"))
    after = float(sentiment.get_sentiment_model().negative_probability([text_])[0])
    assert after > before + 0.05
    assert features.office_complaint_path().is_file()
    negated = float(model.negative_probability(["宿舍没有停电"])[0])
    plain = float(model.negative_probability(["宿舍停电"])[0])
    assert negated < plain, "没有 before a complaint word counts as a negated hit"
    with pytest.raises(service.LabelError, match="太长"):
        service.set_complaint_words(session, words=["很" * 30], actor=Actor(None, "测试"))
    audit = session.execute(
        text("SELECT COUNT(*) FROM audit_entry WHERE object_type = 'complaint_words'")
    ).scalar_one()
    assert audit == 1


def test_cues_name_the_complaint_word() -> None:
    model = sentiment.get_sentiment_model()
    towards, against = explain.explain(model, "图书馆空调故障，一周没人修")
    assert any("故障" in cue.text for cue in towards)
    assert all(cue.weight > 0 for cue in towards) and all(cue.weight < 0 for cue in against)
    _, praise_against = explain.explain(model, "处理及时，点赞")
    assert any("点赞" in cue.text for cue in praise_against)


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def test_mention_page_shows_the_cues_and_the_model_version(
    client: TestClient, session: Session, push_source: Source
) -> None:
    pipeline.process(
        session, source=push_source, items=[{"title": "图书馆空调故障", "text": "一周没人修"}]
    )
    session.commit()
    mention_id, version = session.execute(text("SELECT id, sentiment_model FROM mention")).one()
    assert version == sentiment.get_sentiment_model().version
    page = client.get(f"/mentions/{mention_id}")
    assert page.status_code == 200
    assert f"判断模型：{version}" in page.text
    assert "判断依据" in page.text and "故障" in re.sub(r"<[^>]+>", "", page.text)
