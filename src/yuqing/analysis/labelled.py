"""Labelled example files (TSV, JSON list, JSONL, CSV) and the scores of a model on them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from yuqing.analysis.sentiment import EMOTIONS, SentimentModel

_SENTIMENT_ALIASES = {
    "1": "positive",
    "0": "negative",
    "2": "neutral",
    "positive": "positive",
    "pos": "positive",
    "正面": "positive",
    "neutral": "neutral",
    "中性": "neutral",
    "negative": "negative",
    "neg": "negative",
    "负面": "negative",
}
_EMOTION_ALIASES = {name: name for name in EMOTIONS} | {
    "无情绪": "neutral",
    "喜悦": "happy",
    "愤怒": "angry",
    "悲伤": "sad",
    "恐惧": "fear",
    "惊奇": "surprise",
}


class LabelledFileError(ValueError):
    """A labelled file that cannot be read; the message names the file and the row."""


@dataclass
class Scores:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted)."""

    accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]]
    count: int


def normalise_label(raw: str, *, emotion: bool) -> str | None:
    """A label in the model's words, or None when it is not one we know."""
    aliases = _EMOTION_ALIASES if emotion else _SENTIMENT_ALIASES
    return aliases.get(raw.strip().lower())


def read_labelled(path: Path, *, emotion: bool = False) -> tuple[list[str], list[str]]:
    """Texts and labels of a file: TSV ``label<TAB>text`` (a header row is skipped), a JSON
    list or JSON lines of ``{content|text, label}``, or CSV with ``label`` and ``text``."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise LabelledFileError(f"无法读取标注文件 {path}：{error}") from error
    records = _records(path, raw)
    texts: list[str] = []
    labels: list[str] = []
    for number, (label, text) in enumerate(records, start=1):
        known = normalise_label(label, emotion=emotion)
        if known is None:
            if number == 1 and path.suffix.lower() in (".tsv", ".txt"):
                continue  # a header row
            raise LabelledFileError(f"标注文件 {path} 第 {number} 条的标签“{label}”无法识别。")
        texts.append(text)
        labels.append(known)
    if not texts:
        raise LabelledFileError(f"标注文件 {path} 中没有可用的标注。")
    return texts, labels


def _records(path: Path, raw: str) -> list[tuple[str, str]]:
    stripped = raw.lstrip()
    if stripped.startswith("["):
        try:
            return [_from_object(path, item) for item in json.loads(stripped)]
        except json.JSONDecodeError as error:
            raise LabelledFileError(f"标注文件 {path} 不是有效的 JSON：{error}") from error
    if stripped.startswith("{"):
        rows = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(_from_object(path, json.loads(line)))
                except json.JSONDecodeError as error:
                    raise LabelledFileError(f"标注文件 {path} 第 {number} 行不是 JSON。") from error
        return rows
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(raw))
        return [
            (row.get("label") or "", row.get("text") or row.get("content") or "") for row in reader
        ]
    rows = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, tab, text = line.partition("\t")
        if not tab:
            raise LabelledFileError(
                f"标注文件 {path} 第 {number} 行缺少制表符（应为 标签<TAB>文本）。"
            )
        rows.append((label, text))
    return rows


def _from_object(path: Path, item: object) -> tuple[str, str]:
    if not isinstance(item, dict) or "label" not in item:
        raise LabelledFileError(f"标注文件 {path} 中有一条记录缺少 label。")
    text = item.get("content", item.get("text", ""))
    return str(item["label"]), str(text or "")


def score(model: SentimentModel, texts: list[str], labels: list[str]) -> Scores:
    """How the model's labels compare with the given ones; macro-F1 averages over the classes
    in the given labels (a predicted class that is never true counts as an error only)."""
    predicted = [label for label, _ in model.predict(texts)]
    order = [c for c in (*model.classes, "neutral", *EMOTIONS) if c in set(labels) | set(predicted)]
    order = list(dict.fromkeys(order))
    true_classes = [c for c in order if c in set(labels)]
    return Scores(
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(
            f1_score(labels, predicted, labels=true_classes, average="macro", zero_division=0)
        ),
        labels=order,
        confusion=np.asarray(confusion_matrix(labels, predicted, labels=order)).tolist(),
        count=len(labels),
    )
