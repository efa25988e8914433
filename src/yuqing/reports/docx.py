"""The report as Word (.docx), optionally on the office's letterhead template."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from yuqing.core.text import strip_controls
from yuqing.reports import charts
from yuqing.reports.schemas import Paragraph, ReportContent, ReportError, Table

FONT = "宋体"  # what Chinese offices set body text in; Word falls back when it is missing
HEADING_FONT = "黑体"


def _open(template: Path | None) -> Any:
    if template is None:
        return Document()
    try:
        return Document(str(template))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReportError(
            f"报告模板 {template} 无法打开（不是有效的 Word .docx 文件）：{exc}"
        ) from exc


def _run(para: Any, text: object) -> Any:
    """A run of ``text`` without control characters: the XML of a .docx cannot hold NUL or
    \\x01, and one such stored title would otherwise fail the whole report."""
    return para.add_run(strip_controls(str(text)))


def _font(run: Any, name: str, size: float | None = None) -> None:
    run.font.name = name
    # East Asian text takes its font from w:eastAsia, not from the Latin name.
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)


def _heading(doc: Any, text: str, size: float) -> None:
    para = doc.add_paragraph()
    _font(_run(para, text), HEADING_FONT, size)


def _paragraph(doc: Any, paragraph: Paragraph) -> None:
    para = doc.add_paragraph()
    _font(_run(para, paragraph.text), FONT, 12)
    for quote in paragraph.quotes:
        _font(_run(para, f"“{quote.text}”"), FONT, 12)
        if quote.url:
            _font(_run(para, f"（{quote.url}）"), FONT, 9)


def _table(doc: Any, table: Table) -> None:
    grid = doc.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid" if "Table Grid" in [s.name for s in doc.styles] else None
    for cell, name in zip(grid.rows[0].cells, table.columns, strict=True):
        _font(_run(cell.paragraphs[0], name), HEADING_FONT, 10)
    for row in table.rows:
        cells = grid.add_row().cells
        for cell, value in zip(cells, row, strict=False):
            _font(_run(cell.paragraphs[0], value), FONT, 10)


def to_docx(content: ReportContent, template: Path | None = None) -> bytes:
    """The report as .docx bytes: title, period, sections with paragraphs, tables, charts."""
    doc = _open(template)
    _heading(doc, content.title, 18)
    _font(_run(doc.add_paragraph(), content.period_label), FONT, 10)
    for section in content.sections:
        _heading(doc, section.heading, 14)
        for paragraph in section.paragraphs:
            _paragraph(doc, paragraph)
        for table in section.tables:
            _table(doc, table)
        for spec in section.charts:
            doc.add_picture(io.BytesIO(charts.render(spec)), width=Cm(15))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
