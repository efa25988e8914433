"""Queue mode throughput and latency: real API, real workers, PostgreSQL and Redis on this machine.

Usage: .venv/bin/python bench/cluster.py [--seconds 60] [--rounds 2] [--clients 16]
       [--workers 1,2] [--rate 2000] [--latency-seconds 30]
       [--database-url postgresql://…/bench_cluster] [--redis-url redis://127.0.0.1:6379/2]
       [--schemes 500] [--keywords 10000]

A fresh PostgreSQL database (500 schemes / 10,000 keywords, as bench/ingest.py), an emptied
Redis database, then ``yuqing serve --queue`` (the API, the inbox sweep, the search-index
follower), ``yuqing worker --queues analysis`` processes and one ``yuqing worker --queues
ordered``, each its own process. ``--clients`` threads push batches of the CED Weibo stream
(one source per client) through HTTP, keeping at most a few batches per worker waiting (the
API answers at once; an unbounded backlog would measure the clients, not the workers).

The worker counts are compared in one cluster whose workers are all started and warm: the
analysis queue is switched on for the first N only, in windows that alternate the counts
(1, 2, 2, 1 with ``--rounds 2``), each count ``--seconds`` in all, so the load that other
work puts on the machine drifts over both alike. ``--rounds 0`` starts a fresh cluster per
count instead.

Figures: items fully processed per second (their inbox batch ``done``: analysed, stored,
indexed for search, placed in events, counted on the dashboard) over the window; items per
CPU-second of the analysis workers (/proc utime + stime); then, with the largest worker
count, push → searchable at ``--rate`` items/s offered (open loop, every client on its own
clock): the time from sending a batch to its commit by a worker (a search merges what the
tantivy index has not applied yet, so a committed item is found), p50 / p95.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import load_stream, shared_data  # bench/ingest.py, a script beside this one
from scheme_set import keyword_lists, scheme_ins

TOKEN = "bench-cluster-token"
BATCH = 250
PORT = 8731
TARGET_SCALING = 1.5
TARGET_CPU_SPREAD = 0.10
TARGET_P95_SECONDS = 5.0


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its own threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cluster:
    """The processes of one run and how to reach them."""

    env: dict[str, str]
    folder: Path
    api: subprocess.Popen[bytes] | None = None
    analysis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ordered: subprocess.Popen[bytes] | None = None

    def start(self, workers: int) -> None:
        code = "from yuqing.cli import app; app()"
        log = self.folder / "log"
        log.mkdir(exist_ok=True)

        def spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-c", code, *args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=open(log / f"{name}.log", "wb"),
            )

        self.api = spawn("api", "serve", "--queue", "--no-fetch", "--port", str(PORT))
        self.analysis = [
            spawn(f"analysis{n}", "worker", "--queues", "analysis", "--name", f"analysis{n}@bench")
            for n in range(workers)
        ]
        self.ordered = spawn("ordered", "worker", "--queues", "ordered", "--name", "ordered@bench")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        sys.exit(f"the API did not start: see {log / 'api.log'}")

    def stop(self) -> None:
        processes = [p for p in (self.api, *self.analysis, self.ordered) if p is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def worker_cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.analysis)

    def ordered_cpu(self) -> float:
        return cpu_seconds(self.ordered.pid) if self.ordered is not None else 0.0


def fresh_database(url: str, schemes: list[Any]) -> None:
    """Empty the bench database, migrate it and store the schemes (compiled by each worker)."""
    from yuqing.core import database
    from yuqing.schemes import service as schemes_service

    engine = database.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.upgrade_database(engine)
    database.set_engine(engine)
    try:
        with database.session_scope() as session:
            for scheme_in in schemes:
                schemes_service.create(session, scheme_in=scheme_in)
    finally:
        database.set_engine(None)
        engine.dispose()


def empty_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


class Feed:
    """The stream handed out batch by batch to the clients (each source sees its own order)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items, self.next, self.lock, self.wrapped = items, 0, threading.Lock(), False

    def take(self, size: int) -> list[dict[str, Any]]:
        with self.lock:
            start = self.next
            self.next += size
            if self.next > len(self.items):
                self.wrapped = True
        return [self._copy(start + k) for k in range(size)]

    def _copy(self, position: int) -> dict[str, Any]:
        """The item at ``position``; past the end, a copy whose ids (and links) are new."""
        item = self.items[position % len(self.items)]
        rounds = position // len(self.items)
        if not rounds:
            return item
        renamed = {k: f"{item[k]}~{rounds}" for k in ("mid", "parent", "root") if item.get(k)}
        return {**item, **renamed}


class Progress:
    """Items of done batches and waiting batches, read from the inbox every 0.25 s."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        self.done_items = 0
        self.waiting = 0
        self.samples: list[tuple[int, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        query = text(
            "SELECT coalesce(sum(received) FILTER (WHERE state = 'done'), 0),"
            " count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'stored')"
            " FROM inbox_batch"
        )
        while not self.stop.wait(0.25):
            with self.engine.connect() as connection:
                done, queued, stored = connection.execute(query).one()
            self.done_items, self.waiting = int(done), int(queued) + int(stored)
            self.samples.append((int(queued), int(stored)))

    def mark(self) -> int:
        return len(self.samples)

    def backlog_since(self, mark: int) -> tuple[float, float]:
        """Mean batches waiting for analysis and for the ordered consumer since ``mark``."""
        seen = self.samples[mark:] or [(0, 0)]
        return (
            sum(q for q, _ in seen) / len(seen),
            sum(s for _, s in seen) / len(seen),
        )

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()


def push(client: httpx.Client, source: str, batch: list[dict[str, Any]]) -> int:
    reply = client.post(
        f"http://127.0.0.1:{PORT}/api/v1/mentions",
        content=orjson.dumps({"source": source, "items": batch}),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    if reply.status_code != 202:
        raise RuntimeError(f"push failed: {reply.status_code} {reply.text[:300]}")
    return int(reply.json()["inbox_id"])


def wait_done(progress: Progress, items: int, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if progress.done_items >= items and progress.waiting == 0:
            return True
        time.sleep(0.25)
    return False


@dataclass
class Throughput:
    workers: int
    items: int
    seconds: float
    cpu: float
    load: str
    pushed: int

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    @property
    def per_cpu(self) -> float:
        return self.items / self.cpu if self.cpu else 0.0


def closed_loop(
    args: argparse.Namespace,
    feed: Feed,
    progress: Progress,
    workers: int,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Clients push as fast as the backlog cap lets them for ``args.seconds`` (or until
    ``stop`` is set, when given); items pushed."""
    timed = stop is None
    stop = stop or threading.Event()
    pushed = [0] * args.clients
    cap = 4 * workers + 2  # waiting batches: enough that no worker idles

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                if progress.waiting >= cap:
                    time.sleep(0.02)
                    continue
                batch = feed.take(BATCH)
                push(http, f"bench-{n:02d}", batch)
                pushed[n] += len(batch)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    if timed:
        stop.wait(args.seconds)
        stop.set()
    for thread in threads:
        thread.join()
    return sum(pushed)


def run_throughput(
    args: argparse.Namespace, items: list[dict[str, Any]], schemes: list[Any], workers: int
) -> Throughput:
    fresh_database(args.database_url, schemes)
    empty_redis(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="yuqing-cluster-") as tmp:
        cluster = Cluster(env=environment(args, Path(tmp)), folder=Path(tmp))
        progress = Progress(args.database_url)
        try:
            cluster.start(workers)
            feed = Feed(items)
            with httpx.Client(timeout=60) as http:  # warm every worker: models, matcher, caches
                warm = 0
                for n in range(4 * workers):
                    warm += len(batch := feed.take(BATCH))
                    push(http, f"bench-{n % args.clients:02d}", batch)
            if not wait_done(progress, warm, 300):
                sys.exit("the warm-up batches were not processed: see the logs")
            start_items, start_cpu = progress.done_items, cluster.worker_cpu()
            start_ordered, mark = cluster.ordered_cpu(), progress.mark()
            began = time.monotonic()
            pushed = closed_loop(args, feed, progress, workers)
            seconds = time.monotonic() - began
            end_items, end_cpu = progress.done_items, cluster.worker_cpu()
            load = load_average()
            queued, stored = progress.backlog_since(mark)
            print(
                f"  ({workers} worker(s): ordered consumer {cluster.ordered_cpu() - start_ordered:.1f}"
                f" CPU-s; batches waiting on average: {queued:.1f} for analysis, {stored:.1f} for"
                " the ordered consumer)"
            )
            if feed.wrapped:
                print("note: the stream was replayed (items past its end are copies)")
            return Throughput(
                workers, end_items - start_items, seconds, end_cpu - start_cpu, load, pushed
            )
        finally:
            progress.close()
            cluster.stop()


def run_interleaved(
    args: argparse.Namespace, items: list[dict[str, Any]], schemes: list[Any], counts: list[int]
) -> list[Throughput]:
    """One cluster with the largest worker count, every worker warm; the analysis queue is
    switched on for the first N workers only (Celery's add/cancel consumer), in windows
    that alternate the counts (1, 2, 2, 1, …) so the machine's load drifts over all alike.
    Each count gets ``args.seconds`` in ``args.rounds`` windows."""
    from yuqing.core.settings import reset_settings_cache

    os.environ["YUQING_REDIS_URL"] = args.redis_url
    reset_settings_cache()
    from yuqing.worker import tasks

    control = tasks.get_app().control
    most = max(counts)
    names = [f"analysis{n}@bench" for n in range(most)]
    window = args.seconds / args.rounds
    fresh_database(args.database_url, schemes)
    empty_redis(args.redis_url)
    totals = {n: Throughput(n, 0, 0.0, 0.0, "", 0) for n in counts}
    loads: dict[int, list[str]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="yuqing-cluster-") as tmp:
        cluster = Cluster(env=environment(args, Path(tmp)), folder=Path(tmp))
        progress = Progress(args.database_url)
        stop = threading.Event()
        try:
            cluster.start(most)
            feed = Feed(items)
            with httpx.Client(timeout=60) as http:  # warm every worker: models, matcher, caches
                warm = 0
                for n in range(4 * most):
                    warm += len(batch := feed.take(BATCH))
                    push(http, f"bench-{n % args.clients:02d}", batch)
            if not wait_done(progress, warm, 300):
                sys.exit("the warm-up batches were not processed: see the logs")
            clients = threading.Thread(
                target=closed_loop, args=(args, feed, progress, most), kwargs={"stop": stop}
            )
            clients.start()
            order = [
                n for r in range(args.rounds) for n in (counts if r % 2 == 0 else counts[::-1])
            ]
            for active in order:
                control.add_consumer(tasks.ANALYSIS, destination=names[:active], reply=True)
                if names[active:]:
                    control.cancel_consumer(tasks.ANALYSIS, destination=names[active:], reply=True)
                time.sleep(2)  # the cancelled workers finish the batch they hold
                pids = [p.pid for p in cluster.analysis[:active]]
                items0, cpu0 = progress.done_items, sum(map(cpu_seconds, pids))
                began = time.monotonic()
                time.sleep(window)
                run = totals[active]
                run.items += progress.done_items - items0
                run.seconds += time.monotonic() - began
                run.cpu += sum(map(cpu_seconds, pids)) - cpu0
                loads[active].append(load_average().split(" / ")[0])
                print(
                    f"  window: {active} worker(s), {progress.done_items - items0} items in "
                    f"{window:.0f} s, load {loads[active][-1]}"
                )
            stop.set()
            clients.join()
        finally:
            stop.set()
            progress.close()
            cluster.stop()
    for n, run in totals.items():
        run.load = " / ".join(loads[n]) + " (1-min, each window)"
    return list(totals.values())


def run_latency(
    args: argparse.Namespace, items: list[dict[str, Any]], schemes: list[Any], workers: int
) -> tuple[list[float], int, str]:
    """Open loop at ``args.rate`` items/s: seconds from each send to its batch's commit."""
    fresh_database(args.database_url, schemes)
    empty_redis(args.redis_url)
    sent: dict[int, float] = {}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="yuqing-cluster-") as tmp:
        cluster = Cluster(env=environment(args, Path(tmp)), folder=Path(tmp))
        progress = Progress(args.database_url)
        try:
            cluster.start(workers)
            feed = Feed(items)
            with httpx.Client(timeout=60) as http:
                warm = 0
                for n in range(4 * workers):
                    warm += len(batch := feed.take(BATCH))
                    push(http, f"bench-{n % args.clients:02d}", batch)
            if not wait_done(progress, warm, 300):
                sys.exit("the warm-up batches were not processed: see the logs")
            every = BATCH * args.clients / args.rate  # each client's period

            def client(n: int) -> None:
                with httpx.Client(timeout=60) as http:
                    due = time.monotonic() + every * n / args.clients
                    end = time.monotonic() + args.latency_seconds
                    while due < end:
                        time.sleep(max(0.0, due - time.monotonic()))
                        at = time.time()
                        inbox_id = push(http, f"bench-{n:02d}", feed.take(BATCH))
                        with lock:
                            sent[inbox_id] = at
                        due += every

            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            load = load_average()
            drained = wait_done(progress, warm + BATCH * len(sent), 120)
            query = text("SELECT id, stored_at FROM inbox_batch WHERE stored_at IS NOT NULL")
            with progress.engine.connect() as connection:
                stored = {
                    i: at.replace(tzinfo=UTC).timestamp() for i, at in connection.execute(query)
                }
            give_up = time.time()
            latencies = [stored.get(i, give_up) - at for i, at in sent.items()]
            if not drained:
                print("note: the backlog did not drain in 120 s; unstored batches count as 120 s+")
            return latencies, BATCH * len(sent), load
        finally:
            progress.close()
            cluster.stop()


def environment(args: argparse.Namespace, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "YUQING_DATABASE_URL": args.database_url,
        "YUQING_REDIS_URL": args.redis_url,
        "YUQING_DATA_DIR": str(folder / "var"),
        "YUQING_PUSH_TOKEN": TOKEN,
        "YUQING_QUEUE": "true",
        "YUQING_PUSH_MAX_ITEMS": str(max(BATCH, 1000)),
    }


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(
        url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=shared_data() / "events" / "ced_stream_dev.jsonl.gz"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="analysis worker counts to compare")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="windows per worker count in one cluster, alternating the counts (0: a fresh "
        "cluster per count, one window of --seconds each)",
    )
    parser.add_argument("--rate", type=float, default=2000.0, help="items/s offered (latency)")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/bench_cluster"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--schemes", type=int, default=500)
    parser.add_argument("--keywords", type=int, default=10_000)
    args = parser.parse_args()

    # One audit key for the bench (which stores the schemes) and every process it starts.
    os.environ["YUQING_AUDIT_KEY"] = "bench-cluster-audit-key-0123456789abcdef"
    os.environ["YUQING_DATA_DIR"] = tempfile.mkdtemp(prefix="yuqing-cluster-bench-")
    ensure_database(args.database_url)
    items = load_stream(args.data, None)
    schemes = scheme_ins([i["text"] for i in items[:50_000]], args.schemes, args.keywords)
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"{len(items)} items from {args.data}, batches of {BATCH}, {args.clients} clients, "
        f"{args.seconds:.0f} s per run, {len(schemes)} schemes / "
        f"{sum(map(len, keyword_lists(schemes)))} keywords, {os.cpu_count()} cores, "
        f"load average before: {load_average()}"
    )
    runs = []
    if args.rounds:
        runs = run_interleaved(args, items, schemes, counts)
    for workers in counts if not args.rounds else []:
        run = run_throughput(args, items, schemes, workers)
        print(
            f"  {workers} analysis worker(s): {run.items} items done in {run.seconds:.1f} s "
            f"({run.pushed} pushed), {run.cpu:.1f} worker CPU-s, load {run.load}"
        )
        runs.append(run)
    latencies, offered, latency_load = run_latency(args, items, schemes, max(counts))
    print_table(runs, latencies, offered, args, latency_load)


def print_table(
    runs: list[Throughput],
    latencies: list[float],
    offered: int,
    args: argparse.Namespace,
    latency_load: str,
) -> None:
    base = runs[0]
    rows: list[tuple[str, str, str, str, str, str]] = []
    for run in runs:
        ratio = run.rate / base.rate if base.rate else 0.0
        target = f"≥ {TARGET_SCALING}× of {base.workers}" if run is not base else "–"
        rows.append(
            (
                f"items fully processed/s, {run.workers} analysis worker(s)",
                f"{run.rate:,.0f}",
                target,
                f"{base.rate:,.0f} ({base.workers} worker)" if run is not base else "–",
                f"{ratio:.2f}×" if run is not base else "–",
                run.load,
            )
        )
    for run in runs:
        ratio = run.per_cpu / base.per_cpu if base.per_cpu else 0.0
        rows.append(
            (
                f"items per worker CPU-s, {run.workers} analysis worker(s)",
                f"{run.per_cpu:,.0f}",
                f"within ±{TARGET_CPU_SPREAD:.0%} of {base.workers}" if run is not base else "–",
                f"{base.per_cpu:,.0f}" if run is not base else "–",
                f"{ratio:.2f}×" if run is not base else "–",
                run.load,
            )
        )
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    rows.append(
        (
            f"push → searchable p50 / p95, {args.rate:,.0f} items/s offered, "
            f"{max(r.workers for r in runs)} workers ({offered:,} items)",
            f"{p50:.2f} / {p95:.2f} s",
            f"p95 ≤ {TARGET_P95_SECONDS:.0f} s",
            "–",
            f"{p95 / TARGET_P95_SECONDS:.2f} of target",
            latency_load,
        )
    )
    print()
    print("| figure | measured | target | baseline (same run) | ratio | load average 1/5/15 |")
    print("| --- | ---: | --- | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
