"""Secret files of the data folder (the audit key, the signing secret, the export's key),
made once and never seen half written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create(path: Path) -> bool:
    """Make ``path`` (mode 600) holding a new random secret unless it exists; whether this
    call made it. The secret is written in full under another name, then linked: a second
    thread or process at the same moment either makes the file or finds it complete, never
    empty (an ``O_EXCL`` create, then a write, let a second request read an empty secret
    between the two: one of five readers signing in at once to a fresh desk got its form
    token signed with it and was refused with 403)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    return True


def read_or_create(path: Path) -> bytes:
    """The secret kept in ``path``, made first when the file does not exist."""
    if not path.exists():
        create(path)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")
