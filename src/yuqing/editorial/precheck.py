"""The compliance pre-check (合规预检) before each review stage: findings for the reviewer,
each with its place in the plain text; the text is never rewritten.

Three checks in one pass of an Aho-Corasick automaton (ahocorasick-rs, as the schemes use):
the words of the five prohibited categories and the institution's sensitive words (the
alerts' lists); the terms that must be written exactly (leaders' names and titles), where a
window of the same length differing in one character is a suspected typo (found through
either half of the term, then compared), and each listed wrong form is flagged outright;
then the numbers and dates, compared with the previous version's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick_rs

from yuqing.editorial.schemas import Flag

NUMBER = re.compile(r"\d+(?:[.,，]\d+)*\s*(?:%|％|万|亿|余|多)?")
DATE = re.compile(
    r"\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
)
MIN_NEAR_MISS = 3  # two-character names differ from too many ordinary words by one character


@dataclass(frozen=True)
class Word:
    """A word to look for: ``kind`` prohibited/sensitive, with the category it is from."""

    text: str
    kind: str
    category: str


@dataclass(frozen=True)
class ExactTerm:
    """A term that must be written exactly, and its known wrong forms."""

    text: str
    wrong: tuple[str, ...] = ()


def parse_exact(lines: str) -> list[ExactTerm]:
    """``张三丰`` or ``张三丰 = 张三峰, 张山丰`` one a line."""
    terms = []
    for line in lines.splitlines():
        right, _, wrong = line.partition("=")
        right = right.strip()
        if right:
            forms = tuple(w.strip() for w in re.split(r"[,，、\s]+", wrong) if w.strip())
            terms.append(ExactTerm(right, forms))
    return terms


class Checker:
    """The automaton over every configured word, built once per word-list version."""

    def __init__(self, words: Iterable[Word], exact: Iterable[ExactTerm] = ()) -> None:
        # pattern → what it stands for: ("word", Word) | ("wrong", term) | ("half", term, offset)
        self._meaning: dict[str, list[tuple[object, ...]]] = {}
        for word in words:
            if word.text:
                self._add(word.text, ("word", word))
        self.exact = list(exact)
        for term in self.exact:
            for form in term.wrong:
                self._add(form, ("wrong", term))
            if len(term.text) >= MIN_NEAR_MISS:
                cut = (len(term.text) + 1) // 2
                self._add(term.text[:cut], ("half", term, 0))
                self._add(term.text[cut:], ("half", term, cut))
        self._patterns = list(self._meaning)
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self._patterns
            else None
        )
        self.word_count = len(self._patterns)

    def _add(self, pattern: str, meaning: tuple[object, ...]) -> None:
        self._meaning.setdefault(pattern, []).append(meaning)

    def check(self, text: str, previous: str | None = None) -> list[Flag]:
        """Every finding in ``text``, in the order of the text; numbers and dates are
        compared with ``previous`` when there is one."""
        flags: dict[tuple[str, int, str], Flag] = {}
        if self._automaton is not None:
            for index, start, end in self._automaton.find_matches_as_indexes(
                text, overlapping=True
            ):
                for meaning in self._meaning[self._patterns[index]]:
                    flag = _flag(meaning, text, start, end)
                    if flag is not None:
                        flags.setdefault((flag.kind, flag.start, flag.term), flag)
        if previous is not None:
            for flag in compare_figures(previous, text):
                flags.setdefault((flag.kind, flag.start, flag.term), flag)
        return sorted(flags.values(), key=lambda f: (f.start, f.kind))


def _flag(meaning: tuple[object, ...], text: str, start: int, end: int) -> Flag | None:
    what = meaning[0]
    if what == "word":
        word = meaning[1]
        assert isinstance(word, Word)
        label = "禁止内容" if word.kind == "prohibited" else "敏感词"
        message = f"{label}（{word.category}）：“{word.text}”，请审核人判断"
        return Flag(word.kind, word.category, word.text, start, end, message)
    term = meaning[1]
    assert isinstance(term, ExactTerm)
    if what == "wrong":
        found = text[start:end]
        return Flag("exact", term.text, found, start, end, f"疑似误写：“{found}”应为“{term.text}”")
    offset = meaning[2]
    assert isinstance(offset, int)
    first = start - offset
    window = text[first : first + len(term.text)] if first >= 0 else ""
    if len(window) != len(term.text) or window == term.text:
        return None
    if sum(a != b for a, b in zip(window, term.text, strict=True)) != 1:
        return None
    message = f"疑似误写：“{window}”与须准确书写的“{term.text}”只差一个字"
    return Flag("exact", term.text, window, first, first + len(window), message)


def _figures(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, normalised figure, start, end): dates first, then numbers outside them."""
    found: list[tuple[str, str, int, int]] = []
    taken: list[tuple[int, int]] = []
    for match in DATE.finditer(text):
        found.append(("date", re.sub(r"\s+", "", match.group()), match.start(), match.end()))
        taken.append(match.span())
    for match in NUMBER.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        found.append(("number", re.sub(r"\s+", "", match.group()), match.start(), match.end()))
    return found


def compare_figures(previous: str, text: str) -> list[Flag]:
    """Numbers and dates of ``text`` not in ``previous`` (new or changed), and those of
    ``previous`` gone from ``text`` (placed at the start)."""
    before = Counter((k, v) for k, v, _, _ in _figures(previous))
    now = _figures(text)
    after = Counter((k, v) for k, v, _, _ in now)
    flags = []
    seen: Counter[tuple[str, str]] = Counter()
    for kind, value, start, end in now:
        seen[(kind, value)] += 1
        if seen[(kind, value)] > before[(kind, value)]:
            label = "日期" if kind == "date" else "数字"
            message = f"{label}“{value}”在上一版中没有（新增或改动），请核对"
            flags.append(Flag(kind, "与上一版比较", value, start, end, message))
    for (kind, value), count in (before - after).items():
        label = "日期" if kind == "date" else "数字"
        message = f"上一版中的{label}“{value}”本版少了 {count} 处，请核对"
        flags.append(Flag(kind, "与上一版比较", value, 0, 0, message))
    return flags
