"""What a page or refusal needs to know about the request it answers."""

from __future__ import annotations

from starlette.requests import Request

from yuqing.core.settings import get_settings


def wants_json(request: Request) -> bool:
    """API paths and clients that ask for JSON get JSON; browsers get a page."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def cookie_secure(request: Request) -> bool:
    """Whether a cookie set on this answer gets the Secure flag: always when
    ``YUQING_SECURE_COOKIES`` is on (the desk sits behind a TLS proxy and sees plain
    http), else when the request itself came over https."""
    return bool(get_settings().secure_cookies) or request.url.scheme == "https"
