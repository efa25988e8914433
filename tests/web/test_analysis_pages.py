"""The analysis in the desk on the real app and database: filters, row badges, the 分析 panel."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.analysis import service as analysis_service
from yuqing.core.audit import Actor
from yuqing.mentions.models import Mention
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline

# (title, text) written for these tests; the pipeline finds places, sentiment and schemes.
ITEMS = [
    (
        "南京某高校食堂饭菜发霉<img src=x onerror=alert(1)>",
        "学生集体腹泻，校方至今没有回应，家长十分愤怒，称食堂<管理>混乱 & 无人负责",
    ),
    ("杭州一所大学举办校园开放日", "师生热情接待来访家长，现场气氛热烈，学生纷纷点赞"),
    ("学校发布停水通知", "明日上午宿舍区停水，请同学们提前储水"),
    ("网友爆料广州某高校宿舍楼失修", "墙皮脱落，安全隐患严重，学生投诉无门"),
    ("成都某学院学生获全国大赛一等奖", "为学校争光，值得祝贺"),
]
FIRE = (
    "今天下午三点左右，学校图书馆三楼东侧阅览室突然起火，现场浓烟滚滚，"
    "消防车赶到后很快将火扑灭，目前没有人员受伤，起火原因正在调查之中。"
)


@dataclass
class Desk:
    """The seeded desk: mention ids in ``ITEMS`` order, the scheme, the near-duplicate pair."""

    ids: list[int]
    scheme_id: int
    fire: int
    fire_copy: int


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


@pytest.fixture
def desk(session: Session, push_source: Source) -> Desk:
    scheme = schemes.create(
        session, scheme_in=SchemeIn(name="后勤<保障>", subject_words="食堂 宿舍", weight=3)
    )
    session.commit()
    items = [
        {"id": f"i{n}", "title": t, "text": b, "time": f"2024-05-{n + 1:02d}T09:00:00+08:00"}
        for n, (t, b) in enumerate(ITEMS)
    ]
    ids = [
        o.mention_id or 0
        for o in pipeline.process(session, source=push_source, items=items).outcomes
    ]
    fire = pipeline.process(
        session, source=push_source, items=[{"id": "f1", "title": "图书馆起火", "text": FIRE}]
    )
    repost = pipeline.process(
        session,
        source=push_source,
        items=[{"id": "f2", "title": "转：图书馆起火", "text": "转发微博 " + FIRE + "太吓人了"}],
    )
    session.commit()
    return Desk(
        ids, scheme.id, fire.outcomes[0].mention_id or 0, repost.outcomes[0].mention_id or 0
    )


def _listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<h2 class="item-title"><a href="/mentions/(\d+)">', html)}


def _body(page: str) -> str:
    start = page.index('<div class="body">')
    return page[start : page.index("</div>", start)]


def _where(session: Session, condition: str, **values: object) -> set[int]:
    """Listed stream rows (no near-duplicate members) meeting ``condition``."""
    query = f"SELECT id FROM mention WHERE near_group_id IS NULL AND ({condition})"
    return set(session.scalars(text(query), values))


def test_each_filter_narrows_the_stream_and_the_search(
    client: TestClient, session: Session, desk: Desk
) -> None:
    everyone = _where(session, "1 = 1")
    assert _listed(client.get("/").text) == everyone
    cases = [
        ("sentiment=negative", _where(session, "sentiment = 'negative'")),
        ("sentiment=positive", _where(session, "sentiment = 'positive'")),
        ("min_risk=60", _where(session, "risk_score >= 60")),
        ("province=320000", {desk.ids[0]}),  # 南京 → 江苏
        ("province=440000", {desk.ids[3]}),  # 广州 → 广东
        (f"scheme_id={desk.scheme_id}", {desk.ids[0], desk.ids[2], desk.ids[3]}),
        ("sentiment=negative&province=440000", {desk.ids[3]}),
    ]
    for query, expected in cases:
        assert _listed(client.get(f"/?{query}").text) == expected, query
        assert _listed(client.get(f"/stream?{query}").text) == expected, query
        found = client.get(f"/search?q=学&{query}").text
        assert _listed(found) == expected & _where(session, "search_text LIKE '%学%'"), query
    assert everyone - _where(session, "sentiment = 'negative'")  # the sentiment case narrowed
    assert _where(session, "risk_score >= 60") < everyone
    # Values that are not offered are ignored rather than refused.
    assert _listed(client.get("/?province=999999&sentiment=bad&min_risk=x").text) == everyone


def test_filters_are_kept_in_the_form_the_poll_and_the_pages(
    client: TestClient, session: Session, push_source: Source
) -> None:
    scheme = schemes.create(session, scheme_in=SchemeIn(name="食堂", subject_words="食堂"))
    session.commit()
    clauses = [
        f"第{n}条意见说{w}" for n, w in enumerate("饭菜涨价窗口排队卫生差服务态度份量少油腻难吃")
    ]
    rng = random.Random(7)
    items = [
        {"id": f"p{n}", "title": f"食堂投诉{n}", "text": "，".join(rng.sample(clauses, 6))}
        for n in range(23)
    ]
    pipeline.process(session, source=push_source, items=items)
    session.commit()
    expected = _where(session, "risk_score >= 40")
    assert len(expected) > 20, "enough rows for a second page"
    query = f"scheme_id={scheme.id}&province=&min_risk=40"
    page = client.get(f"/?{query}").text
    kept = f"min_risk=40&amp;scheme_id={scheme.id}"
    assert f'hx-get="/stream?{kept}"' in page  # the poll keeps the filters
    assert f'href="/?{kept}&amp;page=2"' in page  # and so does the next page
    second = client.get(f"/?min_risk=40&scheme_id={scheme.id}&page=2").text
    assert _listed(page) | _listed(second) == expected
    assert f'共 <strong>{len(expected)}</strong> 条信息<span class="filtered">（已筛选' in second
    assert re.search(rf'<option value="{scheme.id}" selected>食堂</option>', page)
    assert '<option value="40" selected>≥ 40</option>' in page
    assert 'hx-push-url="true"' in page
    fragment = client.get(f"/?{query}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="stream-list"')
    assert fragment.headers["vary"] == "HX-Request"
    # The address bar shows the filters that apply, not the form's empty fields.
    assert fragment.headers["hx-push-url"] == f"/?min_risk=40&scheme_id={scheme.id}"
    found = client.get("/search?q=食堂&sentiment=&min_risk=40", headers={"HX-Request": "true"})
    assert found.headers["hx-push-url"] == "/search?min_risk=40&q=%E9%A3%9F%E5%A0%82"
    restore = client.get(
        f"/?{query}", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text
    searched = client.get(f"/search?q=食堂&scheme_id={scheme.id}&sentiment=negative").text
    assert '<option value="negative" selected>负面</option>' in searched


def test_rows_show_sentiment_risk_regions_and_similar_badges(
    client: TestClient, session: Session, desk: Desk
) -> None:
    first = session.get(Mention, desk.ids[0])
    assert first is not None and first.sentiment and first.risk_score is not None
    names = {"positive": "正面", "neutral": "中性", "negative": "负面"}
    colour = next(c for c in (80, 60, 40, 0) if first.risk_score >= c)
    for html in (client.get("/").text, client.get("/search?q=南京").text):
        row = html[html.index(f'href="/mentions/{first.id}"') :]
        row = row[: row.index("</li>")]
        badge = (
            f'<span class="senti senti-{first.sentiment}" title="{names[first.sentiment]}概率 '
            f'{first.sentiment_score:.2f}">{names[first.sentiment]}</span>'
        )
        assert badge in row
        assert f'<span class="risk risk-{colour}"' in row and f"<b>{first.risk_score}</b>" in row
        assert f'<span class="regions" title="文中提到的地域">{first.regions}</span>' in row
        assert "江苏省" in (first.regions or "")
    stream = client.get("/").text
    assert f'href="/mentions/{desk.fire}/similar">相似 1 条' in stream
    assert f'href="/mentions/{desk.fire_copy}"' not in stream
    analysis_service.record_label(
        session, mention_id=desk.ids[1], label="negative", actor=Actor(None, "张三")
    )
    session.commit()
    corrected = client.get("/").text
    assert re.search(r'class="senti senti-negative" title="人工校正">负面', corrected)


def test_risk_colours_follow_the_steps(client: TestClient, session: Session, desk: Desk) -> None:
    for score, colour in [(85, 80), (80, 80), (65, 60), (40, 40), (39, 0), (0, 0)]:
        session.execute(
            text("UPDATE mention SET risk_score = :s WHERE id = :id"),
            {"s": score, "id": desk.ids[4]},
        )
        session.commit()
        html = client.get("/").text
        assert f'<span class="risk risk-{colour}" title="风险分 {score}（满分 100）' in html, score


def test_mention_page_explains_the_analysis(
    client: TestClient, session: Session, desk: Desk
) -> None:
    mention = session.get(Mention, desk.ids[0])
    assert mention is not None
    page = client.get(f"/mentions/{mention.id}").text
    analysis = page[page.index('id="analysis"') :]
    # Risk parts as a table: name, points, reason, adding up to the score.
    assert (
        '<th scope="col">名称</th><th scope="col" class="num">分值</th><th scope="col">原因</th>'
        in analysis
    )
    parts = re.findall(
        r'<tr(?: class="minus")?><td>(.*?)</td><td class="num">(-?\d+)</td><td>(.*?)</td></tr>',
        analysis,
    )
    assert ("监测方案", "25", "命中 1 个方案，权重合计 3") in parts
    assert any(name == "负面情感" and reason.startswith("负面概率 ") for name, _, reason in parts)
    assert sum(int(points) for _, points, _ in parts) == mention.risk_score
    # Places named, with their level.
    assert re.search(
        r'<span class="place-name">南京市</span><span class="level level-city">地市级</span>',
        analysis,
    )
    assert '<span class="code">320100</span>' in analysis
    # The scheme and its words rendered with the page (no second request), escaped.
    assert 'hx-get="/schemes/mention/' not in page
    assert "后勤&lt;保障&gt;" in analysis and "<保障>" not in page
    assert "<mark>食堂</mark>" in analysis
    # The matched word is marked in the body, whose other text stays text.
    assert "称<mark>食堂</mark>&lt;管理&gt;混乱 &amp; 无人负责" in _body(page)
    assert "<img src=x" not in page and "食堂饭菜发霉&lt;img src=x onerror=alert(1)&gt;" in page
    # Sentiment with its probability and the correction form, still posting to its route.
    assert f"（模型概率 {mention.sentiment_score:.2f}）" in analysis
    assert f'action="/mentions/{mention.id}/sentiment"' in analysis


def test_mention_page_marks_scheme_words_in_the_body_and_shows_a_correction(
    client: TestClient, session: Session, desk: Desk
) -> None:
    title_page = client.get(f"/mentions/{desk.ids[2]}").text
    assert "<p>明日上午<mark>宿舍</mark>区停水，请同学们提前储水</p>" in _body(title_page)
    unmatched = client.get(f"/mentions/{desk.ids[1]}").text
    assert "<mark>" not in _body(unmatched)
    token = re.search(r'name="csrf_token" value="([^"]+)"', title_page)
    assert token
    answer = client.post(
        f"/mentions/{desk.ids[2]}/sentiment",
        data={"csrf_token": token.group(1), "label": "negative"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    after = client.get(f"/mentions/{desk.ids[2]}").text
    assert "（人工校正）" in after
    assert "最近一次人工校正：publicity_user" in after


def test_mention_without_analysis_says_so(
    client: TestClient, session: Session, push_source: Source
) -> None:
    from yuqing.mentions.store import ingest

    result = ingest(session, source=push_source, items=[{"title": "未分析", "text": "正文"}])
    session.commit()
    page = client.get(f"/mentions/{result.outcomes[0].mention_id}").text
    assert "尚未评分。" in page and "正文中没有识别出地名。" in page
    assert "没有命中任何监测方案。" in page
