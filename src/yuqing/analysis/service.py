"""Analysts' sentiment corrections and retraining from them, with the acceptance rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sqlalchemy import text
from sqlalchemy.orm import Session

from yuqing.analysis import sentiment
from yuqing.analysis.labelled import Scores, read_labelled, score
from yuqing.analysis.models import SentimentLabel
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow

MIN_CORRECTIONS = 30
"""Below this many corrections (or with fewer than two labels among them) the held-out part
comes from the given files instead (see docs/sentiment.md)."""
HOLD_OUT = 0.2
SEED = 13


class MentionNotFound(LookupError):
    def __init__(self, mention_id: int) -> None:
        super().__init__(f"信息 #{mention_id} 不存在。")


class LabelError(ValueError):
    """A label the desk does not know."""


def record_label(
    session: Session,
    *,
    mention_id: int,
    label: str,
    emotion: str | None = None,
    actor: Actor = audit.SYSTEM,
) -> SentimentLabel:
    """Store an analyst's label and make it the mention's sentiment (score 1.0); audited."""
    if label not in sentiment.SENTIMENTS:
        raise LabelError(f"情感标签“{label}”无效，应为 正面/中性/负面。")
    if emotion is not None and emotion not in sentiment.EMOTIONS:
        raise LabelError(f"情绪标签“{emotion}”无效。")
    before = session.execute(
        text("SELECT sentiment, emotion FROM mention WHERE id = :id"), {"id": mention_id}
    ).first()
    if before is None:
        raise MentionNotFound(mention_id)
    row = SentimentLabel(
        mention_id=mention_id,
        label=label,
        emotion=emotion,
        who=actor.name[:100],
        created_at=utcnow(),
    )
    session.add(row)
    session.execute(
        text(
            "UPDATE mention SET sentiment = :label, sentiment_score = 1.0, "
            "emotion = COALESCE(:emotion, emotion) WHERE id = :id"
        ),
        {"label": label, "emotion": emotion, "id": mention_id},
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="mention",
        object_id=mention_id,
        summary=f"人工校正信息 {mention_id} 的情感为 {label}",
        changes=audit.diff(
            {"sentiment": before[0], "emotion": before[1]},
            {"sentiment": label, "emotion": emotion or before[1]},
        ),
    )
    return row


def latest_label(session: Session, *, mention_id: int) -> SentimentLabel | None:
    return (
        session.query(SentimentLabel)
        .filter(SentimentLabel.mention_id == mention_id)
        .order_by(SentimentLabel.id.desc())
        .first()
    )


def corrections(session: Session, *, emotion: bool = False) -> tuple[list[str], list[str]]:
    """Texts (title and body) and labels of the latest correction of each mention."""
    column = "emotion" if emotion else "label"
    rows = session.execute(
        text(
            f"SELECT m.title, m.text, l.{column} FROM sentiment_label l "
            "JOIN mention m ON m.id = l.mention_id "
            "WHERE l.id IN (SELECT MAX(id) FROM sentiment_label GROUP BY mention_id) "
            f"AND l.{column} IS NOT NULL ORDER BY l.id"
        )
    ).all()
    texts = [f"{title or ''}\n{body or ''}".strip() for title, body, _ in rows]
    return texts, [str(label) for _, _, label in rows]


@dataclass
class TrainReport:
    """What ``train`` did: the held-out part it compared on and whether the new model won."""

    kind: str
    hold_out_from: str  # corrections | files
    corrections: int
    file_examples: int
    candidate: Scores
    current: Scores | None
    accepted: bool
    path: Path | None
    notes: list[str] = field(default_factory=list)


def _split(texts: list[str], labels: list[str]) -> tuple[list[int], list[int]]:
    index = np.arange(len(labels))
    y = np.asarray(labels)
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and len(labels) * HOLD_OUT >= len(counts) else None
    fit, held = train_test_split(index, test_size=HOLD_OUT, random_state=SEED, stratify=stratify)
    return sorted(fit.tolist()), sorted(held.tolist())


def _enough(labels: list[str]) -> bool:
    return len(labels) >= MIN_CORRECTIONS and len(set(labels)) >= 2


def train(session: Session, *, files: list[Path], emotion: bool = False) -> TrainReport:
    """Retrain from the corrections plus the labelled files; keep the new model only if its
    macro-F1 on the held-out part beats the current model's."""
    kind = "emotion" if emotion else "sentiment"
    c_texts, c_labels = corrections(session, emotion=emotion)
    f_texts: list[str] = []
    f_labels: list[str] = []
    for file in files:
        t, lab = read_labelled(file, emotion=emotion)
        f_texts += t
        f_labels += lab
    notes: list[str] = []
    if _enough(c_labels):
        source, pool_t, pool_l, rest_t, rest_l = "corrections", c_texts, c_labels, f_texts, f_labels
    else:
        notes.append(
            f"人工校正只有 {len(c_labels)} 条（少于 {MIN_CORRECTIONS} 条或只有一种标签），"
            "改用所给文件的留出部分比较。"
        )
        if not _enough(f_labels):
            raise sentiment.TrainingDataError(
                f"标注太少：人工校正 {len(c_labels)} 条、文件 {len(f_labels)} 条，"
                f"至少需要其一有 {MIN_CORRECTIONS} 条且含两种以上标签。"
            )
        source, pool_t, pool_l, rest_t, rest_l = "files", f_texts, f_labels, c_texts, c_labels
    fit, held = _split(pool_t, pool_l)
    train_t = [pool_t[i] for i in fit] + rest_t
    train_l = [pool_l[i] for i in fit] + rest_l
    held_t = [pool_t[i] for i in held]
    held_l = [pool_l[i] for i in held]
    meta = {"origin": "retrained", "corrections": len(c_labels), "file_examples": len(f_labels)}
    candidate_model = sentiment.train(train_t, train_l, kind=kind, meta=meta)
    candidate = score(candidate_model, held_t, held_l)
    current_model = _current(kind)
    current = score(current_model, held_t, held_l) if current_model else None
    accepted = current is None or candidate.macro_f1 > current.macro_f1
    path: Path | None = None
    if accepted:
        path = sentiment.model_path(kind, retrained=True)
        candidate_model.meta["held_out_macro_f1"] = candidate.macro_f1
        candidate_model.save(path)
        sentiment.forget_models()
    return TrainReport(
        kind, source, len(c_labels), len(f_labels), candidate, current, accepted, path, notes
    )


def _current(kind: str) -> sentiment.SentimentModel | None:
    if kind == "emotion":
        return sentiment.get_emotion_model()
    return sentiment.get_sentiment_model()
