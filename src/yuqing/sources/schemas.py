"""Pydantic shapes of sources and of what they collect: the item (``ItemIn``) as every
collecting path hands it on, and what became of a batch of them (``IngestResult``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from yuqing.core.labels import SOURCE_KINDS
from yuqing.core.timeutil import parse_time, to_utc_naive

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


# Beijing time has been UTC+8 all year since 1992 (China's last summer time was 1991).
_BEIJING_OFFSET = timedelta(hours=8)
_BEIJING_FIXED_SINCE = 1992


def _iso_time(value: str) -> datetime | None:
    """ISO 8601 times (most pushes) without the slow general parser; None for other forms."""
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Fixed offsets subtracted directly: the same UTC as to_utc_naive, several times faster.
        offset = parsed.utcoffset()
        if offset is not None:
            return (parsed - offset).replace(tzinfo=None)
        if parsed.year >= _BEIJING_FIXED_SINCE:
            return parsed - _BEIJING_OFFSET
        return to_utc_naive(parsed)
    except (ValueError, OverflowError):
        return None


_COUNT_UNITS = {"万": 10_000, "w": 10_000, "k": 1_000, "亿": 100_000_000}
MAX_COUNT = 2**31 - 1


def read_count(value: Any) -> int | None:
    """A spread count as platforms write it (``1234``, ``"1,234"``, ``"1.2万"``, ``"3k"``);
    None for what is not a count."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("+", "").lower()
        factor = _COUNT_UNITS.get(text[-1:], 1) if text else 1
        if factor != 1:
            text = text[:-1]
        try:
            number = float(text) * factor
        except ValueError:
            return None
    else:
        return None
    if number != number or number < 0:  # NaN or negative
        return None
    return int(min(number, MAX_COUNT))


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
    # Spread counts a collector or platform export sends (转发/评论/点赞); also read from raw
    # under the same names (what file imports keep there). Unreadable counts are dropped.
    reposts: int | None = Field(
        default=None,
        validation_alias=AliasChoices("reposts", "reposts_count", "shares", "forwards"),
    )
    comments: int | None = Field(
        default=None, validation_alias=AliasChoices("comments", "comments_count")
    )
    likes: int | None = Field(
        default=None, validation_alias=AliasChoices("likes", "like_count", "attitudes_count")
    )

    @field_validator("reposts", "comments", "likes", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        return read_count(value)

    @field_validator("external_id", "parent_external_id", "root_external_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(int(value))
        return value

    @field_validator("published_at", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, datetime):
            # Naive times are UTC already (what collectors pass); aware ones are converted.
            return to_utc_naive(value) if value.tzinfo else value
        parsed = _iso_time(value) if isinstance(value, str) else None
        parsed = parsed or parse_time(value)
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


_PROBLEMS = {
    "string_type": "应为文本",
    "dict_type": "应为 JSON 对象",
    "model_type": "条目必须是 JSON 对象",
    "model_attributes_type": "条目必须是 JSON 对象",
    "datetime_type": "无法识别的时间",
    "datetime_parsing": "无法识别的时间",
    "datetime_from_date_parsing": "无法识别的时间",
    "missing": "缺少此字段",
}


def describe_validation_error(error: ValidationError) -> str:
    """A short Chinese description of the first problems of an item, naming each field."""
    parts = []
    for problem in error.errors()[:3]:
        kind = problem["type"]
        if kind == "string_too_long":
            message = f"过长（最多 {problem.get('ctx', {}).get('max_length')} 个字符）"
        elif kind == "value_error":
            message = problem["msg"].removeprefix("Value error, ")
        else:
            message = _PROBLEMS.get(kind, problem["msg"])
        where = ".".join(str(p) for p in problem["loc"])
        parts.append(f"字段 {where}：{message}" if where else message)
    return "；".join(parts)
