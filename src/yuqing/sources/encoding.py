"""Turn downloaded bytes into text, trusting declared charsets only as far as the bytes agree."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Chinese sites label GBK and GB18030 pages "gb2312"; GB18030 decodes all of them.
_GB_NAMES = frozenset({"gb2312", "gbk", "gb18030", "cp936", "euc_cn", "gb2312_1980", "hz"})
# Big5 pages often use the HKSCS or Microsoft (cp950) extensions; try both supersets.
_BIG5_NAMES = frozenset({"big5", "big5hkscs", "cp950"})
# As browsers do, a page labelled Latin-1 or ASCII is read as Windows-1252.
# Labels seen on Chinese sites that Python's codec registry does not know.
_ALIASES = {
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "csgb2312": "gb2312",
    "x-euc-cn": "gb2312",
    "chinese": "gb2312",
    "iso-ir-58": "gb2312",
    "x-big5": "big5",
    "x-x-big5": "big5",
    "cn-big5": "big5",
    "csbig5": "big5",
    "x-sjis": "shift_jis",
}
_WINDOWS_1252_NAMES = frozenset({"latin_1", "iso8859_1", "ascii", "cp1252"})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE | re.DOTALL
)
_META_SCAN_BYTES = 16_384
_DETECT_BYTES = 200_000
# A declared charset may leave a few bad bytes (a cut-off last character, one corrupt
# character) and still be right; beyond this share of replacements it is wrong.
_TOLERATED_BAD_SHARE = 0.001
_TOLERATED_BAD_MIN = 2


@dataclass(frozen=True)
class Decoded:
    """Text of a response and where its charset came from."""

    text: str
    encoding: str
    declared: str | None
    source: str  # bom | header | xml | meta | detected | fallback


def decode_body(body: bytes, content_type: str | None) -> Decoded:
    """Decode a response body; never raises, worst case replaces undecodable bytes."""
    declared = _declarations(body, content_type)
    first_declared = declared[0][1] if declared else None
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, errors="replace")
            return Decoded(text, encoding, first_declared, "bom")
    has_non_ascii = not body.isascii()
    for source, label in declared:
        decoded = _try_declared(body, label, has_non_ascii)
        if decoded is not None:
            return Decoded(decoded[0], decoded[1], first_declared, source)
    return _detect(body, first_declared)


def normalise_charset(label: str) -> list[str]:
    """The codecs to try for a charset label, best first; empty when Python does not know it."""
    try:
        label = label.strip().strip("\"'").lower()
        name = codecs.lookup(_ALIASES.get(label, label)).name
    except (LookupError, ValueError):
        return []
    name = name.replace("-", "_")
    if name in _GB_NAMES:
        return ["gb18030"]
    if name in _BIG5_NAMES:
        return ["big5hkscs", "cp950"]
    if name in _WINDOWS_1252_NAMES:
        return ["cp1252"]
    return [codecs.lookup(name).name]


def _declarations(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match:
            found.append(("header", match.group(1).lower()))
    for source, found_bytes in (
        ("xml", _XML_DECL.match(body[:512])),
        ("meta", _META_CHARSET.search(body[:_META_SCAN_BYTES])),
    ):
        if found_bytes:
            found.append((source, found_bytes.group(1).decode("ascii", "replace").lower()))
    return found


def _try_declared(body: bytes, label: str, has_non_ascii: bool) -> tuple[str, str] | None:
    for encoding in normalise_charset(label):
        if encoding.startswith(("utf-16", "utf-32")) and b"\x00" not in body[:64]:
            # The label was readable as ASCII, so the body is not really UTF-16/32.
            encoding = "utf-8"
        if encoding != "utf-8" and has_non_ascii and _is_utf8(body):
            # Legacy-charset text is practically never valid UTF-8 by accident, while
            # UTF-8 pages mislabelled "gb2312" or "iso-8859-1" are common.
            return None
        text = _decode_tolerant(body, encoding)
        if text is not None:
            return text, encoding
    return None


def _decode_tolerant(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = body.decode(encoding, errors="replace")
    bad = text.count("\ufffd")
    if bad <= max(_TOLERATED_BAD_MIN, len(text) * _TOLERATED_BAD_SHARE):
        return text
    return None


def _is_utf8(body: bytes) -> bool:
    # Not final: a body cut in the middle of a character is still UTF-8.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _detect(body: bytes, declared: str | None) -> Decoded:
    if body.isascii():
        return Decoded(body.decode("ascii"), "utf-8", declared, "detected")
    if _is_utf8(body):
        return Decoded(body.decode("utf-8", errors="replace"), "utf-8", declared, "detected")
    best = from_bytes(body[:_DETECT_BYTES]).best()
    if best is not None:
        encoding = _preferred_codec(best.encoding)
        text = _decode_tolerant(body, encoding)
        if text is not None:
            return Decoded(text, encoding, declared, "detected")
    for encoding in ("gb18030", "big5hkscs"):
        text = _decode_tolerant(body, encoding)
        if text is not None:
            return Decoded(text, encoding, declared, "detected")
    return Decoded(body.decode("utf-8", errors="replace"), "utf-8", declared, "fallback")


def _preferred_codec(detected: str) -> str:
    codecs_to_try = normalise_charset(detected)
    return codecs_to_try[0] if codecs_to_try else detected
