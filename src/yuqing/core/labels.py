"""The Chinese names of values that many domains show: one table each, here.

Sentiment keys are stored on mentions and read by schemes, alerts, events, reports and the
dashboard; source kinds are stored on sources and filtered on in the stream. A domain that
needs another wording (a longer form hint, say) builds it from these keys."""

from __future__ import annotations

SENTIMENT_LABELS: dict[str, str] = {"positive": "正面", "neutral": "中性", "negative": "负面"}
"""Sentiment key → name, in the order pages and reports list them."""

UNSCORED_LABEL = "未判定"
"""What a mention the model has not labelled (yet) is called."""

SENTIMENT_BY_LABEL: dict[str, str] = {name: key for key, name in SENTIMENT_LABELS.items()}

SOURCE_KIND_LABELS: dict[str, str] = {
    "rss": "订阅源",
    "page": "单个网页",
    "list": "列表页",
    "import": "导入文件",
    "push": "推送接口",
}
"""Source kind → short name; the add-source form explains each at more length."""

SOURCE_KINDS: tuple[str, ...] = tuple(SOURCE_KIND_LABELS)
