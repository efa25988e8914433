"""Default grades, SLA clocks, status labels and escalation steps (seeded as editable data)."""

from __future__ import annotations

# Status keys and their labels, in the order of the main flow.
STATUSES: dict[str, str] = {
    "new": "新报送",
    "triaged": "研判",
    "assigned": "下发",
    "in_progress": "处置中",
    "returned": "退回补充",
    "feedback": "已反馈",
    "review": "已审核",
    "closed": "办结",
    "escalated": "上报",
    "reopened": "重新打开",
}
OPEN_STATUSES = [s for s in STATUSES if s != "closed"]

# Actions (the transition functions) and their labels, for buttons and the timeline.
ACTIONS: dict[str, str] = {
    "triage": "研判",
    "assign": "下发",
    "start": "开始处置",
    "give_feedback": "反馈",
    "accept": "审核通过",
    "return_for_more": "退回补充",
    "close": "办结",
    "escalate": "上报",
    "reopen": "重新打开",
}

# Events a clock may stop on besides a status: an official text recorded on the case.
CLOCK_EVENTS: dict[str, str] = {
    "info_published": "发布权威信息",
    "responded": "公开回应",
}

CLOCKS: dict[str, str] = {
    "acknowledge": "签收",
    "leader_report": "报告领导",
    "authoritative_info": "发布权威信息",
    "public_response": "公开回应",
    "unit_feedback": "单位反馈",
    "closure": "办结",
}

# (key, name, order, color, is_default): 一般/较大/重大/特别重大 with the warning colours.
GRADES: list[tuple[str, str, int, str, bool]] = [
    ("general", "一般", 10, "blue", True),
    ("larger", "较大", 20, "yellow", False),
    ("major", "重大", 30, "orange", False),
    ("severe", "特别重大", 40, "red", False),
]

# (clock, starts_on, stops_on, amount, unit, pause_when_returned). A clock whose start state
# has passed when the grade is set (at 研判) starts back-dated to that state's time.
_SERIOUS = [
    ("acknowledge", "assigned", "in_progress", 0.5, "hours", False),
    ("authoritative_info", "new", "info_published", 5, "hours", False),
    ("public_response", "new", "responded", 24, "hours", False),
]
SLA: dict[str, list[tuple[str, str, str, float, str, bool]]] = {
    "severe": _SERIOUS,
    "major": list(_SERIOUS),
    "larger": [
        ("acknowledge", "assigned", "in_progress", 1, "hours", False),
        ("unit_feedback", "assigned", "feedback", 12, "hours", False),
        ("public_response", "new", "responded", 48, "hours", False),
    ],
    "general": [
        ("unit_feedback", "assigned", "feedback", 12, "hours", False),
        ("closure", "new", "closed", 3, "working_days", True),
    ],
}

CLOCK_UNITS = {"hours": "小时", "working_days": "个工作日"}

# Reminders to the responsible person: (share of a clock's time, the timer column that
# records it was sent), earliest first. A late first look (the worker was down) sends only
# the latest reminder due and marks the earlier ones.
REMINDERS: tuple[tuple[float, str], ...] = ((0.5, "reminded_50_at"), (0.8, "reminded_80_at"))
# An overdue clock climbs one step per interval, step 1 at the deadline: (who is told, the
# label on the timeline): the unit head, the publicity office, the leading group (领导小组).
ESCALATION_INTERVAL_MINUTES = 30
ESCALATION_STEPS: tuple[tuple[str, str], ...] = (
    ("unit_head", "单位负责人"),
    ("publicity", "宣传部（舆情办）"),
    ("leading_group", "领导小组"),
)
PUBLICITY_DUTY_ROLE = "publicity_admin"
LEADING_GROUP_KIND = "leading_group"

# The desk page of a case, for links in notifications.
CASE_LINK = "/cases/{id}"
# Said instead of the handling unit's name to a viewer who may not see that unit (a unit
# that reported a case another unit handles): on the pages, the ledger and the reports.
HIDDEN_UNIT = "其他单位"
