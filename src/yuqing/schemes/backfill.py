"""Backfill: run one scheme over stored history in id batches, in its own sessions; and on
upgrade, retire schemes the query language no longer accepts, telling their owners."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, text
from sqlalchemy.orm import Session

from yuqing.auth import service as auth_service
from yuqing.core.database import session_scope
from yuqing.core.timeutil import utcnow
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.schemes import service
from yuqing.schemes.matcher import MatchDoc, Matcher
from yuqing.schemes.models import Scheme, SchemeMatch

log = logging.getLogger(__name__)
BATCH = 1000
Progress = Callable[[int, int], None]
_REGION_SPLIT = re.compile(r"[;；\s]+")

_SELECT = text(
    "SELECT m.id, m.title, m.text, m.url, m.regions, m.sentiment, s.name"
    " FROM mention m LEFT JOIN source s ON s.id = m.source_id"
    " WHERE m.status = 'new' AND m.id > :after ORDER BY m.id LIMIT :limit"
)


class BackfillError(LookupError):
    """The scheme to backfill does not exist."""


@dataclass
class BackfillResult:
    scheme_id: int
    scanned: int
    matched: int


def backfill(
    scheme_id: int, *, progress: Progress | None = None, batch: int = BATCH
) -> BackfillResult:
    """Match ``scheme_id`` against every stored mention, replacing its earlier matches;
    commits each batch, so the desk and ingestion go on meanwhile. ``progress(done, total)``
    is called after each batch."""
    with session_scope() as session:
        scheme = service.get(session, scheme_id=scheme_id)
        if scheme is None:
            raise BackfillError(f"没有 ID 为 {scheme_id} 的监测方案")
        matcher = Matcher([service.spec_of(scheme)])
        total = int(session.scalar(text("SELECT count(*) FROM mention WHERE status = 'new'")) or 0)
    done = matched = 0
    after = 0
    if progress:
        progress(0, total)
    while True:
        with session_scope() as session:
            rows = session.execute(_SELECT, {"after": after, "limit": batch}).all()
            if not rows:
                break
            matched += _match_rows(session, scheme_id, matcher, rows)
        after = rows[-1][0]
        done += len(rows)
        if progress:
            progress(done, max(total, done))
    return BackfillResult(scheme_id, done, matched)


def _match_rows(session: Session, scheme_id: int, matcher: Matcher, rows: Sequence[Any]) -> int:
    docs = [
        MatchDoc(
            title=r[1] or "",
            text=r[2] or "",
            url=r[3],
            source_name=r[6] or "",
            regions=[p for p in _REGION_SPLIT.split(r[4] or "") if p],
            sentiment=r[5],
        )
        for r in rows
    ]
    hits = matcher.match_batch(docs)
    first, last = rows[0][0], rows[-1][0]
    session.execute(
        delete(SchemeMatch).where(
            SchemeMatch.scheme_id == scheme_id,
            SchemeMatch.mention_id >= first,
            SchemeMatch.mention_id <= last,
        )
    )
    now = utcnow()
    found = [
        {
            "scheme_id": scheme_id,
            "mention_id": r[0],
            "words": json.dumps(h[0].words, ensure_ascii=False),
            "matched_at": now,
        }
        for r, h in zip(rows, hits, strict=True)
        if h
    ]
    if found:
        session.execute(insert(SchemeMatch), found)
    return len(found)


# --- backfills started from the desk --------------------------------------------------


@dataclass
class BackfillJob:
    """A backfill running in a thread of the web process, polled by the desk."""

    scheme_id: int
    done: int = 0
    total: int = 0
    matched: int = 0
    finished: bool = False
    error: str | None = None

    @property
    def percent(self) -> int:
        return 100 if self.finished else int(100 * self.done / self.total) if self.total else 0


_jobs: dict[int, BackfillJob] = {}
_jobs_lock = threading.Lock()


def job(scheme_id: int) -> BackfillJob | None:
    return _jobs.get(scheme_id)


def start_backfill(scheme_id: int) -> BackfillJob:
    """Start a backfill in the background unless one of this scheme is still running."""
    with _jobs_lock:
        running = _jobs.get(scheme_id)
        if running is not None and not running.finished:
            return running
        current = _jobs[scheme_id] = BackfillJob(scheme_id)

    def report(done: int, total: int) -> None:
        current.done, current.total = done, total

    def run() -> None:
        try:
            result = backfill(scheme_id, progress=report)
            current.matched = result.matched
        except Exception as error:
            log.exception("backfill of scheme %s failed", scheme_id)
            current.error = str(error) if isinstance(error, BackfillError) else "回溯失败，详见日志"
        finally:
            current.finished = True

    threading.Thread(target=run, name=f"backfill-{scheme_id}", daemon=True).start()
    return current


# --- schemes retired on upgrade -------------------------------------------------------


def retire_person_watchlists(session: Session) -> list[Scheme]:
    """Disable stored schemes that use ``author:`` (a watch-list of one person) with a note
    on each, and send their owners (the accounts that created or edited them) a message in
    the desk inbox, and by e-mail where their person record has one. Idempotent; the
    caller commits."""
    retired = service.retire_refused(session)
    for scheme in retired:
        recipients = [
            Recipient(kind="person", id=user.person_id)
            for user_id in service.owner_ids(session, scheme_id=scheme.id)
            if (user := auth_service.get_user(session, user_id=user_id)) and user.person_id
        ]
        if not recipients:  # an account without a person record has no inbox address
            continue
        notify.enqueue(
            session,
            message=Message(
                title=f"监测方案“{scheme.name}”已停用",
                text=scheme.note,
                level="warning",
                link=f"/schemes/{scheme.id}",
            ),
            recipients=recipients,
            dedupe_key=f"scheme-retired:{scheme.id}:{scheme.version}",
            source_type="scheme",
            source_id=scheme.id,
        )
    return retired
