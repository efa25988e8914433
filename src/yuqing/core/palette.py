"""The desk's sentiment colours, in one place for every format that draws them.

The desk's stylesheet (static/css/desk.css: --bad, --ok, --ink-soft) carries the same values,
and a test holds the two together, so a report never shows 负面 in another red than the desk.
"""

from __future__ import annotations

from yuqing.core.labels import SENTIMENT_BY_LABEL

SENTIMENT_COLORS: dict[str, str] = {
    "negative": "#b42318",  # 负面: red
    "positive": "#177245",  # 正面: green
    "neutral": "#4b5563",  # 中性: grey
}


def sentiment_color(label: str) -> str | None:
    """The colour of a sentiment key (``negative``) or Chinese label (``负面``), else None."""
    return SENTIMENT_COLORS.get(SENTIMENT_BY_LABEL.get(label, label))
