"""The cases JSON API on the real app and database: 报送 by token, lists and reads scoped by
unit, transitions with the rule's refusal, token scopes and the session-cookie CSRF header."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.cases.test_views import Org, build_units, desk_app
from tests.support import TEST_PASSWORD, make_user, sign_in
from yuqing.auth import service as auth
from yuqing.cases.models import Case
from yuqing.core.audit import SYSTEM

Bearer = Callable[..., dict[str, str]]


@pytest.fixture
def units(session: Session) -> Org:
    return build_units(session)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(desk_app()) as test_client:
        yield test_client


@pytest.fixture
def bearer(engine: Engine, session: Session) -> Bearer:
    """``bearer(username, role, unit_id, scopes=[...])``: headers with a new account's token."""

    def make(
        username: str, role: str, unit_id: int | None = None, scopes: list[str] | None = None
    ) -> dict[str, str]:
        make_user(engine, username, role, unit_id)
        user = auth.get_user_by_username(session, username=username)
        assert user is not None
        wanted = scopes or ["cases.read", "cases.report", "cases.manage", "cases.handle"]
        role_perms = auth.principal_for(session, user=user).permissions
        _, secret = auth.create_token(
            session,
            user=user,
            name="测试令牌",
            scopes=[s for s in wanted if s in role_perms],
            actor=SYSTEM,
        )
        session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


def test_report_list_read_and_move_a_case(
    client: TestClient, bearer: Bearer, units: Org, session: Session
) -> None:
    office = bearer("pub", "publicity")
    head_a = bearer("head_a", "unit_head", units.a)
    head_b = bearer("head_b", "unit_head", units.b)
    body = {"title": "学生反映宿舍停水", "link": "https://bbs.example.cn/t/9", "summary": "两天"}
    made = client.post("/api/v1/cases", json=body, headers=head_a)
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["status"] == "new" and case["status_label"] == "新报送"
    assert case["actions"] == []  # a unit reports; the office grades
    case_id = case["id"]

    # The reporting unit sees its report; the other unit does not; the office sees all.
    assert client.get(f"/api/v1/cases/{case_id}", headers=head_a).status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}", headers=head_b).status_code == 404
    assert client.get("/api/v1/cases", headers=head_b).json() == {
        "total": 0,
        "total_capped": False,
        "items": [],
    }
    listed = client.get("/api/v1/cases", headers=office, params={"q": "停水"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == case_id

    def step(headers: dict[str, str], **payload: object) -> dict[str, object]:
        answer = client.post(f"/api/v1/cases/{case_id}/transitions", json=payload, headers=headers)
        assert answer.status_code == 200, answer.text
        result: dict[str, object] = answer.json()
        return result

    assert step(office, action="triage", grade="larger")["grade"] == "larger"
    assigned = step(office, action="assign", unit_id=units.a)
    assert assigned["status"] == "assigned" and assigned["assignee_person_id"] == units.head_a
    assert {t["clock"] for t in assigned["timers"]} >= {"acknowledge", "unit_feedback"}  # type: ignore[attr-defined]
    step(head_a, action="start")
    fed = step(head_a, action="give_feedback", feedback_text="已核实", response_text="已说明")
    assert fed["status"] == "feedback"
    step(office, action="accept")
    closed = step(office, action="close", lessons="提前通知", tags=["后勤"])
    assert closed["status"] == "closed" and closed["tags"] == ["后勤"]


def test_refusals_name_the_rule_and_change_nothing(
    client: TestClient, bearer: Bearer, units: Org, session: Session
) -> None:
    office = bearer("pub", "publicity")
    head_a = bearer("head_a", "unit_head", units.a)
    case_id = client.post("/api/v1/cases", json={"title": "一件事"}, headers=office).json()["id"]
    path = f"/api/v1/cases/{case_id}/transitions"

    wrong_state = client.post(path, json={"action": "accept"}, headers=office)
    assert wrong_state.status_code == 422
    assert wrong_state.json()["detail"] == {
        "rule": "state",
        "message": "当前状态“新报送”不能执行“审核通过”",
    }
    unknown = client.post(path, json={"action": "triage", "grade": "无此等级"}, headers=office)
    assert unknown.status_code == 422 and unknown.json()["detail"]["rule"] == "grade_unknown"
    # The unit cannot see the office's case at all.
    assert client.post(path, json={"action": "start"}, headers=head_a).status_code == 404
    bad_action = client.post(path, json={"action": "delete"}, headers=office)
    assert bad_action.status_code == 422
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None and case.status == "new" and case.grade_id is None

    no_title = client.post("/api/v1/cases", json={"title": ""}, headers=office)
    assert no_title.status_code == 422
    bad_link = client.post(
        "/api/v1/cases", json={"title": "x", "link": "javascript:alert(1)"}, headers=office
    )
    assert bad_link.status_code == 422 and bad_link.json()["detail"]["rule"] == "link"
    assert len(session.execute(select(Case)).scalars().all()) == 1


def test_token_scopes_and_session_writes(
    client: TestClient, bearer: Bearer, engine: Engine, units: Org
) -> None:
    read_only = bearer("reader", "publicity", scopes=["cases.read"])
    assert client.get("/api/v1/cases", headers=read_only).status_code == 200
    refused = client.post("/api/v1/cases", json={"title": "报送"}, headers=read_only)
    assert refused.status_code == 403
    assert client.get("/api/v1/cases").status_code == 401

    make_user(engine, "desk", "publicity")
    sign_in(client, "desk", TEST_PASSWORD)
    assert client.get("/api/v1/cases").status_code == 200
    no_header = client.post("/api/v1/cases", json={"title": "报送"})
    assert no_header.status_code == 403 and "X-CSRF-Token" in no_header.json()["detail"]
    token = client.cookies.get("yuqing_csrf") or ""
    made = client.post("/api/v1/cases", json={"title": "报送"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201
