"""Default lookup data of the organisation, from the institution's rules (editable tables)."""

from __future__ import annotations

# (key, name, order): kinds of unit.
UNIT_KINDS: list[tuple[str, str, int]] = [
    ("institution", "学校/机构", 0),
    ("leading_group", "领导小组", 10),
    ("office", "机关教辅单位", 20),
    ("college", "学院", 30),
    ("section", "科室/系", 40),
]

# (key, name, order, description): duty roles a person may hold, several at once.
DUTY_ROLES: list[tuple[str, str, int, str]] = [
    ("core_commentator", "核心网评员", 10, "工作设计、重大舆情研判、指导下级"),
    ("backbone_commentator", "骨干网评员", 20, "处置与回应、指导基层网评员"),
    ("grassroots_commentator", "基层网评员", 30, "监看、报告、转发官方信息"),
    ("correspondent", "新闻通讯员", 40, "撰写并报送本单位新闻"),
    ("info_officer", "网络信息员", 50, "巡查本单位网站与账号，报告苗头性、倾向性、群体性问题"),
    ("unit_head", "单位负责人", 60, "本单位舆情工作第一责任人"),
    ("publicity_admin", "宣传部管理员", 70, "指导、协调、督促全校舆情工作"),
    ("publicity_editor", "宣传部编辑", 80, "复审本单位及各单位报送的稿件（三审三校）"),
    ("publicity_head", "宣传部负责人", 90, "终审稿件，审批媒体采访"),
]

# Quotas (定额) by kind of unit: (duty role key, unit kind key, fixed, one per N students).
# 骨干 2 per college and 1 per office; 1 correspondent and 1 information officer per unit;
# 基层 1 per 200 students of a college (RULES.md). Editable on the quota page.
QUOTAS_BY_KIND: list[tuple[str, str, int, int | None]] = [
    ("backbone_commentator", "college", 2, None),
    ("backbone_commentator", "office", 1, None),
    ("correspondent", "college", 1, None),
    ("correspondent", "office", 1, None),
    ("info_officer", "college", 1, None),
    ("info_officer", "office", 1, None),
    ("grassroots_commentator", "college", 0, 200),
]

# Core members (核心网评员) of named units: a rule is made for a unit of that name once it
# exists in the tree.
CORE_QUOTAS: dict[str, int] = {
    "党委宣传部": 2,
    "校团委": 2,
    "学生工作部": 2,
    "信息化中心": 2,
    "马克思主义学院": 4,
}
