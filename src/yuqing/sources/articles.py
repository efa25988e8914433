"""Article pages (网页): the title, published time, author and body text of one news page,
with trafilatura for the body and the page's meta tags and bylines for the rest."""

from __future__ import annotations

import re
from configparser import ConfigParser
from copy import deepcopy
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import lxml.html
from lxml import etree

from yuqing.core.timeutil import parse_time, utcnow
from yuqing.core.urls import canonical_url
from yuqing.sources.parsing import (
    MAX_TITLE,
    ParseError,
    absolute_url,
    clean_title,
    fit_id,
    html_tree,
    reported,
    same_site,
)
from yuqing.sources.schemas import ItemIn


@reported("网页")
def extract_article(body: bytes, *, url: str, content_type: str | None = None) -> ItemIn:
    """One news article page: title, published time, author and body text with paragraphs."""
    html_text, tree = html_tree(body, content_type)
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
        external_id=fit_id(canonical_url(canonical) or canonical),
        url=url,
        title=title[:MAX_TITLE],
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
        cleaned = clean_title(candidate)
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
        cleaned = clean_title(candidate)
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
            link = absolute_url(element.get("href"), url)
            if link and same_site(link, url):
                return link
    return url
