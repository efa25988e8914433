"""The background work of one desk: fetching sources, delivering notifications, keeping the
search index caught up with the database, and the minute-by-minute evaluations (alert rules
on windows, event heat)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from yuqing.alerts import jobs as alerts
from yuqing.analysis import jobs as analysis_jobs
from yuqing.assessment import jobs as team_jobs
from yuqing.cases import jobs as cases
from yuqing.core.database import session_scope
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.editorial import jobs as editorial
from yuqing.events import jobs as event_jobs
from yuqing.maintenance import jobs as maintenance_jobs
from yuqing.mentions import jobs as mentions_jobs
from yuqing.notify import worker as notify
from yuqing.reports import jobs as reports
from yuqing.worker import collect

log = logging.getLogger(__name__)

PERIODIC_SECONDS = 60.0
# The outbox is polled this often when idle: an alert reaches its robot within about this
# long after its batch commits (the target is 2 s from arrival to delivery).
NOTIFY_IDLE_SECONDS = 0.3


def run_periodic(stop: threading.Event, *, every: float = PERIODIC_SECONDS) -> None:
    """Every minute: case clocks (reminders at 50 % and 80 %, escalation when overdue),
    window rules (spikes, negative share, silent sources, digests), the heat of recent
    events, which cools down as they go quiet, the pass that merges one story's events,
    the scheduled daily report, registration reminders and
    the monthly bulletin (月度通报), and the daily sentiment retraining when labels came in."""
    while not stop.wait(every):
        try:
            with session_scope() as session:
                cases.run_timers(session)
            with session_scope() as session:
                editorial.run_deadlines(session, utcnow())  # news due one working day after
            with session_scope() as session:
                alerts.evaluate_periodic(session)
                event_jobs.refresh_heat(session)
            with session_scope() as session:
                event_jobs.merge_stories(session)  # one story's events merged (audited)
            with session_scope() as session:
                reports.run_schedule(session, utcnow())
            with session_scope() as session:
                team_jobs.run_schedule(session, utcnow())  # reminders, monthly bulletin
            with session_scope() as session:
                analysis_jobs.retrain_if_due(session, utcnow())  # at most once a day
        except Exception:  # one bad minute must not end the loop
            log.exception("periodic evaluation failed")


def start(stop: threading.Event, *, fetch: bool = True) -> list[threading.Thread]:
    """Start the background threads; they end when ``stop`` is set.

    In queue mode notifications are delivered by the ``notify`` queue's workers; this
    process sweeps the inbox instead (batches the broker lost, delivery wake-ups)."""
    jobs: list[tuple[str, Callable[..., None], dict[str, object]]] = [
        ("notify", notify.run_forever, {"idle_seconds": NOTIFY_IDLE_SECONDS}),
        ("periodic", run_periodic, {}),
        ("search-index", mentions_jobs.follow_search_index, {}),
        # WAL checkpoints, the daily backup and retention purge (docs/operations.md).
        ("maintenance", maintenance_jobs.run_forever, {}),
    ]
    if get_settings().queue:
        from yuqing.worker import tasks  # Celery is loaded in queue mode only

        jobs[0] = ("inbox-sweep", tasks.sweep_forever, {})
    if fetch:
        jobs.insert(0, ("fetch", collect.run_forever, {}))
    threads = []
    for name, target, kwargs in jobs:
        thread = threading.Thread(
            target=target, args=(stop,), kwargs=kwargs, name=f"yuqing-{name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads
