"""The team pages on the real app: a registration round returned and resubmitted, a change
request approved, a training with sign-in twice, the month and the bulletin; a unit's
account sees only its own units."""

from __future__ import annotations

import io
from datetime import timedelta

from docx import Document
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.org.conftest import Login, Tree, csrf_of
from yuqing.assessment.models import CreditWeight, ScoreRubric
from yuqing.auth import service as auth
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import format_local, utcnow
from yuqing.org import service as org
from yuqing.org.models import DutyRole, Person, QuotaRule, UnitKind

PDF = b"%PDF-1.4\n" + b"0" * 64


def _row_counts(session: Session, *tables: type) -> tuple[int, ...]:
    """Rows stored in each table, in order."""
    return tuple(
        session.execute(select(func.count()).select_from(table)).scalar_one() for table in tables
    )


def _post(client, path, data, files=None):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/team").text)
    return client.post(
        path, data={**data, "csrf_token": token}, files=files, follow_redirects=False
    )


def test_round_change_training_month_bulletin(session: Session, tree: Tree, login: Login) -> None:
    office = login("office", "publicity", None)
    head = login("cs_head", "unit_head", tree.cs)
    other = org.create_person(session, actor=SYSTEM, name="外语人员", unit_id=tree.lang)
    session.commit()
    assert "计算机学院" in office.get("/team").text
    deadline = format_local(utcnow() + timedelta(days=5), "%Y-%m-%d")
    assert (
        _post(office, "/team/rounds", {"title": "年度登记", "deadline": deadline}).status_code
        == 303
    )
    page = office.get("/team/rounds").text
    assert "未提交的单位（1）" in page and "计算机学院" in page
    base = "/team/rounds/1/units/" + str(tree.cs)
    assert "外语人员" not in head.get("/team/rounds").text
    # no scan: refused with the reason, nothing changes
    reply = _post(head, base + "/submit", {}, files={"file": ("a.txt", b"x", "text/plain")})
    assert reply.status_code == 400 and "不支持" in reply.text
    reply = _post(head, base + "/submit", {}, files={"file": ("盖章.pdf", PDF, "application/pdf")})
    assert reply.status_code == 303
    assert _post(head, base + "/decide", {"action": "accept"}).status_code == 403
    assert (
        _post(office, base + "/decide", {"action": "return", "reason": "缺通讯员"}).status_code
        == 303
    )
    assert "缺通讯员" in head.get(base).text
    _post(head, base + "/submit", {}, files={"file": ("盖章.pdf", PDF, "application/pdf")})
    assert _post(office, base + "/decide", {"action": "accept"}).status_code == 303
    assert "已受理" in head.get(base).text
    assert head.get(base + "/scan").content == PDF
    assert head.get(f"/team/rounds/1/units/{tree.lang}").status_code == 404
    # a change request
    roles = {r.key: r.id for r in org.list_duty_roles(session)}
    reply = _post(
        head, "/team/changes",
        {"unit_id": str(tree.cs), "kind": "add", "duty_role_id": str(roles["correspondent"]),
         "new_person_name": "新通讯员", "reason": "新增"},
    )  # fmt: skip
    assert reply.status_code == 303
    assert _post(office, "/team/changes/1/decide", {"action": "approve"}).status_code == 303
    assert "已批准备案" in head.get("/team/changes").text
    newcomer = session.query(Person).filter_by(name="新通讯员").one()
    assert [
        r.key for r in org.list_duty_roles_of(session, person_ids=[newcomer.id])[newcomer.id]
    ] == ["correspondent"]
    # a training: invited by role, signed in twice by the QR link, ticked by the organiser
    when = format_local(utcnow() + timedelta(hours=1), "%Y-%m-%dT%H:%M")
    reply = _post(
        office, "/team/training", {"topic": "网络安全法解读", "kind": "law", "starts_at": when}
    )
    assert reply.status_code == 303
    path = reply.headers["location"]
    _post(office, path + "/invite", {"duty_role_id": str(roles["correspondent"])})
    page = office.get(path).text
    assert "新通讯员" in page and office.get(path + "/qr.svg").text.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg"'
    )  # an <img> draws an SVG file only with its namespace
    sign = page.split('id="sign-link">')[1].split("<")[0]
    user = auth.get_user_by_username(session, username="cs_head")
    assert user is not None
    user.person_id = newcomer.id
    session.commit()
    first = _post(head, sign, {})
    again = _post(head, sign, {})
    assert first.status_code == again.status_code == 200 and "已签到" in again.text
    _post(office, path + "/attendance", {"person_id": [str(newcomer.id), str(other.id)]})
    page = office.get(path).text
    assert page.count("已签到") == 1 and "外语人员" not in head.get(path).text
    # the month and the drill-down; the bulletin is for every-unit accounts only
    month = head.get("/team/month")
    assert month.status_code == 200 and "新通讯员" in month.text and "外语人员" not in month.text
    drill = head.get(f"/team/month/people/{newcomer.id}")
    assert "网络安全法解读" in drill.text
    assert head.get("/team/bulletin").status_code == 403
    mon = format_local(utcnow(), "%Y-%m")
    assert _post(office, "/team/bulletin", {"month": mon}).status_code == 303
    page = office.get(f"/team/bulletin?m={mon}").text
    assert "单位排名" in page and "计算机学院" in page
    word = office.get(f"/team/bulletin/{mon}.docx")
    assert "月度通报" in Document(io.BytesIO(word.content)).paragraphs[0].text
    assert office.get("/team/year.xlsx").status_code == 200
    assert head.get(f"/team/ledger.xlsx?on={format_local(utcnow(), '%Y-%m-%d')}").status_code == 200


def test_the_team_page_on_a_fresh_database_writes_nothing(
    session: Session, tree: Tree, login: Login
) -> None:
    office = login("office", "publicity", None)

    def counts() -> tuple[int, ...]:
        return _row_counts(session, QuotaRule, DutyRole, UnitKind)

    before = counts()
    assert office.get("/team").status_code == 200
    assert office.get("/team/quotas.xlsx").status_code == 200
    session.expire_all()
    assert counts() == before


def test_the_month_page_shows_a_leaver_apart_without_a_score(
    session: Session, tree: Tree, login: Login
) -> None:
    office = login("office", "publicity", None)
    member = org.create_person(session, actor=SYSTEM, name="在队通讯员", unit_id=tree.cs)
    org.update_duty_roles(session, person=member, role_keys=["correspondent"], actor=SYSTEM)
    leaver = org.create_person(session, actor=SYSTEM, name="已撤销人员", unit_id=tree.cs)
    org.update_duty_roles(session, person=leaver, role_keys=["correspondent"], actor=SYSTEM)
    org.update_duty_roles(session, person=leaver, role_keys=[], actor=SYSTEM)
    session.commit()
    page = office.get("/team/month").text
    row = page.split("已撤销人员</a>", 1)[1].split("</tr>", 1)[0]
    assert "已离队" in row and "不计分" in row and "100" not in row
    drill = office.get(f"/team/month/people/{leaver.id}").text
    assert "本月不计分" in drill and "综合分" not in drill


def test_the_month_pages_read_default_weights_without_storing_them(
    session: Session, tree: Tree, login: Login
) -> None:
    office = login("office", "publicity", None)
    member = org.create_person(session, actor=SYSTEM, name="在队通讯员", unit_id=tree.cs)
    org.update_duty_roles(session, person=member, role_keys=["correspondent"], actor=SYSTEM)
    session.commit()

    def counts() -> tuple[int, ...]:
        return _row_counts(session, CreditWeight, ScoreRubric)

    before = counts()
    mon = format_local(utcnow(), "%Y-%m")
    month = office.get("/team/month").text
    assert "新闻稿件采用：1.0" in month  # the default weight, shown
    assert office.get(f"/team/month/people/{member.id}").status_code == 200
    assert office.get("/team/bulletin").status_code == 200
    assert office.get(f"/team/bulletin/{mon}.docx").status_code == 200
    session.expire_all()
    assert counts() == before == (0, 0)
