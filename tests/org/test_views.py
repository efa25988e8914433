"""Org desk pages per role on the real app and database: scope, 404 for other units, 403 for
read-only roles, CSRF, escaping and audit rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.org.conftest import Login, Tree, csrf_of
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.org import service as org
from yuqing.org.models import Person, Unit


def _person(session: Session, name: str, unit_id: int, roles: list[str] | None = None) -> Person:
    person = org.create_person(session, actor=SYSTEM, name=name, unit_id=unit_id)
    if roles:
        org.update_duty_roles(session, person=person, role_keys=roles, actor=SYSTEM)
    session.commit()
    return person


def test_tree_counts_people_and_role_holders(session: Session, tree: Tree, login: Login) -> None:
    _person(session, "张三", tree.cs, ["correspondent", "info_officer"])
    _person(session, "李四", tree.cs, ["correspondent"])
    _person(session, "王五", tree.lang)
    client = login("pub", "publicity", None)
    page = client.get("/org")
    assert page.status_code == 200
    html = page.text
    row = html[html.index(f'id="unit-{tree.cs}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num people">2</td>' in row
    assert '<td class="num">2</td>' in row  # two 新闻通讯员
    assert "软件工程系" in html and "外国语学院" in html


def test_unit_head_sees_own_units_only(session: Session, tree: Tree, login: Login) -> None:
    mine = _person(session, "张三", tree.se)
    other = _person(session, "王五", tree.lang)
    client = login("head", "unit_head", tree.cs)
    html = client.get("/org").text
    assert "计算机学院" in html and "软件工程系" in html
    assert "外国语学院" not in html and "示范大学" not in html
    assert client.get(f"/org/people/{mine.id}").status_code == 200
    assert client.get(f"/org/people/{other.id}").status_code == 404
    assert client.get(f"/org/units/{tree.lang}").status_code == 404
    assert client.get("/org/people/999999").status_code == 404
    assert "王五" not in client.get(f"/org/units/{tree.school}").text


def test_unit_head_edits_own_people_but_not_others(
    session: Session, tree: Tree, login: Login
) -> None:
    mine = _person(session, "张三", tree.se)
    other = _person(session, "王五", tree.lang)
    client = login("head", "unit_head", tree.cs)
    token = csrf_of(client.get(f"/org/people/{mine.id}").text)
    form = {
        "csrf_token": token,
        "name": "张三",
        "unit_id": str(tree.se),
        "phone": "13800000000",
        "roles": ["correspondent", "backbone_commentator"],
    }
    saved = client.post(f"/org/people/{mine.id}", data=form, follow_redirects=False)
    assert saved.status_code == 303
    session.expire_all()
    assert session.get(Person, mine.id).phone == "13800000000"  # type: ignore[union-attr]
    names = {r.name for r in org.list_duty_roles_of(session, person_ids=[mine.id])[mine.id]}
    assert names == {"新闻通讯员", "骨干网评员"}
    # Another unit's person, even by id, and moving one's own person there: 404.
    refused = client.post(f"/org/people/{other.id}", data={**form, "name": "改名"})
    assert refused.status_code == 404
    moved = client.post(f"/org/people/{mine.id}", data={**form, "unit_id": str(tree.lang)})
    assert moved.status_code == 400
    session.expire_all()
    assert session.get(Person, other.id).name == "王五"  # type: ignore[union-attr]
    assert session.get(Person, mine.id).unit_id == tree.se  # type: ignore[union-attr]


def test_leader_reads_all_but_cannot_edit(session: Session, tree: Tree, login: Login) -> None:
    person = _person(session, "王五", tree.lang)
    client = login("boss", "leader", None)
    page = client.get(f"/org/people/{person.id}")
    assert page.status_code == 200 and "王五" in page.text
    token = csrf_of(page.text)
    reply = client.post(
        f"/org/people/{person.id}",
        data={"csrf_token": token, "name": "改名", "unit_id": str(tree.lang)},
    )
    assert reply.status_code == 403
    assert client.get("/org/people/new").status_code == 403
    assert client.get("/org/settings").status_code == 403


def test_member_reads_own_unit(session: Session, tree: Tree, login: Login) -> None:
    person = _person(session, "王五", tree.lang)
    other = _person(session, "张三", tree.cs)
    client = login("member", "unit_member", tree.lang)
    assert client.get(f"/org/people/{person.id}").status_code == 200
    assert client.get(f"/org/people/{other.id}").status_code == 404
    assert client.get(f"/org/units/{tree.lang}").status_code == 200


def test_create_person_with_html_name_is_escaped_and_audited(
    session: Session, tree: Tree, login: Login
) -> None:
    client = login("pub", "publicity", None)
    token = csrf_of(client.get("/org/people/new").text)
    name = "<script>alert(1)</script>"
    reply = client.post(
        "/org/people/new",
        data={
            "csrf_token": token,
            "name": name,
            "unit_id": str(tree.cs),
            "roles": ["correspondent"],
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303
    person = session.execute(select(Person).where(Person.unit_id == tree.cs)).scalar_one()
    assert person.name == name  # stored as text
    page = client.get(f"/org/units/{tree.cs}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    rows = (
        session.execute(
            select(AuditEntry).where(
                AuditEntry.object_type == "person", AuditEntry.object_id == str(person.id)
            )
        )
        .scalars()
        .all()
    )
    assert [r.action for r in rows] == ["create"]  # fields and roles in one row
    assert "新闻通讯员" in rows[0].changes and rows[0].actor_name == "pub"


def test_update_writes_one_audit_row_and_bad_input_stays_on_form(
    session: Session, tree: Tree, login: Login
) -> None:
    person = _person(session, "张三", tree.cs)
    client = login("pub", "publicity", None)
    token = csrf_of(client.get(f"/org/people/{person.id}").text)
    bad = client.post(
        f"/org/people/{person.id}",
        data={"csrf_token": token, "name": "张三", "unit_id": str(tree.cs), "email": "not-mail"},
    )
    assert bad.status_code == 400 and "邮箱格式不对" in bad.text
    ok = client.post(
        f"/org/people/{person.id}",
        data={
            "csrf_token": token,
            "name": "张三",
            "unit_id": str(tree.cs),
            "email": "z@example.cn",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    actions = (
        session.execute(
            select(AuditEntry.action).where(
                AuditEntry.object_type == "person", AuditEntry.object_id == str(person.id)
            )
        )
        .scalars()
        .all()
    )
    assert actions == ["create", "update"]


def test_forms_need_the_csrf_token(session: Session, tree: Tree, login: Login) -> None:
    client = login("pub", "publicity", None)
    reply = client.post("/org/people/new", data={"name": "张三", "unit_id": str(tree.cs)})
    assert reply.status_code == 403
    assert session.execute(select(Person)).first() is None


def test_signed_out_goes_to_login(app, tree: Tree) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        reply = client.get("/org", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")


def test_unit_edit_and_settings_rename(session: Session, tree: Tree, login: Login) -> None:
    client = login("pub", "publicity", None)
    token = csrf_of(client.get(f"/org/units/{tree.cs}").text)
    reply = client.post(
        f"/org/units/{tree.cs}",
        data={
            "csrf_token": token,
            "name": "计算机与软件学院",
            "parent_id": str(tree.school),
            "student_count": "4200",
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303
    session.expire_all()
    unit = session.get(Unit, tree.cs)
    assert unit is not None and unit.name == "计算机与软件学院" and unit.student_count == 4200
    role = next(r for r in org.list_duty_roles(session) if r.key == "info_officer")
    renamed = client.post(
        "/org/settings/roles",
        data={"csrf_token": token, "item_id": str(role.id), "name": "舆情信息员"},
    )
    assert renamed.status_code == 200 and "舆情信息员" in renamed.text
    added = client.post("/org/settings/kinds", data={"csrf_token": token, "name": "直属单位"})
    assert added.status_code == 200
    assert "直属单位" in {k.name for k in org.list_kinds(session)}


def test_unit_head_cannot_rename_roles_or_move_units(
    session: Session, tree: Tree, login: Login
) -> None:
    client = login("head", "unit_head", tree.cs)
    token = csrf_of(client.get(f"/org/units/{tree.cs}").text)
    assert client.get("/org/settings").status_code == 403
    reply = client.post("/org/settings/kinds", data={"csrf_token": token, "name": "直属单位"})
    assert reply.status_code == 403
    client.post(
        f"/org/units/{tree.cs}",
        data={"csrf_token": token, "name": "计算机学院", "parent_id": str(tree.lang)},
    )
    session.expire_all()
    assert session.get(Unit, tree.cs).parent_id == tree.school  # type: ignore[union-attr]
