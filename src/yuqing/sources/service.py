"""Plain functions over sources: create, list, get, edit, pause and resume, remove."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.sources.models import FetchRun, Source
from yuqing.sources.schemas import FETCHED_KINDS, SourceIn


def _values(source: Source) -> dict[str, object]:
    return {
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "interval_seconds": source.interval_seconds,
        "enabled": source.enabled,
        "weight": source.weight,
    }


def create(session: Session, *, source_in: SourceIn, actor: Actor = audit.SYSTEM) -> Source:
    source = Source(
        name=source_in.name,
        kind=source_in.kind,
        url=source_in.url,
        interval_seconds=source_in.interval_seconds,
        enabled=source_in.enabled,
        weight=source_in.weight,
        next_attempt_at=utcnow() if source_in.kind in FETCHED_KINDS else None,
    )
    audit.record_create(
        session,
        source,
        actor=actor,
        object_type="source",
        summary=f"新增信息源 {source.name}",
        values=_values,
    )
    return source


def get(session: Session, *, source_id: int) -> Source | None:
    return session.get(Source, source_id)


def get_by_name(session: Session, *, name: str) -> Source | None:
    return session.execute(select(Source).where(Source.name == name)).scalars().first()


def get_or_create(session: Session, *, name: str, kind: str, url: str | None = None) -> Source:
    """The source named ``name``, created with ``kind`` if it does not exist (imports, push)."""
    source = get_by_name(session, name=name)
    if source is None:
        source = create(session, source_in=SourceIn(name=name, kind=kind, url=url))
    return source


def close_names(session: Session, *, name: str, limit: int = 5) -> list[str]:
    """Names of existing sources that look like ``name`` (a typo on the command line)."""
    names = list(session.execute(select(Source.name).order_by(Source.id)).scalars())
    close = difflib.get_close_matches(name, names, n=limit, cutoff=0.5)
    close += [n for n in names if n not in close and (name in n or n in name)]
    return close[:limit]


def update(
    session: Session, *, source: Source, source_in: SourceIn, actor: Actor = audit.SYSTEM
) -> Source:
    """Change a source's name, address, interval and weight (its kind stays)."""
    before = _values(source)
    source.name = source_in.name
    source.url = source_in.url
    if source.url != before["url"] and source.kind in FETCHED_KINDS:
        # A new address is tried at once, not after the old address's backoff.
        source.next_attempt_at = utcnow()
        source.consecutive_failures = 0
    source.interval_seconds = source_in.interval_seconds
    source.weight = source_in.weight
    _record_update(session, source, before, actor=actor, summary=f"修改信息源 {source.name}")
    return source


def set_enabled(
    session: Session, *, source: Source, enabled: bool, actor: Actor = audit.SYSTEM
) -> bool:
    """Pause (暂停) or resume (恢复) a source; False when it already was so. A resumed source
    is fetched at its next scheduler pass, its failure count starting afresh."""
    if source.enabled == enabled:
        return False
    before = _values(source)
    source.enabled = enabled
    if enabled and source.kind in FETCHED_KINDS:
        source.next_attempt_at = utcnow()
        source.consecutive_failures = 0
    summary = f"{'恢复' if enabled else '暂停'}信息源 {source.name}"
    _record_update(session, source, before, actor=actor, summary=summary)
    return True


def _record_update(
    session: Session, source: Source, before: dict[str, object], *, actor: Actor, summary: str
) -> None:
    """Flush a change to a source and write its "update" audit row, when a field changed."""
    session.flush()
    changes = audit.diff(before, _values(source))
    if changes:
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="source",
            object_id=source.id,
            summary=summary,
            changes=changes,
        )


def list_all(session: Session) -> Sequence[Source]:
    return session.execute(select(Source).order_by(Source.id)).scalars().all()


def get_many(session: Session, *, source_ids: set[int]) -> dict[int, Source]:
    if not source_ids:
        return {}
    found = session.execute(select(Source).where(Source.id.in_(source_ids))).scalars()
    return {s.id: s for s in found}


def latest_run(session: Session, *, source_id: int) -> FetchRun | None:
    """The most recent fetch attempt of a source."""
    return session.execute(
        select(FetchRun)
        .where(FetchRun.source_id == source_id)
        .order_by(FetchRun.started_at.desc(), FetchRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def recent_runs(session: Session, *, source_id: int, limit: int = 10) -> Sequence[FetchRun]:
    """The last fetch attempts of a source, newest first."""
    return (
        session.execute(
            select(FetchRun)
            .where(FetchRun.source_id == source_id)
            .order_by(FetchRun.started_at.desc(), FetchRun.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def delete_source(
    session: Session, *, source: Source, mentions_deleted: int, actor: Actor = audit.SYSTEM
) -> None:
    """Delete a source and its fetch runs, once its mentions are gone
    (``mentions.service.delete_for_source``, whose count the audit row names)."""
    session.execute(delete(FetchRun).where(FetchRun.source_id == source.id))
    values = _values(source)
    audit.record_delete(
        session,
        source,
        actor=actor,
        object_type="source",
        summary=f"删除信息源 {values['name']} 及其 {mentions_deleted} 条信息",
        values=values,
    )


def list_silent(session: Session, *, now: datetime) -> list[tuple[Source, str]]:
    """The sources gone silent (``health``), each with its health's explanation."""
    from yuqing.sources.health import health_for_all

    found = []
    for source_id, health in health_for_all(session, now=now).items():
        if health.state == "silent":
            source = session.get(Source, source_id)
            assert source is not None
            found.append((source, health.explanation))
    return found
