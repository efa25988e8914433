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

# A figure: digits with what joins them (decimal and thousands marks, date separators, 年/月)
# and what may end them (日, %, 万/亿). It starts with a digit: one fast scan of the text.
FIGURE = re.compile(r"\d+(?:[.,/\-年月]\d+)*[%％万亿年月日]?")
_TRAILING = ".,，/-"
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
                # A window one character off matches the term's other half exactly. Halves
                # are kept at two characters or more (one character hits everywhere): for a
                # three-character term that is its first two and its last two, so a wrong
                # middle character is found through the listed wrong forms only.
                cut = max(2, len(term.text) // 2)
                self._add(term.text[:cut], ("half", term, 0))
                tail = min(len(term.text) - 2, cut)
                self._add(term.text[tail:], ("half", term, tail))
        self._patterns = list(self._meaning)
        self._meanings = [self._meaning[p] for p in self._patterns]
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
        meanings = self._meanings
        if self._automaton is not None:
            for index, start, end in self._automaton.find_matches_as_indexes(
                text, overlapping=True
            ):
                for meaning in meanings[index]:
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


def _kind(value: str) -> str:
    return (
        "date"
        if "年" in value or "月" in value or "日" in value or "-" in value or "/" in value
        else "number"
    )


def _figures(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, figure, start, end) of every date and number of ``text``."""
    found = []
    for match in FIGURE.finditer(text):
        value = match.group().rstrip(_TRAILING)
        found.append((_kind(value), value, match.start(), match.start() + len(value)))
    return found


def _counted(text: str) -> Counter[tuple[str, str]]:
    """The dates and numbers of ``text`` as a multiset (``findall``: no match objects)."""
    counted: Counter[tuple[str, str]] = Counter()
    for raw in FIGURE.findall(text):
        value = raw.rstrip(_TRAILING)
        counted[(_kind(value), value)] += 1
    return counted


def compare_figures(previous: str, text: str) -> list[Flag]:
    """Numbers and dates of ``text`` not in ``previous`` (new or changed), and those of
    ``previous`` gone from ``text`` (placed at the start). The places are looked up only
    when the two versions' figures differ."""
    if previous == text:
        return []
    before, after = _counted(previous), _counted(text)
    if before == after:
        return []
    flags = []
    added = after - before
    if added:
        seen: Counter[tuple[str, str]] = Counter()
        for kind, value, start, end in _figures(text):
            if (kind, value) not in added:
                continue
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
