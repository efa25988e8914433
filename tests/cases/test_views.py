"""Case desk pages on the real app and database, signed in as the publicity office and as
the heads of two colleges: scope (another unit's case is a 404), the board's order, the
transition forms with CSRF, refusals naming the rule with nothing changed, escaping, the
library, the ledger read back, the accountability figures."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, make_user, sign_in
from yuqing.auth import service as auth
from yuqing.auth.schemas import Principal
from yuqing.cases import api, service, views
from yuqing.cases.models import Case, CaseEntry
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import format_local, utcnow
from yuqing.mentions.models import Mention
from yuqing.mentions.store import ingest
from yuqing.org import service as org
from yuqing.sources.models import Source
from yuqing.web.app import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def desk_app() -> FastAPI:
    """The real app; the case routes are added here until web/app.py includes them."""
    app = create_app()
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/cases" not in paths:
        app.include_router(views.router)
    if "/api/v1/cases" not in paths:
        app.include_router(api.router)
    return app


@dataclass
class Org:
    """示范大学 → 甲学院 (head 张院长, member 李老师), 乙学院 (head 王院长), 丙学院 (no one)."""

    a: int
    b: int
    empty: int
    head_a: int
    teacher_a: int
    head_b: int


@pytest.fixture
def units(session: Session) -> Org:
    return build_units(session)


def build_units(session: Session) -> Org:
    org.ensure_defaults(session)
    school = org.create_unit(session, name="示范大学", actor=SYSTEM)
    a = org.create_unit(session, name="甲学院", actor=SYSTEM, parent_id=school.id)
    b = org.create_unit(session, name="乙学院", actor=SYSTEM, parent_id=school.id)
    empty = org.create_unit(session, name="丙学院", actor=SYSTEM, parent_id=school.id)
    head_a = org.create_person(session, actor=SYSTEM, name="张院长", unit_id=a.id)
    teacher = org.create_person(session, actor=SYSTEM, name="李老师", unit_id=a.id)
    head_b = org.create_person(session, actor=SYSTEM, name="王院长", unit_id=b.id)
    a.head_person_id, b.head_person_id = head_a.id, head_b.id
    session.commit()
    return Org(a.id, b.id, empty.id, head_a.id, teacher.id, head_b.id)


Login = Callable[[str, str, "int | None"], TestClient]


@pytest.fixture
def login(engine: Engine) -> Iterator[Login]:
    app = desk_app()
    clients: list[TestClient] = []

    def make(username: str, role: str, unit_id: int | None = None) -> TestClient:
        make_user(engine, username, role, unit_id)
        client = TestClient(app)
        clients.append(client)
        return sign_in(client, username, TEST_PASSWORD)

    yield make
    for client in clients:
        client.close()


def principal_of(session: Session, username: str) -> Principal:
    user = auth.get_user_by_username(session, username=username)
    assert user is not None
    return auth.principal_for(session, user=user)


def new_case(
    session: Session,
    office: Principal,
    title: str,
    grade: str | None = None,
    unit: int | None = None,
) -> Case:
    """A case reported by the office, graded and handed to ``unit`` (its head) if given."""
    link = "https://bbs.example.cn/1"
    case = service.open_case(session, principal=office, title=title, link=link)
    if grade:
        service.triage(session, principal=office, case=case, grade_key=grade)
    if unit:
        service.assign(session, principal=office, case=case, unit_id=unit)
    session.commit()
    return case


def post(client: TestClient, path: str, page: str, **form: object) -> httpx.Response:
    """POST a form with the CSRF token of ``page``, as the browser would."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def status_of(session: Session, case_id: int) -> str:
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None
    return case.status


# --- scope and the board --------------------------------------------------------------


def test_unit_sees_only_its_cases_office_sees_all(
    session: Session, units: Org, login: Login
) -> None:
    office_client = login("pub", "publicity", None)
    a_client = login("head_a", "unit_head", units.a)
    office = principal_of(session, "pub")
    general = new_case(session, office, "甲学院食堂涨价", grade="general", unit=units.a)
    severe = new_case(session, office, "乙学院实验室事故", grade="severe", unit=units.b)
    untriaged = new_case(session, office, "尚未研判的帖子")

    board = office_client.get("/cases")
    assert board.status_code == 200
    html = board.text
    for title in ("甲学院食堂涨价", "乙学院实验室事故", "尚未研判的帖子"):
        assert title in html
    # Nearest deadline first: 特别重大 (5 h) before 一般 (12 h); no clock last.
    assert html.index(f'id="case-{severe.id}"') < html.index(f'id="case-{general.id}"')
    assert html.index(f'id="case-{general.id}"') < html.index(f'id="case-{untriaged.id}"')
    assert "c-red" in html and "c-blue" in html
    assert format_local(service.list_timers(session, case=severe)[0].due_at) in html

    mine = a_client.get("/cases")
    assert mine.status_code == 200
    assert "本单位待办（1）" in mine.text
    assert "甲学院食堂涨价" in mine.text
    assert "乙学院实验室事故" not in mine.text and "尚未研判的帖子" not in mine.text
    assert a_client.get(f"/cases/{general.id}").status_code == 200
    assert a_client.get(f"/cases/{severe.id}").status_code == 404
    assert a_client.get(f"/cases/{untriaged.id}").status_code == 404
    assert a_client.get("/cases/987654").status_code == 404
    assert office_client.get(f"/cases/{severe.id}").status_code == 200


def test_board_filters_and_overdue_mark(session: Session, units: Org, login: Login) -> None:
    client = login("pub", "publicity", None)
    office = principal_of(session, "pub")
    late = new_case(session, office, "超时的事件", grade="general", unit=units.a)
    new_case(session, office, "另一件事", grade="major", unit=units.b)
    # The 12-hour feedback clock ran out yesterday.
    for timer in service.list_timer_rows(session, case=late).values():
        timer.due_at = utcnow().replace(microsecond=0) - timedelta(hours=20)
    session.commit()
    html = client.get("/cases").text
    assert html.index(f'id="case-{late.id}"') < html.index("另一件事")
    row = html[html.index(f'id="case-{late.id}"') :]
    row = row[: row.index("</tr>")]
    assert "overdue" in row and "已超时" in row
    only_late = client.get("/cases", params={"overdue": "1"}).text
    assert "超时的事件" in only_late and "另一件事" not in only_late
    by_grade = client.get("/cases", params={"grade": "major"}).text
    assert "另一件事" in by_grade and "超时的事件" not in by_grade
    by_text = client.get("/cases", params={"q": "另一件"}).text
    assert "另一件事" in by_text and "超时的事件" not in by_text


# --- the flow through the forms -------------------------------------------------------


def test_full_flow_through_forms(session: Session, units: Org, login: Login) -> None:
    office_client = login("pub", "publicity", None)
    a_client = login("head_a", "unit_head", units.a)
    page = office_client.get("/cases/new")
    assert page.status_code == 200
    reply = office_client.post(
        "/cases/new",
        data={
            "csrf_token": csrf_of(page.text),
            "title": "学生反映宿舍停水",
            "link": "https://bbs.example.cn/t/9",
            "summary": "论坛帖子称宿舍停水两天。",
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303
    case_id = int(reply.headers["location"].split("/")[2].split("?")[0])
    at = f"/cases/{case_id}"
    html = office_client.get(at).text
    assert 'id="act-triage"' in html and 'id="act-accept"' not in html

    assert post(office_client, f"{at}/triage", at, grade="larger").status_code == 303
    assert status_of(session, case_id) == "triaged"
    html = office_client.get(at).text
    # 较大: the 48-hour response clock runs from the report; the unit's clocks from 下发.
    assert "较大" in html and "公开回应" in html and "单位反馈" not in html
    assert 'id="act-assign"' in html
    form = {"unit_id": str(units.a), "person_id": str(units.teacher_a)}
    assert post(office_client, f"{at}/assign", at, **form).status_code == 303
    assert status_of(session, case_id) == "assigned"

    html = a_client.get(at).text
    assert "单位反馈" in html and "签收" in html
    assert "李老师" in html and 'id="act-start"' in html and 'id="act-triage"' not in html
    assert post(a_client, f"{at}/start", at).status_code == 303
    feedback = {
        "feedback_text": "已核实：管道检修，今日恢复供水。",
        "response_text": "后勤处说明已发布。",
        "response_url": "https://www.example.edu.cn/notice/1",
    }
    assert post(a_client, f"{at}/feedback", at, **feedback).status_code == 303
    assert status_of(session, case_id) == "feedback"

    assert post(office_client, f"{at}/accept", at, note="同意").status_code == 303
    assert status_of(session, case_id) == "review"
    closing = {"lessons": "停水须提前通知。", "tags": "后勤 宿舍"}
    assert post(office_client, f"{at}/close", at, **closing).status_code == 303
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None and case.status == "closed" and case.tags == "后勤 宿舍"
    kinds = [
        (e.from_status, e.to_status)
        for e in session.execute(
            select(CaseEntry).where(CaseEntry.case_id == case_id, CaseEntry.kind == "transition")
        ).scalars()
    ]
    assert [t for _, t in kinds] == [
        "new",
        "triaged",
        "assigned",
        "in_progress",
        "feedback",
        "review",
        "closed",
    ]
    html = office_client.get(at).text
    assert "停水须提前通知。" in html and "已核实：管道检修" in html
    assert 'id="act-reopen"' in html and 'id="act-close"' not in html
    audits = (
        session.execute(
            select(AuditEntry).where(
                AuditEntry.object_type == "case", AuditEntry.object_id == str(case_id)
            )
        )
        .scalars()
        .all()
    )
    assert len(audits) >= 7


# --- refusals -------------------------------------------------------------------------


def test_bad_transitions_refused_with_the_rule_nothing_changed(
    session: Session, units: Org, login: Login
) -> None:
    office_client = login("pub", "publicity", None)
    a_client = login("head_a", "unit_head", units.a)
    b_client = login("head_b", "unit_head", units.b)
    office = principal_of(session, "pub")
    fresh = new_case(session, office, "新报送的事件")
    at = f"/cases/{fresh.id}"

    refused = post(office_client, f"{at}/accept", at)
    assert refused.status_code == 422
    assert "当前状态“新报送”不能执行“审核通过”" in refused.text
    assert status_of(session, fresh.id) == "new"

    graded = new_case(session, office, "待下发的事件", grade="general")
    at = f"/cases/{graded.id}"
    no_head = post(office_client, f"{at}/assign", at, unit_id=str(units.empty))
    assert no_head.status_code == 422
    assert "没有指定负责人" in no_head.text
    wrong_person = post(
        office_client, f"{at}/assign", at, unit_id=str(units.b), person_id=str(units.teacher_a)
    )
    assert wrong_person.status_code == 422
    assert "不属于所选单位" in wrong_person.text
    assert status_of(session, graded.id) == "triaged"

    handed = new_case(session, office, "甲学院的事件", grade="general", unit=units.a)
    at = f"/cases/{handed.id}"
    service.start(session, principal=office, case=handed)
    session.commit()
    empty = post(a_client, f"{at}/feedback", at, feedback_text="  ")
    assert empty.status_code == 422
    assert "反馈内容不能为空" in empty.text
    assert status_of(session, handed.id) == "in_progress"
    # A unit may not grade (403), another unit's case does not exist for it (404).
    assert post(a_client, f"{at}/triage", at, grade="severe").status_code == 403
    token = csrf_of(b_client.get("/cases").text)
    other = b_client.post(
        f"{at}/feedback",
        data={"csrf_token": token, "feedback_text": "冒充"},
        follow_redirects=False,
    )
    assert other.status_code == 404
    # Without the CSRF token: refused, nothing changed.
    forged = a_client.post(f"{at}/feedback", data={"feedback_text": "伪造"}, follow_redirects=False)
    assert forged.status_code == 403
    assert status_of(session, handed.id) == "in_progress"
    session.expire_all()
    assert session.get(Case, handed.id).feedback_text is None  # type: ignore[union-attr]


def test_titles_and_links_are_escaped(session: Session, units: Org, login: Login) -> None:
    client = login("pub", "publicity", None)
    page = client.get("/cases/new")
    reply = client.post(
        "/cases/new",
        data={
            "csrf_token": csrf_of(page.text),
            "title": "<script>alert(1)</script>标题",
            "link": "javascript:alert(2)",
            "summary": "x",
        },
        follow_redirects=False,
    )
    assert reply.status_code == 422 and "链接须以 http:// 或 https:// 开头" in reply.text
    assert session.execute(select(Case)).first() is None
    reply = client.post(
        "/cases/new",
        data={
            "csrf_token": csrf_of(page.text),
            "title": "<script>alert(1)</script>标题",
            "summary": '"><img src=x onerror=alert(3)>',
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303
    html = client.get(reply.headers["location"]).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html
    assert "<script>alert(1)</script>" not in client.get("/cases").text


# --- opening from a mention -----------------------------------------------------------


def test_open_from_mention_twice_gives_the_same_case(
    session: Session, units: Org, login: Login, push_source: Source
) -> None:
    ingest(
        session,
        source=push_source,
        items=[
            {"title": "食堂饭菜涨价", "text": "学生反映涨价。", "url": "https://bbs.example.cn/t/7"}
        ],
    )
    session.commit()
    mention = session.execute(select(Mention)).scalar_one()
    client = login("pub", "publicity", None)
    page = f"/mentions/{mention.id}"
    assert f'action="/mentions/{mention.id}/case"' in client.get(page).text
    first = post(client, f"/mentions/{mention.id}/case", "/cases")
    second = post(client, f"/mentions/{mention.id}/case", "/cases")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    cases = session.execute(select(Case)).scalars().all()
    assert len(cases) == 1 and cases[0].link == "https://bbs.example.cn/t/7"
    html = client.get(first.headers["location"]).text
    assert f'href="/mentions/{mention.id}"' in html
    assert post(client, "/mentions/987654/case", "/cases").status_code == 404


# --- the library, the ledger, the figures ---------------------------------------------


def _closed(
    session: Session, office: Principal, title: str, unit: int, lessons: str, tags: str
) -> Case:
    case = new_case(session, office, title, grade="general", unit=unit)
    service.start(session, principal=office, case=case)
    service.give_feedback(session, principal=office, case=case, feedback_text="已处理")
    service.accept(session, principal=office, case=case)
    service.close(session, principal=office, case=case, lessons=lessons, tags=tags)
    session.commit()
    return case


def test_library_search_and_ledger_export(session: Session, units: Org, login: Login) -> None:
    office_client = login("pub", "publicity", None)
    b_client = login("head_b", "unit_head", units.b)
    office = principal_of(session, "pub")
    danger = '=HYPERLINK("http://evil.example","点我")'
    _closed(session, office, "食堂涨价", units.a, "价格调整要提前公示", "后勤 价格")
    _closed(session, office, danger, units.b, "-2+3", "安全")
    new_case(session, office, "仍在处置", grade="general", unit=units.a)

    lib = office_client.get("/cases/library")
    assert lib.status_code == 200
    assert "食堂涨价" in lib.text and "价格调整要提前公示" in lib.text
    assert "仍在处置" not in lib.text
    found = office_client.get("/cases/library", params={"q": "公示"}).text
    assert "食堂涨价" in found and "HYPERLINK" not in found
    tagged = office_client.get("/cases/library", params={"tag": "安全"}).text
    assert "HYPERLINK" in tagged and "食堂涨价" not in tagged
    by_unit = office_client.get("/cases/library", params={"unit_id": str(units.a)}).text
    assert "食堂涨价" in by_unit and "HYPERLINK" not in by_unit

    reply = office_client.get("/cases/ledger.xlsx")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert sheet is not None
    rows = [r for r in sheet.iter_rows(min_row=4, values_only=True)]
    titles = {r[2] for r in rows}
    assert titles == {"食堂涨价", "'" + danger, "仍在处置"}
    lessons = {r[2]: r[18] for r in rows}
    assert lessons["'" + danger] == "'-2+3"
    assert [c.value for c in sheet[3]][:3] == ["序号", "编号", "标题"]
    export = session.execute(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.object_type == "case")
    ).scalar_one()
    assert "3 条" in export.summary

    mine = load_workbook(io.BytesIO(b_client.get("/cases/ledger.xlsx").content)).active
    assert mine is not None
    assert [r[2] for r in mine.iter_rows(min_row=4, values_only=True)] == ["'" + danger]
    assert "食堂涨价" not in b_client.get("/cases/library").text


def test_accountability_per_unit(session: Session, units: Org, login: Login) -> None:
    client = login("pub", "publicity", None)
    a_client = login("head_a", "unit_head", units.a)
    office = principal_of(session, "pub")
    _closed(session, office, "按时反馈的事件", units.a, "好", "")
    new_case(session, office, "另一个", grade="general", unit=units.b)
    month = format_local(utcnow(), "%Y-%m")
    html = client.get("/cases/accountability", params={"month": month}).text
    row_a = html[html.index(f'id="unit-{units.a}"') :]
    row_a = row_a[: row_a.index("</tr>")]
    assert "甲学院" in row_a and '<td class="num received">1</td>' in row_a
    assert '<td class="num overdue-count">0</td>' in row_a
    assert f'id="unit-{units.b}"' in html
    own = a_client.get("/cases/accountability", params={"month": month}).text
    assert "甲学院" in own and "乙学院" not in own
    bad = client.get("/cases/accountability", params={"month": "2024/13"})
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    empty = client.get("/cases/accountability", params={"month": "2001-01"}).text
    assert "没有下发的处置单" in empty


def test_reporting_unit_sees_its_report_not_who_handles_it(
    session: Session, units: Org, login: Login
) -> None:
    a_client = login("head_a", "unit_head", units.a)
    login("pub", "publicity", None)
    office = principal_of(session, "pub")
    reported = service.open_case(
        session, principal=principal_of(session, "head_a"), title="甲学院报送的帖子"
    )
    service.triage(session, principal=office, case=reported, grade_key="general")
    service.assign(session, principal=office, case=reported, unit_id=units.b)
    session.commit()
    page = a_client.get(f"/cases/{reported.id}")
    assert page.status_code == 200 and "甲学院报送的帖子" in page.text
    assert "乙学院" not in page.text and "王院长" not in page.text
    assert "已下发承办单位" in page.text and 'id="act-start"' not in page.text
    board = a_client.get("/cases").text
    assert "甲学院报送的帖子" in board and "乙学院" not in board
    assert "乙学院" not in a_client.get("/cases/library").text


def test_a_refused_assign_keeps_the_chosen_unit_and_links_to_adding_its_people(
    session: Session, units: Org, login: Login
) -> None:
    office_client = login("pub", "publicity", None)
    office = principal_of(session, "pub")
    graded = new_case(session, office, "待下发的事件", grade="general")
    at = f"/cases/{graded.id}"
    before = office_client.get(at).text
    assert "丙学院（暂无人员）</option>" in before and 'id="unit-no-people"' not in before

    refused = post(office_client, f"{at}/assign", at, unit_id=str(units.empty), note="今晚回复")
    assert refused.status_code == 422 and "没有指定负责人（丙学院）" in refused.text
    assert f'<option value="{units.empty}" selected>丙学院（暂无人员）</option>' in refused.text
    assert "该单位还没有人员" in refused.text
    assert f'<a href="/org/units/{units.empty}">去添加</a>' in refused.text
    assert ">今晚回复</textarea>" in refused.text
    assert status_of(session, graded.id) == "triaged"

    wrong = post(
        office_client, f"{at}/assign", at, unit_id=str(units.b), person_id=str(units.teacher_a)
    )
    assert wrong.status_code == 422
    assert f'<option value="{units.b}" selected>乙学院</option>' in wrong.text
    assert f'<option value="{units.teacher_a}" data-unit="{units.a}" selected>' in wrong.text
    assert 'id="unit-no-people"' not in wrong.text
