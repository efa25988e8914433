"""A sign-in flood from one address against a real server: what each attempt costs once the
address is over its budget, how a signed-in colleague's page answers meanwhile, and how many
audit rows the flood leaves.

Usage: .venv/bin/python bench/login_flood.py [--attempts 300] [--threads 4]

A uvicorn subprocess on 127.0.0.1 serves a fresh SQLite desk with one account. ``--threads``
clients post wrong passwords for changing names as fast as they can (``--attempts`` in
all, bounded to 120 s); meanwhile another client, signed in beforehand, opens its password
page every 0.2 s. Printed: the attempts' statuses, the median time of the hashed ones and
of the refused ones, the colleague's median and p95 page time before and during the flood,
and the audit rows written.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-42"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(data_dir: str) -> None:
    code = (
        "from yuqing.core import database\n"
        "from yuqing.core.database import session_scope\n"
        "from yuqing.auth import service\n"
        "from yuqing.core.audit import SYSTEM\n"
        "database.upgrade_database(database.get_engine())\n"
        "with session_scope() as s:\n"
        "    service.ensure_roles(s)\n"
        f"    service.create_user(s, username='boss', password='{PASSWORD}', role_key='admin',"
        " actor=SYSTEM, must_change_password=False)\n"
    )
    env = {**os.environ, "YUQING_DATA_DIR": data_dir}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def _signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    client.get("/login")
    form = {"username": "boss", "password": PASSWORD, "csrf_token": client.cookies["yuqing_csrf"]}
    assert client.post("/login", data=form).status_code == 303
    return client


def _page_times(client: httpx.Client, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        assert client.get("/account/password").status_code == 200
        out.append(time.perf_counter() - start)
        time.sleep(0.2)


def _flood(base: str, count: int, deadline: float, out: list[tuple[int, float]]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/login")
        token = client.cookies["yuqing_csrf"]
        for n in range(count):
            if time.monotonic() > deadline:
                return
            form = {"username": f"guess{n % 50}", "password": "wrong-pass-1", "csrf_token": token}
            start = time.perf_counter()
            status = client.post("/login", data=form).status_code
            out.append((status, time.perf_counter() - start))


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="yuqing-flood-")
    _prepare(data_dir)
    port = _free_port()
    env = {**os.environ, "YUQING_DATA_DIR": data_dir}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "yuqing.web.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        colleague = _signed_in(base)
        quiet: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=_page_times, args=(colleague, stop, quiet))
        watcher.start()
        time.sleep(3)
        during: list[float] = []
        stop.set()
        watcher.join()
        stop = threading.Event()
        watcher = threading.Thread(target=_page_times, args=(colleague, stop, during))
        watcher.start()
        attempts: list[tuple[int, float]] = []
        deadline = time.monotonic() + 120
        per_thread = args.attempts // args.threads
        floods = [
            threading.Thread(target=_flood, args=(base, per_thread, deadline, attempts))
            for _ in range(args.threads)
        ]
        started = time.perf_counter()
        for flood in floods:
            flood.start()
        for flood in floods:
            flood.join()
        spent = time.perf_counter() - started
        stop.set()
        watcher.join()
        colleague.close()
    finally:
        server.terminate()
        server.wait(10)
    _report(data_dir, attempts, spent, quiet, during)


def _report(
    data_dir: str,
    attempts: list[tuple[int, float]],
    spent: float,
    quiet: list[float],
    during: list[float],
) -> None:
    import sqlite3

    hashed = [t for status, t in attempts if status == 401]
    refused = [t for status, t in attempts if status == 429]
    with sqlite3.connect(Path(data_dir) / "yuqing.db") as db:
        rows = db.execute("SELECT action, count(*) FROM audit_entry GROUP BY action").fetchall()
    ms = 1000
    print(f"{len(attempts)} wrong sign-ins in {spent:.1f} s from one address")
    print(
        f"  401 (password checked): {len(hashed)}, median {statistics.median(hashed) * ms:.0f} ms"
    )
    if refused:
        print(f"  429 (refused unhashed): {len(refused)}, median "
              f"{statistics.median(refused) * ms:.1f} ms, p95 {_p95(refused) * ms:.1f} ms")  # fmt: skip
    print(f"colleague's page: quiet median {statistics.median(quiet) * ms:.0f} ms; during the "
          f"flood median {statistics.median(during) * ms:.0f} ms, p95 {_p95(during) * ms:.0f} ms "
          f"({len(during)} requests)")  # fmt: skip
    print(f"audit rows: {dict(rows)}")


if __name__ == "__main__":
    main()
