"""The FastAPI application: desk pages, JSON API, OpenAPI docs at /docs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from yuqing import __version__
from yuqing.alerts import views as alerts_views
from yuqing.analysis import insights_views
from yuqing.analysis import views as analysis_views
from yuqing.assessment import training_views
from yuqing.assessment import views as team_views
from yuqing.audit import api as audit_api
from yuqing.audit import views as audit_views
from yuqing.auth import views as auth_views
from yuqing.auth.deps import Forbidden, LoginRequired, PasswordChangeRequired
from yuqing.cases import api as cases_api
from yuqing.cases import calendar_views
from yuqing.cases import views as cases_views
from yuqing.core.audit import AuditKeyError
from yuqing.dashboard import views as dashboard_views
from yuqing.editorial import views as editorial_views
from yuqing.events import views as events_views
from yuqing.maintenance import views as maintenance_views
from yuqing.mentions import api as mentions_api
from yuqing.mentions import views as mentions_views
from yuqing.notify import views as notify_views
from yuqing.org import views as org_views
from yuqing.pagekit.csrf import CsrfRefused
from yuqing.pagekit.requests import wants_json
from yuqing.pagekit.templating import error_page, refused
from yuqing.reports import views as reports_views
from yuqing.schemes import views as schemes_views
from yuqing.sources import views as sources_views
from yuqing.system import views as system_views
from yuqing.web import docs, health
from yuqing.web.cleaning import ControlCharacters
from yuqing.web.errors import install_error_pages
from yuqing.web.limits import BodyLimit, install_id_range_handlers
from yuqing.web.security import SecurityHeaders

STATIC_DIR = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(
        title="Yuqing 舆情工作台 API",
        version=__version__,
        description="舆情监测与处置工作台的接口。推送接口 `POST /api/v1/mentions` 需要令牌。",
        # The built-in pages load Swagger UI/ReDoc from a CDN; web/docs.py serves it locally.
        docs_url=None,
        redoc_url=None,
    )
    # Form fields and query strings reach every route without control characters.
    app.add_middleware(ControlCharacters)
    # An oversize body is refused before anything inside reads it (web/limits.py).
    app.add_middleware(BodyLimit)
    # Added last, so outermost: every answer (pages, API, static files, errors, refusals of
    # the middlewares inside it) carries the security headers.
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(mentions_api.router)
    app.include_router(mentions_views.router)
    app.include_router(insights_views.router)
    app.include_router(sources_views.router)
    app.include_router(schemes_views.router)
    app.include_router(analysis_views.router)
    app.include_router(docs.router)
    app.include_router(health.router)
    app.include_router(auth_views.router)
    app.include_router(audit_views.router)
    app.include_router(audit_api.router)
    app.include_router(org_views.router)
    app.include_router(team_views.router)
    app.include_router(training_views.router)
    app.include_router(alerts_views.router)
    app.include_router(events_views.router)
    app.include_router(events_views.api_router)
    app.include_router(cases_api.router)
    app.include_router(cases_views.router)
    app.include_router(calendar_views.router)
    app.include_router(dashboard_views.router)
    app.include_router(editorial_views.router)
    app.include_router(reports_views.router)
    app.include_router(notify_views.router)
    app.include_router(system_views.router)
    app.include_router(maintenance_views.router)
    install_error_pages(app)
    _handle_access_errors(app)
    _handle_audit_key_errors(app)
    install_id_range_handlers(app)
    return app


def _handle_audit_key_errors(app: FastAPI) -> None:
    """Without its audit key the desk writes nothing (docs/audit.md): a plain 503 that says
    so; the details (paths on the server) are for `yuqing audit verify`, not the browser."""

    @app.exception_handler(AuditKeyError)
    async def audit_key_missing(request: Request, error: AuditKeyError) -> Response:
        message = (
            "审计密钥缺失或与审计日志不符，工作台暂停写入。"
            "请联系系统管理员恢复原来的审计密钥，恢复后即可继续。"
        )
        if wants_json(request):
            return JSONResponse({"detail": message}, status_code=503)
        return error_page(request, status_code=503, title="暂时无法保存", message=message)


POLL_HEADER = "x-yuqing-poll"
"""Sent by the pages' background polls (elements marked ``data-poll``; static/js/desk.js)."""


def _page_of(url: str) -> str:
    """The path and query of the page an HTMX request came from (its ``HX-Current-URL``):
    where to come back after signing in, rather than the fragment the request asked for."""
    parts = urlsplit(url)
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _handle_access_errors(app: FastAPI) -> None:
    """Signed-out browsers go to the sign-in page, forged or stale forms get the refusal
    page; API clients get 401/403 as JSON."""

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": "需要登录或有效的接口令牌"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if request.headers.get("hx-request"):
            if request.headers.get(POLL_HEADER):
                # A poll in the background (the inbox badge, the stream's new items) never
                # takes the person off the page: a poll answered just after signing out
                # replaced the signed-out page, and on a form it would lose what was typed.
                # 204: HTMX swaps nothing; the next page they open asks them to sign in.
                return Response(status_code=204)
            target = _page_of(request.headers.get("hx-current-url", "")) or "/"
            query = urlencode({"next": target, "message": error.message})
            return Response(status_code=401, headers={"HX-Redirect": f"/login?{query}"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urlencode({"next": target, "message": error.message})
        return RedirectResponse(f"/login?{query}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": error.message}, status_code=403)
        return error_page(request, status_code=403, title="没有权限", message=error.message)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, error: CsrfRefused) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": error.problem}, status_code=403)
        return refused(request, error.problem)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change(request: Request, error: PasswordChangeRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "请先在工作台修改初始密码"}, status_code=403)
        if request.headers.get("hx-request"):
            # A fragment (the inbox badge polling on the change page) is refused without a
            # redirect, which HTMX would follow and swap the whole page into the fragment.
            return Response(status_code=403)
        return RedirectResponse("/account/password", status_code=303)
