"""Alert latency: from an item's push to its notification accepted by a group robot.

Usage: .venv/bin/python bench/alerts.py [--items 20000] [--rate 1000] [--word 政府] [--data PATH]

A real server (uvicorn subprocess on 127.0.0.1, fresh SQLite) receives the dev stream
/work/shared/data/events/ced_stream_dev.jsonl.gz (or ``$YUQING_SHARED_DATA``) through the push
API at ``--rate`` items/s in batches of 100. One scheme (``--word``) and one scheme-hit rule
send every hit to a WeCom-style robot channel that points at a local recording HTTP server;
the notify worker runs in this process. For each hit item the figure is the time from the
push request carrying it being sent to the robot server receiving its message: p50 and p95.

The server's pipeline runs the alert stage (``alerts.stage.Alerts``) last, as it always does.

Baseline in the same run: the push request's round trip (ingest alone, no delivery). A
second table gives the CPU cost per item of the alert stage when no rule fires.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

TARGET_P95 = 2.0
TARGET_STAGE_US = 10.0
BATCH = 100
TOKEN = "bench-push-token"
DATA = Path(
    os.environ.get(
        "YUQING_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


# --- the server (a subprocess runs this file with --serve) ----------------------------


def serve(port: int) -> None:
    import uvicorn

    from yuqing.web.app import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")


# --- the robot -------------------------------------------------------------------------


class Robot:
    """A WeCom-style robot that records when each message arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                robot.received.append((time.perf_counter(), body.decode("utf-8", "replace")))
                answer = b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


# --- set-up ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(robot_port: int, word: str) -> None:
    """Tables, a scheme, a robot channel and a scheme-hit rule (no cap worth the name)."""
    from sqlalchemy.orm import Session

    from yuqing.alerts import service
    from yuqing.alerts.schemas import RuleIn
    from yuqing.core import database
    from yuqing.notify.models import Channel
    from yuqing.schemes import service as schemes
    from yuqing.schemes.schemas import SchemeIn

    engine = database.get_engine()
    database.upgrade_database(engine)
    with Session(engine) as session:
        scheme = schemes.create(session, scheme_in=SchemeIn(name="基准方案", subject_words=[word]))
        channel = Channel(kind="wecom", name="基准群", url=f"http://127.0.0.1:{robot_port}/robot")
        session.add(channel)
        session.flush()
        service.create_rule(
            session,
            rule_in=RuleIn(
                name="基准命中",
                kind="scheme_hit",
                params={"scheme_ids": [scheme.id]},
                recipients=[{"kind": "channel", "id": channel.id}],
                max_per_hour=10_000,
            ),
        )
        session.commit()


def load_items(path: Path, limit: int) -> list[dict[str, Any]]:
    items = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            items.append(
                {
                    "id": row["mid"],
                    "text": row["text"],
                    "time": row["time"],
                    "root": row.get("root"),
                    "url": f"https://weibo.example.cn/{row['mid']}",
                }
            )
            if len(items) >= limit:
                break
    return items


def wait_up(port: int) -> None:
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("服务器没有启动")


# --- the run -------------------------------------------------------------------------------


def replay(
    port: int, items: list[dict[str, Any]], rate: float
) -> tuple[dict[str, float], list[float]]:
    sent_at: dict[str, float] = {}
    round_trips: list[float] = []
    start = time.perf_counter()
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for at in range(0, len(items), BATCH):
            chunk = items[at : at + BATCH]
            due = start + at / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            now = time.perf_counter()
            for item in chunk:
                sent_at[item["url"]] = now
            answer = client.post(
                f"http://127.0.0.1:{port}/api/v1/mentions",
                json={"source": "基准微博", "items": chunk},
            )
            answer.raise_for_status()
            round_trips.append(time.perf_counter() - now)
    return sent_at, round_trips


def latencies(robot: Robot, sent_at: dict[str, float]) -> list[float]:
    found = []
    link = re.compile(r"https://weibo\.example\.cn/[0-9A-Za-z_]+")
    for arrived, body in robot.received:
        for url in set(link.findall(body)):
            if url in sent_at:
                found.append(arrived - sent_at[url])
    return found


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def stage_cost(items: list[dict[str, Any]]) -> float:
    """CPU µs per item of the alert stage (rules on, nothing firing) on stored rows."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from yuqing.alerts.stage import Alerts
    from yuqing.core import database
    from yuqing.mentions.batch import INSERTED_COLUMNS, Batch, Row, SourceRef
    from yuqing.mentions.models import Mention
    from yuqing.sources.models import Source

    with Session(database.get_engine()) as session:
        source = session.scalars(select(Source)).first()
        rows = [
            Row(index=i, id=m.id, **{c: getattr(m, c) for c in INSERTED_COLUMNS})
            for i, m in enumerate(
                session.scalars(select(Mention).where(Mention.status == "new").limit(5000))
            )
        ]
        ref = SourceRef.of(source)
        stage = Alerts()

        def batch_of(part: list[Row]) -> Batch:
            return Batch(source=ref, collected_at=part[0].collected_at, new=part, analysed=True)

        # Rules that fire on nothing here: another scheme's hits and an unused word list.
        from yuqing.alerts import service
        from yuqing.alerts.schemas import RuleIn

        service.create_rule(
            session, rule_in=RuleIn(name="无命中", kind="scheme_hit", params={"scheme_ids": [999]})
        )
        service.ensure_categories(session)
        service.create_rule(session, rule_in=RuleIn(name="敏感词", kind="sensitive_words"))
        session.flush()
        stage.after_insert(session, batch_of(rows[:10]))  # warm the rule cache
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for at in range(0, len(rows), 500):
                stage.after_insert(session, batch_of(rows[at : at + 500]))
            best = min(best, time.process_time() - started)
        session.rollback()
    return best / max(len(rows), 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--word", default="政府")
    parser.add_argument("--data", type=Path, default=DATA / "events" / "ced_stream_dev.jsonl.gz")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    folder = Path(tempfile.mkdtemp(prefix="yuqing-alerts-bench-"))
    os.environ.update(
        {
            "YUQING_DATA_DIR": str(folder),
            "YUQING_PUSH_TOKEN": TOKEN,
            "YUQING_FETCH_ALLOW_NETWORKS": '["127.0.0.1/32"]',
            "YUQING_PUSH_MAX_ITEMS": str(BATCH),
        }
    )
    robot = Robot()
    prepare(robot.port, args.word)
    items = load_items(args.data, args.items)
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=os.environ)
    stop = threading.Event()
    try:
        wait_up(port)
        from yuqing.notify import worker

        # Polls every 0.1 s when idle (the worker's own default idle pause is 2 s).
        threading.Thread(
            target=worker.run_forever, args=(stop,), kwargs={"idle_seconds": 0.1}, daemon=True
        ).start()
        started = time.perf_counter()
        sent_at, trips = replay(port, items, args.rate)
        elapsed = time.perf_counter() - started
        time.sleep(5)  # let the last notifications go out
        found = latencies(robot, sent_at)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
    report(args, items, elapsed, found, trips, robot, stage_cost(items))


def report(
    args: argparse.Namespace,
    items: list[dict[str, Any]],
    elapsed: float,
    found: list[float],
    trips: list[float],
    robot: Robot,
    stage_us: float,
) -> None:
    hits = sum(args.word in item["text"] for item in items)
    p50, p95 = pct(found, 0.5), pct(found, 0.95)
    base50, base95 = pct(trips, 0.5), pct(trips, 0.95)
    print(
        f"\n{len(items)} items pushed in {elapsed:.1f} s ({len(items) / elapsed:.0f}/s), "
        f"{hits} contain “{args.word}”, {len(robot.received)} robot messages, "
        f"{len(found)} items timed"
    )
    print(f"{'figure':44} {'value':>10} {'target':>10} {'baseline':>10} {'ratio':>7}")
    print(f"{'push → robot p50 (s)':44} {p50:>10.3f} {'':>10} {base50:>10.3f} {p50 / base50:>7.1f}")
    print(
        f"{'push → robot p95 (s)':44} {p95:>10.3f} {TARGET_P95:>10.1f} {base95:>10.3f} {p95 / base95:>7.1f}"
    )
    print(
        f"{'alert stage, no rule firing (CPU µs/item)':44} {stage_us:>10.2f} {TARGET_STAGE_US:>10.1f}"
    )
    print("baseline: the push request's round trip (ingest alone) in the same run")


if __name__ == "__main__":
    main()
