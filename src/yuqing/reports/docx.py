"""The report as Word (.docx) in 公文 layout, optionally on the office's letterhead template.

Layout after GB/T 9704 (党政机关公文格式): A4 with its margins, the title in 方正小标宋简体 二号
centred, body text in 仿宋_GB2312 三号 at a fixed 28-point line, first-level headings (一、) in
黑体 三号 and second-level ones (（一）) in 楷体_GB2312 三号. Headings use Word's built-in
"Heading 1"/"Heading 2" styles (with an outline level), so the navigation pane lists them.
Offices that lack the 公文 fonts get named fallbacks: each font is entered in the document's
font table with an alternate name (仿宋_GB2312 → 仿宋, 楷体_GB2312 → 楷体, 方正小标宋简体 → 华文中宋)
and the Chinese charset, which Word and LibreOffice use when the first name is not installed.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from lxml import etree

from yuqing.core.palette import sentiment_color
from yuqing.core.text import strip_controls
from yuqing.reports import charts
from yuqing.reports.schemas import Paragraph, ReportContent, ReportError, Section, Table

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
LATIN_FONT = "Times New Roman"  # 公文 sets digits and Latin letters in Times New Roman
# Font → the alternate Word/LibreOffice use when it is missing (documented in docs/reports.md).
FALLBACKS = {
    TITLE_FONT: "华文中宋",
    BODY_FONT: "仿宋",
    HEADING2_FONT: "楷体",
    HEADING1_FONT: "SimHei",
}
SIZE_TITLE = 22.0  # 二号
SIZE_BODY = 16.0  # 三号
SIZE_SMALL = 12.0  # 小四, for tables and links
LINE = 28.0  # fixed line pitch of 22 lines a page
TEXT_WIDTH_MM = 156  # A4 less the 公文 margins (28 + 26 mm)
HALF_EM_MM = SIZE_SMALL / 72 * 25.4 / 2  # a Latin letter of the tables' 小四; a Chinese one is two
CELL_MARGINS_MM = 4.0
CN_NUMBERS = "一二三四五六七八九十"
# "负面 12 条（30.0%）" in a paragraph takes the desk's colour of its sentiment.
_SENTIMENT_SPAN = re.compile(r"(负面|正面|中性)( \d+ 条（[\d.]+%）)?")


def _open(template: Path | None) -> Any:
    if template is None:
        return Document()
    try:
        return Document(str(template))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReportError(
            f"报告模板 {template} 无法打开（不是有效的 Word .docx 文件）：{exc}"
        ) from exc


def _set_fonts(rpr_owner: Any, east_asia: str) -> None:
    """Chinese text in ``east_asia``, Latin in Times New Roman; theme fonts removed, since a
    theme font (the built-in headings have one) overrides a named font."""
    rfonts = rpr_owner.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), east_asia)


def _run(para: Any, text: object, font: str, size: float, color: str | None = None) -> Any:
    """A run of ``text`` without control characters: the XML of a .docx cannot hold NUL or
    \\x01, and one such stored title would otherwise fail the whole report."""
    run = para.add_run(strip_controls(str(text)))
    _set_fonts(run._element, font)
    run.font.size = Pt(size)
    if color:
        run.font.color.rgb = RGBColor.from_string(color.lstrip("#").upper())
    return run


def _paragraph_style(doc: Any, name: str, *, font: str, size: float, level: int | None) -> Any:
    """A built-in paragraph style set to a 公文 font; headings keep their outline level."""
    styles = doc.styles
    style = (
        styles[name]
        if name in [s.name for s in styles]
        else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    )
    _set_fonts(style.element, font)
    style.font.size = Pt(size)
    style.font.bold = False
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    fmt = style.paragraph_format
    fmt.space_before, fmt.space_after = Pt(0), Pt(0)
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(LINE)
    if level is not None:
        ppr = style.element.get_or_add_pPr()
        for old in ppr.findall(qn("w:outlineLvl")):
            ppr.remove(old)
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), str(level))
        ppr.append(outline)
        fmt.keep_with_next = True
    return style


def _font_table(doc: Any) -> None:
    """Name the fallback of each 公文 font in word/fontTable.xml (w:altName, GB2312 charset)."""
    part = next(
        (rel.target_part for rel in doc.part.rels.values() if rel.reltype.endswith("/fontTable")),
        None,
    )
    if part is None or not hasattr(part, "_blob"):  # a template without a font table
        return
    root = etree.fromstring(part.blob)
    _add_fonts(root)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _add_fonts(root: Any) -> None:
    for font in root.findall(qn("w:font")):
        if font.get(qn("w:name")) in FALLBACKS:
            root.remove(font)
    for name, alternate in FALLBACKS.items():
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        for tag, value in (
            ("w:altName", alternate),
            ("w:charset", "86"),  # GB2312
            ("w:family", "modern" if name == HEADING1_FONT else "roman"),
            ("w:pitch", "variable"),
        ):
            child = OxmlElement(tag)
            child.set(qn("w:val"), value)
            font.append(child)
        root.append(font)


def _page(doc: Any) -> None:
    """A4 portrait with the 公文 margins (top 37 mm, bottom 35, left 28, right 26)."""
    for section in doc.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)


def _styles(doc: Any) -> None:
    normal = _paragraph_style(doc, "Normal", font=BODY_FONT, size=SIZE_BODY, level=None)
    normal.paragraph_format.first_line_indent = Pt(SIZE_BODY * 2)  # 首行缩进两字
    for name, font, size, level in (
        ("Title", TITLE_FONT, SIZE_TITLE, None),
        ("Heading 1", HEADING1_FONT, SIZE_BODY, 0),
        ("Heading 2", HEADING2_FONT, SIZE_BODY, 1),
    ):
        style = _paragraph_style(doc, name, font=font, size=size, level=level)
        style.paragraph_format.first_line_indent = Pt(0 if name == "Title" else SIZE_BODY * 2)
    title = doc.styles["Title"]
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.line_spacing = Pt(36)
    title.paragraph_format.space_after = Pt(LINE)
    # The default template draws a rule under Title; a 公文 title has none.
    for border in title.element.get_or_add_pPr().findall(qn("w:pBdr")):
        border.getparent().remove(border)


def _colored(para: Any, text: str, font: str, size: float) -> None:
    """``text`` as runs, sentiment spans in the desk's colours."""
    at = 0
    for match in _SENTIMENT_SPAN.finditer(text):
        if match.start() > at:
            _run(para, text[at : match.start()], font, size)
        _run(para, match.group(0), font, size, sentiment_color(match.group(1)))
        at = match.end()
    if at < len(text):
        _run(para, text[at:], font, size)


def _paragraph(doc: Any, paragraph: Paragraph) -> None:
    para = doc.add_paragraph(style="Normal")
    _colored(para, paragraph.text, BODY_FONT, SIZE_BODY)
    for quote in paragraph.quotes:
        _run(para, f"“{quote.text}”", BODY_FONT, SIZE_BODY)
        if quote.url:
            _run(para, f"（{quote.url}）", BODY_FONT, SIZE_SMALL)


def _cell(cell: Any, value: object, font: str) -> None:
    para = cell.paragraphs[0]
    para.paragraph_format.first_line_indent = Pt(0)
    para.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    text = str(value)
    _run(para, text, font, SIZE_SMALL, sentiment_color(text))


def _table(doc: Any, table: Table, number: int) -> None:
    doc.add_paragraph(f"（{CN_NUMBERS[(number - 1) % 10]}）{table.title}", style="Heading 2")
    grid = doc.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid" if "Table Grid" in [s.name for s in doc.styles] else None
    for cell, name in zip(grid.rows[0].cells, table.columns, strict=True):
        _cell(cell, name, HEADING1_FONT)
    for row in table.rows:
        for cell, value in zip(grid.add_row().cells, row, strict=False):
            _cell(cell, value, BODY_FONT)
    _widths(grid, table)


def _ems(text: object) -> int:
    """Width of ``text`` in half-em units: a Chinese character is two, a Latin one."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in str(text))


def _widths(grid: Any, table: Table) -> None:
    """Each column as wide as its longest text needs, as far as the text width allows: short
    columns (序号, 热度) get what they need, long ones (titles, links) share the rest."""
    natural = [
        max([_ems(name)] + [_ems(row[i]) for row in table.rows if i < len(row)]) * HALF_EM_MM
        + CELL_MARGINS_MM
        for i, name in enumerate(table.columns)
    ]
    widths = [0.0] * len(natural)
    left = float(TEXT_WIDTH_MM)
    order = sorted(range(len(natural)), key=natural.__getitem__)
    for placed, i in enumerate(order):
        widths[i] = min(natural[i], left / (len(order) - placed))  # water-filling
        left -= widths[i]
    widths = [w * TEXT_WIDTH_MM / sum(widths) for w in widths]  # a small table spans the text too
    grid.autofit = False
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = Mm(width)  # the table grid (LibreOffice reads it) and each cell (Word)
        for cell in column.cells:
            cell.width = Mm(width)


def _section(doc: Any, section: Section) -> None:
    doc.add_paragraph(strip_controls(section.heading), style="Heading 1")
    for paragraph in section.paragraphs:
        _paragraph(doc, paragraph)
    # A table with no rows is left out: the paragraph above already says there is none.
    for number, table in enumerate((t for t in section.tables if t.rows), 1):
        _table(doc, table, number)
    for spec in section.charts:
        doc.add_picture(io.BytesIO(charts.render(spec)), width=Cm(15))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        doc.paragraphs[-1].paragraph_format.first_line_indent = Pt(0)
        doc.paragraphs[-1].paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


def to_docx(content: ReportContent, template: Path | None = None) -> bytes:
    """The report as .docx bytes: title, period, sections with paragraphs, tables, charts."""
    doc = _open(template)
    if template is None:  # a letterhead keeps its own page setup
        _page(doc)
    _styles(doc)
    _font_table(doc)
    doc.add_paragraph(strip_controls(content.title), style="Title")
    period = doc.add_paragraph(style="Normal")
    period.alignment = WD_ALIGN_PARAGRAPH.CENTER
    period.paragraph_format.first_line_indent = Pt(0)
    _run(period, content.period_label, HEADING2_FONT, SIZE_BODY)
    for section in content.sections:
        _section(doc, section)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
