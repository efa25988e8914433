"""Defaults of the alerts domain: labels, spike sensitivities and the seed word categories."""

from __future__ import annotations

from dataclasses import dataclass

KIND_LABELS: dict[str, str] = {
    "scheme_hit": "方案命中",
    "sensitive_words": "敏感词",
    "negative_share": "负面占比",
    "spike": "声量激增",
    "source_silent": "信息源沉默",
    "manual": "人工预警",
}
ITEM_KINDS = ("scheme_hit", "sensitive_words")  # evaluated in the ingest path
PERIODIC_KINDS = ("negative_share", "spike", "source_silent")  # evaluated every minute

LEVEL_LABELS: dict[str, str] = {"info": "提示", "warning": "预警", "urgent": "紧急"}
HIT_MODE_LABELS: dict[str, str] = {
    "all": "每条新命中",
    "negative": "仅负面",
    "risk": "仅风险分不低于阈值",
}
STATE_LABELS: dict[str, str] = {
    "pending": "等待汇总",
    "sent": "已发出",
    "held": "免打扰暂缓",
}
RECIPIENT_KINDS: dict[str, str] = {
    "person": "人员",
    "unit": "单位",
    "role": "职责角色",
    "channel": "群机器人/渠道",
}


@dataclass(frozen=True)
class Sensitivity:
    """When a count is a spike: a Poisson z-score bar, a ratio to the baseline mean, and a
    minimum count (so three posts instead of one is never a spike)."""

    z: float
    ratio: float
    min_count: int


SENSITIVITIES: dict[str, Sensitivity] = {
    "high": Sensitivity(z=2.0, ratio=1.5, min_count=5),
    "medium": Sensitivity(z=3.0, ratio=2.0, min_count=10),
    "low": Sensitivity(z=4.0, ratio=3.0, min_count=20),
}
SENSITIVITY_LABELS = {"high": "高（更早提醒）", "medium": "中", "low": "低（只报明显激增）"}

# (window, baseline windows): the last hour against the 12 before it; the last day
# against the 14 before it.
BASELINES: dict[str, tuple[int, int]] = {"hour": (60, 12), "day": (1440, 14)}
BASELINE_LABELS = {"hour": "最近 1 小时 对比 之前 12 小时", "day": "最近 1 天 对比 之前 14 天"}

# The five compliance categories (see RULES.md), with a few plain example words each; an
# institution edits the lists on the desk.
DEFAULT_CATEGORIES: list[tuple[str, str, list[str]]] = [
    ("constitution", "反对宪法基本原则", ["否定宪法", "反对宪法"]),
    ("security", "危害国家安全、损害国家荣誉和利益", ["泄露国家秘密", "危害国家安全"]),
    ("ethnic", "煽动民族仇恨、破坏民族团结", ["民族仇恨", "民族歧视"]),
    ("rumour", "散布谣言、扰乱社会秩序", ["造谣", "聚众闹事"]),
    ("other", "法律法规禁止的其他内容", ["网络赌博", "贩卖毒品"]),
]

SAMPLE_ITEMS = 5  # sample items kept in an explanation and shown in a message
DIGEST_ITEMS = 20  # items listed in one digest message
