"""Feeds, article pages and list pages parsed from small fixtures written for these tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from yuqing.sources.parsers import ParseError, extract_article, extract_links, parse_feed

FIXTURES = Path(__file__).parent / "fixtures"
FEED_URL = "https://news.example.edu.cn/rss.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rss20() -> None:
    feed = parse_feed(fixture("rss20.xml"), url=FEED_URL, content_type="application/rss+xml")
    assert (feed.title, feed.format, feed.warnings) == ("示例大学新闻网", "rss20", [])
    first, second, third = feed.items
    assert first.external_id == "news-1001"
    # The relative link is resolved against the feed URL.
    assert first.url == "https://news.example.edu.cn/info/1001/2024.htm"
    assert first.title == "我校举行2024年春季学期开学典礼"
    assert first.html == "<p>3月5日上午，开学典礼在体育馆举行。</p><p>校长致辞。</p>"
    assert first.author == "宣传部"
    assert first.published_at == datetime(2024, 3, 5, 0, 30)  # 08:30 +0800 in UTC
    assert first.raw is not None and first.raw["id"] == "news-1001"
    # No guid: the link is the id; a time without zone is Beijing time.
    assert second.external_id == second.url == "https://news.example.edu.cn/info/1002/2025.htm"
    assert second.published_at == datetime(2024, 3, 6, 2, 0)
    # No link and no guid: a stable hash of title and time.
    assert third.url is None
    assert third.external_id is not None and third.external_id.startswith("sha1:")
    again = parse_feed(fixture("rss20.xml"), url=FEED_URL).items[2]
    assert again.external_id == third.external_id


def test_rss10() -> None:
    feed = parse_feed(fixture("rss10.rdf"), url="https://city.example.gov.cn/rss")
    assert (feed.title, feed.format) == ("市政府信息公开", "rss10")
    [item] = feed.items
    assert item.url == "https://city.example.gov.cn/zwgk/2024/0301/123.html"
    assert item.title == "关于做好春季森林防火工作的通知"
    assert item.author == "市应急管理局"
    assert item.published_at == datetime(2024, 3, 1, 1, 15)


def test_atom() -> None:
    feed = parse_feed(fixture("atom.xml"), url="https://daily.example.com/feed")
    assert (feed.title, feed.format) == ("示例日报 · 要闻", "atom10")
    [item] = feed.items
    assert item.external_id == "tag:daily.example.com,2024:/a/88"
    assert item.url == "https://daily.example.com/a/88.html"
    assert item.html == "<p>十四届全国人大二次会议5日上午在人民大会堂开幕。</p>"
    assert item.author == "王芳"
    # No <published>: the updated time is used.
    assert item.published_at == datetime(2024, 3, 5, 3, 10)


def test_json_feed() -> None:
    feed = parse_feed(fixture("feed.json"), url="https://campus.example.cn/feed.json")
    assert (feed.title, feed.format) == ("校园快讯", "jsonfeed")
    assert feed.warnings == ["跳过了 1 个没有标题、链接或编号（或字段无效）的条目"]
    first, second = feed.items
    assert (first.external_id, first.url, first.title) == (
        "kx-7",
        "https://campus.example.cn/kx/7",
        "食堂新增夜宵窗口",
    )
    assert first.html == "<p>二食堂一楼新增夜宵窗口，营业至23点。</p>"
    assert first.author == "后勤处、学生会"
    assert first.published_at == datetime(2024, 3, 4, 13, 0)
    assert (second.external_id, second.url, second.html) == ("8", None, None)
    assert second.text == "本周六凌晨校园网停机维护两小时。"
    assert second.author == "网络中心"
    assert second.published_at == datetime(2024, 3, 6, 1, 0)


def _rss(title: str, item_title: str, declaration: str = "") -> str:
    return (
        f"{declaration}<rss version='2.0'><channel><title>{title}</title>"
        f"<item><title>{item_title}</title><link>https://example.cn/a/1.html</link>"
        "<pubDate>Tue, 05 Mar 2024 08:30:00 +0800</pubDate></item></channel></rss>"
    )


def test_gb2312_feed_encoded_in_gb18030() -> None:
    text = _rss(
        "中国新闻网·滚动新闻",
        "国务院常务会议部署稳就业工作",
        '<?xml version="1.0" encoding="gb2312"?>',
    )
    feed = parse_feed(text.encode("gb18030"), url=FEED_URL, content_type="text/xml")
    assert feed.title == "中国新闻网·滚动新闻"
    assert feed.items[0].title == "国务院常务会议部署稳就业工作"
    assert feed.warnings == []


def test_big5_feed_without_declaration() -> None:
    text = _rss("中央社即時新聞", "臺北市政府宣布擴大推動公共住宅計畫，預計明年完工")
    feed = parse_feed(text.encode("big5"), url=FEED_URL)
    assert feed.title == "中央社即時新聞"
    assert feed.items[0].title == "臺北市政府宣布擴大推動公共住宅計畫，預計明年完工"


def test_utf8_feed_that_declares_gb2312() -> None:
    text = _rss(
        "人民网·教育频道",
        "教育部发布高校毕业生就业指导意见",
        '<?xml version="1.0" encoding="gb2312"?>',
    )
    feed = parse_feed(
        text.encode("utf-8"), url=FEED_URL, content_type="application/xml; charset=gbk"
    )
    assert feed.title == "人民网·教育频道"
    assert feed.items[0].title == "教育部发布高校毕业生就业指导意见"


def test_html_at_feed_url_suggests_list_page() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(fixture("not_feed.html"), url=FEED_URL, content_type="text/html")
    assert caught.value.reason == (
        "返回的是网页而不是订阅源（RSS/Atom/JSON Feed）（网页标题：示例大学 - 新闻中心）；"
        "如果这是新闻栏目页，请把来源类型改为“列表页”"
    )


def test_malformed_xml_without_entries() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(fixture("malformed.xml"), url=FEED_URL)
    assert caught.value.reason.startswith("XML 格式错误：第 5 行：")


def test_broken_feed_with_entries_warns() -> None:
    body = _rss("坏了一半的源", "仍然可以读出的条目").replace(
        "</channel></rss>", "<bad & </channel>"
    )
    feed = parse_feed(body.encode(), url=FEED_URL)
    assert [item.title for item in feed.items] == ["仍然可以读出的条目"]
    assert len(feed.warnings) == 1
    assert feed.warnings[0].startswith("订阅源不规范：XML 格式错误：第 1 行：")
    assert feed.warnings[0].endswith("，已尽量解析")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "内容为空"),
        (b"  \r\n\t ", "内容为空"),
        (
            b'{"name": "app", "icons": []}',
            "返回的是 JSON 数据而不是 JSON Feed 订阅源（缺少 version 字段）",
        ),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', None),
        (
            b'{"version": "https://jsonfeed.org/version/1", "items": []}',
            "订阅源没有标题，也没有任何条目",
        ),
        (b"\x00\x01\x02binary\xff", "内容不是订阅源（RSS/Atom/JSON Feed）"),
    ],
)
def test_unusable_downloads(body: bytes, reason: str | None) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, url=FEED_URL)
    if reason is None:
        assert caught.value.reason.startswith("JSON 格式错误：第 1 行")
    else:
        assert caught.value.reason == reason


def test_content_type_does_not_decide_the_format() -> None:
    feed = parse_feed(fixture("atom.xml"), url=FEED_URL, content_type="application/json")
    assert feed.format == "atom10"
    feed = parse_feed(fixture("feed.json"), url=FEED_URL, content_type="text/html; charset=gbk")
    assert (feed.format, feed.title) == ("jsonfeed", "校园快讯")


def test_empty_but_valid_feed_is_not_an_error() -> None:
    body = b"<rss version='2.0'><channel><title>\xe6\x96\xb0\xe6\xa0\x8f\xe7\x9b\xae</title></channel></rss>"
    feed = parse_feed(body, url=FEED_URL)
    assert (feed.title, feed.items, feed.warnings) == ("新栏目", [], ["订阅源中暂时没有条目"])


def test_article_page() -> None:
    url = "https://news.example.cn/local/2024-03/05/c_1130.htm?from=rss"
    item = extract_article(fixture("article.html"), url=url, content_type="text/html")
    assert item.title == "我市启动春季植树造林行动"
    assert item.published_at == datetime(2024, 3, 5, 0, 30)  # 08:30 Beijing time
    assert item.author == "李明"
    assert item.url == url
    # The page's canonical link, in canonical form.
    assert item.external_id == "https://news.example.cn/local/2024-03/05/c_1130.htm"
    paragraphs = item.text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("3月5日上午，我市在城北生态公园举行春季植树造林行动启动仪式")
    assert paragraphs[3].endswith("严禁野外用火。")
    assert "版权所有" not in item.text
    assert item.raw is not None and item.raw["source_name"] == "新华网"


def test_article_fallbacks_from_meta_and_title() -> None:
    paragraph = "<p>" + "这是一段足够长的正文内容，用来测试从元数据中读取标题和时间。" * 3 + "</p>"
    page = (
        "<html><head><title>市政府召开常务会议 - 示例政府网</title>"
        '<meta name="author" content="张伟">'
        '<meta property="article:published_time" content="2024-03-05T10:00:00+08:00">'
        f"</head><body><div>{paragraph * 3}</div></body></html>"
    )
    item = extract_article(page.encode("gbk"), url="https://gov.example.cn/a/1.html")
    assert item.published_at == datetime(2024, 3, 5, 2, 0)
    assert item.author == "张伟"
    assert item.title == "市政府召开常务会议"
    assert item.text.startswith("这是一段足够长的正文内容")


@pytest.mark.parametrize(
    "body",
    [b"", "<html><head><title>空页面</title></head><body><nav>首页</nav></body></html>".encode()],
)
def test_article_without_body(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        extract_article(body, url="https://news.example.cn/a.html")
    assert caught.value.reason in ("内容为空", "页面中没有找到正文")


def test_list_page_links() -> None:
    links = extract_links(fixture("list.html"), url="https://news.example.edu.cn/xxyw/index.htm")
    assert links == [
        "https://news.example.edu.cn/info/1001/2024.htm",
        "https://news.example.edu.cn/info/1002/2025.htm",
        "https://jwc.example.edu.cn/2024/0306/c123a456/page.htm",
    ]
    assert extract_links(
        fixture("list.html"), url="https://news.example.edu.cn/xxyw/", limit=1
    ) == ["https://news.example.edu.cn/info/1001/2024.htm"]


def test_list_page_without_article_like_links_keeps_same_site_links() -> None:
    page = (
        b"<html><body><a href='/a'>A</a><a href='/b?id=2'>B</a><a href='/a#x'>A</a></body></html>"
    )
    links = extract_links(page, url="https://bbs.example.cn/forum")
    assert links == ["https://bbs.example.cn/a", "https://bbs.example.cn/b?id=2"]


def test_list_page_empty() -> None:
    with pytest.raises(ParseError) as caught:
        extract_links(b"", url="https://bbs.example.cn/forum")
    assert caught.value.reason == "内容为空"
