"""Sentiment (正面/中性/负面) and emotion models: hashed features, NB-weighted linear classes,
temperature-calibrated probabilities, stored as one compact ``.npz`` file each."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from yuqing.analysis import features
from yuqing.analysis.features import FeatureSpec
from yuqing.core.settings import get_settings

SENTIMENTS = ("positive", "neutral", "negative")
EMOTIONS = ("neutral", "happy", "angry", "sad", "fear", "surprise")
SENTIMENT_NAMES = {"positive": "正面", "neutral": "中性", "negative": "负面"}
EMOTION_NAMES = {
    "neutral": "无情绪",
    "happy": "喜悦",
    "angry": "愤怒",
    "sad": "悲伤",
    "fear": "恐惧",
    "surprise": "惊奇",
}

NEUTRAL_THRESHOLD = 0.7
"""A model trained on two polarities calls a text neutral when neither polarity reaches this
calibrated probability (see docs/sentiment.md)."""

BATCH = 2000
SHIPPED_DIR = Path(__file__).parent / "data"


class ModelFileError(Exception):
    """A model file that cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"模型文件 {path} 无法读取：{reason}")
        self.path = path


class TrainingDataError(ValueError):
    """Labelled examples that cannot train a model (too few, one class only)."""


@dataclass
class SentimentModel:
    """A linear classifier over hashed features; ``predict`` is the pipeline's interface.

    ``weights`` has one row per class (for two classes the rows are opposite halves of one
    logistic regression, so the softmax is the sigmoid of the regression)."""

    kind: str  # sentiment | emotion
    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    temperature: float
    spec: FeatureSpec
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def binary_polarity(self) -> bool:
        return self.kind == "sentiment" and "neutral" not in self.classes

    def logits(self, texts: list[str]) -> np.ndarray:
        rows, cols = features.hashed(texts, self.spec)
        scale = features.row_scale(rows, len(texts))
        out = np.empty((len(texts), len(self.classes)), dtype=np.float64)
        for k in range(len(self.classes)):
            out[:, k] = np.bincount(rows, weights=self.weights[k][cols], minlength=len(texts))
        # A text with no features (empty, white space) has no evidence: all logits 0, so a
        # two-polarity model calls it neutral rather than following the bias.
        has_features = np.bincount(rows, minlength=len(texts)) > 0
        return (out * scale[:, None] + self.bias) * has_features[:, None]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, one column per entry of ``classes``."""
        parts = [
            _softmax(self.logits(texts[i : i + BATCH]) / self.temperature)
            for i in range(0, len(texts), BATCH)
        ]
        return np.vstack(parts) if parts else np.empty((0, len(self.classes)))

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """The label of each text and the calibrated probability of that label. A two-polarity
        sentiment model answers ``neutral`` below ``NEUTRAL_THRESHOLD``, with the score
        ``1 - |P(positive) - P(negative)|`` (how undecided the model is)."""
        proba = self.predict_proba(texts)
        best = proba.argmax(axis=1)
        top = proba[np.arange(len(texts)), best]
        labels = [self.classes[i] for i in best]
        if not self.binary_polarity:
            return [(label, float(p)) for label, p in zip(labels, top, strict=True)]
        undecided = 1.0 - np.abs(proba[:, 0] - proba[:, 1])
        return [
            ("neutral", float(u)) if p < NEUTRAL_THRESHOLD else (label, float(p))
            for label, p, u in zip(labels, top, undecided, strict=True)
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            **self.meta,
            "kind": self.kind,
            "classes": list(self.classes),
            "temperature": self.temperature,
            "n_bits": self.spec.n_bits,
            "words": self.spec.words,
            "word_pairs": self.spec.word_pairs,
            "lexicon": self.spec.lexicon,
        }
        # float16 halves the file; the weights' precision is far above what the data supports.
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                weights=self.weights.astype(np.float16),
                bias=self.bias.astype(np.float64),
                meta=np.array(json.dumps(meta, ensure_ascii=False)),
            )

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                weights = data["weights"].astype(np.float32)
                bias = data["bias"]
            # Files written before word pairs and the polarity list had neither.
            spec = FeatureSpec(
                n_bits=int(meta["n_bits"]),
                words=bool(meta["words"]),
                word_pairs=bool(meta.get("word_pairs", False)),
                lexicon=bool(meta.get("lexicon", False)),
            )
            classes = tuple(meta["classes"])
        except (OSError, KeyError, ValueError) as error:
            raise ModelFileError(path, str(error)) from error
        if weights.shape != (len(classes), spec.n_features):
            raise ModelFileError(path, f"权重形状 {weights.shape} 与类别和特征数不符")
        return cls(
            kind=str(meta["kind"]),
            classes=classes,
            weights=weights,
            bias=bias,
            temperature=float(meta["temperature"]),
            spec=spec,
            meta=meta,
        )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# ---- training ------------------------------------------------------------------------------


def _nb_ratio(x: sp.csr_matrix, positive: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Log-count ratio of each feature between the positive and the other texts (NB-SVM)."""
    present = x.copy()
    present.data[:] = 1.0
    p = np.asarray(present.T @ (weight * positive)).ravel() + 1.0
    q = np.asarray(present.T @ (weight * ~positive)).ravel() + 1.0
    return np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)


def _one_vs_rest(
    x: sp.csr_matrix, positive: np.ndarray, weight: np.ndarray, c: float
) -> tuple[np.ndarray, float]:
    ratio = _nb_ratio(x, positive, weight)
    scaled = x @ sp.diags(ratio)
    regression = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    regression.fit(scaled, positive, sample_weight=weight)
    return regression.coef_[0].astype(np.float32) * ratio, float(regression.intercept_[0])


def _fit_linear(
    x: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, classes: tuple[str, ...], c: float
) -> tuple[np.ndarray, np.ndarray]:
    if len(classes) == 2:
        w, b = _one_vs_rest(x, y == classes[1], weight, c)
        return np.vstack([-w / 2, w / 2]), np.array([-b / 2, b / 2])
    rows = [_one_vs_rest(x, y == label, weight, c) for label in classes]
    return np.vstack([w for w, _ in rows]), np.array([b for _, b in rows])


def _fit_temperature(logits: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood on held-out texts."""

    def loss(log_t: float) -> float:
        proba = _softmax(logits / np.exp(log_t))
        return float(-np.log(proba[np.arange(len(y_index)), y_index] + 1e-12).mean())

    result = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x))


def train(
    texts: list[str],
    labels: list[str],
    *,
    kind: str = "sentiment",
    weights: list[float] | None = None,
    c: float = 1.0,
    spec: FeatureSpec | None = None,
    seed: int = 13,
    meta: dict[str, Any] | None = None,
) -> SentimentModel:
    """Train a model on labelled texts; 15 % (stratified) is held back to fit the temperature
    when every class has enough examples, otherwise the temperature stays 1."""
    spec = spec or FeatureSpec()
    y = np.asarray(labels)
    order = SENTIMENTS if kind == "sentiment" else EMOTIONS
    classes = tuple(label for label in order if label in set(labels))
    if len(classes) < 2:
        raise TrainingDataError("训练数据至少需要两种标签。")
    sample_weight = np.asarray(weights if weights is not None else [1.0] * len(texts), float)
    x = features.matrix(texts, spec)
    fit_index, calib_index = _calibration_split(y, seed)
    x_fit, y_fit, weight_fit = _with_emoticon_free_copies(
        [texts[i] for i in fit_index], x[fit_index], y[fit_index], sample_weight[fit_index], spec
    )
    w, b = _fit_linear(x_fit, y_fit, weight_fit, classes, c)
    model = SentimentModel(kind, classes, w, b, 1.0, spec, dict(meta or {}))
    if len(calib_index):
        logits = (x[calib_index] @ w.T) + b
        position = {label: i for i, label in enumerate(classes)}
        y_index = np.array([position[label] for label in y[calib_index]])
        model.temperature = _fit_temperature(np.asarray(logits), y_index)
    model.meta.update({"examples": len(texts), "c": c, "seed": seed})
    return model


def _with_emoticon_free_copies(
    texts: list[str], x: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, spec: FeatureSpec
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The examples plus a copy without Weibo emoticon codes of each that has some: labels
    that follow the emoticons would otherwise teach the model to read nothing else, and it
    would fail on posts without them (measured in docs/sentiment.md)."""
    stripped = [features.strip_emoticons(t) for t in texts]
    changed = np.array([s != t for s, t in zip(stripped, texts, strict=True)], dtype=bool)
    if not changed.any():
        return x, y, weight
    extra = features.matrix([s for s, keep in zip(stripped, changed, strict=True) if keep], spec)
    return (
        sp.vstack([x, extra]).tocsr(),
        np.concatenate([y, y[changed]]),
        np.concatenate([weight, weight[changed]]),
    )


def _calibration_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    if len(y) < 60 or counts.min() < 8:
        return index, index[:0]
    fit, calib = train_test_split(index, test_size=0.15, random_state=seed, stratify=y)
    return np.sort(fit), np.sort(calib)


# ---- the models the desk uses --------------------------------------------------------------


def model_path(kind: str, *, retrained: bool) -> Path:
    """Where a model lives: the retrained one in the data dir, the shipped one in the package."""
    if retrained:
        return Path(get_settings().data_dir) / "models" / f"{kind}.npz"
    return SHIPPED_DIR / f"{kind}.npz"


@lru_cache(maxsize=4)
def _load(kind: str, data_dir: str) -> SentimentModel | None:
    for retrained in (True, False):
        path = model_path(kind, retrained=retrained)
        if path.is_file():
            return SentimentModel.load(path)
    return None


def get_sentiment_model() -> SentimentModel:
    """The sentiment model in use: the accepted retrained file if any, else the shipped one."""
    model = _load("sentiment", str(get_settings().data_dir))
    if model is None:
        raise ModelFileError(model_path("sentiment", retrained=False), "文件不存在")
    return model


def get_emotion_model() -> SentimentModel | None:
    """The emotion model in use, or None when neither a shipped nor a trained one exists."""
    return _load("emotion", str(get_settings().data_dir))


def forget_models() -> None:
    """Drop the cached models (after a retrained model was accepted)."""
    _load.cache_clear()
