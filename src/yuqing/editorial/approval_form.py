"""The media-release approval form (媒体信息发布审批表) as .docx, filled from a submission and
its approvals: who, at which stage, when, what they said, and the proofreading passes.

The form is a template the institution can replace: ``<data_dir>/editorial/approval_form.docx``
when it exists, else the desk's own (built here). Placeholders in paragraphs or table cells,
``{标题}`` ``{类型}`` ``{单位}`` ``{作者}`` ``{事件日期}`` ``{发布渠道}`` ``{版本}`` ``{字数}``
``{提交时间}`` ``{审核结果}``, are replaced; the table row holding ``{审核记录}`` is repeated
once per review action.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentType
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlalchemy.orm import Session

from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local
from yuqing.editorial import config, richtext
from yuqing.editorial.models import ReviewAction, Submission, SubmissionKind
from yuqing.org import service as org

TEMPLATE_NAME = "approval_form.docx"
ROW_MARK = "{审核记录}"


def template_path() -> Path:
    return Path(get_settings().data_dir) / "editorial" / TEMPLATE_NAME


def default_template() -> DocumentType:
    """The desk's own form, with the placeholders the filler replaces."""
    doc = Document()
    doc.add_heading("媒体信息发布审批表", level=1)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, mark in (
        ("标题", "{标题}"),
        ("稿件类型", "{类型}"),
        ("报送单位", "{单位}"),
        ("撰稿人", "{作者}"),
        ("事件日期", "{事件日期}"),
        ("发布渠道", "{发布渠道}"),
        ("审定版本", "第 {版本} 版，{字数} 字"),
        ("提交时间", "{提交时间}"),
        ("审核结果", "{审核结果}"),
    ):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, mark
    doc.add_paragraph("审核记录（三审三校）")
    reviews = doc.add_table(rows=1, cols=5)
    reviews.style = "Table Grid"
    for cell, text in zip(
        reviews.rows[0].cells, ("环节", "审核人", "时间", "意见", "校对"), strict=True
    ):
        cell.text = text
    row = reviews.add_row().cells
    row[0].text, row[1].text, row[2].text, row[3].text, row[4].text = (
        ROW_MARK + "{环节}", "{审核人}", "{时间}", "{意见}", "{校对}",
    )  # fmt: skip
    doc.add_paragraph("宣传部（盖章）：                    日期：")
    return doc


def _replace(paragraph: Paragraph, values: dict[str, str]) -> None:
    text = paragraph.text
    if "{" not in text:
        return
    new = text
    for key, value in values.items():
        new = new.replace(key, value)
    if new != text:
        for run in paragraph.runs[1:]:
            run.text = ""
        if paragraph.runs:
            paragraph.runs[0].text = new
        else:
            paragraph.add_run(new)


def _paragraphs(doc: DocumentType) -> list[Paragraph]:
    found = list(doc.paragraphs)
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                found.extend(cell.paragraphs)
    return found


def _fill_reviews(table: Table, rows: list[dict[str, str]]) -> None:
    for index, row in enumerate(table.rows):
        if any(ROW_MARK in c.text for c in row.cells):
            template = row._tr
            for _ in rows:
                clone = copy.deepcopy(template)
                template.addprevious(clone)
            template.getparent().remove(template)
            for filled, values in zip(table.rows[index : index + len(rows)], rows, strict=True):
                for cell in filled.cells:
                    for paragraph in cell.paragraphs:
                        _replace(paragraph, {ROW_MARK: "", **values})
            return


REVIEW_WORDS = {"approve": "通过", "return": "退回修改", "reject": "不予采用", "submit": "提交"}


def fill(session: Session, *, submission: Submission, reviews: list[ReviewAction]) -> bytes:
    """The filled form as .docx bytes."""
    path = template_path()
    doc = Document(str(path)) if path.is_file() else default_template()
    kind = session.get(SubmissionKind, submission.kind_id)
    author = (
        org.get_person(session, person_id=submission.author_person_id)
        if submission.author_person_id
        else None
    )
    values = {
        "{标题}": submission.title,
        "{类型}": kind.name if kind else "",
        "{单位}": org.list_unit_names(session).get(submission.unit_id or 0, ""),
        "{作者}": author.name if author else submission.created_by_name,
        "{事件日期}": submission.event_date.isoformat() if submission.event_date else "",
        "{发布渠道}": "、".join(config.CHANNELS.get(c, c) for c in submission.channels.split()),
        "{版本}": str(submission.version),
        "{字数}": str(len(richtext.text_of(submission.body))),
        "{提交时间}": format_local(submission.submitted_at),
        "{审核结果}": config.STATES.get(submission.state, submission.state),
    }
    rows = [
        {
            "{环节}": r.stage_name or config.ACTIONS.get(r.action, r.action),
            "{审核人}": r.actor_name,
            "{时间}": format_local(r.at),
            "{意见}": f"{REVIEW_WORDS.get(r.action, config.ACTIONS.get(r.action, r.action))}"
            + (f"：{r.comment}" if r.comment else ""),
            "{校对}": ("已校对" + (f"：{r.proofread_note}" if r.proofread_note else ""))
            if r.proofread
            else "",
        }
        for r in reviews
        if r.action in {"approve", "return", "reject"}
    ]
    for table in doc.tables:
        _fill_reviews(table, rows)
    for paragraph in _paragraphs(doc):
        _replace(paragraph, values)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
