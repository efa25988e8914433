"""A file imported on the desk in a real headless Chromium: upload an .xlsx, map a column the
desk could not guess, watch the import finish, read the result; also at a phone's 390 px.
Screenshots go to bench/out/screens/ (not committed) for people to look at."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.sources.test_jobs import ROWS, xlsx_bytes
from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
# 舆情标题 is no header the desk knows: the user maps it to 标题 by hand.
HEADER = ["舆情标题", "内容", "链接", "发布时间", "平台", "作者", "转发数", "评论数", "点赞数"]
MANY = ROWS[:2] + [
    [f"第{i}条：图书馆开放时间调整", f"读者反映第{i}号通知", f"https://bbs.example.cn/t/{i + 10}",
     "2024-05-03 08:00", "论坛", "读者", i, 0, 0]
    for i in range(300)
] + ROWS[2:]  # fmt: skip


def test_upload_map_and_import_an_xlsx(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
    session: Session,
    tmp_path: Path,
) -> None:
    source = Source(name="清博导出", kind="import")
    session.add(source)
    session.commit()
    make_user(engine, "officer", "publicity")
    workbook = tmp_path / "清博舆情导出.xlsx"
    workbook.write_bytes(xlsx_bytes(MANY, header=HEADER))
    SCREENS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    _sign_in(page, server, "officer")
    page.goto(f"{server}/sources")
    page.click(f'#source-{source.id} a.button-link:has-text("导入文件")')
    page.set_input_files("form.upload input[type=file]", str(workbook))
    page.click("form.upload button[type=submit]")

    page.wait_for_selector("table.preview")
    assert page.locator("table.preview tbody tr").count() == 5
    title_menu = page.locator("table.preview select[name=col0]")
    assert title_menu.input_value() == "raw"  # not guessed
    title_menu.select_option("title")
    page.screenshot(path=str(SCREENS / "import-mapping.png"), full_page=True)
    narrow = context.new_page()
    narrow.set_viewport_size({"width": 390, "height": 844})
    narrow.goto(page.url)
    assert narrow.locator("table.preview select[name=col1]").is_visible()  # no card layout
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the mapping page scrolls sideways at 390 px ({width} px)"
    narrow.screenshot(path=str(SCREENS / "import-mapping-390.png"), full_page=True)
    narrow.close()
    page.click("form.mapping-form button[type=submit]")

    page.wait_for_selector("#result", timeout=120_000)
    figures = page.locator(".import-figures").inner_text()
    assert "新增\n302" in figures and "未导入\n2" in figures
    assert page.locator("table.refused-rows tbody tr").count() == 2
    assert "不是时间" in page.locator("table.refused-rows").inner_text() or "时间" in (
        page.locator("table.refused-rows").inner_text()
    )
    page.screenshot(path=str(SCREENS / "import-result.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=下载 Excel")
    assert download.value.suggested_filename.endswith("-refused.xlsx")

    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(page.url)
    phone.wait_for_selector("#result")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the result page scrolls sideways at 390 px ({width} px)"
    phone.screenshot(path=str(SCREENS / "import-result-390.png"), full_page=True)
    phone.goto(f"{server}/sources/{source.id}")
    phone.screenshot(path=str(SCREENS / "source-390.png"), full_page=True)

    failing = Source(
        name="本校新闻网",
        kind="rss",
        url="https://news.example.edu.cn/rss.xml",
        consecutive_failures=2,
        last_error="HTTP 404（地址不存在）",
        last_attempt_at=utcnow(),
        next_attempt_at=utcnow() + timedelta(minutes=20),
    )
    session.add(failing)
    session.commit()
    page.goto(f"{server}/sources")
    row = page.locator(f"#source-{failing.id}")
    assert row.locator(".badge").inner_text() == "失败 2 次"
    page.screenshot(path=str(SCREENS / "sources.png"), full_page=True)
    phone.goto(f"{server}/sources")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the sources list scrolls sideways at 390 px ({width} px)"
    phone.screenshot(path=str(SCREENS / "sources-390.png"), full_page=True)
    page.goto(f"{server}/sources/{failing.id}")
    page.click("text=暂停")
    page.wait_for_selector("text=已暂停：不再定时抓取")
    assert page.locator(".source-state .badge").inner_text() == "已暂停"
    page.screenshot(path=str(SCREENS / "source.png"), full_page=True)

    watch.assert_clean()
    context.close()
    session.expire_all()
    titles = set(session.execute(select(Mention.title)).scalars())
    assert "食堂涨价引发热议" in titles and len(titles) == 302
