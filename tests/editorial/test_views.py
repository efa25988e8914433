"""The editorial pages over the real app: bad input from the issue, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.editorial.conftest import accounts_with_people
from tests.editorial.test_service import WORD_PASTE
from tests.support import TEST_PASSWORD, sign_in
from yuqing.auth.models import User
from yuqing.core.audit import AuditEntry
from yuqing.editorial import config
from yuqing.editorial.models import Submission
from yuqing.web.app import create_app


@pytest.fixture
def desk(engine: Engine) -> Iterator[tuple[dict[str, int], Any]]:
    ids = accounts_with_people(engine)

    def client(username: str) -> TestClient:
        return sign_in(TestClient(create_app()), username, TEST_PASSWORD)

    yield ids, client


def _post(client: TestClient, path: str, **form: Any) -> Any:
    """A form post as the desk's pages send it (the editor's form is multipart: its body
    travels unescaped)."""
    token = client.cookies.get("yuqing_csrf")
    fields = {key: (None, str(value)) for key, value in {**form, "csrf_token": token}.items()}
    return client.post(path, files=fields, follow_redirects=False)


def _new(client: TestClient, unit: int, body: str = WORD_PASTE, **more: str) -> int:
    answer = _post(client, "/editorial/new", title="学术报告会", body=body, unit_id=str(unit),
                   event_date="2026-03-05", channels="column", **more)  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    return int(answer.headers["location"].split("/")[2])


def test_pasted_word_html_over_http(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr = client("corr")
    sid = _new(corr, ids["cs"])
    page = corr.get(f"/editorial/{sid}").text
    assert "计算机学院举行" in page and "名师生参加" in page
    assert "alert(" not in page and "onclick" not in page and "mso-" not in page


def test_a_200001_character_body_is_refused_with_a_clear_error(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr = client("corr")
    sid = _new(corr, ids["cs"])
    huge = "<p>" + "字" * config.MAX_BODY_CHARS + "</p>"
    answer = _post(corr, f"/editorial/{sid}/edit", title="学术报告会", body=huge,
                   unit_id=str(ids["cs"]), base_version="1")  # fmt: skip
    assert answer.status_code == 422 and "正文过长" in answer.text
    assert "字字字字" in answer.text  # the editor's text comes back in the form
    with Session(engine) as session:
        row = session.get(Submission, sid)
        assert row is not None and row.version == 1 and "计算机学院举行" in row.body


def test_two_people_saving_the_same_version_over_http(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr, head = client("corr"), client("cshead")
    sid = _new(corr, ids["cs"])
    _post(corr, f"/editorial/{sid}/unlock")
    first = _post(corr, f"/editorial/{sid}/edit", title="学术报告会", body="<p>第一人</p>",
                  unit_id=str(ids["cs"]), base_version="1")  # fmt: skip
    assert first.status_code == 303
    _post(corr, f"/editorial/{sid}/unlock")
    second = _post(head, f"/editorial/{sid}/edit", title="学术报告会", body="<p>第二人的改动</p>",
                   unit_id=str(ids["cs"]), base_version="1")  # fmt: skip
    assert second.status_code == 409
    assert "已保存了第 2 版" in second.text and "未丢失" in second.text
    assert "第二人的改动" in second.text
    with Session(engine) as session:
        row = session.get(Submission, sid)
        assert row is not None and "第一人" in row.body


def test_images_5_mb_taken_9_mb_refused(desk: Any, engine: Engine) -> None:
    _, client = desk
    corr = client("corr")
    token = corr.cookies.get("yuqing_csrf")
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024)
    taken = corr.post("/editorial/images", files={"file": ("p.jpg", photo, "image/jpeg")},
                      headers={"X-CSRF-Token": token})  # fmt: skip
    assert taken.status_code == 200, taken.text[:300]
    assert corr.get(taken.json()["url"]).content == photo
    big = b"\xff\xd8\xff\xe0" + b"\0" * (9 * 1024 * 1024)
    refused = corr.post("/editorial/images", files={"file": ("p.jpg", big, "image/jpeg")},
                        headers={"X-CSRF-Token": token, "Accept": "application/json"})  # fmt: skip
    assert refused.status_code == 413 and "8 MB" in refused.json()["detail"]
    svg = corr.post("/editorial/images", files={"file": ("x.svg", b"<svg onload=alert(1)>", "image/svg+xml")},
                    headers={"X-CSRF-Token": token})  # fmt: skip
    assert svg.status_code == 422 and "只能上传" in svg.json()["detail"]


def test_a_reviewer_outside_the_stage_is_refused_and_audited(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr = client("corr")
    sid = _new(corr, ids["cs"])
    assert _post(corr, f"/editorial/{sid}/submit").status_code == 303
    editor = client("editor")  # 复审's editor, not the college head of 初审
    answer = _post(editor, f"/editorial/{sid}/review", decision="approve")
    assert answer.status_code == 403 and "初审须由本单位的单位负责人办理" in answer.text
    with Session(engine) as session:
        row = session.get(Submission, sid)
        assert row is not None and row.state == "in_review"
        refused = (
            session.execute(select(AuditEntry).where(AuditEntry.action == "refused"))
            .scalars()
            .all()
        )
        assert [r.actor_name for r in refused] == ["赵编辑"]


def test_the_public_column_serves_no_path_outside_it(desk: Any) -> None:
    anonymous = TestClient(create_app())
    assert anonymous.get("/news/index.html").status_code == 200
    assert anonymous.get("/news/..%2Fyuqing.db").status_code == 404
    assert anonymous.get("/news/a/..%2F..%2Faudit_key.html").status_code in {404, 422}
    assert anonymous.get("/news/images/..%2Faudit_key").status_code == 404


def test_a_statement_started_from_the_case_page(desk: Any, engine: Engine) -> None:
    from yuqing.auth import service as auth
    from yuqing.cases import service as cases

    ids, client = desk
    with Session(engine) as session:
        user = auth.get_user_by_username(session, username="chief")
        assert user is not None
        chief = auth.principal_for(session, user=user)
        case = cases.open_case(session, principal=chief, title="食堂排队过长", link=None)
        session.commit()
        case_id = case.id
    office = client("chief")
    assert "起草声明" in office.get(f"/cases/{case_id}").text
    assert office.get(f"/editorial/new?kind=statement&case_id={case_id}").status_code == 200
    answer = _post(office, "/editorial/new", title="关于食堂排队的情况说明", body="<p>已增开窗口。</p>",
                   unit_id=str(ids["office"]), case_id=str(case_id))  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    page = office.get(f"/cases/{case_id}").text
    assert "关于食堂排队的情况说明" in page and "草稿" in page and "起草官方声明" in page
    missing = _post(office, "/editorial/new", title="无处置单", case_id="987654")
    assert missing.status_code == 404


def test_attachments_checked_by_their_bytes(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr = client("corr")
    sid = _new(corr, ids["cs"])
    token = corr.cookies.get("yuqing_csrf")

    def upload(name: str, data: bytes) -> Any:
        return corr.post(f"/editorial/{sid}/attachments", files={"file": (name, data)},
                         data={"csrf_token": token}, follow_redirects=False)  # fmt: skip

    assert upload("审批表.pdf", b"%PDF-1.4 test").status_code == 303
    assert upload("伪装.pdf", b"<html><script>alert(1)</script>").status_code == 422
    page = corr.get(f"/editorial/{sid}").text
    assert "审批表.pdf" in page and "伪装.pdf" not in page
    assert f'href="/editorial/{sid}/attachments/1"' in page
    download = corr.get(f"/editorial/{sid}/attachments/1")
    assert download.content == b"%PDF-1.4 test"
    assert download.headers["content-type"] == "application/octet-stream"
    assert "attachment" in download.headers["content-disposition"]


def test_a_saved_grade_is_preselected_on_reopening(desk: Any, engine: Engine) -> None:
    ids, client = desk
    corr, head, editor, chief = client("corr"), client("cshead"), client("editor"), client("chief")
    with Session(engine) as session:
        author = session.execute(select(User.person_id).where(User.username == "corr")).scalar_one()
    sid = _new(corr, ids["cs"], author_person_id=str(author))
    assert _post(corr, f"/editorial/{sid}/submit").status_code == 303
    for reviewer in (head, editor, chief):
        answer = _post(reviewer, f"/editorial/{sid}/review", decision="approve", proofread="1")
        assert answer.status_code == 303, answer.text[:300]
    assert _post(chief, f"/editorial/{sid}/publish").status_code == 303
    graded = _post(chief, f"/editorial/{sid}/grade", grade="picked_up")
    assert graded.status_code == 303, graded.text[:300]
    page = chief.get(f"/editorial/{sid}").text
    grade_select = page.split('id="grade"', 1)[1].split("</select>", 1)[0]
    assert '<option value="picked_up" selected>' in grade_select
    assert grade_select.count("selected") == 1


def test_an_edit_lock_is_marked_without_an_emoji(desk: Any) -> None:
    ids, client = desk
    corr, head = client("corr"), client("cshead")
    sid = _new(corr, ids["cs"])
    assert corr.get(f"/editorial/{sid}/edit").status_code == 200  # opening the editor locks
    board = head.get("/editorial").text
    page = head.get(f"/editorial/{sid}").text
    editor = head.get(f"/editorial/{sid}/edit").text  # refused: the banner names the holder
    for html in (board, page, editor):
        assert "🔒" not in html
        assert '<span class="lock-icon" aria-hidden="true"></span>' in html
    assert "刘通讯员 正在编辑" in page
