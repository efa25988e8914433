"""The search form of text and keywords: Simplified (OpenCC t2s), lower case, one space per gap."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Code points OpenCC may rewrite one by one: the CJK blocks, the compatibility ideographs
# and the supplementary planes (Extension B onwards, where t2s maps several hundred). The set
# of those it really rewrites is computed once, so a Simplified text (the usual case) skips
# the conversion entirely.
_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)
# Characters t2s leaves alone on their own but rewrites inside a phrase of its TSPhrases
# dictionary (回覆 → 回复, 沈默 → 沉默, 藉口 → 借口, 瞭解 → 了解, 毛坏 → 毛坯): every phrase that
# changes and holds no character rewritten on its own holds one of these. The test
# tests/schemes/test_text.py rebuilds this set from the installed dictionary.
PHRASE_ONLY_CHARS = "哩坏沈甦瞭藉衹覆"


@lru_cache(maxsize=1)
def t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


# Outside the Basic Multilingual Plane; rare in posts, and a regex class of such characters
# is tested one by one instead of through a bitmap, so they are looked up in a set.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _traditional_chars() -> tuple[re.Pattern[str], frozenset[str]]:
    """The characters whose presence makes t2s change a text: a class of those in the
    Basic Multilingual Plane and a set of the others."""
    chars = "".join(chr(c) for low, high in _CJK_RANGES for c in range(low, high + 1))
    # One character a line: t2s maps most of them one to one, and the line structure
    # survives the rare one that it maps to two characters.
    converted = str(t2s().convert("\n".join(chars))).split("\n")
    changed = {c for c, s in zip(chars, converted, strict=False) if s != c}
    changed.update(PHRASE_ONLY_CHARS)
    # A text holding none of these comes out of t2s unchanged; escaping keeps "-" literal.
    bmp = sorted(c for c in changed if ord(c) <= 0xFFFF)
    pattern = re.compile("[" + "".join(re.escape(c) for c in bmp) + "]")
    return pattern, frozenset(c for c in changed if ord(c) > 0xFFFF)


def needs_simplifying(text: str) -> bool:
    """Whether OpenCC t2s would change ``text`` (exact: no false "no")."""
    if text.isascii():
        return False
    pattern, astral = _traditional_chars()
    if pattern.search(text) is not None:
        return True
    return _ASTRAL.search(text) is not None and not astral.isdisjoint(text)


def simplified(text: str) -> str:
    """``text`` through OpenCC t2s, skipping the converter when it would change nothing."""
    if needs_simplifying(text):
        return str(t2s().convert(text))
    return text


def search_form(text: str | None) -> str:
    """``text`` as the matcher sees it: Simplified, lower case, whitespace runs as one space."""
    if not text:
        return ""
    return " ".join(simplified(text).lower().split())


def warm_up() -> None:
    """Build the converter and the character class now, not on the first document."""
    _traditional_chars()
