"""Queue mode's Celery side: the app, its three queues and their tasks, and the sweep.

Only queue mode imports this module (``yuqing serve --queue``, ``yuqing worker --queues``,
``worker/inbox.py`` when a batch was put): the embedded desk never loads Celery.

| queue | task | consumers |
| --- | --- | --- |
| ``analysis`` | ``yuqing.analyse``: analyse and store one inbox batch | as many workers as cores |
| ``ordered`` | ``yuqing.place``: events, dashboard counts, alerts of a stored batch | exactly one |
| ``notify`` | ``yuqing.deliver``: deliver what waits in the outbox | one or more |

Every task is acknowledged late and rejected back to the queue when its worker dies
(``acks_late``, ``reject_on_worker_lost``); the inbox row's lock and state make the second
run a no-op. Redis is not the durable part: ``sweep`` sends again what the inbox still holds
once the queue that should carry it is empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import cache

from celery import Celery

from yuqing.core.database import session_scope
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.worker import inbox

log = logging.getLogger(__name__)

ANALYSIS, ORDERED, NOTIFY = "analysis", "ordered", "notify"
QUEUES = (ANALYSIS, ORDERED, NOTIFY)
SWEEP_SECONDS = 5.0


@cache
def get_app() -> Celery:
    """The Celery app of this desk (broker: ``YUQING_REDIS_URL``), its tasks registered."""
    settings = get_settings()
    app = Celery("yuqing", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.queue_visibility_seconds,
            "unacked_restore_throttle": 1,
        },
        task_routes={
            "yuqing.analyse": {"queue": ANALYSIS},
            "yuqing.place": {"queue": ORDERED},
            "yuqing.deliver": {"queue": NOTIFY},
        },
        task_default_queue=ANALYSIS,
    )

    @app.task(name="yuqing.analyse")
    def analyse(inbox_id: int) -> None:
        if inbox.analyse(inbox_id):
            _send(app, "yuqing.place", [inbox_id])

    @app.task(name="yuqing.place")
    def place(inbox_id: int) -> None:
        if inbox.place(inbox_id):
            _send(app, "yuqing.deliver", [])

    @app.task(name="yuqing.deliver")
    def deliver() -> None:
        from yuqing.notify import worker as notify

        while notify.run_once(20).claimed:
            pass

    return app


def _send(app: Celery, name: str, args: list[int]) -> bool:
    """Send one task; a broker that cannot be reached is logged, not raised: the inbox
    keeps the batch and the sweep sends it again."""
    try:
        app.send_task(name, args=args)
        return True
    except Exception:
        log.exception("could not send %s%s to the queue", name, args)
        return False


def send_analyse(inbox_ids: Iterable[int]) -> None:
    """Send each inbox batch to the analysis queue."""
    app = get_app()
    for inbox_id in inbox_ids:
        if not _send(app, "yuqing.analyse", [inbox_id]):
            return


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each queue (taken but unacknowledged ones are not counted)."""
    with get_app().connection_for_write() as connection:
        client = connection.default_channel.client
        return {name: int(client.llen(name)) for name in QUEUES}


def sweep(*, older_than: float | None = None) -> inbox.Stale:
    """Send again the inbox rows that waited longer than ``older_than`` seconds, the queued
    ones when the analysis queue is empty and the stored ones when the ordered queue is (a
    backlog is not a loss: resending it would only pile up duplicates), a delivery pass,
    and forget rows placed more than ``queue_keep_days`` ago."""
    settings = get_settings()
    wait = settings.queue_requeue_seconds if older_than is None else older_than
    lengths = queue_lengths()
    now = utcnow()
    with session_scope() as session:
        found = inbox.stale(session, now=now, older_than=wait)
        inbox.forget_done(session, now=now, keep_days=settings.queue_keep_days)
    app = get_app()
    queued = found.queued if lengths[ANALYSIS] == 0 else []
    stored = found.stored if lengths[ORDERED] == 0 else []
    for inbox_id in queued:
        _send(app, "yuqing.analyse", [inbox_id])
    for inbox_id in stored:
        _send(app, "yuqing.place", [inbox_id])
    if lengths[NOTIFY] == 0:
        _send(app, "yuqing.deliver", [])
    return inbox.Stale(queued, stored)


def sweep_forever(stop: threading.Event, *, every: float = SWEEP_SECONDS) -> None:
    """``sweep`` until ``stop`` is set (the runner's thread in queue mode)."""
    while not stop.wait(every):
        try:
            sweep()
        except Exception:  # Redis or the database briefly gone: the next round retries
            log.exception("inbox sweep failed")


_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def ensure_broker(*, wait: float = 10.0) -> str | None:
    """Start Debian's redis-server when the broker is a local Redis that does not answer
    (as ``.ci/run`` does); None when it answers, else why it cannot be reached."""
    import shutil
    import subprocess
    import time
    from urllib.parse import urlsplit

    import redis

    url = get_settings().redis_url
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
        return None
    except redis.RedisError:
        pass
    parts = urlsplit(url)
    server = shutil.which("redis-server")
    if parts.hostname not in _LOCAL_HOSTS or server is None:
        return f"Redis 无法连接：{url}（请启动 Redis 或设置 YUQING_REDIS_URL）"
    command = [server, "--daemonize", "yes", "--bind", "127.0.0.1", "-::1"]
    command += ["--port", str(parts.port or 6379), "--save", "", "--appendonly", "no"]
    subprocess.run(command, check=False, capture_output=True, timeout=30)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            client.ping()
            log.info("started redis-server for %s", url)
            return None
        except redis.RedisError:
            time.sleep(0.2)
    return f"Redis 无法连接，启动 redis-server 也未成功：{url}"


def run_worker(queues: list[str], *, name: str | None = None) -> None:
    """Run one worker process on ``queues`` (solo pool: one batch at a time; start more
    processes for more analysis workers)."""
    unknown = set(queues) - set(QUEUES)
    if unknown:
        raise ValueError(f"unknown queue {', '.join(sorted(unknown))}")
    argv = ["worker", "--pool", "solo", "--queues", ",".join(queues), "--loglevel", "WARNING"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if name:
        argv += ["--hostname", name]
    get_app().worker_main(argv)
