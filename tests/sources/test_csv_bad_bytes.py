"""A CSV export with a damaged byte is read in its own encoding, the byte replaced and its
row reported, instead of being guessed as another codepage or refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.mentions.models import Mention
from yuqing.sources import importers
from yuqing.sources.encoding import decode_export
from yuqing.worker import collect

ROWS = (
    "标题,正文,发布时间\n"
    "食堂涨价,学生反映饭菜涨价,2024-05-01 09:00\n"
    "宿舍停电,南区停电两小时,2024-05-02 22:10\n"
    "图书馆,延长开放时间，学生表示欢迎,2024-05-03 08:00\n"
)


def _damaged(encoding: str, text: str = ROWS, word: str = "南区") -> bytes:
    """``text`` in ``encoding`` with the first byte of ``word`` replaced by 0xFF."""
    data = text.encode(encoding)
    at = data.index(word.encode(encoding))
    return data[:at] + b"\xff" + data[at + 1 :]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (_damaged("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + _damaged("utf-8"), "utf-8"),
        (_damaged("gbk"), "gb18030"),
    ],
    ids=["utf-8", "utf-8 with BOM", "gbk"],
)
def test_a_damaged_byte_is_replaced_in_the_files_own_encoding(data: bytes, encoding: str) -> None:
    decoded = decode_export(data)
    assert decoded is not None
    assert (decoded.encoding, decoded.replaced_lines) == (encoding, (3,))
    assert decoded.text.count("\ufffd") >= 1
    assert "食堂涨价,学生反映饭菜涨价" in decoded.text  # the rest reads as written
    assert "图书馆,延长开放时间，学生表示欢迎" in decoded.text


def test_clean_files_keep_their_encoding_and_report_nothing() -> None:
    for encoding, expected in (("utf-8", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030")):
        decoded = decode_export(ROWS.encode(encoding))
        assert decoded is not None and decoded.encoding == expected
        assert decoded.text == ROWS and decoded.replaced_lines == ()
    decode_export(bytes(range(256)) * 8)  # binary garbage: None or replaced, never raises


def test_a_large_utf8_export_with_one_bad_byte_is_read_quickly() -> None:
    data = ROWS.encode() * 50_000 + b"\xff\n" + ROWS.encode()
    decoded = decode_export(data)
    assert decoded is not None and decoded.encoding == "utf-8"
    assert decoded.replaced_lines == (200_001,)


def test_the_import_stores_every_row_and_names_the_damaged_one(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "导出.csv"
    path.write_bytes(_damaged("utf-8"))
    report = collect.import_file(session, path, source_name="论坛导出")
    assert (report.new, report.failed) == (3, 0)
    assert [(w.row, "无法识别的字节" in w.reason) for w in report.warnings] == [(3, True)]
    assert "utf-8" in report.warnings[0].reason
    titles = set(session.execute(select(Mention.title)).scalars())
    assert titles == {"食堂涨价", "宿舍停电", "图书馆"}


def test_a_damaged_byte_inside_a_multi_line_cell_names_its_record(tmp_path: Path) -> None:
    text = '标题,正文\n第一条,"第一行\n第二行南区\n第三行"\n第二条,正常\n'
    path = tmp_path / "多行.csv"
    path.write_bytes(_damaged("utf-8", text))
    batch = importers.read_import_file(path)
    assert [item["title"] for _, item in batch.items] == ["第一条", "第二条"]
    assert [warning.row for warning in batch.warnings] == [2]  # the record, not the line
