"""The event page's charts in a real Chromium: trend with the first post marked, sentiment
over time, sources, platforms and the repost tree drawn by static/js/event-charts.js under
the CSP, each chart with its save-as-PNG button (issue 12)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.events.models import EventMember
from yuqing.mentions.models import Mention
from yuqing.pagekit.templating import STATIC_DIR
from yuqing.sources.models import Source
from yuqing.worker import pipeline

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
T0 = datetime(2024, 5, 1, 8, 0)
CHARTS = ("ev-chart-trend", "ev-chart-sentiment", "ev-chart-sources", "ev-chart-platforms")


def _story(session: Session) -> int:
    """A post, its reposts over a few hours (two levels) and a second source; returns the
    event id."""
    weibo = Source(name="微博推送", kind="push", platform="weibo")
    session.add(weibo)
    session.flush()
    items: list[dict[str, Any]] = [
        {
            "mid": "r",
            "time": T0.isoformat() + "Z",
            "title": "示范大学食堂饭菜涨价引学生不满",
            "text": "有同学反映示范大学二食堂多个窗口饭菜价格上涨明显，分量却变少。",
            "author": "匿名用户",
        }
    ]
    items += [
        {
            "mid": f"c{i}",
            "root": "r",
            "parent": "c1" if i in (4, 5) else None,
            "time": (T0 + timedelta(minutes=25 * i)).isoformat() + "Z",
            "text": f"转发：食堂涨价的事情希望学校尽快回应（第{i}条）",
            "author": f"网友{i}",
        }
        for i in range(1, 9)
    ]
    pipeline.process(session, source=weibo, items=items)
    session.commit()
    root = session.execute(
        select(EventMember.event_id)
        .join(Mention, Mention.id == EventMember.mention_id)
        .where(Mention.external_id == "r")
    ).scalar_one()
    return int(root)


def test_event_page_draws_its_charts(
    engine: Any,
    session: Session,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    if not (STATIC_DIR / "vendor" / "echarts.min.js").is_file():
        pytest.skip("ECharts is not vendored: run npm ci and python scripts/vendor_assets.py")
    event_id = _story(session)
    name = make_user(engine, "event_reader", "leader")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page)
    _sign_in(page, server, name)
    page.goto(f"{server}/events/{event_id}")
    page.wait_for_selector("#event-charts[data-loaded=true]", timeout=15_000)
    for chart in (*CHARTS, "ev-chart-tree"):
        assert page.locator(f"#{chart} canvas").count() >= 1, chart
    option = page.evaluate(
        """() => {
          const charts = window.yuqingEventCharts.charts;
          const trend = charts["ev-chart-trend"].getOption();
          const tree = charts["ev-chart-tree"].getOption();
          return {
            mark: trend.series[0].markLine.data[0].xAxis,
            pin: trend.series[0].markPoint.data[0].name,
            axes: [trend.xAxis[0].name, trend.yAxis[0].name],
            stacked: charts["ev-chart-sentiment"].getOption().series.map((s) => s.stack),
            png: Object.keys(charts).every(
              (id) => charts[id].getOption().toolbox[0].feature.saveAsImage.title === "保存为图片"),
            treeTop: tree.series[0].data[0].children.length,
          };
        }"""
    )
    assert option["mark"] == 0 and option["pin"].startswith("首发")
    assert option["axes"] == ["时间", "条数"]
    assert set(option["stacked"]) == {"sentiment"}
    assert option["png"] is True
    assert option["treeTop"] == 1  # one cascade under the event
    assert "画出 9 条" in page.inner_text("#ev-tree-note")
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "event-page.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#event-charts[data-loaded=true]", timeout=15_000)
    page.screenshot(path=str(SCREENS / "event-page-phone.png"), full_page=True)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths  # the page does not scroll sideways on a phone
    watch.assert_clean()
