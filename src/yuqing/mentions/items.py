"""Reading collected items: validation with Chinese reasons, and one item normalised into
the row to store (clean text, canonical URL, search form, language, hashes, spread)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from yuqing.core.urls import canonical_url, url_hash
from yuqing.mentions import platforms, search
from yuqing.mentions.batch import Row
from yuqing.mentions.normalise import clean_text, content_hash, detect_language, html_to_text
from yuqing.sources.schemas import (
    MAX_COUNT,
    ItemIn,
    ItemOutcome,
    describe_validation_error,
    read_count,
)
from yuqing.sources.storing import Unreadable, describe_item_fault

MAX_TITLE = 500
PUBLISHED_YEARS = range(1900, 2200)
"""Publication years an item may claim; the stages do date arithmetic near the ends of
what a datetime holds, and no monitored post is older or newer."""
MAX_RAW_DEPTH = 64
"""Levels of nesting a ``raw`` payload may have; platform payloads need about ten."""
# Fields stored as given (title and text are cleaned of control characters on the way).
_STORED_AS_GIVEN = (
    "external_id",
    "url",
    "canonical_url",
    "author",
    "parent_external_id",
    "root_external_id",
    "language",
    "title",
    "text",
    "raw",
)


def outcome(
    index: int,
    status: str,
    mention_id: int | None = None,
    duplicate_of: int | None = None,
    error: str | None = None,
) -> ItemOutcome:
    return ItemOutcome(
        index=index, status=status, mention_id=mention_id, duplicate_of=duplicate_of, error=error
    )


def normalise_item(
    item: ItemIn,
    *,
    index: int = 0,
    source_id: int,
    now: datetime,
    source_platform: str | None = None,
) -> Row:
    """The row to store for one item; raises ValueError when nothing usable is in it."""
    body = html_to_text(item.html) if item.html else item.text
    body = html_to_text(body) if body and item.html is None and "<" in body else clean_text(body)
    title = clean_text(item.title).replace("\n", " ")[:MAX_TITLE]
    if not title and not body:
        raise ValueError("标题和正文都为空")
    if not title:
        title = body.split("\n", 1)[0][:60]
    if item.published_at is not None and item.published_at.year not in PUBLISHED_YEARS:
        first, last = PUBLISHED_YEARS[0], PUBLISHED_YEARS[-1]
        raise ValueError(f"字段 published_at：发布时间超出范围（{first}–{last} 年）")
    form = search.search_form(title, body)
    counts = _counts(item)
    return Row(
        index=index,
        source_id=source_id,
        external_id=item.external_id or None,
        url=item.url,
        canonical_url=canonical_url(item.url),
        url_hash=url_hash(item.url),
        title=title,
        text=body,
        author=item.author or None,
        published_at=item.published_at or now,
        collected_at=now,
        parent_external_id=item.parent_external_id or None,
        root_external_id=item.root_external_id or None,
        language=item.language or detect_language(f"{title}\n{body}", simplified=form),
        raw=_raw_json(item.raw),
        status="new",
        content_hash=content_hash(title, body),
        duplicate_of_id=None,
        duplicate_count=0,
        near_count=0,
        search_text=form,
        platform=_platform(item, source_platform),
        reposts=counts[0],
        comments=counts[1],
        likes=counts[2],
        heat=min(sum(v or 0 for v in counts), MAX_COUNT),
        published_given=item.published_at is not None,
    )


def _counts(item: ItemIn) -> tuple[int | None, int | None, int | None]:
    """Reposts, comments and likes: sent as fields, or kept in raw by an import."""
    raw = item.raw or {}
    return (
        item.reposts if item.reposts is not None else read_count(raw.get("reposts")),
        item.comments if item.comments is not None else read_count(raw.get("comments")),
        item.likes if item.likes is not None else read_count(raw.get("likes")),
    )


def _platform(item: ItemIn, source_platform: str | None) -> str | None:
    raw = item.raw or {}
    site = raw.get("site") or raw.get("platform")
    return platforms.platform_of(configured=source_platform, site=site, url=item.url)


def _raw_json(raw: dict[str, Any] | None) -> str | None:
    """The collector's payload as JSON text; a payload nested deeper than MAX_RAW_DEPTH is
    refused (its serialisation would exhaust the stack, and no platform nests that deep)."""
    if not raw:
        return None
    too_deep = f"字段 raw：嵌套超过 {MAX_RAW_DEPTH} 层，无法保存"
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    except RecursionError:
        raise ValueError(too_deep) from None
    # Fewer brackets than levels allowed cannot nest too deep: most payloads skip the walk.
    if text.count("{") + text.count("[") > MAX_RAW_DEPTH and _nested_deeper(raw, MAX_RAW_DEPTH):
        raise ValueError(too_deep)
    return text


def _nested_deeper(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether ``value`` nests dicts and lists more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def check_storable(row: Row) -> None:
    """Raise ValueError naming the field when a text no database can store is in a row: NUL
    (PostgreSQL text refuses it) or a lone surrogate (not encodable as UTF-8)."""
    for name in _STORED_AS_GIVEN:
        value = getattr(row, name)
        if not value:
            continue
        if "\x00" in value:
            raise ValueError(f"字段 {name}：含有空字符（\\u0000），无法保存")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"字段 {name}：含有无效的 Unicode 字符，无法保存") from None


def validate(
    items: Sequence[ItemIn | Mapping[str, Any]], failed: list[ItemOutcome]
) -> list[tuple[int, ItemIn]]:
    """The items that validate, with their positions; the others go to ``failed``."""
    valid: list[tuple[int, ItemIn]] = []
    for index, item in enumerate(items):
        if isinstance(item, ItemIn):
            valid.append((index, item))
            continue
        if isinstance(item, Unreadable):
            failed.append(outcome(index=index, status="failed", error=item.reason))
            continue
        try:
            valid.append((index, ItemIn.model_validate(item)))
        except ValidationError as error:
            failed.append(
                outcome(index=index, status="failed", error=describe_validation_error(error))
            )
        except (TypeError, ValueError) as error:
            failed.append(outcome(index=index, status="failed", error=str(error)))
        except (ArithmeticError, RecursionError) as error:
            reason = describe_item_fault(error) or str(error)
            failed.append(outcome(index=index, status="failed", error=reason))
    return valid
