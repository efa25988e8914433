"""The working calendar on the desk and at the command line: the office sees the missing-year
warning (home page, board, calendar page), imports a notice file (a malformed one is refused
in Chinese with nothing changed), adds and removes days; the case page says which rule each
clock used; ``yuqing calendar`` imports and shows a year."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.cases.conftest import Clock
from tests.cases.test_calendar import NOTICE_2027, utc
from tests.cases.test_views import csrf_of, desk_app, principal_of
from tests.support import TEST_PASSWORD, make_user, sign_in
from yuqing.cases import calendar_service, service
from yuqing.cases.cli import app as calendar_cli
from yuqing.cases.models import CalendarDay

WARNING_2027 = "工作日历还没有 2027 年的官方放假安排"


@pytest.fixture
def december(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today is 5 December 2026: the notice for 2027 should be in by now."""
    monkeypatch.setattr(calendar_service, "current_date", lambda: date(2026, 12, 5))


@pytest.fixture
def office(engine: Engine, session: Session, december: None) -> Iterator[TestClient]:
    service.ensure_defaults(session)  # the calendar seeded from the package (up to 2026)
    session.commit()
    make_user(engine, "office", "publicity", None)
    with TestClient(desk_app()) as client:
        yield sign_in(client, "office", TEST_PASSWORD)


def upload(client: TestClient, data: bytes, name: str = "2027.txt") -> httpx.Response:
    token = csrf_of(client.get("/calendar").text)
    return client.post(
        "/calendar/import",
        data={"csrf_token": token},
        files={"file": (name, data, "text/plain")},
        follow_redirects=False,
    )


def test_the_office_is_warned_from_1_december_until_it_imports_the_notice(
    office: TestClient, session: Session
) -> None:
    for page in ("/", "/cases", "/calendar"):
        assert WARNING_2027 in office.get(page).text, page
    # In December the page opens on the year to enter.
    assert "2027 年没有官方数据：该年的工作日按周一至周五计算" in office.get("/calendar").text
    bad = upload(office, "2027-02-05 休 春节\n2027-02-31 班 调休\n".encode())
    assert bad.status_code == 422
    assert "第 2 行：“2027-02-31”不是有效日期" in bad.text
    assert "已有的安排没有任何改动" in bad.text
    session.expire_all()
    assert session.get(CalendarDay, date(2027, 2, 5)) is None
    good = upload(office, NOTICE_2027.encode())
    assert good.status_code == 303
    page = office.get(good.headers["location"]).text
    assert "已导入 2027 年：休 9 天，班 1 天" in page
    assert "2027-02-13" in page and WARNING_2027 not in page
    assert WARNING_2027 not in office.get("/").text


def test_a_day_is_added_and_removed_on_the_page(office: TestClient, session: Session) -> None:
    token = csrf_of(office.get("/calendar?year=2027").text)
    added = office.post(
        "/calendar/days",
        data={"csrf_token": token, "day": "2027-02-13", "kind": "班", "name": "春节调休"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "2027-02-13" in office.get(added.headers["location"]).text
    refused = office.post(
        "/calendar/days",
        data={"csrf_token": token, "day": "2027-02-15", "kind": "班"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "调休上班日（班）只会是周六或周日" in refused.text
    removed = office.post(
        "/calendar/days/delete",
        data={"csrf_token": token, "day": "2027-02-13"},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    session.expire_all()
    assert session.get(CalendarDay, date(2027, 2, 13)) is None
    assert 2027 in calendar_service.list_known_years(session)  # the year stays, as entered


def test_only_the_office_keeps_the_calendar_and_sees_the_warning(
    engine: Engine, session: Session, december: None
) -> None:
    service.ensure_defaults(session)
    session.commit()
    make_user(engine, "leader", "leader", None)
    with TestClient(desk_app()) as client:
        sign_in(client, "leader", TEST_PASSWORD)
        assert client.get("/calendar").status_code == 403
        assert WARNING_2027 not in client.get("/").text


def test_the_case_page_says_which_rule_each_clock_used(
    office: TestClient, session: Session, clock: Clock
) -> None:
    office_p = principal_of(session, "office")
    clock.now = utc("2027-02-04 10:00")
    case = service.open_case(session, principal=office_p, title="跨年无数据的时限")
    service.triage(session, principal=office_p, case=case, grade_key="general")
    session.commit()
    page = office.get(f"/cases/{case.id}").text
    assert "2027 年无官方数据，按周一至周五计算" in page
    upload(office, NOTICE_2027.encode())
    page = office.get(f"/cases/{case.id}").text
    assert "按 2027 年官方节假日安排（含调休）计算" in page
    assert "时限重算" in page and "工作日历已更新" in page


def test_the_command_line_imports_and_shows_a_year(
    session: Session, tmp_path: Path, december: None
) -> None:
    service.ensure_defaults(session)
    session.commit()
    runner = CliRunner()
    bad = tmp_path / "bad.txt"
    bad.write_text("2027-02-06 放假 春节\n", encoding="utf-8")
    refused = runner.invoke(calendar_cli, ["import", str(bad)])
    assert refused.exit_code == 1 and "第 1 行：第二项应为“休”或“班”" in refused.output
    notice = tmp_path / "2027.txt"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    done = runner.invoke(calendar_cli, ["import", str(notice)])
    assert done.exit_code == 0 and "已导入 2027 年：休 9 天，班 1 天" in done.output
    shown = runner.invoke(calendar_cli, ["show", "2027"])
    assert shown.exit_code == 0 and "2027-02-13 班 春节调休" in shown.output
    listed = runner.invoke(calendar_cli, ["list"])
    assert "2027  休   9 天  班  1 天  导入（2027.txt）" in listed.output
    assert runner.invoke(calendar_cli, ["show", "2031"]).exit_code == 1
    assert runner.invoke(calendar_cli, ["seed"]).exit_code == 0


def test_init_seeds_the_calendar_so_a_fresh_install_starts_on_official_data(
    engine: Engine,
) -> None:
    from yuqing.cli import app as main_cli

    result = CliRunner().invoke(main_cli, ["init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        years = calendar_service.list_known_years(session)
        assert {2024, 2025, 2026} <= years and 2027 not in years
        assert calendar_service.get_coverage_warning(session, today=date(2026, 6, 1)) is None


def test_the_api_says_which_rule_a_clock_used(
    office: TestClient, session: Session, clock: Clock
) -> None:
    office_p = principal_of(session, "office")
    clock.now = utc("2027-02-04 10:00")
    case = service.open_case(session, principal=office_p, title="接口里的时限规则")
    service.triage(session, principal=office_p, case=case, grade_key="general")
    session.commit()
    timers = office.get(f"/api/v1/cases/{case.id}").json()["timers"]
    closure = next(t for t in timers if t["clock"] == "closure")
    assert closure["rule_guessed"] is True
    assert closure["rule_label"] == "2027 年无官方数据，按周一至周五计算"
