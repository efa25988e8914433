"""Defaults of the institution's own voice (seeded as editable data) and its labels."""

from __future__ import annotations

# (key, name, order, is_default, due_working_days, publishable, is_interview)
KINDS: list[tuple[str, str, int, bool, float | None, bool, bool]] = [
    ("news", "新闻稿", 10, True, 1.0, True, False),
    ("statement", "官方声明/情况通报", 20, False, None, True, False),
    ("commentary", "署名评论", 30, False, None, True, False),
    ("interview", "媒体采访申请", 40, False, None, False, True),
]

# (key, name, order, duty role key, unit rule): 三审 for every publishable kind.
THREE_REVIEWS: list[tuple[str, str, int, str, str]] = [
    ("first", "初审", 10, "unit_head", "own"),
    ("second", "复审", 20, "publicity_editor", "any"),
    ("final", "终审", 30, "publicity_head", "any"),
]
# An interview request needs the publicity department's approval only.
INTERVIEW_REVIEWS: list[tuple[str, str, int, str, str]] = [
    ("approval", "宣传部审批", 10, "publicity_head", "any"),
]

STATES: dict[str, str] = {
    "draft": "草稿",
    "in_review": "审核中",
    "returned": "退回修改",
    "approved": "审核通过",
    "rejected": "不予采用",
    "published": "已发布",
    "unpublished": "已撤下",
}
OPEN_STATES = ("draft", "in_review", "returned", "approved")

ACTIONS: dict[str, str] = {
    "submit": "提交审核",
    "approve": "通过",
    "return": "退回修改",
    "reject": "不予采用",
    "publish": "发布",
    "unpublish": "撤下",
    "correct": "更正",
    "refused": "越权审核被拒绝",
}

# Channels a submission may name (the institution's own; nothing posts to other platforms).
CHANNELS: dict[str, str] = {
    "column": "工作台新闻栏目",
    "website": "学校官网（人工转发）",
    "wechat": "官方微信公众号（人工转发）",
    "weibo": "官方微博（人工转发）",
}

# Limits on what a submission may carry.
MAX_BODY_CHARS = 200_000
MAX_TITLE_CHARS = 300
# 8 MB: a phone photo (3–6 MB) goes in as taken; larger files are refused with the limit.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
# Attachments (附件): office files, PDFs, pictures and zips, checked by their first bytes.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ATTACHMENT_MAGIC: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "zip": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0",),
    "xls": (b"\xd0\xcf\x11\xe0",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG",),
}
LOCK_MINUTES = 30
REMIND_HOURS_BEFORE = 4  # the writer hears "due soon" this long before an item's deadline  # an editing lock older than this is taken over without a forced unlock

# The compliance pre-check: the five prohibited categories of RULES.md (starter words, to be
# filled by the institution) and the terms that must be written exactly.
WORD_LISTS: list[tuple[str, str, str, int, str]] = [
    ("constitution", "反对宪法确定的基本原则", "prohibited", 10, "反对宪法\n否定宪法"),
    (
        "security",
        "危害国家安全、损害国家荣誉和利益",
        "prohibited",
        20,
        "泄露国家秘密\n颠覆国家政权",
    ),
    ("ethnic", "煽动民族仇恨、民族歧视，破坏民族团结", "prohibited", 30, "民族仇恨\n民族歧视"),
    ("rumour", "散布谣言，扰乱社会秩序", "prohibited", 40, "散布谣言\n小道消息称"),
    ("other", "法律、行政法规和本单位规定禁止的其他内容", "prohibited", 50, ""),
    ("leaders", "领导姓名与职务（须准确书写）", "exact", 60, ""),
]
FLAG_KINDS: dict[str, str] = {
    "prohibited": "禁止内容",
    "sensitive": "敏感词",
    "exact": "疑似误写",
    "number": "数字变化",
    "date": "日期变化",
}

SUBMISSION_LINK = "/editorial/{id}"
PUBLIC_PATH = "/news"  # the column, served read-only from <data_dir>/editorial/site
