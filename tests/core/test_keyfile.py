"""Secret files made once, whole, however many threads ask for them at the same moment."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from yuqing.core import keyfile


def _all_at_once(path: Path, threads: int = 8) -> list[bytes]:
    start = threading.Barrier(threads)
    found: list[bytes] = []

    def ask() -> None:
        start.wait()
        found.append(keyfile.read_or_create(path))

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return found


def test_threads_asking_together_all_get_the_one_whole_secret(tmp_path: Path) -> None:
    for round_ in range(100):
        path = tmp_path / f"secret_{round_}"
        found = _all_at_once(path)
        assert len(set(found)) == 1, round_
        assert len(found[0]) == 64 and found[0] == path.read_text().strip().encode()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"secret_{n}" for n in range(100)
    )  # no temporary file left behind


def test_an_existing_secret_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("kept-secret-of-an-earlier-run\n")
    assert keyfile.create(path) is False
    assert keyfile.read_or_create(path) == b"kept-secret-of-an-earlier-run"
