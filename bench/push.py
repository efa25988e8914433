"""Concurrent pushes into one real `yuqing serve` process, on SQLite and PostgreSQL.

Usage: .venv/bin/python bench/push.py [--database sqlite|postgres|both] [--items 16000]
       [--clients 16] [--offered 2000] [--schemes 200] [--pg-admin URL] [--only TEXT]
       [--rounds N] [--py-spy FILE]

``--rounds N`` (3 unless given) runs every row N times and prints, after each round's
table, every target's figure per round and their median: on this shared machine one row's
speed drifts by a third from one minute to the next, so one round's ratio says little.
Within a round the rows compared with each other run next to each other (``RUN_ORDER``).
With ``--py-spy`` each round writes over the previous round's files.

``--py-spy FILE`` records the server's stacks (the thread holding the GIL) with py-spy
while each row pushes, to FILE.<database>.<clients>x<batch>.txt (collapsed stacks; py-spy
is a profiler installed by hand, ``.venv/bin/pip install py-spy``, not a dependency);
``BENCH_PY_SPY_IDLE=1`` records every thread, waiting ones too (where the wall time goes).
``BENCH_PG_SLOW_MS=15`` logs the bench databases' statements slower than that to
PostgreSQL's own log.

Every row starts a fresh database (SQLite file, or a PostgreSQL database made for the run
and dropped after it), stores ``--schemes`` monitoring schemes, starts ``yuqing serve`` on
127.0.0.1 in its own process, warms it with one small push, and pushes the first
``--items`` posts of the real Weibo stream (../shared/data/events/ced_stream_dev.jsonl.gz:
reposts repeat their source's text, so exact copies and often-repeated texts occur) with
async httpx clients, each taking the next batch from one shared queue. Bodies are encoded
before the clock starts. Rows:

- 1 client, batches of 100 / of 1,000: the single stream;
- 16 clients, batches of 100: as fast as they can;
- 16 clients, batches of 100, paced to ``--offered`` items/s in all: the latency a desk sees
  at that load (p95 target 500 ms).

Targets (issue 14): SQLite 16 clients ≥ 0.9× the single stream of 1,000-item batches;
PostgreSQL 16 clients ≥ 1.5× its 1 client, and PostgreSQL 1 client ≥ 0.8× SQLite's 1 client
in the same run; no error anywhere (any non-200 reply is counted and shown).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheme_set import scheme_ins

TOKEN = "bench-push-token"
AUDIT_KEY = "bench-push-audit-key-0123456789abcdef"
SOURCE = "微博推送"


def shared_data() -> Path:
    """``YUQING_SHARED_DATA``, else the first ``shared/data`` beside a folder above the repo."""
    if "YUQING_SHARED_DATA" in os.environ:
        return Path(os.environ["YUQING_SHARED_DATA"])
    for folder in Path(__file__).resolve().parents[1].parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    raise SystemExit("../shared/data not found: set YUQING_SHARED_DATA")


def load_stream(limit: int) -> list[dict[str, Any]]:
    """Push items from the CED stream (the gold labels are not sent)."""
    items: list[dict[str, Any]] = []
    with gzip.open(shared_data() / "events" / "ced_stream_dev.jsonl.gz", "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            item: dict[str, Any] = {
                "external_id": record["mid"],
                "parent_external_id": record.get("parent"),
                "root_external_id": record.get("root"),
                "published_at": record["time"],
                "text": record["text"],
            }
            if record.get("kind") == "source":
                item["reposts"] = record.get("reposts")
                item["comments"] = record.get("comments")
            items.append(item)
            if len(items) >= limit:
                break
    return items


@dataclass
class Row:
    database: str
    name: str
    clients: int
    batch: int
    items: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    load: float = 0.0
    rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    offered: int | None = None
    number: int = 0  # its place in ``plan``

    @property
    def key(self) -> tuple[str, int]:
        return (self.database, self.number)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def pct(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


# -- databases --------------------------------------------------------------------------


@contextmanager
def sqlite_database(folder: Path, name: str) -> Iterator[str]:
    """A new SQLite file for the row, removed after it."""
    path = folder / f"{name}.db"
    for leftover in folder.glob(f"{name}.db*"):
        leftover.unlink()
    try:
        yield f"sqlite:///{path}"
    finally:
        for written in folder.glob(f"{name}.db*"):
            written.unlink()


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        if os.environ.get("BENCH_PG_SLOW_MS"):  # statements slower than this go to the log
            slow = int(os.environ["BENCH_PG_SLOW_MS"])
            admin.execute(f'ALTER DATABASE "{name}" SET log_min_duration_statement = {slow}')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare_database(url: str, schemes: int, texts: list[str]) -> None:
    """Migrate ``url`` and store the schemes (in this process, before the server starts)."""
    from yuqing.core import database
    from yuqing.core.settings import reset_settings_cache
    from yuqing.schemes import service as schemes_service

    os.environ["YUQING_DATABASE_URL"] = url
    os.environ["YUQING_AUDIT_KEY"] = AUDIT_KEY
    reset_settings_cache()
    engine = database.make_engine(url)
    database.upgrade_database(engine)
    database.set_engine(engine)
    try:
        if schemes:
            with database.session_scope() as session:
                for scheme_in in scheme_ins(texts, n_schemes=schemes, n_keywords=schemes * 20):
                    schemes_service.create(session, scheme_in=scheme_in)
    finally:
        database.set_engine(None)
        engine.dispose()


# -- the server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(url: str, data_dir: Path) -> Iterator[tuple[str, int]]:
    """``yuqing serve`` on a free local port (no background fetching); its base URL and pid."""
    port = _free_port()
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": url,
        "YUQING_DATA_DIR": str(data_dir),
        "YUQING_PUSH_TOKEN": TOKEN,
        "YUQING_AUDIT_KEY": AUDIT_KEY,
    }
    yuqing = Path(sys.executable).with_name("yuqing")
    args = [str(yuqing), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-fetch"]
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(
                        f"yuqing serve did not start (exit {process.poll()})"
                    ) from None
                time.sleep(0.3)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024


# -- the clients ------------------------------------------------------------------------


def bodies(items: list[dict[str, Any]], size: int) -> list[bytes]:
    return [
        orjson.dumps({"source": SOURCE, "items": items[start : start + size]})
        for start in range(0, len(items), size)
    ]


async def push_all(base: str, row: Row, payloads: list[bytes]) -> None:
    """``row.clients`` clients take batches from one queue; paced when ``row.offered``."""
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for number, payload in enumerate(payloads):
        queue.put_nowait((number, payload))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    interval = row.batch / row.offered if row.offered else 0.0
    limits = httpx.Limits(max_connections=row.clients, max_keepalive_connections=row.clients)
    began = time.perf_counter()

    async def client(http: httpx.AsyncClient) -> None:
        while True:
            try:
                number, payload = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if interval:  # batch n leaves at n × interval: an open, even offer
                delay = began + number * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = time.perf_counter()
            try:
                reply = await http.post("/api/v1/mentions", content=payload, headers=headers)
            except httpx.HTTPError as error:
                row.errors.append(repr(error))
                continue
            row.latencies.append(time.perf_counter() - t0)
            if reply.status_code != 200:
                row.errors.append(f"{reply.status_code} {reply.text[:200]}")
                continue
            data = orjson.loads(reply.content)
            for name in ("new", "duplicate", "updated", "unchanged", "failed"):
                row.stored[name] = row.stored.get(name, 0) + data[name]

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(row.clients)))
        row.seconds = time.perf_counter() - began


def measure(
    row: Row,
    url: str,
    items: list[dict[str, Any]],
    warm: list[dict[str, Any]],
    profile: str = "",
) -> None:
    payloads = bodies(items, row.batch)
    with (
        tempfile.TemporaryDirectory(prefix="bench-push-data-") as data_dir,
        server(url, Path(data_dir)) as (base, pid),
    ):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        warm_body = {"source": "预热", "items": warm}
        reply = httpx.post(base + "/api/v1/mentions", json=warm_body, headers=headers, timeout=120)
        reply.raise_for_status()
        time.sleep(3)  # the first push's clean-up of the heap runs after its reply
        spy = None
        if profile:  # py-spy's collapsed stacks of the server while it takes the pushes
            mode = ["--idle", "--threads"] if os.environ.get("BENCH_PY_SPY_IDLE") else ["--gil"]
            spy_args = ["py-spy", "record", "--pid", str(pid), "--format", "raw", *mode]
            out = f"{profile}.{row.database}.{row.name.split()[0]}x{row.batch}.txt"
            spy = subprocess.Popen([*spy_args, "--rate", "200", "-o", out])
            time.sleep(1)
        cpu_before = cpu_seconds(pid)
        asyncio.run(push_all(base, row, payloads))
        row.cpu_seconds = cpu_seconds(pid) - cpu_before
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        row.items = len(items)
        row.load = os.getloadavg()[0]
        row.rss_mb = rss_mb(pid)
    print(
        f"  {row.database:8} {row.name:32} {row.rate:8,.0f} items/s  p95 {row.pct(95):7.0f} ms"
        f"  {row.items / max(row.cpu_seconds, 1e-9):7,.0f} items/server-CPU-s"
        f"  errors {len(row.errors)}  load {row.load:.1f}",
        flush=True,
    )
    for error in row.errors[:3]:
        print(f"    error: {error}", flush=True)


# -- the table --------------------------------------------------------------------------


def target_of(r: Row, by: dict[tuple[str, str], Row]) -> tuple[Row | None, str]:
    """The row ``r`` is compared with (None for a latency target or none) and the target."""
    if r.database == "sqlite" and r.name == "16 clients × 100":
        return by.get(("sqlite", "1 client × 1000")), "≥ 0.9×"
    if r.database == "postgres" and r.name == "16 clients × 100":
        return by.get(("postgres", "1 client × 100")), "≥ 1.5×"
    if r.database == "postgres" and r.name == "1 client × 100":
        return by.get(("sqlite", "1 client × 100")), "≥ 0.8× SQLite"
    if r.offered:
        return None, "p95 ≤ 500 ms"
    return None, "–"


def table(rows: list[Row]) -> None:
    by = {(r.database, r.name): r for r in rows}
    print()
    print(
        "| database | row | items | items/s | items/server CPU-s | p50 ms | p95 ms | errors | new "
        "| dup | other "
        "| target | baseline | ratio | load | server RSS MB |"
    )
    print("| --- | --- |" + " ---: |" * 9 + " --- | --- |" + " ---: |" * 3)
    for r in rows:
        baseline, ratio = "–", ""
        base_row, target = target_of(r, by)
        if base_row is not None:
            baseline = f"{base_row.database} {base_row.name}: {base_row.rate:,.0f}"
            ratio = f"{r.rate / base_row.rate:.2f}×" if base_row.rate else ""
        other = (
            r.stored.get("updated", 0) + r.stored.get("unchanged", 0) + r.stored.get("failed", 0)
        )
        print(
            f"| {r.database} | {r.name} | {r.items:,} | {r.rate:,.0f} "
            f"| {r.items / max(r.cpu_seconds, 1e-9):,.0f} | {r.pct(50):.0f} "
            f"| {r.pct(95):.0f} | {len(r.errors)} | {r.stored.get('new', 0):,} "
            f"| {r.stored.get('duplicate', 0):,} | {other:,} | {target} | {baseline} | {ratio} "
            f"| {r.load:.1f} | {r.rss_mb:.0f} |"
        )


def plan(database: str, offered: int, clients: int) -> list[Row]:
    rows = [
        Row(database, "1 client × 100", 1, 100),
        Row(database, "1 client × 1000", 1, 1000),
        Row(database, f"{clients} clients × 100", clients, 100),
        Row(database, f"{clients} clients × 100 at {offered:,}/s", clients, 100, offered=offered),
    ]
    for number, row in enumerate(rows):
        row.number = number
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--items", type=int, default=16_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--offered", type=int, default=2_000)
    parser.add_argument("--schemes", type=int, default=200)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("YUQING_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create and drop the bench's databases",
    )
    parser.add_argument("--py-spy", default="", help="record the server with py-spy to FILE.*")
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    parser.add_argument(
        "--rounds", type=int, default=3, help="run every row this many times; median ratios"
    )
    args = parser.parse_args()

    stream = load_stream(args.items + 50)
    items, warm = stream[: args.items], stream[args.items :]
    texts = [item["text"] for item in items[:5000]]
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    print(
        f"{args.items:,} items of the CED Weibo stream per row, {args.schemes} schemes, "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    rounds: list[list[Row]] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as folder:
        for round_number in range(1, args.rounds + 1):
            planned = [
                (number, row)
                for database in databases
                for number, row in enumerate(plan(database, args.offered, args.clients))
                if not args.only or args.only in row.name
            ]
            rows: list[Row] = []
            # The rows compared with each other run next to each other: the machine's speed
            # drifts from one minute to the next.
            for number, row in sorted(planned, key=lambda pair: RUN_ORDER.index(pair[1].key)):
                if args.rounds > 1:
                    print(f"  round {round_number}:", end="", flush=True)
                name = f"bench_push_{round_number}_{number}"
                maker = (
                    sqlite_database(Path(folder), name)
                    if row.database == "sqlite"
                    else postgres_database(args.pg_admin, name)
                )
                with maker as url:
                    prepare_database(url, args.schemes, texts)
                    measure(row, url, items, warm, args.py_spy)
                rows.append(row)
            rows.sort(key=lambda row: [r.key for _, r in planned].index(row.key))
            if args.rounds > 1:
                print(f"\nRound {round_number} of {args.rounds}:")
            table(rows)
            rounds.append(rows)
    if args.rounds > 1:
        summary(rounds)


RUN_ORDER = [
    ("sqlite", 0),
    ("postgres", 0),
    ("postgres", 2),
    ("sqlite", 1),
    ("sqlite", 2),
    ("sqlite", 3),
    ("postgres", 1),
    ("postgres", 3),
]
"""The order rows run in: each compared pair next to each other (plan's row numbers)."""


def summary(rounds: list[list[Row]]) -> None:
    """Each target's figure in every round and their median."""
    print(f"\nTargets over {len(rounds)} rounds (each ratio within its round; median):\n")
    print("| database | row | target | per round | median |")
    print("| --- | --- | --- | --- | ---: |")
    for position, first in enumerate(rounds[0]):
        base_row, target = target_of(first, {(r.database, r.name): r for r in rounds[0]})
        if target == "–":
            continue
        figures: list[float] = []
        for rows in rounds:
            r = rows[position]
            base, _ = target_of(r, {(x.database, x.name): x for x in rows})
            if base is not None:
                figures.append(r.rate / base.rate if base.rate else 0.0)
            else:
                figures.append(r.pct(95))
        unit = "×" if base_row is not None else " ms"
        shown = ", ".join(f"{f:.2f}{unit}" if unit == "×" else f"{f:.0f}{unit}" for f in figures)
        middle = statistics.median(figures)
        median = f"{middle:.2f}×" if unit == "×" else f"{middle:.0f} ms"
        print(f"| {first.database} | {first.name} | {target} | {shown} | {median} |")


if __name__ == "__main__":
    main()
