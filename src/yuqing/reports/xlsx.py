"""The report's tables as Excel data sheets, with formula-like cells neutralised."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook

from yuqing.core.text import strip_controls
from yuqing.core.xlsx import neutralise
from yuqing.reports.schemas import ReportContent

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def to_xlsx(content: ReportContent) -> bytes:
    """One sheet 概要 with the paragraphs, then one sheet per table and chart's data."""
    book = Workbook()
    summary = book.active
    summary.title = "概要"
    summary.append([neutralise(content.title)])
    summary.append([neutralise(content.period_label)])
    names: set[str] = {"概要"}
    for section in content.sections:
        summary.append([neutralise(section.heading)])
        for paragraph in section.paragraphs:
            summary.append([neutralise(paragraph.text + "".join(q.text for q in paragraph.quotes))])
        for table in section.tables:
            sheet = book.create_sheet(_sheet_name(table.title, names))
            sheet.append([neutralise(c) for c in table.columns])
            for row in table.rows:
                sheet.append([neutralise(v) for v in row])
        for chart in section.charts:
            sheet = book.create_sheet(_sheet_name(chart.title, names))
            sheet.append(["项目", "数值"])
            for label, value in zip(chart.labels, chart.values, strict=True):
                sheet.append([neutralise(label), value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", strip_controls(title))[:28] or "数据"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name
