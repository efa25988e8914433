"""Files the team uploads (a stamped form's scan, training materials), kept under the data
directory by a random name; the name shown is stored beside it in the record."""

from __future__ import annotations

import secrets
from pathlib import Path

from yuqing.core.settings import get_settings
from yuqing.org.service import OrgError

MAX_BYTES = 20 * 1024 * 1024  # a scanned A4 page at 300 dpi is a few MB
# What a scan or material may be, by its first bytes: the name's extension must agree.
SIGNATURES = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".pptx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
}
SCAN_TYPES = (".pdf", ".png", ".jpg", ".jpeg")


def folder(kind: str) -> Path:
    path = get_settings().data_dir / "team" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(kind: str, *, data: bytes, filename: str, allowed: tuple[str, ...]) -> str:
    """Keep an upload; returns its stored name. Refuses an empty, oversized or mistyped file."""
    suffix = Path(filename).suffix.lower()
    if suffix not in allowed:
        raise OrgError(f"文件 {filename} 的类型不支持，请上传 {'、'.join(allowed)} 文件")
    if not data:
        raise OrgError(f"文件 {filename} 是空的")
    if len(data) > MAX_BYTES:
        raise OrgError(f"文件 {filename} 超过 {MAX_BYTES // 1024 // 1024} MB")
    if not data.startswith(SIGNATURES[suffix]):
        raise OrgError(f"文件 {filename} 的内容与扩展名 {suffix} 不符")
    stored = secrets.token_hex(16) + suffix
    (folder(kind) / stored).write_bytes(data)
    return stored


def read(kind: str, stored: str) -> bytes:
    """The bytes of a stored file (names come from our records, never from a request)."""
    return (folder(kind) / Path(stored).name).read_bytes()
