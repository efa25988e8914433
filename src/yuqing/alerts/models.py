"""Tables of the alerts domain: rules, sensitive-word categories and the alerts they raise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class AlertRule(Base):
    """An alert rule (预警规则): what fires, who hears it, and when."""

    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # scheme_hit | sensitive_words | negative_share | spike | source_silent | manual
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    level: Mapped[str] = mapped_column(String(8), default="warning")  # info | warning | urgent
    # Kind-specific settings (JSON object), validated by schemas.RuleParams.
    params: Mapped[str] = mapped_column(Text, default="{}")
    # JSON list of {"kind": "person"|"unit"|"role"|"channel", "id": n}.
    recipients: Mapped[str] = mapped_column(Text, default="[]")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00", institution's zone
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:30"
    quiet_weekends: Mapped[bool] = mapped_column(Boolean, default=False)
    # Risk score (0–100) at or above which a held alert goes out at once, and is urgent.
    urgent_risk: Mapped[int | None] = mapped_column(Integer)
    batch_minutes: Mapped[int] = mapped_column(Integer, default=0)  # 0: real time
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=0)
    max_per_hour: Mapped[int] = mapped_column(Integer, default=30)
    # Alerts the hourly cap kept back (shown on the rule list, so a flood is visible).
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SensitiveCategory(Base):
    """A category of sensitive words (敏感词类别): an editable word list, one word a line."""

    __tablename__ = "sensitive_category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    words: Mapped[str] = mapped_column(Text, default="")
    order: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """One alert (预警) with the reason it fired, and how it was sent."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_created", "created_at"),
        Index("ix_alert_rule_created", "rule_id", "created_at"),
        Index("ix_alert_rule_subject", "rule_id", "subject", "created_at"),
        Index("ix_alert_mention", "mention_id"),
        Index(
            "ix_alert_pending",
            "rule_id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(Integer)  # no FK: alerts outlive their rule
    rule_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(8), default="warning")
    title: Mapped[str] = mapped_column(Text, default="")
    # What it is about, for cooldowns: "m12" (mention), "e3" (event), "s4" (scheme) …
    subject: Mapped[str] = mapped_column(String(40), default="")
    # JSON: summary, numbers against the baseline, top words, sources, sample items.
    explanation: Mapped[str] = mapped_column(Text, default="{}")
    mention_id: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[int | None] = mapped_column(Integer)
    risk: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    # pending (waits for its batch) | sent (in the outbox) | held (outbox, not before …)
    state: Mapped[str] = mapped_column(String(10), default="sent")
    not_before: Mapped[datetime | None] = mapped_column(DateTime)
    # The alert whose notification carried this one (a digest), or its own id.
    delivered_with: Mapped[int | None] = mapped_column(Integer)
    raised_by: Mapped[str | None] = mapped_column(String(100))  # manual alerts: who
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
