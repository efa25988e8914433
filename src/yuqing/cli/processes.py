"""Several web processes on one port (``yuqing serve --workers N``).

One process runs the desk's Python on one core at a time (the GIL). On PostgreSQL a desk
can run several web processes side by side: each has its own push writer, and the database
orders their transactions (docs/pipeline.md). The background runners (fetching, notify,
the search index, maintenance) stay in the parent, once per desk.

Each process listens on its own socket bound with ``SO_REUSEPORT``, and the kernel spreads
new connections over them by address. With one shared socket (uvicorn's own ``workers``)
the first process to wake accepts every connection waiting, so collectors and readers that
keep their connections open all landed on one process: in ``bench/soak.py`` one of two
took 1.02 cores and the other 0.07.

The parent starts the processes fresh (``spawn``: no threads or connections inherited),
starts one again when it dies, and stops them all on SIGINT or SIGTERM; a web process
whose parent is gone (SIGKILL) stops by itself."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger(__name__)

APP = "yuqing.web.app:create_app"
# Seconds between checks that every process is alive.
WATCH_SECONDS = 1.0
# Seconds a process has to stop after SIGTERM before it is killed.
STOP_SECONDS = 15.0
# A process that ends with an error sooner than this after its start failed to start.
START_SECONDS = 10.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes of the same user can bind
    too; the kernel then spreads new connections over all of them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


class PortTaken(Exception):
    """Another program listens on the port already (message in Chinese)."""


class StartFailed(Exception):
    """A web process ended right after it started (message in Chinese): starting it again
    would fail the same way."""


def taken(host: str, port: int) -> None:
    """Raise ``PortTaken`` when something listens on ``host:port``. Binding alone would not
    tell: another desk started with several processes (the same user, ``SO_REUSEPORT``)
    could share the port, and the two desks would take turns answering."""
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError:
        pass
    else:
        raise PortTaken(f"端口 {host}:{port} 已被占用（另一个工作台或程序正在监听）")
    try:
        reuse_port_socket(host, port).close()
    except OSError as error:
        raise PortTaken(f"端口 {host}:{port} 无法监听：{error.strerror or error}") from error


def serve_one(host: str, port: int, options: dict[str, Any], parent: int) -> None:
    """One web process: the desk's application on its own socket, until SIGTERM or until
    its parent (``serve``) is gone."""
    import uvicorn

    from yuqing.core.memory import limit_malloc_arenas

    limit_malloc_arenas()
    threading.Thread(target=_trim_forever, name="yuqing-trim", daemon=True).start()
    threading.Thread(
        target=_follow_parent, args=(parent,), name="yuqing-parent", daemon=True
    ).start()
    listener = reuse_port_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[listener])


def _follow_parent(parent: int) -> None:
    """Stop this process once its parent is gone (killed with SIGKILL, it could not stop
    its children): a web process left behind would go on answering on the port, beside
    or instead of the next desk started there."""
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    log.warning("the desk's serve process %s is gone: this web process stops", parent)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_SECONDS)
    os._exit(1)  # SIGTERM did not end it in time


def _trim_forever() -> None:
    """What the maintenance runner does for the ``serve`` process: free memory inside the
    malloc arenas given back to the system, as often as the WAL checkpoint runs."""
    from yuqing.core.memory import release_free_memory
    from yuqing.core.settings import get_settings

    while True:
        time.sleep(get_settings().wal_checkpoint_seconds)
        release_free_memory()


def serve_many(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` web processes on ``host:port`` until SIGINT or SIGTERM; a process
    that dies is started again."""
    taken(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    started: dict[int | None, float] = {}

    def start() -> BaseProcess:
        process = context.Process(
            target=serve_one,
            args=(host, port, options, os.getpid()),
            name="yuqing-web",
            daemon=False,
        )
        process.start()
        started[process.pid] = time.monotonic()
        return process

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping.wait(WATCH_SECONDS):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    failed = (process.exitcode or 0) > 0  # an error; a signal's is negative
                    if failed and time.monotonic() - started[process.pid] < START_SECONDS:
                        raise StartFailed(
                            f"网页进程启动后即退出（退出码 {process.exitcode}），请查看上方的错误信息"
                        )
                    log.warning(
                        "web process %s ended (exit code %s): starting another",
                        process.pid,
                        process.exitcode,
                    )
                    processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
