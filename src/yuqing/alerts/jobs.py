"""The alerts' timed work, run every minute by the worker's runner: window rules
(negative share, spikes, silent sources) and the digests of batched rules."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from yuqing.alerts import service
from yuqing.alerts.delivery import deliver, flush_batches
from yuqing.alerts.models import Alert
from yuqing.alerts.rules import PERIODIC, Candidate, Rule
from yuqing.core.database import savepoint
from yuqing.core.timeutil import utcnow

log = logging.getLogger(__name__)

DAY_SPIKE_EVERY = timedelta(minutes=10)  # day-baseline counts change slowly and cost more

_last_day_run: dict[tuple[str, int, int], datetime] = {}


def evaluate_periodic(session: Session, now: datetime | None = None) -> list[Alert]:
    """Evaluate negative-share, spike and silent-source rules and send due digests of
    batched rules; the caller commits. Meant to run every minute."""
    now = now or utcnow()
    rules = service.current_rules(session)
    found: list[Candidate] = []
    for rule in rules.periodic_rules:
        if not _due(session, rule, now):
            continue
        try:
            with savepoint(session):
                found.extend(PERIODIC[rule.kind](session, rule, now))
        except Exception:  # one broken rule must not silence the others
            log.exception("alert rule %s failed", rule.id)
    raised = deliver(session, found, now=now)
    flush_batches(session, now=now)
    return raised


def _due(session: Session, rule: Rule, now: datetime) -> bool:
    if rule.kind != "spike" or rule.params.baseline != "day":
        return True
    key = (str(session.get_bind().engine.url), rule.id, id(rule))
    last = _last_day_run.get(key)
    if last is not None and timedelta(0) <= now - last < DAY_SPIKE_EVERY:
        return False
    _last_day_run[key] = now
    return True
