"""Durability: kill -9 the real server mid-stream; every acknowledged item survives, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support import free_port
from yuqing.core.database import make_engine, upgrade_database

TOKEN = "crash-test-token"
BATCHES = 12
BATCH_SIZE = 400
START_TIMEOUT = 120  # seconds; a generous bound, the loop returns as soon as /healthz answers


def _start_server(database_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": database_url,
        "YUQING_PUSH_TOKEN": TOKEN,
        "YUQING_DATA_DIR": str(data_dir),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Wait for readiness, not a fixed time: on a busy 2-core machine start-up takes seconds.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise AssertionError(f"server did not become ready within {START_TIMEOUT} s")


def _batch(number: int) -> list[dict[str, str]]:
    # Item ids are unique; every 50th item repeats an earlier text, so copies are stored too.
    return [
        {
            "id": f"b{number}-{i}",
            "title": f"第{number}批第{i}条" if i % 50 else "转发微博",
            "text": f"关于学校食堂的讨论 {number}-{i}" if i % 50 else "转发微博",
            "time": "2024-05-01T09:00:00+08:00",
        }
        for i in range(BATCH_SIZE)
    ]


@pytest.fixture
def server_env(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()
    yield url, tmp_path


def _push(client: httpx.Client, port: int, number: int) -> httpx.Response:
    return client.post(
        f"http://127.0.0.1:{port}/api/v1/mentions",
        json={"source": "崩溃测试", "items": _batch(number)},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )


def test_kill_9_mid_stream_loses_no_acknowledged_item(server_env: tuple[str, Path]) -> None:
    url, data_dir = server_env
    port = free_port()
    server = _start_server(url, port, data_dir)
    acknowledged: list[int] = []
    in_flight = threading.Event()

    def stream() -> None:
        with httpx.Client() as client:
            for number in range(BATCHES):
                in_flight.set()
                try:
                    reply = _push(client, port, number)
                except httpx.TransportError:
                    return  # the server died under this request
                in_flight.clear()
                assert reply.status_code == 200, reply.text
                acknowledged.append(number)

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(acknowledged) >= 3, "the server acknowledged too few batches"
        in_flight.wait(2)
        time.sleep(0.02)  # let the next batch reach the server
        os.kill(server.pid, signal.SIGKILL)
        server.wait(5)
        sender.join(10)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) < BATCHES, "the kill came after the whole stream"

    _assert_each_item_at_most_once(url, acknowledged)

    server = _start_server(url, port, data_dir)
    try:
        with httpx.Client() as client:
            replies = [_push(client, port, number) for number in range(BATCHES)]
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(5)
    assert all(r.status_code == 200 for r in replies)
    again = replies[acknowledged[0]].json()
    assert again["unchanged"] == BATCH_SIZE  # an acknowledged batch was stored already
    stored = _assert_each_item_at_most_once(url, list(range(BATCHES)))
    assert stored == BATCHES * BATCH_SIZE


def _assert_each_item_at_most_once(url: str, must_have: list[int]) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT external_id FROM mention")).scalars().all()
            listed = connection.execute(
                text("SELECT count(*) FROM mention WHERE status = 'new'")
            ).scalar_one()
            indexed = connection.execute(text("SELECT count(*) FROM mention_fts")).scalar_one()
    finally:
        engine.dispose()
    assert len(rows) == len(set(rows)), "an item was stored twice"
    present = set(rows)
    missing = [
        f"b{n}-{i}" for n in must_have for i in range(BATCH_SIZE) if f"b{n}-{i}" not in present
    ]
    assert not missing, f"acknowledged items lost: {missing[:5]}"
    assert indexed == listed, "the search index and the stored items disagree"
    return len(rows)
