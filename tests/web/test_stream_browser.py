"""信息流 in a real headless Chromium: filter → select two → mark 重要 → export, 开启处置 from
the selection, and the phone width (390 px): the first item shows without scrolling past
the filters, the case page does not scroll sideways. Screenshots go to bench/out/screens/."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import MentionMark
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
PHONE = {"width": 390, "height": 844}
# What sticks out to the right of the screen (named in a failure).
WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("main *")]
    .filter((e) => e.getBoundingClientRect().right > width + 1)
    .slice(0, 10)
    .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
}"""


def _seed(session: Session, source: Source) -> None:
    now = utcnow()
    items = []
    for i in range(8):
        weibo = i % 2 == 0
        items.append(
            {
                "id": f"s{i}",
                "title": f"{'微博' if weibo else '新闻'}第{i}条：学生反映宿舍热水供应时断时续",
                "text": "有同学反映近一周宿舍热水供应不稳定，晚间高峰时段经常中断。" * 3,
                "url": ("https://weibo.com/u/" if weibo else "https://news.example.cn/a/") + str(i),
                "published_at": (now - timedelta(hours=3 * i + 1)).isoformat(" ") + "Z",
                "reposts": 10 * i,
                "comments": i,
                "likes": 100 + i,
            }
        )
    items.append(
        {
            "id": "old",
            "title": "一个月前的旧闻",
            "text": "旧闻正文",
            "url": "https://weibo.com/u/old",
            "published_at": (now - timedelta(days=30)).isoformat(" ") + "Z",
        }
    )
    ingest(session, source=source, items=items)
    session.commit()


def test_filter_select_mark_important_export_and_open_a_case(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
    session: Session,
    push_source: Source,
) -> None:
    _seed(session, push_source)
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    watch = Watch(page)
    _sign_in(page, server, make_user(engine, "xuanchuan_stream"))
    page.wait_for_url(server + "/")
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.locator("#stream-list .item").count() == 9

    # Filter: 7 天, 微博 (the form swaps the list and pushes the address).
    expect(page.locator("input[name=start]")).to_be_hidden()
    page.click("label.chip:has-text('自定义')")
    expect(page.locator("input[name=start]")).to_be_visible()  # dates once 自定义 is chosen
    page.click("label.chip:has-text('7天')")
    expect(page.locator("input[name=start]")).to_be_hidden()
    page.select_option("select[name=platform]", "weibo")
    page.click("#stream-filters button[type=submit]")
    page.wait_for_url("**/?range=7d&platform=weibo")
    expect(page.locator("#stream-list .item")).to_have_count(4)
    assert page.locator("#stream-list .platform-weibo").count() == 4

    # Select two, mark 重要.
    assert page.locator(".batch-action").first.is_disabled()
    page.locator("#stream-list .pick").nth(0).check()
    page.locator("#stream-list .pick").nth(1).check()
    assert page.inner_text(".selected-count") == "已选 2 条"
    page.click(".batch-action:has-text('标为重要')")
    page.wait_for_selector("#stream-list .item.is-important")
    assert "range=7d" in page.url and "platform=weibo" in page.url  # back where it was
    assert page.locator("#stream-list .item.is-important").count() == 2
    session.expire_all()
    assert len(session.scalars(select(MentionMark).where(MentionMark.important)).all()) == 2
    page.screenshot(path=str(SCREENS / "stream-marked.png"), full_page=True)

    # The same two (filter 重要) exported to Excel.
    page.select_option("select[name=mark]", "important")
    page.click("#stream-filters button[type=submit]")
    expect(page.locator("#stream-list .item")).to_have_count(2)
    page.check(".select-all-box")
    with page.expect_download() as download_info:
        page.click(".batch-action:has-text('导出 Excel')")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sheet is not None
    titles = [row[1].value for row in sheet.iter_rows(min_row=3)]
    assert len(titles) == 2 and all(str(t).startswith("微博") for t in titles)

    # 开启处置 from the selection opens the case page.
    page.check(".select-all-box")
    page.click(".batch-action:has-text('开启处置')")
    page.wait_for_url("**/cases/*")
    case_url = page.url
    watch.assert_clean()
    context.close()

    # Phone: the filters fold away, the first item is on the first screen.
    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    watch = Watch(page)
    _sign_in(page, server, "xuanchuan_stream")
    page.wait_for_url(server + "/")
    page.wait_for_function("() => window.htmx !== undefined")
    assert not page.locator("#stream-filters").is_visible()
    first = page.locator("#stream-list .item").first.bounding_box()
    assert first is not None and first["y"] + 40 < PHONE["height"], first
    page.screenshot(path=str(SCREENS / "stream-390.png"))
    page.click(".filter-toggle")
    assert page.locator("#stream-filters").is_visible()
    page.screenshot(path=str(SCREENS / "stream-390-filters.png"))

    page.goto(case_url)
    page.wait_for_selector("h1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], page.evaluate(WIDER_THAN_SCREEN)
    page.screenshot(path=str(SCREENS / "case-390.png"), full_page=True)

    page.goto(server + "/cases")
    page.wait_for_selector("h1")
    wide = page.evaluate(WIDER_THAN_SCREEN)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    page.screenshot(path=str(SCREENS / "cases-390.png"), full_page=True)
    watch.assert_clean()
    phone.close()
