"""Editorial figures: the compliance pre-check and the version diff.

Usage: .venv/bin/python bench/editorial.py [--submissions 10000] [--chars 3000]
       [--words 20000] [--data PATH] [--words-from PATH]

Pre-check: ``--submissions`` texts of ``--chars`` characters cut from the Chinese news of
``news_events_zh_dev.jsonl`` (../shared/data/events, or ``$YUQING_SHARED_DATA``), checked by
``editorial.precheck.Checker`` over ``--words`` configured words (prohibited and sensitive
phrases of 3–6 characters cut from the incident comments of ``osm2022_train.tsv``, so that
they hit news now and then, and 1,000 typo-prone leaders' names with titles), each against its previous version (one number
changed). Target ≥ 1,000
submissions/s. Baseline in the same run: each word looked for with ``str.find`` (the simple
way), on 50 submissions.

Diff: two 10,000-character versions (the second with 60 scattered edits), character-level
with diff-match-patch and its semantic clean-up (``editorial.diffs.diff_text``), median of 7.
Target ≤ 50 ms. Baseline in the same run: ``difflib.SequenceMatcher`` over characters.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import statistics
import time
from pathlib import Path

from yuqing.editorial.diffs import diff_text
from yuqing.editorial.precheck import Checker, ExactTerm, Word

DATA = Path(
    os.environ.get(
        "YUQING_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


def corpus(path: Path) -> str:
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.append(row.get("title", "") + "\n" + row.get("text", ""))
    return "\n".join(texts)


def documents(text: str, count: int, chars: int, rng: random.Random) -> list[str]:
    span = len(text) - chars
    return [text[(start := rng.randrange(span)) : start + chars] for _ in range(count)]


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
TITLES = ("校长", "书记", "副校长", "院长", "主任", "部长", "处长")


def comments(path: Path) -> str:
    return "\n".join(
        line.partition("\t")[2] for line in path.read_text(encoding="utf-8").splitlines()
    )


def configured(
    text: str, source: str, count: int, rng: random.Random
) -> tuple[list[Word], list[ExactTerm]]:
    """Words as an institution configures them: phrases of 3–6 characters cut from incident
    comments (``source``: they hit news now and then, as sensitive phrases would), and 1,000
    leaders' names with titles built from common surnames and characters of the news."""
    chars = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    exact: set[str] = set()
    while len(exact) < 1000:
        name = rng.choice(SURNAMES) + "".join(rng.choice(chars) for _ in range(rng.choice((1, 2))))
        exact.add(name + rng.choice(TITLES))
    seen: set[str] = set()
    while len(seen) < count - len(exact):
        size = rng.choice((3, 4, 4, 5, 6))
        start = rng.randrange(len(source) - size)
        piece = source[start : start + size]
        if all("\u4e00" <= c <= "\u9fff" for c in piece):
            seen.add(piece)
    words = [
        Word(p, "prohibited" if i % 5 else "sensitive", f"类别{i % 5}")
        for i, p in enumerate(sorted(seen))
    ]
    return words, [ExactTerm(t) for t in sorted(exact)]


def previous_of(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isdigit():
            return text[:i] + str((int(ch) + 1) % 10) + text[i + 1 :]
    return text + "1"


def naive(text: str, words: list[str]) -> int:
    found = 0
    for word in words:
        at = text.find(word)
        while at >= 0:
            found += 1
            at = text.find(word, at + 1)
    return found


def edited(text: str, edits: int, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rng.randrange(len(chars))
        choice = rng.random()
        if choice < 0.4:
            chars[at] = "改"
        elif choice < 0.7:
            chars.insert(at, "新增内容")
        else:
            del chars[at : at + 3]
    return "".join(chars)


def timed(work, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall and CPU seconds of ``repeat`` runs (CPU: the fair figure on a machine
    shared with others' test suites)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--chars", type=int, default=3_000)
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=DATA / "events" / "news_events_zh_dev.jsonl")
    parser.add_argument("--words-from", type=Path, default=DATA / "sentiment" / "osm2022_train.tsv")
    args = parser.parse_args()
    rng = random.Random(15)
    text = corpus(args.data)
    while len(text) < 4 * args.chars:
        text += text
    docs = documents(text, args.submissions, args.chars, rng)
    previous = [previous_of(d) for d in docs]
    words, exact = configured(text, comments(args.words_from), args.words, rng)

    started = time.perf_counter()
    checker = Checker(words, exact)
    build = time.perf_counter() - started
    counted: list[int] = []
    wall, cpu = timed(
        lambda: counted.append(
            sum(len(checker.check(d, p)) for d, p in zip(docs, previous, strict=True))
        ),
        1,
    )
    flags = counted[0]
    sample = docs[:50]
    plain = [w.text for w in words] + [t.text for t in exact]
    _, naive_cpu = timed(lambda: [naive(d, plain) for d in sample], 1)

    base = (text * 4)[:10_000]
    after = edited(base, 60, rng)
    diff_wall, diff_cpu = timed(lambda: diff_text(base, after), 7)
    _, lib_cpu = timed(
        lambda: difflib.SequenceMatcher(None, base, after, autojunk=False).get_opcodes(), 3
    )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"pre-check: {len(docs):,} submissions × {args.chars:,} chars, {checker.word_count:,} "
          f"patterns ({len(words):,} words, {len(exact):,} exact terms), automaton built in "
          f"{build:.2f} s, {flags / len(docs):.1f} flags per submission")  # fmt: skip
    print(f"load average (1/5/15 min): {load}\n")
    print("| figure | value (CPU / wall) | target | baseline in the same run (CPU) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    rate, naive_rate = len(docs) / cpu, len(sample) / naive_cpu
    print(f"| pre-check, submissions per second | {rate:,.0f} / {len(docs) / wall:,.0f} | "
          f"≥ 1,000 | str.find per word {naive_rate:,.1f} | {rate / naive_rate:,.0f}× |")  # fmt: skip
    print(f"| diff of two 10,000-char versions, ms | {diff_cpu * 1000:.1f} / "
          f"{diff_wall * 1000:.1f} | ≤ 50 | difflib {lib_cpu * 1000:.1f} | "
          f"{lib_cpu / diff_cpu:.1f}× faster |")  # fmt: skip


if __name__ == "__main__":
    main()
