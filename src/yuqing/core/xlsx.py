"""Checks an uploaded .xlsx must pass before openpyxl opens it (shared by every importer).

An .xlsx is a zip of XML parts. openpyxl inflates those parts as it reads, so a small file
that unpacks to gigabytes (a zip bomb) would exhaust memory inside the library, where no
size cap can reach. The zip directory states every part's packed and unpacked size, so we
read it first and refuse what is too large or compressed far beyond what a real worksheet
ever is. A CSV renamed to .xlsx gets a message that says so.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from yuqing.core.text import strip_controls

# A real worksheet's XML compresses 5–30×; a zip bomb compresses hundreds of times.
MAX_RATIO = 200
_RATIO_FLOOR = 1_000_000  # small parts may compress well (a sheet of empty cells)


class XlsxFileError(ValueError):
    """A file that is not a sane .xlsx workbook; the message (Chinese) names the file."""


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes look like a CSV/text export (UTF-8 or GB18030)."""
    if b"\0" in head or not any(sep in head for sep in (b",", b"\t", b"\n")):
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError:
            # A cut in the middle of a multi-byte character at the end is still text.
            try:
                head[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        return True
    return False


def check_container(source: Path | bytes, *, name: str, max_unpacked: int) -> None:
    """Refuse what is not a sane .xlsx: not a zip, a renamed CSV, a zip without a workbook,
    or a zip bomb (more than ``max_unpacked`` bytes unpacked, or compressed too well)."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    if not zipfile.is_zipfile(handle):
        head = source[:4096] if isinstance(source, bytes) else _head(source)
        if looks_like_text(head):
            raise XlsxFileError(
                f"文件 {name} 不是 Excel 工作簿，看起来是 CSV/文本文件：请把扩展名改为 .csv"
            )
        raise XlsxFileError(f"文件 {name} 不是有效的 Excel 工作簿（.xlsx 应为 zip 格式）")
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise XlsxFileError(f"文件 {name} 已损坏，无法打开：{error}") from None
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise XlsxFileError(f"文件 {name} 是 zip 压缩包，但不是 Excel 工作簿")
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if total > max_unpacked:
        raise XlsxFileError(
            f"文件 {name} 解压后有 {total} 字节，超过上限 {max_unpacked} 字节，拒绝导入"
        )
    for info in infos:
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise XlsxFileError(
                f"文件 {name} 的压缩比异常（{info.filename} 压缩了 "
                f"{info.file_size // max(info.compress_size, 1)} 倍），疑似压缩炸弹，拒绝导入"
            )
    if total > _RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise XlsxFileError(f"文件 {name} 的压缩比异常，疑似压缩炸弹，拒绝导入")
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
            declaring = next((i.filename for i in infos if _declares_entities(z, i)), None)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error):
        raise XlsxFileError(f"文件 {name} 已损坏，无法解压") from None
    if declaring is not None:
        raise XlsxFileError(
            f"文件 {name} 的 {declaring} 含有 XML 文档类型或实体声明（DOCTYPE/ENTITY），"
            "Excel 不会写出这样的文件，可能是为读取服务器文件而构造的，拒绝导入"
        )


# Excel, WPS and LibreOffice never write a DTD; one in a part is there to declare entities
# (XXE reading server files, billion-laughs expansion). Marks in UTF-8 and UTF-16.
_DTD_MARKS = tuple(
    mark.encode(encoding)
    for mark in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_MEDIA = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf")
_SCAN_CHUNK = 1024 * 1024


def _declares_entities(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a part (any but pictures: a sheet may be stored under any name) holds a DTD."""
    if info.is_dir() or info.filename.lower().endswith(_MEDIA):
        return False
    overlap = max(len(mark) for mark in _DTD_MARKS)
    tail = b""
    with z.open(info) as part:
        while chunk := part.read(_SCAN_CHUNK):
            window = tail + chunk
            if any(mark in window for mark in _DTD_MARKS):
                return True
            tail = window[-overlap:]
    return False


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4096)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell value a workbook can hold and no spreadsheet runs as a formula: text loses its
    control characters (the XML of an .xlsx cannot carry NUL or \\x01, and one such stored
    string would fail the whole export), then text that starts with ``= + - @`` (or a tab or
    carriage return) gets a leading ``'``; numbers pass as they are. The quote stays visible
    in the cell, which also tells the reader the value was neutralised."""
    if not isinstance(value, str):
        return value
    value = strip_controls(value)
    return "'" + value if value.startswith(FORMULA_START) else value
