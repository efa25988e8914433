"""A news story in real Chromium against the real server: filed by the correspondent in the
desk's own editor, 初审 by the unit head, returned once with comments at 复审, corrected,
through 初审/复审/终审 again, published by the department, then the public page and its feed
opened and the approval form downloaded. No console errors (CSP included), nothing leaves
127.0.0.1."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from docx import Document
from sqlalchemy import Engine

from tests.editorial.conftest import accounts_with_people
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:  # noqa: F811
    ctx = browser.new_context(accept_downloads=True)
    yield ctx
    ctx.close()


def _as(context: Any, base: str, username: str) -> Any:
    context.clear_cookies()
    page = context.new_page()
    _sign_in(page, base, username)
    return page


def _review(page: Any, base: str, sid: int, decision: str, comment: str = "") -> None:
    page.goto(f"{base}/editorial/{sid}")
    if comment:
        page.fill("#review-form textarea[name=comment]", comment)
    page.click(f"#review-form button[value={decision}]")
    page.wait_for_load_state()


def test_news_from_filing_to_publishing(engine: Engine, server: str, context: Any) -> None:  # noqa: F811
    ids = accounts_with_people(engine)
    page = _as(context, server, "corr")
    watch = Watch(page)
    page.goto(f"{server}/editorial/new?kind=news")
    page.fill("input[name=title]", "计算机学院举行人工智能学术报告会")
    page.select_option("select[name=unit_id]", str(ids["cs"]))
    page.fill("input[name=event_date]", "2026-03-05")
    area = page.locator("#rte-area")
    area.click()
    page.keyboard.type("3月5日，计算机学院举行人工智能学术报告会，共有120名师生参加。")
    page.click("#rte-toolbar button[data-cmd=bold]")
    page.keyboard.type("报告会反响热烈。")
    page.click("#editorial-form button[type=submit]")
    assert "已保存草稿" in page.content()
    sid = int(page.url.split("/editorial/")[1].split("/")[0])
    page.goto(f"{server}/editorial/{sid}")
    page.click("#submit-review")
    assert page.locator("#submission-stage").inner_text() == "初审"
    watch.assert_clean()

    head = _as(context, server, "cshead")
    _review(head, server, sid, "approve")
    assert head.locator("#submission-stage").inner_text() == "复审"
    editor = _as(context, server, "editor")
    _review(editor, server, sid, "return", "参加人数请与学工部核对")
    assert "退回修改" in editor.locator("#submission-state").inner_text()

    page = _as(context, server, "corr")
    page.goto(f"{server}/editorial/{sid}/edit")
    page.locator("#rte-area").evaluate(
        "(el) => { el.innerHTML = el.innerHTML.replace('120', '150'); }"
    )
    page.click("#editorial-form button[type=submit]")
    assert "已保存第 2 版" in page.content()
    page.goto(f"{server}/editorial/{sid}")
    assert "参加人数请与学工部核对" in page.content()
    assert page.locator("#diff ins").first.inner_text() == "5"
    with page.expect_navigation():  # submitted before the next sign-in clears the cookies
        page.click("#submit-review")
    assert page.locator("#submission-stage").inner_text() == "初审"

    for username, decision in (("cshead", "approve"), ("editor", "approve"), ("chief", "approve")):
        reviewer = _as(context, server, username)
        _review(reviewer, server, sid, decision)
        assert "数字“150”" in reviewer.content() or username != "cshead"
    assert "审核通过" in reviewer.locator("#submission-state").inner_text()
    reviewer.click("#publish")
    assert "已发布" in reviewer.locator("#submission-state").inner_text()
    watch = Watch(reviewer)
    with reviewer.expect_download() as download:
        reviewer.click("#approval-form")
    form = Document(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    cells = " ".join(c.text for t in form.tables for r in t.rows for c in r.cells)
    for expected in (
        "初审",
        "复审",
        "终审",
        "张院长",
        "赵编辑",
        "钱部长",
        "参加人数请与学工部核对",
    ):
        assert expected in cells
    public = reviewer.locator("#public-link").get_attribute("href")
    context.clear_cookies()
    reader = context.new_page()
    reader_watch = Watch(reader)
    reader.goto(server + public)
    assert "150名师生参加" in reader.content() and "计算机学院 发布" in reader.content()
    feed = reader.request.get(server + "/news/feed.xml")
    assert feed.ok and "计算机学院举行人工智能学术报告会" in feed.text()
    reader.goto(server + "/news/index.html")
    assert "计算机学院举行人工智能学术报告会" in reader.content()
    reader_watch.assert_clean()
    watch.assert_clean()
