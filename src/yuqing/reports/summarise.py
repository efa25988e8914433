"""Extractive summaries: sentences taken verbatim from items, never written anew."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A sentence ends at Chinese or Western end punctuation, or at a line break.
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
MIN_CHARS = 6
MAX_CHARS = 120


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, each a verbatim slice of it (whitespace trimmed)."""
    found = (m.group(0).strip() for m in _SENTENCE.finditer(text or ""))
    return [s for s in found if len(s) >= MIN_CHARS]


def best_sentence(text: str, terms: Iterable[str] = (), title: str = "") -> str:
    """The sentence that carries most of ``terms`` (earlier wins ties); a long one is cut at
    MAX_CHARS, which keeps it a verbatim slice. Falls back to the title, then to ''."""
    words = [t for t in terms if t]
    candidates = sentences(text)
    if not candidates:
        return title.strip()[:MAX_CHARS]
    scored = [(sum(w in s for w in words), -i, s) for i, s in enumerate(candidates)]
    _score, _neg_index, chosen = max(scored)
    return chosen[:MAX_CHARS]


def hot_words(texts: Iterable[str], limit: int = 20) -> list[tuple[str, int]]:
    """The most frequent words of two or more characters (rjieba, HMM off)."""
    import rjieba  # imported here: segmentation is only needed for content analysis

    counts: dict[str, int] = {}
    for text in texts:
        for word in rjieba.cut(text or "", False):
            if len(word) >= 2 and not word.isascii() and word not in _STOP:
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


_STOP = frozenset(
    [
        "我们",
        "你们",
        "他们",
        "这个",
        "那个",
        "一个",
        "没有",
        "什么",
        "就是",
        "还是",
        "因为",
        "所以",
        "但是",
        "如果",
        "已经",
        "可以",
        "自己",
        "表示",
        "进行",
        "目前",
        "相关",
    ]
)
