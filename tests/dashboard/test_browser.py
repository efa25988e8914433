"""The dashboard in headless Chromium: charts drawn, no console error, nothing off 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session

from tests.dashboard.test_counters import _seed
from tests.support import free_port, make_user, need
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Watch, _sign_in
from yuqing.dashboard import views
from yuqing.web.app import create_app

pytestmark = pytest.mark.browser
SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
CHARTS = ("hourly", "daily", "kinds", "provinces", "events", "words", "alerts")


def _fits_one_screen(page: Any) -> None:
    """At 1920×1080 the whole 大屏 shows without scrolling, every panel inside the screen."""
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    bottoms = page.evaluate(
        "[...document.querySelectorAll('section')].map(s => s.getBoundingClientRect().bottom)"
    )
    assert bottoms and max(bottoms) <= 1080
    heights = page.evaluate(
        "[...document.querySelectorAll('.chart')].map(c => c.getBoundingClientRect().height)"
    )
    assert min(heights) >= 180  # still a chart one reads from across the room


@pytest.fixture
def dashboard_server(engine: Any) -> Iterator[str]:
    app = create_app()
    app.include_router(views.router)  # until web/app.py mounts it
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_dashboard_draws_its_charts(dashboard_server: str, engine: Any, session: Session) -> None:
    need(CHROMIUM.exists(), f"headless Chromium not found at {CHROMIUM}")
    need(views.ECHARTS_FILE.is_file(), "echarts is not vendored: npm ci && vendor_assets.py")
    from playwright.sync_api import sync_playwright

    _seed(session)  # mentions of 2024: the trend is empty today, the 30-day figures too
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, dashboard_server, make_user(engine, "daping"))
        page.goto(dashboard_server + "/dashboard")
        page.wait_for_selector("body[data-loaded=true]")
        series = page.evaluate(
            "Object.fromEntries(Object.entries(window.yuqingDashboard.charts).map("
            "([k, c]) => [k, c.getOption().series.length]))"
        )
        assert set(series) >= {"chart-hourly", "chart-daily", "chart-kinds", "chart-alerts"}
        assert series["chart-hourly"] == 4
        painted = page.evaluate(
            """() => [...document.querySelectorAll('#chart-hourly canvas')].some(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
                return false; })"""
        )
        assert painted
        assert page.inner_text("#n-cases") == "0"
        assert "没有待办的处置案件" in page.inner_text("#cases")
        _fits_one_screen(page)
        assert not page.is_visible("#chart-events + .no-data")  # a panel with data draws it
        assert page.is_visible("#chart-hourly + .no-data")  # 2024 items: nothing in 48 hours
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / "dashboard-1920.png"))
        watch.assert_clean()
        context.close()
        browser.close()


def test_an_empty_dashboard_says_no_data_and_fits_the_screen(
    dashboard_server: str, engine: Any
) -> None:
    need(CHROMIUM.exists(), f"headless Chromium not found at {CHROMIUM}")
    need(views.ECHARTS_FILE.is_file(), "echarts is not vendored: npm ci && vendor_assets.py")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, dashboard_server, make_user(engine, "daping_empty"))
        page.goto(dashboard_server + "/dashboard")
        page.wait_for_selector("body[data-loaded=true]")
        for name in CHARTS:  # a new desk: every panel says so instead of an empty frame
            note = page.locator(f"#chart-{name} + .no-data")
            assert note.is_visible(), name
            assert note.inner_text() == "暂无数据"
        assert "暂无数据" in page.inner_text("#cases")
        _fits_one_screen(page)
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / "dashboard-empty-1920.png"))
        watch.assert_clean()
        context.close()
        browser.close()
