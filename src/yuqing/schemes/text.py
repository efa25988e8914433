"""The search form of text and keywords: Simplified (OpenCC t2s), lower case, one space per gap."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# CJK blocks whose characters OpenCC may rewrite; the set of those it really rewrites is
# computed once, so a Simplified text (the usual case) skips the conversion entirely.
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional_chars() -> re.Pattern[str]:
    chars = "".join(chr(c) for low, high in _CJK_RANGES for c in range(low, high + 1))
    # One character a line: t2s maps most of them one to one, and the line structure
    # survives the rare one that it maps to two characters.
    converted = str(_t2s().convert("\n".join(chars))).split("\n")
    changed = [c for c, s in zip(chars, converted, strict=False) if s != c]
    # Phrase rules only ever fire on text that holds a Traditional character, which this
    # class then contains; escaping keeps characters like "-" literal.
    return re.compile("[" + "".join(re.escape(c) for c in changed) + "]")


def search_form(text: str | None) -> str:
    """``text`` as the matcher sees it: Simplified, lower case, whitespace runs as one space."""
    if not text:
        return ""
    if not text.isascii() and _traditional_chars().search(text):
        text = str(_t2s().convert(text))
    return " ".join(text.lower().split())


def warm_up() -> None:
    """Build the converter and the character class now, not on the first document."""
    _traditional_chars()
