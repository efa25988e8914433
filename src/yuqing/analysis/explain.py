"""Which cues drove a sentiment label (判断依据): each word of a text with the weight its
features carry towards negative, and the lexicon hits, read from the model's own weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rjieba

from yuqing.analysis import features
from yuqing.analysis.sentiment import SentimentModel

_U64 = (1 << 64) - 1
_KIND_NAMES = {1: "褒义词", -1: "贬义词"}


@dataclass(frozen=True)
class Cue:
    """A word or lexicon hit and its push towards negative (log-odds; below 0: positive)."""

    text: str
    weight: float
    kind: str  # word | polarity | complaint


def _bucket(value: int, spec: features.FeatureSpec) -> int:
    return ((value * int(features._FOLD)) & _U64) >> (64 - spec.n_bits)


def _salted(poly: int, salt: object) -> int:
    return (poly * int(features._P) + int(salt)) & _U64  # type: ignore[call-overload]


def _direction(model: SentimentModel) -> np.ndarray:
    neg = model.classes.index("negative")
    others = [i for i in range(len(model.classes)) if i != neg]
    return model.weights[neg] - model.weights[others].mean(axis=0)


def explain(model: SentimentModel, text: str, *, top: int = 5) -> tuple[list[Cue], list[Cue]]:
    """The strongest cues towards negative and towards not negative, ``top`` of each."""
    if model.kind != "sentiment" or "negative" not in model.classes:
        return [], []
    prepared = features.prepare(text)
    if not prepared:
        return [], []
    spec = model.spec
    direction = _direction(model)
    rows, _ = features.hashed([text], spec)
    scale = float(features.row_scale(rows, 1)[0]) / model.temperature
    cues = _word_cues(prepared, spec, direction, scale)
    cues += _lexicon_cues(prepared, spec, direction, scale)
    towards = sorted((c for c in cues if c.weight > 0.05), key=lambda c: -c.weight)
    against = sorted((c for c in cues if c.weight < -0.05), key=lambda c: c.weight)
    return towards[:top], against[:top]


def _ngram_weight(chars: str, spec: features.FeatureSpec, direction: np.ndarray) -> float:
    """The weight of every character 1–3-gram inside ``chars``."""
    total = 0.0
    for n in (1, 2, 3):
        for i in range(len(chars) - n + 1):
            poly = features._polynomial(chars[i : i + n])
            total += float(direction[_bucket(_salted(poly, features._SALT[n]), spec)])
    return total


def _word_cues(
    prepared: str, spec: features.FeatureSpec, direction: np.ndarray, scale: float
) -> list[Cue]:
    seen: dict[str, float] = {}
    for token in rjieba.cut(prepared):
        if not token.strip() or token in seen:
            continue
        weight = _ngram_weight(token, spec, direction)
        if spec.words and len(token) > 1:
            poly = features._polynomial(token)
            weight += float(direction[_bucket(_salted(poly, features._SALT["word"]), spec)])
        seen[token] = weight * scale
    return [Cue(t, w, "word") for t, w in seen.items()]


def _lexicon_cues(
    prepared: str, spec: features.FeatureSpec, direction: np.ndarray, scale: float
) -> list[Cue]:
    cues: list[Cue] = []

    def weight(code: int) -> float:
        bucket = _bucket(_salted(code, features._SALT["lexicon"]), spec)
        return float(direction[bucket]) * scale

    if spec.complaints and (pattern := features.complaint_pattern()) is not None:
        for match in pattern.finditer(prepared):
            start = match.start()
            negated = any(
                c in features.COMPLAINT_NEGATIONS for c in prepared[max(start - 2, 0) : start]
            )
            name = f"投诉类词语「{match.group()}」" + ("（前有否定）" if negated else "")
            cues.append(Cue(name, weight(6 if negated else 5), "complaint"))
    if spec.lexicon:
        keys, kinds = features._lexicon_table()
        lookup = dict(zip(keys.tolist(), kinds.tolist(), strict=True))
        for token in dict.fromkeys(rjieba.cut(prepared)):
            kind = lookup.get(features._polynomial(token))
            if kind in _KIND_NAMES:
                code = (1 if kind > 0 else 0) + 1
                cues.append(Cue(f"{_KIND_NAMES[kind]}「{token}」", weight(code), "polarity"))
    return cues
