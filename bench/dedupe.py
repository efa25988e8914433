"""Near-duplicate groups: recall and precision of edited reposts, LCQMC false merges, speed.

Usage: .venv/bin/python bench/dedupe.py [--copies 2000] [--limit N] [--batch 1000]
       [--shingle 3] [--threshold 0.5] [--no-baseline]

1. The CED Weibo stream (source posts with their reposts and comments) is replayed into a
   fresh SQLite database through ``ingest`` with the near-duplicate stage, with injected
   edited copies of source posts (characters inserted, deleted and replaced at a few percent,
   a repost comment such as "转发微博 //@某某: 说得对" before or after, an emoji), each sent
   in a later batch than its original or in the same one.
   recall = copies whose group is their original's group; precision = group links (member →
   representative) whose two items belong to the same CED event (a copy belongs to its
   original's event): a link across events is a false merge.
2. LCQMC dev pairs labelled "different question": the share that would merge (a shared band
   and a verified Jaccard ≥ threshold). Pairs labelled "same" are shown for information.
3. Speed of the stage (stage + finish, inside ingest, commit per batch), µs per item, and
   the stream's end-to-end ingest items/s with and without it; baseline: datasketch
   MinHash(128) + MinHashLSH(0.5) with the same verification, in memory, on the same items.
4. Shingle sizes and thresholds: how the Jaccard of copies and of different LCQMC questions
   spreads (the reason for k = 3 and 0.5).
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core import database
from yuqing.mentions import neardup, search, store
from yuqing.mentions.batch import Batch
from yuqing.mentions.models import Mention
from yuqing.mentions.stage import NearDuplicates
from yuqing.sources.models import Source
from yuqing.worker import pipeline

TARGET_PRECISION = 0.98
TARGET_RECALL = 0.95
TARGET_LCQMC_MERGED = 0.02
TARGET_ITEMS_PER_SECOND = 1_000_000 / 20  # 20 µs per item
SAME_TEXT_RATIO = 0.6

NAMES = ["小明", "阿花_88", "江湖夜雨", "lucky猫", "某某", "路人甲", "北京晚报读者", "zhang-san"]
COMMENTS = ["转发微博", "说得对", "顶！", "太可怕了", "大家注意", "转", "真的假的？", "求证", ""]
EMOJI = ["😂", "👍", "🙏", "[哈哈]", "[怒]", "[泪]", "🔥", ""]


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("YUQING_SHARED_DATA", default))


@dataclass
class Stream:
    items: list[dict[str, Any]] = field(default_factory=list)
    event_of: dict[str, str] = field(default_factory=dict)  # external id → gold event
    original_of: dict[str, str] = field(default_factory=dict)  # copy id → source id


def load_stream(path: Path, limit: int | None) -> Stream:
    stream = Stream()
    with gzip.open(path, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            stream.items.append(
                {
                    "external_id": record["mid"],
                    "text": record["text"],
                    "published_at": record["time"],
                    "root_external_id": record.get("root"),
                    "parent_external_id": record.get("parent"),
                }
            )
            stream.event_of[record["mid"]] = record["event_id"]
            if limit and len(stream.items) >= limit:
                break
    return stream


def edit(text: str, rng: random.Random, rate: float, alphabet: str) -> str:
    """A reposter's copy: characters inserted, deleted or replaced at ``rate``, a comment."""
    out: list[str] = []
    for char in text:
        roll = rng.random()
        if roll < rate / 3:
            continue  # deleted
        if roll < 2 * rate / 3:
            out.append(rng.choice(alphabet))  # replaced
            continue
        out.append(char)
        if roll < rate:
            out.append(rng.choice(alphabet))  # inserted
    body = "".join(out)
    comment = f"{rng.choice(COMMENTS)}{rng.choice(EMOJI)}"
    if rng.random() < 0.5:
        body = f"{comment} //@{rng.choice(NAMES)}: {body}"
    else:
        body = f"{body} {comment}"
    return body + rng.choice(EMOJI)


def inject_copies(stream: Stream, count: int, rate: float, seed: int) -> int:
    """Insert edited copies of source posts into the stream, a little after their original."""
    rng = random.Random(seed)
    sources = [
        i
        for i, item in enumerate(stream.items)
        if item["root_external_id"] is None
        and len(neardup.clean(search.search_form("", item["text"]))) >= 20
    ]
    alphabet = "".join({c for i in sources[:300] for c in stream.items[i]["text"] if c > "\u4e00"})
    picked = [rng.choice(sources) for _ in range(count)]
    placed: list[tuple[int, dict[str, Any]]] = []
    for n, index in enumerate(picked):
        original = stream.items[index]
        when = datetime.fromisoformat(original["published_at"]) + timedelta(minutes=n % 50)
        copy_id = f"copy{n}"
        placed.append(
            (
                index + 1 + rng.randrange(0, 3000),
                {
                    "external_id": copy_id,
                    "text": edit(original["text"], rng, rate, alphabet),
                    "published_at": when.isoformat(),
                    "root_external_id": None,
                    "parent_external_id": None,
                },
            )
        )
        stream.original_of[copy_id] = original["external_id"]
        stream.event_of[copy_id] = stream.event_of[original["external_id"]]
    for position, item in sorted(placed, key=lambda p: -p[0]):
        stream.items.insert(min(position, len(stream.items)), item)
    return len(picked)


def fresh_database(folder: str, name: str) -> tuple[Session, Source]:
    engine = database.make_engine(f"sqlite:///{folder}/{name}.db")
    database.upgrade_database(engine)
    session = Session(engine, expire_on_commit=False)
    source = Source(name="bench", kind="push")
    session.add(source)
    session.commit()
    return session, source


@dataclass
class Timed:
    """The near-duplicates stage, timed (both halves)."""

    seconds: float = 0.0
    stage: NearDuplicates = field(default_factory=NearDuplicates)

    def before_insert(self, session: Session, batch: Batch) -> None:
        started = time.perf_counter()
        self.stage.before_insert(session, batch)
        self.seconds += time.perf_counter() - started

    def after_insert(self, session: Session, batch: Batch) -> None:
        started = time.perf_counter()
        self.stage.after_insert(session, batch)
        self.seconds += time.perf_counter() - started


def replay(
    session: Session, source: Source, items: list[dict[str, Any]], batch: int, timed: Any
) -> float:
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        part = items[start : start + batch]
        if timed is None:
            store.ingest(session, source=source, items=part)
        else:
            pipeline.process(session, source=source, items=part, stages=(timed,))
        session.commit()
    return time.perf_counter() - started


def groups_of(session: Session) -> dict[str, tuple[int, int | None, str]]:
    """external id → (mention id, representative id, external id of the representative)."""
    rows = session.execute(
        select(Mention.external_id, Mention.id, Mention.near_group_id).where(
            Mention.status == "new"
        )
    ).all()
    id_to_ext = {mid: ext or "" for ext, mid, _ in rows}
    return {ext or "": (mid, group, id_to_ext.get(group or mid, "")) for ext, mid, group in rows}


def same_text(a: str, b: str) -> bool:
    """An independent judge of "the same text": difflib's matching ratio of cleaned texts."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_TEXT_RATIO


def quality(
    stream: Stream, groups: dict[str, tuple[int, int | None, str]], texts: dict[str, str]
) -> dict[str, float]:
    """recall: copies in their original's group; precision: grouped copies whose group is
    their original's, or whose representative repeats the original's text (the same rumour
    posted again elsewhere in the stream, so a right merge)."""

    def group(ext: str) -> str | None:
        found = groups.get(ext)
        return None if found is None else found[2]  # the representative's external id

    copies = [c for c in stream.original_of if c in groups]
    found = sum(1 for c in copies if group(c) == group(stream.original_of[c]))
    grouped = [c for c in copies if groups[c][1] is not None]
    right = sum(
        1
        for c in grouped
        if group(c) == group(stream.original_of[c])
        or same_text(texts[stream.original_of[c]], texts[groups[c][2]])
    )
    links = [(ext, rep) for ext, (_, g, rep) in groups.items() if g is not None]
    across = [(e, r) for e, r in links if stream.event_of[e] != stream.event_of[r]]
    return {
        "recall": found / max(1, len(copies)),
        "precision": right / max(1, len(grouped)),
        "links": len(links),
        "across": len(across),
        "across_same_text": sum(1 for e, r in across if same_text(texts[e], texts[r])),
    }


def datasketch_baseline(
    items: list[dict[str, Any]], stream: Stream
) -> tuple[float, dict[str, float]]:
    """MinHash(128) + MinHashLSH(0.5) with the same cleaning and verification, in memory."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    grams: dict[str, set[str]] = {}
    group: dict[str, str] = {}
    started = time.perf_counter()
    for item in items:
        ext = item["external_id"]
        cleaned = neardup.clean(search.search_form("", item["text"]))
        if len(cleaned) < neardup.MIN_CHARS or ext in grams:
            continue
        mine = neardup.shingles(cleaned)
        signature = MinHash(num_perm=128)
        signature.update_batch([g.encode() for g in mine])
        for other in sorted(lsh.query(signature))[: neardup.MAX_VERIFIED]:
            if neardup.similar(mine, grams[other]):
                group[ext] = group.get(other, other)
                break
        grams[ext] = mine
        lsh.insert(ext, signature)
    seconds = time.perf_counter() - started
    texts = {
        item["external_id"]: neardup.clean(search.search_form("", item["text"])) for item in items
    }
    groups = {ext: (0, 1 if ext in group else None, group.get(ext, ext)) for ext in grams}
    return len(items) / seconds, quality(stream, groups, texts)


def lcqmc(path: Path) -> dict[str, float]:
    pairs: list[tuple[str, str, int]] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                pairs.append((parts[0], parts[1], int(parts[2])))
    merged = {0: 0, 1: 0}
    total = {0: 0, 1: 0}
    texts = [neardup.clean(search.search_form("", t)) for a, b, _ in pairs for t in (a, b)]
    eligible = [len(t) >= neardup.MIN_CHARS for t in texts]
    keys = neardup.band_keys(
        neardup.signatures([t for t, ok in zip(texts, eligible, strict=True) if ok])
    )
    key_iter = iter(keys.tolist())
    key_list = [next(key_iter) if ok else None for ok in eligible]
    for n, (_, _, label) in enumerate(pairs):
        total[label] += 1
        ka, kb = key_list[2 * n], key_list[2 * n + 1]
        if ka is None or kb is None or not set(ka) & set(kb):
            continue
        a, b = neardup.shingles(texts[2 * n]), neardup.shingles(texts[2 * n + 1])
        if neardup.similar(a, b):
            merged[label] += 1
    short = sum(1 for ok in eligible if not ok) / max(1, len(eligible))
    return {
        "different_merged": merged[0] / max(1, total[0]),
        "same_merged": merged[1] / max(1, total[1]),
        "pairs": float(len(pairs)),
        "short_share": short,
    }


def sweep(stream: Stream, lcqmc_path: Path) -> list[str]:
    """Share of copies and of different LCQMC questions at or above each Jaccard."""
    copies = [(c, o) for c, o in stream.original_of.items()][:1000]
    by_id = {item["external_id"]: item["text"] for item in stream.items}
    negatives: list[tuple[str, str]] = []
    with gzip.open(lcqmc_path, "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[2] == "0":
                negatives.append((parts[0], parts[1]))
    lines = ["k  threshold  copies≥  LCQMC-different≥ (texts ≥ MIN_CHARS)"]
    keep = neardup.SHINGLE
    try:
        for k in (2, 3):
            neardup.SHINGLE = k

            def sim(a: str, b: str) -> float | None:
                ca = neardup.clean(search.search_form("", a))
                cb = neardup.clean(search.search_form("", b))
                if min(len(ca), len(cb)) < neardup.MIN_CHARS:
                    return None
                return neardup.jaccard(neardup.shingles(ca), neardup.shingles(cb))

            cs = [s for c, o in copies if (s := sim(by_id[c], by_id[o])) is not None]
            ns = [s for a, b in negatives if (s := sim(a, b)) is not None]
            for t in (0.3, 0.4, 0.5, 0.6, 0.7):
                lines.append(
                    f"{k}  {t:.1f}        {sum(s >= t for s in cs) / len(cs):6.3f}   "
                    f"{sum(s >= t for s in ns) / len(ns):6.3f}"
                )
    finally:
        neardup.SHINGLE = keep
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.04, help="edits per character")
    parser.add_argument("--limit", type=int, default=None, help="stream items to replay")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--shingle", type=int, default=neardup.SHINGLE)
    parser.add_argument("--threshold", type=float, default=neardup.THRESHOLD)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    neardup.SHINGLE, neardup.THRESHOLD = args.shingle, args.threshold
    data = shared_data()
    stream = load_stream(data / "events" / "ced_stream_dev.jsonl.gz", args.limit)
    injected = inject_copies(stream, args.copies, args.rate, args.seed)
    print(f"stream: {len(stream.items)} items incl. {injected} injected copies")

    with tempfile.TemporaryDirectory() as folder:
        session, source = fresh_database(folder, "plain")
        plain_seconds = replay(session, source, stream.items, args.batch, None)
        session.close()
        session, source = fresh_database(folder, "neardup")
        timed = Timed()
        with_seconds = replay(session, source, stream.items, args.batch, timed)
        texts = {
            ext or "": neardup.clean(form)
            for ext, form in session.execute(select(Mention.external_id, Mention.search_text))
        }
        scores = quality(stream, groups_of(session), texts)
        analysed = session.execute(select(Mention.id).where(Mention.status == "new")).all()
        session.close()
    per_item_us = timed.seconds / max(1, len(analysed)) * 1e6
    baseline_speed, baseline_scores = (0.0, {"recall": 0.0, "precision": 0.0})
    if not args.no_baseline:
        baseline_speed, baseline_scores = datasketch_baseline(stream.items, stream)
    lc = lcqmc(data / "paraphrase" / "lcqmc_dev.txt.gz")

    stage_speed = 1e6 / per_item_us
    pct = "{:.1%}".format
    base = baseline_speed or float("nan")
    table = [
        ("copies grouped with original (recall)", pct(scores["recall"]),
         f"≥ {TARGET_RECALL:.0%}", pct(baseline_scores["recall"])),
        ("grouped copies rightly (precision)", pct(scores["precision"]),
         f"≥ {TARGET_PRECISION:.0%}", pct(baseline_scores["precision"])),
        ("LCQMC different questions merged", pct(lc["different_merged"]),
         f"≤ {TARGET_LCQMC_MERGED:.0%}", ""),
        ("LCQMC same questions merged (info)", pct(lc["same_merged"]), "", ""),
        ("stage µs per analysed item (stage+finish)", f"{per_item_us:.1f} µs", "≤ 20 µs",
         f"{1e6 / base:.1f} µs ({per_item_us * base / 1e6:.2f}×)"),
        ("stage items/s", f"{stage_speed:,.0f}", f"≥ {TARGET_ITEMS_PER_SECOND:,.0f}",
         f"{base:,.0f} ({stage_speed / base:.1f}×)"),
        ("ingest items/s with the stage", f"{len(stream.items) / with_seconds:,.0f}", "",
         f"without: {len(stream.items) / plain_seconds:,.0f}"),
    ]  # fmt: skip
    print(
        f"\nshingle k={neardup.SHINGLE}, threshold {neardup.THRESHOLD}, min shared "
        f"{neardup.MIN_SHARED}, {neardup.BANDS}×{neardup.ROWS} bands, batch {args.batch}, "
        f"edit rate {args.rate}, {len(analysed)} analysed items"
    )
    print("| measure | Yuqing | target | baseline: datasketch 128 + LSH 0.5 (ratio) |")
    print("| --- | --- | --- | --- |")
    for line in table:
        print("| " + " | ".join(line) + " |")
    print(
        f"\nCED stream: {scores['links']:.0f} group links, {scores['across']:.0f} across two "
        f"CED events, {scores['across_same_text']:.0f} of them the same text (difflib ratio "
        f"≥ {SAME_TEXT_RATIO}: a rumour posted again in another event); LCQMC texts too "
        f"short to group: {pct(lc['short_share'])}"
    )
    print("\n" + "\n".join(sweep(stream, data / "paraphrase" / "lcqmc_dev.txt.gz")))


if __name__ == "__main__":
    main()
