"""The desk in a real headless Chromium against the real server: HTMX search, polling, forms,
no console errors and no request leaving 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, make_user, need, serving_app
from yuqing.mentions.store import ingest
from yuqing.pagekit.templating import HTMX_FILE
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(engine: Any) -> Iterator[str]:
    """The real app under uvicorn on a free 127.0.0.1 port, on the test database."""
    with serving_app() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser() -> Iterator[Any]:
    need(CHROMIUM.exists(), f"headless Chromium not found at {CHROMIUM}")
    need(
        HTMX_FILE.is_file(),
        "htmx is not vendored: run npm ci --no-audit --no-fund && python scripts/vendor_assets.py",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Runs before any page script (outside the page's CSP): every Content-Security-Policy
# violation becomes a console error, which Watch records.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""


class Watch:
    """Console errors (CSP violations among them), page errors and every request host seen
    by a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.hosts.add(urlsplit(r.url).hostname or r.url))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"{r.status} {r.url}"))

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.hosts <= {"127.0.0.1"}, self.hosts


def _sign_in(page: Any, server: str, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the real page, as a person would."""
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")


def _seed(session: Session, source: Source) -> None:
    items = [
        {
            "title": f"学院通知第{i}号：关于期中教学检查的安排",
            "text": f"各学院：现将第{i}号通知印发给你们。\n\n请按时完成自查并报送材料。",
            "author": "教务处",
            "published_at": f"2024-04-{i + 1:02d} 09:00",
        }
        for i in range(6)
    ]
    items.append(
        {
            "title": "学生反映食堂饭菜价格上涨",
            "text": "有同学在论坛发帖称，近期食堂部分窗口饭菜价格上涨明显。\n\n后勤处回应称将核实。",
            "author": "匿名用户",
            "url": "https://bbs.example.cn/t/1001",
            "published_at": "2024-04-10 21:15",
            "raw": {"forum": "校园论坛", "<b>": "<script>alert(1)</script>"},
        }
    )
    ingest(session, source=source, items=items)
    copy = Source(name="转载站", kind="push")
    session.add(copy)
    session.flush()
    ingest(
        session,
        source=copy,
        items=[{"title": "转：食堂涨价", "text": "转载", "url": "https://bbs.example.cn/t/1001"}],
    )
    session.commit()


def test_desk_in_a_real_browser(
    server: str, browser: Any, engine: Any, session: Session, push_source: Source
) -> None:
    _seed(session, push_source)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, server, make_user(engine, "xuanchuan"))

    page.goto(server + "/")
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.locator(".item-title a").first.inner_text() == "学生反映食堂饭菜价格上涨"
    assert "另有 1 条重复" in page.locator(".item").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "stream.png"), full_page=True)

    page.goto(server + "/search")
    page.locator("#q").press_sequentially("食堂", delay=50)
    page.wait_for_selector("#results mark")
    assert page.locator("#results .item").count() == 1
    assert page.locator("#results .item-title mark").first.inner_text() == "食堂"
    assert "q=%E9%A3%9F%E5%A0%82" in page.url  # hx-push-url keeps the address shareable
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)

    page.locator("#results .item-title a").first.click()
    page.wait_for_selector("article.mention")
    assert page.locator("h1").inner_text() == "学生反映食堂饭菜价格上涨"
    assert page.locator(".body p").count() == 2
    assert page.locator("details.raw").count() == 0  # the raw payload is for administrators
    page.screenshot(path=str(ARTIFACTS / "mention.png"), full_page=True)

    page.goto(server + "/sources")
    page.fill("input[name=name]", "本校新闻网")
    page.select_option("select[name=kind]", "rss")
    page.fill("input[name=url]", "https://news.example.edu.cn/rss.xml")
    page.fill("input[name=interval]", "30")
    page.click(".add-source button[type=submit]")
    page.wait_for_selector("text=已添加信息源“本校新闻网”")
    assert page.locator("table.sources tbody tr").count() == 3
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "sources.png"), full_page=True)

    session.expire_all()
    added = session.execute(select(Source).where(Source.name == "本校新闻网")).scalar_one()
    assert added.interval_seconds == 1800

    page.click("nav.nav >> text=API 文档")
    page.wait_for_selector(".swagger-ui .title")
    assert "舆情工作台" in page.locator(".swagger-ui .title").inner_text()
    page.wait_for_selector(".opblock-summary-path")

    watch.assert_clean()
    context.close()


def test_stream_shows_new_items_without_reload(
    server: str, browser: Any, engine: Any, session: Session, push_source: Source
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    _sign_in(page, server, make_user(engine, "leader1", role="leader"))
    page.wait_for_url(server + "/")
    page.clock.install()
    page.goto(server + "/")
    page.wait_for_function("() => window.htmx !== undefined")
    assert "还没有收录任何信息" in page.inner_text("#stream-list")

    ingest(session, source=push_source, items=[{"title": "刚刚推送的一条消息", "text": "正文"}])
    session.commit()
    page.clock.run_for(16_000)  # the list polls every 15 s

    page.wait_for_selector("text=刚刚推送的一条消息", timeout=5_000)
    assert "共 1 条信息" in page.inner_text("#stream-list")
    page.screenshot(path=str(ARTIFACTS / "stream-mobile.png"), full_page=True)
    watch.assert_clean()
    context.close()


def test_sign_in_wrong_password_and_sign_out(server: str, browser: Any, engine: Any) -> None:
    make_user(engine, "wangfang", role="unit_member")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    page.goto(server + "/")
    page.wait_for_url("**/login?**")  # signed out: the desk sends you to sign in
    assert "请先登录" in page.inner_text("main")

    _sign_in(page, server, "wangfang", "wrong-password-1")
    page.wait_for_selector("[role=alert]")
    assert "用户名或密码不正确" in page.inner_text("[role=alert]")
    page.screenshot(path=str(ARTIFACTS / "login-refused.png"), full_page=True)

    _sign_in(page, server, "wangfang")
    page.wait_for_url(server + "/")
    assert "wangfang" in page.inner_text("header")
    page.screenshot(path=str(ARTIFACTS / "signed-in.png"), full_page=True)

    page.click("header form[action='/logout'] button")
    page.wait_for_url("**/login?**")
    assert "已退出登录" in page.inner_text("main")
    page.goto(server + "/")
    page.wait_for_url("**/login?**")  # the old session is gone
    # The refused sign-in answered 401: an expected status, not an error of the page.
    watch.errors = [e for e in watch.errors if not e.startswith("401 ") and "401" not in e]
    watch.assert_clean()
    context.close()


def test_a_poll_after_the_session_ended_leaves_the_page_alone(
    server: str, browser: Any, engine: Any, session: Session, push_source: Source
) -> None:
    """The inbox badge polls every 10 s; once the session is gone its answer swaps nothing
    and does not take the person to the sign-in page (a form's text would be lost). Their
    next navigation asks them to sign in, and so does a click inside the polled stream list
    (its requests are not polls), back to the page it was on."""
    ingest(session, source=push_source, items=[{"title": "一条可以标为重要的信息", "text": "正文"}])
    session.commit()
    make_user(engine, "zhaolei")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, server, "zhaolei")
    page.wait_for_url(server + "/")
    page.goto(server + "/account/password")
    page.fill("input[name=new]", "还没提交的新密码1")
    context.clear_cookies()  # the session ends (expired, or signed out in another tab)
    # The first poll answered without the session (one sent before may still be answered).
    with page.expect_response(
        lambda answer: answer.url.endswith("/inbox/badge") and answer.status != 200,
        timeout=15_000,
    ) as polled:
        pass
    assert polled.value.status == 204
    page.wait_for_timeout(300)  # HTMX has handled the answer
    assert page.url == server + "/account/password"
    assert page.input_value("input[name=new]") == "还没提交的新密码1"
    assert page.locator("#inbox-badge").count() == 1
    page.goto(server + "/inbox")
    page.wait_for_url("**/login?**")

    _sign_in(page, server, "zhaolei")
    page.wait_for_url(server + "/")
    context.clear_cookies()
    page.locator("#stream-list .important-toggle").first.click()
    page.wait_for_url("**/login?**")
    assert "next=%2F&" in page.url
    context.close()


def _seed_event(session: Session, source: Source) -> int:
    """Reposts of one story through the pipeline, which groups them into an event."""
    from yuqing.events.models import Event
    from yuqing.worker import pipeline

    story = "图书馆三楼今晚突发火情，消防已经到场处置，暂无人员受伤，师生已有序疏散。"
    for n in range(3):
        pipeline.process(
            session,
            source=source,
            items=[{"id": f"fire{n}", "title": f"图书馆起火{n}", "text": "转发 " * n + story}],
        )
    session.commit()
    event_id = session.scalar(select(Event.id).order_by(Event.id))
    assert event_id is not None, "the reposts formed an event"
    return int(event_id)


def _csp_is_enforced(page: Any, watch: Watch) -> None:
    """An inline script put into the page does not run, and the watch hears the violation."""
    ran = page.evaluate(
        """() => { const s = document.createElement("script");
                  s.textContent = "window.__inlineRan = true";
                  document.body.appendChild(s); return window.__inlineRan === true; }"""
    )
    assert ran is False
    deadline = time.monotonic() + 5
    while not any("CSP violation: script-src" in e for e in watch.errors):
        assert time.monotonic() < deadline, watch.errors
        page.wait_for_timeout(50)
    watch.errors.clear()


def test_main_pages_run_under_the_csp(
    server: str, browser: Any, engine: Any, session: Session, push_source: Source
) -> None:
    """Home (信息流), search, a mention, a case, events, reports, the scheme editor, the API
    docs and the 大屏 work under the Content-Security-Policy with no violation."""
    _seed(session, push_source)
    event_id = _seed_event(session, push_source)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, server, make_user(engine, "guanliyuan", role="admin"))
    page.wait_for_url(server + "/")

    answer = page.goto(server + "/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_function("() => window.htmx !== undefined")
    _csp_is_enforced(page, watch)
    assert page.locator(".item-title").count() >= 7

    page.goto(server + "/search")
    page.locator("#q").press_sequentially("食堂", delay=50)
    page.wait_for_selector("#results mark")

    page.locator("#results .item-title a").first.click()
    page.wait_for_selector("article.mention")
    page.locator("details.raw summary").click()  # administrators see the raw payload, as text
    assert "<script>alert(1)</script>" in page.locator("details.raw pre").inner_text()
    page.click("form.open-case button")
    page.wait_for_selector("#act-triage")
    page.select_option("#act-triage select[name=grade]", "larger")
    page.click("#act-triage button[type=submit]")
    page.wait_for_selector("[role=status]")

    page.goto(server + "/events")
    page.wait_for_selector(f"a[href='/events/{event_id}']")
    page.goto(f"{server}/events/{event_id}")
    page.wait_for_selector("h1")

    page.goto(server + "/reports")
    page.click(".report-generate form button >> nth=0")
    page.wait_for_url("**/reports/*")
    page.wait_for_selector("main h1")

    page.goto(server + "/schemes/new")
    page.wait_for_function("() => window.htmx !== undefined")
    page.locator("#query").press_sequentially("author:张同学", delay=20)
    page.wait_for_selector("#query-check .alert.error")
    assert "盯人名单" in page.inner_text("#query-check")

    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")

    page.goto(server + "/dashboard")
    page.wait_for_selector("body[data-loaded=true]")
    page.screenshot(path=str(ARTIFACTS / "dashboard-csp.png"))
    watch.assert_clean()
    context.close()
