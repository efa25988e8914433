"""A report over rows stored with control characters (NUL, \\x01 …) still exports as Word
and Excel: the XML of both formats cannot carry them, so they are left out."""

from __future__ import annotations

import io

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from yuqing.core.text import CONTROL
from yuqing.reports import service
from yuqing.reports.docx import to_docx
from yuqing.reports.schemas import ReportContent
from yuqing.reports.xlsx import to_xlsx

from .conftest import DAY, NOW, Known


def _texts(content: ReportContent) -> list[str]:
    found = [content.title, content.period_label]
    for section in content.sections:
        found.append(section.heading)
        for paragraph in section.paragraphs:
            found += [paragraph.text, *(q.text for q in paragraph.quotes)]
        found += [str(v) for table in section.tables for row in table.rows for v in row]
        found += [label for chart in section.charts for label in chart.labels]
    return found


def test_word_and_excel_of_a_report_over_stored_controls(
    engine: Engine, session: Session, known: Known
) -> None:
    bad = "\x01\x08\x1f\x7f" + ("\x00" if engine.dialect.name == "sqlite" else "")
    with engine.begin() as connection:  # as rows stored before the cleaning would be
        connection.execute(text("UPDATE event SET title = :b || title || :b"), {"b": bad})
        connection.execute(
            text("UPDATE mention SET title = :b || title, text = text || :b"), {"b": bad}
        )
        connection.execute(text("UPDATE source SET name = name || :b"), {"b": bad})
    session.expire_all()
    content = service.daily(session, day=DAY, now=NOW)
    assert any(CONTROL.search(t) for t in _texts(content)), "the report shows stored rows"

    doc = Document(io.BytesIO(to_docx(content)))
    words = "\n".join(p.text for p in doc.paragraphs) + "".join(
        cell.text for table in doc.tables for row in table.rows for cell in row.cells
    )
    assert "第二食堂饭菜异物" in words and not CONTROL.search(words)

    book = load_workbook(io.BytesIO(to_xlsx(content)))
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert any("第二食堂饭菜异物" in c for c in cells)
    assert not any(CONTROL.search(c) for c in cells)
