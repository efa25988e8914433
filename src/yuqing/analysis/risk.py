"""Risk score 0–100 of a mention (风险分), the sum of named parts so people can see why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import NamedTuple

import orjson


@dataclass(frozen=True, slots=True)
class RiskWeights:
    """Points each factor can give; the defaults are documented in docs/places-and-risk.md."""

    negative: float = 40.0  # × P(negative)
    neutral: float = 5.0  # a neutral item still may turn
    scheme: float = 10.0  # × sum of the matched schemes' weights
    scheme_cap: float = 25.0
    source: float = 10.0  # × source weight (1.0 = an ordinary source)
    source_cap: float = 20.0
    spread: float = 5.0  # × log2(1 + copies)
    spread_cap: float = 25.0
    sensitive: float = 5.0  # per sensitive word hit
    sensitive_cap: float = 15.0
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # Weights key the remembered parts on every call: hash them once.
        values = tuple(getattr(self, f.name) for f in fields(self) if f.compare)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:
        return self._hash


DEFAULT_WEIGHTS = RiskWeights()
CAP = 100


class RiskPart(NamedTuple):
    """One reason for the score: a Chinese label, its points and the figures behind them."""

    name: str
    points: int
    reason: str


class RiskScore(NamedTuple):
    """The score and the parts it is the sum of (a part "超出上限" takes off what passes 100)."""

    score: int
    parts: list[RiskPart]

    def to_json(self) -> str:
        """Compact JSON for ``mention.risk_parts``: ``{"s":72,"p":[["负面情感",37,"…"],…]}``."""
        parts = [[p.name, p.points, p.reason] for p in self.parts]
        return orjson.dumps({"s": self.score, "p": parts}).decode()

    @classmethod
    def from_json(cls, text: str) -> RiskScore:
        """The score stored by :meth:`to_json`."""
        data = orjson.loads(text)
        return cls(data["s"], [RiskPart(n, int(pt), r) for n, pt, r in data["p"]])


@lru_cache(maxsize=4096)
def _sentiment_part(sentiment: str | None, prob: float, w: RiskWeights) -> RiskPart | None:
    if sentiment == "negative":
        return RiskPart("负面情感", round(w.negative * prob), f"负面概率 {prob:.2f}")
    if sentiment == "neutral":
        return RiskPart("中性情感", round(w.neutral), "中性，可能转向")
    return None


@lru_cache(maxsize=4096)
def _scheme_part(schemes: int, weight_sum: float, w: RiskWeights) -> RiskPart:
    points = round(min(w.scheme * weight_sum, w.scheme_cap))
    return RiskPart("监测方案", points, f"命中 {schemes} 个方案，权重合计 {weight_sum:g}")


@lru_cache(maxsize=4096)
def _source_part(source_weight: float, w: RiskWeights) -> RiskPart:
    points = round(min(w.source * source_weight, w.source_cap))
    return RiskPart("来源权重", points, f"来源权重 {source_weight:g}")


@lru_cache(maxsize=4096)
def _spread_part(spread: int, w: RiskWeights) -> RiskPart:
    points = round(min(w.spread * math.log2(1 + spread), w.spread_cap))
    return RiskPart("传播范围", points, f"相同或相似 {spread} 条")


@lru_cache(maxsize=4096)
def _sensitive_part(hits: int, w: RiskWeights) -> RiskPart:
    points = round(min(w.sensitive * hits, w.sensitive_cap))
    return RiskPart("敏感词", points, f"命中敏感词 {hits} 次")


def score(
    *,
    sentiment: str | None,
    sentiment_score: float | None,
    scheme_weights: list[float],
    source_weight: float = 1.0,
    spread: int = 0,
    sensitive_hits: int = 0,
    weights: RiskWeights = DEFAULT_WEIGHTS,
) -> RiskScore:
    """The risk of one mention from its sentiment, schemes, source, spread and sensitive words.

    Each factor gives points up to its own cap; the total is capped at 100 by a last,
    negative part "超出上限", so the parts always add up to the score.
    """
    # Each part is remembered (mentions repeat the same few values; probabilities are rounded
    # to 0.01 like their reason), so a call is mostly dictionary lookups.
    w = weights
    prob = 1.0 if sentiment_score is None else round(min(max(sentiment_score, 0.0), 1.0), 2)
    found = [
        _sentiment_part(sentiment, prob, w),
        _scheme_part(len(scheme_weights), max(sum(scheme_weights), 0.0), w)
        if scheme_weights
        else None,
        _source_part(source_weight, w),
        _spread_part(spread, w) if spread > 0 else None,
        _sensitive_part(sensitive_hits, w) if sensitive_hits > 0 else None,
    ]
    parts = [p for p in found if p is not None and p.points > 0]
    total = 0
    for part in parts:
        total += part.points
    if total > CAP:
        parts.append(RiskPart("超出上限", CAP - total, f"合计 {total} 分，封顶 {CAP} 分"))
        total = CAP
    return RiskScore(total, parts)
