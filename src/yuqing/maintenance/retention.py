"""Retention rules (保留期限) and the purge that applies them.

The purge deletes in small batches, one short transaction each, so the desk keeps writing
between them. A kind's cut-off is fixed when its purge starts (``PurgeRun``) and every
batch adds its count there in the same transaction as its deletes: a purge killed at any
point resumes with the same cut-off, and a batch is either wholly done or not at all. The
audit row of a kind is written with the transaction that ends it. Case records, sent
reports and the audit log are never purged here (docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from yuqing.alerts.models import Alert
from yuqing.auth.models import LoginLimit, UserSession
from yuqing.cases.models import CaseEvent, CaseMention
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.events.models import EventMember
from yuqing.maintenance.config import MAX_DAYS, MIN_DAYS, RETENTION_DEFAULTS, RETENTION_KINDS
from yuqing.maintenance.models import PurgeRun, RetentionRule
from yuqing.mentions.models import Mention
from yuqing.notify.models import Notification


class RetentionError(ValueError):
    """A retention rule that cannot be saved; the message (Chinese) says why."""


@dataclass(frozen=True)
class Rule:
    kind: str
    label: str
    days: int
    default: int
    what: str
    updated_at: datetime | None
    updated_by: str


def list_rules(session: Session) -> list[Rule]:
    """Every kind with the days in force (the administrator's, else the default)."""
    stored = {r.kind: r for r in session.execute(select(RetentionRule)).scalars()}
    rules = []
    for kind, (label, default, what) in RETENTION_KINDS.items():
        row = stored.get(kind)
        rules.append(
            Rule(
                kind,
                label,
                row.days if row else default,
                default,
                what,
                row.updated_at if row else None,
                row.updated_by if row else "",
            )
        )
    return rules


def get_days(session: Session, *, kind: str) -> int:
    row = session.get(RetentionRule, kind)
    return row.days if row else RETENTION_DEFAULTS[kind]


def parse_days(value: str | int) -> int:
    """Whole days from a form or the command line; RetentionError (Chinese) otherwise."""
    try:
        days = int(str(value).strip())
    except ValueError as error:
        raise RetentionError(f"保留天数应为整数：{value!r}") from error
    if days < MIN_DAYS:
        raise RetentionError(
            f"保留天数不能小于 {MIN_DAYS}：{days} 天会在下一次清理时删除全部此类数据；"
            "如不想清理，请设一个很大的天数（最多 36500）"
        )
    if days > MAX_DAYS:
        raise RetentionError(f"保留天数最多 {MAX_DAYS} 天（一百年）")
    return days


def update_rule(session: Session, *, kind: str, days: str | int, actor: Actor) -> Rule:
    """Set how long ``kind`` is kept; audited. RetentionError for an unknown kind or a
    number of days out of range (0 days is refused)."""
    if kind not in RETENTION_KINDS:
        raise RetentionError(f"没有这种数据：{kind}（可选：{'、'.join(RETENTION_KINDS)}）")
    value = parse_days(days)
    row = session.get(RetentionRule, kind)
    before = row.days if row else RETENTION_DEFAULTS[kind]
    if row is None:
        row = RetentionRule(kind=kind, days=value)
        session.add(row)
    row.days = value
    row.updated_at = utcnow()
    row.updated_by = actor.name[:100]
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="retention_rule",
        object_id=kind,
        summary=f"保留期限：{RETENTION_KINDS[kind][0]} {before} 天 → {value} 天",
        changes={"days": [before, value]},
    )
    session.flush()
    return next(r for r in list_rules(session) if r.kind == kind)


# --- the purge ------------------------------------------------------------------------


@dataclass
class PurgeOutcome:
    kind: str
    deleted: int
    batches: int
    resumed: bool


def delete_mentions(session: Session, *, ids: list[int]) -> None:
    """Delete these mentions with everything that hangs on them, in the caller's
    transaction: places, scheme matches, near-duplicate keys, marks, labels and event
    membership go with each row (ON DELETE CASCADE); the search change log gets its row
    from the delete trigger; copies and group members pointing here are set free (SET
    NULL), and a representative that stays gets its member count again."""
    if not ids:
        return
    groups = set(
        session.execute(
            select(Mention.near_group_id).where(
                Mention.id.in_(ids), Mention.near_group_id.is_not(None)
            )
        ).scalars()
    ) - set(ids)
    session.execute(delete(Mention).where(Mention.id.in_(ids)))
    if groups:
        member = aliased(Mention)
        members = (
            select(func.count())
            .select_from(member)
            .where(member.near_group_id == Mention.id)
            .scalar_subquery()
        )
        session.execute(update(Mention).where(Mention.id.in_(groups)).values(near_count=members))


def protected_mention() -> ColumnElement[bool]:
    """Mentions a case keeps: linked to a case, or members of an event linked to one."""
    in_case = exists().where(CaseMention.mention_id == Mention.id)
    in_case_event = exists().where(
        and_(
            EventMember.mention_id == Mention.id,
            exists().where(CaseEvent.event_id == EventMember.event_id),
        )
    )
    return or_(in_case, in_case_event)


def _batch_mentions(session: Session, run: PurgeRun, size: int) -> list[int]:
    ids = list(
        session.execute(
            select(Mention.id)
            .where(Mention.id > run.last_id, Mention.collected_at < run.cutoff)
            .where(~protected_mention())
            .order_by(Mention.id)
            .limit(size)
        ).scalars()
    )
    delete_mentions(session, ids=ids)
    return ids


def _batch_raw(session: Session, run: PurgeRun, size: int) -> list[int]:
    ids = list(
        session.execute(
            select(Mention.id)
            .where(
                Mention.id > run.last_id,
                Mention.collected_at < run.cutoff,
                Mention.raw.is_not(None),
            )
            .order_by(Mention.id)
            .limit(size)
        ).scalars()
    )
    if ids:
        session.execute(update(Mention).where(Mention.id.in_(ids)).values(raw=None))
    return ids


def _batch_alerts(session: Session, run: PurgeRun, size: int) -> list[int]:
    ids = list(
        session.execute(
            select(Alert.id)
            .where(Alert.id > run.last_id, Alert.created_at < run.cutoff)
            .order_by(Alert.id)
            .limit(size)
        ).scalars()
    )
    if ids:
        session.execute(delete(Alert).where(Alert.id.in_(ids)))
    return ids


def _batch_inbox(session: Session, run: PurgeRun, size: int) -> list[int]:
    ids = list(
        session.execute(
            select(Notification.id)
            .where(
                Notification.id > run.last_id,
                Notification.created_at < run.cutoff,
                Notification.state.in_(("delivered", "failed")),
            )
            .order_by(Notification.id)
            .limit(size)
        ).scalars()
    )
    if ids:
        session.execute(delete(Notification).where(Notification.id.in_(ids)))
    return ids


def _batch_sessions(session: Session, run: PurgeRun, size: int) -> list[int]:
    keys = list(
        session.execute(
            select(UserSession.id_hash).where(UserSession.expires_at < run.cutoff).limit(size)
        ).scalars()
    )
    if keys:
        session.execute(delete(UserSession).where(UserSession.id_hash.in_(keys)))
    return [0] * len(keys)


def _batch_logins(session: Session, run: PurgeRun, size: int) -> list[int]:
    keys = list(
        session.execute(
            select(LoginLimit.key).where(LoginLimit.updated_at < run.cutoff).limit(size)
        ).scalars()
    )
    if keys:
        session.execute(delete(LoginLimit).where(LoginLimit.key.in_(keys)))
    return [0] * len(keys)


BATCHES: dict[str, Callable[[Session, PurgeRun, int], list[int]]] = {
    "mentions": _batch_mentions,
    "raw": _batch_raw,
    "alerts": _batch_alerts,
    "inbox": _batch_inbox,
    "sessions": _batch_sessions,
    "logins": _batch_logins,
}


def purge_kind(
    new_session: Callable[[], Session],
    *,
    kind: str,
    batch: int = 500,
    pause: float = 0.05,
    now: datetime | None = None,
    stop: Callable[[], bool] | None = None,
) -> PurgeOutcome:
    """Purge ``kind`` past its retention, one committed batch at a time; resumes a purge
    of this kind left unfinished (same cut-off, same count). ``new_session`` gives a fresh
    session per batch."""
    with new_session() as session:
        run = session.get(PurgeRun, kind)
        resumed = run is not None
        if run is None:
            days = get_days(session, kind=kind)
            run = PurgeRun(
                kind=kind,
                cutoff=(now or utcnow()) - timedelta(days=days),
                started_at=utcnow(),
                deleted=0,
                batches=0,
                last_id=0,
            )
            session.add(run)
            session.commit()
    while True:
        with new_session() as session:
            run = session.get(PurgeRun, kind)
            assert run is not None
            ids = BATCHES[kind](session, run, batch)
            if ids:
                run.deleted += len(ids)
                run.batches += 1
                run.last_id = max(run.last_id, *ids)
                session.commit()
                if stop is not None and stop():
                    return PurgeOutcome(kind, run.deleted, run.batches, resumed)
                time.sleep(pause)
                continue
            outcome = PurgeOutcome(kind, run.deleted, run.batches, resumed)
            label = RETENTION_KINDS[kind][0]
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="delete",
                object_type="retention_purge",
                object_id=kind,
                summary=(
                    f"按保留期限清理{label}：{run.deleted} 条（早于 {run.cutoff:%Y-%m-%d %H:%M} "
                    f"UTC，{run.batches} 批{'，续上次中断' if resumed else ''}）"
                ),
                changes={
                    "kind": kind,
                    "deleted": run.deleted,
                    "cutoff": run.cutoff.isoformat(),
                    "batches": run.batches,
                },
            )
            session.delete(run)
            session.commit()
            return outcome


def purge_all(
    new_session: Callable[[], Session], *, batch: int = 500, pause: float = 0.05
) -> list[PurgeOutcome]:
    """Every kind in turn (an unfinished one first resumes)."""
    return [
        purge_kind(new_session, kind=kind, batch=batch, pause=pause) for kind in RETENTION_KINDS
    ]


def list_unfinished(session: Session) -> list[PurgeRun]:
    return list(session.execute(select(PurgeRun).order_by(PurgeRun.kind)).scalars())
