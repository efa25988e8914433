"""Import files: encodings, header mapping, bad rows reported, bad files refused whole."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.core.settings import reset_settings_cache
from yuqing.mentions.models import Mention
from yuqing.sources.importers import ImportFileError, read_import_file
from yuqing.worker.collect import import_file

CSV_ROWS = "标题,正文,发布时间,来源,链接\n食堂涨价,学生反映饭菜贵了,2024-05-01 09:00,某论坛,https://bbs.example.cn/t/1\n宿舍停电,三号楼停电两小时,2024-05-02 20:30,微博,https://weibo.example.cn/2\n"


def _stored(session: Session) -> list[Mention]:
    return list(session.execute(select(Mention).order_by(Mention.id)).scalars())


def test_csv_in_gbk_is_detected_and_mapped(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "导出.csv"
    path.write_bytes(CSV_ROWS.encode("gbk"))
    report = import_file(session, path, source_name="论坛导出")
    assert (report.rows, report.new, report.failed) == (2, 2, 0)
    first = _stored(session)[0]
    assert (first.title, first.text) == ("食堂涨价", "学生反映饭菜贵了")
    assert first.published_at == datetime(2024, 5, 1, 1, 0)  # Beijing 09:00 in UTC
    assert json.loads(first.raw or "{}") == {"site": "某论坛"}
    assert first.url == "https://bbs.example.cn/t/1"


def test_csv_with_bom_twice_stores_each_row_once(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_ROWS.encode("utf-8"))
    import_file(session, path, source_name="导出")
    again = import_file(session, path, source_name="导出")
    assert (again.new, again.unchanged) == (0, 2)
    assert [m.title for m in _stored(session)] == ["食堂涨价", "宿舍停电"]


def test_explicit_mapping_for_an_unknown_layout(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("帖子内容,楼主,转发数\n图书馆延长开放,小王,12\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="找不到标题或正文列"):
        read_import_file(path)
    batch = read_import_file(path, mapping={"帖子内容": "text", "楼主": "author"})
    assert batch.items == [
        # 转发数 is a count the desk shows: kept as a number under a fixed key.
        (2, {"text": "图书馆延长开放", "author": "小王", "raw": {"reposts": 12}})
    ]
    with pytest.raises(ImportFileError, match="目标字段无效"):
        read_import_file(path, mapping={"帖子内容": "body"})


def test_jsonl_broken_line_is_reported_and_the_rest_stored(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "stream.jsonl"
    lines = [
        json.dumps({"mid": "m1", "text": "第一条", "time": "2024-05-01T09:00:00+08:00"}),
        '{"mid": "m2", "text": "断了',
        json.dumps({"mid": "m3", "text": "第三条", "time": "不是时间"}),
        json.dumps({"mid": "m4", "正文": "第四条", "转发数": 5}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(session, path, source_name="流")
    assert (report.new, report.failed) == (2, 2)
    assert [e.row for e in report.errors] == [2, 3]
    assert "JSON" in report.errors[0].reason and "时间" in report.errors[1].reason
    stored = _stored(session)
    assert [m.external_id for m in stored] == ["m1", "m4"]
    assert json.loads(stored[1].raw or "{}") == {"reposts": 5}


def test_xlsx_with_formula_and_bad_date(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "舆情.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["标题", "内容", "时间", "作者", "ID"])
    sheet.append(["通报一", "正文一", datetime(2024, 5, 1, 9, 0), "甲", 4512345678901234])
    sheet.append(['=HYPERLINK("http://x")', "正文二", "2024-05-02 10:00", "乙", 2])
    sheet.append(["通报三", "正文三", "明天下午", "丙", 3])
    book.save(path)
    report = import_file(session, path, source_name="表格")
    assert (report.rows, report.new, report.failed) == (3, 2, 1)
    assert [(w.row, "公式" in w.reason) for w in report.warnings] == [(3, True)]
    assert report.errors[0].row == 4 and "列「时间」" in report.errors[0].reason
    stored = _stored(session)
    assert stored[0].external_id == "4512345678901234"
    assert stored[0].published_at == datetime(2024, 5, 1, 1, 0)
    assert stored[1].title == '=HYPERLINK("http://x")'  # kept as text, never evaluated


def test_non_zip_xlsx_is_refused(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "renamed.xlsx"
    path.write_text(CSV_ROWS, encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"\.csv"):
        import_file(session, path, source_name="x")
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ImportFileError, match="不是有效的 Excel"):
        import_file(session, garbage, source_name="x")
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 0


def test_zip_bomb_xlsx_is_refused_before_parsing(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 30_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(ImportFileError, match="压缩炸弹"):
        import_file(session, path, source_name="x")
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 0


def test_file_above_the_cap_is_refused(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_IMPORT_MAX_BYTES", "100")
    reset_settings_cache()
    path = tmp_path / "big.csv"
    path.write_text(CSV_ROWS, encoding="utf-8")
    with pytest.raises(ImportFileError, match="超过导入上限"):
        import_file(session, path, source_name="x")
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 0
