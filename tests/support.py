"""Test helpers: real local HTTP server, service checks that skip outside CI and fail inside."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when a service is missing; in CI a missing service is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Reply]


class LocalServer:
    """A real HTTP server on 127.0.0.1 whose routes a test sets; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[Seen] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                server.requests.append(seen)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                reply = Reply(404, b"not found") if route is None else route
                if callable(reply):
                    reply = reply(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LocalServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sign_in(client: Any, username: str, password: str) -> Any:
    """Sign ``client`` (a TestClient) in through the real form: GET /login for the CSRF
    cookie, then POST it back with the credentials. Returns the client."""
    client.get("/login")
    token = client.cookies.get("yuqing_csrf")
    assert token, "the sign-in page sets the CSRF cookie"
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


TEST_PASSWORD = "test-password-42"


def make_user(
    engine: Any, username: str, role: str = "publicity", unit_id: int | None = None
) -> str:
    """An account of ``role`` (its password is ``TEST_PASSWORD``); returns the user name."""
    from sqlalchemy.orm import Session

    from yuqing.auth import service
    from yuqing.core.audit import SYSTEM

    with Session(engine) as session:
        service.create_user(
            session,
            username=username,
            password=TEST_PASSWORD,
            role_key=role,
            actor=SYSTEM,
            unit_id=unit_id,
            must_change_password=False,
        )
        session.commit()
    return username


@contextmanager
def desk_client(
    engine: Any, role: str = "publicity", username: str | None = None, unit_id: int | None = None
) -> Iterator[Any]:
    """A TestClient of the real app, signed in through the real form as an account of
    ``role`` (publicity office by default: it sees and manages everything but accounts)."""
    from fastapi.testclient import TestClient

    from yuqing.web.app import create_app

    name = make_user(engine, username or f"{role}_user", role, unit_id)
    with TestClient(create_app()) as client:
        yield sign_in(client, name, TEST_PASSWORD)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's pick)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving_app() -> Iterator[int]:
    """The real app under uvicorn in a thread on a free 127.0.0.1 port; yields the port.
    Start-up is waited for with a generous bound: a busy 2-core machine takes seconds."""
    import uvicorn

    from yuqing.web.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    app_server = uvicorn.Server(config)
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not app_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        app_server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def postgres_schema(postgres_url: str, prefix: str) -> Iterator[Engine]:
    """An engine on a schema of its own on the test PostgreSQL (empty), dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = "postgresql+psycopg://" + postgres_url.split("://", 1)[1]
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
