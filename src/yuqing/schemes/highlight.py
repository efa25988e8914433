"""Marking matched words in text for the desk: everything escaped, matches in <mark>."""

from __future__ import annotations

from markupsafe import Markup, escape

from yuqing.core.search_form import t2s


def _lookup_form(text: str) -> str:
    """Simplified lower case, character for character when OpenCC keeps the length."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    converted = str(t2s().convert(lowered))
    return converted if len(converted) == len(text) else lowered


def highlight(text: str | None, words: list[str], *, limit: int | None = None) -> Markup:
    """``text`` (cut to ``limit`` characters) as HTML with each occurrence of ``words``
    (search form) marked; found in the Simplified lower-case form, marked in the original."""
    source = (text or "")[:limit] if limit else (text or "")
    form = _lookup_form(source)
    marks = [False] * len(source)
    for word in words:
        if not word:
            continue
        at = form.find(word)
        while at >= 0:
            for i in range(at, min(at + len(word), len(source))):
                marks[i] = True
            at = form.find(word, at + len(word))
    out: list[str] = []
    start = 0
    for i in range(1, len(source) + 1):
        if i == len(source) or marks[i] != marks[start]:
            piece = str(escape(source[start:i]))
            out.append(f"<mark>{piece}</mark>" if marks[start] else piece)
            start = i
    return Markup("".join(out))
