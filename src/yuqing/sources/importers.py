"""Import files of collected items: JSON Lines, CSV (UTF-8/GBK/GB18030) and Excel (.xlsx).

Column names are matched with a default mapping that knows the usual headers of Chinese
platform exports (标题, 正文, 发布时间 …); an explicit mapping covers other layouts. The
format and the mapping are documented in docs/import-format.md.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from yuqing.core import xlsx
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import to_utc_naive
from yuqing.sources import storing
from yuqing.sources.encoding import DecodedFile, decode_export
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, ItemIn, describe_validation_error
from yuqing.sources.storing import Store

ITEM_FIELDS = (
    "external_id",
    "url",
    "title",
    "text",
    "html",
    "author",
    "published_at",
    "parent_external_id",
    "root_external_id",
    "language",
)
SITE = "site"  # the outlet or platform column: kept in raw["site"]
# Counts a platform export carries (转发数, 评论数, 点赞数): kept in raw under these keys, as
# integers where the cell reads as one.
COUNTS = ("reposts", "comments", "likes")
RAW = "raw"  # keep the column in raw under its header
IGNORE = "-"  # drop the column
TARGETS = (*ITEM_FIELDS, SITE, *COUNTS, RAW, IGNORE)

_DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "title", "主题", "文章标题", "帖子标题", "新闻标题", "subject", "headline"),
    "text": ("正文", "内容", "content", "text", "全文", "微博内容", "微博正文", "文章内容", "body"),
    "url": ("链接", "网址", "原文链接", "url", "link", "原文地址", "文章链接", "地址", "原帖链接"),
    "author": ("作者", "发布者", "账号", "author", "博主", "发布人", "用户名", "昵称", "发帖人"),
    "published_at": (
        "发布时间",
        "时间",
        "publish_time",
        "time",
        "published_at",
        "published",
        "发表时间",
        "日期",
        "date",
        "pubdate",
        "created_at",
    ),
    SITE: ("来源", "媒体", "站点", "site", "媒体名称", "网站", "平台", "source", "来源网站"),
    "external_id": ("id", "mid", "编号", "external_id", "微博id", "文章id", "帖子id"),
    "parent_external_id": ("转发自", "parent", "parent_id", "parent_external_id", "上级id"),
    "root_external_id": ("根微博", "root", "root_id", "root_external_id", "原微博id"),
    "language": ("语言", "language", "lang"),
    "html": ("html", "网页源码"),
    "reposts": ("转发数", "转发", "转发量", "reposts", "reposts_count", "shares"),
    "comments": ("评论数", "评论", "评论量", "comments", "comments_count"),
    "likes": ("点赞数", "点赞", "点赞量", "likes", "like_count", "attitudes_count"),
}
DEFAULT_MAPPING: dict[str, str] = {
    header: target for target, headers in _DEFAULT_HEADERS.items() for header in headers
}
"""Normalised header (lower case, no spaces) → target field."""

JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_XLSX_UNCOMPRESSED_FACTOR = 10  # × import_max_bytes


class ImportFileError(ValueError):
    """A file that cannot be imported at all; nothing of it is stored."""


@dataclass(frozen=True)
class RowError:
    """A row that was not stored (or stored with a note), and why, in Chinese."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"第 {self.row} 行：{self.reason}"


@dataclass
class ImportBatch:
    """The rows read from a file: items by row number, rows refused, notes on stored rows."""

    format: str
    items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header → target


@dataclass
class ImportReport:
    """What an import stored: every row counted once."""

    rows: int = 0
    new: int = 0
    duplicate: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    source_id: int | None = None


def normalise_header(header: object) -> str:
    return str(header or "").replace("\ufeff", "").strip().lower().replace(" ", "")


def resolve_mapping(
    headers: list[str], mapping: dict[str, str] | None, *, require_text: bool = True
) -> dict[str, str]:
    """Header → target for each column; explicit ``mapping`` entries win over the defaults.
    ``require_text=False`` guesses a mapping for the desk to offer, even without a text
    column."""
    explicit = {normalise_header(k): v.strip() for k, v in (mapping or {}).items()}
    for header, target in explicit.items():
        if target not in TARGETS:
            allowed = "、".join(TARGETS)
            raise ImportFileError(f"映射「{header}={target}」的目标字段无效，可用：{allowed}")
    known = {normalise_header(h) for h in headers}
    missing = [h for h in explicit if h not in known]
    if missing:
        shown = "、".join(str(h) for h in headers if h)
        raise ImportFileError(f"映射中的列「{'、'.join(missing)}」在表头中不存在；表头为：{shown}")
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = normalise_header(header)
        target = explicit.get(key) or DEFAULT_MAPPING.get(key) or RAW
        # Two columns for one field (时间 and 发布时间): the first wins, the other goes to raw.
        if target in ITEM_FIELDS or target in (SITE, *COUNTS):
            if target in taken:
                target = RAW
            taken.add(target)
        columns[header] = target
    if require_text and not taken & {"title", "text", "html"}:
        shown = "、".join(str(h) for h in headers if h)
        raise ImportFileError(
            f"找不到标题或正文列；表头为：{shown}。请用 --map 指定，如 --map 帖子内容=text"
        )
    return columns


def row_to_item(cells: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """One row as an item: mapped columns become fields, the rest goes to ``raw``."""
    item: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for header, value in cells.items():
        if value is None or value == "":
            continue
        target = columns.get(header, RAW)
        if target == IGNORE:
            continue
        if target == RAW:
            raw[str(header)] = _plain(value)
        elif target == SITE:
            raw[SITE] = _plain(value)
        elif target in COUNTS:
            raw[target] = _count(value)
        elif target == "published_at":
            item[target] = value
        else:
            item[target] = _as_text(value)
    if raw:
        item["raw"] = raw
    return item


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id typed as a number in Excel
    return str(value).strip()


def _count(value: Any) -> Any:
    """A count cell as an integer ("1,234", "1.2万", 12.0), or as it was when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else value
    text = str(value).strip().replace(",", "")
    scale = 1
    if text.endswith(("万", "w", "W")):
        text, scale = text[:-1], 10_000
    try:
        number = float(text) * scale
    except ValueError:
        return str(value)
    return int(number) if number.is_integer() else round(number)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _check_size(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImportFileError(f"无法读取文件 {path.name}：{error.strerror or error}") from None
    cap = get_settings().import_max_bytes
    if size > cap:
        raise ImportFileError(
            f"文件 {path.name} 有 {size} 字节，超过导入上限 {cap} 字节；请拆分后再导入"
        )
    if size == 0:
        raise ImportFileError(f"文件 {path.name} 是空的（0 字节），没有可导入的内容")
    return size


def read_import_file(path: Path, *, mapping: dict[str, str] | None = None) -> ImportBatch:
    """Read a .jsonl/.ndjson, .csv or .xlsx file; raises ImportFileError for a bad file."""
    _check_size(path)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path, mapping)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv(path, mapping)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, mapping)
    if suffix in (".xls", ".et"):
        raise ImportFileError(
            f"不支持旧版 Excel 文件 {path.name}：请在 Excel 中另存为 .xlsx 或 CSV"
        )
    raise ImportFileError(f"不支持的文件类型 {path.name}：支持 .jsonl、.ndjson、.csv、.xlsx")


# JSON Lines


def _read_jsonl(path: Path, mapping: dict[str, str] | None) -> ImportBatch:
    batch = ImportBatch(format="jsonl")
    explicit = {normalise_header(k): v for k, v in (mapping or {}).items()}
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                batch.errors.append(RowError(number, f"不是合法的 JSON：{error}"))
                continue
            if not isinstance(record, dict):
                batch.errors.append(RowError(number, "每行必须是一个 JSON 对象"))
                continue
            batch.items.append((number, _jsonl_item(record, explicit)))
    return batch


def _jsonl_item(record: dict[str, Any], explicit: dict[str, str]) -> dict[str, Any]:
    """Keys ItemIn knows pass through; other known headers are mapped; the rest goes to raw."""
    item: dict[str, Any] = {}
    raw: dict[str, Any] = (
        dict(record.get("raw") or {}) if isinstance(record.get("raw"), dict) else {}
    )
    for key, value in record.items():
        if key == "raw":
            continue
        norm = normalise_header(key)
        target = explicit.get(norm) or (
            key if key in _ITEM_KEYS else DEFAULT_MAPPING.get(norm, RAW)
        )
        if target == IGNORE or value is None:
            continue
        if target in (RAW, SITE):
            raw[SITE if target == SITE else key] = value
        elif target in COUNTS:
            raw[target] = _count(value)
        elif target not in item:
            item[target] = value
    if raw:
        item["raw"] = raw
    return item


_ITEM_KEYS = frozenset({*ITEM_FIELDS, "id", "mid", "time", "published", "parent", "root"})


# CSV


def decode_text(data: bytes, name: str) -> DecodedFile:
    """Text of a CSV export: UTF-8 with or without BOM, UTF-16 with BOM, or GBK/GB18030; a
    few bad bytes in UTF-8 are replaced and their lines listed (sources/encoding.py)."""
    decoded = decode_export(data)
    if decoded is None:
        raise ImportFileError(f"无法识别文件 {name} 的编码：请另存为 UTF-8 编码的 CSV")
    return decoded


def _replaced_note(encoding: str) -> str:
    return f"有无法识别的字节（文件按 {encoding} 读取），已替换为“\ufffd”，请核对本行内容"


def _noting_replaced(
    reader: Any, lines: tuple[int, ...], rows: list[int]
) -> Iterator[tuple[int, list[Any]]]:
    """Records numbered from 1; the number of each record that spans one of ``lines`` (where
    bytes were replaced) goes to ``rows``."""
    pending = iter(lines)
    line = next(pending, None)
    for number, cells in enumerate(reader, start=1):
        while line is not None and line <= reader.line_num:
            if not rows or rows[-1] != number:
                rows.append(number)
            line = next(pending, None)
        yield number, cells


@dataclass
class _Replaced:
    """Where a CSV's undecodable bytes were replaced: record numbers, and the codec."""

    rows: list[int] = field(default_factory=list)
    encoding: str = "utf-8"


def _read_csv(path: Path, mapping: dict[str, str] | None) -> ImportBatch:
    replaced = _Replaced()
    batch = _read_rows("csv", _csv_rows(path, replaced), mapping)
    note = _replaced_note(replaced.encoding)
    batch.warnings.extend(RowError(row, note) for row in replaced.rows)
    batch.warnings.sort(key=lambda warning: warning.row)
    return batch


def _csv_rows(path: Path, replaced: _Replaced | None = None) -> Iterator[tuple[int, list[Any]]]:
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise ImportFileError(f"文件 {path.name} 实为 Excel/zip 文件：请把扩展名改为 .xlsx")
    decoded = decode_text(data, path.name)
    replaced = replaced or _Replaced()
    replaced.encoding = decoded.encoding
    try:
        dialect: Any = csv.Sniffer().sniff(decoded.text[:8192], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(decoded.text, newline=""), dialect)
    try:
        yield from _noting_replaced(reader, decoded.replaced_lines, replaced.rows)
    except csv.Error as error:
        raise ImportFileError(f"CSV 文件 {path.name} 格式有误：{error}") from None


def _read_rows(
    kind: str,
    rows: Iterator[tuple[int, list[Any]]],
    mapping: dict[str, str] | None,
    formula_cells: Callable[[int], list[str]] | None = None,
) -> ImportBatch:
    """Shared by CSV and Excel: the first non-empty row is the header."""
    batch = ImportBatch(format=kind)
    headers: list[str] | None = None
    for number, cells in rows:
        if not _filled(cells):
            continue
        if headers is None:
            headers = [str(c).replace("\ufeff", "").strip() if c is not None else "" for c in cells]
            batch.columns = resolve_mapping(headers, mapping)
            continue
        values = {h: cells[i] if i < len(cells) else None for i, h in enumerate(headers) if h}
        formulas = formula_cells(number) if formula_cells else _formula_text(values)
        if formulas:
            where = "、".join(formulas)
            batch.warnings.append(
                RowError(number, f"单元格 {where} 包含公式，未计算，已按文本保存")
            )
        batch.items.append((number, row_to_item(values, batch.columns)))
    if headers is None:
        raise ImportFileError("文件中没有表头和数据行")
    return batch


def _formula_text(values: dict[str, Any]) -> list[str]:
    return [f"「{h}」" for h, v in values.items() if isinstance(v, str) and v.startswith("=")]


# Excel


def check_xlsx_container(path: Path) -> None:
    """Refuse what is not a sane .xlsx before openpyxl parses it (see core/xlsx.py)."""
    cap = get_settings().import_max_bytes * MAX_XLSX_UNCOMPRESSED_FACTOR
    try:
        xlsx.check_container(path, name=path.name, max_unpacked=cap)
    except xlsx.XlsxFileError as error:
        raise ImportFileError(str(error)) from None


def _read_xlsx(path: Path, mapping: dict[str, str] | None) -> ImportBatch:
    formulas: dict[int, list[str]] = {}
    rows = _xlsx_head(path, formulas, limit=None)
    return _read_rows("xlsx", iter(rows), mapping, lambda n: formulas.get(n, []))


def _xlsx_head(
    path: Path, formulas: dict[int, list[str]], *, limit: int | None
) -> list[tuple[int, list[Any]]]:
    """The rows of the first sheet (the first ``limit`` non-empty ones when given)."""
    check_xlsx_container(path)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    # A broken XML part is a SyntaxError (ElementTree's ParseError, lxml's XMLSyntaxError).
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        SyntaxError,
    ) as error:
        raise ImportFileError(f"无法打开 Excel 文件 {path.name}：{error}") from None
    rows: list[tuple[int, list[Any]]] = []
    try:
        sheet = workbook.worksheets[0]
        for number, cells in _xlsx_rows(sheet, formulas):
            rows.append((number, cells))
            if limit is not None and sum(1 for _, c in rows if _filled(c)) >= limit:
                break
    except Exception as error:  # a broken sheet XML raises many kinds; all mean: refuse it
        raise ImportFileError(f"Excel 文件 {path.name} 内容已损坏：{error}") from None
    finally:
        workbook.close()
    return rows


def _filled(cells: list[Any]) -> bool:
    return any(c not in (None, "") for c in cells)


def _xlsx_rows(sheet: Any, formulas: dict[int, list[str]]) -> Iterator[tuple[int, list[Any]]]:
    for number, row in enumerate(sheet.iter_rows(), start=1):
        values: list[Any] = []
        for cell in row:
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f" or (
                isinstance(value, str) and value.startswith("=")
            ):
                formulas.setdefault(number, []).append(getattr(cell, "coordinate", "?"))
            elif isinstance(value, datetime):
                # Excel times have no zone; Chinese exports mean Beijing time.
                value = to_utc_naive(value)
            values.append(value)
        yield number, values


# Preview (the desk shows the first rows and asks how the columns map)

PREVIEW_ROWS = 5


@dataclass
class Preview:
    """The header and first rows of a file, and the mapping guessed for its columns."""

    format: str
    headers: list[str]
    rows: list[list[str]]
    guessed: dict[str, str]  # header → target


def preview_file(
    path: Path, *, remembered: dict[str, str] | None = None, rows: int = PREVIEW_ROWS
) -> Preview:
    """The first ``rows`` data rows of ``path``; raises ImportFileError for a file that cannot
    be read at all (wrong type, empty, broken, no data rows). ``remembered`` (the mapping last
    used for the source) wins over the default headers where the file has those columns."""
    _check_size(path)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        kind, head = "jsonl", _jsonl_head(path, rows)
    elif suffix in (".csv", ".tsv", ".txt"):
        kind, head = "csv", _table_head(_csv_rows(path), rows)
    elif suffix in (".xlsx", ".xlsm"):
        kind, head = "xlsx", _table_head(iter(_xlsx_head(path, {}, limit=rows + 1)), rows)
    else:
        read_import_file(path)  # raises the message for the type
        raise ImportFileError(f"不支持的文件类型 {path.name}")
    headers, data = head
    if not data:
        raise ImportFileError(f"文件 {path.name} 只有表头，没有数据行")
    known = {normalise_header(h) for h in headers}
    kept = {h: t for h, t in (remembered or {}).items() if normalise_header(h) in known}
    guessed = resolve_mapping(headers, kept, require_text=False)
    shown = [[_preview_text(cell) for cell in row] for row in data]
    return Preview(format=kind, headers=headers, rows=shown, guessed=guessed)


def _table_head(
    rows: Iterator[tuple[int, list[Any]]], limit: int
) -> tuple[list[str], list[list[Any]]]:
    headers: list[str] | None = None
    data: list[list[Any]] = []
    for _number, cells in rows:
        if not _filled(cells):
            continue
        if headers is None:
            headers = [str(c).replace("\ufeff", "").strip() if c is not None else "" for c in cells]
            continue
        data.append([cells[i] if i < len(cells) else None for i in range(len(headers))])
        if len(data) >= limit:
            break
    if headers is None:
        raise ImportFileError("文件中没有表头和数据行")
    return headers, data


def _jsonl_head(path: Path, limit: int) -> tuple[list[str], list[list[Any]]]:
    records: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ImportFileError(
                    f"文件 {path.name} 第 {number} 行不是合法的 JSON：JSON Lines 文件每行一个 JSON 对象"
                ) from None
            if isinstance(record, dict):
                records.append(record)
            if len(records) >= limit:
                break
    headers: list[str] = []
    for record in records:
        headers.extend(k for k in record if k != RAW and k not in headers)
    return headers, [[r.get(h) for h in headers] for r in records]


def _preview_text(value: Any, width: int = 80) -> str:
    if value is None:
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# Storing


def store_batch(
    session: Session,
    batch: ImportBatch,
    *,
    source: Source,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    store: Store,
) -> ImportReport:
    """Store the rows of a file read before, in batches (one commit each), under ``source``,
    through ``store`` (the pipeline: ``worker.collect.import_file`` passes it).

    Bad rows are reported with their row number and the good rows are stored; storing twice
    stores each row once."""
    report = ImportReport(rows=len(batch.items) + len(batch.errors))
    report.errors.extend(batch.errors)
    report.warnings.extend(batch.warnings)
    report.failed = len(batch.errors)
    valid = _validate_rows(batch, report)
    report.source_id = source.id
    done = 0

    def store_part(items: list[Any]) -> IngestResult:
        try:
            stored = store(session, source=source, items=items)
            session.commit()
        except Exception:
            session.rollback()
            raise
        return stored

    for start in range(0, len(valid), batch_size):
        chunk = valid[start : start + batch_size]
        # A row the database refuses fails alone with its reason; the others are stored.
        result = storing.store_isolating(store_part, [i for _, i in chunk])
        for outcome in result.outcomes:
            if outcome.error:
                report.errors.append(RowError(chunk[outcome.index][0], outcome.error))
        for name in ("new", "duplicate", "updated", "unchanged", "failed"):
            setattr(report, name, getattr(report, name) + getattr(result, name))
        done += len(chunk)
        if progress:
            progress(done, len(valid))
    report.errors.sort(key=lambda e: e.row)
    return report


def _validate_rows(batch: ImportBatch, report: ImportReport) -> list[tuple[int, ItemIn]]:
    """Validate each row alone; errors name the column as the file names it."""
    header_of = {target: header for header, target in batch.columns.items()}
    valid: list[tuple[int, ItemIn]] = []
    for number, item in batch.items:
        try:
            valid.append((number, ItemIn.model_validate(item)))
        except ValidationError as error:
            reason = describe_validation_error(error)
            for target, header in header_of.items():
                reason = reason.replace(f"字段 {target}：", f"列「{header}」：")
            report.errors.append(RowError(number, reason))
            report.failed += 1
    return valid
