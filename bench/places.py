"""Benchmark of the place finder and the risk score: time per item against naive baselines.

    .venv/bin/python bench/places.py [--repeat 3] [--sample 100] [--seed 7]

Texts are the distinct post texts of the dev stream (read-only). The baseline is the obvious
way: a substring test of every full and short place name against each text. ``--sample N``
also prints N detected places with the text around them, to be checked by hand, and N hits
of the baseline (the counts of the last check are in docs/places-and-risk.md).

The risk score is timed on 100,000 calls with inputs drawn like a day of mentions; its
baseline is the same computation without the remembered parts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from yuqing.analysis import places, risk

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
STREAM = DATA / "events" / "ced_stream_dev.jsonl.gz"
TARGET_US = 5.0
TARGET_RISK_US = 2.0


def load_texts() -> list[str]:
    with gzip.open(STREAM, "rt", encoding="utf-8") as handle:
        texts = {json.loads(line)["text"] for line in handle}
    return sorted(t for t in texts if t)


def best_of(repeat: int, texts: list[str]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        places.find_places(texts)
        best = min(best, time.perf_counter() - start)
    return best


def naive_names() -> list[str]:
    names = set()
    for place in places._walk():
        names.add(place.name)
        short = places._short(place.name)
        if short:
            names.add(short)
    return sorted(names)


def naive(texts: list[str], names: list[str]) -> int:
    return sum(1 for text in texts for name in names if name in text)


def print_sample(texts: list[str], found: list[list[places.Place]], size: int, seed: int) -> None:
    pairs = [(text, place) for text, ps in zip(texts, found, strict=True) for place in ps]
    rng = random.Random(seed)
    for number, (text, place) in enumerate(rng.sample(pairs, min(size, len(pairs))), 1):
        print(f"{number:3d} {place.name} ({place.province}) | {text[:160]}")


def naive_sample(texts: list[str], names: list[str], size: int, seed: int) -> None:
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for text in rng.sample(texts, len(texts)):
        pairs.extend((text, name) for name in names if name in text)
        if len(pairs) >= size * 20:
            break
    for number, (text, name) in enumerate(rng.sample(pairs, min(size, len(pairs))), 1):
        print(f"{number:3d} {name} | {text[:160]}")


def risk_inputs(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    sentiments = ["negative", "neutral", "positive", None]
    return [
        {
            "sentiment": rng.choice(sentiments),
            "sentiment_score": rng.random(),
            "scheme_weights": rng.choice([[], [1.0], [1.0, 2.0], [0.5]]),
            "source_weight": rng.choice([0.5, 1.0, 1.5]),
            "spread": int(rng.paretovariate(1.2)) - 1,
            "sensitive_hits": rng.choice([0, 0, 0, 1, 2]),
        }
        for _ in range(count)
    ]


def fresh_score(
    *,
    sentiment: str | None,
    sentiment_score: float,
    scheme_weights: list[float],
    source_weight: float,
    spread: int,
    sensitive_hits: int,
) -> int:
    """The baseline: every part computed and formatted afresh (the functions under the cache)."""
    w = risk.DEFAULT_WEIGHTS
    found = [
        risk._sentiment_part.__wrapped__(sentiment, round(sentiment_score, 2), w),
        risk._scheme_part.__wrapped__(len(scheme_weights), sum(scheme_weights), w)
        if scheme_weights
        else None,
        risk._source_part.__wrapped__(source_weight, w),
        risk._spread_part.__wrapped__(spread, w) if spread > 0 else None,
        risk._sensitive_part.__wrapped__(sensitive_hits, w) if sensitive_hits > 0 else None,
    ]
    return min(sum(p.points for p in found if p is not None and p.points > 0), 100)


def time_risk(inputs: list[dict[str, Any]], repeat: int) -> tuple[float, float]:
    """Microseconds per call: the public function, and the baseline."""
    best = best_base = float("inf")
    for _ in range(repeat):
        for function, is_base in ((risk.score, False), (fresh_score, True)):
            start = time.perf_counter()
            for kw in inputs:
                function(**kw)
            elapsed = time.perf_counter() - start
            if is_base:
                best_base = min(best_base, elapsed)
            else:
                best = min(best, elapsed)
    return best / len(inputs) * 1e6, best_base / len(inputs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    texts = load_texts()
    start = time.perf_counter()
    places.find_places(["热身"])
    build_ms = (time.perf_counter() - start) * 1000
    seconds = best_of(args.repeat, texts)
    found = places.find_places(texts)
    per_text_us = seconds / len(texts) * 1e6

    names = naive_names()
    subset = texts[:: max(1, len(texts) // 2000)]
    start = time.perf_counter()
    naive(subset, names)
    naive_us = (time.perf_counter() - start) / len(subset) * 1e6

    with_place = sum(1 for ps in found if ps)
    total = sum(len(ps) for ps in found)
    mean_len = sum(map(len, texts)) / len(texts)
    print(
        f"texts: {len(texts):,} distinct (mean {mean_len:.0f} chars); automaton built in {build_ms:.0f} ms"
    )
    print(
        f"texts naming a place: {with_place:,} ({with_place / len(texts):.1%}); places found: {total:,}"
    )
    print()
    print(
        f"| {'measure':<28} | {'figure':>12} | {'target':>10} | {'baseline':>12} | {'ratio':>7} |"
    )
    print(f"| {'-' * 28} | {'-' * 12} | {'-' * 10} | {'-' * 12} | {'-' * 7} |")
    print(
        f"| {'µs per text (find_places)':<28} | {per_text_us:>12.2f} | {TARGET_US:>10.1f} "
        f"| {naive_us:>12.1f} | {naive_us / per_text_us:>6.0f}× |"
    )
    print(
        f"| {'texts per second':<28} | {1e6 / per_text_us:>12,.0f} | {1e6 / TARGET_US:>10,.0f} "
        f"| {1e6 / naive_us:>12,.0f} | {naive_us / per_text_us:>6.0f}× |"
    )
    risk_us, risk_base_us = time_risk(risk_inputs(100_000, args.seed), args.repeat)
    print(
        f"| {'µs per call (risk.score)':<28} | {risk_us:>12.2f} | {TARGET_RISK_US:>10.1f} "
        f"| {risk_base_us:>12.2f} | {risk_base_us / risk_us:>6.1f}× |"
    )
    print("baselines: substring test of each of", f"{len(names):,} names per text;", end=" ")
    print("risk parts computed afresh on every call")
    if args.sample:
        print("\nplaces found:")
        print_sample(texts, found, args.sample, args.seed)
        print("\nbaseline hits:")
        naive_sample(texts, names, args.sample, args.seed)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
