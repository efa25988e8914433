"""Small visual defects a newcomer saw (issue 12), checked by measuring the rendered page in
headless Chromium at a desk (1280 px) and a phone (390 px) width; screenshots go to
bench/out/screens/ for people to look at."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import make_user
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.reports import service
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
WIDTHS = (1280, 390)


def _shot(page: Any, name: str, **options: Any) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / name), **options)


TEXT_MIDDLE = """e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const box = range.getBoundingClientRect();
  return box.y + box.height / 2;
}"""

# The middle of a label's own text (its first non-blank text node), beside its box.
LABEL_TEXT_MIDDLE = """e => {
  const text = [...e.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
  const range = document.createRange();
  range.selectNodeContents(text);
  const box = range.getBoundingClientRect();
  return box.y + box.height / 2;
}"""


def _middle(box: dict[str, float]) -> float:
    return box["y"] + box["height"] / 2


def test_account_name_sits_on_the_line_of_its_links(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
) -> None:
    name = make_user(engine, "topbar_admin", "admin")
    for width in WIDTHS:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", device_scale_factor=2
        )
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, server, name)
        page.wait_for_url(server + "/")
        # The middle of each text's line (a box may be stretched to the row: measure the text).
        who = page.locator(".account .who").evaluate(TEXT_MIDDLE)
        for other in (".account a[href='/account/password']", ".account a[href='/inbox']"):
            middle = page.locator(other).evaluate(TEXT_MIDDLE)
            if abs(middle - who) < 20:  # on the same row (a phone may wrap the bar)
                assert abs(middle - who) <= 1.5, (width, other, who, middle)
        button = page.locator(".account form[action='/logout'] button").evaluate(TEXT_MIDDLE)
        if abs(button - who) < 20:
            assert abs(button - who) <= 1.5, (width, who, button)
        _shot(page, f"topbar-{width}.png", clip={"x": 0, "y": 0, "width": width, "height": 200})
        # The brand, zoomed: 舆 must be the simplified glyph (a zh-CN page, an SC face first).
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        family = page.locator(".brand").evaluate("e => getComputedStyle(e).fontFamily")
        assert family.index('"Noto Sans CJK SC"') < family.index('"Microsoft YaHei"')
        cdp = context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        brand = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".brand"})["nodeId"]
        used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": brand})["fonts"]
        # The face Chromium drew 舆情工作台 with is a Simplified Chinese one (here Noto Sans
        # CJK SC Bold), never the JP/TC/KR face of the same collection.
        assert used and all(f["familyName"].endswith(" SC") for f in used), used
        page.locator(".brand").screenshot(path=str(SCREENS / f"brand-{width}.png"))
        watch.assert_clean()
        context.close()


def test_rule_form_checkboxes_sit_beside_their_labels(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
) -> None:
    name = make_user(engine, "rules_admin", "admin")
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, server, name)
        page.wait_for_url(server + "/")
        page.goto(server + "/alerts/rules/new?kind=sensitive_words")
        _shot(page, f"rule-form-{width}.png", full_page=True)
        choices = page.locator("fieldset label:has(input[name=categories])")
        assert choices.count() >= 3
        rows = set()
        for i in range(choices.count()):
            label = choices.nth(i)
            box = label.bounding_box()
            tick = label.locator("input").bounding_box()
            assert box and tick
            # Beside its text, not above it: a box of its own size, on the text's line.
            text = label.evaluate(LABEL_TEXT_MIDDLE)
            assert tick["height"] < 20 and abs(text - _middle(tick)) <= 2, (width, i, tick, text)
            rows.add(round(box["y"]))
        if width > 600:  # several choices share a row (a phone has room for one long name)
            assert len(rows) < choices.count()
        for single in ("quiet_weekends", "enabled"):
            text = page.locator(f"label:has(input[name={single}])").evaluate(LABEL_TEXT_MIDDLE)
            tick = page.locator(f"input[name={single}]").bounding_box()
            assert tick and tick["height"] < 20 and abs(text - _middle(tick)) <= 2, (single, tick)
        watch.assert_clean()
        context.close()


def test_daily_report_page_without_cases_or_neutral_items(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    engine: Any,
    session: Session,
    push_source: Source,
) -> None:
    ingest(
        session,
        source=push_source,
        items=[
            {
                "title": f"关于食堂的第{i}条反映",
                "text": "同学反映食堂饭菜价格上涨。",
                "published_at": "2024-04-10 10:00",
            }
            for i in range(4)
        ],
    )
    mentions = session.scalars(select(Mention)).all()
    for i, mention in enumerate(mentions):  # positive and negative only: 中性 is 0 %
        mention.sentiment = "negative" if i % 2 else "positive"
    session.flush()
    content = service.daily(session, day=date(2024, 4, 10), now=datetime(2024, 4, 11, 2))
    report = service.create_report(session, content=content)
    session.commit()
    name = make_user(engine, "report_admin", "admin")
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, server, name)
        page.wait_for_url(server + "/")
        page.goto(f"{server}/reports/{report.id}")
        body = page.locator(".report-body")
        assert body.locator("caption", has_text="舆情处置").count() == 0
        assert body.locator("p.report-empty").inner_text() == "舆情处置：无"
        assert body.locator("img[alt=情感分布]").count() == 1
        _shot(page, f"report-{width}.png", full_page=True)
        watch.assert_clean()
        context.close()
