"""The web edge of control-character cleaning: every form post and query string.

Every page form of the desk (sign-in, case titles and notes, people, units, sources,
schemes…) arrives as ``application/x-www-form-urlencoded``, and every filter as a query
string. In that encoding a control character is a raw byte or an escape such as ``%00``, so
removing them from the bytes before any route parses them cleans every field of every form
in one place, also on routes written later. Tab (``%09``), newline (``%0A``) and carriage
return (``%0D``) stay. C1 controls (``%C2%80``…) and multipart uploads (a file is not text
to clean) are left to ``yuqing.core.text``'s flush hook, which cleans what is stored.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Bodies above this are passed on uncleaned (no desk form is near it); the storage hook
# still cleans what they write.
MAX_CLEANED_BODY = 1024 * 1024

_RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BARE_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ESCAPED = re.compile(rb"%(?:0[0-8BbCcEeFf]|1[0-9A-Fa-f]|7[Ff])")


def clean_urlencoded(data: bytes) -> bytes:
    """``data`` (a query string or form body) without control characters, raw or escaped.

    A ``%`` that starts no escape is written ``%25`` first (it decodes the same), so that
    taking ``%01`` out of ``%%0101`` cannot leave a new ``%01`` behind."""
    if b"%" not in data and not _RAW.search(data):
        return data
    data = _RAW.sub(b"", data)
    data = _BARE_PERCENT.sub(b"%25", data)
    return _ESCAPED.sub(b"", data)


def _is_form(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower() == (
                b"application/x-www-form-urlencoded"
            )
    return False


class _CleanedBody:
    """A ``receive`` that hands the app the whole form body, cleaned, in one message."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.done = False

    async def __call__(self) -> Message:
        if self.done:
            return await self.receive()
        self.done = True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            chunks.append(body)
            size += len(body)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": clean_urlencoded(b"".join(chunks))}
            if size > MAX_CLEANED_BODY:
                return {"type": "http.request", "body": b"".join(chunks), "more_body": True}


class ControlCharacters:
    """ASGI middleware: query strings and form bodies reach the routes without control
    characters."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: Any = scope.get("query_string", b"")
            cleaned = clean_urlencoded(bytes(query)) if query else query
            if cleaned != query:
                scope = {**scope, "query_string": cleaned}
            if _is_form(scope):
                receive = _CleanedBody(receive)
        await self.app(scope, receive, send)
