"""Times are stored in UTC and shown in the institution's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser

from yuqing.core.settings import get_settings

_CN_ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, UTC, without tzinfo (how the database stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime, *, assume: ZoneInfo | None = None) -> datetime:
    """Convert an aware time (or a naive one in ``assume``, default Asia/Shanghai) to naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume or _CN_ZONE)
    return value.astimezone(UTC).replace(tzinfo=None)


def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def to_local(value: datetime | None) -> datetime | None:
    """A stored UTC time in the institution's zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(local_zone())


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


def parse_time(value: object) -> datetime | None:
    """Parse a time from a feed, file or API into naive UTC; ``None`` if it cannot be read.

    Accepts datetimes, epoch seconds or milliseconds, ISO 8601 and the common
    Chinese forms (``2024年3月5日 08:30``). A time without zone is taken as Beijing time,
    which is what Chinese sites and exports mean.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc_naive(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.isdigit():
        return parse_time(int(text))
    text = (
        text.replace("年", "-")
        .replace("月", "-")
        .replace("日", " ")
        .replace("时", ":")
        .replace("分", "")
        .replace("秒", "")
    )
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    return to_utc_naive(parsed)
