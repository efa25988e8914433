"""A long run: pushes at a steady rate with readers on the desk, minute by minute.

Usage: .venv/bin/python bench/soak.py [--minutes 10] [--rate 1000] [--readers 5] [--workers 1]
       [--database sqlite|postgresql|both] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

For each database a real desk is started (``yuqing init`` then ``yuqing serve --no-fetch`` in
a subprocess on 127.0.0.1, fresh data folder; PostgreSQL: a fresh database ``bench_soak``),
with its runner threads (notify, periodic, search index, maintenance: the WAL checkpoint).
Four pushing threads send batches of 100 generated posts through the public push API at
``--rate`` items/s in total; ``--readers`` signed-in readers open the stream page and the
search API in a loop. ``--workers N`` serves PostgreSQL with N web processes (``yuqing serve
--workers N``; resident memory is then the sum of the processes). Per minute: items
accepted, the push requests' p95, the readers' p95, the server's resident memory and the
WAL's size. At the end: accepted items against
rows stored, the database and WAL size, and the error lines in the server's log. Memory is
flat when the last minute's RSS is within 10 % of the second minute's.

Every request goes to 127.0.0.1 only, and the run ends by itself after ``--minutes``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BATCH = 100
PUSHERS = 4
TOKEN = "soak-bench-token"
PASSWORD = "soak-reader-pass-42"
WORDS = [
    "学校",
    "食堂",
    "宿舍",
    "考试",
    "图书馆",
    "学院",
    "老师",
    "同学",
    "通知",
    "活动",
    "讲座",
    "招生",
    "就业",
    "校园",
    "网络",
    "课程",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    own = int(found.group(1)) / 1024 if found else float("nan")
    return own + sum(_rss_mb(int(child)) for child in children)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Minute:
    accepted: int = 0
    push_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    failed_requests: int = 0
    rss_mb: float = 0.0
    wal_mb: float = 0.0


@dataclass
class Run:
    database: str
    minutes: list[Minute]
    accepted: int
    stored: int
    db_mb: float
    wal_mb: float
    errors: list[str]
    load: str


def _text(n: int, i: int) -> str:
    words = [WORDS[(n * 7 + i * 3 + k) % len(WORDS)] for k in range(12)]
    return f"第{n}批第{i}条：" + "，".join(words) + f"。编号{secrets.token_hex(4)}"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "from yuqing.cli import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )


def _make_reader(env: dict[str, str]) -> None:
    script = (
        "from yuqing.core.database import session_scope\n"
        "from yuqing.auth import service\n"
        "from yuqing.core.audit import SYSTEM\n"
        "with session_scope() as s:\n"
        "    service.create_user(s, username='soak_reader', password="
        f"{PASSWORD!r}, role_key='leader', actor=SYSTEM, must_change_password=False)\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True)


def _sign_in(client: httpx.Client) -> None:
    client.get("/login")
    token = client.cookies.get("yuqing_csrf")
    answer = client.post(
        "/login",
        data={"username": "soak_reader", "password": PASSWORD, "csrf_token": token or ""},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"reader sign-in failed: {answer.status_code}")


def _database_url(kind: str, pg_url: str) -> str:
    if kind == "sqlite":
        return ""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        "postgresql+psycopg://" + pg_url.removeprefix("postgresql://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS bench_soak WITH (FORCE)"))
        connection.execute(text("CREATE DATABASE bench_soak"))
    admin.dispose()
    return pg_url.rsplit("/", 1)[0] + "/bench_soak"


def _pg_size(url: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine("postgresql+psycopg://" + url.removeprefix("postgresql://"))
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return int(size or 0) / 2**20


def _stored(url: str, db_path: Path) -> int:
    from sqlalchemy import create_engine, text

    if url:
        engine = create_engine("postgresql+psycopg://" + url.removeprefix("postgresql://"))
    else:
        engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM mention JOIN source ON source.id = mention.source_id "
                "WHERE source.name = 'soak'"
            )
        ).scalar()
    engine.dispose()
    return int(count or 0)


def soak(
    kind: str, *, minutes: float, rate: int, readers: int, pg_url: str, workers: int = 1
) -> Run:
    folder = Path(tempfile.mkdtemp(prefix=f"yuqing-soak-{kind}-"))
    url = _database_url(kind, pg_url)
    port = _free_port()
    env = {
        **os.environ,
        "YUQING_DATA_DIR": str(folder / "var"),
        "YUQING_PUSH_TOKEN": TOKEN,
        "YUQING_BACKUP_HOUR": "-1",
        "YUQING_PURGE_HOUR": "-1",
    }
    if url:
        env["YUQING_DATABASE_URL"] = url
    done = _cli(env, "init")
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    _make_reader(env)
    log_path = folder / "server.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from yuqing.cli import app; app()",
            "serve",
            "--no-fetch",
            "--port",
            str(port),
            "--workers",
            str(workers if kind == "postgresql" else 1),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)

    total_minutes = max(1, round(minutes))
    per_minute = [Minute() for _ in range(total_minutes)]
    lock = threading.Lock()
    start = time.monotonic()
    end = start + minutes * 60
    counter = iter(range(10**9))

    def minute_of(at: float) -> Minute | None:
        # A request sent in the last moments (a late schedule) counts in the last minute.
        index = min(int((at - start) // 60), total_minutes - 1)
        return per_minute[index] if index >= 0 else None

    def pusher(slot: int) -> None:
        interval = BATCH * PUSHERS / rate  # each thread's share of the rate
        next_at = start + slot * interval / PUSHERS
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                now = time.monotonic()
                if next_at >= end or now >= end:  # behind schedule: the shortfall shows
                    return
                if now < next_at:
                    time.sleep(next_at - now)
                n = next(counter)
                items = [
                    {"id": f"soak-{n}-{i}", "title": f"校园动态{n}", "text": _text(n, i)}
                    for i in range(BATCH)
                ]
                sent = time.monotonic()
                try:
                    answer = client.post(
                        "/api/v1/mentions",
                        json={"source": "soak", "items": items},
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    )
                    ok = answer.status_code == 200
                    body: dict[str, Any] = answer.json() if ok else {}
                except httpx.HTTPError:
                    ok, body = False, {}
                took = (time.monotonic() - sent) * 1000
                bucket = minute_of(sent)
                if bucket is not None:
                    with lock:
                        if ok:
                            bucket.accepted += int(body.get("received", 0)) - int(
                                body.get("failed", 0)
                            )
                            bucket.push_ms.append(took)
                        else:
                            bucket.failed_requests += 1
                next_at += interval

    def reader(slot: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            _sign_in(client)
            i = slot
            while time.monotonic() < end:
                path = "/" if i % 2 else f"/api/v1/search?q={WORDS[i % len(WORDS)]}"
                sent = time.monotonic()
                try:
                    ok = client.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                bucket = minute_of(sent)
                if bucket is not None:
                    with lock:
                        if ok:
                            bucket.read_ms.append((time.monotonic() - sent) * 1000)
                        else:
                            bucket.failed_requests += 1
                i += 1
                time.sleep(0.2)

    db_path = folder / "var" / "yuqing.db"
    wal = Path(f"{db_path}-wal")

    def sampler() -> None:
        for index in range(total_minutes):
            target = start + (index + 1) * 60 - 2
            while time.monotonic() < min(target, end):
                time.sleep(0.5)
            per_minute[index].rss_mb = _rss_mb(server.pid)
            per_minute[index].wal_mb = wal.stat().st_size / 2**20 if wal.exists() else 0.0

    threads = [threading.Thread(target=pusher, args=(s,)) for s in range(PUSHERS)]
    threads += [threading.Thread(target=reader, args=(s,)) for s in range(readers)]
    threads.append(threading.Thread(target=sampler))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(2)  # let the last batches' background work settle
    load = _load()
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()
    stored = _stored(url, db_path)
    if url:
        db_mb, wal_mb = _pg_size(url), 0.0
    else:
        db_mb = db_path.stat().st_size / 2**20
        wal_mb = wal.stat().st_size / 2**20 if wal.exists() else 0.0
    errors = [
        line.strip()
        for line in log_path.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line or '" 500' in line
    ]
    accepted = sum(m.accepted for m in per_minute)
    if errors:  # keep the server's log to read the tracebacks
        out = Path(__file__).parent / "out"
        out.mkdir(exist_ok=True)
        shutil.copy(log_path, out / f"soak-{kind}.log")
    shutil.rmtree(folder, ignore_errors=True)
    return Run(kind, per_minute, accepted, stored, db_mb, wal_mb, errors, load)


def report(run: Run, *, rate: int, minutes: float) -> None:
    print(f"\n## {run.database}: {minutes:g} min at {rate} items/s target (load {run.load})")
    print(
        "| minute | accepted items/s | push p95 ms | read p95 ms | failed requests | RSS MB | WAL MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for index, m in enumerate(run.minutes, 1):
        print(
            f"| {index} | {m.accepted / 60:,.0f} | {_p95(m.push_ms):,.0f} | {_p95(m.read_ms):,.0f} "
            f"| {m.failed_requests} | {m.rss_mb:,.0f} | {m.wal_mb:,.1f} |"
        )
    second = run.minutes[1].rss_mb if len(run.minutes) > 1 else run.minutes[0].rss_mb
    last = run.minutes[-1].rss_mb
    ratio = last / second if second else float("nan")
    first_p95, last_p95 = _p95(run.minutes[0].push_ms), _p95(run.minutes[-1].push_ms)
    mean_rate = run.accepted / (len(run.minutes) * 60)
    peak_wal = max(m.wal_mb for m in run.minutes)
    rows = [
        (
            "accepted items stored",
            f"{run.stored:,}",
            f"= {run.accepted:,} accepted",
            "",
            "",
            run.accepted == run.stored,
        ),
        (
            "mean accepted rate, items/s",
            f"{mean_rate:,.0f}",
            f"{rate}",
            "",
            "",
            mean_rate >= rate * 0.95,
        ),
        (
            "server RSS, last minute (MB)",
            f"{last:,.0f}",
            "within 10 % of minute 2",
            f"minute 2: {second:,.0f}",
            f"{ratio:.2f}",
            abs(ratio - 1) <= 0.10,
        ),
        (
            "push p95, last minute (ms)",
            f"{last_p95:,.0f}",
            "",
            f"minute 1: {first_p95:,.0f}",
            f"{last_p95 / first_p95:.2f}" if first_p95 else "",
            None,
        ),
        ("database size at end (MB)", f"{run.db_mb:,.1f}", "", "", "", None),
        (
            "WAL at end / peak sample (MB)",
            f"{run.wal_mb:,.1f} / {peak_wal:,.1f}",
            "≤ 64",
            "147 before this change",
            "",
            run.wal_mb <= 64 and peak_wal <= 64.5,
        ),
        ("error lines in the server log", f"{len(run.errors)}", "0", "", "", not run.errors),
    ]
    print(f"\n| figure | value | target | baseline (same run) | ratio | met | load {run.load} |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, value, target, baseline, ratio_text, met in rows:
        verdict = "" if met is None else ("yes" if met else "NO")
        print(f"| {name} | {value} | {target} | {baseline} | {ratio_text} | {verdict} | |")
    for line in run.errors[:5]:
        print(f"    {line[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=5)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--workers", type=int, default=1, help="web processes on PostgreSQL (serve --workers)"
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run = soak(
            kind,
            minutes=args.minutes,
            rate=args.rate,
            readers=args.readers,
            pg_url=args.pg_url,
            workers=args.workers,
        )
        report(run, rate=args.rate, minutes=args.minutes)


if __name__ == "__main__":
    main()
