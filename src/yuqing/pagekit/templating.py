"""Jinja2 templates shared by every domain's views; autoescaping is always on."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from yuqing.core.labels import SENTIMENT_LABELS, SOURCE_KIND_LABELS
from yuqing.core.timeutil import format_local
from yuqing.pagekit import csrf

# Templates and static files stay beside the app assembly (yuqing/web), one folder a domain.
_WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATE_DIR = _WEB_DIR / "templates"
STATIC_DIR = _WEB_DIR / "static"
HTMX_FILE = STATIC_DIR / "vendor" / "htmx.min.js"
ECHARTS_FILE = STATIC_DIR / "vendor" / "echarts.min.js"


_Row = TypeVar("_Row")

STATUS_LABELS = {"new": "已收录", "duplicate": "重复", "filtered": "已过滤", "failed": "失败"}

_BLANK_LINES = re.compile(r"\n\s*\n")


def paragraphs(text: str | None) -> list[str]:
    """Split cleaned text into paragraphs on blank lines (each shown as its own <p>)."""
    return [p.strip() for p in _BLANK_LINES.split(text or "") if p.strip()]


def pretty_json(raw: str | None) -> str:
    """Stored raw payload as indented JSON; text that is not JSON is shown as it is."""
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=2)
    except ValueError:
        return raw


def snippet(text: str | None, width: int = 140) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[:width].rstrip() + "…"


def minutes(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 60} 分钟"


def query_url(path: str, params: Mapping[str, Any], **changes: Any) -> str:
    """``path`` with ``params`` updated by ``changes`` as its query string; empty values and
    page 1 are left out so links stay short."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return f"{path}?{urlencode(kept)}" if kept else path


templates = Jinja2Templates(directory=TEMPLATE_DIR)
templates.env.autoescape = True
templates.env.filters["local"] = format_local
templates.env.filters["paragraphs"] = paragraphs
templates.env.filters["pretty_json"] = pretty_json
templates.env.filters["snippet"] = snippet
templates.env.filters["minutes"] = minutes
templates.env.filters["kind_label"] = lambda kind: SOURCE_KIND_LABELS.get(kind, kind)
templates.env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)
templates.env.globals["KIND_LABELS"] = SOURCE_KIND_LABELS
templates.env.globals["SENTIMENT_LABELS"] = SENTIMENT_LABELS
templates.env.globals["query_url"] = query_url


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page with what every page needs (CSRF token, whether HTMX is served) and
    send the token cookie when it is new."""
    full: dict[str, Any] = {
        "csrf_token": csrf.token_for(request),
        "csrf_field": csrf.FIELD,
        "csrf_header": csrf.HEADER,
        # Only link HTMX when the vendored file exists: a missing script would be a 404
        # in every page's console, and the pages work without it.
        "htmx_available": HTMX_FILE.is_file(),
        "nav": "",
        # Set by yuqing.auth.deps.resolve on pages that check who is asking.
        "principal": getattr(request.state, "principal", None),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    csrf.set_cookie(request, response)
    return response


def error_page(request: Request, *, status_code: int, title: str, message: str) -> HTMLResponse:
    """A Chinese error page (404 unknown item, 403 refused form)."""
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status_code},
        status_code=status_code,
    )


def found_or_404(
    request: Request, row: _Row | None, *, title: str, message: str
) -> _Row | HTMLResponse:
    """The row a page asked for, or the Chinese 404 page that says it does not exist; the
    caller returns the page when it gets one back."""
    if row is None:
        return error_page(request, status_code=404, title=title, message=message)
    return row


def refused(request: Request, problem: str) -> HTMLResponse:
    """The page a forged or stale form gets (403), with the reason in Chinese."""
    return error_page(request, status_code=403, title="请求已拒绝", message=problem)
