"""Defaults of the maintenance domain: how long each kind of data is kept, and its label."""

from __future__ import annotations

# kind → (label, default days, what goes). The defaults are written in docs/operations.md;
# an administrator changes them on the 数据保留 page or with `yuqing retention set`.
RETENTION_KINDS: dict[str, tuple[str, int, str]] = {
    "mentions": (
        "信息",
        730,
        "收集时间早于期限的信息，连同其地点、方案命中、相似键、事件归属与标记",
    ),
    "raw": ("原始数据", 90, "信息保存的平台原始数据（raw 字段），信息本身保留"),
    "alerts": ("预警记录", 730, "早于期限的预警记录"),
    "inbox": ("通知", 180, "已送达或已失败、早于期限的通知（站内信与发件记录）"),
    "sessions": ("登录会话", 30, "已过期且早于期限的登录会话"),
    "logins": ("登录限制记录", 90, "早于期限的登录失败与暂停记录"),
}
RETENTION_DEFAULTS = {kind: days for kind, (_label, days, _what) in RETENTION_KINDS.items()}
MIN_DAYS = 1
MAX_DAYS = 36500
