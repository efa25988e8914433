"""The desk's pages on the real app and a real database: what people see and what forms do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.support import LocalServer, Reply, desk_client
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


def _add(session: Session, source: Source, *items: dict[str, Any]) -> None:
    ingest(session, source=source, items=list(items))
    session.commit()


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="item-title"><a href="/mentions/\d+">(.*?)</a>', html)


def _token(client: TestClient) -> str:
    page = client.get("/sources")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the sources page carries a CSRF token"
    return match.group(1)


def _source_count(session: Session) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(Source)).scalar_one()


# ---- stream -------------------------------------------------------------------------------


def test_stream_lists_newest_first_with_duplicate_counts(
    client: TestClient, session: Session, push_source: Source
) -> None:
    other = Source(name="转载网", kind="push")
    session.add(other)
    session.commit()
    _add(
        session,
        push_source,
        {"title": "旧闻：图书馆延长开放", "text": "正文甲", "published_at": "2024-03-01 09:00"},
        {
            "title": "新闻：食堂调整价格",
            "text": "正文乙",
            "url": "https://news.example.cn/a/1",
            "author": "记者张三",
            "published_at": "2024-03-05 08:30",
        },
        {"title": "中间：校运会开幕", "text": "正文丙", "published_at": "2024-03-03 10:00"},
    )
    _add(
        session,
        other,
        {"title": "转：食堂调整价格", "text": "另一份", "url": "https://news.example.cn/a/1"},
    )

    page = client.get("/")

    assert page.status_code == 200
    assert _titles(page.text) == ["新闻：食堂调整价格", "中间：校运会开幕", "旧闻：图书馆延长开放"]
    assert "共 <strong>3</strong> 条信息" in page.text
    assert "另有 1 条重复" in page.text
    assert "2024-03-05 08:30" in page.text  # Beijing time, as published
    assert "记者张三" in page.text and "推送测试" in page.text and "推送接口" in page.text
    assert 'hx-trigger="every 15s"' in page.text


def test_stream_fragment_returns_only_the_list_with_new_items(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _add(session, push_source, {"title": "第一条", "text": "甲"})
    first = client.get("/stream")
    _add(session, push_source, {"title": "刚刚到达的一条", "text": "乙"})
    second = client.get("/stream")

    assert "<html" not in second.text and second.text.lstrip().startswith("<section")
    assert "刚刚到达的一条" not in first.text
    assert "刚刚到达的一条" in second.text
    assert 'hx-get="/stream"' in second.text  # keeps polling after the swap


def test_stream_filters_by_source_and_kind_and_pages(
    client: TestClient, session: Session, push_source: Source
) -> None:
    feed = Source(name="校园订阅", kind="rss", url="https://feed.example.cn/rss")
    session.add(feed)
    session.commit()
    _add(session, feed, {"title": "订阅来的信息", "text": "丙"})
    _add(
        session,
        push_source,
        *[
            {"title": f"推送第{i}条", "text": f"内容{i}", "published_at": f"2024-01-{i + 1:02d}"}
            for i in range(25)
        ],
    )

    by_source = client.get(f"/?source_id={feed.id}")
    by_kind = client.get("/?source_kind=push&source_id=")
    second_page = client.get("/?source_kind=push&page=2")

    assert _titles(by_source.text) == ["订阅来的信息"]
    assert "订阅来的信息" not in by_kind.text
    assert "共 <strong>25</strong> 条信息" in by_kind.text
    assert len(_titles(by_kind.text)) == 20
    assert _titles(second_page.text) == [f"推送第{i}条" for i in range(4, -1, -1)]
    assert "第 2 / 2 页" in second_page.text
    assert 'hx-trigger="every 15s"' not in second_page.text  # only the first page refreshes


# ---- search -------------------------------------------------------------------------------


def test_search_finds_and_highlights(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _add(
        session,
        push_source,
        {"title": "食堂饭菜涨价引发讨论", "text": "同学们认为食堂的饭菜价格偏高。"},
        {"title": "图书馆通知", "text": "寒假开放时间调整。"},
    )

    page = client.get("/search", params={"q": "食堂"})
    fragment = client.get("/search", params={"q": "食堂"}, headers={"HX-Request": "true"})

    assert page.status_code == 200
    assert "找到 <strong>1</strong> 条结果" in page.text
    assert "<mark>食堂</mark>饭菜涨价引发讨论" in page.text
    assert "同学们认为<mark>食堂</mark>的饭菜" in page.text
    assert "图书馆通知" not in page.text
    assert 'value="食堂"' in page.text  # the box keeps the query
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert "<html" not in fragment.text and "<mark>食堂</mark>" in fragment.text


def test_search_date_range_is_in_beijing_time(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _add(
        session,
        push_source,
        {"title": "深夜发布的通报", "text": "第一份通报", "published_at": "2024-03-05 23:30"},
        {"title": "次日凌晨的通报", "text": "第二份通报", "published_at": "2024-03-06 00:30"},
    )

    page = client.get("/search", params={"q": "通报", "start": "2024-03-05", "end": "2024-03-05"})

    assert "深夜发布的<mark>通报</mark>" in page.text
    assert "次日凌晨的" not in page.text
    assert "找到 <strong>1</strong> 条结果" in page.text


def test_invalid_query_and_date_show_chinese_messages(client: TestClient, engine: Any) -> None:
    punctuation = client.get("/search", params={"q": "！！？"})
    bad_date = client.get("/search", params={"q": "食堂", "start": "2024-13-45"})

    assert punctuation.status_code == 200
    assert "查询中没有可检索的汉字、字母或数字" in punctuation.text
    assert "不是有效日期" in bad_date.text


# ---- one mention --------------------------------------------------------------------------


def test_mention_page_escapes_stored_markup(
    engine: Any, session: Session, push_source: Source
) -> None:
    _add(
        session,
        push_source,
        {
            "title": "<script>alert('标题')</script>校园新闻",
            "text": "第一段<img src=x onerror=alert(1)>\n\n第二段 <script>alert(2)</script>",
            "url": "https://news.example.cn/p/9",
            "raw": {"html": "<script>alert(3)</script>", "作者": "王五"},
            "parent": "p-1",
            "root": "r-1",
        },
    )
    mention = session.execute(select(Mention)).scalar_one()

    with desk_client(engine, role="admin") as admin:  # who sees the raw payload too
        page = admin.get(f"/mentions/{mention.id}")

    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "onerror=alert" not in page.text or "&lt;img" in page.text
    assert "&lt;script&gt;alert(&#39;标题&#39;)&lt;/script&gt;校园新闻" in page.text
    assert re.search(r"<p>第一段.*</p>\s*<p>第二段", page.text)
    assert 'rel="noopener noreferrer nofollow"' in page.text and 'target="_blank"' in page.text
    assert "&#34;作者&#34;: &#34;王五&#34;" in page.text  # pretty JSON, escaped
    assert "r-1" in page.text and "p-1" in page.text


def test_duplicate_links_to_original_and_original_lists_it(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _add(session, push_source, {"title": "原文标题", "text": "同样的正文", "external_id": "a"})
    _add(session, push_source, {"title": "原文标题", "text": "同样的正文", "external_id": "b"})
    original, copy = session.execute(select(Mention).order_by(Mention.id)).scalars().all()
    assert copy.duplicate_of_id == original.id

    copy_page = client.get(f"/mentions/{copy.id}")
    original_page = client.get(f"/mentions/{original.id}")

    assert "这是一条重复转载" in copy_page.text
    assert f'href="/mentions/{original.id}"' in copy_page.text
    assert "重复转载（1）" in original_page.text
    assert f'href="/mentions/{copy.id}"' in original_page.text


def test_unknown_mention_is_a_chinese_404(client: TestClient, engine: Any) -> None:
    page = client.get("/mentions/424242")

    assert page.status_code == 404
    assert "找不到这条信息" in page.text and "424242" in page.text


# ---- sources ------------------------------------------------------------------------------


def test_sources_page_shows_counters_and_errors(
    client: TestClient, session: Session, push_source: Source
) -> None:
    broken = Source(
        name="坏掉的订阅",
        kind="rss",
        url="https://broken.example.cn/feed",
        count_new=12,
        count_duplicate=3,
        count_failed=7,
        last_error="服务器返回 503（暂时不可用）",
        last_error_at=datetime(2024, 3, 5, 1, 0),
        consecutive_failures=4,
        last_success_at=datetime(2024, 3, 4, 2, 0),
    )
    session.add(broken)
    session.commit()

    page = client.get("/sources")

    assert page.status_code == 200
    row = page.text[page.text.index(f'id="source-{broken.id}"') :]
    row = row[: row.index("</tr>")]
    assert re.search(r">12</td>\s*<td class=\"num\">3</td>\s*<td class=\"num\">7</td>", row)
    assert "服务器返回 503（暂时不可用）" in row and "连续失败 4 次" in row
    assert "2024-03-05 09:00" in row and "2024-03-04 10:00" in row
    assert "立即抓取" in row
    assert "推送测试" in page.text


def test_add_and_remove_a_source_through_the_form(client: TestClient, session: Session) -> None:
    token = _token(client)

    added = client.post(
        "/sources",
        data={
            "csrf_token": token,
            "name": "本校新闻网",
            "kind": "rss",
            "url": "https://news.example.edu.cn/rss.xml",
            "interval": "30",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    session.expire_all()
    source = session.execute(select(Source).where(Source.name == "本校新闻网")).scalar_one()
    assert (source.kind, source.interval_seconds) == ("rss", 1800)
    assert "已添加信息源“本校新闻网”" in client.get(added.headers["location"]).text

    removed = client.post(f"/sources/{source.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 200 and "已删除信息源" in removed.text
    assert _source_count(session) == 0


def test_add_source_form_shows_problems_in_chinese(client: TestClient, session: Session) -> None:
    token = _token(client)

    no_url = client.post("/sources", data={"csrf_token": token, "name": "缺地址", "kind": "rss"})
    bad = client.post(
        "/sources",
        data={"csrf_token": token, "name": "", "kind": "page", "url": "ftp://x", "interval": "0"},
    )

    assert no_url.status_code == 422
    assert "订阅源、网页和列表页来源需要地址" in no_url.text
    assert 'value="缺地址"' in no_url.text  # what was typed stays in the form
    assert "请填写名称" in bad.text
    assert "地址必须以 http:// 或 https:// 开头" in bad.text
    assert "抓取间隔应在 1 分钟到 7 天" in bad.text
    assert _source_count(session) == 0


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({}, None),  # no token at all
        ({}, "forged.token"),  # a token the desk never signed
        ({"Origin": "https://evil.example.com"}, "USE_REAL"),  # right token, foreign site
        ({"Referer": "https://evil.example.com/page"}, "USE_REAL"),
    ],
)
def test_forged_posts_are_refused_and_change_nothing(
    client: TestClient,
    session: Session,
    push_source: Source,
    headers: dict[str, str],
    field: str | None,
) -> None:
    real = _token(client)
    data = {"name": "伪造的来源", "kind": "push"}
    if field:
        data["csrf_token"] = real if field == "USE_REAL" else field

    create = client.post("/sources", data=data, headers=headers)
    remove = client.post(
        f"/sources/{push_source.id}/remove",
        data={"csrf_token": data.get("csrf_token", "")},
        headers=headers,
    )

    assert create.status_code == 403 and remove.status_code == 403
    assert "请求已拒绝" in create.text
    assert _source_count(session) == 1


def test_token_from_another_browser_is_refused(
    client: TestClient, session: Session, engine: Any
) -> None:
    stolen = _token(client)
    with desk_client(engine, username="other_user") as other:
        other.get("/sources")  # has its own cookie
        answer = other.post("/sources", data={"csrf_token": stolen, "name": "x", "kind": "push"})
    assert answer.status_code == 403
    assert _source_count(session) == 0


def test_fetch_now_reports_what_came_in(
    client: TestClient, session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/feed.xml"] = Reply(
        200,
        """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>校园</title>
        <item><title>运动会通知</title><link>https://c.example.cn/1</link>
        <description>本周五举行运动会。</description></item>
        <item><title>讲座预告</title><link>https://c.example.cn/2</link>
        <description>周三晚讲座。</description></item></channel></rss>""".encode(),
        {"Content-Type": "application/rss+xml; charset=utf-8"},
    )
    feed = Source(name="本地订阅", kind="rss", url=http_server.url("/feed.xml"))
    session.add(feed)
    session.commit()
    token = _token(client)

    answer = client.post(
        f"/sources/{feed.id}/fetch", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )

    assert answer.status_code == 200
    assert "新增 2 条" in answer.text, answer.text
    assert "<html" not in answer.text
    assert "运动会通知" in client.get("/").text


# ---- assets -------------------------------------------------------------------------------


def test_pages_load_nothing_from_other_hosts(
    client: TestClient, session: Session, push_source: Source
) -> None:
    _add(session, push_source, {"title": "外链检查", "text": "正文", "url": "https://x.example.cn"})
    for path in ("/", "/search?q=外链", "/mentions/1", "/sources", "/docs"):
        html = client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|svg))"', html)
        assert assets, path
        assert all(url.startswith("/static/") for url in assets), (path, assets)


def test_pages_work_without_the_vendored_htmx(
    client: TestClient, engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr("yuqing.pagekit.templating.HTMX_FILE", tmp_path / "absent.js")

    page = client.get("/search", params={"q": "食堂"})

    assert page.status_code == 200
    assert "htmx.min.js" not in page.text
    assert '<form class="search-form" action="/search" method="get"' in page.text
