"""Labelled example files (TSV, JSON list, JSONL, CSV) and the scores of a model on them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from yuqing.analysis.sentiment import EMOTIONS, SENTIMENTS, SentimentModel
from yuqing.core.labels import SENTIMENT_LABELS

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


LABEL_COLUMNS = ("label", "labels", "标签", "标注", "sentiment", "情感", "polarity", "y")
TEXT_COLUMNS = ("text", "content", "文本", "内容", "正文", "review", "sentence", "comment")


@dataclass
class ClassScores:
    """Precision, recall and F1 of one class, and how many examples have it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Scores:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted).

    For a file with the two polarities only, a predicted neutral counts for the likelier
    polarity, so the matrix is 2×2 and macro-F1 averages the same two classes the accuracy
    counts."""

    accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]]
    count: int
    per_class: dict[str, ClassScores] = field(default_factory=dict)
    neutral_mapped: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "count": self.count,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
        }
        for label, c in self.per_class.items():
            out[label] = {
                "precision": round(c.precision, 4),
                "recall": round(c.recall, 4),
                "f1": round(c.f1, 4),
                "support": c.support,
            }
        out["labels"] = self.labels
        out["confusion"] = self.confusion
        out["neutral_mapped"] = self.neutral_mapped
        return out


def normalise_label(raw: str, *, emotion: bool) -> str | None:
    """A label in the model's words, or None when it is not one we know."""
    aliases = _EMOTION_ALIASES if emotion else _SENTIMENT_ALIASES
    return aliases.get(raw.strip().lower())


def parse_map(text: str, *, emotion: bool = False) -> dict[str, str]:
    """``0=positive,1=negative`` as a dict from the file's labels to the model's labels."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        raw, equals, target = part.partition("=")
        known = normalise_label(target, emotion=emotion) if equals else None
        if not raw.strip() or known is None:
            raise LabelledFileError(
                f"--map 中的“{part}”无法识别：应写成 文件中的标签=positive/neutral/negative"
                "（或 正面/中性/负面），多项用逗号分隔，如 0=positive,1=negative。"
            )
        mapping[raw.strip().lower()] = known
    if not mapping:
        raise LabelledFileError("--map 为空：如 0=positive,1=negative,2=negative。")
    return mapping


def read_labelled(
    path: Path, *, emotion: bool = False, mapping: dict[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """Texts and labels of a file: TSV ``label<TAB>text`` (a header row is skipped), CSV with a
    header naming the label and text columns, a JSON list or JSON lines of
    ``{content|text, label}``. ``mapping`` translates the file's own labels first."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise LabelledFileError(f"无法读取标注文件 {path}：{error}") from error
    records, has_header = _records(path, raw)
    texts: list[str] = []
    labels: list[str] = []
    for number, (label, text) in enumerate(records, start=1):
        key = label.strip().lower()
        known = mapping.get(key) if mapping else normalise_label(label, emotion=emotion)
        if known is None:
            if number == 1 and not has_header and path.suffix.lower() in (".tsv", ".txt"):
                continue  # a header row
            hint = "（--map 中没有这个标签）" if mapping else "（其他标签集请用 --map 对应）"
            raise LabelledFileError(
                f"标注文件 {path} 第 {number} 条的标签“{label}”无法识别{hint}。"
            )
        texts.append(text)
        labels.append(known)
    if not texts:
        raise LabelledFileError(f"标注文件 {path} 中没有可用的标注。")
    return texts, labels


def _records(path: Path, raw: str) -> tuple[list[tuple[str, str]], bool]:
    """The (label, text) rows of a file and whether it had a header naming its columns."""
    stripped = raw.lstrip()
    if stripped.startswith("["):
        try:
            return [_from_object(path, item) for item in json.loads(stripped)], True
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
        return rows, True
    lines = (line for line in stripped.splitlines() if line.strip() and line[0] != "#")
    first = next(lines, "")
    names = {h.strip().lower() for h in next(csv.reader([first]), [])}
    named = bool(names & set(LABEL_COLUMNS)) and "\t" not in first
    if path.suffix.lower() == ".csv" or named:
        return _csv(path, raw), True
    return _tsv(path, raw), False


def _csv(path: Path, raw: str) -> list[tuple[str, str]]:
    """CSV whose header names a label column and a text column (any order, more allowed)."""
    reader = csv.reader(io.StringIO(raw))
    header = [h.strip().lower() for h in next(reader, [])]
    label_at = next((header.index(n) for n in LABEL_COLUMNS if n in header), None)
    text_at = next((header.index(n) for n in TEXT_COLUMNS if n in header), None)
    if label_at is None or text_at is None:
        raise LabelledFileError(
            f"标注文件 {path} 是逗号分隔的表格，但第 1 行没有同时写出标签列和文本列"
            f"（标签列可叫 label/标签，文本列可叫 text/content/文本；第 1 行是：{','.join(header)}）。"
        )
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(label_at, text_at):
            raise LabelledFileError(f"标注文件 {path} 第 {number} 行的列数少于表头。")
        rows.append((row[label_at], row[text_at]))
    return rows


def _tsv(path: Path, raw: str) -> list[tuple[str, str]]:
    rows = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, tab, text = line.partition("\t")
        if not tab:
            raise LabelledFileError(
                f"标注文件 {path} 第 {number} 行缺少制表符（应为 标签<TAB>文本；"
                "逗号分隔的文件请在第 1 行写出列名，如 label,text）。"
            )
        rows.append((label, text))
    return rows


def _from_object(path: Path, item: object) -> tuple[str, str]:
    if not isinstance(item, dict) or "label" not in item:
        raise LabelledFileError(f"标注文件 {path} 中有一条记录缺少 label。")
    text = item.get("content", item.get("text", ""))
    return str(item["label"]), str(text or "")


def check_labels(labels: list[str], *, path: Path | str = "") -> None:
    """Refuse a file with one label only: nothing can be compared on it."""
    found = sorted(set(labels))
    if len(found) < 2:
        only = SENTIMENT_LABELS.get(found[0], found[0]) if found else "无"
        raise LabelledFileError(
            f"标注文件 {path} 只有一种标签（{only}），无法计算准确率和 F1；"
            "请放入至少两种标签的标注，或用 --map 对应标签。"
        )


def score(model: SentimentModel, texts: list[str], labels: list[str]) -> Scores:
    """How the model's labels compare with the given ones. Without neutral among the given
    sentiment labels, a predicted neutral goes to the likelier polarity (the file cannot
    say whether neutral was right); macro-F1 averages over the classes of the matrix."""
    predictions = model.predict(texts)
    predicted = [label for label, _ in predictions]
    mapped = 0
    if model.kind == "sentiment" and "neutral" not in labels and "neutral" in predicted:
        p_neg = model.negative_probability(texts)
        for i, label in enumerate(predicted):
            if label == "neutral":
                predicted[i] = "negative" if p_neg[i] >= 0.5 else "positive"
                mapped += 1
    present = set(labels) | set(predicted)
    order = [c for c in (*SENTIMENTS, *EMOTIONS) if c in present]
    order = list(dict.fromkeys(order))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=order, zero_division=0
    )
    per_class = {
        label: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, label in enumerate(order)
    }
    return Scores(
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(np.mean(f1)) if len(order) else 0.0,
        labels=order,
        confusion=np.asarray(confusion_matrix(labels, predicted, labels=order)).tolist(),
        count=len(labels),
        per_class=per_class,
        neutral_mapped=mapped,
    )
