"""The sentiment model: loading, batch prediction on awkward texts, polarity, retraining rule,
evaluation, the correction form and the ``yuqing model`` commands, on real files and a real
database."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.support import desk_client
from yuqing.analysis import features, sentiment, service
from yuqing.analysis.features import FeatureSpec
from yuqing.analysis.labelled import LabelledFileError, read_labelled, score
from yuqing.analysis.models import SentimentLabel
from yuqing.cli import app as cli_app
from yuqing.core.audit import Actor
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

GOOD = ["服务很好", "太棒了", "非常满意", "值得点赞", "真开心", "很喜欢"]
BAD = ["太差劲了", "非常失望", "真让人生气", "很难过", "糟糕透了", "不满意"]
TOPICS = ["食堂", "图书馆", "宿舍", "校医院", "教务处", "后勤"]


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    sentiment.forget_models()
    yield
    sentiment.forget_models()


def _inverted_file(folder: Path, name: str = "inverted.tsv") -> Path:
    """An institution whose analysts label praise negative and complaints positive: a model
    trained on it must win against the shipped one on its held-out part."""
    lines = [f"负面\t{t}{g}" for t in TOPICS for g in GOOD] + [
        f"正面\t{t}{b}" for t in TOPICS for b in BAD
    ]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_model_predicts_a_batch_of_awkward_texts() -> None:
    model = sentiment.get_sentiment_model()
    texts = [
        "",
        "   ",
        "😀😀😀",
        "[哈哈][哈哈]",
        "好" * 1_000_000,
        "Hello 世界 café 123 ありがとう",
    ]
    result = model.predict(texts)
    assert len(result) == len(texts)
    for label, probability in result:
        assert label in sentiment.SENTIMENTS
        assert 0.0 <= probability <= 1.0
    assert result[0][0] == "neutral", "an empty text has no evidence either way"
    proba = model.predict_proba(texts)
    assert proba.shape == (len(texts), len(model.classes))
    assert abs(proba.sum(axis=1) - 1).max() < 1e-6


def test_obvious_sentences_get_the_obvious_polarity() -> None:
    model = sentiment.get_sentiment_model()
    labels = [
        label
        for label, _ in model.predict(
            ["这本书写得太好了，非常喜欢，推荐！", "质量太差了，非常失望，再也不买了"]
        )
    ]
    assert labels == ["positive", "negative"]


def test_model_file_round_trip_and_broken_file(tmp_path: Path) -> None:
    model = sentiment.train(
        [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD],
        ["positive"] * 36 + ["negative"] * 36,
    )
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = sentiment.SentimentModel.load(path)
    assert loaded.classes == model.classes
    assert [label for label, _ in loaded.predict(["食堂服务很好"])] == ["positive"]
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a model")
    with pytest.raises(sentiment.ModelFileError, match=r"broken\.npz"):
        sentiment.SentimentModel.load(broken)


def test_read_labelled_formats(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text("label\ttext_a\n1\t好\n0\t坏\n中性\t开会\n", encoding="utf-8")
    assert read_labelled(tsv) == (["好", "坏", "开会"], ["positive", "negative", "neutral"])
    js = tmp_path / "b.txt"
    js.write_text('[{"id": 1, "content": "开心", "label": "happy"}]', encoding="utf-8")
    assert read_labelled(js, emotion=True) == (["开心"], ["happy"])
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"text": "害怕", "label": "fear"}\n', encoding="utf-8")
    assert read_labelled(jsonl, emotion=True) == (["害怕"], ["fear"])
    bad = tmp_path / "d.tsv"
    bad.write_text("1\t好\n高兴\t坏\n", encoding="utf-8")
    with pytest.raises(LabelledFileError, match="第 2 条"):
        read_labelled(bad)


def test_retrain_from_a_file_is_accepted_only_when_it_beats_the_current_model(
    session: Session, tmp_path: Path
) -> None:
    path = _inverted_file(tmp_path)
    first = service.train(session, files=[path])
    assert first.hold_out_from == "files" and first.notes, "too few corrections is said"
    assert first.current is not None
    assert first.candidate.macro_f1 > first.current.macro_f1
    assert first.accepted and first.path and first.path.is_file()
    assert sentiment.get_sentiment_model().meta["origin"] == "retrained"
    assert sentiment.get_sentiment_model().predict(["宿舍服务很好"])[0][0] == "negative"

    again = service.train(session, files=[path])
    assert again.current is not None
    # The model in use was refit on all the file (its held-out part too), so the candidate
    # can at best tie with it; it must not replace it either way.
    assert again.candidate.macro_f1 <= again.current.macro_f1
    assert not again.accepted, "a tie (or worse) does not replace the model in use"


def test_too_little_data_is_refused(session: Session, tmp_path: Path) -> None:
    small = tmp_path / "small.tsv"
    small.write_text("1\t好\n0\t坏\n", encoding="utf-8")
    with pytest.raises(sentiment.TrainingDataError, match="标注太少"):
        service.train(session, files=[small])


def _mentions(session: Session, source: Source, titles: list[str]) -> list[int]:
    ingest(session, source=source, items=[{"title": t, "text": t} for t in titles])
    session.commit()
    rows = session.execute(text("SELECT id, title FROM mention")).all()
    by_title = {title: mention_id for mention_id, title in rows}
    return [by_title[t] for t in titles]


def test_corrections_are_the_held_out_part_when_there_are_enough(
    session: Session, push_source: Source, tmp_path: Path
) -> None:
    titles = [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD]
    ids = _mentions(session, push_source, titles)
    for mention_id, title in zip(ids, titles, strict=True):
        label = "negative" if any(g in title for g in GOOD) else "positive"
        service.record_label(session, mention_id=mention_id, label=label, actor=Actor(None, "测试"))
    session.commit()
    report = service.train(session, files=[])
    assert report.hold_out_from == "corrections" and report.corrections == len(titles)
    assert report.candidate.count == math.ceil(len(titles) * service.HOLD_OUT)
    assert report.accepted


def test_emotion_model_is_absent_until_trained(session: Session, tmp_path: Path) -> None:
    assert sentiment.get_emotion_model() is None
    rows = []
    words = {"happy": "开心快乐", "angry": "气死我了", "sad": "好难过想哭", "fear": "好害怕担心"}
    for label, word in words.items():
        rows += [f'{{"content": "{t}{word}", "label": "{label}"}}' for t in TOPICS * 2]
    path = tmp_path / "emo.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    report = service.train(session, files=[path], emotion=True)
    assert report.current is None and report.accepted
    model = sentiment.get_emotion_model()
    assert model is not None
    assert model.predict(["食堂好害怕担心"])[0][0] == "fear"


def test_eval_command_prints_accuracy_f1_and_confusion(tmp_path: Path) -> None:
    path = tmp_path / "eval.tsv"
    path.write_text(
        "1\t这本书写得太好了，非常喜欢，推荐！\n0\t质量太差了，非常失望，再也不买了\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli_app, ["model", "eval", str(path)])
    assert result.exit_code == 0, result.output
    assert "准确率 1.0000" in result.output and "宏平均 F1 1.0000" in result.output
    assert "混淆矩阵" in result.output and "正面" in result.output and "负面" in result.output
    missing = CliRunner().invoke(cli_app, ["model", "eval", str(tmp_path / "none.tsv")])
    assert missing.exit_code == 1 and "无法读取" in missing.output


def test_train_command_reports_both_models(tmp_path: Path, engine: Any) -> None:
    path = _inverted_file(tmp_path)
    result = CliRunner().invoke(cli_app, ["model", "train", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "新模型" in result.output
        and "当前模型" in result.output
        and "已启用新模型" in result.output
    )
    again = CliRunner().invoke(cli_app, ["model", "train", "--file", str(path)])
    assert again.exit_code == 2 and "未启用" in again.output


def test_score_maps_neutral_by_probability_on_a_two_label_file() -> None:
    """A file with positive and negative only cannot say whether neutral was right: a
    predicted neutral goes to the likelier polarity, so macro-F1 averages the two classes
    the accuracy counts (it was above the accuracy before)."""
    model = sentiment.get_sentiment_model()
    scores = score(
        model, ["", "非常喜欢", "太差劲了，非常失望"], ["negative", "positive", "negative"]
    )
    assert scores.labels == ["positive", "negative"]
    assert scores.neutral_mapped == 1
    assert scores.macro_f1 <= 1.0 and sum(map(sum, scores.confusion)) == 3
    three = score(model, ["", "非常喜欢", "太差劲了"], ["neutral", "positive", "negative"])
    assert three.labels == ["positive", "neutral", "negative"] and three.neutral_mapped == 0
    assert len(three.confusion) == 3 and all(len(row) == 3 for row in three.confusion)


# ---- the correction form -------------------------------------------------------------------


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def test_correction_form_stores_the_label_and_updates_the_mention(
    client: TestClient, session: Session, push_source: Source
) -> None:
    [mention_id] = _mentions(session, push_source, ["食堂饭菜涨价"])
    page = client.get(f"/mentions/{mention_id}")
    assert page.status_code == 200 and "保存校正" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    refused = client.post(f"/mentions/{mention_id}/sentiment", data={"label": "negative"})
    assert refused.status_code == 403
    answer = client.post(
        f"/mentions/{mention_id}/sentiment",
        data={
            "csrf_token": token.group(1),
            "label": "negative",
            "emotion": "angry",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    session.expire_all()
    row = session.execute(
        text("SELECT sentiment, sentiment_score, emotion FROM mention WHERE id = :id"),
        {"id": mention_id},
    ).one()
    assert tuple(row) == ("negative", 1.0, "angry")
    label = session.query(SentimentLabel).one()
    assert (label.mention_id, label.label, label.emotion, label.who) == (
        mention_id,
        "negative",
        "angry",
        "publicity_user",  # the signed-in account
    )
    shown = client.get(f"/mentions/{mention_id}")
    assert "人工校正" in shown.text
    wrong = client.post(
        f"/mentions/{mention_id}/sentiment", data={"csrf_token": token.group(1), "label": "好"}
    )
    assert wrong.status_code == 422 and "无效" in wrong.text
    missing = client.post(
        "/mentions/999999/sentiment", data={"csrf_token": token.group(1), "label": "neutral"}
    )
    assert missing.status_code == 404


# ---- features that carry over to other topics ----------------------------------------------


def test_an_unseen_polarity_word_still_counts_and_negation_flips_it() -> None:
    texts = [f"{t}很{w}" for t in TOPICS for w in ("满意", "喜欢")]
    texts += [f"{t}很{w}" for t in TOPICS for w in ("失望", "讨厌")]
    labels = ["positive"] * 12 + ["negative"] * 12
    model = sentiment.train(texts, labels)
    # 感动 and 痛苦 are in the polarity list but in no training text, nor are their characters.
    proba = model.predict_proba(["宿舍很感动", "宿舍很痛苦", "宿舍不感动"])
    positive = model.classes.index("positive")
    assert proba[0, positive] > 0.5 > proba[1, positive]
    assert proba[2, positive] < proba[0, positive], "不 before a positive word counts against"
    plain = sentiment.train(texts, labels, spec=FeatureSpec(lexicon=False))
    plain_proba = plain.predict_proba(["宿舍很感动"])
    assert abs(plain_proba[0, positive] - 0.5) < abs(proba[0, positive] - 0.5)


def test_training_adds_an_emoticon_free_copy_of_posts_with_emoticons() -> None:
    texts = ["食堂很好[哈哈]", "宿舍太差[怒]", "图书馆开门"]
    spec = FeatureSpec()
    x = features.matrix(texts, spec)
    y = np.array(["positive", "negative", "positive"])
    x2, y2, w2 = sentiment._with_emoticon_free_copies(texts, x, y, np.ones(3), spec)
    assert x2.shape[0] == 5
    assert list(y2) == ["positive", "negative", "positive", "positive", "negative"]
    expected = features.matrix(["食堂很好", "宿舍太差"], spec)
    assert (x2[3:] != expected).nnz == 0 and w2.sum() == 5


def test_a_model_file_from_before_the_polarity_list_loads_without_it(tmp_path: Path) -> None:
    old_spec = FeatureSpec(word_pairs=False, lexicon=False)
    model = sentiment.train(
        [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD],
        ["positive"] * 36 + ["negative"] * 36,
        spec=old_spec,
    )
    path = tmp_path / "old.npz"
    model.save(path)
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {"weights": data["weights"], "bias": data["bias"]}
    for key in ("word_pairs", "lexicon"):
        del meta[key]
    np.savez_compressed(path, **arrays, meta=np.array(json.dumps(meta)))
    loaded = sentiment.SentimentModel.load(path)
    assert loaded.spec == old_spec
    assert loaded.predict(["食堂服务很好"])[0][0] == "positive"


def test_boundary_marks_add_features_keep_empty_texts_empty_and_round_trip(
    tmp_path: Path,
) -> None:
    marked = FeatureSpec(marks=True)
    rows, _ = features.hashed(["", "呵呵", "   "], marked)
    plain_rows, _ = features.hashed(["", "呵呵", "   "], FeatureSpec())
    assert set(rows.tolist()) == {1} == set(plain_rows.tolist())
    assert len(rows) > len(plain_rows), "the start and the end form n-grams of their own"
    texts = [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD]
    labels = ["positive"] * 36 + ["negative"] * 36
    plain = sentiment.train(texts, labels)
    # Retraining on top of a model without the marks: same hashed space, folded exactly.
    model = sentiment.train(texts, labels, prior=plain, spec=marked, c=3.0)
    path = tmp_path / "marked.npz"
    model.save(path)
    loaded = sentiment.SentimentModel.load(path)
    assert loaded.spec.marks and not plain.spec.marks
    assert loaded.predict(["", "食堂服务很好", "宿舍糟糕透了"])[0] == ("neutral", 1.0)
    assert [label for label, _ in loaded.predict(["食堂服务很好", "宿舍糟糕透了"])] == [
        "positive",
        "negative",
    ]
    with pytest.raises(ValueError, match="buckets"):
        sentiment.train(texts, labels, prior=plain, spec=FeatureSpec(n_bits=16))


def test_retraining_uses_the_boundary_marks() -> None:
    texts = [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD]
    model = service.fit(texts, ["positive"] * 36 + ["negative"] * 36, kind="sentiment", meta={})
    assert model.spec.marks == service.RETRAIN_MARKS
    assert model.spec.n_bits == service.shipped_model().spec.n_bits


def test_balanced_threshold_finds_nine_negatives_in_ten_when_it_can() -> None:
    # 100 negatives and 100 positives: above 0.45 sit 80 negatives and no positive (the
    # best F1 alone), down to 0.3 the other 20 negatives with 30 positives.
    rng = np.random.default_rng(3)
    p_negative = np.concatenate(
        [rng.uniform(0.46, 0.9, 80), rng.uniform(0.31, 0.44, 20), rng.uniform(0.31, 0.44, 30)]
    )
    p_negative = np.concatenate([p_negative, rng.uniform(0.0, 0.29, 70)])
    is_negative = np.arange(200) < 100
    thresholds = sentiment.fit_thresholds(p_negative, is_negative)
    flagged = p_negative >= thresholds["balanced"]
    assert (flagged & is_negative).sum() >= 0.9 * is_negative.sum()
    assert thresholds["high"] <= thresholds["balanced"] <= thresholds["quiet"]
    # When no threshold up to 0.5 finds 90 %, 平衡 is the best F1 as before.
    weak = np.where(is_negative, rng.uniform(0.0, 1.0, 200) * 0.5 + 0.3, 0.2)
    assert sentiment.fit_thresholds(weak, is_negative)["balanced"] <= 0.5


def test_retraining_reads_its_thresholds_off_out_of_fold_labels() -> None:
    texts = [f"{t}{g}" for t in TOPICS for g in GOOD] + [f"{t}{b}" for t in TOPICS for b in BAD]
    texts += [f"{t}的{x}" for t in TOPICS for x in ("通知", "安排", "时间")]
    labels = ["positive"] * 36 + ["negative"] * 36 + ["negative", "positive"] * 9
    folded = sentiment.train(texts, labels, c=3.0, threshold_folds=3)
    one_part = sentiment.train(texts, labels, c=3.0)
    assert set(folded.thresholds) == {"high", "balanced", "quiet"}
    # Same weights and temperature: only where the thresholds were read differs.
    assert np.array_equal(folded.weights, one_part.weights)
    assert folded.temperature == one_part.temperature
    assert service.RETRAIN_THRESHOLD_FOLDS >= 2
