"""Typed shapes of the alerts domain: rule input, rule settings and an alert's explanation."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from yuqing.alerts.config import KIND_LABELS

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

Level = Literal["info", "warning", "urgent"]


class RecipientRef(BaseModel):
    """Who hears a rule: a person, a unit, a duty role or a group channel, by id."""

    kind: Literal["person", "unit", "role", "channel"]
    id: int = Field(ge=1)


class RuleParams(BaseModel):
    """The kind-specific settings of a rule (unused ones keep their defaults)."""

    # scheme_hit
    scheme_ids: list[int] = Field(default_factory=list)  # empty: any scheme
    hit_mode: Literal["all", "negative", "risk"] = "all"
    min_risk: int = Field(default=60, ge=0, le=100)
    # sensitive_words
    categories: list[str] = Field(default_factory=list)  # empty: every category
    # negative_share and spike
    scheme_id: int | None = None  # None: all mentions (negative share) / each scheme (spike)
    window_minutes: int = Field(default=60, ge=5, le=7 * 1440)
    threshold: float = Field(default=0.5, gt=0, le=1)
    min_count: int = Field(default=10, ge=1)
    target: Literal["scheme", "event", "all"] = "scheme"
    baseline: Literal["hour", "day"] = "hour"
    sensitivity: Literal["low", "medium", "high"] = "medium"
    # source_silent
    source_ids: list[int] = Field(default_factory=list)  # empty: every source


class RuleIn(BaseModel):
    """A rule as the editor or API sends it."""

    name: str = Field(min_length=1, max_length=200)
    kind: str
    enabled: bool = True
    level: Level = "warning"
    params: RuleParams = Field(default_factory=RuleParams)
    recipients: list[RecipientRef] = Field(default_factory=list)
    quiet_start: str | None = None
    quiet_end: str | None = None
    quiet_weekends: bool = False
    urgent_risk: int | None = Field(default=None, ge=0, le=100)
    batch_minutes: int = Field(default=0, ge=0, le=1440)
    cooldown_minutes: int = Field(default=0, ge=0, le=7 * 1440)
    max_per_hour: int = Field(default=30, ge=1, le=10_000)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("请填写规则名称。")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KIND_LABELS:
            raise ValueError(f"未知的规则类型“{value}”。")
        return value

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and not _CLOCK.match(value):
            raise ValueError(f"免打扰时间“{value}”应写成 时:分，例如 22:00。")
        return value

    @model_validator(mode="after")
    def _quiet_pair(self) -> RuleIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("免打扰时段需要同时填写开始和结束时间。")
        return self


class Sample(BaseModel):
    """One sample item in an explanation."""

    id: int | None = None
    title: str = ""
    url: str | None = None
    snippet: str = ""
    source: str = ""
    published_at: datetime | None = None
    risk: int | None = None
    sentiment: str | None = None


class Number(BaseModel):
    """A figure that made the rule fire, against its baseline and bar."""

    label: str
    value: float | int | str
    baseline: float | int | str | None = None
    bar: str | None = None


class Explanation(BaseModel):
    """Why an alert fired: stored on the alert as JSON, shown in the message and on the desk."""

    rule: str
    kind: str
    summary: str
    numbers: list[Number] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    items: list[Sample] = Field(default_factory=list)
    link: str | None = None
