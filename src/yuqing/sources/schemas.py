"""Pydantic shapes of sources."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yuqing.core.labels import SOURCE_KINDS

FETCHED_KINDS = ("rss", "page", "list")


class SourceIn(BaseModel):
    """A source as a user adds it."""

    name: str = Field(min_length=1, max_length=200)
    kind: str
    url: str | None = Field(default=None, max_length=2000)
    interval_seconds: int = Field(default=900, ge=60, le=7 * 86400)
    enabled: bool = True
    # How much an item weighs in the risk score (official media > forum).
    weight: float = Field(default=1.0, ge=0, le=10)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in SOURCE_KINDS:
            raise ValueError(f"未知的来源类型 {value!r}，可选: {', '.join(SOURCE_KINDS)}")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("地址必须以 http:// 或 https:// 开头")
        return value or None

    def model_post_init(self, _context: object) -> None:
        if self.kind in FETCHED_KINDS and not self.url:
            raise ValueError("订阅源、网页和列表页来源需要地址")


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    url: str | None
    enabled: bool
    interval_seconds: int
    last_success_at: datetime | None
    last_error: str | None
    count_new: int
    count_duplicate: int
    count_failed: int
