"""A safe outbound HTTP client: public addresses only, capped size and time, conditional GET.

Design choices:

* Synchronous ``httpx``; concurrency comes from threads in ``worker.collect.run_due``.
* Server-side request forgery: every hop's host is resolved once here, *all* its addresses
  are checked against the refused networks, and the request is then sent to the checked IP
  literal with the ``Host`` header and the TLS SNI / certificate name set to the original
  host. The address that was checked is the address that is connected to, so a DNS answer
  that changes between check and connect (rebinding) cannot steer the request.
* Redirects are followed here, hop by hop, so each new host is checked the same way.
* Size is capped on the decompressed bytes while streaming (and early on Content-Length);
  time is capped per connect/read and by a total deadline of three timeouts per fetch.
* Environment proxies are ignored (``trust_env=False``): a proxy would connect on our
  behalf to an address we never checked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from yuqing.core.settings import Settings, get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/html;q=0.9, */*;q=0.8"
)
# connect and read timeouts bound each step; this bounds a trickling server and redirect chains.
TOTAL_DEADLINE_FACTOR = 3
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="yuqing-dns")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_HTTP_WORDS = {
    400: "请求无效",
    401: "需要登录",
    403: "禁止访问",
    404: "页面不存在",
    410: "页面已删除",
    429: "请求过于频繁",
    500: "服务器内部错误",
    502: "网关错误",
    503: "服务暂不可用",
    504: "网关超时",
}


class FetchError(Exception):
    """A fetch that gave nothing usable; ``reason`` is plain Chinese for the user."""

    def __init__(
        self,
        reason: str,
        *,
        url: str = "",
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.reason = reason
        self.url = url
        self.retry_after = retry_after
        self.status = status
        super().__init__(f"{reason}（{url}）" if url else reason)


@dataclass
class FetchResponse:
    """What came back: the final URL after redirects, headers, body, or a 304."""

    status: int
    final_url: str
    headers: dict[str, str]
    body: bytes
    not_modified: bool = False
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    settings: Settings | None = None,
) -> FetchResponse:
    """GET ``url`` safely; raises ``FetchError`` with a Chinese reason on any failure."""
    settings = settings or get_settings()
    started = time.monotonic()
    deadline = started + settings.fetch_timeout_seconds * TOTAL_DEADLINE_FACTOR
    headers = {"User-Agent": settings.user_agent, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    visited: list[str] = []
    current = url
    with _client(settings) as client:
        while True:
            response = _one_hop(client, current, headers, settings, deadline)
            if response.status not in REDIRECT_CODES:
                response.elapsed = time.monotonic() - started
                response.redirects = visited
                return _judge(response)
            visited.append(current)
            current = _next_hop(current, response, visited, settings)


def _client(settings: Settings) -> httpx.Client:
    timeout = httpx.Timeout(settings.fetch_timeout_seconds)
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def _next_hop(current: str, response: FetchResponse, visited: list[str], settings: Settings) -> str:
    location = response.headers.get("location")
    if not location:
        raise FetchError("服务器要求跳转但没有给出新地址", url=current, status=response.status)
    target = urljoin(current, location)
    if target in visited or len(visited) > settings.fetch_max_redirects:
        raise FetchError("重定向次数过多或循环", url=current, status=response.status)
    return target


def _judge(response: FetchResponse) -> FetchResponse:
    """A 304 is a success without body; 4xx/5xx become errors with plain words."""
    if response.status == 304:
        response.not_modified = True
        return response
    if response.status >= 400:
        words = _HTTP_WORDS.get(response.status, "客户端错误" if response.status < 500 else "")
        words = words or "服务器错误"
        retry_after = None
        if response.status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise FetchError(
            f"服务器返回 HTTP {response.status}（{words}）",
            url=response.final_url,
            retry_after=retry_after,
            status=response.status,
        )
    return response


def _one_hop(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: Settings,
    deadline: float,
) -> FetchResponse:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("只支持 http:// 和 https:// 地址", url=url)
    if time.monotonic() > deadline:
        raise FetchError("读取超时（总时间超过上限）", url=url)
    try:
        host = parts.hostname.encode("idna").decode("ascii")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (UnicodeError, ValueError) as error:
        raise FetchError("地址中的主机名或端口无效", url=url) from error
    address = resolve_public(host, port, settings, url=url)
    request = client.build_request(
        "GET",
        parts._replace(netloc=f"{_bracket(str(address))}:{port}").geturl(),
        headers={**headers, "Host": _bracket(host) + (f":{parts.port}" if parts.port else "")},
        extensions={"sni_hostname": host},
    )
    try:
        response = client.send(request, stream=True)
    except httpx.HTTPError as error:
        raise FetchError(_describe_transport_error(error), url=url) from error
    try:
        body = b""
        if response.status_code not in REDIRECT_CODES and response.status_code != 304:
            body = _read_capped(response, settings, deadline, url)
    finally:
        response.close()
    return FetchResponse(
        status=response.status_code,
        final_url=url,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=body,
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _read_capped(response: httpx.Response, settings: Settings, deadline: float, url: str) -> bytes:
    cap = settings.fetch_max_bytes
    too_big = FetchError(f"响应超过 {_megabytes(cap)} MB 上限，已中止", url=url)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in _chunks(response):
            size += len(chunk)
            if size > cap:
                raise too_big
            if time.monotonic() > deadline:
                raise FetchError("读取超时（总时间超过上限）", url=url)
            chunks.append(chunk)
    except httpx.HTTPError as error:
        raise FetchError(_describe_transport_error(error), url=url) from error
    return b"".join(chunks)


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    # iter_bytes decompresses, so the cap applies to what we hold, not to what travels.
    yield from response.iter_bytes()  # as the data comes, so the deadline is checked often


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:g}" if value >= 1 else f"{value:.2f}"


def _describe_transport_error(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "连接超时"
    if isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return "读取超时"
    text = str(error)
    if isinstance(error, httpx.ConnectError):
        lowered = text.lower()
        if "certificate verify failed" in lowered:
            detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0]
            return f"TLS/证书错误：网站证书无法验证（{detail.strip() or '证书不受信任'}）"
        if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
            return f"TLS/证书错误：加密连接握手失败（{_short(text)}）"
        if "refused" in lowered:
            return "连接被拒绝（对方没有在该端口提供服务）"
        return f"无法连接：{_short(text)}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"服务器响应不符合 HTTP 协议：{_short(text)}"
    if isinstance(error, httpx.DecodingError):
        return "响应内容压缩格式损坏，无法解码"
    return f"网络错误：{_short(text) or type(error).__name__}"


def _short(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


def resolve_public(host: str, port: int, settings: Settings, *, url: str = "") -> IPAddress:
    """The first address of ``host`` once every resolved address is known to be allowed."""
    # getaddrinfo has no timeout of its own; a stuck lookup is abandoned, not waited for.
    lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=settings.fetch_timeout_seconds)
    except TimeoutError as error:
        raise FetchError(f"域名 {host} 解析超时", url=url) from error
    except (OSError, UnicodeError) as error:
        raise FetchError(f"无法解析域名 {host}（DNS 查询失败）", url=url) from error
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"无法解析域名 {host}（没有地址）", url=url)
    allowed = [ipaddress.ip_network(net, strict=False) for net in settings.fetch_allow_networks]
    for address in addresses:
        problem = refused_kind(address, allowed)
        if problem:
            raise FetchError(f"{host} 解析到{problem} {address}，已拒绝访问", url=url)
    return addresses[0]


def refused_kind(
    address: IPAddress, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str | None:
    """Why ``address`` must not be fetched (in Chinese), or None when it is public or allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allowed):
        return None
    checks = (
        (address.is_loopback, "回环地址"),
        (address.is_unspecified, "未指定地址"),
        (address.is_link_local, "链路本地地址（含云主机元数据地址）"),
        (address.is_multicast, "组播地址"),
        (address.is_private, "内网地址"),
        (address.is_reserved, "保留地址"),
        (not address.is_global, "非公网地址"),
    )
    return next((word for hit, word in checks if hit), None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
