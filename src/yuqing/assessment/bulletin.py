"""The monthly bulletin (月度通报): completion by unit and role, the best pieces, units
short of quota or late with their registration form, cases handled late, a ranking by unit;
on the desk, in .docx (the reports' 公文 style) and through the notify outbox on a
schedule. Every figure in it is a sum of the month's items (test_bulletin_figures_trace).
The year's figures per unit export to Excel for the annual assessment."""

from __future__ import annotations

import io
from collections import defaultdict

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.assessment import config, service
from yuqing.assessment.models import Bulletin
from yuqing.assessment.schemas import Month, MonthFigures, UnitFigures
from yuqing.cases import service as cases
from yuqing.core import audit, xlsx
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message
from yuqing.org import quota, rounds
from yuqing.org import service as org
from yuqing.reports.docx import to_docx
from yuqing.reports.schemas import Paragraph, ReportContent, Section, Table

SOURCE_TYPE = "bulletin"


def ranking(found: MonthFigures) -> list[UnitFigures]:
    """Units by average score, then credit (the bulletin's ranking)."""
    return sorted(found.units, key=lambda u: (-u.score, -u.credit, u.name))


def role_completion(found: MonthFigures) -> list[tuple[str, int, float, float]]:
    """Per duty role: holders, mean completion and credit (sum of the holders' items)."""
    holders: dict[int, list[float]] = defaultdict(list)
    credit: dict[int, float] = defaultdict(float)
    for person in found.people.values():
        for role_id in person.role_ids:
            holders[role_id].append(person.completion)
            credit[role_id] += person.credit
    return [
        (found.role_names.get(rid, ""), len(v), sum(v) / len(v), round(credit[rid], 2))
        for rid, v in sorted(holders.items(), key=lambda kv: list(found.role_names).index(kv[0]))
    ]


def _tasks_note(found: MonthFigures) -> str:
    """Which month's tasks the figures were measured against (copied forward by default)."""
    if found.tasks_from == str(found.month):
        return "月度任务为本月下达。"
    if found.tasks_from == "默认":
        return "本月未单独下达任务，按默认任务考核。"
    return f"本月未单独下达任务，沿用 {found.tasks_from} 的任务考核。"


def content(session: Session, *, found: MonthFigures) -> ReportContent:
    """The bulletin as report content (the same content feeds the page, .docx and mail)."""
    start, end = found.month.bounds()
    ranked = ranking(found)
    total = round(sum(i.points for i in found.items), 2)
    members = sum(len(u.members) for u in ranked)
    overview = (
        f"{found.month.label}，全校 {len(ranked)} 个单位、{members} 名队伍成员共计 "
        f"{len(found.items)} 项计分记录，合计 {total:g} 分。{_tasks_note(found)}"
    )
    unit_rows: list[list[str | int | float]] = [
        [n, u.name, len(u.members), f"{u.completion:.0%}", u.credit, u.score]
        for n, u in enumerate(ranked, start=1)
    ]
    role_rows: list[list[str | int | float]] = [
        [name, count, f"{done:.0%}", points] for name, count, done, points in role_completion(found)
    ]
    best = sorted((i for i in found.items if i.kind == "news"), key=lambda i: (-i.points, i.at))[
        : config.BEST_PIECES
    ]
    names = {pid: p.name for pid, p in found.people.items()}
    unit_names = {u.unit_id: u.name for u in found.units}
    best_rows: list[list[str | int | float]] = [
        [i.title, names.get(i.person_id or 0, ""), unit_names.get(i.unit_id or 0, ""), i.points]
        for i in best
    ]
    late = [i for i in found.items if i.kind == "case_late"]
    late_rows: list[list[str | int | float]] = [
        [i.title, unit_names.get(i.unit_id or 0, ""), names.get(i.person_id or 0, ""), i.points]
        for i in late
    ]
    short = _short_units(session)
    return ReportContent(
        kind="monthly",
        title=f"网评员队伍月度通报（{found.month.label}）",
        period_label=found.month.label,
        period_start=start,
        period_end=end,
        generated_at=utcnow(),
        sections=[
            Section(heading="一、总体情况", paragraphs=[Paragraph(text=overview)]),
            Section(
                heading="二、各单位完成情况与排名",
                tables=[Table(title="单位排名", columns=["名次", "单位", "人数", "任务完成率", "得分合计", "平均分"], rows=unit_rows)],
            ),
            Section(
                heading="三、各职责角色完成情况",
                tables=[Table(title="职责角色", columns=["职责角色", "人数", "任务完成率", "得分合计"], rows=role_rows)],
            ),
            Section(
                heading="四、优秀稿件",
                paragraphs=[] if best_rows else [Paragraph(text="本月暂无采用稿件。")],
                tables=[Table(title="优秀稿件", columns=["标题", "作者", "单位", "分值"], rows=best_rows)] if best_rows else [],
            ),
            Section(
                heading="五、定额未落实及登记未提交的单位",
                paragraphs=[Paragraph(text=line) for line in short] or [Paragraph(text="各单位定额均已落实。")],
            ),
            Section(
                heading="六、超时处置",
                paragraphs=[] if late_rows else [Paragraph(text="本月无超时处置的事件。")],
                tables=[Table(title="超时处置", columns=["事件", "单位", "责任人", "扣分"], rows=late_rows)] if late_rows else [],
            ),
        ],
    )  # fmt: skip


def _short_units(session: Session) -> list[str]:
    """Units short of quota, and units that have not handed in the latest round's form."""
    everyone = _Everyone()
    lines = [
        f"{u.unit}："
        + "，".join(f"{line.role}缺 {line.missing} 人" for line in u.lines if line.missing)
        for u in quota.list_compliance(session, viewer=everyone)
        if u.missing
    ]
    latest = rounds.list_rounds(session)
    if latest:
        names = org.list_unit_names(session)
        pending = rounds.list_not_submitted(session, round_id=latest[0].id)
        if pending:
            lines.append(
                f"“{latest[0].title}”未提交登记表的单位："
                + "、".join(names.get(f.unit_id, "") for f in pending)
            )
    return lines


class _Everyone:
    """The institution's own view (the bulletin covers every unit)."""

    visible_units = None
    actor = audit.SYSTEM

    def can(self, permission: str) -> bool:
        return True

    def sees_unit(self, unit_id: int | None) -> bool:
        return True


def get_bulletin(session: Session, *, month: Month) -> Bulletin | None:
    return session.execute(
        select(Bulletin).where(Bulletin.month == str(month))
    ).scalar_one_or_none()


def make(session: Session, *, month: Month, actor: Actor) -> Bulletin:
    """Compute and keep the month's bulletin (again: replaces the kept content)."""
    found = service.compute_month(session, month=month)
    made = content(session, found=found)
    row = get_bulletin(session, month=month)
    if row is None:
        row = Bulletin(month=str(month), content="", created_at=utcnow())
        session.add(row)
    row.content, row.created_at = made.model_dump_json(), utcnow()
    session.flush()
    audit.record(
        session, actor=actor, action="create", object_type="bulletin", object_id=row.id,
        summary=f"生成{made.title}",
    )  # fmt: skip
    return row


def content_of(row: Bulletin) -> ReportContent:
    return ReportContent.model_validate_json(row.content)


def docx(row: Bulletin) -> bytes:
    return to_docx(content_of(row))


def send(session: Session, *, row: Bulletin) -> int:
    """Queue the bulletin for the publicity office like the daily report (e-mail with the
    Word file's link, the desk inbox); the number of deliveries queued."""
    made = content_of(row)
    message = Message(
        title=made.title,
        text=made.sections[0].paragraphs[0].text,
        link=f"/team/bulletin/{row.month}.docx",
        link_label="下载通报（Word）",
    )
    queued = notify.enqueue(
        session,
        message=message,
        recipients=cases.list_publicity_recipients(session),
        dedupe_key=f"bulletin:{row.month}:{row.created_at.isoformat()}",
        source_type=SOURCE_TYPE,
        source_id=row.id,
    )
    if queued:
        row.sent_at = utcnow()
    return len(queued)


def export_year(session: Session, *, year: int, actor: Actor) -> bytes:
    """Each unit's figures of each month of the year, and the year's totals (年度考核)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"{year}年"
    sheet.append([f"{year} 年网评员队伍考核数据（按单位）"])
    months = [Month(year, m) for m in range(1, 13)]
    sheet.append(["单位", *(f"{m.month}月得分合计" for m in months), "全年得分合计", "全年平均分"])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    table: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for month in months:
        found = service.compute_month(session, month=month)
        by_unit = {u.name: (u.credit, u.score) for u in found.units}
        for name in set(org.list_unit_names(session).values()) | set(by_unit):
            table[name].append(by_unit.get(name, (0.0, 0.0)))
    for name in sorted(table):
        values = table[name]
        credits = [c for c, _ in values]
        scores = [s for _, s in values if s]
        mean = round(sum(scores) / len(scores), 1) if scores else 0
        sheet.append([xlsx.neutralise(name), *credits, round(sum(credits), 2), mean])
    audit.record(
        session, actor=actor, action="export", object_type="bulletin",
        summary=f"导出 {year} 年各单位考核数据",
    )  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
