"""The roster in Excel on the real app and database: import with good and bad rows, export
read back with openpyxl, hostile files refused, audit rows."""

from __future__ import annotations

import asyncio
import io
import zipfile

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import Message, Scope

from tests.org.conftest import Login, Tree, csrf_of
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.org import excel
from yuqing.org import service as org
from yuqing.org.models import Person

HEADER = [
    "单位",
    "姓名",
    "职务",
    "手机",
    "邮箱",
    "企业微信号",
    "钉钉号",
    "职责角色",
    "政治面貌",
    "备注",
]


def _xlsx(rows: list[list[object]], *, title: bool = True) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append(["网络评论员队伍登记表"])
        sheet.append(["说明"])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(client: TestClient, data: bytes, name: str = "登记表.xlsx"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/org/import").text)
    return client.post(
        "/org/import", data={"csrf_token": token}, files={"file": (name, data, excel.XLSX_TYPE)}
    )


def _people(session: Session) -> dict[str, Person]:
    session.expire_all()
    return {p.name: p for p in session.execute(select(Person)).scalars()}


def test_import_keeps_good_rows_and_reports_bad_ones(
    session: Session, tree: Tree, login: Login
) -> None:
    existing = org.create_person(session, actor=SYSTEM, name="张三", unit_id=tree.cs)
    session.commit()
    data = _xlsx(
        [
            [
                "计算机学院",
                "张三",
                "辅导员",
                13800000001,
                "z@example.cn",
                "",
                "",
                "新闻通讯员、网络信息员（舆情信息员）",
                "中共党员",
                "",
            ],
            ["计算机学院 > 软件工程系", "李四", "", "", "", "", "", "基层网评员", "", ""],  # row 5
            ["不存在学院", "王五", "", "", "", "", "", "", "", ""],  # row 6
            ["计算机学院", "赵六", "", "", "", "", "", "超级网评员", "", ""],  # row 7
            ["计算机学院", "", "", "", "", "", "", "", "", ""],  # row 8: empty name
            ["计算机学院", "钱七", "", "12ab", "", "", "", "", "", ""],  # row 9
            ["计算机学院", "孙八", "", "", "bad@", "", "", "", "", ""],  # row 10
            ["计算机学院", "李四2", "", "", "", "", "", "", "", ""],  # row 11 good
            ["计算机学院", "李四2", "", "", "", "", "", "", "", ""],  # row 12 duplicate
        ]
    )
    client = login("pub", "publicity", None)
    reply = _upload(client, data)
    assert reply.status_code == 200
    html = reply.text
    assert "第 6 行：未知单位“不存在学院”" in html
    assert "第 7 行：未知的职责角色“超级网评员”" in html
    assert "第 8 行：姓名为空" in html
    assert "第 9 行：手机号格式不对" in html
    assert "第 10 行：邮箱格式不对" in html
    assert "第 12 行：与第 11 行重复" in html
    people = _people(session)
    assert set(people) == {"张三", "李四", "李四2"}
    assert people["张三"].id == existing.id and people["张三"].phone == "13800000001"
    assert people["张三"].political_status == "中共党员"
    assert people["李四"].unit_id == tree.se
    roles = {r.key for r in org.list_duty_roles_of(session, person_ids=[existing.id])[existing.id]}
    assert roles == {"correspondent", "info_officer"}
    audit_rows = (
        session.execute(select(AuditEntry).where(AuditEntry.actor_name == "pub")).scalars().all()
    )
    person_rows = [r for r in audit_rows if r.object_type == "person"]
    assert sorted(r.action for r in person_rows) == ["create", "create", "update"]
    summary = [r for r in audit_rows if r.action == "import"]
    assert len(summary) == 1 and "拒绝 6" in summary[0].summary


def test_unit_head_imports_only_own_units(session: Session, tree: Tree, login: Login) -> None:
    data = _xlsx(
        [
            ["软件工程系", "李四", "", "", "", "", "", "", "", ""],
            ["外国语学院", "王五", "", "", "", "", "", "", "", ""],
        ]
    )
    client = login("head", "unit_head", tree.cs)
    html = _upload(client, data).text
    assert "第 5 行：单位“外国语学院”不存在或不在您的管理范围内" in html
    assert set(_people(session)) == {"李四"}


def test_export_neutralises_formulas_and_round_trips(
    session: Session, tree: Tree, login: Login
) -> None:
    person = org.create_person(
        session,
        actor=SYSTEM,
        name='=HYPERLINK("http://x")',
        unit_id=tree.cs,
        position="+1 领导",
        note="@note",
        phone="+8613800000000",
    )
    org.update_duty_roles(
        session, person=person, role_keys=["correspondent", "info_officer"], actor=SYSTEM
    )
    org.create_person(session, actor=SYSTEM, name="-负号", unit_id=tree.lang)
    session.commit()
    client = login("head", "unit_head", tree.cs)
    reply = client.get("/org/export/registration.xlsx")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith(excel.XLSX_TYPE)
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[3]] == HEADER
    row = [c.value for c in sheet[4]]
    assert row[0] == "计算机学院"
    assert row[1] == '\'=HYPERLINK("http://x")' and sheet["B4"].data_type == "s"
    assert row[2] == "'+1 领导" and row[3] == "'+8613800000000" and row[9] == "'@note"
    assert row[7] == "新闻通讯员、网络信息员"
    assert sheet.max_row == 4  # 外国语学院 is not the unit head's
    # Re-importing the export changes nothing: the apostrophe comes off again.
    html = _upload(client, reply.content).text
    assert "未变 1 人" in html
    assert _people(session)['=HYPERLINK("http://x")'].phone == "+8613800000000"
    actions = (
        session.execute(select(AuditEntry.action).where(AuditEntry.actor_name == "head"))
        .scalars()
        .all()
    )
    assert "export" in actions


def test_ledger_has_one_row_per_person_role_with_since(
    session: Session, tree: Tree, login: Login
) -> None:
    person = org.create_person(session, actor=SYSTEM, name="张三", unit_id=tree.cs)
    org.update_duty_roles(
        session, person=person, role_keys=["correspondent", "info_officer"], actor=SYSTEM
    )
    org.create_person(session, actor=SYSTEM, name="无角色", unit_id=tree.cs)
    session.commit()
    client = login("boss", "leader", None)
    reply = client.get("/org/export/ledger.xlsx")
    assert reply.status_code == 200
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert sheet is not None
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=4)]
    assert [(r[2], r[4]) for r in rows] == [("张三", "新闻通讯员"), ("张三", "网络信息员")]
    assert all(len(str(r[5])) == 10 for r in rows)  # since, YYYY-MM-DD
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "export")).scalar_one()
    assert entry.actor_name == "boss" and "台账" in entry.summary


def test_files_that_are_not_excel_store_nothing(session: Session, tree: Tree, login: Login) -> None:
    client = login("pub", "publicity", None)
    csv = "单位,姓名\n计算机学院,张三\n".encode()
    reply = _upload(client, csv)
    assert reply.status_code == 400 and "看起来是 CSV" in reply.text
    reply = _upload(client, b"\x00\x01garbage" * 100)
    assert reply.status_code == 400 and "不是有效的 Excel" in reply.text
    reply = _upload(client, _xlsx([], title=False).replace(b"xl/workbook.xml", b"xl/workbook.xmX"))
    assert reply.status_code == 400
    assert _people(session) == {}
    assert session.execute(select(AuditEntry).where(AuditEntry.action == "import")).first() is None


def test_zip_bomb_is_refused_before_parsing(session: Session, tree: Tree, login: Login) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    bomb = buffer.getvalue()
    assert len(bomb) < 200_000
    client = login("pub", "publicity", None)
    reply = _upload(client, bomb)
    assert reply.status_code == 400
    assert "解压后" in reply.text or "压缩炸弹" in reply.text
    assert _people(session) == {}


def test_oversize_upload_is_refused(session: Session, tree: Tree, login: Login) -> None:
    client = login("pub", "publicity", None)
    reply = _upload(client, b"PK" + b"\0" * (excel.ROSTER_MAX_BYTES + 100 * 1024))
    assert reply.status_code == 413 and "超过 10 MB" in reply.text
    assert _people(session) == {}


def _raw_post(
    app: FastAPI, client: TestClient, headers: list[tuple[bytes, bytes]], chunks: int
) -> tuple[int, int]:
    """POST /org/import straight into the ASGI app with a body of ``chunks`` × 1 MB that is
    produced only when the app asks for it; returns the status and the chunks pulled."""
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        more = pulled < chunks
        return {"type": "http.request", "body": b"\0" * (1024 * 1024), "more_body": more}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/org/import",
        "raw_path": b"/org/import",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", cookies.encode()),
            (b"content-type", b"multipart/form-data; boundary=xyz"),
            *headers,
        ],
    }
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"]), pulled


def test_oversize_stream_is_not_read_whole(app: FastAPI, tree: Tree, login: Login) -> None:
    """A 100 MB chunked upload with no Content-Length: the app stops reading past the cap."""
    client = login("pub", "publicity", None)
    status, pulled = _raw_post(app, client, [(b"transfer-encoding", b"chunked")], 100)
    assert status == 413
    assert pulled <= 12  # 10 MB cap + form framing, not 100 MB


def test_declared_oversize_is_refused_without_reading(
    app: FastAPI, tree: Tree, login: Login
) -> None:
    client = login("pub", "publicity", None)
    declared = [(b"content-length", str(100 * 1024 * 1024).encode())]
    status, pulled = _raw_post(app, client, declared, 100)
    assert status == 413 and pulled == 0
