"""FastAPI dependencies: who is asking (session cookie or API token) and may they.

Every desk page and API route declares the permission it needs with ``require("…")``; the
services then scope what they return by the principal's units. Single sign-on is out of
scope for now; its hook point is ``external_username``: a deployment behind a CAS/OAuth
gateway replaces it (or sets ``YUQING_SSO_HEADER``, a header the gateway sets and clients
cannot) and the account of that name is signed in without a password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from yuqing.auth import service
from yuqing.auth.service import Principal
from yuqing.core.database import get_session
from yuqing.core.settings import get_settings
from yuqing.web.csrf import header_problem

SESSION_COOKIE = "yuqing_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages an account that must change its password may still open.
_PASSWORD_CHANGE_PATHS = ("/account/password", "/logout", "/static/")


class LoginRequired(Exception):
    """No valid session or token: HTML requests go to the sign-in page, API requests get 401."""

    def __init__(self, message: str = "请先登录") -> None:
        super().__init__(message)
        self.message = message


class Forbidden(Exception):
    """Signed in, but the role does not allow this: 403 with the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PasswordChangeRequired(Exception):
    """The one-time password must be replaced before anything else."""


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def external_username(request: Request) -> str | None:
    """The SSO hook: the user name a trusted gateway vouches for, if configured."""
    header = get_settings().sso_header
    return request.headers.get(header) if header else None


def _bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else ""


def resolve(request: Request, session: Session) -> Principal | None:
    """The principal of this request (cached on it), or ``None``."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    principal: Principal | None = None
    ip = client_ip(request)
    token = _bearer(request)
    if token:
        pair = service.user_for_token(session, secret=token)
        if pair is not None:
            principal = service.principal_for(session, user=pair[0], ip=ip, token=pair[1])
            request.state.must_change_password = False
    else:
        name = external_username(request)
        user = (
            service.get_by_username(session, username=name)
            if name
            else service.user_for_session(session, secret=request.cookies.get(SESSION_COOKIE, ""))
        )
        if user is not None:
            principal = service.principal_for(session, user=user, ip=ip)
            request.state.must_change_password = user.must_change_password and not name
    session.commit()  # last-seen times
    request.state.principal = principal
    return principal


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that returns the principal when it holds ``permission``."""

    def dependency(
        request: Request, session: Annotated[Session, Depends(get_session)]
    ) -> Principal:
        principal = resolve(request, session)
        if principal is None:
            expired = bool(request.cookies.get(SESSION_COOKIE)) and not _bearer(request)
            raise LoginRequired("登录已过期，请重新登录" if expired else "请先登录")
        if getattr(
            request.state, "must_change_password", False
        ) and not request.url.path.startswith(_PASSWORD_CHANGE_PATHS):
            raise PasswordChangeRequired()
        if not principal.can(permission):
            raise Forbidden(f"您的账号没有“{service.permission_label(permission)}”的权限")
        if (
            principal.token_scopes is None
            and request.method not in _SAFE_METHODS
            and request.url.path.startswith("/api/")
        ):
            # A JSON write riding on the session cookie must prove it comes from our pages.
            problem = header_problem(request)
            if problem:
                raise Forbidden(problem)
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


def signed_in(request: Request, session: Annotated[Session, Depends(get_session)]) -> Principal:
    """Any signed-in account (account pages)."""
    principal = resolve(request, session)
    if principal is None:
        raise LoginRequired()
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]
