"""Ingest throughput: replay a real Weibo stream through the push API and the service path.

Usage: .venv/bin/python bench/ingest.py [--limit N] [--batch 1000] [--baseline 3000] [--profile]

Each row stores the stream into a fresh SQLite database in a temporary folder: collect
(JSON body, request), normalise, dedupe, store and index, one commit per batch of 1000. The
baseline is a naive per-item ORM insert (look up, add, flush, index one item at a time) of
the first items of the same stream, measured in the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

TARGET_ITEMS_PER_SECOND = 10_000
TOKEN = "bench-token"


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("YUQING_SHARED_DATA", default))


def load_stream(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """Push items from the CED stream; the gold labels (event_id, label) are not sent."""
    items: list[dict[str, Any]] = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            item: dict[str, Any] = {
                "mid": record["mid"],
                "parent": record.get("parent"),
                "root": record.get("root"),
                "time": record["time"],
                "text": record["text"],
            }
            if record.get("kind") == "source":
                item["raw"] = {"reposts": record.get("reposts"), "comments": record.get("comments")}
            items.append(item)
            if limit and len(items) >= limit:
                break
    return items


@dataclass
class Run:
    name: str
    items: int
    seconds: float
    latencies: list[float]
    new: int
    duplicate: int
    other: int
    peak_rss_mb: float
    cpu_seconds: float = 0.0

    @property
    def cpu_rate(self) -> float:
        return self.items / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000


@contextmanager
def fresh_database(folder: Path, name: str) -> Iterator[None]:
    """Point settings and the engine at a new migrated SQLite file."""
    from yuqing.core import database
    from yuqing.core.settings import reset_settings_cache

    url = f"sqlite:///{folder / name}.db"
    os.environ["YUQING_DATABASE_URL"] = url
    os.environ["YUQING_PUSH_TOKEN"] = TOKEN
    reset_settings_cache()
    engine = database.make_engine(url)
    database.upgrade_database(engine)
    database.set_engine(engine)
    try:
        yield
    finally:
        database.set_engine(None)
        engine.dispose()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_api(items: list[dict[str, Any]], size: int) -> Run:
    """Through the real FastAPI app in-process: JSON encode, HTTP (ASGI), parse, store."""
    from starlette.testclient import TestClient

    from yuqing.web.app import create_app

    latencies: list[float] = []
    counts = {"new": 0, "duplicate": 0, "other": 0}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with TestClient(create_app()) as client:
        began = time.perf_counter()
        for batch in batches(items, size):
            t0 = time.perf_counter()
            body = orjson.dumps({"source": "微博推送", "items": batch})
            reply = client.post("/api/v1/mentions", content=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if reply.status_code != 200:
                sys.exit(f"push failed: {reply.status_code} {reply.text[:300]}")
            _count(counts, reply.json())
        seconds = time.perf_counter() - began
    return Run(
        "push API (FastAPI in-process)",
        len(items),
        seconds,
        latencies,
        **counts,
        peak_rss_mb=peak_rss_mb(),
    )


def run_service(items: list[dict[str, Any]], size: int) -> Run:
    """ingest() called directly, one commit per batch."""
    from yuqing.core.database import session_scope
    from yuqing.mentions import service
    from yuqing.sources import service as sources_service

    latencies: list[float] = []
    counts = {"new": 0, "duplicate": 0, "other": 0}
    began = time.perf_counter()
    for batch in batches(items, size):
        t0 = time.perf_counter()
        with session_scope() as session:
            source = sources_service.get_or_create(session, name="微博推送", kind="push")
            result = service.ingest(session, source=source, items=batch)
        latencies.append(time.perf_counter() - t0)
        _count(counts, result.model_dump())
    seconds = time.perf_counter() - began
    return Run(
        "service ingest()", len(items), seconds, latencies, **counts, peak_rss_mb=peak_rss_mb()
    )


def run_naive(items: list[dict[str, Any]], size: int) -> Run:
    """The baseline: validate, look up, add and flush one ORM object per item."""
    from yuqing.core.database import session_scope
    from yuqing.core.timeutil import utcnow
    from yuqing.mentions import search
    from yuqing.mentions.models import Mention
    from yuqing.mentions.schemas import ItemIn
    from yuqing.mentions.service import normalise_item
    from yuqing.sources import service as sources_service

    latencies: list[float] = []
    counts = {"new": 0, "duplicate": 0, "other": 0}
    began = time.perf_counter()
    for batch in batches(items, size):
        t0 = time.perf_counter()
        with session_scope() as session:
            source = sources_service.get_or_create(session, name="微博推送", kind="push")
            for raw in batch:
                values = normalise_item(
                    ItemIn.model_validate(raw), source_id=source.id, now=utcnow()
                )
                values.pop("_published_given", None)
                _naive_store(session, Mention, values, counts, search)
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - began
    return Run(
        "baseline: naive per-item ORM",
        len(items),
        seconds,
        latencies,
        **counts,
        peak_rss_mb=peak_rss_mb(),
    )


def _naive_store(
    session: Session, mention: Any, values: dict[str, Any], counts: dict[str, int], search: Any
) -> None:
    same = session.execute(
        select(mention.id).where(
            mention.source_id == values["source_id"],
            mention.external_id == values["external_id"],
        )
    ).first()
    if same:
        counts["other"] += 1
        return
    first = session.execute(
        select(mention.id).where(mention.content_hash == values["content_hash"]).limit(1)
    ).first()
    if first:
        values.update(status="duplicate", duplicate_of_id=first[0])
    row = mention(**values)
    session.add(row)
    session.flush()
    if first is None:
        search.index_rows(session, [(row.id, values["search_text"])])
    counts["duplicate" if first else "new"] += 1


def _count(counts: dict[str, int], result: dict[str, Any]) -> None:
    counts["new"] += result["new"]
    counts["duplicate"] += result["duplicate"]
    counts["other"] += result["updated"] + result["unchanged"] + result["failed"]


def measure(name: str, folder: Path, job: Callable[[], Run], profile: bool) -> Run:
    with fresh_database(folder, name):
        if not profile:
            cpu = time.process_time()
            run = job()
            run.cpu_seconds = time.process_time() - cpu
            return run
        profiler = cProfile.Profile()
        run = profiler.runcall(job)
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        print(f"\n--- profile: {run.name} ---")
        stats.print_stats(35)
        return run


def print_table(runs: list[Run], baseline: Run) -> None:
    print()
    header = (
        f"{'path':<32} {'items':>7} {'items/s':>9} {'/CPU-s':>8} {'target':>8} {'p50 ms':>8} "
        f"{'p95 ms':>8} "
        f"{'new':>7} {'dup':>6} {'other':>6} {'RSS MB':>7} {'vs base':>8}"
    )
    print(header)
    print("-" * len(header))
    for run in [*runs, baseline]:
        print(
            f"{run.name:<32} {run.items:>7} {run.rate:>9,.0f} {run.cpu_rate:>8,.0f} "
            f"{TARGET_ITEMS_PER_SECOND:>8,} "
            f"{run.percentile(50):>8.1f} {run.percentile(95):>8.1f} {run.new:>7} "
            f"{run.duplicate:>6} {run.other:>6} {run.peak_rss_mb:>7.0f} "
            f"{run.rate / baseline.rate:>7.1f}x"
        )
    print(
        "\nitems/s is wall clock; /CPU-s divides by the process CPU time (all threads), which"
        "\nstays meaningful when other jobs share the cores. RSS is the process peak so far"
        f"\n(getrusage). Baseline: the first {baseline.items} items stored one ORM object at a"
        " time, same run; ratio on items/s."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=shared_data() / "events" / "ced_stream_dev.jsonl.gz"
    )
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N items")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=3000, help="items for the naive baseline")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each path")
    args = parser.parse_args()

    items = load_stream(args.data, args.limit)
    print(f"{len(items)} items from {args.data}, batches of {args.batch}")
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        folder = Path(tmp)
        # A long-running server has its imports and caches warm: so does each measured path.
        measure("warmup", folder, lambda: run_api(items[:300], args.batch), False)
        api = measure("api", folder, lambda: run_api(items, args.batch), args.profile)
        direct = measure("service", folder, lambda: run_service(items, args.batch), args.profile)
        base_items = items[: args.baseline]
        baseline = measure("naive", folder, lambda: run_naive(base_items, args.batch), False)
    print_table([api, direct], baseline)
    print(
        "target met"
        if api.rate >= TARGET_ITEMS_PER_SECOND
        else f"target NOT met: {api.rate:,.0f} < {TARGET_ITEMS_PER_SECOND:,} items/s (push API)"
    )


if __name__ == "__main__":
    main()
