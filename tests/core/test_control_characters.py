"""Control characters (NUL, \\x01 …): cleaned where text enters, and no export fails on a
string already stored with them (rows written before the cleaning, or by other means)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

from openpyxl import load_workbook
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from tests.cases.conftest import principal
from tests.support import desk_client
from yuqing.audit import search
from yuqing.cases import excel as case_excel
from yuqing.cases import service as cases
from yuqing.cases.models import Case
from yuqing.core import audit
from yuqing.core.audit import SYSTEM, Actor, AuditEntry
from yuqing.core.text import strip_controls
from yuqing.mentions.models import Mention
from yuqing.mentions.normalise import clean_text, html_to_text
from yuqing.org import excel as org_excel
from yuqing.org import service as org
from yuqing.org.models import Person, Unit
from yuqing.sources.models import Source
from yuqing.web.cleaning import clean_urlencoded
from yuqing.worker.pipeline import process


def _bad(engine: Engine) -> str:
    """Control characters a row can hold: PostgreSQL refuses NUL in text, SQLite keeps it."""
    return "\x01\x08\x0b\x1f\x7f" + ("\x00" if engine.dialect.name == "sqlite" else "")


@contextmanager
def _raw(engine: Engine) -> Iterator[Connection]:
    """A connection past every cleaning edge and past the audit log's triggers."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_update"))
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection


def _cells(data: bytes) -> list[object]:
    book = load_workbook(io.BytesIO(data))
    return [
        c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row
    ]


def test_strip_controls_keeps_tab_newline_and_text() -> None:
    assert strip_controls("食堂\x00涨\x01价\x1f\x7f\x85\ud800") == "食堂涨价"
    assert strip_controls("一\t二\r\n三") == "一\t二\r\n三"
    assert strip_controls("平常的文字") == "平常的文字"


def test_form_bodies_lose_raw_and_escaped_controls_only() -> None:
    assert clean_urlencoded(b"t=%E9%A3%9F%00%01a%09b%0D%0Ac%7F%1F") == b"t=%E9%A3%9Fa%09b%0D%0Ac"
    assert clean_urlencoded(b"t=a\x00b\x01c") == b"t=abc"
    # Taking %01 out of %%0101 must not leave a new %01: the bare % is spelled %25.
    assert clean_urlencoded(b"t=%%0101") == b"t=%2501"
    assert clean_urlencoded(b"t=%2500&u=100%25") == b"t=%2500&u=100%25"


def test_the_normaliser_cleans_mentions(engine: Engine, session: Session) -> None:
    assert clean_text("标\x00题\x01 正文") == "标题 正文"
    assert html_to_text("<p>第一\x00段</p><p>第二\x01段</p>") == "第一段\n\n第二段"
    source = Source(name="推送", kind="push")
    session.add(source)
    session.commit()
    result = process(
        session,
        source=source,
        items=[
            {"external_id": "a", "title": "食堂\x01涨价\x00", "text": "饭菜\x00涨价\x0b了"},
            {"external_id": "b", "title": "宿舍", "html": "<p>停\x00电\x07</p>"},
        ],
    )
    session.commit()
    assert result.new == 2, result
    stored = session.execute(select(Mention.title, Mention.text).order_by(Mention.id)).all()
    assert [tuple(r) for r in stored] == [("食堂涨价", "饭菜涨价了"), ("宿舍", "停电")]


def test_rows_written_through_the_orm_are_cleaned(engine: Engine, session: Session) -> None:
    org.ensure_defaults(session)
    unit = org.create_unit(session, name="计算机\x01学院\x00", actor=SYSTEM)
    person = org.create_person(session, actor=SYSTEM, name="张\x1f三", unit_id=unit.id)
    person.note = "第一行\n第二\x00行\t完"
    session.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM unit")).scalar() == "计算机学院"
        row = connection.execute(text("SELECT name, note FROM person")).one()
    assert tuple(row) == ("张三", "第一行\n第二行\t完")


def test_sign_in_name_and_case_form_are_cleaned_at_the_edge(
    engine: Engine, session: Session
) -> None:
    with desk_client(engine, role="admin", username="boss") as client:
        token = client.cookies.get("yuqing_csrf")
        answer = client.post(
            "/cases/new",
            data={
                "title": "食堂\x00涨\x01价",
                "summary": "第一行\r\n第二\x1f行",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:300]
        found = client.get("/cases/library", params={"q": "食堂\x00涨价"})
        assert found.status_code == 200 and "食堂涨价" in found.text
        client.cookies.delete("yuqing_session")
        client.get("/login")
        failed = client.post(
            "/login",
            data={
                "username": "\x00ro\x01ot\x7f",
                "password": "x",
                "csrf_token": client.cookies.get("yuqing_csrf"),
            },
        )
        assert failed.status_code == 401
    case = session.execute(select(Case)).scalar_one()
    assert (case.title, case.summary) == ("食堂涨价", "第一行\r\n第二行")
    names = session.execute(
        select(AuditEntry.actor_name).where(AuditEntry.action == "login_failed")
    ).scalars()
    assert list(names) == ["root"]
    assert audit.verify(session).ok


def test_audit_exports_survive_stored_controls(engine: Engine, session: Session) -> None:
    audit.record(session, actor=Actor(1, "张三", "10.0.0.1"), action="update", object_type="case")
    session.commit()
    bad = _bad(engine)
    with _raw(engine) as connection:
        connection.execute(
            text("UPDATE audit_entry SET actor_name = :n, summary = :s, object_id = :o"),
            {"n": f"张{bad}三", "s": f"={bad}修改", "o": f"4{bad}2"},
        )
    rows = search.export_rows(session, filters=search.AuditFilters())
    cells = _cells(search.to_xlsx(rows))
    assert "张三" in cells and "'=修改" in cells and "42" in cells
    written = list(csv.reader(io.StringIO(search.to_csv(rows).decode("utf-8-sig"))))
    assert written[1][2] == "张三" and written[1][7] == "'=修改"


def test_case_and_roster_exports_survive_stored_controls(engine: Engine, session: Session) -> None:
    org.ensure_defaults(session)
    unit = org.create_unit(session, name="计算机学院", actor=SYSTEM)
    person = org.create_person(session, actor=SYSTEM, name="张三", unit_id=unit.id, note="备注")
    duty = org.list_duty_roles(session)[0]
    org.update_duty_roles(session, person=person, role_keys=[duty.key], actor=SYSTEM)
    office = principal(session, "office", "publicity", None)
    cases.open_case(session, principal=office, title="食堂涨价", summary="概述")
    session.commit()
    bad = _bad(engine)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE incident_case SET title = :t, summary = :s"),
            {"t": f"食堂{bad}涨价", "s": f"概{bad}述"},
        )
        connection.execute(text("UPDATE unit SET name = :n"), {"n": f"计算机{bad}学院"})
        connection.execute(
            text("UPDATE person SET name = :n, note = :o"), {"n": f"张{bad}三", "o": f"@备{bad}注"}
        )
    session.expire_all()

    ledger = _cells(case_excel.export_ledger(session, principal=office))
    assert "食堂涨价" in ledger and "概述" in ledger, ledger
    registration = _cells(org_excel.export_registration(session, viewer=office))
    assert "张三" in registration and "'@备注" in registration and "计算机学院" in registration
    roster_ledger = _cells(org_excel.export_ledger(session, viewer=office))
    assert "计算机学院" in roster_ledger and "张三" in roster_ledger
    session.rollback()
    assert session.execute(select(Person.name)).scalar() == f"张{bad}三"  # exports only read
    assert session.execute(select(Unit.id)).scalar() == unit.id
