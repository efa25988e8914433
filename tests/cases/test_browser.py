"""A case from end to end in a real headless Chromium against the real server: the office
opens it from a mention, grades and assigns it; the unit signs in, takes it and feeds back;
the office accepts and closes it. Screenshots go to test-artifacts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.cases.test_views import build_units, desk_app
from tests.support import free_port, make_user, need
from tests.web import test_browser as web
from yuqing.cases.models import Case, CaseEntry
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(engine: Engine) -> Iterator[str]:
    """The app with the case pages under uvicorn on a free 127.0.0.1 port."""
    config = uvicorn.Config(desk_app(), host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def chromium() -> Iterator[Any]:
    need(web.CHROMIUM.exists(), f"headless Chromium not found at {web.CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(web.CHROMIUM), args=web.CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _sign_out(page: Any) -> None:
    page.click("header form[action='/logout'] button")
    page.wait_for_url("**/login?**")


def _submit(page: Any, form: str) -> None:
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[role=status]")  # the notice after the redirect


def test_case_from_mention_to_closure(
    desk: str, chromium: Any, engine: Engine, session: Session, push_source: Source
) -> None:
    units = build_units(session)
    ingest(
        session,
        source=push_source,
        items=[
            {
                "title": "学生反映宿舍连续停水两天",
                "text": "有同学在论坛发帖称，宿舍楼停水两天无人通知。",
                "url": "https://bbs.example.cn/t/2024",
            }
        ],
    )
    session.commit()
    mention = session.execute(select(Mention)).scalar_one()
    office = make_user(engine, "xuanchuan", "publicity")
    head = make_user(engine, "jia_head", "unit_head", units.a)
    web.ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = web.Watch(page)

    web._sign_in(page, desk, office)
    page.wait_for_url(desk + "/")
    page.goto(f"{desk}/mentions/{mention.id}")
    page.click("form.open-case button")
    page.wait_for_selector("#act-triage")
    assert page.locator("h1").inner_text() == "学生反映宿舍连续停水两天"
    assert page.locator(".case-status").inner_text() == "新报送"
    case_url = page.url
    page.screenshot(path=str(web.ARTIFACTS / "case-new.png"), full_page=True)

    page.select_option("#act-triage select[name=grade]", "larger")
    _submit(page, "#act-triage")
    assert page.locator(".grade").first.inner_text() == "较大"
    page.select_option("#act-assign select[name=unit_id]", str(units.a))
    page.select_option("#act-assign select[name=person_id]", str(units.teacher_a))
    _submit(page, "#act-assign")
    assert page.locator(".case-status").inner_text() == "下发"
    assert "单位反馈" in page.inner_text("#clocks")
    page.screenshot(path=str(web.ARTIFACTS / "case-assigned.png"), full_page=True)
    _sign_out(page)

    web._sign_in(page, desk, head)
    page.wait_for_url(desk + "/")
    page.click("nav.nav >> text=舆情处置")
    page.wait_for_selector("#mine")
    assert "学生反映宿舍连续停水两天" in page.inner_text("#mine")
    page.screenshot(path=str(web.ARTIFACTS / "cases-unit-board.png"), full_page=True)
    page.click("#mine a >> text=学生反映宿舍连续停水两天")
    assert page.locator("#act-triage").count() == 0  # the unit does not grade
    _submit(page, "#act-start")
    page.fill("#act-feedback textarea[name=feedback_text]", "已核实：管道检修，今日已恢复供水。")
    page.fill("#act-feedback textarea[name=response_text]", "后勤处已在官网发布停水说明。")
    page.fill("#act-feedback input[name=response_url]", "https://www.example.edu.cn/n/1")
    _submit(page, "#act-feedback")
    assert page.locator(".case-status").inner_text() == "已反馈"
    page.screenshot(path=str(web.ARTIFACTS / "case-feedback.png"), full_page=True)
    _sign_out(page)

    web._sign_in(page, desk, office)
    page.wait_for_url(desk + "/")
    page.goto(case_url)
    _submit(page, "#act-accept")
    page.fill("#act-close textarea[name=lessons]", "停水等后勤事项须提前公告。")
    page.fill("#act-close input[name=tags]", "后勤 宿舍")
    _submit(page, "#act-close")
    assert page.locator(".case-status").inner_text() == "办结"
    assert "停水等后勤事项须提前公告。" in page.inner_text("#lessons")
    page.screenshot(path=str(web.ARTIFACTS / "case-closed.png"), full_page=True)

    page.goto(desk + "/cases/library?tag=宿舍")
    assert "学生反映宿舍连续停水两天" in page.inner_text("main")
    watch.assert_clean()
    context.close()

    session.expire_all()
    case = session.execute(select(Case)).scalar_one()
    assert case.status == "closed" and case.unit_id == units.a
    steps = session.execute(
        select(CaseEntry.to_status)
        .where(CaseEntry.case_id == case.id, CaseEntry.kind == "transition")
        .order_by(CaseEntry.id)
    ).scalars()
    assert list(steps) == [
        "new",
        "triaged",
        "assigned",
        "in_progress",
        "feedback",
        "review",
        "closed",
    ]
