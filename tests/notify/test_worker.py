"""The delivery worker: exclusive claims, leases, concurrent workers, kill -9 mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.notify.conftest import add_channel
from tests.support import LocalServer, Reply
from yuqing.core.database import make_engine, upgrade_database
from yuqing.core.settings import get_settings
from yuqing.notify import service, worker
from yuqing.notify.models import Notification
from yuqing.notify.schemas import Message, Recipient


def _fill(session: Session, channel_id: int, count: int) -> list[int]:
    ids: list[int] = []
    for number in range(count):
        rows = service.enqueue(
            session,
            message=Message(title=f"第 {number} 条预警", text="正文"),
            recipients=[Recipient(kind="channel", id=channel_id)],
            dedupe_key=f"alert:{number}",
        )
        ids += [r.id for r in rows]
    session.commit()
    return ids


def test_enqueue_sends_nothing_itself(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/hook"] = Reply(200)
    channel = add_channel(session, "webhook", http_server.url("/hook"))
    _fill(session, channel.id, 3)
    assert http_server.requests == []  # delivery never runs in the caller's transaction


def test_a_claimed_row_is_not_claimed_again_until_its_lease_expires(
    engine: Engine, session: Session
) -> None:
    channel = add_channel(session, "webhook", "https://hooks.example.cn/x")
    ids = _fill(session, channel.id, 5)
    settings = get_settings()
    with Session(engine) as first, Session(engine) as second:
        mine = worker.claim(first, limit=3, settings=settings)
        theirs = worker.claim(second, limit=10, settings=settings)
        assert [i for i, _ in mine] == ids[:3]
        assert [i for i, _ in theirs] == ids[3:]
        assert worker.claim(second, limit=10, settings=settings) == []
        # a worker that died leaves 'sending' rows; once the lease is over they are due again
        session.execute(
            text("UPDATE notification SET lease_until = :past"),
            {"past": "2000-01-01 00:00:00"},
        )
        session.commit()
        again = worker.claim(second, limit=10, settings=settings)
        assert [i for i, _ in again] == ids
        assert {a for _, a in again} == {2}  # the attempt counter shows the second try


def test_concurrent_workers_send_each_row_once(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/hook"] = Reply(200, delay=0.01)
    channel = add_channel(session, "webhook", http_server.url("/hook"))
    ids = _fill(session, channel.id, 30)
    threads = [threading.Thread(target=worker.run_once, args=(30,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    seen = Counter(r.headers["x-yuqing-delivery"] for r in http_server.requests)
    assert sorted(seen) == sorted(str(i) for i in ids)
    assert set(seen.values()) == {1}
    states = session.execute(select(Notification.state)).scalars().all()
    assert set(states) == {"delivered"}


# --- kill -9 in the middle of a batch ---------------------------------------------------

ROWS = 40


def _start_worker(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": url,
        "YUQING_DATA_DIR": str(data_dir),
        "YUQING_FETCH_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "YUQING_NOTIFY_LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "yuqing.notify.cli", "worker", "--limit", "10"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _states(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, state FROM notification")).all()
    return {int(i): str(s) for i, s in rows}


def test_kill_9_mid_batch_loses_nothing_and_duplicates_only_in_flight_rows(
    tmp_path: Path, http_server: LocalServer
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    http_server.routes["/hook"] = Reply(200, delay=0.05)  # the request is recorded on arrival
    with Session(engine) as session:
        channel = add_channel(session, "webhook", http_server.url("/hook"))
        ids = _fill(session, channel.id, ROWS)

    process = _start_worker(url, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while len(http_server.requests) < 12 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)
    finally:
        if process.poll() is None:
            process.kill()
    at_kill = _states(engine)
    seen_before = len(http_server.requests)
    in_flight = {i for i, s in at_kill.items() if s == "sending"}
    delivered_before = {i for i, s in at_kill.items() if s == "delivered"}
    assert 12 <= seen_before < ROWS, "the kill came after the whole batch"
    assert len(in_flight) <= 10  # one claimed batch at most

    process = _start_worker(url, tmp_path)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if set(_states(engine).values()) == {"delivered"}:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    engine.dispose()

    final = _states(engine)
    assert set(final.values()) == {"delivered"}, final
    seen = Counter(int(r.headers["x-yuqing-delivery"]) for r in http_server.requests)
    assert set(seen) == set(ids)  # every row reached the remote side at least once
    duplicated = {i for i, n in seen.items() if n > 1}
    assert duplicated <= in_flight  # only rows that were in flight at the kill
    assert not duplicated & delivered_before  # a recorded delivery is never resent
    assert sum(n - 1 for n in seen.values()) <= len(in_flight)
