"""No dead ends: notification channels are in the 预警 navigation, and every empty list a
form offers (recipients, units to 下发 to, people) says what is missing and where to add it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.cases.conftest import principal
from tests.support import desk_client
from yuqing.cases import service as cases
from yuqing.notify.models import Channel


@pytest.fixture
def office(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, "publicity", "office") as client:
        yield client


def test_channels_are_reachable_from_every_alert_page(office: TestClient) -> None:
    for path in ("/alerts", "/alerts/rules", "/alerts/words", "/notify/channels"):
        page = office.get(path)
        assert page.status_code == 200, path
        assert re.search(
            r'<nav class="subnav" aria-label="预警">.*href="/notify/channels"', page.text, re.S
        ), path
    channels = office.get("/notify/channels")
    # The channels page sits under 预警: its tab and the top bar's 预警 are marked current.
    assert re.search(r'href="/notify/channels" aria-current="page"', channels.text)
    assert re.search(r'href="/alerts" aria-current="page">预警<', channels.text)


def test_a_reader_without_the_permission_sees_no_channel_link(engine: Engine) -> None:
    with desk_client(engine, "leader", "boss") as leader:
        page = leader.get("/alerts")
        assert page.status_code == 200 and 'href="/notify/channels"' not in page.text


def test_empty_recipient_lists_say_what_is_missing_and_link_to_add(
    office: TestClient, session: Session
) -> None:
    page = office.get("/alerts/rules/new?kind=manual")
    assert page.status_code == 200
    text = page.text
    assert '还没有通知渠道，<a href="/notify/channels">去添加</a>' in text
    assert '还没有人员，<a href="/org/people/new">去添加</a>' in text
    assert '还没有单位，<a href="/org">去添加</a>' in text
    assert 'id="recipient-channel" role="group"' not in text  # no empty list

    channel = Channel(kind="webhook", name="值班群", url="https://example.cn/hook")
    session.add(channel)
    session.commit()
    again = office.get("/alerts/rules/new?kind=manual").text
    assert "还没有通知渠道" not in again
    assert f'name="recipient" value="channel:{channel.id}" > 值班群</label>' in again


def test_assigning_a_case_without_units_or_people_says_where_to_add_them(
    office: TestClient, session: Session
) -> None:
    boss = principal(session, "office-service", "publicity", None)
    case = cases.open_case(session, principal=boss, title="食堂价格投诉")
    cases.triage(session, principal=boss, case=case, grade_key="general")
    session.commit()
    page = office.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert '还没有可下发的单位，<a href="/org">去添加单位</a>' in page.text
    assert '<a href="/org/people/new">去添加人员</a>' in page.text


def test_adding_a_person_without_units_says_to_add_a_unit_first(office: TestClient) -> None:
    page = office.get("/org/people/new")
    assert page.status_code == 200
    assert '请先<a href="/org">添加单位</a>' in page.text
