"""Limits on what one request may carry: body size by route, ids within the database's range.

A body is counted before any route parses it: a 300 MB multipart post to ``/login`` is
refused after its first megabyte instead of being spooled to disk before the CSRF check.
Uploads get the import cap from settings, the push API its own cap, everything else
``request_max_bytes``. ``Content-Length`` is checked first; a chunked body without one is
counted as it streams in.

Ids are 64-bit in both databases. A larger number in a path, a query or a form names
nothing: it answers 404 (in a path) or 422, not a 500 from the database driver.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yuqing.core.settings import get_settings
from yuqing.editorial import config as editorial_config
from yuqing.pagekit.requests import wants_json
from yuqing.pagekit.templating import error_page

MAX_ID = 2**63 - 1
ID_MESSAGE = f"编号超出范围（最大 {MAX_ID}）：没有这样的记录。"
NUMBER_MESSAGE = f"请求中的数字超出范围：整数最大为 {MAX_ID}。"
FORM_OVERHEAD = 64 * 1024  # field names, boundaries and the CSRF token around an upload
UPLOAD_PATHS = (
    re.compile(r"^/org/import$"),  # the roster workbook
    re.compile(r"^/calendar/import$"),  # the holiday notice
    re.compile(r"^/sources/\d+/import$"),  # a file of collected items
    re.compile(r"^/team/headcounts$"),  # units' student headcounts
    re.compile(r"^/team/rounds/\d+/units/\d+/(upload|submit)$"),  # 登记表, stamped scan
    re.compile(r"^/team/training/\d+/materials$"),  # training materials
)
PUSH_PATH = "/api/v1/mentions"
EDITORIAL_IMAGE_PATH = "/editorial/images"
# A submission's body: its character limit, each character up to 9 bytes form-encoded (%XX
# for each of a Chinese character's three bytes), so the service's own message answers a
# body past the limit instead of this cap.
EDITORIAL_ATTACHMENT_PATH = re.compile(r"^/editorial/\d+/attachments$")
EDITORIAL_TEXT_PATHS = re.compile(r"^/editorial/(?:new|\d+/edit|\d+/correct)$")


def body_cap(method: str, path: str) -> int:
    """The largest body a request to ``path`` may send, in bytes."""
    settings = get_settings()
    if method == "POST" and path == PUSH_PATH:
        return settings.push_max_body_bytes
    if method == "POST" and path == EDITORIAL_IMAGE_PATH:
        return editorial_config.MAX_IMAGE_BYTES + FORM_OVERHEAD
    if method == "POST" and EDITORIAL_ATTACHMENT_PATH.match(path):
        return editorial_config.MAX_ATTACHMENT_BYTES + FORM_OVERHEAD
    if method == "POST" and EDITORIAL_TEXT_PATHS.match(path):
        return max(settings.request_max_bytes, editorial_config.MAX_BODY_CHARS * 9 + FORM_OVERHEAD)
    if method == "POST" and any(pattern.match(path) for pattern in UPLOAD_PATHS):
        return settings.import_max_bytes + FORM_OVERHEAD
    return settings.request_max_bytes


def too_large_message(cap: int) -> str:
    size = f"{cap // (1024 * 1024)} MB" if cap >= 1024 * 1024 else f"{cap // 1024} KB"
    return f"请求内容超过上限（{size}），已拒绝，未读取其余内容。"


def _refusal(request: Request, status: int, title: str, message: str) -> Response:
    """JSON for API clients, the desk's error page for browsers."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return error_page(request, status_code=status, title=title, message=message)


async def _answer(scope: Scope, send: Send, status: int, title: str, message: str) -> None:
    response = _refusal(Request(scope), status, title, message)
    if status == 413:
        # The rest of the body is not read: the connection cannot carry another request.
        response.headers["connection"] = "close"
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


class _TooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes its cap."""


class _CountedBody:
    """A ``receive`` that counts body bytes and stops the request past the cap."""

    def __init__(self, receive: Receive, cap: int) -> None:
        self.receive = receive
        self.cap = cap
        self.size = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.cap:
                self.exceeded = True
                raise _TooLarge
        return message


class BodyLimit:
    """ASGI middleware: a body larger than its route allows answers 413 before parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _oversize_id_in_path(str(scope.get("path", ""))):
            await _answer(scope, send, 404, "不存在", ID_MESSAGE)
            return
        cap = body_cap(str(scope.get("method", "")), str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _answer(scope, send, 413, "内容过大", too_large_message(cap))
            return
        body = _CountedBody(receive, cap)
        started = False

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of a cut-off body (FastAPI answers a form it could not
            # parse with 400) is replaced by the 413.
            nonlocal started
            if not body.exceeded:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, body, guarded_send)
        except Exception:
            if not body.exceeded:
                raise
        if body.exceeded and not started:
            await _answer(scope, send, 413, "内容过大", too_large_message(cap))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = bytes(value).strip()
            return int(text) if text.isdigit() else None
    return None


def _oversize_id_in_path(path: str) -> bool:
    """Whether a path segment is a number no 64-bit id can be (e.g. /mentions/2**63)."""
    return any(
        len(segment) >= 19 and segment.isascii() and segment.isdigit() and int(segment) > MAX_ID
        for segment in path.split("/")
    )


def _out_of_range(error: BaseException) -> bool:
    """An integer too large for the database, as SQLite's driver or PostgreSQL says it."""
    if isinstance(error, OverflowError):
        return True
    if isinstance(error, StatementError) and isinstance(error.orig, OverflowError):
        return True
    return isinstance(error, DataError) and "out of range" in str(error.orig)


def install_id_range_handlers(app: FastAPI) -> None:
    """An integer beyond the database's range in a query or form answers 422 in Chinese; the
    database's own error would otherwise be a 500."""

    async def out_of_range(request: Request, error: Exception) -> Response:
        if not _out_of_range(error):
            raise error
        return _refusal(request, 422, "数字超出范围", NUMBER_MESSAGE)

    for kind in (OverflowError, DataError, StatementError):
        app.add_exception_handler(kind, out_of_range)
