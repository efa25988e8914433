"""Parse what the fetcher downloads: feeds into items, article pages into one item, list pages into links."""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable
from configparser import ConfigParser
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
import lxml.html
from lxml import etree
from pydantic import ValidationError

from yuqing.core.timeutil import parse_time, utcnow
from yuqing.mentions.normalise import canonical_url
from yuqing.mentions.schemas import ItemIn
from yuqing.sources.encoding import decode_body

_MAX_ID = 300
_Entry = Any
_MAX_TITLE = 2000


class ParseError(Exception):
    """A download that cannot be read as the source kind expects; ``reason`` is shown to users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ParsedFeed:
    """The items of one feed download, with what was odd about it."""

    title: str | None
    items: list[ItemIn] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    format: str = ""


# ---------------------------------------------------------------- feeds


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom or JSON Feed download into items."""
    try:
        return _parse_feed(body, url=url, content_type=content_type)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must not stop the fetch loop
        raise ParseError(f"解析订阅源时出错：{type(exc).__name__}: {str(exc)[:200]}") from exc


def _parse_feed(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
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
    title = _clean_title(unescape(match.group(1)))[:60] if match else ""
    named = f"（网页标题：{title}）" if title else ""
    return (
        f"返回的是网页而不是订阅源（RSS/Atom/JSON Feed）{named}；"
        "如果这是新闻栏目页，请把来源类型改为“列表页”"
    )


_XML_DECLARATION = re.compile(r"^<\?xml[^>]*\?>")
_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", re.IGNORECASE)


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
    title = _clean_title(parsed.feed.get("title")) or None
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
    link = _absolute(entry.get("link"), feed_url)
    title = _clean_title(entry.get("title"))
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
    return ItemIn(
        external_id=_fit_id(external_id or _hash_id(title, published_at)),
        url=link,
        title=title[:_MAX_TITLE],
        html=html,
        text=text,
        author=(author or None) and str(author)[:300],
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
    title = _clean_title(data.get("title")) or None
    items = _collect(_json_item, [e for e in entries if isinstance(e, dict)], url)
    return _finish(title, items, len(entries), [], "jsonfeed")


def _json_item(entry: dict[str, Any], feed_url: str) -> ItemIn | None:
    link = _absolute(_text(entry.get("url")) or _text(entry.get("external_url")), feed_url)
    title = _clean_title(_text(entry.get("title")))
    published_at = parse_time(
        _text(entry.get("date_published")) or _text(entry.get("date_modified"))
    )
    external_id = _text(entry.get("id")) or link
    if not (external_id or title):
        return None
    html = _text(entry.get("content_html")) or None
    text = _text(entry.get("content_text")) or ("" if html else _text(entry.get("summary")))
    raw = {
        key: str(entry[key])[:500]
        for key in ("id", "url", "title", "date_published", "date_modified")
        if entry.get(key)
    }
    return ItemIn(
        external_id=_fit_id(external_id or _hash_id(title, published_at)),
        url=link,
        title=title[:_MAX_TITLE],
        html=html,
        text=text,
        author=_json_author(entry),
        published_at=published_at,
        raw=raw,
    )


def _json_author(entry: dict[str, Any]) -> str | None:
    authors = entry.get("authors")
    candidates = authors if isinstance(authors, list) else [entry.get("author")]
    names = [_text(a.get("name")) for a in candidates if isinstance(a, dict)]
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


# ---------------------------------------------------------------- shared helpers


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _clean_title(value: object) -> str:
    title = _text(value)
    if "<" in title and ">" in title:
        title = re.sub(r"<[^>]+>", "", title)
    return _CONTROL.sub("", re.sub(r"\s+", " ", title)).strip()


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _absolute(link: str | None, base: str) -> str | None:
    if not link or not link.strip():
        return None
    try:
        joined = urljoin(base, link.strip())
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return joined


def _fit_id(value: str) -> str:
    if len(value) <= _MAX_ID:
        return value
    return "sha1:" + hashlib.sha1(value.encode("utf-8")).hexdigest()


def _hash_id(title: str, published_at: datetime | None) -> str:
    seed = f"{title}\n{published_at.isoformat() if published_at else ''}"
    return "sha1:" + hashlib.sha1(seed.encode("utf-8")).hexdigest()


def _html_tree(body: bytes, content_type: str | None) -> tuple[str, lxml.html.HtmlElement]:
    if not body or not body.strip():
        raise ParseError("内容为空")
    text = decode_body(body, content_type).text
    # lxml refuses str input that carries an encoding declaration.
    text = _XML_ENCODING.sub(r"\1", text, count=1) if text.lstrip().startswith("<?xml") else text
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError("网页内容无法解析为 HTML") from exc
    return text, tree


# ---------------------------------------------------------------- articles


def extract_article(body: bytes, *, url: str, content_type: str | None = None) -> ItemIn:
    """One news article page: title, published time, author and body text with paragraphs."""
    try:
        return _extract_article(body, url=url, content_type=content_type)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must not stop the fetch loop
        raise ParseError(f"解析网页时出错：{type(exc).__name__}: {str(exc)[:200]}") from exc


def _extract_article(body: bytes, *, url: str, content_type: str | None) -> ItemIn:
    html_text, tree = _html_tree(body, content_type)
    document = _trafilatura(html_text, url, favor_recall=False)
    body_text = _paragraphs(document.text if document else "")
    if not body_text:
        document = _trafilatura(html_text, url, favor_recall=True) or document
        body_text = _paragraphs(document.text if document else "")
    if not body_text:
        raise ParseError("页面中没有找到正文")
    meta = _meta(tree)
    page_text = _visible_text(tree)
    title = _article_title(document, meta, tree)
    canonical = _canonical(tree, url)
    return ItemIn(
        external_id=_fit_id(canonical_url(canonical) or canonical),
        url=url,
        title=title[:_MAX_TITLE],
        text=body_text,
        author=_article_author(document, meta, page_text),
        published_at=_article_time(document, meta, page_text, title),
        raw={"canonical_url": canonical, "source_name": _source_name(page_text)},
    )


@lru_cache(maxsize=1)
def _trafilatura_config() -> ConfigParser:
    from trafilatura.settings import DEFAULT_CONFIG

    config = deepcopy(DEFAULT_CONFIG)
    # No SIGALRM timeout: it only works in the main thread and fetchers run in workers.
    config.set("DEFAULT", "extraction_timeout", "0")
    # Short Chinese news briefs are articles too.
    config.set("DEFAULT", "min_extracted_size", "100")
    config.set("DEFAULT", "min_output_size", "10")
    return config


def _trafilatura(html_text: str, url: str, *, favor_recall: bool) -> Any:
    import trafilatura

    # Neither precision nor recall by default: on the 62 real Chinese news pages of the
    # benchmark, favor_precision lost the body of several 163.com pages to the comment box.
    return trafilatura.bare_extraction(
        html_text,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_recall=favor_recall,
        deduplicate=False,
        config=_trafilatura_config(),
    )


def _paragraphs(text: str | None) -> str:
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    # A run of very short lines at the end is the site's menu or "related" box, not the story.
    while lines and len(lines[-1].lstrip("- ")) < 6:
        lines.pop()
    return "\n\n".join(lines)


# Meta tags that carry the publication time, most trusted first.
_TIME_META_KEYS = (
    "article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish_date",
    "publishtime",
    "published_time",
    "og:release_date",
    "dc.date.issued",
    "dc.date",
    "weibo:article:create_at",
    "firstpublishedtime",
    "release_date",
    "date",
    "datemodified",
    "dateupdate",
)
_META_KEYS = frozenset({"og:title", "article:author", "author", "dc.creator", *_TIME_META_KEYS})


def _meta(tree: lxml.html.HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = (
            element.get("property") or element.get("name") or element.get("itemprop") or ""
        ).lower()
        content = (element.get("content") or "").strip()
        if key in _META_KEYS and content and key not in found:
            found[key] = content
    return found


def _visible_text(tree: lxml.html.HtmlElement) -> str:
    body = tree.find("body")
    root = deepcopy(body if body is not None else tree)
    etree.strip_elements(root, "script", "style", "noscript", etree.Comment, with_tail=False)
    lines = (re.sub(r"[ \t\u3000\xa0]+", " ", part).strip() for part in root.itertext())
    return "\n".join(line for line in lines if line)


def _article_title(document: Any, meta: dict[str, str], tree: lxml.html.HtmlElement) -> str:
    candidates = [getattr(document, "title", None), meta.get("og:title")]
    for heading in tree.iter("h1"):
        candidates.append(heading.text_content())
        break
    title_element = tree.find(".//title")
    if title_element is not None:
        candidates.append(_strip_site_suffix(title_element.text_content()))
    for candidate in candidates:
        cleaned = _clean_title(candidate)
        if cleaned:
            return cleaned
    return ""


def _strip_site_suffix(title: str) -> str:
    # "标题_新华网" / "标题 - 人民网": the site name after the last separator is not the title.
    parts = re.split(r"\s*[_|－—-]+\s*", title.strip())
    return max(parts, key=len) if len(parts) > 1 else title


# "2024-03-05 08:30", "2024年3月5日 08:30:12", "2024/03/05", "2024.03.05 8:30"
_CN_DATETIME = re.compile(
    r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2})\s*[:：时]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?)?"
)
_AUTHOR_LINE = re.compile(
    r"(?:作者|撰稿|记者)\s*[：:|丨]\s*([\u4e00-\u9fff·A-Za-z ]{2,20}?)(?=[\s，,。|丨/]|$)"
)
_SOURCE_LINE = re.compile(r"来源\s*[：:]\s*([^\s，,。|丨/]{2,30})")


def _article_time(
    document: Any, meta: dict[str, str], page_text: str, title: str
) -> datetime | None:
    """Meta tags first, then a date with time of day in the text, then trafilatura's date."""
    for key in _TIME_META_KEYS:
        value = _plausible(parse_time(meta[key])) if key in meta else None
        if value is not None:
            return value
    found = _time_in_text(page_text, title)
    if found is not None and found[1]:
        return found[0]
    trafilatura_date = _plausible(parse_time(getattr(document, "date", None) or ""))
    if trafilatura_date is not None:
        return trafilatura_date
    return found[0] if found else None


def _plausible(value: datetime | None) -> datetime | None:
    """Drop times no news page has: epoch leftovers and dates in the future."""
    if value is None or value.year < 1995 or value > utcnow() + timedelta(days=2):
        return None
    return value


def _time_in_text(page_text: str, title: str) -> tuple[datetime, bool] | None:
    """First date in the text after the title; the flag says whether it had a time of day."""
    start = page_text.find(title[:12]) if title else -1
    for text in (page_text[start:] if start >= 0 else "", page_text):
        for match in _CN_DATETIME.finditer(text):
            year, month, day, hour, minute, second = match.groups()
            stamp = f"{year}-{int(month):02d}-{int(day):02d}"
            if hour is not None:
                stamp += f" {int(hour):02d}:{minute}:{second or '00'}"
            value = _plausible(parse_time(stamp))
            if value is not None:
                return value, hour is not None
    return None


def _article_author(document: Any, meta: dict[str, str], page_text: str) -> str | None:
    match = _AUTHOR_LINE.search(page_text)
    candidates = [
        match.group(1) if match else None,
        meta.get("author"),
        meta.get("article:author"),
        meta.get("dc.creator"),
        getattr(document, "author", None),
    ]
    for candidate in candidates:
        cleaned = _clean_title(candidate)
        if _looks_like_name(cleaned):
            return cleaned
    return None


_NOT_A_NAME = re.compile(r"[：:;；@/\d]|编辑|声明|来源|授权|网友|email|http", re.IGNORECASE)


def _looks_like_name(value: str) -> bool:
    """A byline, not a sentence, an editor credit or a leftover form label."""
    return 2 <= len(value) <= 30 and not _NOT_A_NAME.search(value) and value != "未知"


def _source_name(page_text: str) -> str | None:
    match = _SOURCE_LINE.search(page_text)
    return match.group(1) if match else None


def _canonical(tree: lxml.html.HtmlElement, url: str) -> str:
    for element in tree.iter("link"):
        if (element.get("rel") or "").lower() == "canonical":
            link = _absolute(element.get("href"), url)
            if link and _same_site(link, url):
                return link
    return url


# ---------------------------------------------------------------- list pages

_FILE_EXTENSIONS = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "zip",
        "rar",
        "7z",
        "gz",
        "tar",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "bmp",
        "webp",
        "svg",
        "ico",
        "mp3",
        "mp4",
        "avi",
        "flv",
        "mov",
        "wmv",
        "apk",
        "exe",
        "dmg",
        "css",
        "js",
        "xml",
        "rss",
        "txt",
    ]
)
_NAV_TEXTS = frozenset(
    [
        "首页",
        "返回首页",
        "上一页",
        "下一页",
        "尾页",
        "末页",
        "更多",
        "登录",
        "注册",
        "english",
        "网站地图",
        "联系我们",
        "关于我们",
    ]
)
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#")
_ARTICLE_PATH = re.compile(r"\d{4,}|/20\d{2}[-_/]?\d{2}|\.s?html?$", re.IGNORECASE)
# Second-level labels under which a country code's registrable names sit (news.sina.com.cn).
_SECOND_LEVEL = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil", "int"})


def extract_links(
    body: bytes, *, url: str, content_type: str | None = None, limit: int = 100
) -> list[str]:
    """Links to article pages of the same site on a list page (栏目页), in page order.

    Links in <nav>, <header> and <footer>, anchors, scripts, mail and file links, other
    sites and navigation words are skipped. When at least three links look like articles
    (a path with digits, a date or an .html/.shtml/.htm ending, and anchor text of six or
    more characters), only those are returned; otherwise every remaining same-site link.
    """
    try:
        _, tree = _html_tree(body, content_type)
        base = _base_href(tree, url)
        links = [(link, text) for link, text in _same_site_links(tree, base, url)]
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must not stop the fetch loop
        raise ParseError(f"解析列表页时出错：{type(exc).__name__}: {str(exc)[:200]}") from exc
    articles = [link for link, text in links if _looks_like_article(link, text)]
    chosen = articles if len(articles) >= 3 else [link for link, _ in links]
    return chosen[:limit]


def _base_href(tree: lxml.html.HtmlElement, url: str) -> str:
    base = tree.find(".//base[@href]")
    return _absolute(base.get("href"), url) or url if base is not None else url


def _same_site_links(
    tree: lxml.html.HtmlElement, base: str, page_url: str
) -> Iterable[tuple[str, str]]:
    seen = {_without_fragment(page_url)}
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES) or _in_chrome(anchor):
            continue
        link = _absolute(href, base)
        if link is None:
            continue
        link = _without_fragment(link)
        text = re.sub(r"\s+", "", anchor.text_content() or anchor.get("title") or "")
        if link in seen or not _same_site(link, page_url) or _is_navigation(link, text):
            continue
        seen.add(link)
        yield link, text


def _in_chrome(anchor: lxml.html.HtmlElement) -> bool:
    return any(parent.tag in ("nav", "header", "footer") for parent in anchor.iterancestors())


def _is_navigation(link: str, text: str) -> bool:
    path = urlsplit(link).path
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return path in ("", "/") or extension in _FILE_EXTENSIONS or text.lower() in _NAV_TEXTS


def _looks_like_article(link: str, text: str) -> bool:
    return bool(_ARTICLE_PATH.search(urlsplit(link).path)) and len(text) >= 6


def _without_fragment(link: str) -> str:
    parts = urlsplit(link)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _registrable(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _same_site(link: str, page_url: str) -> bool:
    host = (urlsplit(link).hostname or "").lower()
    page_host = (urlsplit(page_url).hostname or "").lower()
    if not host or not page_host:
        return False
    site = _registrable(page_host)
    return host in (page_host, site) or host.endswith("." + site)
