"""The audit page: filters, pages, the hash-chain check and the exports, on the real app."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.support import sign_in
from yuqing.audit import search
from yuqing.audit.filters import AuditQuery
from yuqing.auth import service
from yuqing.core import audit
from yuqing.core.audit import SYSTEM, Actor, AuditEntry
from yuqing.core.timeutil import to_local, utcnow
from yuqing.web.app import create_app

PASSWORD = "correct-horse-42"


@pytest.fixture
def client(engine: Any, session: Session) -> Iterator[TestClient]:
    service.create_user(
        session,
        username="boss",
        password=PASSWORD,
        role_key="admin",
        actor=SYSTEM,
        must_change_password=False,
    )
    session.commit()
    with TestClient(create_app()) as test_client:
        yield sign_in(test_client, "boss", PASSWORD)


def _seed(session: Session) -> None:
    audit.record(
        session,
        actor=Actor(7, "张三", "10.1.1.1"),
        action="update",
        object_type="case",
        object_id=42,
        summary="修改舆情案件的等级",
        changes={"grade": ["一般", "较大"], "note": [None, "<b>加急</b>"]},
    )
    audit.record(
        session,
        actor=Actor(8, "Li Si", "10.1.1.2"),
        action="delete",
        object_type="source",
        object_id=5,
        summary='=HYPERLINK("http://evil.example","点我")',
    )
    audit.record(
        session, actor=Actor(8, "Li Si"), action="create", object_type="case", object_id=43
    )
    session.commit()


def _seqs(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="audit-(\d+)">', html)]


def _rows(session: Session, **where: Any) -> list[AuditEntry]:
    session.expire_all()
    query = select(AuditEntry).filter_by(**where).order_by(AuditEntry.seq)
    return list(session.execute(query).scalars())


def _seq_of(session: Session, summary: str) -> int:
    found = session.execute(select(AuditEntry.seq).where(AuditEntry.summary == summary))
    return int(found.scalar_one())


def test_filters_narrow_the_rows_newest_first(client: TestClient, session: Session) -> None:
    _seed(session)
    everything = client.get("/admin/audit").text
    seqs = _seqs(everything)
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 5  # + account and sign-in
    grade = _seq_of(session, "修改舆情案件的等级")

    def seqs_for(**params: str) -> list[int]:
        page = client.get("/admin/audit", params=params)
        assert page.status_code == 200
        return _seqs(page.text)

    assert seqs_for(actor="张") == [grade]
    assert len(seqs_for(actor="li si")) == 2  # ignores case
    assert seqs_for(action="update") == [grade]
    assert len(seqs_for(object_type="case")) == 2
    assert seqs_for(object_type="case", object_id="42") == [grade]
    assert seqs_for(q="等级") == [grade]
    assert seqs_for(q="100%") == []  # LIKE wildcards are plain text
    today = to_local(utcnow())
    assert today is not None
    assert len(seqs_for(start=f"{today:%Y-%m-%d}", end=f"{today:%Y-%m-%d}")) == len(seqs)
    assert seqs_for(end=f"{today - timedelta(days=1):%Y-%m-%d}") == []
    assert seqs_for(start=f"{today + timedelta(days=1):%Y-%m-%d}") == []
    bad = client.get("/admin/audit", params={"start": "3月5日"})
    assert bad.status_code == 422 and "应写成 年-月-日" in bad.text
    select_box = everything.split('name="action"')[1].split("</select>")[0]
    assert '<option value="login_failed" >登录失败</option>' in select_box


def test_dates_are_beijing_days_turned_into_utc() -> None:
    filters = AuditQuery(start="2024-03-05", end="2024-03-05").filters()
    assert filters.since == datetime(2024, 3, 4, 16, 0)
    assert filters.until == datetime(2024, 3, 5, 16, 0)
    assert AuditQuery(action="drop table").filters().action == ""


def test_each_row_shows_its_changes_escaped(client: TestClient, session: Session) -> None:
    _seed(session)
    page = client.get("/admin/audit", params={"object_id": "42"}).text
    row = page.split('<tr id="audit-')[1]
    assert "张三" in row and "10.1.1.1" in row and "修改" in row and "舆情处置单 #42" in row
    assert "一般 → 较大" in row
    assert "— → &lt;b&gt;加急&lt;/b&gt;" in row and "<b>加急" not in page


def test_pages_of_fifty(client: TestClient, session: Session) -> None:
    for n in range(60):
        audit.record(session, actor=SYSTEM, action="import", object_type="batch", object_id=n)
    session.commit()
    first = client.get("/admin/audit", params={"object_type": "batch"}).text
    second = client.get("/admin/audit", params={"object_type": "batch", "page": "2"}).text
    assert len(_seqs(first)) == 50 and len(_seqs(second)) == 10
    assert min(_seqs(first)) > max(_seqs(second))
    assert "共 60 条" in first and "第 1 / 2 页" in first
    assert "object_type=batch&amp;page=2" in first  # the pager keeps the filter


def test_the_chain_check_reports_intact_and_tampered(
    client: TestClient, session: Session, engine: Engine
) -> None:
    _seed(session)
    token = client.cookies.get("yuqing_csrf")
    intact = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert intact.status_code == 200 and "哈希链完整" in intact.text
    seq = _seq_of(session, "修改舆情案件的等级")
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_entry_no_update"))
        else:
            connection.execute(
                text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change")
            )
        connection.execute(
            text("UPDATE audit_entry SET summary = '无事发生' WHERE seq = :seq"), {"seq": seq}
        )
        if engine.dialect.name != "sqlite":
            connection.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change"))
    broken = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert "哈希链有 1 处问题" in broken.text
    assert f"第 {seq} 条记录的内容与哈希不符" in broken.text
    forged = client.post("/admin/audit/verify", data={"csrf_token": "x.y"})
    assert forged.status_code == 403


def test_excel_export_holds_the_filtered_rows_with_formulas_neutralised(
    client: TestClient, session: Session
) -> None:
    _seed(session)
    answer = client.post(
        "/admin/audit/export",
        data={"csrf_token": client.cookies.get("yuqing_csrf"), "format": "xlsx", "actor": "li"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert ".xlsx" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(search.EXPORT_HEADER)
    assert [r[2] for r in rows[1:]] == ["Li Si", "Li Si"]  # newest first
    assert [r[4] for r in rows[1:]] == ["新建", "删除"]
    formula = rows[2][7]
    assert formula == '\'=HYPERLINK("http://evil.example","点我")'
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    exported = _rows(session, action="export")
    assert len(exported) == 1 and "2 条（xlsx）" in exported[0].summary
    assert exported[0].actor_name == "boss" and "actor=li" in exported[0].summary


def test_csv_export_is_utf8_with_bom_and_audited(client: TestClient, session: Session) -> None:
    _seed(session)
    token = client.cookies.get("yuqing_csrf")
    answer = client.post(
        "/admin/audit/export", data={"csrf_token": token, "format": "csv", "object_id": "42"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == search.EXPORT_HEADER and len(rows) == 2
    assert rows[1][2] == "张三" and rows[1][7] == "修改舆情案件的等级"
    assert 'grade: "一般" → "较大"' in rows[1][8]
    forged = client.post("/admin/audit/export", data={"csrf_token": token + "x", "format": "csv"})
    assert forged.status_code == 403
    assert len(_rows(session, action="export")) == 1  # only the genuine one


def test_the_audit_page_needs_audit_read(client: TestClient, session: Session) -> None:
    service.create_user(
        session,
        username="office",
        password=PASSWORD,
        role_key="publicity",
        actor=SYSTEM,
        must_change_password=False,
    )
    session.commit()
    other = sign_in(TestClient(client.app), "office", PASSWORD)
    assert other.get("/admin/audit").status_code == 403
    export = other.post(
        "/admin/audit/export",
        data={"csrf_token": other.cookies.get("yuqing_csrf"), "format": "csv"},
    )
    assert export.status_code == 403
    assert _rows(session, action="export") == []
