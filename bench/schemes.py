"""Scheme matching speed: 500 schemes / 10,000 keywords over real Weibo texts, vs a plain loop.

    .venv/bin/python bench/schemes.py [--docs 20000] [--schemes 500] [--keywords 10000]

Schemes are generated with a fixed seed from words sampled out of the texts (CJK runs cut
into 2–4 character words), mixing simple word groups and advanced queries. The baseline is
``any(k in text for k in keywords)`` per scheme, which answers less (no AND, no NOT, no
NEAR) and still has to touch every scheme for every text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from pathlib import Path

import ahocorasick_rs

from yuqing.core.search_form import search_form
from yuqing.schemes.matcher import MatchDoc, Matcher, SchemeSpec
from yuqing.schemes.query import parse_query, simple_tree

DATA = Path(
    os.environ.get(
        "YUQING_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)
TARGET = 100_000
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def load_texts(path: Path, limit: int) -> list[str]:
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["text"])
            if len(texts) >= limit:
                break
    return texts


def vocabulary(texts: list[str], rng: random.Random) -> list[str]:
    """2–4 character pieces of the texts' Han runs, without the commonest (转发, 我们…):
    a monitoring keyword names something, and a word in over 0.2 % of posts names nothing."""
    words: set[str] = set()
    for text in texts:
        for run in _CJK_RUN.findall(text):
            start = rng.randrange(0, max(1, len(run) - 1))
            words.add(run[start : start + rng.choice((2, 2, 3, 4))])
    candidates = sorted(w for w in words if len(w) >= 2)
    counts = [0] * len(candidates)
    finder = ahocorasick_rs.AhoCorasick(candidates, matchkind=ahocorasick_rs.MatchKind.Standard)
    for text in texts:
        for index in {m[0] for m in finder.find_matches_as_indexes(text, overlapping=True)}:
            counts[index] += 1
    common = len(texts) // 500
    return [w for w, n in zip(candidates, counts, strict=True) if n <= common]


def make_schemes(
    words: list[str], n_schemes: int, n_keywords: int, rng: random.Random
) -> list[SchemeSpec]:
    per = max(4, n_keywords // n_schemes)
    specs = []
    for sid in range(1, n_schemes + 1):
        picked = rng.sample(words, per)
        if sid % 2:
            a, b, c = per // 2, per * 3 // 4, per - 2
            tree = simple_tree([picked[:a], picked[a:b], picked[b:c]], picked[c:])
        else:
            ors = " OR ".join(picked[: per - 4])
            q = f"({ors}) AND NOT {picked[-1]} OR {picked[-2]} NEAR/10 {picked[-3]} OR title:{picked[-4]}*"
            tree = parse_query(q)
        specs.append(SchemeSpec(sid, tree, "both", 1.0))
    return specs


def baseline(specs: list[SchemeSpec], texts: list[str]) -> float:
    from yuqing.schemes.query import terms

    keyword_lists = [[t.word for t in terms(s.tree)] for s in specs if s.tree is not None]
    started = time.perf_counter()
    for text in texts:
        form = search_form(text)
        for keywords in keyword_lists:
            any(k in form for k in keywords)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA / "events" / "ced_stream_dev.jsonl.gz")
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--baseline-docs", type=int, default=2_000)
    parser.add_argument("--schemes", type=int, default=500)
    parser.add_argument("--keywords", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(20240501)
    texts = load_texts(args.data, args.docs)
    specs = make_schemes(vocabulary(texts, rng), args.schemes, args.keywords, rng)
    started = time.perf_counter()
    matcher = Matcher(specs)
    compile_s = time.perf_counter() - started
    docs = [MatchDoc(title="", text=t, source_name="微博") for t in texts]
    matcher.match_batch(docs[:200])
    started = time.perf_counter()
    results = matcher.match_batch(docs)
    elapsed = time.perf_counter() - started
    base = (
        baseline(specs, texts[: args.baseline_docs])
        / min(len(texts), args.baseline_docs)
        * len(texts)
    )
    rate, base_rate = len(docs) / elapsed, len(docs) / base
    matched = sum(1 for r in results if r)
    print(
        f"{len(texts)} texts (mean {sum(map(len, texts)) / len(texts):.0f} chars), "
        f"{matcher.scheme_count} schemes, {matcher.keyword_count} keywords, compiled in {compile_s:.2f} s, "
        f"{matched} texts matched ≥1 scheme"
    )
    print(f"| {'measure':<34} | {'figure':>14} | {'target':>12} | {'ratio':>8} |")
    print(f"| {'-' * 34} | {'-' * 14}:| {'-' * 12}:| {'-' * 8}:|")
    print(f"| {'matcher docs/s':<34} | {rate:>14,.0f} | {TARGET:>12,} | {rate / TARGET:>7.2f}× |")
    print(f"| {'µs per doc':<34} | {1e6 / rate:>14.2f} | {1e6 / TARGET:>12.2f} | {'':>8} |")
    print(
        f"| {'baseline any(k in text) docs/s':<34} | {base_rate:>14,.0f} | {'':>12} | {rate / base_rate:>7.1f}× |"
    )


if __name__ == "__main__":
    main()
