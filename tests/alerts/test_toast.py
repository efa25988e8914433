"""The desk's alert toasts: /alerts/toast answers the signed-in account's new alerts in its
inbox, after a cursor, and never another account's (issue 12)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, sign_in
from tests.web.test_browser import Watch, _sign_in, browser, server  # noqa: F401 (fixtures)
from yuqing.alerts.models import AlertRule
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.org import service as org
from yuqing.sources.models import Source
from yuqing.web.app import create_app

from .conftest import ingest, make_scheme

SCREENS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
COMPLAINT = "示范大学宿舍楼夜间停电两个小时，同学们很着急，希望学校尽快回应。"


@pytest.fixture
def two_units(session: Session) -> dict[str, int]:
    """Two units, each with a person whose account is linked to it; returns unit ids."""
    auth.ensure_roles(session)
    org.ensure_defaults(session)
    ids: dict[str, int] = {}
    for username, unit_name in (("office_duty", "党委宣传部"), ("college_duty", "甲学院")):
        unit = org.create_unit(session, name=unit_name, actor=SYSTEM)
        person = org.create_person(session, actor=SYSTEM, name=username, unit_id=unit.id)
        auth.create_user(
            session,
            username=username,
            password=TEST_PASSWORD,
            role_key="unit_head",
            actor=SYSTEM,
            unit_id=unit.id,
            person_id=person.id,
            must_change_password=False,
        )
        ids[username] = unit.id
    session.commit()
    return ids


@pytest.fixture
def clients(engine: Engine) -> Iterator[Callable[[str], Any]]:
    opened: list[Any] = []

    def client(username: str) -> Any:
        opened.append(sign_in(TestClient(create_app()), username, TEST_PASSWORD))
        return opened[-1]

    yield client
    for c in opened:
        c.close()


def test_toasts_are_the_accounts_own_new_alerts(
    session: Session,
    push_source: Source,
    make_rule: Callable[..., AlertRule],
    two_units: dict[str, int],
    clients: Callable[[str], Any],
) -> None:
    scheme = make_scheme(session, "示范大学", "示范大学")
    make_rule(
        name="负面信息提醒",
        params={"scheme_ids": [scheme], "hit_mode": "negative"},
        recipients=[{"kind": "unit", "id": two_units["office_duty"]}],
    )
    office, college = clients("office_duty"), clients("college_duty")
    # A page that opens learns the cursor only: alerts from before do not pop up.
    start = office.get("/alerts/toast").json()
    assert start == {"last": 0, "alerts": []}
    assert college.get("/alerts/toast").json() == {"last": 0, "alerts": []}

    ingest(session, push_source, COMPLAINT)
    session.commit()

    reply = office.get("/alerts/toast", params={"after": start["last"]})
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    fresh = reply.json()
    assert len(fresh["alerts"]) == 1 and fresh["last"] == fresh["alerts"][0]["id"]
    toast = fresh["alerts"][0]
    assert "宿舍楼夜间停电" in toast["title"] and toast["level_label"] == "预警"
    assert toast["url"] == f"/inbox/{toast['id']}"
    # Polled again with the new cursor: nothing twice.
    assert office.get("/alerts/toast", params={"after": fresh["last"]}).json()["alerts"] == []
    # Another unit's account hears nothing of it, whatever cursor it sends.
    assert college.get("/alerts/toast", params={"after": 0}).json() == {"last": 0, "alerts": []}
    # Once read in the inbox, it does not pop up on another page either.
    assert office.get(toast["url"]).status_code == 200
    assert office.get("/alerts/toast", params={"after": 0}).json()["alerts"] == []


def test_toasts_need_a_signed_in_person(engine: Engine) -> None:
    with TestClient(create_app()) as anonymous:
        reply = anonymous.get("/alerts/toast", follow_redirects=False)
    assert reply.status_code in (302, 303, 401)


@pytest.mark.browser
def test_a_new_alert_pops_up_with_a_chime_once_switched_on(
    session: Session,
    push_source: Source,
    make_rule: Callable[..., AlertRule],
    two_units: dict[str, int],
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    scheme = make_scheme(session, "示范大学", "示范大学")
    make_rule(
        name="负面信息提醒",
        params={"scheme_ids": [scheme], "hit_mode": "negative"},
        recipients=[{"kind": "unit", "id": two_units["office_duty"]}],
    )
    pages = {}
    for username in ("office_duty", "college_duty"):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = context.new_page()
        watch = Watch(page)
        _sign_in(page, server, username)
        page.goto(server + "/inbox")
        switch = page.locator("#alert-toast-switch")
        assert switch.inner_text() == "预警提醒：关"  # off until the account turns it on
        switch.click()  # 开 once the cursor is known (one request)
        page.wait_for_function(
            "() => document.getElementById('alert-toast-switch').getAttribute('aria-pressed') === 'true'"
        )
        page.wait_for_function(
            "() => document.querySelector('.toast-stack').dataset.chimes === '1'"
        )
        pages[username] = (page, watch)

    ingest(session, push_source, COMPLAINT)
    session.commit()

    office, office_watch = pages["office_duty"]
    office.reload()  # a page that opens polls at once (then every 15 s)
    toast = office.wait_for_selector(".toast", timeout=10_000)
    assert "宿舍楼夜间停电" in toast.inner_text() and "预警" in toast.inner_text()
    office.wait_for_function("() => document.querySelector('.toast-stack').dataset.chimes === '1'")
    assert office.locator("#alert-toast-switch").inner_text() == "预警提醒：开"  # kept
    SCREENS.mkdir(parents=True, exist_ok=True)
    office.screenshot(path=str(SCREENS / "alert-toast.png"))
    office_watch.assert_clean()

    college, college_watch = pages["college_duty"]
    college.reload()
    college.wait_for_timeout(1500)
    assert college.locator(".toast").count() == 0  # another unit's account hears nothing
    college_watch.assert_clean()
