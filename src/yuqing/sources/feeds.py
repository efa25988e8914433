"""Feeds (订阅源): an RSS 0.9x/1.0/2.0, Atom or JSON Feed download read into items, with
what was odd about it; the body decides the format, not the Content-Type."""

from __future__ import annotations

import calendar
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from typing import Any

import feedparser
from pydantic import ValidationError

from yuqing.core.timeutil import parse_time
from yuqing.sources.encoding import decode_body
from yuqing.sources.parsing import (
    MAX_TITLE,
    ParseError,
    absolute_url,
    clean_title,
    fit_id,
    hash_id,
    plain_text,
    reported,
)
from yuqing.sources.schemas import ItemIn

_Entry = Any


@dataclass
class ParsedFeed:
    """The items of one feed download, with what was odd about it."""

    title: str | None
    items: list[ItemIn] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    format: str = ""


@reported("订阅源")
def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom or JSON Feed download into items."""
    if not body or not body.strip():
        raise ParseError("内容为空")
    text = decode_body(body, content_type).text.lstrip("\ufeff \t\r\n")
    if not text:
        raise ParseError("内容为空")
    # The body decides, not the Content-Type: servers label feeds text/html or JSON as text.
    if text.startswith(("{", "[")):
        return _parse_json_feed(text, url=url)
    if _first_tag(text) in _HTML_ROOTS:
        raise ParseError(_html_reason(text))
    if "<" not in text[:1000]:
        raise ParseError("内容不是订阅源（RSS/Atom/JSON Feed）")
    return _parse_xml_feed(text, url=url)


_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})
_HTML_ROOTS = frozenset({"html", "head", "body", "title", "meta", "div", "p", "script", "br"})
_FIRST_TAG = re.compile(r"<([A-Za-z][\w:.-]*)")
_SKIP_PROLOG = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)", re.IGNORECASE | re.DOTALL)


def _first_tag(text: str) -> str:
    """Name of the first element, after the XML declaration, comments and doctype."""
    position = 0
    while match := _SKIP_PROLOG.match(text, position):
        position = match.end()
    match = _FIRST_TAG.match(text, position) or _FIRST_TAG.search(text, position, position + 2000)
    return match.group(1).lower() if match else ""


def _html_reason(text: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", text[:20_000], re.IGNORECASE | re.DOTALL)
    title = clean_title(unescape(match.group(1)))[:60] if match else ""
    named = f"（网页标题：{title}）" if title else ""
    return (
        f"返回的是网页而不是订阅源（RSS/Atom/JSON Feed）{named}；"
        "如果这是新闻栏目页，请把来源类型改为“列表页”"
    )


_XML_DECLARATION = re.compile(r"^<\?xml[^>]*\?>")


def _parse_xml_feed(text: str, *, url: str) -> ParsedFeed:
    # feedparser gets UTF-8 bytes labelled UTF-8 everywhere, so its own charset guessing
    # (which misreads GB2312/Big5 feeds) never runs; a stream, because it opens a str
    # or bytes argument as a file name or URL.
    # The declaration is replaced in place (no new line) so XML error line numbers stay right.
    declaration = '<?xml version="1.0" encoding="utf-8"?>'
    utf8_text = _XML_DECLARATION.sub(declaration, text, count=1)
    if utf8_text is text or not utf8_text.startswith("<?xml"):
        utf8_text = declaration + text
    parsed = feedparser.parse(
        io.BytesIO(utf8_text.encode("utf-8")),
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
    )
    entries = parsed.get("entries") or []
    title = clean_title(parsed.feed.get("title")) or None
    version = parsed.get("version") or ""
    if not entries:
        _raise_if_not_feed(text, version, parsed)
    warnings: list[str] = []
    if parsed.get("bozo") and entries:
        reason = _xml_reason(parsed.get("bozo_exception"))
        warnings.append(f"订阅源不规范：{reason}，已尽量解析")
    items = _collect(_feedparser_item, entries, url)
    return _finish(title, items, len(entries), warnings, version or "unknown")


def _raise_if_not_feed(text: str, version: str, parsed: Any) -> None:
    """Explain a download without entries that is not a valid, empty feed."""
    looks_html = re.search(r"<(html|body|p|div|a|br)\b", text[:20_000], re.IGNORECASE)
    if not version and _first_tag(text) not in _FEED_ROOTS and looks_html:
        raise ParseError(_html_reason(text))
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride
    ):
        raise ParseError(_xml_reason(parsed.get("bozo_exception")))
    if not version:
        raise ParseError("内容不是订阅源（RSS/Atom/JSON Feed）")


def _xml_reason(exc: object) -> str:
    get_line = getattr(exc, "getLineNumber", None)
    message = getattr(exc, "getMessage", None)
    text = str(message() if callable(message) else exc or "未知错误")[:200]
    if callable(get_line):
        return f"XML 格式错误：第 {get_line()} 行：{text}"
    return f"XML 格式错误：{text}"


def _feedparser_item(entry: Any, feed_url: str) -> ItemIn | None:
    link = absolute_url(entry.get("link"), feed_url)
    title = clean_title(entry.get("title"))
    published_at = _entry_time(entry)
    external_id = str(entry.get("id") or "").strip() or link
    if not (external_id or title):
        return None
    html, text = _entry_content(entry)
    author = entry.get("author") or (entry.get("author_detail") or {}).get("name")
    raw = {
        key: str(dict.get(entry, key))[:500]
        for key in ("id", "link", "title", "published", "updated", "author")
        if dict.get(entry, key)
    }
    author = (author or None) and str(author)[:300]
    return _item(external_id, link, title, published_at, (html, text), author, raw)


def _item(
    external_id: str | None,
    link: str | None,
    title: str,
    published_at: datetime | None,
    content: tuple[str | None, str],
    author: str | None,
    raw: dict[str, str],
) -> ItemIn:
    """An item of either feed format; one without an id is known by its title and time."""
    html, text = content
    return ItemIn(
        external_id=fit_id(external_id or hash_id(title, published_at)),
        url=link,
        title=title[:MAX_TITLE],
        html=html,
        text=text,
        author=author,
        published_at=published_at,
        raw=raw,
    )


def _entry_content(entry: Any) -> tuple[str | None, str]:
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if value.strip():
            if "html" in (content.get("type") or "html"):
                return value, ""
            return None, value
    summary = entry.get("summary") or ""
    if not summary.strip():
        return None, ""
    summary_type = (entry.get("summary_detail") or {}).get("type") or "text/html"
    return (summary, "") if "html" in summary_type else (None, summary)


_HAS_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2}|\b(GMT|UTC|UT|[ECMP][SD]T|CST))\s*$", re.IGNORECASE)


def _entry_time(entry: Any) -> datetime | None:
    # dict.get: feedparser's own get maps a missing "updated" to "published" with a warning.
    raw = dict.get(entry, "published") or dict.get(entry, "updated") or ""
    struct = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if raw and (struct is None or not _HAS_ZONE.search(raw.strip())):
        # feedparser reads a time without zone as UTC; Chinese feeds mean Beijing time.
        local = parse_time(raw)
        if local is not None:
            return local
    if struct is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC).replace(tzinfo=None)
    except (OverflowError, ValueError, OSError):
        return None


def _parse_json_feed(text: str, *, url: str) -> ParsedFeed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"JSON 格式错误：第 {exc.lineno} 行：{exc.msg}") from exc
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        raise ParseError("返回的是 JSON 数据而不是 JSON Feed 订阅源（缺少 version 字段）")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise ParseError("JSON Feed 缺少 items 列表")
    title = clean_title(data.get("title")) or None
    items = _collect(_json_item, [e for e in entries if isinstance(e, dict)], url)
    return _finish(title, items, len(entries), [], "jsonfeed")


def _json_item(entry: dict[str, Any], feed_url: str) -> ItemIn | None:
    link = absolute_url(
        plain_text(entry.get("url")) or plain_text(entry.get("external_url")), feed_url
    )
    title = clean_title(plain_text(entry.get("title")))
    published_at = parse_time(
        plain_text(entry.get("date_published")) or plain_text(entry.get("date_modified"))
    )
    external_id = plain_text(entry.get("id")) or link
    if not (external_id or title):
        return None
    html = plain_text(entry.get("content_html")) or None
    text = plain_text(entry.get("content_text")) or (
        "" if html else plain_text(entry.get("summary"))
    )
    raw = {
        key: str(entry[key])[:500]
        for key in ("id", "url", "title", "date_published", "date_modified")
        if entry.get(key)
    }
    return _item(external_id, link, title, published_at, (html, text), _json_author(entry), raw)


def _json_author(entry: dict[str, Any]) -> str | None:
    authors = entry.get("authors")
    candidates = authors if isinstance(authors, list) else [entry.get("author")]
    names = [plain_text(a.get("name")) for a in candidates if isinstance(a, dict)]
    joined = "、".join(name for name in names if name)
    return joined[:300] or None


def _collect(
    build: Callable[[_Entry, str], ItemIn | None], entries: Iterable[_Entry], feed_url: str
) -> list[ItemIn | None]:
    items: list[ItemIn | None] = []
    for entry in entries:
        try:
            items.append(build(entry, feed_url))
        except ValidationError:
            items.append(None)
    return items


def _finish(
    title: str | None,
    built: list[ItemIn | None],
    total: int,
    warnings: list[str],
    version: str,
) -> ParsedFeed:
    items = [item for item in built if item is not None]
    if total and not items:
        raise ParseError(f"订阅源中的 {total} 个条目都没有标题、链接或编号，无法使用")
    if not total and not title:
        raise ParseError("订阅源没有标题，也没有任何条目")
    skipped = total - len(items)
    if skipped:
        warnings.append(f"跳过了 {skipped} 个没有标题、链接或编号（或字段无效）的条目")
    if not total:
        warnings.append("订阅源中暂时没有条目")
    return ParsedFeed(title=title, items=items, warnings=warnings, format=version)
