"""Learning from the office's own labels: the 标注 queue, batch labels, retraining with a
held-out comparison and a refit on all labels, kept versions and rollback, the sensitivity
figures, and the ``yuqing model eval`` file formats and errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.support import desk_client
from yuqing.analysis import jobs, sentiment, service
from yuqing.analysis.models import SentimentModelVersion
from yuqing.cli import app as cli_app
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.sources.models import Source
from yuqing.worker import pipeline

GOOD = ["服务很好", "太棒了", "非常满意", "值得点赞", "真开心", "很喜欢"]
BAD = ["太差劲了", "非常失望", "真让人生气", "很难过", "糟糕透了", "不满意"]
TOPICS = ["食堂", "图书馆", "宿舍", "校医院", "教务处", "后勤"]
ANALYST = Actor(None, "测试")


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    sentiment.forget_models()
    yield
    sentiment.forget_models()


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _ingest(session: Session, source: Source, texts: list[str]) -> list[int]:
    pipeline.process(session, source=source, items=[{"title": t, "text": t} for t in texts])
    session.commit()
    rows = dict(session.execute(text("SELECT title, id FROM mention")).all())
    return [rows[t] for t in texts]


def _inverted_labels(session: Session, source: Source) -> list[int]:
    """An office whose analysts call praise negative: only its own labels can teach that."""
    titles = [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD]
    ids = _ingest(session, source, titles)
    for mention_id, title in zip(ids, titles, strict=True):
        label = "negative" if any(g in title for g in GOOD) else "positive"
        service.record_label(session, mention_id=mention_id, label=label, actor=ANALYST)
    session.commit()
    return ids


def test_accepted_model_is_refit_on_all_labels_and_kept_as_a_version(
    session: Session, push_source: Source
) -> None:
    _inverted_labels(session, push_source)
    report = service.train(session, files=[])
    session.commit()
    assert report.accepted and report.version is not None
    model = sentiment.get_sentiment_model()
    assert model.meta["refit"] is True
    assert model.meta["examples"] == 72, "the held-out 20 % is learned from once accepted"
    assert model.version == f"v{report.version.id}"
    assert report.candidate.count == 15  # the held-out part the comparison was made on
    figures = json.loads(report.version.figures)
    assert figures["candidate"]["macro_f1"] > figures["current"]["macro_f1"]
    assert (
        figures["current_version"]
        == sentiment.SentimentModel.load(sentiment.model_path("sentiment", retrained=False)).version
    )
    again = service.train(session, files=[])
    session.commit()
    assert not again.accepted and again.version is not None
    assert again.version.status == "rejected" and again.version.file is None
    assert [v.status for v in service.list_versions(session)] == ["rejected", "active"]


def test_rollback_to_the_shipped_model_and_back(session: Session, push_source: Source) -> None:
    _inverted_labels(session, push_source)
    report = service.train(session, files=[])
    session.commit()
    assert report.version is not None
    shipped = service.activate(session, version_id=None, actor=ANALYST)
    session.commit()
    assert sentiment.get_sentiment_model().meta["origin"] == "shipped"
    assert shipped == sentiment.get_sentiment_model().version
    assert session.get(SentimentModelVersion, report.version.id).status == "kept"  # type: ignore[union-attr]
    name = service.activate(session, version_id=report.version.id, actor=ANALYST)
    session.commit()
    assert name == f"v{report.version.id}" == sentiment.get_sentiment_model().version
    with pytest.raises(service.VersionNotFound):
        service.activate(session, version_id=999, actor=ANALYST)


def test_queue_puts_unsure_and_risky_items_first_and_labels_a_batch(
    client: TestClient, session: Session, push_source: Source
) -> None:
    ids = _ingest(session, push_source, ["食堂服务很好，非常满意", "食堂还行吧", "宿舍停电了"])
    queue = service.queue(session, limit=10)
    assert {item.mention_id for item in queue} == set(ids)
    priorities = [item.unsure + (item.risk or 0) / 100 for item in queue]
    assert priorities == sorted(priorities, reverse=True)
    page = client.get("/labelling")
    assert page.status_code == 200 and "待标注 3 条" in page.text and "labelling.js" in page.text
    token = _token(page.text)
    answer = client.post(
        "/labelling",
        data={"csrf_token": token, "label": "negative", "mention_id": [str(ids[1]), str(ids[2])]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    one = client.post(
        "/labelling",
        data={"csrf_token": token, "single": f"{ids[0]}:positive"},
        follow_redirects=False,
    )
    assert one.status_code == 303
    labels = dict(session.execute(text("SELECT mention_id, label FROM sentiment_label")).all())
    assert labels == {ids[0]: "positive", ids[1]: "negative", ids[2]: "negative"}
    after = client.get("/labelling")
    assert "已标注 <strong>3</strong>" in after.text and "没有待标注的信息" in after.text
    refused = client.post("/labelling", data={"label": "negative", "mention_id": [str(ids[0])]})
    assert refused.status_code == 403


def test_a_correction_on_the_mention_page_lands_in_the_queue(
    client: TestClient, session: Session, push_source: Source
) -> None:
    [mention_id] = _ingest(session, push_source, ["图书馆座位不够用"])
    page = client.get(f"/mentions/{mention_id}")
    client.post(
        f"/mentions/{mention_id}/sentiment",
        data={"csrf_token": _token(page.text), "label": "negative"},
        follow_redirects=False,
    )
    queue_page = client.get("/labelling")
    assert "图书馆座位不够用" in queue_page.text.split("最近的标注")[1]
    assert mention_id not in {item.mention_id for item in service.queue(session)}


def test_models_page_retrains_by_button_shows_figures_and_rolls_back(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _inverted_labels(session, push_source)
    page = client.get("/models")
    assert page.status_code == 200 and "宁可多报" in page.text and "少打扰" in page.text
    token = _token(page.text)
    trained = client.post("/models/train", data={"csrf_token": token})
    assert trained.status_code == 200 and "已用全部标注重新拟合并启用" in trained.text
    version = session.execute(text("SELECT id, trigger FROM sentiment_model_version")).one()
    assert version[1] == "button" and f"v{version[0]}" in trained.text
    back = client.post("/models/activate", data={"csrf_token": token, "version": "shipped"})
    assert back.status_code == 200 and "改用此版本" in back.text
    assert sentiment.get_sentiment_model().meta["origin"] == "shipped"
    saved = client.post("/models/settings", data={"csrf_token": token, "sensitivity": "high"})
    assert saved.status_code == 200 and sentiment.current_sensitivity() == "high"
    bad = client.post("/models/settings", data={"csrf_token": token, "sensitivity": "loud"})
    assert bad.status_code == 422 and "无效" in bad.text


def test_sensitivity_figures_on_the_office_labels(session: Session, push_source: Source) -> None:
    _inverted_labels(session, push_source)
    figures, labelled = service.sensitivity_figures(session)
    assert labelled == 72 and [f.key for f in figures] == ["high", "balanced", "quiet"]
    assert figures[0].flagged >= figures[1].flagged >= figures[2].flagged
    assert all(f.recall is not None for f in figures)


# ---- yuqing model eval -----------------------------------------------------------------------


def _eval(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["model", "eval", *args])


def test_eval_of_a_two_label_file_gives_negative_precision_recall_f1(tmp_path: Path) -> None:
    path = tmp_path / "two.tsv"
    path.write_text("1\t这本书写得太好了，非常喜欢\n0\t质量太差了，非常失望\n0\t \n", "utf-8")
    result = _eval(str(path))
    assert result.exit_code == 0, result.output
    assert "负面：精确率" in result.output and "召回率" in result.output
    as_json = _eval(str(path), "--json")
    data = json.loads(as_json.output)
    assert {"accuracy", "macro_f1", "negative", "positive"} <= set(data)
    assert set(data["negative"]) >= {"precision", "recall", "f1"}
    assert data["labels"] == ["positive", "negative"], "neutral is mapped by probability"
    assert data["macro_f1"] <= 1 and len(data["confusion"]) == 2


def test_eval_of_a_three_label_file_gives_a_three_by_three_matrix(tmp_path: Path) -> None:
    path = tmp_path / "three.tsv"
    path.write_text("正面\t非常喜欢\n中性\t明天开会\n负面\t太差劲了\n", "utf-8")
    data = json.loads(_eval(str(path), "--json").output)
    assert {"negative", "neutral", "positive"} <= set(data)
    assert len(data["confusion"]) == 3 and all(len(r) == 3 for r in data["confusion"])


def test_eval_reads_csv_with_a_header_and_a_label_map(tmp_path: Path) -> None:
    csv_file = tmp_path / "ids.txt"
    csv_file.write_text("id,label,text\n1,0,非常喜欢\n2,2,太差劲了\n3,3,糟糕透了\n", "utf-8")
    plain = _eval(str(csv_file))
    assert "缺少制表符" not in plain.output
    mapped = _eval(str(csv_file), "--map", "0=positive,1=negative,2=negative,3=negative", "--json")
    assert mapped.exit_code == 0, mapped.output
    assert json.loads(mapped.output)["count"] == 3
    wrong_map = _eval(str(csv_file), "--map", "0=好")
    assert wrong_map.exit_code == 1 and "--map" in wrong_map.output
    headless = tmp_path / "headless.csv"
    headless.write_text("1,非常喜欢\n0,太差\n", "utf-8")
    no_header = _eval(str(headless))
    assert no_header.exit_code == 1 and "标签列" in no_header.output


def test_eval_of_a_one_label_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "one.tsv"
    path.write_text("0\t太差了\n0\t很失望\n", "utf-8")
    result = _eval(str(path))
    assert result.exit_code == 1 and "只有一种标签" in result.output
    assert "Warning" not in result.output


def test_scheduled_retraining_runs_once_enough_new_labels_came_in(
    session: Session, push_source: Source
) -> None:
    ids = _ingest(session, push_source, [f"{t}{g}" for t in TOPICS for g in GOOD[:4]])
    now = utcnow()
    for mention_id in ids[:20]:
        service.record_label(session, mention_id=mention_id, label="negative", actor=ANALYST)
    session.commit()
    assert jobs.retrain_if_due(session, now) is None, "20 new labels are not enough"
    _inverted_labels(session, push_source)
    report = jobs.retrain_if_due(session, utcnow())
    session.commit()
    assert report is not None and report.version is not None
    assert report.version.trigger == "schedule"
    assert jobs.retrain_if_due(session, utcnow()) is None, "not twice within a day"
