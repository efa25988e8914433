"""Cross-site request protection for the desk's forms: a signed double-submit token and an
Origin/Referer check.

Until accounts exist there is no session to bind a token to, so the token is a random value
signed with the desk's secret, set as a cookie and repeated in each form (or the HTMX
header). A forged page on another site can neither read the cookie nor sign a value of its
own, and browsers name that site in ``Origin``, which we refuse as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from yuqing.core import keyfile
from yuqing.core.settings import get_settings
from yuqing.pagekit.requests import cookie_secure

COOKIE = "yuqing_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_MAX_AGE = 7 * 86400


def secret_key() -> bytes:
    """The desk's signing secret: ``YUQING_SECRET_KEY`` if set, else a random one kept in
    ``<data_dir>/secret_key`` (created on first use, readable by its owner only)."""
    settings = get_settings()
    configured = str(getattr(settings, "secret_key", "") or "")
    if configured:
        return configured.encode()
    return keyfile.read_or_create(Path(settings.data_dir) / "secret_key")


def _sign(nonce: str) -> str:
    digest = hmac.new(secret_key(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{digest}"


def _well_signed(token: str) -> bool:
    nonce, _, _digest = token.partition(".")
    return bool(nonce) and hmac.compare_digest(_sign(nonce), token)


def token_for(request: Request) -> str:
    """The token of this browser: its cookie when well signed, else a new one (which
    ``set_cookie`` must then send)."""
    current = request.cookies.get(COOKIE, "")
    if current and _well_signed(current):
        return current
    token = getattr(request.state, "csrf_new_token", None)
    if token is None:
        token = _sign(secrets.token_hex(16))
        request.state.csrf_new_token = token
    return str(token)


def set_cookie(request: Request, response: Response) -> None:
    """Send the token cookie when this request created a new token."""
    token = getattr(request.state, "csrf_new_token", None)
    if token:
        response.set_cookie(
            COOKIE,
            token,
            max_age=_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request),
            path="/",
        )


def _origin_problem(request: Request) -> str | None:
    """A foreign Origin (or, without Origin, a foreign Referer) is refused; a request with
    neither comes from a non-browser client and still needs the token."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return None
    if claimed == "null":
        return "请求来源不明（Origin 为 null），已拒绝。"
    parts = urlsplit(claimed)
    host = request.headers.get("host", "")
    if parts.netloc.lower() != host.lower():
        return f"请求来自其他网站（{parts.netloc or claimed}），已拒绝。"
    return None


def header_problem(request: Request) -> str | None:
    """For JSON API writes made with a session cookie: the token must come in the header."""
    problem = _origin_problem(request)
    if problem:
        return problem
    cookie = request.cookies.get(COOKIE, "")
    sent = request.headers.get(HEADER, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent) or not _well_signed(cookie):
        return f"用浏览器会话调用写接口时须带 {HEADER} 请求头；程序调用请改用接口令牌。"
    return None


async def csrf_problem(request: Request) -> str | None:
    """``None`` when a form post is genuine, otherwise the reason (in Chinese) to refuse it."""
    problem = _origin_problem(request)
    if problem:
        return problem
    cookie = request.cookies.get(COOKIE, "")
    sent = request.headers.get(HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else ""
    if not cookie or not sent:
        return "表单缺少安全令牌，请刷新页面后重试。"
    if not hmac.compare_digest(cookie, sent) or not _well_signed(cookie):
        return "表单安全令牌无效或已过期，请刷新页面后重试。"
    return None


class CsrfRefused(Exception):
    """A forged or stale form; the app answers it once, with the refusal page (403) or, for
    a client that asks for JSON, ``{"detail": …}``."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


async def check_csrf(request: Request) -> None:
    """FastAPI dependency for POST routes: returns when the request is genuine, raises
    ``CsrfRefused`` with the reason otherwise."""
    problem = await csrf_problem(request)
    if problem:
        raise CsrfRefused(problem)


CsrfChecked = Annotated[None, Depends(check_csrf)]
"""A POST route's parameter that refuses a forged or stale form before the route runs."""
