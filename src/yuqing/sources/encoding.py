"""Turn downloaded bytes into text, trusting declared charsets only as far as the bytes agree."""

from __future__ import annotations

import codecs
import re
from contextvars import ContextVar
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


# --- files a person exports (CSV) ---------------------------------------------------

_SAMPLE_BYTES = 1024 * 1024
# An encoding is clearly right when its valid non-ASCII characters outnumber the broken
# spots many times over; GBK text read as UTF-8 breaks at most of its characters.
_CLEAR = 4
_HIGH_BYTES = bytes(range(128))
_marks: ContextVar[list[int] | None] = ContextVar("yuqing_decode_marks", default=None)


@dataclass(frozen=True)
class DecodedFile:
    """Text of an exported file, the codec read with, and the lines (1-based, as a CSV
    reader counts them) where undecodable bytes were replaced by U+FFFD."""

    text: str
    encoding: str
    replaced_lines: tuple[int, ...] = ()


class _TooManyBad(ValueError):
    pass


def _mark(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    found = _marks.get()
    if found is not None:
        found.append(error.end - error.start)
        if len(found) > found[0]:  # the first entry is the budget
            raise _TooManyBad
    return "\ufffd", error.end


codecs.register_error("yuqing-mark", _mark)


def decode_export(data: bytes) -> DecodedFile | None:
    """Decode a CSV/text export; None when no encoding reads it.

    UTF-8 (with or without BOM) and UTF-16 with BOM are read as such. Without a BOM: valid
    UTF-8 is UTF-8; text that is clearly UTF-8 but for a few bad bytes stays UTF-8 with
    those bytes replaced (and their lines reported) instead of being guessed as another
    codepage; a file that reads as GB18030 (GBK, GB2312: what Excel on Chinese Windows
    writes) is GB18030; text still mostly UTF-8 is UTF-8; anything else is detected.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode_marked(data[len(codecs.BOM_UTF8) :], "utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_marked(data, "utf-16")
    try:
        return DecodedFile(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    sample = data[:_SAMPLE_BYTES]
    valid, bad = _health(sample, "utf-8")
    budget = max(16, len(data.translate(None, _HIGH_BYTES)) // 100)
    if bad * _CLEAR <= valid and (found := _decode_marked(data, "utf-8", budget)):
        return found
    try:
        # GB18030 is a superset of GBK and GB2312.
        return DecodedFile(data.decode("gb18030"), "gb18030")
    except UnicodeDecodeError:
        pass
    if bad <= valid and (found := _decode_marked(data, "utf-8", budget)):
        return found
    valid, bad = _health(sample, "gb18030")  # a GBK export with a damaged byte
    if bad * _CLEAR <= valid and (found := _decode_marked(data, "gb18030", budget)):
        return found
    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    return _decode_marked(data, _preferred_codec(best.encoding))


def _health(sample: bytes, encoding: str) -> tuple[int, int]:
    """Valid non-ASCII characters and broken spots of ``sample`` read as ``encoding`` (cut
    at a line end, so a character split by the cut does not count as broken)."""
    cut = sample.rfind(b"\n")
    sample = sample[: cut + 1] if cut > 0 else sample
    spans = [1 << 62]
    token = _marks.set(spans)
    try:
        text = sample.decode(encoding, "yuqing-mark")
    finally:
        _marks.reset(token)
    bad = len(spans) - 1
    return len(text) - len(text.encode("ascii", "ignore")) - bad, bad


def _decode_marked(data: bytes, encoding: str, budget: int = 1 << 62) -> DecodedFile | None:
    """``data`` decoded with bad bytes replaced and their lines listed; None past ``budget``
    bad spots (then the encoding is wrong, not the bytes)."""
    spans = [budget]
    token = _marks.set(spans)
    try:
        text = data.decode(encoding, "yuqing-mark")
    except (_TooManyBad, LookupError):
        return None
    finally:
        _marks.reset(token)
    return DecodedFile(text, encoding, _replaced_lines(text) if len(spans) > 1 else ())


def _replaced_lines(text: str) -> tuple[int, ...]:
    lines: list[int] = []
    line, position = 1, 0
    for found in re.finditer("\ufffd", text):
        line += text.count("\n", position, found.start())
        position = found.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    return tuple(lines)
