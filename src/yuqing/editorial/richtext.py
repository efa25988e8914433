"""The body's HTML: sanitised with nh3 (ammonia) to the tags the desk's editor makes, and
read back as plain text for the pre-check and the diffs.

Pasted Word HTML loses its styles, classes, conditional comments, scripts and event
attributes; the words inside allowed or unknown tags stay (an unknown tag is dropped, its
text kept). Images may only point at the desk's own uploads.
"""

from __future__ import annotations

import re
from html import unescape

import nh3

TAGS = {
    "p", "br", "h2", "h3", "h4", "ul", "ol", "li", "strong", "b", "em", "i", "u",
    "a", "img", "blockquote", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}, "td": {"colspan", "rowspan"}}
IMAGE_PREFIX = "/editorial/images/"
_BLOCK = re.compile(r"</?(?:p|div|h[1-6]|li|tr|blockquote|br|table|ul|ol)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if value.startswith(IMAGE_PREFIX) and ".." not in value else None
    return value


def clean(html: str) -> str:
    """The body as the desk stores it: only the editor's tags, safe links, own images."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def text_of(html: str) -> str:
    """The plain text of a body: blocks on their own lines, entities decoded."""
    text = _BLOCK.sub("\n", html)
    text = unescape(_TAG.sub("", text))
    text = _SPACES.sub(" ", text)
    return _LINES.sub("\n", text).strip()


def image_names(html: str) -> list[str]:
    """The uploaded images a body shows (their stored names)."""
    return re.findall(r'src="' + re.escape(IMAGE_PREFIX) + r'([0-9a-f]{64}\.[a-z]{3,4})"', html)
