"""The formats read back: Word with python-docx, Excel with openpyxl, HTML escaped."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import yuqing
from yuqing.core.palette import SENTIMENT_COLORS
from yuqing.reports import charts, service
from yuqing.reports.docx import to_docx
from yuqing.reports.html import to_html
from yuqing.reports.schemas import ChartSpec, ReportError
from yuqing.reports.xlsx import to_xlsx

from .conftest import DAY, NOW, Known

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_docx_reads_back_text_tables_and_chart(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    doc = Document(io.BytesIO(to_docx(content)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert content.title in text
    assert f"共监测到相关信息 {known.on_day} 条" in text
    for quote in content.quotes():
        assert quote.text in text
    cells = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert cells[0][:3] == ["序号", "事件", "本时段信息数"]
    widths = [column.width for column in doc.tables[0].columns]
    assert widths[0] < widths[1]  # 序号 takes less room than the event's title
    assert cells[1][2] == "3"
    assert len(doc.inline_shapes) == 1  # the sentiment chart
    assert doc.paragraphs[0].style.name == "Title"
    assert _east_asia(doc.paragraphs[0].style) == "方正小标宋简体"


def test_xlsx_reads_back_and_neutralises_formulas(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    content.sections[1].tables[0].rows.append([9, '=HYPERLINK("http://x")', 1, 0, 0, "@x"])
    book = load_workbook(io.BytesIO(to_xlsx(content)))
    sheet = book["热点事件"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][2] == 3
    assert rows[-1][1] == '\'=HYPERLINK("http://x")' and rows[-1][5] == "'@x"
    assert next(iter(book["情感分布"].iter_rows(values_only=True))) == ("项目", "数值")


def test_html_escapes(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    content.sections[0].paragraphs[0].text += "<script>alert(1)</script>"
    page = to_html(content, with_charts=False)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert content.quotes()[0].url in page


def test_empty_day_gives_a_real_file(session: Session) -> None:
    from datetime import date

    content = service.daily(session, day=date(2023, 1, 1), now=NOW)
    doc = Document(io.BytesIO(to_docx(content)))
    assert "本时段未形成热点事件。" in [p.text for p in doc.paragraphs]


def test_broken_template_is_a_clear_error(tmp_path: Path, session: Session) -> None:
    broken = tmp_path / "letterhead.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    content = service.daily(session, day=DAY, now=NOW)
    with pytest.raises(ReportError, match="报告模板"):
        to_docx(content, broken)


def test_template_letterhead_is_kept(tmp_path: Path, session: Session) -> None:
    letterhead = Document()
    letterhead.add_paragraph("示范大学党委宣传部")
    path = tmp_path / "letterhead.docx"
    letterhead.save(str(path))
    content = service.daily(session, day=DAY, now=NOW)
    texts = [p.text for p in Document(io.BytesIO(to_docx(content, path))).paragraphs]
    assert texts[0] == "示范大学党委宣传部" and texts[1] == content.title


def test_chart_font_is_noto_sans_cjk_sc_from_the_system_or_the_wheel() -> None:
    assert charts.font_name() == "Noto Sans CJK SC"  # the simplified face of the collection
    packaged = charts._packaged_font()  # the last resort, declared in pyproject.toml
    assert packaged is not None and packaged.is_file()
    if shutil.which("fc-match") and Path("/usr/share/fonts/opentype/noto").is_dir():
        assert charts.font_file() == charts._system_font()  # fonts-noto-cjk comes first
    png = charts.render(ChartSpec(kind="bar", title="来源", labels=["论坛", "微博"], values=[3, 1]))
    assert png.startswith(b"\x89PNG")


def test_docx_converts_to_pdf_and_first_page_picture(
    session: Session, known: Known, tmp_path: Path
) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if not office or not shutil.which("pdftoppm"):
        pytest.skip("LibreOffice/pdftoppm 未安装：跳过 PDF 转换")
    path = tmp_path / "daily.docx"
    path.write_bytes(to_docx(service.daily(session, day=DAY, now=NOW)))
    subprocess.run(
        [office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True,
        timeout=120,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-singlefile",
            str(tmp_path / "daily.pdf"),
            str(ARTIFACTS / "report-daily"),
        ],
        check=True,
        timeout=60,
    )
    assert (ARTIFACTS / "report-daily.png").stat().st_size > 1000


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _east_asia(style: object) -> str | None:
    rfonts = style.element.find(f"{W}rPr/{W}rFonts")  # type: ignore[attr-defined]
    return None if rfonts is None else rfonts.get(f"{W}eastAsia")


def test_docx_uses_word_heading_styles_in_official_layout(session: Session, known: Known) -> None:
    content = service.weekly(session, day=DAY, now=NOW)
    doc = Document(io.BytesIO(to_docx(content)))
    by_style: dict[str, list[str]] = {}
    for para in doc.paragraphs:
        by_style.setdefault(para.style.name, []).append(para.text)
    # Word's navigation pane lists the built-in headings: every section is a Heading 1.
    assert by_style["Title"] == [content.title]
    assert by_style["Heading 1"] == [section.heading for section in content.sections]
    assert "（一）每日信息量" in by_style["Heading 2"]
    styles = doc.styles
    assert _east_asia(styles["Title"]) == "方正小标宋简体" and styles["Title"].font.size.pt == 22
    assert _east_asia(styles["Heading 1"]) == "黑体"
    assert _east_asia(styles["Heading 2"]) == "楷体_GB2312"
    assert _east_asia(styles["Normal"]) == "仿宋_GB2312" and styles["Normal"].font.size.pt == 16
    for name, level in (("Heading 1", "0"), ("Heading 2", "1")):
        outline = styles[name].element.find(f"{W}pPr/{W}outlineLvl")
        assert outline is not None and outline.get(f"{W}val") == level
    section = doc.sections[0]
    assert round(section.top_margin.mm) == 37 and round(section.left_margin.mm) == 28
    # Table columns share the text width (A4 less the margins) by the length of their content.
    widths = [round(column.width.mm) for column in doc.tables[0].columns]
    assert sum(widths) in range(154, 158)
    # Each 公文 font names its fallback in the font table, for offices that lack it.
    fonts = next(
        rel.target_part for rel in doc.part.rels.values() if rel.reltype.endswith("/fontTable")
    )
    table = {
        font.get(f"{W}name"): font.find(f"{W}altName").get(f"{W}val")
        for font in etree.fromstring(fonts.blob).findall(f"{W}font")
        if font.find(f"{W}altName") is not None
    }
    assert table["仿宋_GB2312"] == "仿宋" and table["楷体_GB2312"] == "楷体"
    assert table["方正小标宋简体"] == "华文中宋"


def test_docx_sentiment_colours_are_the_desks(session: Session, known: Known) -> None:
    content = service.daily(session, day=DAY, now=NOW)
    doc = Document(io.BytesIO(to_docx(content)))
    colours: dict[str, set[str]] = {}
    for para in doc.paragraphs:
        for run in para.runs:
            for label in ("负面", "正面"):
                if run.text.startswith(label) and run.font.color.rgb is not None:
                    colours.setdefault(label, set()).add(f"#{run.font.color.rgb}".lower())
    assert colours == {
        "负面": {SENTIMENT_COLORS["negative"]},
        "正面": {SENTIMENT_COLORS["positive"]},
    }
    # ... and the desk's stylesheet draws them in the same red and green.
    css = (Path(yuqing.__file__).parent / "web/static/css/desk.css").read_text("utf-8")
    assert f"--bad: {SENTIMENT_COLORS['negative']};" in css
    assert f"--ok: {SENTIMENT_COLORS['positive']};" in css
    pie = content.sections[0].charts[0]
    assert dict(zip(pie.labels, pie.colors, strict=True))["负面"] == SENTIMENT_COLORS["negative"]


def test_an_empty_ranking_says_none_plainly(session: Session) -> None:
    from datetime import date

    content = service.weekly(session, day=date(2023, 1, 4), now=NOW)
    text = content.plain_text()
    assert "主要为无" not in text and "主要来自无" not in text
    assert "本时段无信息来源统计；未识别到涉及地域。" in text
    doc = Document(io.BytesIO(to_docx(content)))
    # Empty tables are left out of the Word file, not drawn as empty frames: only the
    # daily counts (a row per day, zeros) are a table.
    titles = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert titles == ["（一）每日信息量"] and len(doc.tables) == 1


def test_events_are_listed_by_heat(session: Session, known: Known) -> None:
    from yuqing.events.models import Event

    for event in session.query(Event).all():  # the smallest event becomes the hottest
        event.heat = 100.0 if event.size == 1 else 1.0
    session.flush()
    rows = service.daily(session, day=DAY, now=NOW).sections[1].tables[0].rows
    heats = [row[3] for row in rows]
    assert len(rows) > 1 and heats == sorted(heats, reverse=True) and rows[0][2] == 1


def test_html_leaves_out_an_empty_cases_table(session: Session) -> None:
    from datetime import date

    content = service.daily(session, day=date(2023, 1, 1), now=NOW)
    cases = next(s for s in content.sections if s.heading.endswith("舆情处置"))
    assert cases.tables and not cases.tables[0].rows  # a day with no cases
    page = to_html(content, with_charts=False)
    assert "<caption>舆情处置</caption>" not in page
    assert '<p class="report-empty">舆情处置：无</p>' in page


def test_pie_leaves_out_zero_slices() -> None:
    colours = ["#111111", "#222222", "#333333"]
    with_zero = ChartSpec(
        kind="pie",
        title="情感分布",
        labels=["正面", "中性", "负面"],
        values=[3, 0, 5],
        colors=colours,
    )
    without = ChartSpec(
        kind="pie",
        title="情感分布",
        labels=["正面", "负面"],
        values=[3, 5],
        colors=[colours[0], colours[2]],
    )
    # No "0%" label drawn on top of its neighbour's: the picture is the pie without that slice.
    assert charts.render(with_zero) == charts.render(without)
