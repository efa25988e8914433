"""Security headers on every answer (pages, API, static files, errors) and the Secure flag
of the desk's cookies.

The desk's pages run no inline script: every script is a file under ``/static``, and data a
script needs sits in ``data-`` attributes or ``<script type="application/json">`` blocks. So
the Content-Security-Policy allows scripts from the desk itself only; an injected
``<script>`` or ``onclick=`` does not run even if escaping were ever missed. Style
attributes stay allowed (``style-src-attr``): widths of bars and tree indents are data, and
a style attribute cannot run code; ``<style>`` elements are refused like scripts.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)
_NAMES = frozenset(name for name, _ in HEADERS)


class SecurityHeaders:
    """ASGI middleware adding ``HEADERS`` to every HTTP answer (a route's own value of the
    same header is replaced, so no page can loosen the policy by accident)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message["headers"] = [*kept, *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
