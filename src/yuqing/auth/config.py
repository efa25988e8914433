"""Permissions and the default account roles (stored as data, editable by an institution)."""

from __future__ import annotations

# Every permission the desk checks, with its Chinese label.
PERMISSIONS: dict[str, str] = {
    "mentions.read": "查看信息",
    "mentions.label": "更正情感标注",
    "sources.read": "查看信息源",
    "sources.manage": "管理信息源",
    "schemes.read": "查看监测方案",
    "schemes.manage": "管理监测方案",
    "org.read": "查看单位与人员",
    "org.manage": "管理单位与人员",
    "users.manage": "管理账号与权限",
    "audit.read": "查看审计日志",
    "models.manage": "训练与更换模型",
    "push": "通过接口推送信息",
    "notify.manage": "管理通知渠道",
    "alerts.manage": "管理预警规则",
    "cases.read": "查看舆情处置",
    "cases.report": "报送",
    "cases.manage": "研判、下发、审核、办结",
    "cases.handle": "本单位处置与反馈",
    "reports.manage": "生成、编辑与发送报告",
    # The whole institution's reports name every unit's cases; without it a reader gets
    # the version of its own units (docs/reports.md).
    "reports.all": "查看全校报告",
    # The team (docs/team.md): quotas, registration, changes, training, credit, bulletin.
    "team.read": "查看队伍建设与考核",
    "team.unit": "本单位登记与变更申报",
    "team.manage": "队伍管理、培训与考核（宣传部）",
    # The institution's own voice (docs/editorial.md): reviewing also needs the stage's duty
    # role; publishing, forced unlocks and the word lists belong to the publicity department.
    "editorial.read": "查看稿件",
    "editorial.write": "撰写与报送稿件",
    "editorial.review": "审核稿件（须在审核环节的职责内）",
    "editorial.manage": "发布、撤下、强制解锁与预检词表",
    # Backups, retention rules, erasure on request, pseudonymised export (docs/operations.md).
    "maintenance.manage": "备份、数据保留与个人信息删除",
}

# Permissions an upgrade split off an older one: on the first `yuqing init` after the
# upgrade, each existing role holding the older permission (and, when True, seeing every
# unit) gets the new one, so nobody loses what they could do; later changes stay.
SPLIT_FROM: dict[str, tuple[str, bool]] = {
    "reports.all": ("mentions.read", True),
    # The team pages (issue 16) grew out of the roster: whoever reads it reads the team,
    # whoever keeps a unit's people registers them, and the every-unit roster keepers (the
    # publicity office) run quotas, training and assessment.
    "team.read": ("org.read", False),
    "team.unit": ("org.manage", False),
    "team.manage": ("org.manage", True),
    # The editorial desk (issue 15): case readers read submissions, reporters file them,
    # handlers review in their stage's role, and the every-unit report keepers publish.
    "editorial.read": ("cases.read", False),
    "editorial.write": ("cases.report", False),
    "editorial.review": ("cases.handle", False),
    "editorial.manage": ("reports.manage", True),
}

_ALL = list(PERMISSIONS)
_READ = ["mentions.read", "sources.read", "schemes.read", "org.read"]

# (key, name, order, all_units, permissions). A role without all_units sees only its own
# unit (and the units below it) where data belongs to units: people now, cases later.
ROLES: list[tuple[str, str, int, bool, list[str]]] = [
    ("admin", "系统管理员", 0, True, _ALL),
    (
        "publicity",
        "宣传部（舆情办）",
        10,
        True,
        [p for p in _ALL if p not in {"users.manage", "audit.read", "maintenance.manage"}],
    ),
    (
        "leader",
        "领导（只读）",
        20,
        True,
        [*_READ, "cases.read", "reports.all", "team.read", "editorial.read"],
    ),
    (
        "unit_head",
        "单位负责人",
        30,
        False,
        [
            *_READ,
            "mentions.label",
            "org.manage",
            "cases.read",
            "cases.report",
            "cases.handle",
            "team.read",
            "team.unit",
            "editorial.read",
            "editorial.write",
            "editorial.review",
        ],
    ),
    (
        "unit_member",
        "单位成员",
        40,
        False,
        [
            "mentions.read",
            "org.read",
            "cases.read",
            "cases.report",
            "team.read",
            "editorial.read",
            "editorial.write",
        ],
    ),
]

# Sign-in limits (see docs/access.md, "Sign-in limits"). An account name tried from one
# address is paused after LOCKOUT_FAILURES wrong passwords in a row, for LOCKOUT_BASE_SECONDS
# doubled at each further pause (capped); other addresses are not affected. One address may
# fail ADDRESS_FAILURES times per ADDRESS_WINDOW_MINUTES over all names before it is paused
# too, and then it is refused before any password hashing.
LOCKOUT_FAILURES = 5
LOCKOUT_BASE_SECONDS = 60
LOCKOUT_MAX_SECONDS = 24 * 3600
ADDRESS_FAILURES = 30
ADDRESS_WINDOW_MINUTES = 15
# Failures and pauses older than this are forgotten (the delays start small again).
LOCKOUT_MEMORY_HOURS = 24
SESSION_IDLE_HOURS = 12
SESSION_MAX_DAYS = 7
MIN_PASSWORD_LENGTH = 10
# zxcvbn's score (0–4) a new password must reach: 3 means more than about 10^8 guesses.
MIN_PASSWORD_SCORE = 3
# Words a password of this desk must not be built on (besides the account's own names).
PASSWORD_CONTEXT_WORDS = ("yuqing", "舆情", "admin", "administrator")
