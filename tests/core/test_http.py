"""The outbound HTTP client against real local servers: refusals, caps, timeouts, 304."""

from __future__ import annotations

import gzip
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import LocalServer, Reply, Seen, need
from yuqing.core.http import FetchError, fetch, parse_retry_after, refused_kind
from yuqing.core.settings import reset_settings_cache

MB = 1024 * 1024


class StreamServer:
    """A server that streams ``size`` bytes in chunks, never holding the body in memory;
    it counts the bytes it managed to send and the requests it saw."""

    def __init__(self, size: int, *, declare_length: bool, pause: float = 0.0) -> None:
        self.sent = 0
        self.requests = 0
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                if declare_length:
                    self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"<" * (16 if pause else 256 * 1024)
                try:
                    while server.sent < size:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        server.sent += len(chunk)
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stream_server(request: pytest.FixtureRequest) -> Iterator[StreamServer]:
    size, declare = request.param
    server = StreamServer(size, declare_length=declare)
    yield server
    server.stop()


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_FETCH_ALLOW_NETWORKS", "[]")
    reset_settings_cache()


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_FETCH_TIMEOUT_SECONDS", "0.5")
    reset_settings_cache()


def test_fetch_sends_user_agent_and_returns_body(http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"})
    response = fetch(http_server.url("/feed"))
    assert response.status == 200
    assert response.body == b"<rss/>"
    assert response.content_type == "application/rss+xml"
    assert http_server.requests[0].headers["user-agent"].startswith("Yuqing/")


def test_conditional_get_sends_validators_and_reads_304(http_server: LocalServer) -> None:
    def feed(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"")
        return Reply(
            200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Tue, 01 Oct 2024 08:00:00 GMT"}
        )

    http_server.routes["/feed"] = feed
    first = fetch(http_server.url("/feed"))
    assert not first.not_modified
    second = fetch(
        http_server.url("/feed"),
        etag=first.headers["etag"],
        last_modified=first.headers["last-modified"],
    )
    assert second.not_modified and second.status == 304 and second.body == b""
    sent = http_server.requests[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Tue, 01 Oct 2024 08:00:00 GMT"


def test_redirects_are_followed_with_the_final_url(http_server: LocalServer) -> None:
    http_server.routes["/old"] = Reply(301, b"", {"Location": "/new"})
    http_server.routes["/new"] = Reply(200, b"here")
    response = fetch(http_server.url("/old"))
    assert response.body == b"here"
    assert response.final_url == http_server.url("/new")


def test_redirect_loop_is_refused(http_server: LocalServer) -> None:
    http_server.routes["/a"] = Reply(302, b"", {"Location": "/b"})
    http_server.routes["/b"] = Reply(302, b"", {"Location": "/a"})
    with pytest.raises(FetchError, match="重定向次数过多或循环"):
        fetch(http_server.url("/a"))
    assert len(http_server.requests) == 2


def test_too_many_redirects_are_refused(http_server: LocalServer) -> None:
    for hop in range(10):
        http_server.routes[f"/r{hop}"] = Reply(302, b"", {"Location": f"/r{hop + 1}"})
    with pytest.raises(FetchError, match="重定向次数过多或循环"):
        fetch(http_server.url("/r0"))
    assert len(http_server.requests) == 6  # the first request and 5 redirects followed


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "链路本地地址"),
        ("http://10.0.0.1/admin", "内网地址"),
        ("http://[::1]:9/", "回环地址"),
        ("http://[::ffff:192.168.1.1]/", "内网地址"),
    ],
)
def test_redirect_to_a_refused_address_is_not_followed(
    http_server: LocalServer, target: str, words: str
) -> None:
    http_server.routes["/go"] = Reply(302, b"", {"Location": target})
    started = time.monotonic()
    with pytest.raises(FetchError, match=words) as caught:
        fetch(http_server.url("/go"))
    # Refused before connecting: 10.0.0.1 or the metadata address would take the timeout.
    assert time.monotonic() - started < 2
    assert "已拒绝访问" in caught.value.reason
    assert caught.value.url == target


@pytest.mark.usefixtures("no_allow_list")
def test_loopback_is_refused_unless_allow_listed(http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(200, b"secret")
    with pytest.raises(FetchError, match=re.escape("回环地址 127.0.0.1")):
        fetch(http_server.url("/feed"))
    assert http_server.requests == []


@pytest.mark.usefixtures("no_allow_list")
def test_hostname_resolving_to_loopback_is_refused(http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(200, b"secret")
    with pytest.raises(FetchError, match="localhost 解析到回环地址"):
        fetch(f"http://localhost:{http_server.port}/feed")
    assert http_server.requests == []


def test_checked_address_is_connected_with_the_original_host_header(
    http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request goes to the IP that was checked; the site still sees its own name."""
    localhost_v4 = [a for a in _addresses("localhost") if a.version == 4]
    if not localhost_v4 or set(_addresses("localhost")) != set(localhost_v4):
        monkeypatch.setenv("YUQING_FETCH_ALLOW_NETWORKS", '["127.0.0.1/32", "::1/128"]')
        reset_settings_cache()
    http_server.routes["/feed"] = Reply(200, b"ok")
    assert fetch(f"http://localhost:{http_server.port}/feed").body == b"ok"
    assert http_server.requests[0].headers["host"] == f"localhost:{http_server.port}"


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(i[4][0]) for i in socket.getaddrinfo(host, 80)]


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.2", "回环地址"),
        ("0.0.0.0", "未指定地址"),
        ("10.1.2.3", "内网地址"),
        ("172.16.5.4", "内网地址"),
        ("192.168.0.1", "内网地址"),
        ("100.64.0.1", "非公网地址"),
        ("169.254.169.254", "链路本地地址"),
        ("224.0.0.1", "组播地址"),
        ("240.0.0.1", "内网地址"),
        ("::", "未指定地址"),
        ("::1", "回环地址"),
        ("fe80::1", "链路本地地址"),
        ("fc00::1", "内网地址"),
        ("fd12:3456::1", "内网地址"),
        ("ff02::1", "组播地址"),
        ("::ffff:127.0.0.1", "回环地址"),
        ("::ffff:169.254.169.254", "链路本地地址"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2400:3200::1", None),
    ],
)
def test_refused_kinds(address: str, refused: str | None) -> None:
    kind = refused_kind(ipaddress.ip_address(address), [])
    assert kind == refused or (refused is not None and kind is not None and refused in kind)


def test_allow_list_admits_only_its_networks() -> None:
    allowed = [ipaddress.ip_network("10.8.0.0/16")]
    assert refused_kind(ipaddress.ip_address("10.8.1.1"), allowed) is None
    assert refused_kind(ipaddress.ip_address("10.9.1.1"), allowed) == "内网地址"
    assert refused_kind(ipaddress.ip_address("::ffff:10.8.1.1"), allowed) is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://a/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(FetchError, match="只支持 http:// 和 https://"):
        fetch(url)


@pytest.mark.parametrize("stream_server", [(50 * MB, False)], indirect=True)
def test_a_50_mb_stream_is_cut_at_the_cap(stream_server: StreamServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="响应超过 10 MB 上限，已中止"):
        fetch(stream_server.url())
    assert time.monotonic() - started < 5
    time.sleep(0.05)
    assert stream_server.sent < 20 * MB  # we hung up long before the end


@pytest.mark.parametrize("stream_server", [(50 * MB, True)], indirect=True)
def test_a_declared_50_mb_body_is_refused_before_reading(stream_server: StreamServer) -> None:
    with pytest.raises(FetchError, match="响应超过 10 MB 上限，已中止"):
        fetch(stream_server.url())
    time.sleep(0.05)
    assert stream_server.sent < 20 * MB


def test_a_compressed_body_counts_its_unpacked_size(http_server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (11 * MB))
    assert len(bomb) < 100_000
    http_server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="响应超过 10 MB 上限"):
        fetch(http_server.url("/bomb"))


@pytest.mark.usefixtures("short_timeout")
def test_a_slow_server_times_out(http_server: LocalServer) -> None:
    http_server.routes["/slow"] = Reply(200, b"late", delay=1.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="读取超时"):
        fetch(http_server.url("/slow"))
    assert time.monotonic() - started < 1.4


@pytest.mark.usefixtures("short_timeout")
def test_a_trickling_server_hits_the_total_deadline() -> None:
    """Each byte arrives within the read timeout, but the whole body never would."""
    server = StreamServer(10_000, declare_length=False, pause=0.1)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match="读取超时（总时间超过上限）"):
            fetch(server.url())
        assert time.monotonic() - started < 2.5  # 3 x 0.5 s, not the 60 s the body takes
    finally:
        server.stop()


def test_connection_refused_is_said_plainly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="连接被拒绝"):
        fetch(f"http://127.0.0.1:{port}/")


def test_unknown_host_is_a_dns_failure() -> None:
    with pytest.raises(FetchError, match=re.escape("无法解析域名 no-such-host.invalid")):
        fetch("http://no-such-host.invalid/feed")


@pytest.mark.parametrize(
    ("status", "words"), [(404, "HTTP 404（页面不存在）"), (500, "HTTP 500（服务器内部错误）")]
)
def test_http_errors_carry_status_and_plain_words(
    http_server: LocalServer, status: int, words: str
) -> None:
    http_server.routes["/x"] = Reply(status, b"no")
    with pytest.raises(FetchError, match=words) as caught:
        fetch(http_server.url("/x"))
    assert caught.value.status == status
    assert caught.value.retry_after is None


def test_retry_after_seconds_on_429(http_server: LocalServer) -> None:
    http_server.routes["/x"] = Reply(429, b"slow down", {"Retry-After": "120"})
    with pytest.raises(FetchError, match="请求过于频繁") as caught:
        fetch(http_server.url("/x"))
    assert caught.value.retry_after == 120.0 and caught.value.status == 429


def test_retry_after_http_date_on_503(http_server: LocalServer) -> None:
    when = datetime.now(UTC) + timedelta(hours=2)
    http_server.routes["/x"] = Reply(503, b"", {"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(FetchError) as caught:
        fetch(http_server.url("/x"))
    assert caught.value.retry_after is not None
    assert 7100 < caught.value.retry_after <= 7200


def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 10, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after("Tue, 01 Oct 2024 08:05:00 GMT", now=now) == 300.0
    assert parse_retry_after("Tue, 01 Oct 2024 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """An HTTPS server with a self-signed certificate that records the SNI name it gets."""
    need(shutil.which("openssl") is not None, "openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], names
    httpd.shutdown()
    httpd.server_close()


def test_tls_uses_the_host_name_and_rejects_an_untrusted_certificate(
    tls_server: tuple[int, list[str | None]],
) -> None:
    """We connect to the checked IP, yet the TLS handshake names (and verifies) the host."""
    port, names = tls_server
    with pytest.raises(
        FetchError, match="TLS/证书错误：网站证书无法验证（self-signed certificate）"
    ):
        fetch(f"https://localhost:{port}/feed")
    assert names == ["localhost"]
