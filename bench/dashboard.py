"""Dashboard latency at scale: GET /api/v1/dashboard and /dashboard on counters worth N
mentions over 30 days, against the same figures computed by scanning the mention table.

    .venv/bin/python bench/dashboard.py [--items 1000000] [--runs 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from yuqing.core import database
from yuqing.core.timeutil import utcnow
from yuqing.dashboard import stage as dashboard_stage
from yuqing.dashboard import views
from yuqing.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: accounts
OUT = Path(__file__).resolve().parent / "out"
KINDS = ("rss", "page", "list", "import", "push")
SENTIMENTS = ("positive", "neutral", "negative", None)
PROVINCES = [c for c in dashboard_stage.province_codes().values()]


def build(path: Path, items: int) -> None:
    engine = database.make_engine(f"sqlite:///{path}")
    database.upgrade_database(engine)
    rng = random.Random(7)
    now = utcnow()
    with engine.begin() as c:
        for i, kind in enumerate(KINDS):
            c.exec_driver_sql(
                "INSERT INTO source (id, name, kind, enabled, interval_seconds, "
                "weight, created_at, consecutive_failures, count_new, "
                "count_duplicate, count_updated, count_failed, count_filtered) "
                f"VALUES ({i + 1}, 's{i}', '{kind}', 1, 900, 1, '{now}', 0,0,0,0,0,0)"
            )
    from sqlalchemy.orm import Session

    step = 50_000
    for start in range(0, items, step):
        rows = []
        for _ in range(min(step, items - start)):
            rows.append(
                {
                    "published_at": now - timedelta(seconds=rng.randrange(30 * 86400)),
                    "sentiment": rng.choice(SENTIMENTS),
                    "regions": None,
                    "kind": rng.choice(KINDS),
                    "province": rng.choice(PROVINCES) if rng.random() < 0.4 else None,
                }
            )
        with Session(engine) as s:
            conn = s.connection()
            conn.exec_driver_sql(
                "INSERT INTO mention (source_id, title, text, published_at, collected_at, "
                "language, status, content_hash, duplicate_count, search_text, near_count, "
                "sentiment) VALUES (?, '', '', ?, ?, 'zh', 'new', 0, 0, '', 0, ?)",
                [
                    (
                        KINDS.index(r["kind"]) + 1,
                        r["published_at"].isoformat(" ", "microseconds"),
                        now.isoformat(" ", "microseconds"),
                        r["sentiment"],
                    )
                    for r in rows
                ],
            )
            counts = dashboard_stage.Counter()
            for r in rows:
                hour = r["published_at"].replace(minute=0, second=0, microsecond=0)
                key = (hour, r["kind"], r["sentiment"] or "")
                counts[(*key, "")] += 1
                if r["province"]:
                    counts[(*key, r["province"])] += 1
            dashboard_stage.add_counts(s, counts)
            s.commit()
    engine.dispose()


def baseline(engine: object) -> float:
    """The trend and kinds by scanning mentions (what the counters replace)."""
    since = (utcnow() - timedelta(days=30)).isoformat(" ")
    began = time.perf_counter()
    with database.get_engine().connect() as c:  # type: ignore[union-attr]
        c.execute(
            text(
                "SELECT substr(published_at, 1, 13), sentiment, count(*) FROM mention "
                "WHERE status = 'new' AND published_at >= :s GROUP BY 1, 2"
            ),
            {"s": since},
        ).all()
        c.execute(
            text(
                "SELECT source.kind, count(*) FROM mention JOIN source ON source.id = "
                "mention.source_id WHERE published_at >= :s GROUP BY 1"
            ),
            {"s": since},
        ).all()
    return time.perf_counter() - began


def measure(client: TestClient, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text[:300]
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"dashboard_{args.items}.db"
    if not path.exists():
        build(path, args.items)
    engine = database.make_engine(f"sqlite:///{path}")
    database.set_engine(engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM user_account WHERE username = 'bench'"))
    import os

    os.environ.setdefault("YUQING_DATA_DIR", str(OUT))
    from tests.support import TEST_PASSWORD, make_user, sign_in

    make_user(engine, "bench")
    app = create_app()
    app.include_router(views.router)
    with TestClient(app) as client:
        sign_in(client, "bench", TEST_PASSWORD)
        client.get("/api/v1/dashboard")  # warm-up: province table, first plans
        api = measure(client, "/api/v1/dashboard", args.runs)
        page = measure(client, "/dashboard", args.runs)
    base = [baseline(engine) for _ in range(3)]

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0]

    print(f"{'what':32} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    print(f"{'GET /api/v1/dashboard':32} {p(api, 50):8.1f} {p(api, 95):8.1f} {'300':>8}")
    print(f"{'GET /dashboard':32} {p(page, 50):8.1f} {p(page, 95):8.1f} {'300':>8}")
    med = statistics.median(base) * 1000
    print(f"{'baseline: scan mention table':32} {med:8.1f} {'':>8} {'':>8}")
    print(f"ratio baseline/api p50: {med / p(api, 50):.1f}x  ({args.items:,} mentions)")


if __name__ == "__main__":
    main()
