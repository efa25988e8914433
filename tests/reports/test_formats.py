"""The formats read back: Word with python-docx, Excel with openpyxl, HTML escaped."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy.orm import Session

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
    assert cells[1][2] == "3"
    assert len(doc.inline_shapes) == 1  # the sentiment chart
    east_asia = (
        doc.paragraphs[0]
        .runs[0]
        ._element.rPr.rFonts.get(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
        )
    )
    assert east_asia == "黑体"


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


def test_chart_uses_the_packaged_cjk_font() -> None:
    name = charts.font_name()
    assert "CJK" in name or "Noto" in name
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
