"""The roster in Excel: the registration form (登记表) in and out, the ledger (台账) out.

Layout of both workbooks: row 1 the title, row 2 a note, row 3 the header, data from row 4.
The registration form has one sheet with a 单位 column (a unit named more than once in the
tree is written as its path, 学院 > 办公室). On import the header row is found by its 单位
and 姓名 cells in the first rows of every sheet, so a workbook with one sheet per unit in
the same layout imports too. A column present in the header is authoritative (an empty
cell clears the field, an empty 职责角色 removes the roles); a column left out of the header
leaves that field as it is.

Export neutralises cells that a spreadsheet would run as a formula (text starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return) by putting an apostrophe in front, the
way one types text in Excel; the apostrophe stays visible but the cell can never compute or
call out. Import removes exactly that apostrophe again, so a file exported and re-imported
keeps its values.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core import audit, xlsx
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local, utcnow
from yuqing.org import desk, service
from yuqing.org.changes import list_terms_on
from yuqing.org.models import DutyRole, Person, PersonRole, Unit
from yuqing.org.schemas import PersonIn, RosterImport, RowProblem, Viewer

# A roster of a few thousand people is well under 1 MB; 10 MB leaves room for pictures of
# stamps pasted into the form and keeps a stray upload from filling memory.
ROSTER_MAX_BYTES = 10 * 1024 * 1024
ROSTER_MAX_UNPACKED = 50 * 1024 * 1024
MAX_ROWS = 20_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Header → field of PersonIn; 单位, 姓名 and 职责角色 are handled apart.
REGISTRATION_HEADERS = (
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
)
_FIELDS = {
    "职务": "position",
    "手机": "phone",
    "邮箱": "email",
    "企业微信号": "wecom_userid",
    "钉钉号": "dingtalk_userid",
    "政治面貌": "political_status",
    "备注": "note",
}
_ALIASES = {
    "手机号": "手机",
    "电话": "手机",
    "联系电话": "手机",
    "电子邮箱": "邮箱",
    "职位": "职务",
}
LEDGER_HEADERS = ("序号", "单位", "姓名", "职务", "职责角色", "担任起始日期", "手机", "邮箱")
_ROLE_SPLIT = re.compile(r"[、，,;；/\s]+")
_BRACKETS = re.compile(r"[（(].*?[)）]")
PATH_RE = re.compile(r"\s*[>＞]\s*")


class RosterFileError(ValueError):
    """A roster file that cannot be read at all; nothing of it is stored."""


def cap_bytes() -> int:
    return min(ROSTER_MAX_BYTES, get_settings().import_max_bytes)


def _unquote(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(xlsx.FORMULA_START) else text


# --- export ---------------------------------------------------------------------------


def _sheet(
    workbook: Workbook, title: str, heading: str, note: str, headers: tuple[str, ...]
) -> Worksheet:
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append([xlsx.neutralise(heading)])
    sheet.append([xlsx.neutralise(note)])
    sheet.append(list(headers))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A4"
    for index, width in enumerate((22, 10, 16, 16, 26, 16, 16, 28, 10, 24), start=1):
        if index <= len(headers):
            sheet.column_dimensions[chr(64 + index)].width = width
    return sheet


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_registration(session: Session, *, viewer: Viewer, unit_id: int | None = None) -> bytes:
    """The registration form of the viewer's units (or of one unit and the units below it)."""
    units = service.list_visible_units(session, viewer=viewer)
    labels = service.unit_labels(service.list_units(session))
    scope = {u.id for u in units}
    title = "全部单位"
    if unit_id is not None:
        unit = service.get_visible_unit(session, viewer=viewer, unit_id=unit_id)
        scope = _subtree(units, unit.id)
        title = labels[unit.id]
    people = [p for p in service.list_visible_people(session, viewer=viewer) if p.unit_id in scope]
    roles = service.list_duty_roles_of(session, person_ids=[p.id for p in people])
    workbook = Workbook()
    sheet = _sheet(
        workbook,
        "登记表",
        f"网络评论员队伍登记表（{title}）",
        f"导出时间 {format_local(utcnow())}；职责角色多个时用“、”分隔；以 ' 开头的单元格为防公式处理",
        REGISTRATION_HEADERS,
    )
    order = {u.id: i for i, u in enumerate(units)}
    for person in sorted(people, key=lambda p: (order.get(p.unit_id or 0, 0), p.name)):
        sheet.append(
            [
                xlsx.neutralise(value)
                for value in (
                    labels.get(person.unit_id or 0, ""),
                    person.name,
                    person.position,
                    person.phone,
                    person.email,
                    person.wecom_userid,
                    person.dingtalk_userid,
                    "、".join(r.name for r in roles[person.id]),
                    person.political_status,
                    person.note,
                )
            ]
        )
    _audit_export(session, viewer=viewer, what=f"登记表（{title}）", rows=len(people))
    return _save(workbook)


def export_ledger(session: Session, *, viewer: Viewer) -> bytes:
    """The ledger (台账): one row per person and duty role held, with the date since."""
    units = service.list_visible_units(session, viewer=viewer)
    labels = service.unit_labels(service.list_units(session))
    order = {u.id: i for i, u in enumerate(units)}
    rows = [
        (person, role, since)
        for person, role, since in session.execute(
            select(Person, DutyRole, PersonRole.since)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .join(DutyRole, DutyRole.id == PersonRole.duty_role_id)
            .where(Person.unit_id.in_(order))
        )
    ]
    rows.sort(key=lambda r: (order.get(r[0].unit_id or 0, 0), r[0].name, r[1].order))
    workbook = Workbook()
    sheet = _sheet(
        workbook,
        "台账",
        "网络评论员队伍台账",
        f"导出时间 {format_local(utcnow())}；每人每个职责角色一行",
        LEDGER_HEADERS,
    )
    for number, (person, role, since) in enumerate(rows, start=1):
        sheet.append(
            [
                number,
                *(
                    xlsx.neutralise(value)
                    for value in (
                        labels.get(person.unit_id or 0, ""),
                        person.name,
                        person.position,
                        role.name,
                        format_local(since, "%Y-%m-%d") if since else "",
                        person.phone,
                        person.email,
                    )
                ),
            ]
        )
    _audit_export(session, viewer=viewer, what="台账", rows=len(rows))
    return _save(workbook)


def _subtree(units: list[Unit], root: int) -> set[int]:
    found, grew = {root}, True
    while grew:
        grew = False
        for unit in units:
            if unit.parent_id in found and unit.id not in found:
                found.add(unit.id)
                grew = True
    return found


def _audit_export(session: Session, *, viewer: Viewer, what: str, rows: int) -> None:
    audit.record(
        session,
        actor=viewer.actor,
        action="export",
        object_type="roster",
        summary=f"导出{what}，{rows} 行",
        changes={"rows": [None, rows]},
    )


# --- import ---------------------------------------------------------------------------


@dataclass
class _Row:
    sheet: str
    number: int
    cells: dict[str, str | None]


def read_rows(data: bytes, *, filename: str) -> list[_Row]:
    """The data rows of every sheet that has a registration header; RosterFileError when the
    file is not a readable .xlsx or has no such sheet."""
    if len(data) > cap_bytes():
        raise RosterFileError(f"文件 {filename} 超过 {cap_bytes() // 1024 // 1024} MB，拒绝导入")
    if filename.lower().endswith((".xls", ".et")):
        raise RosterFileError(f"不支持旧版 Excel 文件 {filename}：请在 Excel 中另存为 .xlsx")
    try:
        xlsx.check_container(data, name=filename, max_unpacked=ROSTER_MAX_UNPACKED)
    except xlsx.XlsxFileError as error:
        raise RosterFileError(str(error)) from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    # A broken XML part is a SyntaxError (ElementTree's ParseError, lxml's XMLSyntaxError).
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        SyntaxError,
    ) as error:
        raise RosterFileError(f"无法打开 Excel 文件 {filename}：{error}") from None
    merged = _merged_values(data)
    try:
        found = [_sheet_rows(sheet, merged.get(sheet.title, {})) for sheet in workbook.worksheets]
    except RosterFileError:
        raise
    except Exception as error:  # broken sheet XML raises many kinds; all mean: refuse it
        raise RosterFileError(f"Excel 文件 {filename} 内容已损坏：{error}") from None
    finally:
        workbook.close()
    sheets = [rows for rows in found if rows is not None]
    if not sheets:
        raise RosterFileError(f"文件 {filename} 中找不到含“单位”和“姓名”的表头行")
    return [row for rows in sheets for row in rows]


MERGED_SCAN_BYTES = 5 * 1024 * 1024  # merged cells are read in full mode, small files only


def _merged_values(data: bytes) -> dict[str, dict[tuple[int, int], Any]]:
    """Per sheet, the value of every cell covered by a merged range (the range's first
    cell's): a 单位 cell merged down over its people then fills each of their rows instead
    of leaving them without a unit. Read-only mode does not see merges, hence this pass."""
    if len(data) > MERGED_SCAN_BYTES:
        return {}
    try:
        workbook = load_workbook(io.BytesIO(data), data_only=False)
    except Exception:  # the main read reports an unreadable file
        return {}
    found: dict[str, dict[tuple[int, int], Any]] = {}
    for sheet in workbook.worksheets:
        cells: dict[tuple[int, int], Any] = {}
        for merged in sheet.merged_cells.ranges:
            value = sheet.cell(merged.min_row, merged.min_col).value
            for row in range(merged.min_row, merged.max_row + 1):
                for col in range(merged.min_col, merged.max_col + 1):
                    cells[(row, col)] = value
        found[sheet.title] = cells
    workbook.close()
    return found


def _sheet_rows(sheet: Any, merged: dict[tuple[int, int], Any] | None = None) -> list[_Row] | None:
    """The data rows below the header (``None`` when the first rows hold no header); cells
    of merged ranges take the range's value."""
    merged = merged or {}
    headers: list[str] | None = None
    rows: list[_Row] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        texts = [
            _text(merged.get((number, col), v) if v is None else v)
            for col, v in enumerate(values, start=1)
        ]
        if headers is None:
            if number > 10:
                return None
            names = [_ALIASES.get(t or "", t or "") for t in texts]
            if "单位" in names and "姓名" in names:
                headers = names
            continue
        if not any(texts):
            continue
        if len(rows) >= MAX_ROWS:
            raise RosterFileError(f"工作表“{sheet.title}”超过 {MAX_ROWS} 行，请拆分后导入")
        cells = {h: texts[i] if i < len(texts) else None for i, h in enumerate(headers) if h}
        rows.append(_Row(sheet.title, number, cells))
    return rows if headers is not None else None


def _text(value: Any) -> str | None:
    """A cell as text: numbers typed into Excel (a phone) lose their ``.0``."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _unquote(" ".join(str(value).split()) if not isinstance(value, str) else value.strip())
    return text or None


class _Resolver:
    """Unit and duty-role names of the file, resolved against the database once."""

    def __init__(self, session: Session, viewer: Viewer) -> None:
        self.viewer = viewer
        units = service.list_units(session)
        by_id = {u.id: u for u in units}
        self.path_of = {u.id: service.unit_path(u, by_id) for u in units}
        self.by_path = {path: by_id[uid] for uid, path in self.path_of.items()}
        self.roles: dict[str, DutyRole] = {}
        for role in service.list_duty_roles(session):
            for alias in (role.key, role.name, _BRACKETS.sub("", role.name)):
                self.roles.setdefault(alias, role)

    def unit(self, label: str | None) -> Unit:
        if not label:
            raise ValueError("单位为空")
        label = PATH_RE.sub(service.PATH_SEPARATOR, label)
        # A full path, the end of one (学院 > 系) or a name: whichever names one unit.
        tail = service.PATH_SEPARATOR + label
        exact = self.by_path.get(label)
        named = [exact] if exact else [u for p, u in self.by_path.items() if p.endswith(tail)]
        # Another unit's namesake neither makes a name ambiguous nor shows up in the hint.
        named = [u for u in named if self.viewer.sees_unit(u.id)]
        if len(named) > 1:
            hint = self.path_of[named[0].id]
            raise ValueError(f"单位名称“{label}”有多个，请写出上级，如“{hint}”")
        found = named[0] if named else None
        if found is None or not self.viewer.sees_unit(found.id):
            if self.viewer.visible_units is None:
                raise ValueError(f"未知单位“{label}”")
            raise ValueError(f"单位“{label}”不存在或不在您的管理范围内")
        return found

    def role_keys(self, text: str | None) -> list[str]:
        keys: list[str] = []
        for part in _ROLE_SPLIT.split(text or ""):
            if not part:
                continue
            role = self.roles.get(part) or self.roles.get(_BRACKETS.sub("", part))
            if role is None:
                raise ValueError(f"未知的职责角色“{part}”")
            keys.append(role.key)
        return list(dict.fromkeys(keys))


def import_roster(session: Session, *, viewer: Viewer, data: bytes, filename: str) -> RosterImport:
    """Create or update the people of a registration form, matched by unit and name. Bad
    rows are reported with their row number and left out; good rows are kept. A file that
    cannot be read at all raises RosterFileError and stores nothing."""
    rows = read_rows(data, filename=filename)
    report = RosterImport(filename=filename, rows=len(rows))
    resolver = _Resolver(session, viewer)
    seen: dict[tuple[int, str], _Row] = {}
    for row in rows:
        try:
            person_in, person = _prepare(session, resolver, row, seen)
            _, outcome = desk.save_person(
                session, viewer=viewer, person_in=person_in, person=person
            )
        except (ValueError, service.OrgAccessError, service.OrgPermissionError) as error:
            report.problems.append(RowProblem(row.number, _reason(error), _sheet_name(rows, row)))
            continue
        if outcome == "create":
            report.created += 1
        elif outcome == "update":
            report.updated += 1
        else:
            report.unchanged += 1
    audit.record(
        session,
        actor=viewer.actor,
        action="import",
        object_type="roster",
        summary=(
            f"导入登记表 {filename}：{report.rows} 行，新增 {report.created}，"
            f"修改 {report.updated}，未变 {report.unchanged}，拒绝 {report.refused}"
        ),
        changes={
            "file": [None, filename],
            "rows": [None, report.rows],
            "created": [None, report.created],
            "updated": [None, report.updated],
            "refused": [None, report.refused],
        },
    )
    return report


def _sheet_name(rows: list[_Row], row: _Row) -> str:
    return row.sheet if rows[0].sheet != rows[-1].sheet else ""


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "；".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
    return str(error)


def _prepare(
    session: Session, resolver: _Resolver, row: _Row, seen: dict[tuple[int, str], _Row]
) -> tuple[PersonIn, Person | None]:
    """The row as a PersonIn and the person it updates (``None``: a new person)."""
    cells = row.cells
    name = " ".join((cells.get("姓名") or "").split())
    if not name:
        raise ValueError("姓名为空")
    unit = resolver.unit(cells.get("单位"))
    earlier = seen.get((unit.id, name))
    if earlier is not None:
        raise ValueError(f"与第 {earlier.number} 行重复（同一单位同名人员）")
    seen[(unit.id, name)] = row
    matches = [p for p in service.list_people(session, unit_id=unit.id) if p.name == name]
    if len(matches) > 1:
        raise ValueError(f"单位“{unit.name}”有多名叫“{name}”的人员，请在工作台中逐个修改")
    person = matches[0] if matches else None
    _refuse_second_unit(session, resolver, cells.get("手机"), unit.id)
    values: dict[str, Any] = {}
    if person is not None:  # columns left out of the file keep what is stored
        values = {f: getattr(person, f) for f in _FIELDS.values()}
        values["role_keys"] = [
            r.key for r in service.list_duty_roles_of(session, person_ids=[person.id])[person.id]
        ]
    for header, field_name in _FIELDS.items():
        if header in cells:
            values[field_name] = cells[header]
    if "职责角色" in cells:
        values["role_keys"] = resolver.role_keys(cells["职责角色"])
    return PersonIn(name=name, unit_id=unit.id, **values), person


def export_ledger_on(session: Session, *, viewer: Viewer, on: datetime, label: str) -> bytes:
    """The ledger (台账) as it stood at ``on`` (naive UTC), from the role history: one row
    per role term open then, with the term's dates and the change request that made it."""
    units = service.list_visible_units(session, viewer=viewer)
    labels = service.unit_labels(service.list_units(session))
    order = {u.id: i for i, u in enumerate(units)}
    terms = list_terms_on(session, on=on, unit_ids=frozenset(order))
    people = {p.id: p for p in service.list_people(session, visible=viewer.visible_units)}
    roles = service.list_duty_role_names(session)
    workbook = Workbook()
    headers = ("序号", "单位", "姓名", "职责角色", "担任起始日期", "变更申请编号")
    sheet = _sheet(
        workbook,
        "台账",
        f"网络评论员队伍台账（{label}）",
        f"按 {label} 的任职记录导出；导出时间 {format_local(utcnow())}",
        headers,
    )
    terms.sort(key=lambda t: (order.get(t.unit_id or 0, 0), t.person_id, t.duty_role_id))
    for number, term in enumerate(terms, start=1):
        person = people.get(term.person_id)
        values = (
            labels.get(term.unit_id or 0, ""),
            person.name if person else "",
            roles.get(term.duty_role_id, ""),
            format_local(term.valid_from, "%Y-%m-%d"),
            term.change_request_id or "",
        )
        sheet.append([number, *(xlsx.neutralise(v) for v in values)])
    _audit_export(session, viewer=viewer, what=f"台账（{label}）", rows=len(terms))
    return _save(workbook)


def _refuse_second_unit(
    session: Session, resolver: _Resolver, phone: str | None, unit_id: int
) -> None:
    """A person belongs to one unit: a row whose phone is an active person's of another
    unit is refused (the other unit is named only to a viewer who sees it)."""
    if not phone:
        return
    other = (
        session.execute(
            select(Person).where(
                Person.phone == phone, Person.unit_id != unit_id, Person.active.is_(True)
            )
        )
        .scalars()
        .first()
    )
    if other is None:
        return
    where = (
        f"单位“{resolver.path_of.get(other.unit_id or 0, '')}”的{other.name}"
        if resolver.viewer.sees_unit(other.unit_id)
        else "其他单位的人员"
    )
    raise ValueError(f"手机号 {phone} 已登记为{where}，一人不能同时在两个单位登记")
