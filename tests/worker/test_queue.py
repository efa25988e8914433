"""Queue mode on real parts: the inbox, real Redis, real worker processes killed mid-batch.

The inbox runs (``inbox.analyse``, ``inbox.place``) are tested in this process on the test
database; the kill test starts ``yuqing worker --queues …`` processes against the same
database and Redis and kills one with SIGKILL while it holds a batch's transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.support import LocalServer, Reply, desk_client
from yuqing.core.settings import reset_settings_cache
from yuqing.dashboard.models import ALL_PLACES, DashboardHour
from yuqing.events.models import EventMember
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source
from yuqing.worker import collect, inbox
from yuqing.worker.models import DONE, QUEUED, STORED, InboxBatch

AUTH = {"Authorization": "Bearer test-push-token"}
FIXTURES = Path(__file__).parent.parent / "sources" / "fixtures"
PLACES = ("南京市鼓楼区", "杭州市西湖区", "成都市武侯区", "武汉市洪山区", "西安市雁塔区")
TOPICS = ("食堂涨价", "宿舍停电", "图书馆闭馆", "校车晚点", "招生政策", "考试安排")


def _items(batch: int, size: int) -> list[dict[str, object]]:
    """``size`` distinct items (external ids ``b{batch}-{i}``) with varied texts."""
    items = []
    for i in range(size):
        n = batch * size + i
        place, topic = PLACES[n % len(PLACES)], TOPICS[n % len(TOPICS)]
        text = f"{place}某高校第{n}号帖子：学生反映{topic}的问题，已有{n % 97}人跟帖讨论{n * 7919 % 10007}。"
        items.append(
            {
                "external_id": f"b{batch}-{i}",
                "title": f"{topic}{n}",
                "text": text,
                "published_at": f"2026-12-0{1 + n % 5}T0{n % 10}:00:00Z",
            }
        )
    return items


def _put(session: Session, source_id: int, items: list[dict[str, object]]) -> int:
    """An inbox row as ``inbox.put`` writes it, without sending it anywhere."""
    row = InboxBatch(
        source_id=source_id,
        origin="push",
        state=QUEUED,
        received=len(items),
        items=orjson.dumps(items).decode(),
    )
    session.add(row)
    session.commit()
    return row.id


def test_a_batch_run_twice_is_stored_once(session: Session, push_source: Source) -> None:
    items = _items(0, 40)
    items.append({"title": "", "text": ""})  # fails alone, with its reason
    inbox_id = _put(session, push_source.id, items)

    assert inbox.analyse(inbox_id) is True
    assert inbox.analyse(inbox_id) is True  # delivered again: stored already, nothing done
    session.expire_all()
    row = session.get(InboxBatch, inbox_id)
    assert row is not None and row.state == STORED and row.attempts == 1 and row.items == ""
    result = orjson.loads(row.result)
    assert (result["new"], result["failed"]) == (40, 1)
    assert result["outcomes"][40]["status"] == "failed"
    assert session.scalar(select(func.count()).select_from(Mention)) == 40
    # The ordered part has not run: no event holds the mentions yet.
    assert session.scalar(select(func.count()).select_from(EventMember)) == 0

    inbox.place(inbox_id)
    inbox.place(inbox_id)  # again: done already
    session.expire_all()
    assert row.state == DONE and row.batch == "" and row.done_at is not None
    assert session.scalar(select(func.count()).select_from(EventMember)) == 40
    counted = session.scalar(
        select(func.sum(DashboardHour.count)).where(DashboardHour.province == ALL_PLACES)
    )
    assert counted == 40
    # The same items in a second batch (a collector that pushed again) change nothing.
    again = _put(session, push_source.id, _items(0, 40))
    assert inbox.analyse(again) and not inbox.place(again)
    assert session.scalar(select(func.count()).select_from(Mention)) == 40
    assert orjson.loads(session.get(InboxBatch, again).result)["unchanged"] == 40  # type: ignore[union-attr]


def test_stale_rows_are_found_for_the_sweep(session: Session, push_source: Source) -> None:
    first = _put(session, push_source.id, _items(0, 3))
    second = _put(session, push_source.id, _items(1, 3))
    inbox.analyse(second)
    from yuqing.core.timeutil import utcnow

    found = inbox.stale(session, now=utcnow(), older_than=0)
    assert (found.queued, found.stored) == ([first], [second])


@pytest.fixture
def queue_client(
    engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("YUQING_QUEUE", "true")
    reset_settings_cache()
    with desk_client(engine) as client:
        yield client


def test_push_in_queue_mode_answers_at_once_and_reports_the_outcome(
    queue_client: TestClient, redis_url: str, session: Session
) -> None:
    answer = queue_client.post(
        "/api/v1/mentions", json={"source": "队列推送", "items": _items(0, 5)}, headers=AUTH
    )
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["received"] == 5 and queued["state"] == "queued"
    # Committed before the answer, and its id is on the analysis queue.
    assert redis.Redis.from_url(redis_url).llen("analysis") == 1
    status = queue_client.get(queued["status_url"], headers=AUTH).json()
    assert status["state"] == "queued" and status["result"] is None
    assert session.scalar(select(func.count()).select_from(Mention)) == 0

    assert inbox.analyse(queued["inbox_id"])
    status = queue_client.get(queued["status_url"], headers=AUTH).json()
    assert status["state"] == "stored" and status["result"]["new"] == 5
    inbox.place(queued["inbox_id"])
    assert queue_client.get(queued["status_url"], headers=AUTH).json()["state"] == "done"

    assert queue_client.get(queued["status_url"]).status_code == 401
    assert queue_client.get("/api/v1/inbox/999999", headers=AUTH).status_code == 404


def test_a_fetch_in_queue_mode_goes_through_the_inbox(
    session: Session, http_server: LocalServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_QUEUE", "true")
    reset_settings_cache()
    http_server.routes["/feed.xml"] = Reply(
        200, (FIXTURES / "atom.xml").read_bytes(), {"Content-Type": "application/atom+xml"}
    )
    source = Source(name="日报", kind="rss", url=http_server.url("/feed.xml"))
    session.add(source)
    session.commit()
    run = collect.fetch_source(session, source)
    session.commit()
    assert run.ok and run.items_new == 0  # counted when a worker stores them
    row = session.execute(select(InboxBatch)).scalar_one()
    assert (row.origin, row.state, row.received) == ("fetch", QUEUED, 1)
    assert redis.Redis.from_url(redis_url).llen("analysis") == 1
    assert inbox.analyse(row.id) and not inbox.place(row.id)
    mention = session.execute(select(Mention)).scalar_one()
    assert mention.sentiment is not None and mention.risk_score is not None
    session.refresh(source)
    assert source.count_new == 1


def test_the_embedded_desk_does_not_load_celery(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from yuqing.web.app import create_app\n"
        "import yuqing.cli, yuqing.worker.runner, yuqing.worker.collect, yuqing.mentions.api\n"
        "create_app()\n"
        "assert 'celery' not in sys.modules and 'kombu' not in sys.modules, 'celery loaded'\n"
    )
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path / "var")}
    env.pop("YUQING_QUEUE", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- real worker processes --------------------------------------------------------------


def _worker(engine: Engine, tmp_path: Path, redis_url: str, queues: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "YUQING_DATA_DIR": str(tmp_path / "var"),
        "YUQING_REDIS_URL": redis_url,
        "YUQING_SEARCH_INDEX": "off",
    }
    code = "from yuqing.cli import app; app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--queues", queues],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"worker-{queues}-{time.monotonic_ns()}.log", "w"),
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _count(session: Session, *where: object) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(InboxBatch).where(*where)) or 0)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    engine: Engine, session: Session, push_source: Source, redis_url: str, tmp_path: Path
) -> None:
    from yuqing.worker import tasks

    batches, size = 30, 200
    for number in range(batches):
        inbox.put(session, source_id=push_source.id, origin="push", items=_items(number, size))
        session.commit()  # each batch acknowledged to its collector: committed, then queued
    assert redis.Redis.from_url(redis_url).llen("analysis") == batches

    killed: int | None = None
    for _ in range(5):  # a kill that lands between two batches catches none: again
        worker = _worker(engine, tmp_path, redis_url, "analysis")
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and worker.poll() is None:
                session.expire_all()
                # A batch the worker started (attempts counted) and has not committed yet,
                # after it committed others: the worker is in the middle of a batch.
                started = session.scalars(
                    select(InboxBatch.id).where(
                        InboxBatch.state == QUEUED, InboxBatch.attempts == 1
                    )
                ).first()
                if started is not None and _count(session, InboxBatch.state == STORED) >= 2:
                    os.kill(worker.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
        finally:
            _stop(worker)
        session.expire_all()
        # The batch the worker was in when it died: started, its transaction gone with it
        # (the one seen before the kill may have committed in between).
        killed = session.scalars(
            select(InboxBatch.id).where(InboxBatch.state == QUEUED, InboxBatch.attempts == 1)
        ).first()
        if killed is not None:
            break
    assert killed is not None, "the worker was never caught in the middle of a batch"
    row = session.get(InboxBatch, killed)
    assert row is not None and row.state == QUEUED
    assert _count(session, InboxBatch.state == QUEUED) < batches

    second = _worker(engine, tmp_path, redis_url, "analysis,ordered")
    try:
        deadline = time.monotonic() + 180
        while _count(session, InboxBatch.state == DONE) < batches:
            assert time.monotonic() < deadline, "the batches were not all processed"
            assert second.poll() is None, "the second worker stopped"
            tasks.sweep(older_than=1)  # what `yuqing serve --queue` does every few seconds
            time.sleep(1)
    finally:
        _stop(second)

    session.expire_all()
    total = batches * size
    assert session.scalar(select(func.count()).select_from(Mention)) == total
    distinct = select(func.count(func.distinct(Mention.external_id)))
    assert session.scalar(distinct) == total
    assert session.scalar(select(func.count()).select_from(EventMember)) == total
    counted = session.scalar(
        select(func.sum(DashboardHour.count)).where(DashboardHour.province == ALL_PLACES)
    )
    assert counted == total
    assert session.get(InboxBatch, killed).attempts == 2  # type: ignore[union-attr]
    source = session.get(Source, push_source.id)
    assert source is not None
    session.refresh(source)
    assert source.count_new == total
