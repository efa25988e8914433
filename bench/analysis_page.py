"""The analysis page (分析) alone at 1,000,000 mentions: bench/pages.py's database, server and
readers, only the analysis URLs (and 信息流 7天 and a static file beside them as yardsticks).

    .venv/bin/python bench/analysis_page.py [--db bench/out/pages_1000000.db] [--requests 60]

The database is bench/pages.py's (build it there first); it must have the indexes of the
current models (``ix_mention_stream_facets``): a database built before them is given them
here (``CREATE INDEX IF NOT EXISTS``, about a minute at 1M rows). Prints per URL the cold
time (the first readers, while the answer is computed; answers are then shared for 60 s)
and p50/p95 against the 300 ms target, and the machine's load average, which the figures
depend on.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages
from yuqing.core.settings import reset_settings_cache
from yuqing.mentions.models import Mention

URLS = (
    ("分析页 /analysis", "/analysis"),
    ("分析接口 7天", "/api/v1/analysis?range=7d"),
    ("分析接口 7天 负面", "/api/v1/analysis?range=7d&sentiment=negative"),
    ("分析接口 24小时 微博", "/api/v1/analysis?range=24h&platform=weibo"),
    ("分析接口 30天 (按天)", "/api/v1/analysis?range=custom&start={month_ago}"),
    ("信息流 7天 (对照)", "/?range=7d"),
    ("基线: 静态文件", "/static/favicon.svg"),
)


def add_missing_indexes(path: Path) -> None:
    """The mention table's indexes of the current models, on a database built before them."""
    connection = sqlite3.connect(path)
    for index in Mention.__table__.indexes:
        columns = ", ".join(c.name for c in index.columns)
        where = index.dialect_options["sqlite"].get("where")
        unique = "UNIQUE " if index.unique else ""
        suffix = f" WHERE {where}" if where is not None else ""
        connection.execute(
            f"CREATE {unique}INDEX IF NOT EXISTS {index.name} ON mention ({columns}){suffix}"
        )
    connection.commit()
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=pages.OUT / "pages_1000000.db")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--readers", type=int, default=5)
    args = parser.parse_args()
    path: Path = args.db
    if not path.exists():
        raise SystemExit(f"{path} 不存在：先运行 bench/pages.py 生成数据库")
    data_dir = path.with_name(path.stem + "_var")
    os.environ["YUQING_DATA_DIR"] = str(data_dir)
    reset_settings_cache()
    add_missing_indexes(path)
    from sqlalchemy import text
    from tests.support import make_user

    from yuqing.core.database import make_engine

    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM user_account WHERE username = 'bench_pages'"))
    make_user(engine, "bench_pages")
    engine.dispose()
    from datetime import timedelta

    from yuqing.core.timeutil import utcnow

    month_ago = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d")
    server, base = pages.start_server(path, data_dir)
    try:
        cookies = pages.sign_in(base)
        rows = []
        for label, url in URLS:
            url = url.format(month_ago=month_ago)
            # The first readers compute the answer (one computes, the others wait for it):
            # the cold time of a filter nobody looked at in the last minute.
            cold = max(pages.measure(base, cookies, url, args.readers, args.readers))
            times = pages.measure(base, cookies, url, args.requests, args.readers)
            rows.append((label, cold, pages.pct(times, 50), pages.pct(times, 95)))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(f"{path.name}, {args.readers} concurrent readers, uvicorn (1 worker)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'page':32} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for label, cold, p50, p95 in rows:
        target = "" if label.startswith("基线") else f"≤{pages.TARGET_MS:.0f}"
        verdict = "" if not target else ("ok" if p95 <= pages.TARGET_MS else "SLOW")
        print(f"{label:32} {cold:8.1f} {p50:8.1f} {p95:8.1f} {target:>8} {verdict}")
    print("cold: the first 5 readers of a filter (one computes, four wait); p50/p95 after.")


if __name__ == "__main__":
    main()
