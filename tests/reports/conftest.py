"""Reports test data: a known day of items stored through the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.mentions.models import Mention
from yuqing.sources.models import Source
from yuqing.worker.pipeline import process

DAY = date(2024, 3, 5)  # the reported day (Asia/Shanghai)
NOW = datetime(2024, 3, 6, 1, 30)  # 09:30 local on the next day, naive UTC


@dataclass
class Known:
    source: Source
    on_day: int  # items of DAY
    day_before: int
    canteen_ids: list[int]


def item(
    ext: str, text: str, at: str, *, title: str = "", url: str | None = None
) -> dict[str, object]:
    return {
        "external_id": ext,
        "title": title,
        "text": text,
        "url": url or f"https://bbs.example.cn/t/{ext}",
        "published_at": at,
        "author": "网友",
    }


CANTEEN = [
    "示范大学第二食堂饭菜中发现异物，多名学生在论坛发帖反映。学校后勤处表示正在调查此事。",
    "有学生称示范大学第二食堂饭菜里吃出异物，后勤处回应会尽快核实。希望学校重视食品安全！",
    "示范大学第二食堂异物事件引发热议，学生要求公开调查结果。",
]
OTHERS = [
    "示范大学举办春季运动会，三千余名师生参加开幕式。",
    "示范大学图书馆延长开放时间至晚上十一点，受到同学欢迎。",
]


@pytest.fixture
def known(session: Session, push_source: Source) -> Known:
    rows = [
        item(f"c{i}", text, f"2024-03-05T{10 + i}:00:00+08:00", title="第二食堂饭菜异物")
        for i, text in enumerate(CANTEEN)
    ]
    for row in rows[1:]:  # reposts of the first post: one event by their links
        row["root_external_id"] = row["parent_external_id"] = "c0"
    rows += [
        item(f"o{i}", text, f"2024-03-05T0{8 + i}:15:00+08:00") for i, text in enumerate(OTHERS)
    ]
    rows.append(
        item("b1", "示范大学召开教学工作会议，部署新学期工作。", "2024-03-04T09:00:00+08:00")
    )
    # 23:30 on the day before the reported day in UTC terms, but 07:30 local on DAY
    rows.append(
        item("edge", "示范大学校园开放日报名开始，欢迎考生参加。", "2024-03-04T23:30:00+00:00")
    )
    # After the reported day: must not be counted.
    rows.append(
        item("late", "示范大学迎来新一批交换生，开展欢迎活动。", "2024-03-06T00:10:00+08:00")
    )
    process(session, source=push_source, items=rows)
    session.commit()
    ids = session.execute(
        select(Mention.id).where(Mention.external_id.in_(["c0", "c1", "c2"])).order_by(Mention.id)
    ).scalars()
    return Known(
        source=push_source,
        on_day=len(CANTEEN) + len(OTHERS) + 1,
        day_before=1,
        canteen_ids=list(ids),
    )
