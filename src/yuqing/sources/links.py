"""List pages (栏目页): the links to article pages of the same site, in page order."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import lxml.html

from yuqing.sources.parsing import absolute_url, html_tree, reported, same_site

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


def extract_links(
    body: bytes, *, url: str, content_type: str | None = None, limit: int = 100
) -> list[str]:
    """Links to article pages of the same site on a list page (栏目页), in page order.

    Links in <nav>, <header> and <footer>, anchors, scripts, mail and file links, other
    sites and navigation words are skipped. When at least three links look like articles
    (a path with digits, a date or an .html/.shtml/.htm ending, and anchor text of six or
    more characters), only those are returned; otherwise every remaining same-site link.
    """
    links = _page_links(body, url=url, content_type=content_type)
    articles = [link for link, text in links if _looks_like_article(link, text)]
    chosen = articles if len(articles) >= 3 else [link for link, _ in links]
    return chosen[:limit]


@reported("列表页")
def _page_links(body: bytes, *, url: str, content_type: str | None) -> list[tuple[str, str]]:
    """The same-site links of a list page with their anchor text."""
    _, tree = html_tree(body, content_type)
    return list(_same_site_links(tree, _base_href(tree, url), url))


def _base_href(tree: lxml.html.HtmlElement, url: str) -> str:
    base = tree.find(".//base[@href]")
    return absolute_url(base.get("href"), url) or url if base is not None else url


def _same_site_links(
    tree: lxml.html.HtmlElement, base: str, page_url: str
) -> Iterable[tuple[str, str]]:
    seen = {_without_fragment(page_url)}
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES) or _in_chrome(anchor):
            continue
        link = absolute_url(href, base)
        if link is None:
            continue
        link = _without_fragment(link)
        text = re.sub(r"\s+", "", anchor.text_content() or anchor.get("title") or "")
        if link in seen or not same_site(link, page_url) or _is_navigation(link, text):
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
