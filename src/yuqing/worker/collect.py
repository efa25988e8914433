"""Collected items come in here: fetching due sources and importing files, each batch put
through the pipeline (``process``), so no collecting path can store without analysing.

``sources`` fetches, parses and keeps each source's schedule; it does not store mentions
(and sits below the worker, so it cannot call the pipeline itself). This module composes the
two: fetch, ``pipeline.process``, record the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core.database import new_session
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.mentions import service as mentions
from yuqing.sources import fetch, importers
from yuqing.sources import service as sources_service
from yuqing.sources.fetch import HostSlots, Progress
from yuqing.sources.models import FetchRun, Source
from yuqing.sources.schemas import IngestResult
from yuqing.worker import inbox, pipeline

log = logging.getLogger(__name__)


def fetch_source(
    session: Session, source: Source, *, now: datetime | None = None, slots: HostSlots | None = None
) -> FetchRun:
    """Fetch one source, put its items through the pipeline, record the run and the
    source's scheduling state; the caller commits."""
    fetched = fetch.fetch_items(
        session, source, known=mentions.list_stored_url_hashes, now=now, slots=slots
    )
    stored = IngestResult()
    if fetched.error is None and fetched.items:
        if get_settings().queue:
            # Queue mode: the batch goes to the inbox and is sent to the analysis workers
            # when the caller commits; the counts reach the source when they store it.
            inbox.put(session, source_id=source.id, origin="fetch", items=fetched.items)
        else:
            stored = pipeline.process(session, source=source, items=fetched.items)
    return fetch.record(session, source, fetched, stored)


def run_due(
    *,
    limit: int | None = None,
    source_id: int | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> list[FetchRun]:
    """Fetch every due source (or only ``source_id``; ``force`` ignores the due time and the
    enabled flag) concurrently; returns the runs in the order they finished.

    Concurrency is threads (the HTTP client is synchronous): at most ``fetch_concurrency``
    sources at once, and at most ``fetch_per_domain_concurrency`` requests at once to one
    host. Each source is fetched in its own session and committed on its own, so one bad
    source never holds back or rolls back another."""
    settings = get_settings()
    with new_session() as session:
        due = fetch.due_source_ids(
            session, now=now or utcnow(), limit=limit, source_id=source_id, force=force
        )
        hosts = dict(session.execute(select(Source.id, Source.url).where(Source.id.in_(due))).all())
    ordered = fetch.interleave_hosts(due, hosts)
    slots = HostSlots(settings.fetch_per_domain_concurrency)
    runs: list[FetchRun] = []
    workers = max(1, min(settings.fetch_concurrency, len(ordered) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yuqing-fetch") as pool:
        futures = [pool.submit(_fetch_one, sid, now, slots) for sid in ordered]
        for done, future in enumerate(as_completed(futures), start=1):
            run, name = future.result()
            runs.append(run)
            if progress is not None:
                progress(done, len(futures), name)
    return runs


def _fetch_one(source_id: int, now: datetime | None, slots: HostSlots) -> tuple[FetchRun, str]:
    with new_session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        try:
            run = fetch_source(session, source, now=now, slots=slots)
            session.commit()
        except Exception as error:  # a bug or a database error must not stop the other sources
            log.exception("fetching source %s failed", source_id)
            session.rollback()
            run = fetch.record_crash(session, source_id, error, now or utcnow())
        session.expunge(run)
        return run, source.name


def run_forever(stop_event: threading.Event) -> None:
    """Fetch due sources until ``stop_event`` is set, sleeping until the next is due (≤ 30 s)."""
    while not stop_event.is_set():
        try:
            run_due()
            with new_session() as session:
                upcoming = fetch.next_due_at(session)
        except Exception:  # keep the background loop alive; the next round retries
            log.exception("fetch round failed")
            upcoming = None
        wait = fetch.IDLE_SLEEP_MAX_SECONDS
        if upcoming is not None:
            wait = min(wait, max(0.5, (upcoming - utcnow()).total_seconds()))
        stop_event.wait(wait)


def import_file(
    session: Session,
    path: Path,
    *,
    source_name: str,
    mapping: dict[str, str] | None = None,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> importers.ImportReport:
    """Read ``path`` and put its rows through the pipeline in batches (one commit each)
    under ``source_name``.

    A bad file raises ImportFileError before anything is stored; bad rows are reported with
    their row number and the good rows are stored. Running it twice stores each row once.
    """
    batch = importers.read_import_file(path, mapping=mapping)
    source = sources_service.get_or_create(session, name=source_name, kind="import")
    session.commit()
    return importers.store_batch(
        session,
        batch,
        source=source,
        batch_size=batch_size,
        progress=progress,
        store=pipeline.process,
    )
