"""Alert rules, word categories and alerts as plain functions over a session (no delivery)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.alerts.config import DEFAULT_CATEGORIES, ITEM_KINDS, PERIODIC_KINDS
from yuqing.alerts.models import Alert, AlertRule, SensitiveCategory
from yuqing.alerts.rules import Rule, WordIndex
from yuqing.alerts.schemas import Explanation, RuleIn
from yuqing.core import audit, freshness
from yuqing.core.audit import Actor
from yuqing.core.counting import Count, capped_count
from yuqing.core.timeutil import utcnow

# --- rules -----------------------------------------------------------------------------


def get_rule(session: Session, *, rule_id: int) -> AlertRule | None:
    return session.get(AlertRule, rule_id)


def list_rules(session: Session) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).order_by(AlertRule.kind, AlertRule.id)))


def _apply(rule: AlertRule, rule_in: RuleIn) -> None:
    rule.name = rule_in.name
    rule.kind = rule_in.kind
    rule.enabled = rule_in.enabled
    rule.level = rule_in.level
    rule.params = rule_in.params.model_dump_json()
    rule.recipients = json.dumps([r.model_dump() for r in rule_in.recipients])
    rule.quiet_start = rule_in.quiet_start
    rule.quiet_end = rule_in.quiet_end
    rule.quiet_weekends = rule_in.quiet_weekends
    rule.urgent_risk = rule_in.urgent_risk
    rule.batch_minutes = rule_in.batch_minutes
    rule.cooldown_minutes = rule_in.cooldown_minutes
    rule.max_per_hour = rule_in.max_per_hour


_AUDITED = (
    "name",
    "kind",
    "enabled",
    "level",
    "params",
    "recipients",
    "quiet_start",
    "quiet_end",
    "quiet_weekends",
    "urgent_risk",
    "batch_minutes",
    "cooldown_minutes",
    "max_per_hour",
)


def _values(rule: AlertRule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in _AUDITED}


def create_rule(session: Session, *, rule_in: RuleIn, actor: Actor = audit.SYSTEM) -> AlertRule:
    """Add a rule (one audit row); the caller commits. Ingest picks it up on its next batch."""
    now = utcnow()
    rule = AlertRule(version=1, suppressed=0, created_at=now, updated_at=now)
    _apply(rule, rule_in)
    audit.record_create(
        session,
        rule,
        actor=actor,
        object_type="alert_rule",
        summary=f"新建预警规则 {rule.name}",
        values=_values,
    )
    return rule


def update_rule(
    session: Session, *, rule: AlertRule, rule_in: RuleIn, actor: Actor = audit.SYSTEM
) -> AlertRule:
    before = _values(rule)
    _apply(rule, rule_in)
    changes = audit.diff(before, _values(rule))
    if not changes:
        return rule
    audit.record_update(
        session,
        rule,
        actor=actor,
        object_type="alert_rule",
        summary=f"修改预警规则 {rule.name}",
        changes=changes,
    )
    return rule


def delete_rule(session: Session, *, rule: AlertRule, actor: Actor = audit.SYSTEM) -> None:
    """Delete a rule; the alerts it raised stay (they name it)."""
    values = _values(rule)
    audit.record_delete(
        session,
        rule,
        actor=actor,
        object_type="alert_rule",
        summary=f"删除预警规则 {values['name']}",
        values=values,
    )


def rule_in_of(rule: AlertRule) -> RuleIn:
    """The editor's values of a stored rule."""
    snapshot = Rule.of(rule)
    return RuleIn(
        name=rule.name,
        kind=rule.kind,
        enabled=rule.enabled,
        level=rule.level,
        params=snapshot.params,
        recipients=list(snapshot.recipients),
        quiet_start=rule.quiet_start,
        quiet_end=rule.quiet_end,
        quiet_weekends=rule.quiet_weekends,
        urgent_risk=rule.urgent_risk,
        batch_minutes=rule.batch_minutes,
        cooldown_minutes=rule.cooldown_minutes,
        max_per_hour=rule.max_per_hour,
    )


# --- sensitive-word categories -----------------------------------------------------------


def ensure_categories(session: Session) -> list[SensitiveCategory]:
    """The word categories, the five default ones created when missing."""
    existing = {c.key for c in session.scalars(select(SensitiveCategory))}
    for order, (key, name, words) in enumerate(DEFAULT_CATEGORIES):
        if key not in existing:
            session.add(SensitiveCategory(key=key, name=name, words="\n".join(words), order=order))
    session.flush()
    return list_categories(session)


def list_categories(session: Session) -> list[SensitiveCategory]:
    query = select(SensitiveCategory).order_by(SensitiveCategory.order, SensitiveCategory.id)
    return list(session.scalars(query))


def update_category(
    session: Session,
    *,
    category: SensitiveCategory,
    name: str,
    words: list[str],
    actor: Actor = audit.SYSTEM,
) -> SensitiveCategory:
    before = {"name": category.name, "words": category.words}
    category.name = name.strip() or category.name
    category.words = "\n".join(dict.fromkeys(w.strip() for w in words if w.strip()))
    changes = audit.diff(before, {"name": category.name, "words": category.words})
    if changes:
        audit.record_update(
            session,
            category,
            actor=actor,
            object_type="sensitive_category",
            summary=f"修改敏感词类别 {category.name}",
            changes=changes,
        )
    return category


# --- the rules of a batch, cached by version ---------------------------------------------


@dataclass
class RuleSet:
    """The enabled rules and the compiled word index, as of one signature."""

    generation: tuple[object, ...]
    item_rules: list[Rule] = field(default_factory=list)
    periodic_rules: list[Rule] = field(default_factory=list)
    words: WordIndex = field(default_factory=lambda: WordIndex([], [], {}))


_signature = freshness.Signature.of_versions(AlertRule, SensitiveCategory)
"""The rules' and sensitive words' signature, asked of the database at most once a second
unless this process changed one (``core.freshness``)."""


_lock = threading.Lock()
_cache: dict[str, RuleSet] = {}


def current_rules(session: Session) -> RuleSet:
    """The enabled rules; no query when nothing changed (``core.freshness``)."""
    signature = _signature.get(session)
    key = str(signature[0])
    found = _cache.get(key)
    if found is not None and found.generation == signature:
        return found
    rows = session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True)))
    rules = [Rule.of(row) for row in rows]
    fresh = RuleSet(
        generation=signature,
        item_rules=[r for r in rules if r.kind in ITEM_KINDS],
        periodic_rules=[r for r in rules if r.kind in PERIODIC_KINDS],
        words=WordIndex.build(list_categories(session)),
    )
    with _lock:
        _cache[key] = fresh
    return fresh


# --- alerts ------------------------------------------------------------------------------


def get_alert(session: Session, *, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def list_alerts(
    session: Session, *, offset: int = 0, limit: int = 30, rule_id: int | None = None
) -> tuple[Count, list[Alert]]:
    """Alerts newest first, and how many there are (capped: ``counting.COUNT_CAP``)."""
    query = select(Alert)
    if rule_id is not None:
        query = query.where(Alert.rule_id == rule_id)
    rows = session.scalars(query.order_by(Alert.id.desc()).offset(offset).limit(limit))
    return capped_count(session, query), list(rows)


def explanation_of(alert: Alert) -> Explanation:
    try:
        return Explanation.model_validate_json(alert.explanation or "{}")
    except ValueError:
        return Explanation(rule=alert.rule_name, kind=alert.kind, summary="（解释无法读取）")


def list_alerts_for_mention(session: Session, *, mention_id: int) -> list[Alert]:
    query = select(Alert).where(Alert.mention_id == mention_id).order_by(Alert.id.desc())
    return list(session.scalars(query))


def list_manual_rules(session: Session) -> list[AlertRule]:
    query = select(AlertRule).where(AlertRule.kind == "manual", AlertRule.enabled.is_(True))
    return list(session.scalars(query.order_by(AlertRule.id)))


def sent_in_last_hour(session: Session, *, rule_id: int, now: datetime) -> int:
    from datetime import timedelta

    query = select(func.count()).where(
        Alert.rule_id == rule_id, Alert.created_at > now - timedelta(hours=1)
    )
    return int(session.scalar(query) or 0)
