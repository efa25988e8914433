"""Demo sources and a demo stream about a fictional university, written by this project."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts import service as alerts
from yuqing.alerts.schemas import RecipientRef, RuleIn, RuleParams
from yuqing.auth.models import User
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import utcnow
from yuqing.events import jobs as event_jobs
from yuqing.org import service as org
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources import service as sources
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, SourceIn
from yuqing.worker import pipeline

INSTITUTION = "江城大学"
DEMO_UNIT = "党委宣传部"
DEMO_OFFICER = "舆情值班员（示例）"
DEMO_RULE = "负面且风险高的信息（示例）"
DEMO_MIN_RISK = 60  # the rule editor's default bar for 风险高

DEMO_SOURCES: list[dict[str, Any]] = [
    {"name": "示例·舆情推送接口", "kind": "push"},
    {"name": "示例·平台导出文件", "kind": "import"},
    {
        "name": "示例·校园新闻网（RSS，未启用）",
        "kind": "rss",
        "url": "https://news.example.edu.cn/rss.xml",
        "enabled": False,
    },
]

# Story lines of a plausible week for a university publicity office: complaints that need an
# answer, praise, and the office's own notices. Every text here is written for the demo; names
# of people are left out on purpose.
_STORIES: list[tuple[str, str, list[str]]] = [
    (
        "宿舍楼夜间停电",
        "complaint",
        [
            "{i}南区三号宿舍楼昨晚十点突然停电，两个多小时没来电，不少同学在群里吐槽复习被打断。",
            "{i}宿舍又停电了，这学期已经是第三次，空调和热水都用不了，希望学校给个说法。",
            "{i}宿舍楼夜间停电，楼道漆黑一片，有同学下楼时差点摔倒，宿管电话一直打不通。",
        ],
    ),
    (
        "图书馆空调故障",
        "complaint",
        [
            "{i}图书馆三楼空调故障一个星期了，自习室闷热难耐，同学们只能去别处找座位。",
            "期末周{i}图书馆空调故障还没修好，报修多次没有回音，太影响复习了。",
        ],
    ),
    (
        "校园网频繁掉线",
        "complaint",
        [
            "{i}校园网晚上频繁掉线，网课和提交作业都受影响，同学们都在吐槽。",
            "{i}宿舍区校园网频繁掉线，打电话给网络中心一直占线，到底什么时候能解决？",
        ],
    ),
    (
        "研究生补贴发放延迟",
        "complaint",
        [
            "{i}研究生补贴发放延迟快两个月了，没有任何通知，不少同学生活费紧张。",
            "有研究生反映{i}本学期补贴发放延迟，问学院也没有得到明确答复，大家很着急。",
        ],
    ),
    (
        "食堂涨价",
        "complaint",
        [
            "{i}第二食堂部分菜品涨价，一份套餐贵了两元，而且没有提前公示，学生很不满。",
            "{i}食堂涨价没有提前公示，分量还变少了，同学们纷纷吐槽。",
        ],
    ),
    (
        "校运会圆满闭幕",
        "praise",
        [
            "{i}第六十届校运会圆满闭幕，多项校纪录被打破，赛场气氛热烈，为运动员们点赞！",
            "{i}校运会开幕式太精彩了，各学院方阵很有创意，志愿者服务也很贴心。",
        ],
    ),
    (
        "科研团队成果获国家奖励",
        "praise",
        [
            "{i}材料学院团队的研究成果获得国家科技进步二等奖，十年攻关终获认可，令人骄傲。",
            "祝贺{i}！科研团队成果获国家级奖励，网友纷纷点赞。",
        ],
    ),
    (
        "学校发布通知公告",
        "notice",
        [
            "{i}教务处发布通知：本学期期末考试安排已在教务系统公布，请同学们及时查询。",
            "{i}发布寒假放假安排，学生离校前需完成宿舍安全检查并关闭门窗电源。",
            "{i}后勤处通报：南区宿舍停电系线路老化所致，已连夜抢修，本周内完成线路改造。",
        ],
    ),
]

# Comments that reposts add, by the mood of the story they repost.
_REACTIONS = {
    "complaint": [
        "希望学校尽快回应。",
        "已经反映给辅导员了。",
        "同样遇到这个问题。",
        "求官方说明。",
        "身边同学都在讨论。",
        "什么时候能解决？",
        "太影响学习了。",
    ],
    "praise": ["点赞！", "为学校骄傲。", "太棒了！", "祝贺！", "身边同学都在转。"],
    "notice": ["收到。", "转给同学们看看。", "请大家留意。", ""],
}
_PLACES = {
    "complaint": ["", "据了解，", "有网友称，", "多位同学反映，", "论坛热帖显示，", "今天上午，"],
    "praise": ["", "近日，", "记者了解到，", "本周，"],
    "notice": ["", "近日，", "今天上午，"],
}

_AUTHORS = ["江城日报", "校园观察", "城市晚报", "江城发布", "热心网友", "学生论坛", "教育头条"]


def _items(rng: random.Random, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    items: list[dict[str, Any]] = []
    roots: dict[str, list[str]] = {}  # story → its original posts
    for n in range(count):
        story, mood, lines = _STORIES[n % len(_STORIES)]
        line, reaction = rng.choice(lines).format(i=INSTITUTION), rng.choice(_REACTIONS[mood])
        text = rng.choice(_PLACES[mood]) + line  # an original post tells the story
        published = now - timedelta(minutes=rng.randint(5, 72 * 60))
        item: dict[str, Any] = {
            "external_id": f"demo-{n}",
            "title": story if n % 3 == 0 else "",
            "text": text,
            "author": rng.choice(_AUTHORS),
            "published_at": published.isoformat() + "+00:00",
            "url": f"https://bbs.example.cn/thread/{1000 + n}",
        }
        posts = roots.setdefault(story, [])
        if posts and n % 4 == 1:  # a repost or comment keeps the ids of its chain
            # Reposts gather on a story's first posts, as on a platform: one or two cascades.
            item["root_external_id"] = posts[0] if rng.random() < 0.75 else posts[:2][-1]
            item["parent_external_id"] = item["root_external_id"]
            item["text"] = "转发：" + line + reaction  # a repost adds its comment
        else:
            posts.append(item["external_id"])
        items.append(item)
    # Shared copies and special cases that the desk must handle well.
    items.append({**items[0], "external_id": "demo-copy-0"})
    items.append(
        {
            "external_id": "demo-traditional",
            "title": "江城大學校慶活動",
            "text": "江城大學舉辦校慶晚會，校友們在網路上分享回憶。",
            "author": "香港校友會",
            "published_at": (now - timedelta(hours=3)).isoformat() + "+00:00",
        }
    )
    return items


def _demo_alerts(session: Session) -> None:
    """A ready alert rule (负面且风险高 → the desk inbox of the publicity office), so a new desk
    shows alerts and the inbox has something in it. The bootstrap administrator, if it has no
    person yet, is linked to the demo's duty officer, so its inbox (and toasts) receive them."""
    org.ensure_defaults(session)  # the duty roles
    office = org.get_unit_by_name(session, name=DEMO_UNIT) or org.create_unit(
        session, name=DEMO_UNIT, actor=SYSTEM
    )
    officer = org.create_person(session, actor=SYSTEM, name=DEMO_OFFICER, unit_id=office.id)
    org.update_duty_roles(session, person=officer, role_keys=["publicity_admin"], actor=SYSTEM)
    admin = session.execute(select(User).where(User.username == "admin")).scalar_one_or_none()
    if admin is not None and admin.person_id is None:
        admin.person_id = officer.id
    scheme = schemes.create(
        session, scheme_in=SchemeIn(name=f"{INSTITUTION}（示例方案）", subject_words=[INSTITUTION])
    )
    alerts.create_rule(
        session,
        rule_in=RuleIn(
            name=DEMO_RULE,
            kind="scheme_hit",
            level="warning",
            params=RuleParams(scheme_ids=[scheme.id], hit_mode="risk", min_risk=DEMO_MIN_RISK),
            recipients=[RecipientRef(kind="unit", id=office.id)],
            cooldown_minutes=60,
        ),
    )


def load_demo(session: Session, *, items: int = 240, seed: int = 7) -> IngestResult | None:
    """Create the demo sources and stream once; returns ``None`` when they are already there."""
    if sources.get_by_name(session, name=DEMO_SOURCES[0]["name"]) is not None:
        return None
    created: list[Source] = [
        sources.create(session, source_in=SourceIn(**spec)) for spec in DEMO_SOURCES
    ]
    _demo_alerts(session)  # before the stream, so its high-risk complaints raise alerts
    result = pipeline.process(session, source=created[0], items=_items(random.Random(seed), items))
    event_jobs.merge_stories(session)  # the worker's periodic pass, run once here
    session.commit()
    return result
