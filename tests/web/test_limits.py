"""Request limits: bodies capped by route before parsing, ids beyond 64 bits answer 404/422."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.support import desk_client, serving_app
from yuqing.core.settings import reset_settings_cache
from yuqing.web.app import create_app

BIG = str(2**63)  # one past the largest 64-bit id
MB = 1024 * 1024


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine, role="admin") as test_client:
        yield test_client


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "yuqingboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\nadmin\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_large_body_to_the_sign_in_form_is_refused_before_parsing(engine: Engine) -> None:
    body, content_type = _multipart(3 * MB)
    with TestClient(create_app()) as anonymous:
        declared = anonymous.post("/login", content=body, headers={"content-type": content_type})
        assert declared.status_code == 413
        assert "请求内容超过上限（1 MB）" in declared.text and "<html" in declared.text
        # The same body without Content-Length (chunked) is counted as it streams in.
        chunked = anonymous.post(
            "/login", content=_chunks(body), headers={"content-type": content_type}
        )
        assert chunked.status_code == 413 and "超过上限" in chunked.text
        form = anonymous.post(
            "/login",
            content=_chunks(b"username=a&password=" + b"p" * (2 * MB)),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 413
        # Within the cap the form is read as before (here: refused for its CSRF token).
        small = anonymous.post("/login", data={"username": "a", "password": "b"})
        assert small.status_code != 413


def test_json_api_bodies_get_a_json_413(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": client.cookies.get("yuqing_csrf") or ""}
    answer = client.post(
        "/api/v1/schemes/validate",
        content=_chunks(b'{"query": "' + b"a" * (2 * MB) + b'"}'),
        headers={**csrf, "content-type": "application/json"},
    )
    assert answer.status_code == 413 and "超过上限" in answer.json()["detail"]


def test_the_cap_is_a_setting(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_REQUEST_MAX_BYTES", "2048")
    reset_settings_cache()
    with TestClient(create_app()) as anonymous:
        refused = anonymous.post("/login", data={"username": "a", "password": "p" * 3000})
        assert refused.status_code == 413 and "2 KB" in refused.text


def test_uploads_and_pushes_get_their_own_larger_caps(client: TestClient) -> None:
    csrf = client.cookies.get("yuqing_csrf") or ""
    workbook = b"PK\x03\x04" + b"x" * (3 * MB)
    upload = client.post(
        "/org/import",
        data={"csrf_token": csrf},
        files={"file": ("roster.xlsx", workbook, "application/octet-stream")},
    )
    # Past the request cap: the import itself reads the file and says what is wrong with it.
    assert upload.status_code == 400 and "超过上限" not in upload.text
    items = [{"id": str(i), "title": f"标题{i}", "text": "正文" * 1000} for i in range(400)]
    pushed = client.post(
        "/api/v1/mentions",
        json={"source": "采集器", "items": items},
        headers={"Authorization": "Bearer test-push-token"},
    )
    assert pushed.status_code == 200 and pushed.json()["new"] == 400


@pytest.fixture
def server(engine: Engine) -> Iterator[int]:
    """The real app under uvicorn on a free 127.0.0.1 port."""
    with serving_app() as port:
        yield port


def _send_until_answered(port: int, head: bytes, chunk: bytes, limit: int) -> tuple[bytes, int]:
    """Send ``head`` then ``chunk`` repeatedly (up to ``limit`` bytes) until the server
    answers or closes; returns the answer and how many body bytes went out."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        connection.setblocking(False)
        answer = b""
        while sent < limit:
            try:
                answer += connection.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                connection.sendall(chunk)
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
        connection.setblocking(True)
        connection.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = connection.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, sent


BOUNDARY = "yuqingboundary"
PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()


def test_a_300_mb_post_to_sign_in_is_answered_after_the_first_megabytes(server: int) -> None:
    boundary = BOUNDARY
    head = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {300 * MB}\r\n\r\n"
    ).encode()
    answer, sent = _send_until_answered(server, head + PART, b"x" * 65536, 300 * MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * MB  # refused on its Content-Length: nothing near 300 MB was read
    chunked_head = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    first = f"{len(PART):x}\r\n".encode() + PART + b"\r\n"
    answer, sent = _send_until_answered(server, chunked_head + first, chunk, 300 * MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * MB


@pytest.mark.parametrize(
    "path",
    [
        f"/mentions/{BIG}",
        f"/cases/{BIG}",
        f"/schemes/{BIG}",
        f"/events/{BIG}",
        f"/admin/users/{BIG}",
        f"/org/units/{BIG}",
        f"/mentions/{'9' * 40}/similar",
    ],
)
def test_an_id_beyond_64_bits_in_a_path_is_not_found(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404 and "编号超出范围" in page.text and "<html" in page.text


def test_an_id_beyond_64_bits_in_the_api_is_404_or_422_json(client: TestClient) -> None:
    one = client.get(f"/api/v1/mentions/{BIG}")
    assert one.status_code == 404 and "编号超出范围" in one.json()["detail"]
    assert client.get(f"/api/v1/cases/{BIG}").status_code == 404
    for path, params in [
        ("/api/v1/search", {"q": "学校", "source_id": BIG}),
        ("/api/v1/cases", {"unit_id": BIG}),
        ("/api/v1/audit", {"offset": BIG}),
    ]:
        answer = client.get(path, params=params)
        assert answer.status_code in (200, 422), (path, answer.status_code)
        if answer.status_code == 422:
            assert "超出范围" in str(answer.json()["detail"])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/alerts", {"page": BIG}),
        ("/alerts", {"rule_id": BIG}),
        ("/events", {"min_size": BIG}),
        ("/alerts/raise", {"mention_id": BIG}),
        ("/org/export/registration.xlsx", {"unit_id": BIG}),
    ],
)
def test_a_number_beyond_64_bits_in_a_query_is_422_in_chinese(
    client: TestClient, path: str, params: dict[str, Any]
) -> None:
    page = client.get(path, params=params)
    assert page.status_code in (200, 404, 422), page.status_code
    if page.status_code == 422:
        assert "数字超出范围" in page.text
