"""Quotas of duty roles (定额) as data, and each unit's compliance: required, filled and
missing per role. A role over its quota is kept and shown with a warning, never dropped."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.core import audit, xlsx
from yuqing.core.timeutil import format_local, utcnow
from yuqing.org import config, service
from yuqing.org.models import Person, PersonRole, QuotaRule, Unit
from yuqing.org.schemas import Viewer
from yuqing.org.service import OrgError

SHORT_FILL = PatternFill("solid", fgColor="FFC7CE")  # the red of "short of quota"


@dataclass
class RoleLine:
    """One duty role of one unit: how many the rules ask for and how many hold it."""

    role_id: int
    role: str
    required: int
    filled: int

    @property
    def missing(self) -> int:
        return max(0, self.required - self.filled)

    @property
    def over(self) -> int:
        return max(0, self.filled - self.required)


@dataclass
class UnitCompliance:
    """A unit's lines and what is worth a warning (over quota, no headcount)."""

    unit_id: int
    unit: str
    student_count: int | None
    lines: list[RoleLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(line.missing for line in self.lines)


def ensure_defaults(session: Session) -> None:
    """Create the default quota rules when there are none, and a core-member rule for each
    named unit of ``config.CORE_QUOTAS`` that exists and has no rule yet. Run by `yuqing
    init`, the demo and the writes that add or rename a unit or save a rule, never by a
    page's GET (a GET does not write)."""
    service.ensure_defaults(session)
    roles = {r.key: r.id for r in service.list_duty_roles(session)}
    kinds = {k.key: k.id for k in service.list_kinds(session)}
    if session.execute(select(func.count(QuotaRule.id))).scalar_one() == 0:
        for order, (role, kind, fixed, per) in enumerate(config.QUOTAS_BY_KIND):
            if role in roles and kind in kinds:
                session.add(
                    QuotaRule(
                        duty_role_id=roles[role],
                        unit_kind_id=kinds[kind],
                        fixed=fixed,
                        per_students=per,
                        order=order,
                    )
                )
    core = roles.get("core_commentator")
    named = set(session.execute(select(QuotaRule.unit_id).where(QuotaRule.duty_role_id == core)))
    for name, count in config.CORE_QUOTAS.items():
        unit = service.get_unit_by_name(session, name=name)
        if core and unit is not None and (unit.id,) not in named:
            session.add(QuotaRule(duty_role_id=core, unit_id=unit.id, fixed=count, order=100))
    session.flush()


def list_rules(session: Session) -> list[QuotaRule]:
    return list(
        session.execute(select(QuotaRule).order_by(QuotaRule.order, QuotaRule.id)).scalars()
    )


def save_rule(
    session: Session,
    *,
    viewer: Viewer,
    duty_role_id: int,
    unit_kind_id: int | None,
    unit_id: int | None,
    fixed: int,
    per_students: int | None,
) -> QuotaRule:
    """Set the quota of a role for a kind of unit or for one unit (one rule per pair)."""
    service.check_all_units_manager(viewer)
    ensure_defaults(session)  # the office's first rule must not stand in for the defaults
    if (unit_kind_id is None) == (unit_id is None):
        raise OrgError("定额规则须指定单位类型或具体单位之一")
    if not 0 <= fixed <= 1000 or (per_students is not None and not 1 <= per_students <= 100_000):
        raise OrgError("固定名额应在 0–1000 之间，按学生人数的比例应在 1–100000 之间")
    if duty_role_id not in service.list_duty_role_names(session):
        raise OrgError(f"职责角色 {duty_role_id} 不存在")
    rule = session.execute(
        select(QuotaRule).where(
            QuotaRule.duty_role_id == duty_role_id,
            QuotaRule.unit_kind_id.is_(None)
            if unit_kind_id is None
            else QuotaRule.unit_kind_id == unit_kind_id,
            QuotaRule.unit_id.is_(None) if unit_id is None else QuotaRule.unit_id == unit_id,
        )
    ).scalar_one_or_none()
    before = {} if rule is None else {"fixed": rule.fixed, "per_students": rule.per_students}
    if rule is None:
        rule = QuotaRule(duty_role_id=duty_role_id, unit_kind_id=unit_kind_id, unit_id=unit_id)
        session.add(rule)
    rule.fixed, rule.per_students = fixed, per_students
    session.flush()
    audit.record(
        session,
        actor=viewer.actor,
        action="update" if before else "create",
        object_type="quota_rule",
        object_id=rule.id,
        summary="设置定额规则",
        changes=audit.diff(before, {"fixed": fixed, "per_students": per_students}),
    )
    return rule


def required_for(rule: QuotaRule, student_count: int | None) -> int:
    """The members a rule asks of a unit: the fixed number plus one per N students (started
    groups count: 201 students need 2)."""
    extra = 0
    if rule.per_students and student_count:
        extra = math.ceil(student_count / rule.per_students)
    return rule.fixed + extra


def list_compliance(
    session: Session, *, viewer: Viewer, unit_ids: frozenset[int] | None = None
) -> list[UnitCompliance]:
    """Each visible unit that has a rule (or holders): required / filled per role."""
    units = service.list_visible_units(session, viewer=viewer)
    if unit_ids is not None:
        units = [u for u in units if u.id in unit_ids]
    roles = service.list_duty_role_names(session)
    order = {rid: i for i, rid in enumerate(roles)}
    rules = list_rules(session)
    filled: dict[tuple[int, int], int] = {
        (int(unit or 0), int(role)): int(n)
        for unit, role, n in session.execute(
            select(Person.unit_id, PersonRole.duty_role_id, func.count())
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(Person.active.is_(True))
            .group_by(Person.unit_id, PersonRole.duty_role_id)
        )
    }
    labels = service.unit_labels(units)
    return [
        _compliance(unit, labels[unit.id], rules, roles, order, filled)
        for unit in units
        if any(r.unit_id == unit.id or r.unit_kind_id == unit.kind_id for r in rules)
    ]


def _compliance(
    unit: Unit,
    label: str,
    rules: list[QuotaRule],
    roles: dict[int, str],
    order: dict[int, int],
    filled: dict[tuple[int, int], int],
) -> UnitCompliance:
    own = {r.duty_role_id: r for r in rules if r.unit_id == unit.id}
    kind = {
        r.duty_role_id: r for r in rules if r.unit_id is None and r.unit_kind_id == unit.kind_id
    }
    found = UnitCompliance(unit_id=unit.id, unit=label, student_count=unit.student_count)
    for role_id in sorted({**kind, **own}, key=lambda r: order.get(r, 0)):
        rule = own.get(role_id) or kind[role_id]
        line = RoleLine(
            role_id=role_id,
            role=roles.get(role_id, ""),
            required=required_for(rule, unit.student_count),
            filled=filled.get((unit.id, role_id), 0),
        )
        found.lines.append(line)
        if rule.per_students and not unit.student_count:
            found.warnings.append(
                f"学生人数{'为 0' if unit.student_count == 0 else '未填写'}，"
                f"{line.role}按比例的定额按 0 计"
            )
        if line.over:
            found.warnings.append(f"{line.role}超出定额 {line.over} 人（已保留，请核实）")
    return found


def export_compliance(session: Session, *, viewer: Viewer) -> bytes:
    """The compliance table as .xlsx, short rows filled red."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "定额落实"
    sheet.append(["网评员队伍定额落实情况"])
    sheet.append([f"导出时间 {format_local(utcnow())}"])
    sheet.append(["单位", "学生人数", "职责角色", "应配", "已配", "缺额", "提示"])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    rows = 0
    for unit in list_compliance(session, viewer=viewer):
        for line in unit.lines:
            note = "；".join(w for w in unit.warnings if w.startswith(line.role))
            values = [
                unit.unit,
                unit.student_count,
                line.role,
                line.required,
                line.filled,
                line.missing,
                note,
            ]
            sheet.append([xlsx.neutralise(v) for v in values])
            rows += 1
            if line.missing:
                for cell in sheet[sheet.max_row]:
                    cell.fill = SHORT_FILL
    audit.record(
        session,
        actor=viewer.actor,
        action="export",
        object_type="quota",
        summary=f"导出定额落实表（{rows} 行）",
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_headcounts(session: Session, *, viewer: Viewer, data: bytes, filename: str) -> list[str]:
    """Set units' student headcounts from a sheet with 单位 and 学生人数 columns; returns the
    rows refused, with their reason (the good rows are kept)."""
    service.check_all_units_manager(viewer)
    try:
        xlsx.check_container(data, name=filename, max_unpacked=20 * 1024 * 1024)
        book = load_workbook(io.BytesIO(data), read_only=True)
    except Exception as error:  # not a workbook at all
        raise OrgError(f"无法打开 Excel 文件 {filename}：{error}") from None
    problems: list[str] = []
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    header = next((i for i, r in enumerate(rows[:10]) if "单位" in r and "学生人数" in r), None)
    if header is None:
        raise OrgError(f"文件 {filename} 中找不到含“单位”和“学生人数”的表头行")
    unit_col, count_col = rows[header].index("单位"), rows[header].index("学生人数")
    for number, row in enumerate(rows[header + 1 :], start=header + 2):
        name, count = row[unit_col], row[count_col]
        if not name:
            continue
        unit = service.get_unit_by_name(session, name=str(name))
        if unit is None:
            problems.append(f"第 {number} 行：未知单位“{name}”")
        elif not isinstance(count, int | float) or count < 0:
            problems.append(f"第 {number} 行：学生人数“{count}”不是非负整数")
        elif unit.student_count != int(count):
            service.update_unit(session, unit=unit, actor=viewer.actor, student_count=int(count))
    return problems
