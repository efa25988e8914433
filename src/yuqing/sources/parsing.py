"""What the feed, article and list-page parsers share (``parsers`` is their face): the error
a user is shown, clean titles, item ids, absolute links on the same site, and the HTML tree
of a download in whatever encoding it came."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from yuqing.sources.encoding import decode_body

MAX_ID = 300
MAX_TITLE = 2000
XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", re.IGNORECASE)
Params = ParamSpec("Params")
Parsed = TypeVar("Parsed")


class ParseError(Exception):
    """A download that cannot be read as the source kind expects; ``reason`` is shown to users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reported(
    what: str,
) -> Callable[[Callable[Params, Parsed]], Callable[Params, Parsed]]:
    """A parser whose unexpected errors become a ``ParseError`` naming ``what`` it parsed: a
    parser bug must not stop the fetch loop."""

    def wrap(parse: Callable[Params, Parsed]) -> Callable[Params, Parsed]:
        @wraps(parse)
        def guarded(*args: Params.args, **kwargs: Params.kwargs) -> Parsed:
            try:
                return parse(*args, **kwargs)
            except ParseError:
                raise
            except Exception as exc:
                detail = f"{type(exc).__name__}: {str(exc)[:200]}"
                raise ParseError(f"解析{what}时出错：{detail}") from exc

        return guarded

    return wrap


def plain_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def clean_title(value: object) -> str:
    title = plain_text(value)
    if "<" in title and ">" in title:
        title = re.sub(r"<[^>]+>", "", title)
    return _CONTROL.sub("", re.sub(r"\s+", " ", title)).strip()


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def absolute_url(link: str | None, base: str) -> str | None:
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


def fit_id(value: str) -> str:
    if len(value) <= MAX_ID:
        return value
    return "sha1:" + hashlib.sha1(value.encode("utf-8")).hexdigest()


def hash_id(title: str, published_at: datetime | None) -> str:
    seed = f"{title}\n{published_at.isoformat() if published_at else ''}"
    return "sha1:" + hashlib.sha1(seed.encode("utf-8")).hexdigest()


def html_tree(body: bytes, content_type: str | None) -> tuple[str, lxml.html.HtmlElement]:
    if not body or not body.strip():
        raise ParseError("内容为空")
    text = decode_body(body, content_type).text
    # lxml refuses str input that carries an encoding declaration.
    text = XML_ENCODING.sub(r"\1", text, count=1) if text.lstrip().startswith("<?xml") else text
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError("网页内容无法解析为 HTML") from exc
    return text, tree


# Second-level labels under which a country code's registrable names sit (news.sina.com.cn).
_SECOND_LEVEL = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil", "int"})


def _registrable(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(link: str, page_url: str) -> bool:
    host = (urlsplit(link).hostname or "").lower()
    page_host = (urlsplit(page_url).hostname or "").lower()
    if not host or not page_host:
        return False
    site = _registrable(page_host)
    return host in (page_host, site) or host.endswith("." + site)
