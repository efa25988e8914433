"""Cleaning of one item: clean text from HTML, Simplified form, content hash (the canonical
URL and its key are ``core/urls.py``: collectors use them before an item is a mention)."""

from __future__ import annotations

import re
import unicodedata

from yuqing.core import search_form
from yuqing.core.text import strip_controls
from yuqing.core.urls import hash64

_WS = re.compile(r"[ \t\u00a0\u3000\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Normalise width and spaces, keep paragraphs as single blank-line breaks; control
    characters (NUL, \\x01…) go."""
    # NFC, not NFKC: NFKC would turn Chinese full-width punctuation (，！？) into ASCII.
    if not text:
        return ""
    text = strip_controls(text)
    text = unicodedata.normalize("NFC", text) if not text.isascii() else text
    if "\n" not in text and "\r" not in text:  # most posts and every title: one line
        return _WS.sub(" ", text).strip()
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


_BLOCK_TAGS = (
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dd",
    "dt",
    "header",
    "footer",
    "figure",
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_TAG_HINT = re.compile(r"<[a-zA-Z!/]")


def looks_like_html(text: str) -> bool:
    return bool(_TAG_HINT.search(text))


def html_to_text(html: str) -> str:
    """Reduce an HTML fragment or page to clean text with paragraphs."""
    html = strip_controls(html)  # lxml refuses a string with NUL or \x01 in it
    if not looks_like_html(html):
        return clean_text(html)
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return clean_text(re.sub(r"<[^>]+>", " ", html))
    etree.strip_elements(root, *_DROP_TAGS, etree.Comment, with_tail=False)
    for element in root.iter(*_BLOCK_TAGS):
        if element.tag == "br":
            element.tail = "\n" + (element.tail or "")
        else:
            element.tail = "\n\n" + (element.tail or "")
            element.text = "\n" + (element.text or "") if element.tag == "li" else element.text
    return clean_text(root.text_content())


def to_simplified(text: str) -> str:
    """Traditional characters in Simplified form (OpenCC t2s), so one query matches both.

    The converter only runs on texts it would change (most posts are Simplified already).
    """
    if not text:
        return text
    return search_form.simplified(text)


def detect_language(text: str, *, simplified: str | None = None) -> str:
    """A coarse language label: zh, zh-Hant, ja, ko, en or und.

    ``simplified`` is the lower-case Simplified form of ``text`` when the caller has it
    (the search form), which saves a second conversion.
    """
    sample = text[:500]
    # Counting characters is only needed against kana or hangul, or for a changed text.
    if _KANA.search(sample) or _HANGUL.search(sample):
        cjk = len(_CJK.findall(sample))
        if _KANA.search(sample) and len(_KANA.findall(sample)) * 5 > cjk:
            return "ja"
        if len(_HANGUL.findall(sample)) > cjk:
            return "ko"
    if _CJK.search(sample):
        if simplified is not None:
            changed = simplified[:500] != sample.lower()
        else:
            changed = to_simplified(sample) != sample
        return "zh-Hant" if changed and len(_CJK.findall(sample)) > 3 else "zh"
    if _LATIN.search(sample):
        return "en"
    return "und"


def content_hash(title: str, text: str) -> int:
    """Key of the normalised title and text: identical copies share it."""
    return hash64(_SPACES.sub("", f"{title}\n{text}").lower())
