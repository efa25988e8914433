"""``yuqing serve --workers N``: several real web processes on one port, on PostgreSQL.

The desk is started as a user would start it (a subprocess, its own data folder and a
schema of its own on the test PostgreSQL); pushes arrive on fresh connections from
concurrent clients, a web process is killed with SIGKILL, and the desk is stopped with
SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from tests.support import free_port, postgres_schema
from yuqing.mentions.models import Mention

TOKEN = "processes-test-token"
CLI = "from yuqing.cli import app; app()"


def _children(pid: int) -> list[int]:
    """The web processes of a desk (multiprocessing's resource tracker left out)."""
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [p for p in children if b"multiprocessing.spawn" in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _wait_for(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def _healthy(base: str) -> bool:
    return httpx.get(f"{base}/healthz", timeout=5).status_code == 200


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    with postgres_schema(postgres_url, "processes") as engine:
        yield engine


def _env(engine: Engine, folder: Path) -> dict[str, str]:
    with engine.connect() as connection:
        name = connection.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.render_as_string(hide_password=False)
    return {
        **os.environ,
        "YUQING_DATABASE_URL": f"{url}?options=-csearch_path%3D{name}",
        "YUQING_DATA_DIR": str(folder / "var"),
        "YUQING_PUSH_TOKEN": TOKEN,
        "YUQING_SEARCH_INDEX": "off",
        "YUQING_BACKUP_HOUR": "-1",
        "YUQING_PURGE_HOUR": "-1",
    }


def _command(port: int, workers: int) -> list[str]:
    serve = ["serve", "--no-fetch", "--port", str(port), "--workers", str(workers)]
    return [sys.executable, "-c", CLI, *serve]


def _serve(env: dict[str, str], port: int, log: Path, workers: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(port, workers),
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def _serve_refused(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """``serve --workers 2`` expected to refuse at once: run to its end."""
    return subprocess.run(_command(port, 2), env=env, capture_output=True, text=True, timeout=120)


def _push(base: str, number: int) -> int:
    items = [
        {
            "id": f"p{number}-{i}",
            "title": f"通知{number}",
            "text": f"第{number}批第{i}条：宿舍楼{i}号停电",
        }
        for i in range(10)
    ]
    # A client of its own each time: a fresh connection, as a collector run by cron opens.
    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post(
            "/api/v1/mentions",
            json={"source": "多进程推送", "items": items},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    return answer.status_code


def test_two_web_processes_share_the_port_and_store_each_push_once(
    pg_engine: Engine, tmp_path: Path
) -> None:
    env = _env(pg_engine, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(env, port, tmp_path / "server.log", workers=2)
    try:
        _wait_for(lambda: _healthy(base) and len(_children(server.pid)) == 2, 90)
        web = _children(server.pid)
        before = {pid: _cpu_ticks(pid) for pid in web}

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda n: _push(base, n), range(40)))
        assert codes == [200] * 40, (tmp_path / "server.log").read_text()[-3000:]
        with pg_engine.connect() as connection:
            stored = connection.execute(
                select(func.count(), func.count(func.distinct(Mention.external_id)))
            ).one()
        assert tuple(stored) == (400, 400)
        # Both processes took pushes (the kernel spreads the connections over the two
        # sockets): each spent at least 50 ms of CPU on them, where an idle one spends none.
        spent = {pid: _cpu_ticks(pid) - before[pid] for pid in web}
        ticks = os.sysconf("SC_CLK_TCK")
        assert min(spent.values()) >= ticks // 20, spent

        # A web process that dies is started again, and the desk keeps answering.
        os.kill(web[0], signal.SIGKILL)
        _wait_for(lambda: len(set(_children(server.pid)) - {web[0]}) == 2, 60)
        _wait_for(lambda: all(_healthy(base) for _ in range(10)), 60)
        assert _push(base, 99) == 200

        web = _children(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(40)
        assert not any(Path(f"/proc/{pid}").exists() for pid in web), "a web process outlived"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_web_processes_stop_when_their_serve_process_is_killed(
    pg_engine: Engine, tmp_path: Path
) -> None:
    """SIGKILL leaves the parent no time to stop its children: they notice and stop, so
    none goes on answering on the port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(_env(pg_engine, tmp_path), port, tmp_path / "server.log", workers=2)
    try:
        _wait_for(lambda: _healthy(base) and len(_children(server.pid)) == 2, 90)
        web = _children(server.pid)
    finally:
        server.kill()
        server.wait()
    _wait_for(lambda: not any(_cmdline(pid) for pid in web), 30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=5)


def test_a_second_desk_on_a_taken_port_is_refused(pg_engine: Engine, tmp_path: Path) -> None:
    env = _env(pg_engine, tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = _serve_refused(env, port)
    assert done.returncode == 2
    assert "已被占用" in done.stdout


def test_several_web_processes_on_sqlite_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path / "var")}
    env.pop("YUQING_DATABASE_URL", None)
    done = _serve_refused(env, free_port())
    assert done.returncode == 2
    assert "需要 PostgreSQL" in done.stdout
    assert not (tmp_path / "var" / "yuqing.db").exists()
