"""Fetching sources end to end: real local servers, a real database, the real parsers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.core.test_http import MB, StreamServer
from tests.support import LocalServer, Reply, Seen
from yuqing.core.database import new_session
from yuqing.core.settings import reset_settings_cache
from yuqing.mentions.models import Mention
from yuqing.sources import fetch
from yuqing.sources.models import FetchRun, Source
from yuqing.worker import collect

NOW = datetime(2024, 10, 1, 8, 0)
RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


def rss(*titles: str, base: str = "http://news.example.cn") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>{base}/a/{i}.html</link>"
        f"<description>{t}的详细内容。</description>"
        f"<pubDate>Tue, 01 Oct 2024 0{i % 8}:00:00 GMT</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>新闻网</title>{items}</channel></rss>"
    ).encode()


def article(title: str) -> bytes:
    paragraphs = "".join(
        f"<p>{title}。第{n}段：学校有关部门介绍了本次活动的安排、参与人员和后续工作计划，"
        f"并就师生关心的问题作了说明，欢迎大家积极参与。</p>"
        for n in range(1, 5)
    )
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>发布时间：2024-10-01 09:30</p>{paragraphs}</article></body></html>"
    ).encode()


def add_source(session: Session, url: str, *, kind: str = "rss", interval: int = 900) -> Source:
    source = Source(name=f"来源 {url}", kind=kind, url=url, interval_seconds=interval)
    session.add(source)
    session.commit()
    return source


def mention_count(session: Session, source: Source) -> int:
    query = select(func.count()).select_from(Mention).where(Mention.source_id == source.id)
    return session.execute(query).scalar_one()


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"YUQING_{key.upper()}", value)
    reset_settings_cache()


def test_rss_items_are_stored_and_the_run_recorded(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/feed"] = Reply(
        200, rss("学校召开工作会议", "新生开学典礼举行"), {"Content-Type": RSS}
    )
    source = add_source(session, http_server.url("/feed"))
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and run.http_status == 200 and run.error is None
    assert (run.items_seen, run.items_new, run.items_failed) == (2, 2, 0)
    assert mention_count(session, source) == 2
    assert source.count_new == 2
    assert source.last_success_at == NOW and source.last_attempt_at == NOW
    assert source.next_attempt_at == NOW + timedelta(seconds=900)
    assert source.consecutive_failures == 0 and source.last_content_hash


def test_conditional_get_304_records_a_run_and_adds_nothing(
    session: Session, http_server: LocalServer
) -> None:
    def feed(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"")
        return Reply(200, rss("学校召开工作会议"), {"Content-Type": RSS, "ETag": '"v1"'})

    http_server.routes["/feed"] = feed
    source = add_source(session, http_server.url("/feed"))
    collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert source.etag == '"v1"'
    later = NOW + timedelta(minutes=15)
    run = collect.fetch_source(session, source, now=later)
    session.commit()
    assert http_server.requests[1].headers["if-none-match"] == '"v1"'
    assert run.ok and run.not_modified and run.http_status == 304
    assert (run.items_seen, run.items_new) == (0, 0)
    assert session.execute(select(func.count()).select_from(FetchRun)).scalar_one() == 2
    assert mention_count(session, source) == 1
    assert source.etag == '"v1"' and source.next_attempt_at == later + timedelta(seconds=900)


def test_same_body_without_validators_is_not_parsed_again(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/feed"] = Reply(200, rss("学校召开工作会议"), {"Content-Type": RSS})
    source = add_source(session, http_server.url("/feed"))
    collect.fetch_source(session, source, now=NOW)
    run = collect.fetch_source(session, source, now=NOW + timedelta(minutes=15))
    session.commit()
    assert run.ok and run.content_unchanged and not run.not_modified
    assert run.items_seen == 0 and source.count_new == 1


def test_backoff_doubles_from_the_base_and_is_capped(
    session: Session, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, fetch_backoff_base_seconds="600", fetch_backoff_max_seconds="7200")
    http_server.routes["/feed"] = Reply(500, b"boom")
    source = add_source(session, http_server.url("/feed"), interval=900)
    waits = []
    for _ in range(6):
        run = collect.fetch_source(session, source, now=NOW)
        session.commit()
        assert not run.ok and run.http_status == 500
        waits.append((source.next_attempt_at - NOW).total_seconds())
    # max(interval, 600 * 2**(n-1)) capped at 7200
    assert waits == [900, 1200, 2400, 4800, 7200, 7200]
    assert source.consecutive_failures == 6
    assert source.last_error == f"服务器返回 HTTP 500（服务器内部错误）（{source.url}）"
    assert source.last_error_at == NOW and source.last_success_at is None


def test_backoff_numbers_with_default_settings() -> None:
    assert [fetch.backoff_seconds(n, 900) for n in (1, 4, 5, 6, 9, 10, 20)] == [
        900,
        900,
        960,
        1920,
        15360,
        21600,
        21600,
    ]
    assert fetch.backoff_seconds(1, 900, retry_after=3600) == 3600
    assert fetch.backoff_seconds(1, 900, retry_after=30) == 900
    assert fetch.backoff_seconds(1, 900, retry_after=10**9) == 7 * 86400


def test_retry_after_is_honoured_when_larger(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(429, b"", {"Retry-After": "5400"})
    source = add_source(session, http_server.url("/feed"))
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.http_status == 429 and "请求过于频繁" in (run.error or "")
    assert source.next_attempt_at == NOW + timedelta(seconds=5400)


def test_success_after_failures_resets_the_schedule(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/feed"] = Reply(503, b"")
    source = add_source(session, http_server.url("/feed"))
    collect.fetch_source(session, source, now=NOW)
    collect.fetch_source(session, source, now=NOW)
    http_server.routes["/feed"] = Reply(200, rss("学校召开工作会议"), {"Content-Type": RSS})
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and source.consecutive_failures == 0 and source.last_error is None
    assert source.last_error_at == NOW  # the last failure stays on record


def _seed(session: Session, http_server: LocalServer) -> Source:
    http_server.routes["/feed"] = Reply(
        200, rss("学校召开工作会议", "新生开学典礼举行"), {"Content-Type": RSS}
    )
    source = add_source(session, http_server.url("/feed"))
    collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert mention_count(session, source) == 2
    return source


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(500, b""), "HTTP 500"),
        (
            Reply(
                200, "<html><body><p>欢迎访问</p></body></html>".encode(), {"Content-Type": HTML}
            ),
            "网页",
        ),
        (Reply(200, b"", {"Content-Type": RSS}), "内容为空"),
    ],
)
def test_a_failing_fetch_keeps_what_was_stored(
    session: Session, http_server: LocalServer, reply: Reply, words: str
) -> None:
    source = _seed(session, http_server)
    http_server.routes["/feed"] = reply
    run = collect.fetch_source(session, source, now=NOW + timedelta(minutes=15))
    session.commit()
    assert not run.ok and words in (run.error or "")
    assert words in (source.last_error or "")
    assert mention_count(session, source) == 2 and source.count_new == 2
    assert source.consecutive_failures == 1


def test_an_html_page_as_feed_says_so(session: Session, http_server: LocalServer) -> None:
    page = (
        "<html><head><title>新闻网</title></head><body><a href='/a/1.html'>新闻</a></body></html>"
    )
    http_server.routes["/feed"] = Reply(200, page.encode(), {"Content-Type": HTML})
    source = add_source(session, http_server.url("/feed"))
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert not run.ok and "不是订阅源" in (run.error or "")
    assert source.url in (source.last_error or "")


def test_malformed_xml_fails_the_run_and_keeps_items(
    session: Session, http_server: LocalServer
) -> None:
    source = _seed(session, http_server)
    broken = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>\xe5\x9d\x8f</title><item><<<'
    )
    http_server.routes["/feed"] = Reply(200, broken, {"Content-Type": RSS})
    run = collect.fetch_source(session, source, now=NOW + timedelta(minutes=15))
    session.commit()
    assert not run.ok and run.error
    assert mention_count(session, source) == 2


def test_a_gbk_feed_is_read_as_chinese(session: Session, http_server: LocalServer) -> None:
    body = rss("学校召开工作会议", "图书馆延长开放时间").decode().replace("utf-8", "gbk")
    http_server.routes["/feed"] = Reply(200, body.encode("gbk"), {"Content-Type": "text/xml"})
    source = add_source(session, http_server.url("/feed"))
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and run.items_new == 2
    titles = set(session.execute(select(Mention.title)).scalars())
    assert titles == {"学校召开工作会议", "图书馆延长开放时间"}


def test_a_page_source_stores_one_article(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/news/2024/1001.html"] = Reply(
        200, article("学校举行秋季运动会"), {"Content-Type": HTML}
    )
    source = add_source(session, http_server.url("/news/2024/1001.html"), kind="page")
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and (run.items_seen, run.items_new) == (1, 1)
    stored = session.execute(select(Mention)).scalar_one()
    assert stored.title == "学校举行秋季运动会" and "第2段" in stored.text


def list_page(links: list[tuple[str, str]]) -> bytes:
    anchors = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return (
        "<html><head><title>学校要闻</title></head><body>"
        '<nav><a href="/">首页</a><a href="/about.html">学校概况</a></nav>'
        f"<ul>{anchors}</ul></body></html>"
    ).encode()


ARTICLES = [
    ("/news/2024/1001.html", "学校举行秋季运动会开幕式"),
    ("/news/2024/1002.html", "图书馆推出夜间自习服务"),
    ("/news/2024/1003.html", "学院师生赴乡村开展调研"),
]


def test_a_list_page_follows_its_articles_one_level(
    session: Session, http_server: LocalServer
) -> None:
    http_server.routes["/news/"] = Reply(200, list_page(ARTICLES), {"Content-Type": HTML})
    for path, title in ARTICLES:
        http_server.routes[path] = Reply(200, article(title), {"Content-Type": HTML})
    source = add_source(session, http_server.url("/news/"), kind="list")
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and (run.items_seen, run.items_new, run.items_failed) == (3, 3, 0)
    titles = set(session.execute(select(Mention.title)).scalars())
    assert titles == {title for _, title in ARTICLES}
    fetched = [r.path for r in http_server.requests]
    assert sorted(fetched) == sorted(["/news/", *[p for p, _ in ARTICLES]])

    # A new article appears: only it is fetched, the stored three are skipped.
    more = [*ARTICLES, ("/news/2024/1004.html", "学校发布新学期校历安排")]
    http_server.routes["/news/"] = Reply(200, list_page(more), {"Content-Type": HTML})
    http_server.routes[more[-1][0]] = Reply(200, article(more[-1][1]), {"Content-Type": HTML})
    http_server.requests.clear()
    run = collect.fetch_source(session, source, now=NOW + timedelta(minutes=15))
    session.commit()
    assert (run.items_seen, run.items_new, run.items_skipped) == (4, 1, 3)
    assert [r.path for r in http_server.requests] == ["/news/", "/news/2024/1004.html"]


def test_one_broken_article_is_one_failed_item(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/news/"] = Reply(200, list_page(ARTICLES), {"Content-Type": HTML})
    http_server.routes[ARTICLES[0][0]] = Reply(200, article(ARTICLES[0][1]), {"Content-Type": HTML})
    http_server.routes[ARTICLES[1][0]] = Reply(404, b"gone")
    http_server.routes[ARTICLES[2][0]] = Reply(
        200, b"<html><body></body></html>", {"Content-Type": HTML}
    )
    source = add_source(session, http_server.url("/news/"), kind="list")
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert run.ok and (run.items_seen, run.items_new, run.items_failed) == (3, 1, 2)
    assert source.count_failed == 2 and source.consecutive_failures == 0
    assert "HTTP 404" in (run.error or "")
    # A failure that may pass (the 404) means the list page is read again next time.
    assert source.last_content_hash is None


@pytest.fixture
def big_feed() -> Iterator[StreamServer]:
    server = StreamServer(50 * MB, declare_length=False)
    yield server
    server.stop()


def test_a_50_mb_feed_is_refused_and_nothing_is_lost(
    session: Session, http_server: LocalServer, big_feed: StreamServer
) -> None:
    source = _seed(session, http_server)
    source.url = big_feed.url("/feed")
    session.commit()
    run = collect.fetch_source(session, source, now=NOW + timedelta(minutes=15))
    session.commit()
    assert not run.ok and "响应超过 10 MB 上限，已中止" in (run.error or "")
    assert mention_count(session, source) == 2


def test_a_slow_server_is_a_timeout(
    session: Session, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, fetch_timeout_seconds="0.3")
    http_server.routes["/feed"] = Reply(
        200, rss("学校召开工作会议"), {"Content-Type": RSS}, delay=1
    )
    source = add_source(session, http_server.url("/feed"))
    run = collect.fetch_source(session, source, now=NOW)
    session.commit()
    assert not run.ok and "读取超时" in (run.error or "")


def test_run_due_fetches_only_due_sources(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/a"] = Reply(200, rss("学校召开工作会议"), {"Content-Type": RSS})
    http_server.routes["/b"] = Reply(200, rss("新生开学典礼举行"), {"Content-Type": RSS})
    due = add_source(session, http_server.url("/a"))
    later = add_source(session, http_server.url("/b"))
    off = add_source(session, http_server.url("/b"))
    due.next_attempt_at = NOW - timedelta(minutes=1)
    later.next_attempt_at = NOW + timedelta(minutes=5)
    off.next_attempt_at, off.enabled = NOW, False
    session.commit()
    seen: list[tuple[int, int, str]] = []
    runs = collect.run_due(now=NOW, progress=lambda d, t, n: seen.append((d, t, n)))
    assert [r.source_id for r in runs] == [due.id]
    assert seen == [(1, 1, due.name)]
    forced = collect.run_due(now=NOW, source_id=off.id, force=True)
    assert [r.source_id for r in forced] == [off.id] and forced[0].ok


def test_per_host_concurrency_is_capped(
    session: Session, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, fetch_concurrency="6", fetch_per_domain_concurrency="2")
    lock = threading.Lock()
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    peak_total = [0]

    def slow_feed(seen: Seen) -> Reply:
        host = seen.headers["host"].split(":")[0]
        with lock:
            active[host] = active.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), active[host])
            peak_total[0] = max(peak_total[0], sum(active.values()))
        time.sleep(0.25)
        with lock:
            active[host] -= 1
        return Reply(200, rss(f"学校新闻第{seen.path[-1]}期"), {"Content-Type": RSS})

    sources = []
    for n in range(4):
        http_server.routes[f"/f{n}"] = slow_feed
        sources.append(add_source(session, http_server.url(f"/f{n}")))
        sources.append(add_source(session, f"http://localhost:{http_server.port}/f{n}"))
    runs = collect.run_due(now=NOW + timedelta(seconds=1))
    assert len(runs) == 8 and all(r.ok for r in runs), [r.error for r in runs]
    assert peak == {"127.0.0.1": 2, "localhost": 2}
    assert peak_total[0] > 2  # two hosts were fetched in parallel


def test_run_forever_stops_when_asked(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(200, rss("学校召开工作会议"), {"Content-Type": RSS})
    source = add_source(session, http_server.url("/feed"))
    stop = threading.Event()
    loop = threading.Thread(target=collect.run_forever, args=(stop,))
    loop.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with new_session() as check:
            if check.execute(select(func.count()).select_from(FetchRun)).scalar_one():
                break
        time.sleep(0.05)
    stop.set()
    loop.join(timeout=3)
    assert not loop.is_alive()
    with new_session() as check:
        stored = check.get(Source, source.id)
        assert stored is not None and stored.count_new == 1


def test_a_push_source_is_not_fetched(session: Session, push_source: Source) -> None:
    with pytest.raises(ValueError, match="没有可抓取的地址"):
        collect.fetch_source(session, push_source, now=NOW)
    assert collect.run_due(now=NOW) == []
