"""The backup file: a gzip-compressed tar whose last member is ``manifest.json``, followed
by a trailer line holding the SHA-256 of every byte before it.

The trailer makes one changed or missing byte anywhere in the file visible before anything
is restored (gzip's own CRC does not cover its header, and a truncated file may still
decompress in part); the manifest's per-member checksums check each member again as it is
extracted. ``tar xzf`` reads the file as it is (it ignores the trailer as trailing bytes).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

FORMAT = 1
MANIFEST = "manifest.json"
TRAILER_TAG = b"\nYUQING-BACKUP-SHA256 "
TRAILER_LENGTH = len(TRAILER_TAG) + 64 + 1
CHUNK = 1024 * 1024


class ArchiveError(ValueError):
    """A backup file that cannot be used; the message (Chinese) says why."""


@dataclass
class Manifest:
    """What a backup holds: the desk's version and schema revision, the row count of every
    table, each member's SHA-256, and the audit chain's head at the moment of the copy."""

    version: str
    schema_revision: str
    database: str  # sqlite | postgresql
    created_at: str
    counts: dict[str, int] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # name → sha256
    sizes: dict[str, int] = field(default_factory=dict)
    audit_seq: int = 0
    audit_hash: str = ""
    audit_key_id: str = ""
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            values = json.loads(data)
            return cls(**values)
        except (ValueError, TypeError) as error:
            raise ArchiveError(f"备份清单无法读取：{error}") from error


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes what passes through to ``target``."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.target.write(view)
        self.digest.update(view)
        self.size += len(view)
        return len(view)


class _HashingReader(io.RawIOBase):
    """A read-only view of ``source`` that hashes what is read."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


class _Bounded(io.RawIOBase):
    """The first ``size`` bytes of ``source`` (the archive without its trailer), seekable
    so that the tar reader can go back to a member."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.size = size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, min(self.size, base + offset))
        self.source.seek(self.position)
        return self.position

    def readinto(self, buffer: Any) -> int:
        left = self.size - self.position
        if left <= 0:
            return 0
        data = self.source.read(min(len(buffer), left))
        self.position += len(data)
        buffer[: len(data)] = data
        return len(data)


class Writer:
    """Writes members into ``handle`` (an open binary file) and, on ``finish``, the
    manifest and the trailer."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hashing = _HashingWriter(handle)
        self.tar = tarfile.open(fileobj=self.hashing, mode="w:gz", compresslevel=6)  # noqa: SIM115
        self.members: dict[str, str] = {}
        self.sizes: dict[str, int] = {}

    def add_file(self, name: str, path: Path) -> None:
        """Add ``path`` as ``name``; its checksum is taken from the bytes written."""
        with path.open("rb") as source:
            size = os.fstat(source.fileno()).st_size
            info = tarfile.TarInfo(name)
            info.size = size
            info.mtime = int(os.path.getmtime(path))
            info.mode = 0o600
            reader = _HashingReader(source)
            self.tar.addfile(info, io.BufferedReader(reader, CHUNK))
        self.members[name] = reader.digest.hexdigest()
        self.sizes[name] = size

    def finish(self, manifest: Manifest) -> str:
        """Write the manifest and the trailer; returns the file's checksum."""
        manifest.members = dict(self.members)
        manifest.sizes = dict(self.sizes)
        data = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mode = 0o600
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()
        checksum = self.hashing.digest.hexdigest()
        self.handle.write(TRAILER_TAG + checksum.encode() + b"\n")
        return checksum


def check_file(path: Path) -> int:
    """The length of the archive part of ``path`` once its trailer's checksum matches;
    ArchiveError (Chinese) for a truncated, altered or foreign file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size < TRAILER_LENGTH:
                raise ArchiveError(
                    f"{path.name} 不是完整的 Yuqing 备份文件（文件过短，可能被截断）"
                )
            handle.seek(size - TRAILER_LENGTH)
            trailer = handle.read(TRAILER_LENGTH)
            if not trailer.startswith(TRAILER_TAG) or not trailer.endswith(b"\n"):
                raise ArchiveError(
                    f"{path.name} 不是完整的 Yuqing 备份文件（末尾没有校验和，可能被截断或不是备份）"
                )
            expected = trailer[len(TRAILER_TAG) : -1].decode("ascii", "replace")
            handle.seek(0)
            digest = hashlib.sha256()
            left = size - TRAILER_LENGTH
            while left:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
    except OSError as error:
        raise ArchiveError(f"无法读取备份文件：{error}") from error
    if digest.hexdigest() != expected:
        raise ArchiveError(
            f"{path.name} 已损坏：校验和不符（文件被截断或改动过），不能用于恢复；请换一份备份"
        )
    return size - TRAILER_LENGTH


@dataclass
class Opened:
    manifest: Manifest
    tar: tarfile.TarFile


def read_manifest(path: Path) -> Manifest:
    """The manifest of a checked backup file."""
    with open_archive(path) as opened:
        return opened.manifest


class open_archive:
    """Check ``path`` (trailer checksum), open its tar and read its manifest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: BinaryIO | None = None

    def __enter__(self) -> Opened:
        length = check_file(self.path)
        self.handle = self.path.open("rb")
        try:
            bounded = io.BufferedReader(_Bounded(self.handle, length), CHUNK)
            tar = tarfile.open(fileobj=bounded, mode="r:gz")
            member = tar.getmember(MANIFEST)
            extracted = tar.extractfile(member)
            if extracted is None:
                raise ArchiveError("备份清单缺失")
            manifest = Manifest.from_json(extracted.read())
        except (tarfile.TarError, KeyError, EOFError, OSError) as error:
            self.handle.close()
            raise ArchiveError(f"备份文件无法解开：{error}") from error
        if manifest.format != FORMAT:
            self.handle.close()
            raise ArchiveError(f"备份文件格式 {manifest.format} 不是本程序能读的格式 {FORMAT}")
        return Opened(manifest, tar)

    def __exit__(self, *_exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def extract_member(opened: Opened, name: str, target: Path) -> None:
    """Write member ``name`` to ``target``, checking it against the manifest's checksum."""
    expected = opened.manifest.members.get(name)
    if expected is None:
        raise ArchiveError(f"备份清单没有 {name}")
    try:
        source = opened.tar.extractfile(name)
    except KeyError as error:
        raise ArchiveError(f"备份文件缺少 {name}") from error
    if source is None:
        raise ArchiveError(f"备份文件中的 {name} 不是普通文件")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected:
        target.unlink()
        raise ArchiveError(f"备份文件中的 {name} 与清单的校验和不符")


def member_names(opened: Opened) -> Iterator[str]:
    yield from (name for name in opened.manifest.members)
