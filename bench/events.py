"""Event clustering on real streams: B-cubed precision/recall/F1, baselines and speed.

Usage: .venv/bin/python bench/events.py [--data FILE] [--runs links,text] [--limit N]
       [--batch 500] [--profile] [--explain N]

``--data``: JSON Lines, optionally gzipped, one item a line with ``event_id`` (gold),
``time``, ``text``, optional ``title``, ``root``, ``parent`` (default: the CED Weibo stream,
/work/shared/data/events/ced_stream_dev.jsonl.gz, or under ``$YUQING_SHARED_DATA``; the news
articles are ``events/news_events_zh_dev.jsonl``). Replays it in time order through the real
ingest pipeline (``worker.pipeline.process``, whose stages include events) on a
fresh SQLite database, one commit per batch. Each stored mention (exact copies included) is
read back with its event and scored against the gold ``event_id``:

- run "links": items carry ``root``/``parent`` as platform exports do;
- run "text": ``root`` and ``parent`` stripped, so only text (near-duplicates, the text
  vectors) can group items.

After each batch the periodic pass (``events.jobs.merge_stories``, which the worker runs
every minute) merges events of one story; its time is reported apart from the stage's. The
text run is also scored online only (no periodic pass).

Baselines in the same run, on the same items: every item its own event, a naive grouping by
the first 20 characters of the text, and (up to 5,000 items) the batch clustering the online
one is measured against: TF-IDF character bigrams of title and text (sublinear tf), cosine,
average link, cut at similarity 0.10 (distance 0.90: the bar an item must reach to join an
event online), with all items known in advance. Throughput is items per second of the whole
pipeline and the CPU µs per item spent in the events stage alone (``events.stage.Events.after_insert``,
timed where the pipeline calls it).

``--profile`` prints the events stage's own profile (cProfile, cumulative time) per run;
``--explain N`` counts the joins that cost precision (an original post placed in an event
seeded by another gold event) by how they joined, with N examples.

The clustering thresholds were chosen on this dev stream's B-cubed alone (no other data), so
the figures here are optimistic for other streams; docs/events.md says so.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import gzip
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

TARGET_F1_LINKS = 0.95
TARGET_PRECISION_TEXT = 0.90
TARGET_F1_TEXT_ONLY = 0.90  # data without links at all (news articles): F1 too
TARGET_STAGE_US = 20.0  # per short post
TARGET_STAGE_US_ARTICLE = 60.0  # per ~800-character article
LONG_TEXT = 400  # mean characters from which the data counts as articles
BASELINE_MAX = 5_000  # the batch baseline is O(n²) in memory
BASELINE_DISTANCE = 0.90


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("YUQING_SHARED_DATA", default))


def load(path: Path, limit: int | None) -> list[dict[str, Any]]:
    records = []
    with path.open("rb") as probe:
        zipped = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if zipped else path.open("rb") as handle:
        for line in handle:
            if line.strip():
                records.append(orjson.loads(line))
            if limit and len(records) >= limit:
                break
    for number, record in enumerate(records):
        record.setdefault("mid", f"item-{number}")
    records.sort(key=lambda r: r["time"])
    return records


def baseline_batch(records: list[dict[str, Any]]) -> dict[str, int] | None:
    """Batch TF-IDF character-bigram average-link clustering (all items known up front)."""
    if len(records) > BASELINE_MAX:
        return None
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [(r.get("title") or "") + "\n" + r["text"] for r in records]
    matrix = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True)
    vectors = matrix.fit_transform(docs).toarray()
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=BASELINE_DISTANCE,
    ).fit_predict(vectors)
    return {r["mid"]: int(label) for r, label in zip(records, labels, strict=True)}


def bcubed(gold: dict[Any, Any], found: dict[Any, Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of ``found`` clusters against ``gold`` (item → label)."""
    items = [i for i in gold if i in found]
    pair: Counter[tuple[Any, Any]] = Counter((gold[i], found[i]) for i in items)
    gold_size = Counter(gold[i] for i in items)
    found_size = Counter(found[i] for i in items)
    precision = recall = 0.0
    for (g, f), n in pair.items():
        precision += n * n / found_size[f]
        recall += n * n / gold_size[g]
    precision, recall = precision / len(items), recall / len(items)
    return precision, recall, 2 * precision * recall / (precision + recall)


class _Timer:
    def __init__(self, profile: bool) -> None:
        self.cpu = 0.0
        self.profiler = cProfile.Profile() if profile else None

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            began = time.process_time()
            if self.profiler is not None:
                self.profiler.enable()
            try:
                result = function(*args)
            finally:
                if self.profiler is not None:
                    self.profiler.disable()
                self.cpu += time.process_time() - began
            if callable(result):
                return self.wrap(result)
            return result

        return timed


def replay(
    records: list[dict[str, Any]],
    batch: int,
    *,
    links: bool,
    profile: bool = False,
    periodic: bool = True,
) -> dict[str, Any]:
    """Ingest the stream into a fresh database; mid → event id, and the timings."""
    from sqlalchemy import text

    from yuqing.core import database
    from yuqing.core.settings import reset_settings_cache
    from yuqing.events import cluster
    from yuqing.events import jobs as event_jobs
    from yuqing.events.stage import Events as EventsStage
    from yuqing.sources import service as sources
    from yuqing.worker import pipeline

    cluster.warm_up()  # a running worker has loaded its dictionaries already
    # The bench's own data (every record of the file, the baseline's imports) is not the
    # worker's: frozen, the garbage collector stops rescanning it during the timed stage.
    gc.collect()
    gc.freeze()
    timer = _Timer(profile)
    original_stage = EventsStage.after_insert
    EventsStage.after_insert = timer.wrap(original_stage)  # type: ignore[method-assign]

    items = []
    for r in records:
        item = {"mid": r["mid"], "time": r["time"], "text": r["text"]}
        if r.get("title"):
            item["title"] = r["title"]
        if links:
            item["root"], item["parent"] = r.get("root"), r.get("parent")
        items.append(item)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/events.db"
        os.environ["YUQING_DATABASE_URL"] = url
        os.environ["YUQING_DATA_DIR"] = folder
        reset_settings_cache()
        engine = database.make_engine(url)
        database.upgrade_database(engine)
        database.set_engine(engine)
        merged = related = 0
        periodic_cpu = periodic_wall = 0.0
        try:
            began, cpu0 = time.perf_counter(), time.process_time()
            for start in range(0, len(items), batch):
                with database.session_scope() as session:
                    source = sources.get_or_create(session, name="微博推送", kind="push")
                    pipeline.process(session, source=source, items=items[start : start + batch])
                if periodic:
                    pass_began, pass_wall = time.process_time(), time.perf_counter()
                    with database.session_scope() as session:
                        done = event_jobs.merge_stories(session)
                    merged, related = merged + done[0], related + done[1]
                    periodic_cpu += time.process_time() - pass_began
                    periodic_wall += time.perf_counter() - pass_wall
            seconds = time.perf_counter() - began - periodic_wall
            cpu = time.process_time() - cpu0 - periodic_cpu
            with database.session_scope() as session:
                placed = session.execute(
                    text(
                        "SELECT m.external_id, em.event_id, em.reason FROM mention m "
                        "JOIN event_member em ON em.mention_id = m.id"
                    )
                ).all()
                events = session.execute(
                    text("SELECT COUNT(*) FROM event WHERE merged_into_id IS NULL")
                ).scalar_one()
        finally:
            EventsStage.after_insert = original_stage  # type: ignore[method-assign]
            database.set_engine(None)
            engine.dispose()
    return {
        "found": {mid: event_id for mid, event_id, _ in placed},
        "reasons": {mid: reason for mid, _, reason in placed},
        "profiler": timer.profiler,
        "seconds": seconds,
        "cpu": cpu,
        "stage_cpu": timer.cpu,
        "events": events,
        "periodic_cpu": periodic_cpu,
        "merged": merged,
        "related": related,
    }


def explain(records: list[dict[str, Any]], run: dict[str, Any], examples: int) -> None:
    """Original posts placed in an event another gold event seeded, by how they joined, with
    the items their gold cascades hold (what the join costs in B-cubed precision)."""
    found, reasons = run["found"], run["reasons"]
    gold = {r["mid"]: r["event_id"] for r in records}
    cascade = Counter(gold.values())
    by_mid = {r["mid"]: r for r in records}  # a CED gold event is named by its source post
    seed_gold: dict[int, Any] = {}
    for r in records:  # in time order: an event's seed is its earliest item
        seed_gold.setdefault(found.get(r["mid"], -1), r["event_id"])
    joins: Counter[str] = Counter()
    carried: Counter[str] = Counter()
    shown = []
    for r in records:
        event_id = found.get(r["mid"])
        if r["kind"] != "source" or event_id is None or seed_gold[event_id] == r["event_id"]:
            continue
        reason = reasons[r["mid"]]
        joins[reason] += 1
        carried[reason] += cascade[r["event_id"]]
        seed = by_mid.get(seed_gold[event_id], {"time": "?", "text": "?"})
        shown.append((reason, seed["time"], seed["text"][:50], r["time"], r["text"][:50]))
    print("\nOriginal posts joined to another gold event's event, by reason:")
    for reason, n in joins.most_common():
        print(f"  {reason}: {n} posts, {carried[reason]:,} items in their cascades")
    for reason, t0, s0, t1, s1 in shown[:examples]:
        print(f"  [{reason}] {t0} {s0}\n         {t1} {s1}")


def prefix_groups(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {r["mid"]: r["text"].strip()[:20] for r in records}


Row = tuple[str, float, float, float, str, str, str, str]


def reference_ns() -> float:
    """CPU ns per iteration of a fixed pure-Python loop, the least of five: on a shared
    machine, compare runs by it (contention slows CPU time too)."""
    best = float("inf")
    for _ in range(5):
        began, total = time.process_time(), 0
        for i in range(1_000_000):
            total += i
        best = min(best, (time.process_time() - began) * 1e3)
    return best


def _passes(runs: str) -> list[tuple[str, bool, bool]]:
    """(label, links, periodic) of each replay a set of runs makes."""
    found = []
    for name in runs.split(","):
        links = name.strip() == "links"
        for periodic in [True] if links else [True, False]:
            found.append((f"{name.strip()}{'' if periodic else ', online only'}", links, periodic))
    return found


def stage_only(records: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The stage's µs per item of each run, the least of ``--repeat`` replays in this one
    process (a worker's process is long-lived: warm), printed as JSON (``--against``)."""
    has_links = any(r.get("root") or r.get("parent") for r in records)
    runs = args.runs or ("links,text" if has_links else "text")
    for label, links, periodic in _passes(runs):
        least = float("inf")
        for _ in range(args.repeat or 1):
            run = replay(records, args.batch, links=links, periodic=periodic)
            least = min(least, run["stage_cpu"] / len(records) * 1e6)
        print(orjson.dumps({"run": label, "stage_us": least}).decode())


def _stage_times(
    source: Path, path: Path, args: argparse.Namespace, runs: str, repeat: int
) -> dict[str, float]:
    command = [sys.executable, __file__, "--data", str(path), "--runs", runs, "--stage-only"]
    command += ["--repeat", str(repeat)]
    command += ["--batch", str(args.batch)] + (["--limit", str(args.limit)] if args.limit else [])
    env = dict(os.environ, PYTHONPATH=str(source))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    lines = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {line["run"]: line["stage_us"] for line in lines}


ROUNDS = 2  # --against: each tree's process started this often, in turn


def compare(path: Path, args: argparse.Namespace, runs: str, repeat: int) -> None:
    """The events stage of this tree and of ``--against``, in processes of their own started
    in turn (a shared machine's load changes from minute to minute), ``ROUNDS`` each of
    ``repeat`` replays: the least replay of each tree, and their ratio."""
    import yuqing

    ours = Path(yuqing.__file__).resolve().parents[1]
    least: dict[tuple[str, Path], float] = {}
    for _ in range(ROUNDS):
        for source in (ours, args.against.resolve()):
            for label, us in _stage_times(source, path, args, runs, repeat).items():
                least[label, source] = min(least.get((label, source), float("inf")), us)
    print(
        f"\nevents stage, this tree ({ours}) against {args.against}, in turn: the least of "
        f"{ROUNDS} processes × {repeat} replays each"
    )
    for label, _, _ in _passes(runs):
        mine, theirs = least[label, ours], least[label, args.against.resolve()]
        print(
            f"  {label}: {mine:.1f} µs/item against {theirs:.1f} (ratio {mine / theirs:.2f}); "
            f"load average now {os.getloadavg()[0]:.1f}"
        )


def _verdict(p: float, f: float, *, min_p: float | None, min_f: float | None) -> str:
    ok = (min_p is None or p >= min_p) and (min_f is None or f >= min_f)
    return "✓" if ok else "✗"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument(
        "--runs",
        default=None,
        help="links, text or both (default: both, or text alone for data without links)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="replays per run, the least stage CPU reported (default 3 up to 5,000 items, else 1)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the events stage")
    parser.add_argument("--sort", default="cumulative", help="profile order (e.g. tottime)")
    parser.add_argument("--explain", type=int, default=0, help="show N precision-losing joins")
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another tree's src folder (e.g. ../main/src): both trees' stage timed in the "
        "same run, replay by replay in turn, each in a fresh process, and their ratio",
    )
    parser.add_argument("--stage-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.data or shared_data() / "events" / "ced_stream_dev.jsonl.gz"
    if not path.is_file():
        sys.exit(f"找不到数据文件：{path}")
    records = load(path, args.limit)
    if args.stage_only:
        stage_only(records, args)
        return
    gold = {r["mid"]: r["event_id"] for r in records}
    has_links = any(r.get("root") or r.get("parent") for r in records)
    repeat = args.repeat or (3 if len(records) <= BASELINE_MAX else 1)
    runs = args.runs or ("links,text" if has_links else "text")
    chars = sum(len(r["text"]) for r in records) / max(len(records), 1)
    articles = chars >= LONG_TEXT
    print(
        f"{path.name}: {len(records):,} items (mean {chars:,.0f} characters), "
        f"{len(set(gold.values())):,} gold events, batches of {args.batch}, "
        f"stage CPU: the least of {repeat} replays"
    )
    rows: list[Row] = []
    p, r, f = bcubed(gold, {m: m for m in gold})
    rows.append(("baseline: every item its own event", p, r, f, "", "", "", ""))
    p, r, f = bcubed(gold, prefix_groups(records))
    rows.append(("baseline: same first 20 characters", p, r, f, "", "", "", ""))
    import sklearn.cluster  # noqa: F401  (imported before the clock starts)

    batch_began = time.process_time()
    found = baseline_batch(records)
    if found is not None:
        us = (time.process_time() - batch_began) / len(records) * 1e6
        p, r, f = bcubed(gold, found)
        name = f"baseline: batch TF-IDF bigram average link ({len(set(found.values())):,} events)"
        rows.append((name, p, r, f, "", "", f"{us:.0f} (batch)", ""))
    stage_target = TARGET_STAGE_US_ARTICLE if articles else TARGET_STAGE_US
    extra = []
    stages: list[tuple[str, float]] = []  # (run, stage µs per item) for the reference scale
    for name in runs.split(","):
        links = name.strip() == "links"
        passes = [True, False] if not links else [True]
        for periodic in passes:
            run = replay(records, args.batch, links=links, profile=args.profile, periodic=periodic)
            for _ in range(repeat - 1):  # timing on a shared machine: the least CPU of N runs
                again = replay(records, args.batch, links=links, periodic=periodic)
                run["stage_cpu"] = min(run["stage_cpu"], again["stage_cpu"])
                run["seconds"] = min(run["seconds"], again["seconds"])
            if run["profiler"] is not None:
                print(f"\nevents stage profile ({'links' if links else 'text'}):")
                pstats.Stats(run["profiler"]).sort_stats(args.sort).print_stats(30)
            if args.explain and periodic:
                explain(records, run, args.explain)
            missing = len(gold) - len(run["found"])
            p, r, f = bcubed(gold, run["found"])
            if links:
                label, target = "events, with root/parent links", f"F1 ≥ {TARGET_F1_LINKS}"
                verdict = _verdict(p, f, min_p=None, min_f=TARGET_F1_LINKS)
            elif has_links:
                label, target = "events, text alone", f"P ≥ {TARGET_PRECISION_TEXT}"
                verdict = _verdict(p, f, min_p=TARGET_PRECISION_TEXT, min_f=None)
            else:
                label = "events, text alone"
                target = f"F1 ≥ {TARGET_F1_TEXT_ONLY}, P ≥ {TARGET_PRECISION_TEXT}"
                verdict = _verdict(p, f, min_p=TARGET_PRECISION_TEXT, min_f=TARGET_F1_TEXT_ONLY)
            if not periodic:
                label += ", online only (no periodic pass)"
                target = verdict = ""
            stage_us = run["stage_cpu"] / len(records) * 1e6
            stages.append((f"{name.strip()}{'' if periodic else ', online only'}", stage_us))
            speed = "✓" if stage_us <= stage_target else "✗"
            rows.append(
                (
                    f"{label} ({run['events']:,} events, {missing} unplaced)",
                    p,
                    r,
                    f,
                    target,
                    verdict,
                    f"{stage_us:.1f} {speed}",
                    f"{len(records) / run['seconds']:,.0f}",
                )
            )
            if periodic:
                extra.append(
                    f"periodic pass ({'links' if links else 'text'}): {run['merged']} merges, "
                    f"{run['related']} 相关事件 links, {run['periodic_cpu'] * 1e3:,.0f} ms CPU "
                    "in all (after every batch)"
                )
    print()
    print(
        "| run | B³ precision | B³ recall | B³ F1 | target | met | events µs/item (CPU) "
        "| pipeline items/s |"
    )
    print("| --- | ---: | ---: | ---: | --- | :-: | ---: | ---: |")
    for name, p, r, f, target, verdict, stage, rate in rows:
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {target} | {verdict} | {stage} | {rate} |")
    print()
    for line in extra:
        print(line)
    ns = reference_ns()
    print(
        f"machine: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; a reference "
        f"pure-Python loop took {ns:.0f} ns/iteration (CPU figures scale with it)"
    )
    for name, us in stages:  # comparable across loads and machines, roughly
        print(
            f"events stage ({name}): {us:.1f} µs/item = the time of {us * 1e3 / ns:,.0f} "
            "reference iterations"
        )
    kind = "article" if articles else "short post"
    print(
        f"events stage target: ≤ {stage_target:.0f} µs CPU per {kind} "
        f"(mean {chars:,.0f} characters here)"
    )
    if args.against is not None:
        compare(path, args, runs, repeat)


if __name__ == "__main__":
    main()
