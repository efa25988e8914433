"""Defaults of assessment (editable data once seeded): credit weights, monthly tasks,
rubrics, training kinds, and the bulletin's schedule."""

from __future__ import annotations

# (key, name, points, order). Keys starting with "x_" are multipliers of a news story's
# points by its grade (RULES.md: a featured or published piece counts as two or three).
CREDIT_WEIGHTS: list[tuple[str, str, float, int]] = [
    ("news", "新闻稿件采用", 1.0, 10),
    ("x_featured", "精品/头条（倍数）", 2.0, 11),
    ("x_picked_up", "被校外媒体转载（倍数）", 3.0, 12),
    ("patrol", "巡查报告", 0.2, 20),
    ("report_case", "报送信息被立为处置单", 2.0, 30),
    ("report_important", "报送信息被标为重要", 1.0, 31),
    ("case_on_time", "处置单按时办结", 2.0, 40),
    ("case_late", "处置单超时（扣分）", -2.0, 41),
    ("training", "参加培训", 1.0, 50),
    ("manual", "人工加减分（表彰、奖励等）", 1.0, 60),
]
GRADES = {"": "普通", "featured": "精品/头条", "picked_up": "被转载"}

# What a monthly task counts: credit kinds grouped (a task of "news" counts every story).
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "news": ("新闻稿件", ("news",)),
    "patrol": ("巡查报告", ("patrol",)),
    "reports": ("报送信息被采用", ("report_case", "report_important")),
    "cases": ("处置单按时办结率", ("case_on_time", "case_late")),
    "training": ("参加培训", ("training",)),
}

# Default monthly tasks: (duty role key, metric, target). "cases" is a share: its target
# is 1 (every case on time), and a month without cases completes it.
TASKS: list[tuple[str, str, int]] = [
    ("correspondent", "news", 2),
    ("info_officer", "patrol", 20),  # a patrol report each working day
    ("backbone_commentator", "cases", 1),
    ("grassroots_commentator", "reports", 1),
    ("core_commentator", "training", 1),
]

# Rubric (completion weight, quality weight) per role; roles not named use DEFAULT_RUBRIC.
DEFAULT_RUBRIC = (0.7, 0.3)

TRAINING_KINDS = {
    "policy": "政策理论",
    "law": "法律法规",
    "media": "网络媒体",
    "skills": "实务技能",
    "experience": "经验交流",
}

# The bulletin of last month is made and sent on this day of the month, from this local
# time on (YUQING_BULLETIN_AT overrides the time), once.
BULLETIN_DAY = 1
BULLETIN_AT = "10:00"
BEST_PIECES = 5  # stories listed as the month's best
# Registration reminders: units that have not submitted hear this long before the deadline.
REMIND_BEFORE_HOURS = 48
