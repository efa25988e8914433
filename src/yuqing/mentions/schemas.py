"""Pydantic shapes of items coming in and mentions going out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from yuqing.core.timeutil import parse_time


class ItemIn(BaseModel):
    """One collected item before normalisation: what a feed, page, file or crawler gives."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: str | None = Field(
        default=None, max_length=300, validation_alias=AliasChoices("external_id", "id", "mid")
    )
    url: str | None = Field(default=None, max_length=4000)
    title: str = Field(default="", max_length=2000)
    text: str = Field(default="", max_length=1_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    author: str | None = Field(default=None, max_length=300)
    published_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("published_at", "time", "published")
    )
    parent_external_id: str | None = Field(
        default=None, max_length=300, validation_alias=AliasChoices("parent_external_id", "parent")
    )
    root_external_id: str | None = Field(
        default=None, max_length=300, validation_alias=AliasChoices("root_external_id", "root")
    )
    language: str | None = Field(default=None, max_length=16)
    raw: dict[str, Any] | None = None

    @field_validator("external_id", "parent_external_id", "root_external_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(int(value))
        return value

    @field_validator("published_at", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if value is None or value == "" or isinstance(value, datetime):
            return value
        parsed = parse_time(value)
        if parsed is None:
            raise ValueError(f"无法识别的时间: {str(value)[:40]}")
        return parsed

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("链接必须以 http:// 或 https:// 开头")
        return value or None


class ItemOutcome(BaseModel):
    """What happened to one item of a batch."""

    index: int
    status: str  # new | duplicate | updated | unchanged | failed
    mention_id: int | None = None
    duplicate_of: int | None = None
    error: str | None = None


class IngestResult(BaseModel):
    """Counts of one batch: new + duplicate + updated + unchanged + failed = items."""

    new: int = 0
    duplicate: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    outcomes: list[ItemOutcome] = Field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        base = len(self.outcomes)
        for field in ("new", "duplicate", "updated", "unchanged", "failed"):
            setattr(self, field, getattr(self, field) + getattr(other, field))
        for outcome in other.outcomes:
            self.outcomes.append(outcome.model_copy(update={"index": outcome.index + base}))


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int
    external_id: str | None
    url: str | None
    canonical_url: str | None
    title: str
    text: str
    author: str | None
    published_at: datetime
    collected_at: datetime
    parent_external_id: str | None
    root_external_id: str | None
    language: str
    status: str
    duplicate_of_id: int | None
    duplicate_count: int
