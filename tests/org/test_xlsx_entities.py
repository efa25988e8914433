"""Workbooks that declare XML entities (XXE, billion laughs) are refused with a clear Chinese
message by every importer: the roster upload, the mention import and the command line."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.org.conftest import Login, Tree, csrf_of
from tests.org.test_excel import HEADER, _people
from yuqing.cli import app
from yuqing.core import xlsx
from yuqing.org import excel
from yuqing.sources import importers

SHEET = "xl/worksheets/sheet1.xml"
EXTERNAL = b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
LAUGHS = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'


def _workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewritten(data: bytes, part: str, change: bytes, *, utf16: bool = False) -> bytes:
    """``data`` with ``change`` (a DOCTYPE) put before the root element of ``part``, and the
    first inline cell text replaced by an entity reference."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == part:
                start = body.index(b"?>") + 2 if body.startswith(b"<?xml") else 0
                root = body.index(b"<", start)
                body = body[:root] + change + body[root:]
                body = body.replace(b"<t>", b"<t>&x;", 1) if b"ENTITY x" in change else body
                if utf16:
                    text = body.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
                    body = text.encode("utf-16")
            target.writestr(info.filename, body)
    return out.getvalue()


ROSTER = _workbook([HEADER, ["计算机学院", "张三"]])
MENTIONS = _workbook([["标题", "正文"], ["食堂", "涨价"]])


@pytest.mark.parametrize(
    ("part", "change", "utf16"),
    [
        (SHEET, EXTERNAL, False),
        (SHEET, LAUGHS, False),
        (SHEET, EXTERNAL, True),
        ("xl/workbook.xml", LAUGHS, False),
        ("[Content_Types].xml", LAUGHS, False),
        ("xl/styles.xml", EXTERNAL, False),
    ],
    ids=["external", "laughs", "utf-16", "workbook", "content-types", "styles"],
)
def test_a_dtd_in_any_part_is_refused_before_parsing(part: str, change: bytes, utf16: bool) -> None:
    hostile = _rewritten(ROSTER, part, change, utf16=utf16)
    with pytest.raises(xlsx.XlsxFileError, match="实体声明") as caught:
        xlsx.check_container(hostile, name="登记表.xlsx", max_unpacked=10**8)
    assert part in str(caught.value)
    xlsx.check_container(ROSTER, name="登记表.xlsx", max_unpacked=10**8)  # a real one passes


def test_the_roster_upload_refuses_xxe_with_a_message(
    session: Session, tree: Tree, login: Login
) -> None:
    client = login("pub", "publicity", None)
    token = csrf_of(client.get("/org/import").text)
    reply = client.post(
        "/org/import",
        data={"csrf_token": token},
        files={"file": ("登记表.xlsx", _rewritten(ROSTER, SHEET, EXTERNAL), excel.XLSX_TYPE)},
    )
    assert reply.status_code == 400 and "实体声明" in reply.text
    assert "root:" not in reply.text
    assert _people(session) == {}


def test_a_broken_shared_strings_part_is_refused_not_a_crash() -> None:
    source = zipfile.ZipFile(io.BytesIO(ROSTER))
    out = io.BytesIO()
    shared = (
        b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        b'2006/main"><si><t>&undefined;</t></si></sst>'
    )
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                body = body.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            if info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/sharedStrings" '
                    b'Target="sharedStrings.xml"/></Relationships>',
                )
            target.writestr(info.filename, body)
        target.writestr("xl/sharedStrings.xml", shared)
    with pytest.raises(excel.RosterFileError, match="无法打开"):
        excel.read_rows(out.getvalue(), filename="登记表.xlsx")


def test_the_mention_import_and_the_command_refuse_xxe(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "导出.xlsx"
    path.write_bytes(_rewritten(MENTIONS, SHEET, EXTERNAL))
    with pytest.raises(importers.ImportFileError, match="实体声明"):
        importers.read_import_file(path)
    result = CliRunner().invoke(app, ["import", str(path), "--source", "导出", "--create"])
    assert result.exit_code != 0
    assert "实体声明" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
