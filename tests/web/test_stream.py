"""信息流 on the real app and a real database: time range, orders, platform, spread counts,
the account's 已读/重要 marks and the batch actions (mark, 开启处置, export)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, desk_client, make_user, sign_in
from yuqing.cases.models import Case, CaseMention
from yuqing.core import counting
from yuqing.core.audit import AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.mentions import platforms
from yuqing.mentions.models import Mention, MentionMark
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source
from yuqing.web.app import create_app


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="item-title"><a href="/mentions/\d+">(.*?)</a>', html)


def _token(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match, "the stream carries a CSRF token"
    return match.group(1)


def _ago(**delta: float) -> str:
    return (utcnow() - timedelta(**delta)).isoformat(" ") + "Z"


def _seed(session: Session, source: Source) -> dict[str, int]:
    """Five items at known ages, with counts, platforms and risk scores."""
    items = [
        {
            "id": "a",
            "title": "一小时前：食堂涨价",
            "text": "正文一",
            "url": "https://weibo.com/1/a",
            "published_at": _ago(hours=1),
            "reposts": 5,
            "comments": "1.2万",
            "likes": 3,
        },
        {
            "id": "b",
            "title": "三天前：宿舍停水",
            "text": "正文二",
            "url": "https://mp.weixin.qq.com/s/b",
            "published_at": _ago(days=3),
            "raw": {"reposts": "900", "comments": 10, "likes": 0},
        },
        {
            "id": "c",
            "title": "十天前：校运会",
            "text": "正文三",
            "url": "https://www.people.com.cn/n/c",
            "published_at": _ago(days=10),
            "likes": 50_000,
        },
        {
            "id": "d",
            "title": "二十小时前：教务处通知",
            "text": "正文四",
            "url": "https://jwc.example.gov.cn/d",
            "published_at": _ago(hours=20),
        },
        {
            "id": "e",
            "title": "五天前：论坛讨论",
            "text": "正文五",
            "url": "https://bbs.example.edu.cn/e",
            "published_at": _ago(days=5),
            "raw": {"site": "百度贴吧"},
        },
    ]
    ingest(session, source=source, items=items)
    session.commit()
    ids = {m.external_id: m.id for m in session.scalars(select(Mention))}
    for key, risk in {"a": 20, "b": 90, "c": 99, "d": 60}.items():
        session.execute(update(Mention).where(Mention.id == ids[key]).values(risk_score=risk))
    session.commit()
    assert ids.keys() == set("abcde")
    return ids


# ---- ingest: platform and counts ------------------------------------------------------------


def test_platform_comes_from_the_source_then_the_site_then_the_url_host() -> None:
    assert platforms.platform_of(configured="douyin", site="新浪微博", url=None) == "douyin"
    assert platforms.platform_of(configured=None, site="新浪微博", url=None) == "weibo"
    assert platforms.platform_of(configured=None, site=None, url="https://m.weibo.cn/x") == "weibo"
    assert platforms.platform_of(configured=None, site=None, url="https://www.zhihu.com/q") == (
        "zhihu"
    )
    assert platforms.platform_of(configured=None, site=None, url="https://tieba.baidu.com/p") == (
        "tieba"
    )
    assert platforms.platform_of(configured=None, site=None, url="http://edu.hubei.gov.cn") == "gov"
    assert platforms.platform_of(configured=None, site=None, url="https://bbs.x.cn/t") == "forum"
    assert platforms.platform_of(configured=None, site=None, url="https://a.example") == "other"
    assert platforms.platform_of(configured=None, site=None, url=None) == "other"
    assert set(platforms.known_hosts().values()) <= set(platforms.PLATFORMS)


def test_ingest_stores_platform_and_counts_from_fields_raw_and_source(
    session: Session, push_source: Source
) -> None:
    ids = _seed(session, push_source)
    rows = {m.external_id: m for m in session.scalars(select(Mention))}
    a, b, c, d, e = (rows[k] for k in "abcde")
    assert (a.platform, a.reposts, a.comments, a.likes, a.heat) == ("weibo", 5, 12_000, 3, 12_008)
    assert (b.platform, b.reposts, b.comments, b.likes, b.heat) == ("wechat", 900, 10, 0, 910)
    assert (c.platform, c.likes, c.heat) == ("news", 50_000, 50_000)
    assert (d.platform, d.reposts, d.heat) == ("gov", None, 0)
    assert e.platform == "tieba"  # the import's 来源 column wins over the bbs. host
    # A copy sent again with new counts updates them; one sent without counts keeps them.
    item = {"id": "a", "title": a.title, "text": a.text, "url": a.url, "reposts": 50}
    assert ingest(session, source=push_source, items=[item]).updated == 1
    item.pop("reposts")
    assert ingest(session, source=push_source, items=[item]).unchanged == 1
    session.commit()
    session.expire_all()
    again = session.get(Mention, ids["a"])
    assert again is not None and (again.reposts, again.comments, again.heat) == (50, 12_000, 12_053)
    # A source configured as 抖音 labels its items 抖音 whatever their links say.
    video = Source(name="抖音监测", kind="push", platform="douyin")
    session.add(video)
    session.commit()
    ingest(session, source=video, items=[{"title": "视频", "url": "https://weibo.com/v/1"}])
    session.commit()
    stored = session.scalars(select(Mention).where(Mention.source_id == video.id)).one()
    assert stored.platform == "douyin"


# ---- filters and orders ---------------------------------------------------------------------


def test_time_range_filters_the_stream(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _seed(session, push_source)
    assert len(_titles(client.get("/").text)) == 5
    assert _titles(client.get("/?range=24h").text) == [
        "一小时前：食堂涨价",
        "二十小时前：教务处通知",
    ]
    week = _titles(client.get("/?range=7d").text)
    assert week == [
        "一小时前：食堂涨价",
        "二十小时前：教务处通知",
        "三天前：宿舍停水",
        "五天前：论坛讨论",
    ]
    today = _titles(client.get("/?range=today").text)
    assert set(today) <= {"一小时前：食堂涨价", "二十小时前：教务处通知"}
    # 自定义: from–to dates, the end day included; dates alone imply the custom range.
    day = (utcnow() - timedelta(days=10)).date()
    custom = client.get(f"/?start={day - timedelta(days=1)}&end={day + timedelta(days=1)}")
    assert _titles(custom.text) == ["十天前：校运会"]
    bad = client.get("/?range=custom&start=2024-13-40")
    assert bad.status_code == 200
    assert "开始日期“2024-13-40”不是有效日期" in bad.text
    # The HTMX list keeps the range in the address and in the polling URL.
    fragment = client.get("/?range=7d&sort=heat", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Push-Url"] == "/?range=7d&sort=heat"
    assert 'hx-get="/stream?range=7d&amp;sort=heat"' in fragment.text


def test_orders_by_risk_and_heat_and_filters_by_platform(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _seed(session, push_source)
    by_risk = _titles(client.get("/?sort=risk").text)
    assert by_risk == [
        "十天前：校运会",
        "三天前：宿舍停水",
        "二十小时前：教务处通知",
        "一小时前：食堂涨价",
        "五天前：论坛讨论",  # no score: last
    ]
    assert _titles(client.get("/?sort=heat&range=7d").text) == [
        "一小时前：食堂涨价",
        "三天前：宿舍停水",
        "二十小时前：教务处通知",
        "五天前：论坛讨论",
    ]
    page = client.get("/?platform=wechat")
    assert _titles(page.text) == ["三天前：宿舍停水"]
    assert 'class="platform platform-wechat"' in page.text
    assert "转发 <b>900</b>" in page.text and "评论 <b>10</b>" in page.text
    assert _titles(client.get("/?platform=gov&range=24h").text) == ["二十小时前：教务处通知"]
    assert _titles(client.get("/?platform=nonsense").text).__len__() == 5  # unknown: dropped


def test_the_count_stops_at_the_cap(
    client: TestClient, session: Session, push_source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(session, push_source)
    monkeypatch.setattr(counting, "COUNT_CAP", 3)
    page = client.get("/")
    assert 'title="超过 3 条（列表只数到这里）">3+</span></strong> 条信息' in page.text
    assert len(_titles(page.text)) == 5  # the page itself is not capped
    assert "共 <strong>1</strong> 条信息" in client.get("/?platform=weibo").text


# ---- marks ----------------------------------------------------------------------------------


def test_opening_an_item_marks_it_read_for_this_account_only(
    engine: Any, client: TestClient, session: Session, push_source: Source
) -> None:
    ids = _seed(session, push_source)
    assert client.get("/?mark=unread").text.count('class="unread"') == 5
    assert client.get(f"/mentions/{ids['b']}").status_code == 200
    unread = _titles(client.get("/?mark=unread").text)
    assert "三天前：宿舍停水" not in unread and len(unread) == 4
    assert 'class="item is-read"' in client.get("/?platform=wechat").text
    make_user(engine, "second_reader")
    with TestClient(create_app()) as other:
        sign_in(other, "second_reader", TEST_PASSWORD)
        assert len(_titles(other.get("/?mark=unread").text)) == 5


def test_important_toggle_batch_marks_and_the_important_filter(
    engine: Any, client: TestClient, session: Session, push_source: Source
) -> None:
    ids = _seed(session, push_source)
    token = _token(client)
    answer = client.post(
        f"/mentions/{ids['c']}/important",
        data={"csrf_token": token, "next": "/?range=7d"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/?range=7d"
    assert _titles(client.get("/?mark=important").text) == ["十天前：校运会"]
    # HTMX gets the button back, switched off.
    swapped = client.post(
        f"/mentions/{ids['c']}/important",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert 'aria-pressed="false"' in swapped.text
    assert _titles(client.get("/?mark=important").text) == []
    batch = client.post(
        "/mentions/batch/marks",
        data={
            "csrf_token": token,
            "action": "important",
            "mention_ids": [str(ids["a"]), str(ids["d"]), "999999", "x"],
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert batch.status_code == 303 and batch.headers["location"] == "/"
    assert _titles(client.get("/?mark=important").text) == [
        "一小时前：食堂涨价",
        "二十小时前：教务处通知",
    ]
    client.post(
        "/mentions/batch/marks",
        data={"csrf_token": token, "action": "read", "mention_ids": [str(ids["a"])]},
    )
    session.expire_all()
    rows = {
        (m.mention_id, m.important, m.read_at is not None)
        for m in session.scalars(select(MentionMark))
    }
    assert rows == {(ids["a"], True, True), (ids["c"], False, False), (ids["d"], True, False)}
    # Marks belong to the account: another one sees none of them.
    make_user(engine, "second_marker")
    with TestClient(create_app()) as other:
        sign_in(other, "second_marker", TEST_PASSWORD)
        assert _titles(other.get("/?mark=important").text) == []
    nothing = client.post("/mentions/batch/marks", data={"csrf_token": token, "action": "read"})
    assert nothing.status_code == 422 and "没有选中信息" in nothing.text
    forged = client.post("/mentions/batch/marks", data={"action": "read", "mention_ids": ["1"]})
    assert forged.status_code == 403


# ---- batch: case and export -----------------------------------------------------------------


def test_batch_opens_one_case_with_every_selected_item(
    client: TestClient, session: Session, push_source: Source
) -> None:
    ids = _seed(session, push_source)
    picked = [str(ids["b"]), str(ids["a"])]
    answer = client.post(
        "/mentions/batch/case",
        data={"csrf_token": _token(client), "mention_ids": picked},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[-800:]
    case_id = int(answer.headers["location"].rsplit("/", 1)[1])
    case = session.get(Case, case_id)
    assert case is not None and case.title == "三天前：宿舍停水"
    linked = session.scalars(select(CaseMention.mention_id).where(CaseMention.case_id == case_id))
    assert set(linked) == {ids["a"], ids["b"]}
    again = client.post(
        "/mentions/batch/case",
        data={"csrf_token": _token(client), "mention_ids": picked},
        follow_redirects=False,
    )
    assert again.headers["location"] == f"/cases/{case_id}"  # the same case, not a second


def test_batch_export_writes_the_selected_items_neutralised_and_audited(
    client: TestClient, session: Session, push_source: Source
) -> None:
    ids = _seed(session, push_source)
    ingest(
        session,
        source=push_source,
        items=[{"id": "f", "title": '=HYPERLINK("http://x")', "text": "@SUM(1)\x01尾"}],
    )
    session.commit()
    formula = session.scalars(select(Mention.id).where(Mention.external_id == "f")).one()
    answer = client.post(
        "/mentions/batch/export",
        data={"csrf_token": _token(client), "mention_ids": [str(ids["b"]), str(formula)]},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0][:4] == ["序号", "标题", "平台", "信息源"]
    assert rows[1][1] == "三天前：宿舍停水" and rows[1][2] == "微信"
    assert rows[1][8:11] == [900, 10, 0]
    assert rows[2][1] == '\'=HYPERLINK("http://x")'
    assert rows[2][11] == "'@SUM(1)尾"
    assert "作者" not in rows[0]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert entry.object_type == "mention" and "2 条" in entry.summary


def test_pushed_counts_reach_the_stream_and_the_api(client: TestClient) -> None:
    body = {
        "source": "微博采集器",
        "items": [
            {
                "mid": "m1",
                "text": "学生反映食堂饭菜涨价",
                "url": "https://m.weibo.cn/status/m1",
                "reposts_count": 12,
                "comments_count": "3",
                "attitudes_count": "1.5万",
            }
        ],
    }
    pushed = client.post(
        "/api/v1/mentions", json=body, headers={"Authorization": "Bearer test-push-token"}
    )
    assert pushed.status_code == 200, pushed.text
    mention_id = pushed.json()["outcomes"][0]["mention_id"]
    shown = client.get(f"/api/v1/mentions/{mention_id}").json()
    assert (shown["platform"], shown["reposts"], shown["comments"], shown["likes"]) == (
        "weibo",
        12,
        3,
        15_000,
    )
    assert shown["heat"] == 15_015
    page = client.get("/?platform=weibo")
    assert "点赞 <b>15000</b>" in page.text


def test_an_imported_file_gives_counts_and_platform(
    client: TestClient, session: Session, push_source: Source, tmp_path: Any
) -> None:
    from yuqing.sources.importers import read_import_file

    export = tmp_path / "export.csv"
    export.write_text(
        "标题,正文,链接,平台,转发数,评论数,点赞数\n"
        "宿舍停水,三号楼停水一天,https://example.cn/p/1,小红书,7,8,9\n",
        encoding="utf-8",
    )
    batch = read_import_file(export)
    ingest(session, source=push_source, items=[item for _, item in batch.items])
    session.commit()
    stored = session.scalars(select(Mention)).one()
    assert (stored.platform, stored.reposts, stored.comments, stored.likes) == (
        "xiaohongshu",
        7,
        8,
        9,
    )
    assert _titles(client.get("/?platform=xiaohongshu").text) == ["宿舍停水"]
