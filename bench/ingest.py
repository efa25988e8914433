"""Ingest throughput: the whole pipeline over a real Weibo stream, against a typical 舆情 script.

Usage: .venv/bin/python bench/ingest.py [--limit N] [--batch 1000] [--baseline 3000]
       [--schemes 500] [--keywords 10000] [--profile]

Every row stores the stream into a fresh SQLite database in a temporary folder, one commit
per batch of 1000:

(a) the push API (FastAPI in-process: JSON body, request, parse) running the whole pipeline
    (normalise, dedupe, places, sentiment, schemes, near-duplicates, risk, store, index),
    with 500 schemes / 10,000 keywords stored in the database first (bench/scheme_set.py);
(b) ``pipeline.process`` called directly, same schemes;
(c) ``ingest()`` alone, storing without analysis (normalise, dedupe, store, index);
(d) the baseline pipeline built the way typical open-source 舆情 scripts are, on the first
    ``--baseline`` items: per item ``jieba.lcut``, ``SnowNLP(text).sentiments``, a Python loop
    ``any(k in text for k in keywords)`` over the same schemes, and a per-item ORM insert;
(e) the naive per-item ORM insert alone (look up, add, flush, index one item at a time).

jieba and snownlp are used by this bench only, not by Yuqing: install them into the venv
(``.venv/bin/pip install jieba snownlp``); row (d) is skipped with a message without them.
``--profile`` prints the time of each pipeline stage per item and a cProfile of row (b).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gzip
import importlib
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheme_set import keyword_lists, scheme_ins

TARGET_PIPELINE = 6_000
TARGET_STORE = 10_000
TARGET_RATIO = 10.0
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
    target: int | None = None
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
def fresh_database(folder: Path, name: str, schemes: list[Any]) -> Iterator[None]:
    """Point settings and the engine at a new migrated SQLite file holding ``schemes``."""
    from yuqing.core import database
    from yuqing.core.settings import reset_settings_cache
    from yuqing.schemes import service as schemes_service

    url = f"sqlite:///{folder / name}.db"
    os.environ["YUQING_DATABASE_URL"] = url
    os.environ["YUQING_PUSH_TOKEN"] = TOKEN
    reset_settings_cache()
    engine = database.make_engine(url)
    database.upgrade_database(engine)
    database.set_engine(engine)
    try:
        if schemes:
            with database.session_scope() as session:
                for scheme_in in schemes:
                    schemes_service.create(session, scheme_in=scheme_in)
            with database.session_scope() as session:  # compiled before the clock starts
                schemes_service.current_matcher(session)
        yield
    finally:
        database.set_engine(None)
        engine.dispose()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count(counts: dict[str, int], result: Any) -> None:
    """Add a batch's counts: ``result`` is the push reply (a dict) or an IngestResult, read
    by attribute (``model_dump`` of a thousand outcomes would cost the bench 5 µs an item)."""
    get = result.get if isinstance(result, dict) else functools.partial(getattr, result)
    counts["new"] += get("new")
    counts["duplicate"] += get("duplicate")
    counts["other"] += get("updated") + get("unchanged") + get("failed")


def run_api(items: list[dict[str, Any]], size: int) -> Run:
    """(a) Through the real FastAPI app in-process: JSON encode, HTTP (ASGI), parse, pipeline."""
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
        "(a) push API, whole pipeline",
        len(items),
        seconds,
        latencies,
        **counts,
        peak_rss_mb=peak_rss_mb(),
        target=TARGET_PIPELINE,
    )


def run_direct(items: list[dict[str, Any]], size: int, *, analyse: bool) -> Run:
    """(b) pipeline.process or (c) ingest() called directly, one commit per batch."""
    from yuqing.core.database import session_scope
    from yuqing.mentions import store as mentions_store
    from yuqing.sources import service as sources_service
    from yuqing.worker import pipeline

    store = pipeline.process if analyse else mentions_store.ingest
    latencies: list[float] = []
    counts = {"new": 0, "duplicate": 0, "other": 0}
    began = time.perf_counter()
    for batch in batches(items, size):
        t0 = time.perf_counter()
        with session_scope() as session:
            source = sources_service.get_or_create(session, name="微博推送", kind="push")
            result = store(session, source=source, items=batch)
        latencies.append(time.perf_counter() - t0)
        _count(counts, result)
    seconds = time.perf_counter() - began
    name = "(b) pipeline.process()" if analyse else "(c) store only: ingest()"
    target = TARGET_PIPELINE if analyse else TARGET_STORE
    return Run(
        name, len(items), seconds, latencies, **counts, peak_rss_mb=peak_rss_mb(), target=target
    )


def run_naive(
    items: list[dict[str, Any]], size: int, analysis: Callable[[str], None] | None
) -> Run:
    """(e) validate, look up, add and flush one ORM object per item; (d) with ``analysis``
    run on each item's text first."""
    from yuqing.core.database import session_scope
    from yuqing.core.timeutil import utcnow
    from yuqing.mentions import search
    from yuqing.mentions.items import normalise_item
    from yuqing.mentions.models import Mention
    from yuqing.sources import service as sources_service
    from yuqing.sources.schemas import ItemIn

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
                ).columns()
                if analysis is not None:
                    analysis(values["text"])
                _naive_store(session, Mention, values, counts, search)
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - began
    name = "(d) baseline: jieba+snownlp+loop" if analysis else "(e) naive per-item ORM insert"
    return Run(name, len(items), seconds, latencies, **counts, peak_rss_mb=peak_rss_mb())


def script_analysis(keywords: list[list[str]]) -> Callable[[str], None] | None:
    """What a typical 舆情 script does per item: segment, score, loop over the keywords."""
    try:
        import jieba
        from snownlp import SnowNLP
    except ImportError:
        return None
    jieba.setLogLevel(60)
    jieba.initialize()

    def analyse(text: str) -> None:
        jieba.lcut(text)
        SnowNLP(text).sentiments if text.strip() else 0.5
        for words in keywords:
            any(k in text for k in words)

    return analyse


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


# --- stage timers (--profile) -------------------------------------------------------------

STAGES = (
    # (label, module, attribute): module functions and stage methods the pipeline and the
    # store call by name.
    ("validate (pydantic)", "yuqing.mentions.items", "validate"),
    ("normalise", "yuqing.mentions.items", "normalise_item"),
    ("same-item lookup", "yuqing.mentions.store", "_existing_same_items"),
    ("exact-copy lookup", "yuqing.mentions.store", "_split_copies"),
    ("places (before insert)", "yuqing.worker.stage", "Places.before_insert"),
    ("sentiment", "yuqing.worker.stage", "Sentiment.before_insert"),
    ("schemes match", "yuqing.worker.stage", "Schemes.before_insert"),
    ("near-dup lookup", "yuqing.mentions.stage", "NearDuplicates.before_insert"),
    ("risk", "yuqing.worker.stage", "Risk.before_insert"),
    ("insert mention rows", "yuqing.mentions.store", "_insert"),
    ("search index", "yuqing.mentions.search", "index_new"),
    ("  store places", "yuqing.worker.stage", "Places.after_insert"),
    ("  store scheme matches", "yuqing.schemes.service", "record_matches"),
    ("  store near-dup bands", "yuqing.mentions.neardup", "store_groups"),
    ("  events: copies", "yuqing.events.stage", "_copies"),
    ("  events: place", "yuqing.events.placer", "Placer.place"),
    ("  dashboard counters", "yuqing.dashboard.stage", "Dashboard.after_insert"),
    ("  alerts (item rules)", "yuqing.alerts.stage", "Alerts.after_insert"),
    ("commit", "sqlalchemy.orm.session", "Session.commit"),
)


def install_stage_timers() -> dict[str, float]:
    """Wrap each stage function with a timer; returns CPU seconds per label, filled as it
    runs (CPU time, not wall clock: the machine is shared and the wall clock is noisy)."""
    spent: dict[str, float] = defaultdict(float)
    for label, module_name, attribute in STAGES:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:  # a stage this version of the pipeline does not have
            continue
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name, None)
        if original is None:
            continue

        def timed(*args: Any, _f: Any = original, _l: str = label, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_l] += time.process_time() - t0

        setattr(owner, name, functools.wraps(original)(timed))
    return spent


def print_stages(spent: dict[str, float], run: Run) -> None:
    print(f"\nwhere the time goes, {run.name} over {run.items} items (CPU µs per item):")
    for label, _, _ in STAGES:
        print(f"  {label:<28} {spent.get(label, 0.0) / run.items * 1e6:>8.1f}")
    print(f"  {'total (CPU)':<28} {run.cpu_seconds / run.items * 1e6:>8.1f}")
    print(f"  {'total (wall)':<28} {run.seconds / run.items * 1e6:>8.1f}")


# --- running and reporting ----------------------------------------------------------------


def measure(name: str, folder: Path, schemes: list[Any], job: Callable[[], Run]) -> Run:
    with fresh_database(folder, name, schemes):
        cpu = time.process_time()
        run = job()
        run.cpu_seconds = time.process_time() - cpu
        return run


def profile(folder: Path, schemes: list[Any], items: list[dict[str, Any]], size: int) -> None:
    spent = install_stage_timers()
    run = measure("stages", folder, schemes, lambda: run_direct(items, size, analyse=True))
    print_stages(spent, run)
    profiler = cProfile.Profile()
    with fresh_database(folder, "cprofile", schemes):
        profiler.runcall(lambda: run_direct(items, size, analyse=True))
    print("\n--- cProfile: pipeline.process() (timers installed) ---")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def print_table(runs: list[Run], baseline: Run | None) -> None:
    print()
    header = (
        f"{'path':<34} {'items':>6} {'items/s':>8} {'/CPU-s':>8} {'target':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'new':>6} {'dup':>5} {'other':>5} {'RSS MB':>6} {'vs (d)':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        ratio = f"{run.rate / baseline.rate:>6.1f}x" if baseline else "-"
        target = f"{run.target:,}" if run.target else "-"
        print(
            f"{run.name:<34} {run.items:>6} {run.rate:>8,.0f} {run.cpu_rate:>8,.0f} {target:>7} "
            f"{run.percentile(50):>7.1f} {run.percentile(95):>7.1f} {run.new:>6} "
            f"{run.duplicate:>5} {run.other:>5} {run.peak_rss_mb:>6.0f} {ratio:>7}"
        )
    print(
        "\nitems/s is wall clock; /CPU-s divides by the process CPU time (all threads), which"
        "\nstays meaningful when other jobs share the cores. p50/p95: time per batch. RSS is"
        "\nthe process peak so far (getrusage). Ratio on items/s against row (d), same run."
    )


def verdict(api: Run, store: Run, baseline: Run | None) -> None:
    checks = [
        (f"(a) ≥ {TARGET_PIPELINE:,} items/s", api.rate >= TARGET_PIPELINE),
        (f"(c) ≥ {TARGET_STORE:,} items/s", store.rate >= TARGET_STORE),
    ]
    if baseline:
        ratio = api.rate / baseline.rate
        checks.append((f"(a)/(d) = {ratio:.1f}x ≥ {TARGET_RATIO:.0f}x", ratio >= TARGET_RATIO))
    for label, ok in checks:
        print(f"{'met    ' if ok else 'NOT met'}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=shared_data() / "events" / "ced_stream_dev.jsonl.gz"
    )
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N items")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=3000, help="items for rows (d) and (e)")
    parser.add_argument("--schemes", type=int, default=500)
    parser.add_argument("--keywords", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="time each stage, then cProfile")
    args = parser.parse_args()

    items = load_stream(args.data, args.limit)
    schemes = scheme_ins([i["text"] for i in items[:50_000]], args.schemes, args.keywords)
    print(
        f"{len(items)} items from {args.data}, batches of {args.batch}, "
        f"{len(schemes)} schemes / {sum(map(len, keyword_lists(schemes)))} keywords"
    )
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        folder = Path(tmp)
        if args.profile:
            profile(folder, schemes, items, args.batch)
            return
        # A long-running server has its imports, models and caches warm: so does each row.
        measure("warmup", folder, schemes, lambda: run_api(items[:2000], args.batch))
        runs = [
            measure("api", folder, schemes, lambda: run_api(items, args.batch)),
            measure("direct", folder, schemes, lambda: run_direct(items, args.batch, analyse=True)),
            measure("store", folder, [], lambda: run_direct(items, args.batch, analyse=False)),
        ]
        base_items = items[: args.baseline]
        analysis = script_analysis(keyword_lists(schemes))
        baseline = None
        if analysis is None:
            print(
                "row (d) skipped: jieba and snownlp are not installed (pip install jieba snownlp)"
            )
        else:
            analysis(base_items[0]["text"])  # load snownlp's model before the clock starts
            baseline = measure(
                "script", folder, schemes, lambda: run_naive(base_items, args.batch, analysis)
            )
            runs.append(baseline)
        runs.append(measure("naive", folder, [], lambda: run_naive(base_items, args.batch, None)))
    print_table(runs, baseline)
    verdict(runs[0], runs[2], baseline)


if __name__ == "__main__":
    main()
