"""The case ledger (舆情处置台账) in Excel: one row per case the viewer may see.

Row 1 the title, row 2 a note, row 3 the header, data from row 4 (the layout of the org
ledger). Text a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) gets an apostrophe in front. Every export writes one audit row.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import config, service
from yuqing.cases.models import Case
from yuqing.core import audit
from yuqing.core.counting import Count
from yuqing.core.timeutil import format_local, utcnow
from yuqing.core.xlsx import neutralise

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 10_000

# (header, column width)
COLUMNS = (
    ("序号", 6),
    ("编号", 8),
    ("标题", 36),
    ("链接", 30),
    ("等级", 8),
    ("状态", 8),
    ("责任单位", 16),
    ("责任人", 10),
    ("报送时间", 17),
    ("研判时间", 17),
    ("下发时间", 17),
    ("反馈时间", 17),
    ("办结时间", 17),
    ("情况简述", 30),
    ("核查与处置", 30),
    ("官方回应", 30),
    ("回应地址", 26),
    ("超时时限", 18),
    ("经验教训", 30),
    ("标签", 16),
)


def export_ledger(
    session: Session,
    *,
    principal: Principal,
    q: str | None = None,
    grade: str | None = None,
    unit_id: int | None = None,
    tag: str | None = None,
    closed: bool | None = None,
) -> bytes:
    """The ledger of the cases the principal sees (with the library's filters), newest
    first, as .xlsx bytes; records the export in the audit log."""
    cases, total = service.list_cases(
        session,
        principal=principal,
        q=q,
        grade=grade,
        unit_id=unit_id,
        tag=tag,
        closed=closed,
        limit=MAX_ROWS,
    )
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "舆情处置台账"
    _head(sheet, principal, shown=len(cases), total=total)
    names = service.names_of(session, cases=cases)
    grades = {g.id: g.name for g in service.list_grades(session)}
    for number, case in enumerate(cases, start=1):
        sheet.append([neutralise(v) for v in _row(session, principal, case, number, grades, names)])
    for cell in sheet["C"][3:]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    audit.record(
        session,
        actor=principal.actor,
        action="export",
        object_type="case",
        summary=f"导出舆情处置台账（{len(cases)} 条）",
        changes={"filters": [None, _filters(q, grade, unit_id, tag, closed)]},
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _head(sheet: Any, principal: Principal, *, shown: int, total: Count) -> None:
    scope = "全部单位" if principal.visible_units is None else "本单位"
    note = f"导出时间 {format_local(utcnow())}（北京时间）；范围：{scope}；共 {shown} 条"
    if total.capped or total.value > shown:
        note += f"（符合条件 {total} 条，仅导出最新的 {shown} 条）"
    note += "；以 ' 开头的单元格为防公式处理"
    sheet.append(["舆情处置台账"])
    sheet.append([note])
    sheet.append([name for name, _ in COLUMNS])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A4"
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _row(
    session: Session,
    principal: Principal,
    case: Case,
    number: int,
    grades: dict[int, str],
    names: dict[tuple[str, int], str],
) -> list[Any]:
    # A unit that reported a case another unit handles sees the case, not who handles it.
    shows_unit = case.unit_id is None or principal.sees_unit(case.unit_id)
    unit = names.get(("unit", case.unit_id or 0), "") if shows_unit else config.HIDDEN_UNIT
    person = names.get(("person", case.assignee_person_id or 0), "") if shows_unit else ""
    late = [
        t.label for t in service.list_timers(session, case=case) if t.state in ("missed", "overdue")
    ]
    return [
        number,
        case.id,
        case.title,
        case.link or "",
        grades.get(case.grade_id or 0, "未定级"),
        service.status_label(case.status),
        unit,
        person,
        format_local(case.reported_at),
        format_local(case.triaged_at),
        format_local(case.assigned_at),
        format_local(case.feedback_at),
        format_local(case.closed_at),
        case.summary or "",
        case.feedback_text or "",
        case.response_text or "",
        case.response_url or "",
        "、".join(late),
        case.lessons or "",
        case.tags or "",
    ]


def _filters(
    q: str | None, grade: str | None, unit_id: int | None, tag: str | None, closed: bool | None
) -> dict[str, Any]:
    given = {"q": q, "grade": grade, "unit_id": unit_id, "tag": tag, "closed": closed}
    return {k: v for k, v in given.items() if v not in (None, "")}
