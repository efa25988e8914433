"""Demo sources and a demo stream about a fictional university, written by this project."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from yuqing.core.timeutil import utcnow
from yuqing.events import service as events
from yuqing.mentions.schemas import IngestResult
from yuqing.sources import service as sources
from yuqing.sources.models import Source
from yuqing.sources.schemas import SourceIn
from yuqing.worker import pipeline

INSTITUTION = "江城大学"

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

# Story lines of a plausible week for a university publicity office. Every text here is
# written for the demo; names of people are left out on purpose.
_STORIES: list[tuple[str, list[str]]] = [
    (
        "食堂饭菜涨价引发学生讨论",
        [
            "{i}第二食堂部分菜品价格上调，有学生在论坛发帖称一份套餐涨了两元。",
            "有网友转发称{i}食堂涨价没有提前公示，希望学校说明原因。",
            "{i}后勤处回应：食材采购成本上涨，已对困难学生发放餐补。",
        ],
    ),
    (
        "宿舍楼夜间停电",
        [
            "昨晚{i}南区三号宿舍楼突然停电两个多小时，不少同学在群里吐槽。",
            "{i}宿舍停电原因初步查明为线路老化，维修人员连夜抢修。",
        ],
    ),
    (
        "科研团队成果获国家奖励",
        [
            "{i}材料学院团队的研究成果获得国家科技进步二等奖。",
            "祝贺{i}！团队十年攻关终获国家级奖励，网友纷纷点赞。",
        ],
    ),
    (
        "招生宣传视频走红",
        [
            "{i}新版招生宣传片上线三天播放量破百万，评论区一片好评。",
            "看完{i}的宣传片，高三学生表示想报考这所学校。",
        ],
    ),
    (
        "校园快递点排长队",
        [
            "{i}北门快递点排队超过一小时，学生建议增加取件窗口。",
            "有同学拍下{i}快递点排长队的视频，引发热议。",
        ],
    ),
]

_REACTIONS = [
    "大家怎么看？",
    "希望学校尽快回应。",
    "已经转给辅导员了。",
    "评论区说法不一。",
    "有图有真相。",
    "这件事值得关注。",
    "支持学校的做法。",
    "期待后续进展。",
    "身边同学都在讨论。",
    "求官方说明。",
    "点赞！",
    "不知道是不是真的。",
]
_PLACES = [
    "",
    "据了解，",
    "记者了解到，",
    "有网友称，",
    "今天上午，",
    "昨天下午，",
    "本周，",
    "近日，",
    "多位同学反映，",
    "论坛热帖显示，",
]

_AUTHORS = ["江城日报", "校园观察", "城市晚报", "江城发布", "热心网友", "学生论坛", "教育头条"]


def _items(rng: random.Random, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    items: list[dict[str, Any]] = []
    roots: dict[str, list[str]] = {}  # story → its original posts
    for n in range(count):
        story, lines = _STORIES[n % len(_STORIES)]
        line, reaction = rng.choice(lines).format(i=INSTITUTION), rng.choice(_REACTIONS)
        text = rng.choice(_PLACES) + line  # an original post tells the story
        published = now - timedelta(minutes=rng.randint(5, 72 * 60))
        item: dict[str, Any] = {
            "external_id": f"demo-{n}",
            "title": story if n % 3 == 0 else "",
            "text": text,
            "author": rng.choice(_AUTHORS),
            "published_at": published.isoformat() + "+00:00",
            "url": f"https://bbs.example.cn/thread/{1000 + n}?utm_source=demo",
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
    items.append(
        {
            "external_id": "demo-escaped",
            "title": "论坛帖子里的代码片段 <script>alert('x')</script>",
            "text": "有人在帖子里贴了 <script>alert('x')</script>，桌面应当原样显示为文字。",
            "author": "学生论坛",
        }
    )
    return items


def load_demo(session: Session, *, items: int = 240, seed: int = 7) -> IngestResult | None:
    """Create the demo sources and stream once; returns ``None`` when they are already there."""
    if sources.get_by_name(session, name=DEMO_SOURCES[0]["name"]) is not None:
        return None
    created: list[Source] = [
        sources.create(session, source_in=SourceIn(**spec)) for spec in DEMO_SOURCES
    ]
    result = pipeline.process(session, source=created[0], items=_items(random.Random(seed), items))
    events.merge_stories(session)  # the worker's periodic pass, run once here
    session.commit()
    return result
