"""The delivery loop: claim due outbox rows under a lease, send each, record the outcome.

Why it is safe to run several workers and to kill one at any moment:

* A claim is ``SELECT id … FOR UPDATE SKIP LOCKED LIMIT n`` then ``UPDATE … WHERE id IN
  (…) AND <still due> RETURNING id`` setting ``state='sending'``, a lease and
  ``attempts+1``. PostgreSQL skips rows another worker has locked; SQLite ignores the lock
  clause but serialises writers, so the re-checked condition in the UPDATE is enough.
  Either way a row is claimed by one worker at a time.
* Each delivery is recorded in its own short transaction right after the channel said
  yes, so the window in which a message went out but is not yet recorded is one send.
* A row whose lease expired (its worker died) is due again: it is retried, never lost.
  Only rows that were in flight when a worker died can reach the remote side twice; the
  webhook's ``X-Yuqing-Delivery`` header and the e-mail's Message-ID let the receiver
  drop such a copy.
* Sending never happens inside another domain's transaction (ingestion is unaffected).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from yuqing.core.database import new_session
from yuqing.core.settings import Settings, get_settings
from yuqing.core.timeutil import utcnow
from yuqing.notify.channels import SENDERS, Delivery, DeliveryError, with_public_links
from yuqing.notify.models import Channel, Notification
from yuqing.notify.service import INBOX, message_of, record_channel_result
from yuqing.system.service import get_public_url

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def backoff_seconds(attempts: int, settings: Settings) -> int:
    """Wait before the next attempt: doubling from the base, capped."""
    delay = settings.notify_backoff_base_seconds * 2 ** max(0, attempts - 1)
    return int(min(delay, settings.notify_backoff_max_seconds))


def _due(now: object) -> object:
    return and_(
        Notification.channel != INBOX,
        or_(
            and_(Notification.state.in_(("pending", "retry")), Notification.next_attempt_at <= now),
            and_(Notification.state == "sending", Notification.lease_until < now),
        ),
    )


def claim(session: Session, *, limit: int, settings: Settings) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due rows for this worker and commit; (id, attempt number)."""
    now = utcnow()
    # Two statements: PostgreSQL may run a LIMITed locking subquery inside an UPDATE more
    # than once and so claim more rows than asked (seen in our tests).
    candidates = list(
        session.execute(
            select(Notification.id)
            .where(_due(now))  # type: ignore[arg-type]
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not candidates:
        session.commit()
        return []
    statement = (
        update(Notification)
        .where(Notification.id.in_(candidates), _due(now))  # type: ignore[arg-type]
        .values(
            state="sending",
            lease_until=now + timedelta(seconds=settings.notify_lease_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id, Notification.attempts)
        .execution_options(synchronize_session=False)
    )
    claimed = [(int(i), int(a)) for i, a in session.execute(statement).all()]
    session.commit()
    return sorted(claimed)


def _delivery(session: Session, row: Notification, base: str) -> tuple[Delivery, Channel | None]:
    channel = session.get(Channel, row.channel_id) if row.channel_id is not None else None
    # The outbox keeps desk paths; links become absolute when the message leaves, with
    # the public address in force then (so setting it later fixes waiting messages too).
    message = with_public_links(message_of(row), base)
    mobiles = row.mobiles.split() if row.mobiles else []
    if channel is not None:
        target, secret = channel.url, channel.secret
    else:
        target, secret = row.target, ""
    return Delivery(str(row.id), message, target, secret, mobiles), channel


def _send(
    session: Session, row_id: int, settings: Settings, base: str = ""
) -> DeliveryError | None:
    """Send one claimed row; None when sent, else the error."""
    row = session.get(Notification, row_id)
    if row is None:
        return DeliveryError(f"通知记录 {row_id} 已不存在", retryable=False)
    delivery, channel = _delivery(session, row, base)
    kind = row.channel
    if channel is not None and not channel.enabled:
        session.rollback()
        return DeliveryError(f"渠道“{channel.name}”已停用", retryable=False)
    sender = SENDERS.get(kind)
    session.rollback()  # no transaction stays open while the network is used
    if sender is None:
        return DeliveryError(f"未知的通知渠道类型：{kind}", retryable=False)
    try:
        sender.send(delivery, settings)
    except DeliveryError as error:
        return error
    except Exception as error:  # a bug in one channel must not stop the others
        log.exception("notification %s: unexpected error", row_id)
        return DeliveryError(f"内部错误：{type(error).__name__}: {error}")
    return None


def _record_delivered(session: Session, row_id: int) -> None:
    now = utcnow()
    session.execute(
        update(Notification)
        .where(Notification.id == row_id, Notification.state != "delivered")
        .values(state="delivered", delivered_at=now, lease_until=None, last_error=None)
    )
    _channel_health(session, row_id, None)
    session.commit()


def _record_failure(
    session: Session, row_id: int, attempt: int, error: DeliveryError, settings: Settings
) -> str:
    """Retry later with backoff, or give up after the last attempt; the new state."""
    final = not error.retryable or attempt >= settings.notify_max_attempts
    now = utcnow()
    values: dict[str, object] = {"last_error": error.reason, "lease_until": None}
    if final:
        tail = "" if not error.retryable else f"（已尝试 {attempt} 次，不再重试）"
        values.update(state="failed", failed_at=now, last_error=error.reason + tail)
    else:
        wait = backoff_seconds(attempt, settings)
        values.update(state="retry", next_attempt_at=now + timedelta(seconds=wait))
    # Only the claim that made this attempt may write its outcome.
    session.execute(
        update(Notification)
        .where(
            Notification.id == row_id,
            Notification.state == "sending",
            Notification.attempts == attempt,
        )
        .values(**values)
    )
    _channel_health(session, row_id, error.reason)
    session.commit()
    return "failed" if final else "retry"


def _channel_health(session: Session, row_id: int, error: str | None) -> None:
    row = session.get(Notification, row_id)
    if row is not None and row.channel_id is not None:
        channel = session.get(Channel, row.channel_id)
        if channel is not None:
            record_channel_result(channel, error)


def _exhausted(session: Session, row_id: int, attempt: int, settings: Settings) -> bool:
    """A row re-claimed after a crash on its last allowed attempt is failed, not resent."""
    if attempt <= settings.notify_max_attempts:
        return False
    error = DeliveryError(
        f"尝试次数已用完（{settings.notify_max_attempts} 次），最后一次发送被中断", retryable=False
    )
    _record_failure(session, row_id, attempt, error, settings)
    return True


def run_once(limit: int = 20, *, settings: Settings | None = None) -> RunResult:
    """Claim and send up to ``limit`` due rows, one after another."""
    settings = settings or get_settings()
    result = RunResult()
    with new_session() as session:
        claimed = claim(session, limit=limit, settings=settings)
        result.claimed = len(claimed)
        base = get_public_url(session).url if claimed else ""
        session.rollback()
        for row_id, attempt in claimed:
            if _exhausted(session, row_id, attempt, settings):
                result.failed += 1
                continue
            outcome = _send(session, row_id, settings, base)
            if outcome is None:
                _record_delivered(session, row_id)
                result.delivered += 1
            else:
                log.info("notification %s attempt %s: %s", row_id, attempt, outcome.reason)
                if _record_failure(session, row_id, attempt, outcome, settings) == "failed":
                    result.failed += 1
                else:
                    result.retried += 1
    return result


def run_forever(stop_event: threading.Event, *, limit: int = 20, idle_seconds: float = 2.0) -> None:
    """Deliver until ``stop_event`` is set; sleep ``idle_seconds`` when nothing is due."""
    while not stop_event.is_set():
        try:
            result = run_once(limit)
        except Exception:  # the database may be briefly unavailable: try again later
            log.exception("notification worker pass failed")
            result = RunResult()
        if result.claimed == 0:
            stop_event.wait(idle_seconds)
