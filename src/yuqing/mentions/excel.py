"""Selected mentions of the stream in Excel (信息导出): one row per item, in the order chosen.

Every cell goes through ``core.xlsx.neutralise`` (no formula runs, no control character
breaks the file). No author column: an export is about items, not about who wrote them.
Every export writes one audit row.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.labels import SENTIMENT_LABELS
from yuqing.core.timeutil import format_local, utcnow
from yuqing.core.xlsx import neutralise
from yuqing.mentions import platforms, service
from yuqing.mentions.models import Mention
from yuqing.sources import service as sources_service

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    ("序号", 6),
    ("标题", 40),
    ("平台", 8),
    ("信息源", 16),
    ("发布时间", 17),
    ("链接", 36),
    ("情感", 6),
    ("风险分", 7),
    ("转发", 8),
    ("评论", 8),
    ("点赞", 8),
    ("摘要", 60),
)


def export_mentions(session: Session, *, actor: Actor, mention_ids: Sequence[int]) -> bytes:
    """The mentions named (those that exist, in the order given) as .xlsx bytes; records the
    export in the audit log."""
    mentions = service.get_many(session, mention_ids=list(dict.fromkeys(mention_ids)))
    sources = sources_service.get_many(session, source_ids={m.source_id for m in mentions})
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "信息导出"
    sheet.append([f"导出时间 {format_local(utcnow())}（北京时间）；共 {len(mentions)} 条"])
    sheet.append([name for name, _ in COLUMNS])
    for number, mention in enumerate(mentions, start=1):
        source = sources.get(mention.source_id)
        row = _row(mention, number, source.name if source else "")
        sheet.append([neutralise(v) for v in row])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for cell in sheet["B"][2:]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    audit.record(
        session,
        actor=actor,
        action="export",
        object_type="mention",
        summary=f"导出信息（{len(mentions)} 条）",
        changes={"mention_ids": [None, [m.id for m in mentions][:200]]},
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _row(mention: Mention, number: int, source_name: str) -> list[object]:
    return [
        number,
        mention.title,
        platforms.label(mention.platform),
        source_name,
        format_local(mention.published_at),
        mention.url or "",
        SENTIMENT_LABELS.get(mention.sentiment or "", ""),
        mention.risk_score,
        mention.reposts,
        mention.comments,
        mention.likes,
        " ".join(mention.text.split())[:300],
    ]
