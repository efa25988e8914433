"""A month with 10,000 events: the monthly report stays short, ordered, fast and readable."""

from __future__ import annotations

import io
import time
from datetime import date, datetime, timedelta

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import insert
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.events.models import Event, EventMember
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.reports import service
from yuqing.reports.docx import to_docx
from yuqing.reports.html import to_html
from yuqing.reports.xlsx import to_xlsx
from yuqing.sources.models import Source

MONTH = date(2024, 5, 1)
NOW = datetime(2024, 6, 3, 1, 0)
EVENTS = 10_000
# Events given extra members in the month: id -> members in the month (ties on purpose,
# broken by heat, then by id).
HEAVY = {17: 40, 2300: 35, 4100: 35, 5555: 30, 6001: 30, 7002: 30, 8003: 25, 9004: 22}
HEAVY |= {120 + i: 20 - i for i in range(6)}  # 20, 19 … 15: only some make the cut
# Many members, but all in April: must not count for May.
APRIL_ONLY = 9999
SENTIMENTS = ("positive", "neutral", "negative")


def _title(event_id: int) -> str:
    return f"第{event_id}号事件：示范大学校园动态"


def _heat(event_id: int) -> float:
    return float(event_id % 97)


def _mention(mid: int, at: datetime, source_id: int) -> dict[str, object]:
    return {
        "id": mid,
        "source_id": source_id,
        "external_id": f"m{mid}",
        "url": f"https://bbs.example.cn/t/{mid}",
        "title": f"帖子{mid}",
        "text": f"示范大学第{mid}条信息，同学们在论坛上讨论校园生活。希望学校继续改进服务。",
        "published_at": at,
        "status": "new",
        "content_hash": mid,
        "sentiment": SENTIMENTS[mid % 3],
        "risk_score": mid % 101,
    }


def _fill(session: Session, source: Source) -> int:
    """Bulk-insert the month; returns the items published in it."""
    start, end = service.day_bounds(MONTH)[0], service.day_bounds(date(2024, 6, 1))[0]
    span = (end - start).total_seconds()
    mentions: list[dict[str, object]] = []
    members: list[dict[str, object]] = []
    first_of: dict[int, int] = {}

    def add(event_id: int, at: datetime) -> None:
        mid = len(mentions) + 1
        mentions.append(_mention(mid, at, source.id))
        members.append({"mention_id": mid, "event_id": event_id, "published_at": at})
        first_of.setdefault(event_id, mid)

    for event_id in range(1, EVENTS + 1):
        at = start + timedelta(seconds=span * (event_id - 1) / EVENTS)
        if event_id == APRIL_ONLY:
            for k in range(60):
                add(event_id, start - timedelta(hours=k + 1))
        else:
            add(event_id, at)
        for k in range(HEAVY.get(event_id, 1) - 1):
            add(event_id, at + timedelta(minutes=k + 1))
    session.execute(insert(Mention), mentions)
    session.execute(
        insert(Event),
        [
            {
                "id": eid,
                "title": _title(eid),
                "representative_id": first_of[eid],
                "first_mention_id": first_of[eid],
                "first_seen_at": start,
                "last_seen_at": end - timedelta(seconds=1),
                "heat": _heat(eid),
                "terms": "示范大学 校园",
            }
            for eid in range(1, EVENTS + 1)
        ],
    )
    session.execute(insert(EventMember), members)
    places = [
        {"mention_id": mid, "code": code, "level": "province", "name": name}
        for mid, (code, name) in zip(
            range(1, 301), [("110000", "北京市"), ("310000", "上海市")] * 150, strict=True
        )
    ]
    session.execute(insert(MentionPlace), places)
    session.commit()
    return sum(1 for m in members if m["event_id"] != APRIL_ONLY)


def test_month_of_ten_thousand_events(session: Session, push_source: Source) -> None:
    in_month = _fill(session, push_source)
    counts = {eid: HEAVY.get(eid, 1) for eid in range(1, EVENTS + 1) if eid != APRIL_ONLY}
    chosen = sorted(counts, key=lambda e: (-counts[e], -_heat(e), e))[: service.PERIOD_TOP_EVENTS]
    expected = sorted(chosen, key=lambda e: (-_heat(e), -counts[e], e))  # listed by heat

    began = time.perf_counter()
    content = service.monthly(session, day=MONTH, now=NOW)
    docx_bytes, xlsx_bytes = to_docx(content), to_xlsx(content)
    page = to_html(content)
    elapsed = time.perf_counter() - began
    assert elapsed < 20, f"10,000 个事件的月报用时 {elapsed:.1f} 秒"

    assert f"共监测到相关信息 {in_month} 条" in content.sections[0].paragraphs[0].text
    trend = content.sections[0].tables[0].rows
    assert len(trend) == 31 and sum(int(n) for _, n in trend) == in_month
    table = content.sections[1].tables[0]
    assert [row[1] for row in table.rows] == [_title(e) for e in expected]
    assert [row[2] for row in table.rows] == [counts[e] for e in expected]
    assert [row[0] for row in table.rows] == list(range(1, 11))  # the documented ten

    doc = Document(io.BytesIO(docx_bytes))
    grids = [[[c.text for c in r.cells] for r in t.rows] for t in doc.tables]
    events_grid = next(g for g in grids if g[0][:2] == ["序号", "事件"])
    assert len(events_grid) == service.PERIOD_TOP_EVENTS + 1
    assert events_grid[1][1] == _title(expected[0])

    book = load_workbook(io.BytesIO(xlsx_bytes))
    sheet_rows = list(book["热点事件"].iter_rows(values_only=True))
    assert len(sheet_rows) == service.PERIOD_TOP_EVENTS + 1
    assert [r[2] for r in sheet_rows[1:]] == [counts[e] for e in expected]
    assert sum(r[1] for r in list(book["每日信息量"].iter_rows(values_only=True))[1:]) == in_month

    # Readable: the top events are named, the other 9,990 are not listed.
    assert all(_title(e) in page for e in expected)
    assert _title(APRIL_ONLY) not in page and _title(1) not in page
    assert len(page) < 2_000_000


def test_a_units_version_of_the_month_is_built_on_request(
    session: Session, push_source: Source
) -> None:
    """A unit's reader gets the month built when it opens it: the same figures on items and
    events as the institution's, in about the time the institution's takes."""
    _fill(session, push_source)
    whole = service.monthly(session, day=MONTH, now=NOW)
    reader = Principal(
        user_id=0,
        username="unit",
        display_name="单位",
        role_key="unit_member",
        permissions=frozenset({"mentions.read", "cases.read"}),
        unit_id=1,
        visible_units=frozenset({1}),
    )
    began = time.perf_counter()
    mine = service.monthly(session, day=MONTH, now=NOW, reader=reader)
    elapsed = time.perf_counter() - began
    print(f"\n10,000 个事件的本单位版月报生成用时 {elapsed:.2f} 秒")
    assert elapsed < 20, f"本单位版月报用时 {elapsed:.1f} 秒"
    assert mine.title == whole.title + service.UNIT_VERSION
    assert mine.sections[:4] == whole.sections[:4]  # items, events, sources, negatives
