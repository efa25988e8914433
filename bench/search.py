"""Benchmark of Chinese full-text search at 1,000,000 items: latency, recall, LIKE baseline.

    .venv/bin/python bench/search.py [--items 1000000] [--queries 40] [--rebuild]

The database is built once from the dev stream (Weibo posts, replicated with shifted times
and small text edits so rows are distinct) and cached under bench/out/. Rows go in through
a bulk path that uses the same functions as ``store.ingest`` (``normalise_item`` for the
row, exact-copy linking on the content hash, ``search.index_rows`` for the index entries),
so rows and index entries are identical to what ingest stores; it only skips ingest's
per-batch lookups of rows already stored, which cannot exist in a fresh build.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from yuqing.core.database import make_engine, upgrade_database
from yuqing.core.timeutil import utcnow
from yuqing.mentions import search
from yuqing.mentions.batch import INSERTED_COLUMNS
from yuqing.mentions.items import normalise_item
from yuqing.mentions.schemas import ItemIn

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
STREAM = DATA / "events" / "ced_stream_dev.jsonl.gz"
OUT = REPO / "bench" / "out"
TARGET_P95_MS = 50.0
SOURCES = (("微博推送", "push"), ("新闻订阅", "rss"), ("导入文件", "import"), ("网页监测", "page"))
SUFFIXES = ("", "（转）", " 来自微博", "！", "。", " 求扩散", "[心]", " 关注中")
COMMON = {
    2: ["中国", "我们", "一个", "没有", "大家", "转发", "什么", "自己", "今天", "政府"],
    3: ["为什么", "不知道", "中国人", "有没有", "是不是", "太可怕", "所有人", "怎么办"],
    4: ["中华人民", "转发微博", "是不是真", "大家小心", "请大家转", "有没有人", "人民日报"],
}
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def base_posts() -> list[dict[str, Any]]:
    with gzip.open(STREAM, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def variant(post: dict[str, Any], copy: int, rng: random.Random) -> tuple[str, datetime | None]:
    """Copy ``copy`` of a post: times shifted by weeks, one character dropped, a suffix added."""
    body = post.get("text") or ""
    when = ItemIn.model_validate({"time": post.get("time")}).published_at
    if copy == 0:
        return body, when
    if len(body) > 4:
        cut = rng.randrange(len(body))
        body = body[:cut] + body[cut + 1 :]
    body += SUFFIXES[copy % len(SUFFIXES)] + (str(copy) if rng.random() < 0.5 else "")
    if when is not None:
        when += timedelta(days=23 * copy, minutes=rng.randrange(600))
    return body, when


def rows_to_store(posts: list[dict[str, Any]], items: int) -> Iterator[dict[str, Any]]:
    now = utcnow()
    rng = random.Random(7)
    n = 0
    copy = 0
    while True:
        for line, post in enumerate(posts):
            if n >= items:
                return
            body, when = variant(post, copy, rng)
            item = ItemIn(external_id=f"{copy}-{line}", text=body, published_at=when)
            source_id = 1 + (line + copy) % len(SOURCES)
            try:
                values = normalise_item(item, source_id=source_id, now=now).columns()
            except ValueError:
                continue
            n += 1
            yield values
        copy += 1


COLUMNS = ("id", *INSERTED_COLUMNS)


def build(path: Path, items: int) -> None:
    """Fill a fresh database with ``items`` mentions and their index entries."""
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    posts = base_posts()
    log(f"building {items:,} items from {len(posts):,} posts into {path}")
    started = time.perf_counter()
    first_of_hash: dict[str, int] = {}
    bumps: dict[int, int] = {}
    batch: list[tuple[Any, ...]] = []
    to_index: list[tuple[int, str]] = []
    with Session(engine) as session:
        for i, (name, kind) in enumerate(SOURCES, start=1):
            session.execute(
                text(
                    "INSERT INTO source(id, name, kind, enabled, interval_seconds, created_at,"
                    " consecutive_failures, count_new, count_duplicate, count_updated,"
                    " count_failed, count_filtered) VALUES (:i, :n, :k, 1, 900, :t,"
                    " 0, 0, 0, 0, 0, 0)"
                ),
                {"i": i, "n": name, "k": kind, "t": utcnow()},
            )
        raw = session.connection().connection.driver_connection
        assert raw is not None
        placeholders = ", ".join("?" for _ in COLUMNS)
        insert = f"INSERT INTO mention({', '.join(COLUMNS)}) VALUES ({placeholders})"
        for mention_id, values in enumerate(rows_to_store(posts, items), start=1):
            values["id"] = mention_id
            first = first_of_hash.setdefault(values["content_hash"], mention_id)
            if first != mention_id:  # an exact copy, linked as ingest links it
                values["status"], values["duplicate_of_id"] = "duplicate", first
                bumps[first] = bumps.get(first, 0) + 1
            else:
                to_index.append((mention_id, values["search_text"]))
            batch.append(tuple(_sqlite_value(values[c]) for c in COLUMNS))
            if len(batch) >= 20_000:
                _flush(session, raw, insert, batch, to_index)
                rate = mention_id / (time.perf_counter() - started)
                log(f"  {mention_id:>9,} / {items:,}  ({rate:,.0f} items/s)")
        _flush(session, raw, insert, batch, to_index)
        raw.executemany(
            "UPDATE mention SET duplicate_count = ? WHERE id = ?",
            [(n, first) for first, n in bumps.items()],
        )
        session.commit()
        log("optimising the index")
        search.optimize_index(session)
        session.execute(text("ANALYZE"))
        session.commit()
    engine.dispose()
    log(f"built in {time.perf_counter() - started:,.0f} s")


def _sqlite_value(value: Any) -> Any:
    # The same text form SQLAlchemy's SQLite DateTime type stores.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def _flush(
    session: Session, raw: Any, insert: str, batch: list[Any], to_index: list[tuple[int, str]]
) -> None:
    raw.executemany(insert, batch)
    search.index_rows(session, to_index)
    session.commit()
    batch.clear()
    to_index.clear()


def reindex(engine: Engine) -> None:
    started = time.perf_counter()
    with Session(engine) as session:
        count = search.rebuild_index(session)
        session.commit()
        search.optimize_index(session)
        session.commit()
    log(f"reindexed {count:,} mentions in {time.perf_counter() - started:,.0f} s")


def pick_queries(session: Session, length: int, count: int, seed: int) -> list[str]:
    """Han substrings sampled from stored texts (frequent ones come up often), plus common
    words; fixed seed."""
    rng = random.Random(seed * 100 + length)
    top = session.execute(text("SELECT max(id) FROM mention")).scalar_one()
    picked: list[str] = list(COMMON[length])
    while len(picked) < count:
        form = session.execute(
            text("SELECT search_text FROM mention WHERE id = :id AND status = 'new'"),
            {"id": rng.randint(1, top)},
        ).scalar()
        runs = [r for r in _HAN_RUN.findall(form or "") if len(r) >= length]
        if runs:
            run = rng.choice(runs)
            start = rng.randrange(len(run) - length + 1)
            picked.append(run[start : start + length])
    return list(dict.fromkeys(picked))[:count]


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def substring_ids(session: Session, query: str) -> set[int]:
    sql = "SELECT id FROM mention WHERE status = 'new' AND instr(search_text, :q) > 0"
    return {row[0] for row in session.execute(text(sql), {"q": query})}


def like_page(session: Session, query: str) -> list[int]:
    sql = (
        "SELECT id FROM mention WHERE status = 'new' AND search_text LIKE :q "
        "ORDER BY published_at DESC, id DESC LIMIT 20"
    )
    return [row[0] for row in session.execute(text(sql), {"q": f"%{query}%"})]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(engine: Engine, args: argparse.Namespace) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    with Session(engine) as session:
        listed = session.execute(text("SELECT count(*) FROM mention WHERE status='new'")).scalar()
        log(f"{listed:,} listed mentions")
        for length in (2, 3, 4):
            queries = pick_queries(session, length, args.queries, args.seed)
            for q in queries[:3]:  # warm the page cache once
                search.search(session, q, limit=20)
            times: list[float] = []
            totals: list[int] = []
            for q in queries:
                ms, page = timed(lambda q=q: search.search(session, q, limit=20))
                times.append(ms)
                totals.append(page.total)
            slowest = max(zip(times, queries, strict=True))
            recall_queries = random.Random(args.seed + length).sample(queries, args.recall)
            found = expected = 0
            false_hits = 0
            for q in recall_queries:
                truth = substring_ids(session, q)
                got = set(search.search(session, q, limit=10_000_000, count=False).ids)
                expected += len(truth)
                found += len(truth & got)
                false_hits += len(got - truth)
            like_times = [timed(lambda q=q: like_page(session, q))[0] for q in recall_queries]
            p50, p95 = percentile(times, 50), percentile(times, 95)
            like95 = percentile(like_times, 95)
            recall = found / expected if expected else 1.0
            log(
                f"{length} chars: p50 {p50:.1f} ms, p95 {p95:.1f} ms, slowest {slowest[1]} "
                f"{slowest[0]:.1f} ms, median total {statistics.median(totals):,.0f}, "
                f"recall {recall:.4f} ({found:,}/{expected:,}), false hits {false_hits}"
            )
            table.append((f"{length}-char p50 (ms)", f"{p50:.1f}", "", "", ""))
            table.append(
                (
                    f"{length}-char p95 (ms)",
                    f"{p95:.1f}",
                    f"≤ {TARGET_P95_MS:.0f}",
                    f"LIKE p95 {like95:.0f}",
                    f"{like95 / p95:.0f}× faster",
                )
            )
            table.append(
                (
                    f"{length}-char recall ({len(recall_queries)} q, all hits)",
                    f"{recall:.2%}",
                    "100%",
                    "substring scan",
                    f"{false_hits} false hits",
                )
            )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=40, help="queries per length")
    parser.add_argument("--recall", type=int, default=8, help="queries per length for recall")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument(
        "--reindex", action="store_true", help="rebuild only the search index (after a DDL change)"
    )

    args = parser.parse_args()
    path = OUT / f"search_{args.items}.db"
    OUT.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not path.exists():
        build(path, args.items)
    engine = make_engine(f"sqlite:///{path}")
    if args.reindex:
        reindex(engine)
    table = measure(engine, args)
    size = path.stat().st_size / 2**20
    with Session(engine) as session:
        index = (
            session.execute(
                text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'mention_fts%'")
            ).scalar_one()
            / 2**20
        )
    print(
        f"\nChinese full-text search, {args.items:,} items, database {size:,.0f} MiB, "
        f"of which search index {index:,.0f} MiB"
    )
    header = ("figure", "measured", "target", "baseline (same run)", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *table]) + 2 for i in range(5)]
    for row in [header, *table]:
        print("".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
