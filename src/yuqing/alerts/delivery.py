"""Raising alerts: delivery (dedupe, cooldown, hourly cap, quiet hours, batching) into the
notification outbox, and manual alerts. The pipeline's stage is alerts/stage.py, the
minute-by-minute evaluation alerts/jobs.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from yuqing.alerts import outbox, service
from yuqing.alerts.config import DIGEST_ITEMS, KIND_LABELS
from yuqing.alerts.models import Alert, AlertRule
from yuqing.alerts.rules import (
    Candidate,
    Rule,
)
from yuqing.alerts.schemas import Explanation, Number
from yuqing.core.audit import Actor
from yuqing.core.timeutil import local_zone, to_local, to_utc_naive, utcnow
from yuqing.events import service as events_service
from yuqing.mentions import service as mentions_service
from yuqing.schemes import service as schemes_service
from yuqing.sources import service as sources_service

log = logging.getLogger(__name__)

_CHUNK = 500
_LEVEL_ORDER = {"info": 0, "warning": 1, "urgent": 2}
WEEKEND_RELEASE = "08:00"  # when a weekend hold ends on Monday if no quiet hours are set


# --- delivery --------------------------------------------------------------------------------


def deliver(
    session: Session, candidates: Sequence[Candidate], *, now: datetime, immediate: bool = False
) -> list[Alert]:
    """Raise the candidates that are not repeats, not cooling down and within their rule's
    hourly cap; each goes to the outbox at once, held until quiet hours end, or waits for
    its rule's digest. ``immediate`` (manual alerts) ignores quiet hours and batching."""
    if not candidates:
        return []
    taken = _known_keys(session, [c.dedupe_key for c in candidates])
    by_rule: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.dedupe_key not in taken:
            taken.add(candidate.dedupe_key)
            by_rule.setdefault(candidate.rule.id, []).append(candidate)
    raised: list[Alert] = []
    for group in by_rule.values():
        rule = group[0].rule
        group = _past_cooldown(session, rule, group, now)
        group = _within_cap(session, rule, group, now)
        raised.extend(_raise(session, c, now, immediate=immediate) for c in group)
    return raised


def _known_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    unique = list(dict.fromkeys(keys))
    for at in range(0, len(unique), _CHUNK):
        query = select(Alert.dedupe_key).where(Alert.dedupe_key.in_(unique[at : at + _CHUNK]))
        found.update(session.scalars(query))
    return found


def _past_cooldown(
    session: Session, rule: Rule, group: list[Candidate], now: datetime
) -> list[Candidate]:
    """Drop subjects this rule alerted on within its cooldown."""
    if not rule.cooldown_minutes:
        return group
    subjects = list({c.subject for c in group})
    query = select(Alert.subject).where(
        Alert.rule_id == rule.id,
        Alert.subject.in_(subjects),
        Alert.created_at > now - timedelta(minutes=rule.cooldown_minutes),
    )
    cooling = set(session.scalars(query))
    return [c for c in group if c.subject not in cooling]


def _within_cap(
    session: Session, rule: Rule, group: list[Candidate], now: datetime
) -> list[Candidate]:
    """Keep the riskiest candidates up to the rule's hourly cap; count the rest on the rule."""
    if not group:
        return group
    room = rule.max_per_hour - service.sent_in_last_hour(session, rule_id=rule.id, now=now)
    if len(group) <= room:
        return group
    group = sorted(group, key=lambda c: -(c.risk or 0))
    kept, dropped = group[: max(room, 0)], len(group) - max(room, 0)
    session.execute(
        update(AlertRule)
        .where(AlertRule.id == rule.id)
        .values(suppressed=func.coalesce(AlertRule.suppressed, 0) + dropped)
    )
    return kept


def _raise(session: Session, candidate: Candidate, now: datetime, *, immediate: bool) -> Alert:
    rule = candidate.rule
    urgent = rule.urgent_risk is not None and (candidate.risk or 0) >= rule.urgent_risk
    level = "urgent" if urgent else candidate.level
    alert = Alert(
        rule_id=rule.id,
        rule_name=rule.name,
        kind=rule.kind,
        level=level,
        title=candidate.title,
        subject=candidate.subject,
        explanation=candidate.explanation.model_dump_json(),
        mention_id=candidate.mention_id,
        event_id=candidate.event_id,
        risk=candidate.risk,
        dedupe_key=candidate.dedupe_key,
        state="pending",
        created_at=now,
    )
    session.add(alert)
    session.flush()
    if rule.batch_minutes and not (urgent or immediate):
        return alert
    release = None if (urgent or immediate) else hold_until(rule, now)
    _mark(alert, alert.id, release)
    message = outbox.message_of(
        candidate.title, level, [candidate.explanation], link=f"/alerts/{alert.id}"
    )
    outbox.enqueue(
        session,
        message=message,
        recipients=rule.recipients,
        dedupe_key=candidate.dedupe_key,
        alert_id=alert.id,
        not_before=release,
    )
    return alert


def _mark(alert: Alert, carrier: int, release: datetime | None) -> None:
    alert.delivered_with = carrier
    alert.state = "held" if release else "sent"
    alert.not_before = release


def flush_batches(session: Session, *, now: datetime) -> int:
    """Send one digest per batched rule whose oldest waiting alert has waited its
    ``batch_minutes``; returns how many digests went to the outbox."""
    rule_ids = session.scalars(select(Alert.rule_id).where(Alert.state == "pending").distinct())
    sent = 0
    for rule_id in list(rule_ids):
        row = session.get(AlertRule, rule_id) if rule_id is not None else None
        pending = list(
            session.scalars(
                select(Alert)
                .where(Alert.rule_id == rule_id, Alert.state == "pending")
                .order_by(Alert.id)
            )
        )
        if row is None:
            for alert in pending:
                alert.state = "dropped"
            continue
        if pending[0].created_at > now - timedelta(minutes=row.batch_minutes or 0):
            continue
        _send_digest(session, Rule.of(row), pending, now)
        sent += 1
    session.flush()
    return sent


def _send_digest(session: Session, rule: Rule, pending: list[Alert], now: datetime) -> None:
    lead = pending[0]
    level = max((a.level for a in pending), key=lambda lv: _LEVEL_ORDER.get(lv, 0))
    shown = pending[:DIGEST_ITEMS]
    explanations = [service.explanation_of(a) for a in shown]
    title = f"【{KIND_LABELS.get(rule.kind, rule.kind)}汇总】{rule.name}：{len(pending)} 条"
    if len(pending) > len(shown):
        explanations.append(
            Explanation(
                rule=rule.name,
                kind=rule.kind,
                summary=f"另有 {len(pending) - len(shown)} 条，见工作台预警列表",
            )
        )
    message = outbox.message_of(title, level, explanations, link=f"/alerts?rule_id={rule.id}")
    release = hold_until(rule, now)
    outbox.enqueue(
        session,
        message=message,
        recipients=rule.recipients,
        dedupe_key=f"alert-digest:{lead.id}",
        alert_id=lead.id,
        not_before=release,
    )
    for alert in pending:
        _mark(alert, lead.id, release)


# --- quiet hours -----------------------------------------------------------------------------


def _clock(value: str) -> tuple[int, int]:
    hour, minute = value.split(":")
    return int(hour), int(minute)


def _in_quiet(rule: Rule, local: datetime) -> bool:
    if not rule.quiet_start or not rule.quiet_end or rule.quiet_start == rule.quiet_end:
        return False
    now = local.strftime("%H:%M")
    if rule.quiet_start < rule.quiet_end:
        return rule.quiet_start <= now < rule.quiet_end
    return now >= rule.quiet_start or now < rule.quiet_end


def _next_at(local: datetime, clock: str) -> datetime:
    hour, minute = _clock(clock)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


def hold_until(rule: Rule, now: datetime) -> datetime | None:
    """When an alert raised at ``now`` (UTC) may go out under the rule's quiet hours and
    weekend switch: ``None`` for at once, else the UTC time the window opens."""
    start = to_local(now)
    assert start is not None
    at = start
    for _ in range(4):  # weekend → Monday morning → maybe still quiet → its end
        if rule.quiet_weekends and at.weekday() >= 5:
            monday = at + timedelta(days=7 - at.weekday())
            hour, minute = _clock(rule.quiet_end or WEEKEND_RELEASE)
            at = monday.replace(hour=hour, minute=minute, second=0, microsecond=0)
        elif _in_quiet(rule, at):
            assert rule.quiet_end is not None
            at = _next_at(at, rule.quiet_end)
        else:
            break
    if at == start:
        return None
    return to_utc_naive(at.replace(tzinfo=None), assume=local_zone())


# --- manual alerts ---------------------------------------------------------------------------


class ManualAlertError(ValueError):
    """A manual alert that cannot be raised, with the reason in Chinese."""


def raise_manual(
    session: Session,
    *,
    rule: AlertRule,
    mention_id: int | None = None,
    event_id: int | None = None,
    note: str = "",
    level: str = "warning",
    actor: Actor,
) -> Alert:
    """A person raises an alert on a mention or an event (人工预警): it goes at once to the
    recipients of the chosen manual rule, once per item and rule. The caller commits."""
    if rule.kind != "manual" or not rule.enabled:
        raise ManualAlertError(f"“{rule.name}”不是可用的人工预警规则")
    snapshot = Rule.of(rule)
    candidate = _manual_candidate(session, snapshot, mention_id, event_id, note.strip(), actor)
    candidate.level = level if level in _LEVEL_ORDER else "warning"
    if _known_keys(session, [candidate.dedupe_key]):
        raise ManualAlertError(f"这条信息已经通过“{rule.name}”预警过，不再重复发送")
    raised = deliver(session, [candidate], now=utcnow(), immediate=True)
    if not raised:
        raise ManualAlertError(f"“{rule.name}”本小时的预警已达上限 {rule.max_per_hour} 条")
    alert = raised[0]
    alert.raised_by = actor.name
    alert.note = note.strip() or None
    return alert


def _manual_candidate(
    session: Session,
    rule: Rule,
    mention_id: int | None,
    event_id: int | None,
    note: str,
    actor: Actor,
) -> Candidate:
    from yuqing.alerts.rules import recent_samples, sample_of_row

    if mention_id is not None:
        mention = mentions_service.get(session, mention_id=mention_id)
        if mention is None:
            raise ManualAlertError(f"没有 ID 为 {mention_id} 的信息")
        names = ("title", "text", "url", "published_at", "risk_score", "sentiment")
        values = {name: getattr(mention, name) for name in names}
        source = sources_service.get(session, source_id=mention.source_id)
        source_name = source.name if source is not None else ""
        samples, sources = [sample_of_row(values, mention_id, source_name)], [source_name]
        subject, title, link = f"m{mention_id}", samples[0].title, f"/mentions/{mention_id}"
        hits = schemes_service.list_match_words(session, mention_id=mention_id)
        words = [w for hit in hits for w in hit][:10]
        risk = values["risk_score"]
    elif event_id is not None:
        name = events_service.get_event_title(session, event_id=event_id)
        if name is None:
            raise ManualAlertError(f"没有 ID 为 {event_id} 的事件")
        now = utcnow()
        samples, sources, words = recent_samples(
            session, since=now - timedelta(days=30), now=now, event_id=event_id
        )
        subject, title, link, risk = f"e{event_id}", str(name), f"/events/{event_id}", None
    else:
        raise ManualAlertError("人工预警需要指定一条信息或一个事件")
    explanation = Explanation(
        rule=rule.name,
        kind="manual",
        summary=f"{actor.name} 人工预警" + (f"：{note}" if note else ""),
        numbers=[Number(label="风险分", value=risk)] if risk is not None else [],
        words=words,
        sources=sources,
        items=samples,
        link=link,
    )
    return Candidate(
        rule=rule,
        subject=subject,
        dedupe_key=f"alert:{rule.id}:{subject}",
        title=f"【人工预警】{title}",
        explanation=explanation,
        risk=risk,
        mention_id=mention_id,
        event_id=event_id,
    )
