"""The analysis page (分析) in a real headless Chromium under the desk's CSP: the charts draw
(canvases), a click on a chart opens 信息流 with the matching filter, a chart saves as a PNG,
and the page fits a phone (390 px). Screenshots go to bench/out/screens/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.analysis import insights_views
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
PHONE = {"width": 390, "height": 844}
CHARTS = (
    "chart-volume",
    "chart-sentiment-share",
    "chart-sentiments",
    "chart-platforms",
    "chart-sources",
    "chart-words",
)
WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("main *")]
    .filter((e) => e.getBoundingClientRect().right > width + 1)
    .slice(0, 10)
    .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
}"""


def _seed(session: Session, source: Source) -> None:
    now = utcnow()
    topics = ("宿舍热水供应时断时续", "食堂饭菜价格上涨", "校运会圆满落幕")
    items = []
    for i in range(12):
        weibo = i % 3 != 2
        items.append(
            {
                "id": f"i{i}",
                "title": f"{topics[i % 3]}（{i}）",
                "text": "有同学反映近一周宿舍热水供应不稳定，晚间高峰时段经常中断。",
                "url": ("https://weibo.com/u/" if weibo else "https://mp.weixin.qq.com/s/")
                + str(i),
                # The newest a moment ago: the chart's newest bar is today in the desk's
                # time zone (an hour ago was yesterday there between 00:00 and 01:00).
                "published_at": (now - timedelta(hours=11 * i, seconds=30)).isoformat(" ") + "Z",
                "reposts": 10 * i,
                "comments": i,
                "likes": 3 * i,
            }
        )
    ingest(session, source=source, items=items)
    session.commit()
    for m in session.scalars(select(Mention)):
        n = int((m.external_id or "i0")[1:])
        sentiment = ("negative", "neutral", "positive")[n % 3]
        session.execute(
            update(Mention)
            .where(Mention.id == m.id)
            .values(sentiment=sentiment, risk_score=90 - n if sentiment == "negative" else 20)
        )
    session.commit()


def _drawn(page: Any) -> None:
    page.wait_for_selector("#insights[data-loaded=true]")
    for chart in CHARTS:
        assert page.locator(f"#{chart} canvas").count() >= 1, chart


def test_charts_draw_click_through_to_the_stream_and_save_as_png(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
    session: Session,
    push_source: Source,
) -> None:
    insights_views.RECENT.clear()  # answers of earlier tests' databases
    _seed(session, push_source)
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    watch = Watch(page)
    _sign_in(page, server, make_user(engine, "xuanchuan_insights"))
    page.wait_for_url(server + "/")

    # From 信息流: 分析当前筛选 carries the stream's filter.
    page.goto(server + "/?platform=weibo")
    page.click("a.analyse-link")
    page.wait_for_url("**/analysis?platform=weibo")
    _drawn(page)
    assert page.inner_text("#n-total") == "8"
    assert page.locator("#negative-items tr").count() == 4
    page.screenshot(path=str(SCREENS / "analysis-weibo.png"), full_page=True)

    # The whole desk for 7 days; the platform pie and the volume bars lead to 信息流.
    page.goto(server + "/analysis")
    _drawn(page)
    assert page.inner_text("#n-total") == "12"
    page.screenshot(path=str(SCREENS / "analysis.png"), full_page=True)

    # A PNG of a chart, through its toolbox (the icon at the chart's top right).
    box = page.locator("#chart-platforms").bounding_box()
    assert box is not None
    with page.expect_download() as download_info:
        page.locator("#chart-platforms").click(position={"x": box["width"] - 17, "y": 14})
    download = download_info.value
    assert download.suggested_filename == "平台分布.png"
    assert Path(download.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Click the newest bar of the volume trend: 信息流 of that day, with the page's range.
    volume = page.locator("#chart-volume").bounding_box()
    assert volume is not None
    page.locator("#chart-volume").click(
        position={"x": volume["width"] - 30, "y": volume["height"] - 60}
    )
    page.wait_for_url("**/?range=custom&start=*")
    assert "end=" in page.url
    assert page.locator("#stream-list .item").count() >= 1

    # The sentiment pie: a click on its 负面 part lists the negative items.
    page.goto(server + "/analysis")
    _drawn(page)
    point = page.evaluate(
        """() => {
          const chart = window.yuqingInsights.charts["chart-sentiments"];
          const index = chart.getOption().series[0].data.findIndex((d) => d.name === "负面");
          const layout = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(index);
          const angle = (layout.startAngle + layout.endAngle) / 2;
          const radius = (layout.r0 + layout.r) / 2;
          return [layout.cx + radius * Math.cos(angle), layout.cy + radius * Math.sin(angle)];
        }"""
    )
    page.locator("#chart-sentiments").click(position={"x": point[0], "y": point[1]})
    page.wait_for_url("**/?range=7d&sentiment=negative")
    assert page.locator("#stream-list .item").count() == 4
    watch.assert_clean()
    context.close()

    # Phone: one column, nothing wider than the screen, the charts still draw.
    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    watch = Watch(page)
    _sign_in(page, server, "xuanchuan_insights")
    page.wait_for_url(server + "/")
    page.goto(server + "/analysis")
    _drawn(page)
    assert page.evaluate(WIDER_THAN_SCREEN) == []
    width = page.locator("#chart-volume canvas").first.bounding_box()
    assert width is not None and width["width"] <= PHONE["width"]
    page.screenshot(path=str(SCREENS / "analysis-phone.png"), full_page=True)
    watch.assert_clean()
    phone.close()
