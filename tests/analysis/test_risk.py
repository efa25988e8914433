"""Risk score: grows with each factor, stays within 0–100, parts add up, JSON round-trip."""

from __future__ import annotations

from typing import Any

import pytest

from yuqing.analysis.risk import RiskPart, RiskScore, RiskWeights, score

BASE: dict[str, Any] = {
    "sentiment": "negative",
    "sentiment_score": 0.5,
    "scheme_weights": [1.0],
    "source_weight": 1.0,
    "spread": 2,
    "sensitive_hits": 0,
}


def risk(**changes: Any) -> RiskScore:
    return score(**{**BASE, **changes})


@pytest.mark.parametrize(
    ("factor", "values"),
    [
        ("sentiment_score", [0.0, 0.1, 0.5, 0.73, 0.9, 1.0]),
        ("scheme_weights", [[], [0.5], [1.0], [1.0, 0.5], [2.0, 2.0, 3.0]]),
        ("source_weight", [0.0, 0.3, 1.0, 1.5, 5.0]),
        ("spread", [0, 1, 3, 10, 100, 100_000]),
        ("sensitive_hits", [0, 1, 2, 3, 10]),
    ],
)
def test_score_grows_with_each_factor(factor: str, values: list[Any]) -> None:
    scores = [risk(**{factor: v}).score for v in values]
    assert scores == sorted(scores)
    assert scores[-1] > scores[0]


def test_negative_beats_neutral_beats_positive() -> None:
    positive = risk(sentiment="positive", sentiment_score=0.9).score
    unknown = risk(sentiment=None, sentiment_score=None).score
    neutral = risk(sentiment="neutral", sentiment_score=0.9).score
    negative = risk(sentiment="negative", sentiment_score=0.9).score
    assert positive == unknown < neutral < negative


def test_capped_at_100_and_parts_add_up() -> None:
    top = risk(
        sentiment_score=1.0,
        scheme_weights=[5.0],
        source_weight=9.0,
        spread=10_000,
        sensitive_hits=50,
    )
    assert top.score == 100
    assert sum(p.points for p in top.parts) == 100
    assert top.parts[-1].name == "超出上限" and top.parts[-1].points < 0


def test_parts_add_up_and_stay_in_range_for_many_inputs() -> None:
    for prob in (None, 0.0, 0.33, 0.99):
        for weights in ([], [1.0], [0.5, 3.0]):
            for spread in (0, 5, 500):
                for hits in (0, 2, 9):
                    for sentiment in ("negative", "neutral", "positive", None):
                        result = score(
                            sentiment=sentiment,
                            sentiment_score=prob,
                            scheme_weights=weights,
                            spread=spread,
                            sensitive_hits=hits,
                        )
                        assert 0 <= result.score <= 100
                        assert sum(p.points for p in result.parts) == result.score


def test_parts_say_why_in_chinese() -> None:
    result = risk(sentiment_score=0.92, spread=3, sensitive_hits=1)
    by_name = {p.name: p for p in result.parts}
    assert by_name["负面情感"] == RiskPart("负面情感", 37, "负面概率 0.92")
    assert by_name["传播范围"].reason == "相同或相似 3 条"
    assert by_name["敏感词"].reason == "命中敏感词 1 次"
    assert "监测方案" in by_name and "来源权重" in by_name
    assert all(p.points > 0 for p in result.parts)


def test_worked_example_in_the_docs() -> None:
    result = score(
        sentiment="negative",
        sentiment_score=0.92,
        scheme_weights=[1.0, 0.5],
        source_weight=1.5,
        spread=7,
        sensitive_hits=1,
    )
    assert [(p.name, p.points) for p in result.parts] == [
        ("负面情感", 37),
        ("监测方案", 15),
        ("来源权重", 15),
        ("传播范围", 15),
        ("敏感词", 5),
    ]
    assert result.score == 87


def test_weights_are_editable() -> None:
    default = risk(sentiment_score=1.0)
    louder = risk(sentiment_score=1.0, weights=RiskWeights(negative=60.0))
    silent = risk(sentiment_score=1.0, weights=RiskWeights(source=0.0))
    assert louder.score == default.score + 20
    assert silent.score == default.score - 10
    assert all(p.name != "来源权重" for p in silent.parts)


def test_zero_score_has_no_parts() -> None:
    result = score(sentiment="positive", sentiment_score=0.8, scheme_weights=[], source_weight=0)
    assert result == RiskScore(0, [])


def test_json_round_trip() -> None:
    for result in (
        risk(),
        risk(sentiment_score=1.0, spread=10**6, sensitive_hits=9),
        RiskScore(0, []),
    ):
        text = result.to_json()
        assert RiskScore.from_json(text) == result
        assert " " not in text.split('"p"')[0]  # compact
    assert RiskScore.from_json(risk().to_json()).parts[0].name == "负面情感"


def test_results_do_not_share_their_parts_list() -> None:
    first = risk()
    first.parts.clear()
    assert risk().parts
