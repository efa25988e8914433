"""Fetching sources: conditional GET, parse by kind, the fetch run and its scheduling state
(backoff, next attempt), which sources are due, one host at a time. Storing what a fetch
collected is the worker's (``worker/collect.py`` puts it through the pipeline), so this
module never stores mentions itself: ``fetch_items`` collects, ``record`` writes the run.

Concurrency is threads (the HTTP client is synchronous): at most ``fetch_concurrency``
sources at once, and at most ``fetch_per_domain_concurrency`` requests at once to one host.
Each source is fetched in its own database session and committed on its own, so one bad
source never holds back or rolls back another.

All network work for a source happens before its first database write, so on SQLite a
slow server never keeps the write lock held while other sources wait.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from yuqing.core.http import FetchError, FetchResponse, fetch
from yuqing.core.settings import Settings, get_settings
from yuqing.core.timeutil import utcnow
from yuqing.core.urls import url_hash
from yuqing.sources import parsers
from yuqing.sources.models import FetchRun, Source
from yuqing.sources.schemas import FETCHED_KINDS, IngestResult, ItemIn
from yuqing.sources.storing import KnownLinks

log = logging.getLogger(__name__)

LIST_ARTICLES_PER_RUN = 30
LIST_LINKS_CONSIDERED = 100
RETRY_AFTER_MAX_SECONDS = 7 * 86400  # a server cannot push a source out for longer
IDLE_SLEEP_MAX_SECONDS = 30.0

Progress = Callable[[int, int, str], None]
_COUNTERS = [
    "count_new",
    "count_duplicate",
    "count_updated",
    "count_failed",
    "count_filtered",
    "last_new_item_at",
]


class HostSlots:
    """At most ``per_host`` requests at once to one host, across all fetching threads."""

    def __init__(self, per_host: int) -> None:
        self._per_host = max(1, per_host)
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.Semaphore] = {}

    @contextmanager
    def hold(self, url: str) -> Iterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            semaphore = self._semaphores.setdefault(host, threading.Semaphore(self._per_host))
        with semaphore:
            yield


@dataclass
class _Collected:
    """What the network phase of one fetch produced, before anything is written."""

    items: list[ItemIn] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one Chinese reason per failed item
    skipped: int = 0
    # False when some items failed for reasons that may pass (a linked article timed out):
    # then the validators are not stored, so the next run reads the list page again.
    keep_validators: bool = True


@dataclass
class Fetched:
    """One fetch of a source before its items are stored: the run so far, what was
    collected, and the response (or the error that ended the fetch)."""

    run: FetchRun
    now: datetime
    started: float
    collected: _Collected = field(default_factory=lambda: _Collected())
    response: FetchResponse | None = None
    digest: str | None = None
    error: FetchError | parsers.ParseError | None = None

    @property
    def items(self) -> list[ItemIn]:
        return self.collected.items


def fetch_items(
    session: Session,
    source: Source,
    *,
    known: KnownLinks,
    now: datetime | None = None,
    slots: HostSlots | None = None,
) -> Fetched:
    """Fetch one source and parse what it holds; nothing is written yet (all network work
    happens before the first write, so a slow server never holds SQLite's write lock).
    ``known`` says which article links of a list page are stored already (the mentions
    store's, passed in by the caller above both)."""
    if source.kind not in FETCHED_KINDS or not source.url:
        raise ValueError(f"来源“{source.name}”（{source.kind}）没有可抓取的地址")
    now = now or utcnow()
    fetched = Fetched(FetchRun(source_id=source.id, started_at=now), now, time.monotonic())
    slots = slots or HostSlots(get_settings().fetch_per_domain_concurrency)
    try:
        response = _get(source.url, slots, etag=source.etag, modified=source.last_modified)
        fetched.run.http_status = response.status
        fetched.response = response
        fetched.digest = hashlib.sha256(response.body).hexdigest()
        if response.not_modified or fetched.digest == source.last_content_hash:
            fetched.run.not_modified = response.not_modified
            fetched.run.content_unchanged = not response.not_modified
        else:
            fetched.collected = _collect(session, source, response, slots, known)
    except (FetchError, parsers.ParseError) as error:
        fetched.error = error
    return fetched


def record(session: Session, source: Source, fetched: Fetched, stored: IngestResult) -> FetchRun:
    """Write the run of a fetch whose items were stored (``stored``: what storing them
    reported) and the source's scheduling state; the caller commits."""
    run, now = fetched.run, fetched.now
    if fetched.error is not None:
        _fail(source, run, fetched.error, now)
    else:
        assert fetched.response is not None
        _count(session, source, run, fetched.collected, stored)
        keep = fetched.digest if fetched.collected.keep_validators else None
        _succeed(source, run, fetched.response, keep, now)
    run.finished_at = now + timedelta(seconds=time.monotonic() - fetched.started)
    run.duration_ms = int((time.monotonic() - fetched.started) * 1000)
    session.add(run)
    session.flush()
    return run


def _get(
    url: str, slots: HostSlots, *, etag: str | None = None, modified: str | None = None
) -> FetchResponse:
    with slots.hold(url):
        return fetch(url, etag=etag, last_modified=modified)


def _collect(
    session: Session, source: Source, response: FetchResponse, slots: HostSlots, known: KnownLinks
) -> _Collected:
    body, url, ctype = response.body, response.final_url, response.content_type
    if source.kind == "rss":
        feed = parsers.parse_feed(body, url=url, content_type=ctype)
        return _Collected(items=list(feed.items))
    if source.kind == "page":
        item = parsers.extract_article(body, url=url, content_type=ctype)
        return _Collected(items=[_with_url(item, url)])
    links = parsers.extract_links(body, url=url, content_type=ctype, limit=LIST_LINKS_CONSIDERED)
    return _follow_links(session, source, links, slots, known)


def _follow_links(
    session: Session, source: Source, links: list[str], slots: HostSlots, known: KnownLinks
) -> _Collected:
    """Fetch the articles of a list page not stored before; one failed article is one
    failed item, not a failed run."""
    hashes = [h for h in {url_hash(link) for link in links} if h is not None]
    stored = known(session, source_id=source.id, url_hashes=hashes) if hashes else set()
    fresh = [link for link in links if url_hash(link) not in stored]
    collected = _Collected(skipped=len(links) - len(fresh))
    for link in fresh[:LIST_ARTICLES_PER_RUN]:
        try:
            article = _get(link, slots)
            item = parsers.extract_article(
                article.body, url=link, content_type=article.content_type
            )
        except FetchError as error:
            collected.failed.append(str(error))
            collected.keep_validators = False
            continue
        except parsers.ParseError as error:
            collected.failed.append(f"{error.reason}（{link}）")
            continue
        collected.items.append(_with_url(item, link))
    if len(fresh) > LIST_ARTICLES_PER_RUN:
        collected.keep_validators = False  # the rest comes next run
    return collected


def _with_url(item: ItemIn, url: str) -> ItemIn:
    return item if item.url else item.model_copy(update={"url": url})


def _count(
    session: Session, source: Source, run: FetchRun, collected: _Collected, result: IngestResult
) -> None:
    failed = result.failed + len(collected.failed)
    run.items_new = result.new
    run.items_duplicate = result.duplicate
    run.items_updated = result.updated
    run.items_unchanged = result.unchanged
    run.items_failed = failed
    run.items_skipped = collected.skipped
    run.items_seen = len(collected.items) + len(collected.failed) + collected.skipped
    if collected.failed:
        # ingest counted the items it saw; articles that never reached it are counted here.
        session.execute(
            update(Source)
            .where(Source.id == source.id)
            .values(count_failed=Source.count_failed + len(collected.failed))
        )
        run.error = f"{len(collected.failed)} 篇文章未能获取：{collected.failed[0]}"
    # The counters were bumped in SQL; read them again when next asked for.
    session.expire(source, _COUNTERS)


def _succeed(
    source: Source, run: FetchRun, response: FetchResponse, digest: str | None, now: datetime
) -> None:
    run.ok = True
    source.last_attempt_at = now
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    if digest is not None and not response.not_modified:
        source.etag = response.headers.get("etag")
        source.last_modified = response.headers.get("last-modified")
        source.last_content_hash = digest
    elif digest is None:
        source.etag = source.last_modified = source.last_content_hash = None
    source.next_attempt_at = now + timedelta(seconds=source.interval_seconds)


def _fail(
    source: Source, run: FetchRun, error: FetchError | parsers.ParseError, now: datetime
) -> None:
    message = str(error) if isinstance(error, FetchError) else f"{error.reason}（{source.url}）"
    run.ok = False
    run.error = message
    if isinstance(error, FetchError):
        run.http_status = error.status
    source.last_attempt_at = now
    source.last_error = message
    source.last_error_at = now
    source.consecutive_failures = (source.consecutive_failures or 0) + 1
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    delay = backoff_seconds(source.consecutive_failures, source.interval_seconds, retry_after)
    source.next_attempt_at = now + timedelta(seconds=delay)


def backoff_seconds(
    failures: int,
    interval: int,
    retry_after: float | None = None,
    settings: Settings | None = None,
) -> float:
    """Wait after ``failures`` failures in a row: doubling from the base, never shorter than
    the interval, capped; a larger ``Retry-After`` from the server wins (up to 7 days)."""
    settings = settings or get_settings()
    base = settings.fetch_backoff_base_seconds * 2 ** max(0, failures - 1)
    delay = float(min(settings.fetch_backoff_max_seconds, max(interval, base)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX_SECONDS))
    return delay


def due_source_ids(
    session: Session,
    *,
    now: datetime,
    limit: int | None = None,
    source_id: int | None = None,
    force: bool = False,
) -> list[int]:
    """Enabled fetchable sources whose time has come, the most overdue first."""
    query = select(Source.id).where(Source.kind.in_(FETCHED_KINDS), Source.url.is_not(None))
    if source_id is not None:
        query = query.where(Source.id == source_id)
    if not force:
        query = query.where(
            Source.enabled.is_(True),
            or_(Source.next_attempt_at.is_(None), Source.next_attempt_at <= now),
        )
    query = query.order_by(Source.next_attempt_at.is_not(None), Source.next_attempt_at, Source.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def interleave_hosts(ids: list[int], urls: dict[int, str | None]) -> list[int]:
    """Round-robin over hosts so threads waiting for one busy host do not starve the others."""
    by_host: dict[str, list[int]] = {}
    for sid in ids:
        by_host.setdefault((urlsplit(urls.get(sid) or "").hostname or ""), []).append(sid)
    queues = list(by_host.values())
    ordered: list[int] = []
    while queues:
        ordered.extend(queue.pop(0) for queue in queues)
        queues = [queue for queue in queues if queue]
    return ordered


def record_crash(session: Session, source_id: int, error: Exception, now: datetime) -> FetchRun:
    source = session.get(Source, source_id)
    assert source is not None
    run = FetchRun(source_id=source_id, started_at=now, finished_at=utcnow())
    _fail(source, run, FetchError(f"内部错误：{type(error).__name__}: {error}"[:500]), now)
    session.add(run)
    session.commit()
    return run


def next_due_at(session: Session) -> datetime | None:
    query = select(func.min(Source.next_attempt_at)).where(
        Source.enabled.is_(True), Source.kind.in_(FETCHED_KINDS), Source.url.is_not(None)
    )
    return session.execute(query).scalar_one_or_none()
