"""Desk page latency at 1,000,000 mentions through a real uvicorn server, 5 readers at once.

    .venv/bin/python bench/pages.py [--items 1000000] [--requests 60] [--readers 5] [--rebuild]
                                    [--build-only]

Built databases go under bench/out/, or ``$YUQING_BENCH_OUT`` (outside the checkout).

Builds (once, cached under bench/out/) a SQLite database of N mentions spread over 90 days,
with platforms, spread counts, risk and sentiment, their search index entries, 20,000 events
and the dashboard's hourly counters; then starts ``uvicorn`` on it, signs a reader in, and
has 5 threads request each page in turn. Prints p50/p95 per page against the 300 ms target,
a baseline measured in the same run (the stream's old count of every row of the 7-day
range, and a static file through the same server: the floor of any request), and the
server's memory.

Rows go in through ``items.normalise_item`` (the row ingest stores: platform, counts and
heat included) and ``search.index_rows``; texts come from the dev stream under
../shared/data when it is there (measuring only, nothing of it is kept), else are made up.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from yuqing.core.database import make_engine, upgrade_database
from yuqing.core.settings import reset_settings_cache
from yuqing.core.timeutil import utcnow
from yuqing.dashboard import stage as dashboard_stage
from yuqing.events.models import Event
from yuqing.mentions import search, search_index
from yuqing.mentions.batch import INSERTED_COLUMNS
from yuqing.mentions.items import normalise_item
from yuqing.sources.schemas import ItemIn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support: the bench account
# Built databases and indexes (large): YUQING_BENCH_OUT keeps them outside the checkout.
OUT = Path(os.environ.get("YUQING_BENCH_OUT") or REPO / "bench" / "out")
DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
STREAM = DATA / "events" / "ced_stream_dev.jsonl.gz"
TARGET_MS = 300.0
DAYS = 90
EVENTS = 20_000
SOURCES = (("微博推送", "push"), ("新闻订阅", "rss"), ("导入文件", "import"), ("网页监测", "page"))
HOSTS = (
    "https://weibo.com/u/",
    "https://mp.weixin.qq.com/s/",
    "https://www.douyin.com/video/",
    "https://www.bilibili.com/video/",
    "https://www.zhihu.com/question/",
    "https://tieba.baidu.com/p/",
    "https://news.example.cn/a/",
    "https://bbs.example.edu.cn/t/",
    "https://jyt.example.gov.cn/n/",
)
SENTIMENTS = ("positive", "neutral", "neutral", "negative")
COLUMNS = ("id", *INSERTED_COLUMNS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def texts() -> list[str]:
    if STREAM.exists():
        with gzip.open(STREAM, "rt", encoding="utf-8") as handle:
            found = [json.loads(line).get("text") or "" for line in handle]
        return [t for t in found if len(t) > 8]
    words = ["学校", "食堂", "涨价", "宿舍", "停水", "教务", "通知", "考试", "学生", "投诉"]
    rng = random.Random(3)
    return ["".join(rng.choice(words) for _ in range(30)) for _ in range(5000)]


def _item(rng: random.Random, body: str, n: int, now: datetime) -> ItemIn:
    spread = rng.random() < 0.6
    return ItemIn(
        external_id=str(n),
        url=rng.choice(HOSTS) + str(n),
        title=body[:30],
        text=f"{body} {n}",
        published_at=now - timedelta(seconds=rng.randrange(DAYS * 86400)),
        reposts=int(rng.lognormvariate(1.5, 2)) if spread else None,
        comments=int(rng.lognormvariate(1.2, 1.8)) if spread else None,
        likes=int(rng.lognormvariate(2, 2.2)) if spread else None,
    )


def build(path: Path, items: int) -> None:
    """A fresh database of ``items`` mentions, their index entries, events and counters."""
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    bodies = texts()
    rng = random.Random(7)
    now = utcnow()
    started = time.perf_counter()
    counts: Counter[dashboard_stage.Key] = Counter()
    with Session(engine) as session:
        for i, (name, kind) in enumerate(SOURCES, start=1):
            session.execute(
                text(
                    "INSERT INTO source(id, name, kind, enabled, interval_seconds, weight,"
                    " created_at, consecutive_failures, count_new, count_duplicate,"
                    " count_updated, count_failed, count_filtered)"
                    " VALUES (:i, :n, :k, 1, 900, 1, :t, 0, 0, 0, 0, 0, 0)"
                ),
                {"i": i, "n": name, "k": kind, "t": now},
            )
        raw = session.connection().connection.driver_connection
        assert raw is not None
        statement = (
            f"INSERT INTO mention({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        )
        batch: list[tuple[Any, ...]] = []
        to_index: list[tuple[int, str]] = []
        for n in range(1, items + 1):
            source_id = 1 + n % len(SOURCES)
            item = _item(rng, bodies[n % len(bodies)], n, now)
            values = normalise_item(item, source_id=source_id, now=now).columns()
            values["id"] = n
            values["sentiment"] = rng.choice(SENTIMENTS)
            values["risk_score"] = rng.randrange(101) if rng.random() < 0.8 else None
            batch.append(tuple(_sqlite_value(values[c]) for c in COLUMNS))
            to_index.append((n, values["search_text"]))
            hour = values["published_at"].replace(minute=0, second=0, microsecond=0)
            counts[(hour, SOURCES[source_id - 1][1], values["sentiment"], "")] += 1
            if len(batch) >= 20_000:
                _flush(session, raw, statement, batch, to_index)
                log(f"  {n:>9,} / {items:,}  ({n / (time.perf_counter() - started):,.0f} items/s)")
        _flush(session, raw, statement, batch, to_index)
        dashboard_stage.add_counts(session, counts)
        session.execute(insert(Event), list(_events(rng, items, now)))
        session.commit()
        log("optimising the index")
        search.optimize_index(session)
        session.execute(text("ANALYZE"))
        session.commit()
    engine.dispose()
    log(f"built in {time.perf_counter() - started:,.0f} s")


def _events(rng: random.Random, items: int, now: datetime) -> Any:
    for n in range(1, EVENTS + 1):
        first = now - timedelta(seconds=rng.randrange(DAYS * 86400))
        size = int(rng.lognormvariate(2, 1.2)) + 2
        yield {
            "id": n,
            "title": f"事件 {n}",
            "representative_id": rng.randrange(1, items + 1),
            "first_seen_at": first,
            "last_seen_at": first + timedelta(hours=rng.randrange(1, 96)),
            "size": size,
            "count_negative": size // 3,
            "count_neutral": size - size // 3,
            "source_count": 1 + size % 4,
            "heat": float(size * rng.random() * 10),
        }


def _sqlite_value(value: Any) -> Any:
    # The text SQLAlchemy's SQLite DateTime stores.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def _flush(
    session: Session, raw: Any, statement: str, batch: list[Any], to_index: list[tuple[int, str]]
) -> None:
    raw.executemany(statement, batch)
    search.index_rows(session, to_index)
    session.commit()
    batch.clear()
    to_index.clear()


def baseline_count(path: Path) -> float:
    """The stream's count before the cap: every listed row of the last 7 days (ms, median
    of 3), the query ``list_listed`` ran on each page request."""
    engine = make_engine(f"sqlite:///{path}")
    since = (utcnow() - timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S.%f")
    runs = []
    with engine.connect() as connection:
        for _ in range(3):
            began = time.perf_counter()
            connection.execute(
                # The index the old stream read (the stream's own covering indexes came
                # with the cap), so the baseline is the old count on the same data.
                text(
                    "SELECT count(*) FROM mention INDEXED BY ix_mention_status_published"
                    " WHERE status = 'new' AND published_at >= :s AND near_group_id IS NULL"
                ),
                {"s": since},
            ).scalar_one()
            runs.append((time.perf_counter() - began) * 1000)
    engine.dispose()
    return statistics.median(runs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(path: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": f"sqlite:///{path}",
        "YUQING_DATA_DIR": str(data_dir),
    }
    uvicorn = Path(sys.executable).with_name("uvicorn")
    server = subprocess.Popen(
        [
            str(uvicorn),
            "yuqing.web.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code < 500:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("uvicorn did not start")


def sign_in(base: str) -> httpx.Cookies:
    from tests.support import TEST_PASSWORD

    with httpx.Client(base_url=base) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={
                "username": "bench_pages",
                "password": TEST_PASSWORD,
                "csrf_token": client.cookies.get("yuqing_csrf") or "",
            },
        )
        assert answer.status_code in (200, 303), answer.text[:300]
        return client.cookies


def measure(
    base: str, cookies: httpx.Cookies, url: str, requests: int, readers: int
) -> list[float]:
    """Each of ``readers`` threads requests ``url`` ``requests // readers`` times; ms each
    (and the requests per second of the whole run appended to ``rates``)."""
    times: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def reader() -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
            for _ in range(max(1, requests // readers)):
                began = time.perf_counter()
                answer = client.get(url)
                spent = (time.perf_counter() - began) * 1000
                if answer.status_code != 200:
                    failures.append(f"{url}: {answer.status_code}")
                with lock:
                    times.append(spent)

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rates.append(len(times) / (time.perf_counter() - began))
    if failures:
        raise SystemExit(f"failed: {failures[:3]}")
    return times


rates: list[float] = []


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process (MB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--readers", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="build, measure nothing")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"pages_{args.items}.db"
    # The audit key and secrets of the bench desk live beside its database (one per build).
    data_dir = OUT / f"pages_{args.items}_var"
    if args.rebuild or not path.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(exist_ok=True)
    os.environ["YUQING_DATA_DIR"] = str(data_dir)
    reset_settings_cache()
    if args.rebuild or not path.exists():
        build(path, args.items)
    engine = make_engine(f"sqlite:///{path}")
    # The search page's tantivy index, built before the server starts (a search at 1M
    # would otherwise build it in the background while the bench measures).
    if search_index.catch_up(engine, build=False) is None:
        started = time.perf_counter()
        count = search_index.rebuild(engine)
        log(f"tantivy index: {count:,} mentions in {time.perf_counter() - started:,.0f} s")
    if args.build_only:
        return
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM user_account WHERE username = 'bench_pages'"))
        # The largest event: its page and charts are the heaviest an analyst opens.
        largest = text("SELECT id FROM event ORDER BY size DESC LIMIT 1")
        event_id = connection.execute(largest).scalar_one_or_none() or 1
    from tests.support import make_user

    make_user(engine, "bench_pages")
    engine.dispose()
    loaded = " ".join(f"{x:.2f}" for x in os.getloadavg())
    server, base = start_server(path, data_dir)
    try:
        cookies = sign_in(base)
        word = "学校"
        pages = [
            ("信息流 7天 /?range=7d", "/?range=7d"),
            ("信息流 7天 按风险", "/?range=7d&sort=risk"),
            ("信息流 7天 按热度", "/?range=7d&sort=heat"),
            ("信息流 7天 微博", "/?range=7d&platform=weibo"),
            ("首页 /", "/"),
            (f"搜索 /search?q={word}", f"/search?q={word}"),
            ("事件 /events", "/events"),
            ("大屏 /dashboard", "/dashboard"),
            ("大屏接口 /api/v1/dashboard", "/api/v1/dashboard"),
            (f"事件页 /events/{event_id}", f"/events/{event_id}"),
            ("事件图表接口", f"/api/v1/events/{event_id}/charts"),
            ("分析页 /analysis", "/analysis"),
            ("分析接口 7天 /api/v1/analysis", "/api/v1/analysis?range=7d"),
            ("分析接口 24小时 微博", "/api/v1/analysis?range=24h&platform=weibo"),
        ]
        floor = ("基线: 静态文件 /static/favicon.svg", "/static/favicon.svg")
        rows = []
        for label, url in [*pages, floor]:
            measure(base, cookies, url, args.readers, args.readers)  # warm-up
            times = measure(base, cookies, url, args.requests, args.readers)
            rows.append((label, pct(times, 50), pct(times, 95), rates[-1]))
        rss, peak = memory_mb(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(f"{args.items:,} mentions, {args.readers} concurrent readers, uvicorn (1 worker)")
    print(f"load average: before {loaded}, after " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'target':>8}")
    for label, p50, p95, rate in rows:
        target = "" if label.startswith("基线") else f"≤{TARGET_MS:.0f}"
        verdict = "" if not target else ("ok" if p95 <= TARGET_MS else "SLOW")
        print(f"{label:40} {p50:8.1f} {p95:8.1f} {rate:7.1f} {target:>8} {verdict}")
    count_ms = baseline_count(path)
    print(f"{'基线: 旧信息流 7天 全量计数 (SQL)':40} {count_ms:8.1f}")
    print(f"server memory: {rss:.0f} MB resident, {peak:.0f} MB peak")


if __name__ == "__main__":
    main()
