"""FastAPI dependencies: who is asking (session cookie or API token) and may they.

Every desk page and API route declares the permission it needs with ``require("…")``; the
services then scope what they return by the principal's units. An API token opens ``/api/``
routes only, and there only what its scopes name (and its account's role still allows);
desk pages, the account's own pages and the inbox are for people and refuse it (403).

Single sign-on is out of scope for now; its hook point is ``external_username``: a
deployment behind a CAS/OAuth gateway replaces it (or sets ``YUQING_SSO_HEADER``, a header
the gateway sets and clients cannot) and the account of that name is signed in without a
password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from yuqing.auth import service
from yuqing.auth.schemas import Principal
from yuqing.core.database import get_session
from yuqing.core.settings import get_settings
from yuqing.pagekit.csrf import header_problem

SESSION_COOKIE = "yuqing_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages an account that must change its password may still open.
_PASSWORD_CHANGE_PATHS = ("/account/password", "/logout", "/static/")
TOKEN_ON_PAGE = "接口令牌只能用于 /api/ 接口；工作台页面请用账号登录后使用"
TOKEN_FOR_PEOPLE = "账号、令牌和收件箱页面只供本人登录后使用，不接受接口令牌"


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
        # A pending account's token is found, to be refused with the reason below.
        pair = service.user_for_token(session, secret=token, pending=True)
        if pair is not None:
            principal = service.principal_for(session, user=pair[0], ip=ip, token=pair[1])
            request.state.must_change_password = pair[0].must_change_password
    else:
        name = external_username(request)
        user = (
            service.get_user_by_username(session, username=name)
            if name
            else service.user_for_session(session, secret=request.cookies.get(SESSION_COOKIE, ""))
        )
        if user is not None:
            principal = service.principal_for(session, user=user, ip=ip)
            request.state.must_change_password = user.must_change_password and not name
    session.commit()  # last-seen times
    request.state.principal = principal
    return principal


def _signed_in(request: Request, session: Session, *, people_only: bool) -> Principal:
    """The principal, refused when signed out, when a token asks outside ``/api/`` (or
    anywhere, ``people_only``), or when the one-time password must be changed first."""
    principal = resolve(request, session)
    if principal is None:
        expired = bool(request.cookies.get(SESSION_COOKIE)) and not _bearer(request)
        raise LoginRequired("登录已过期，请重新登录" if expired else "请先登录")
    if principal.by_token and people_only:
        raise Forbidden(TOKEN_FOR_PEOPLE)
    if principal.by_token and not request.url.path.startswith("/api/"):
        raise Forbidden(TOKEN_ON_PAGE)
    if getattr(request.state, "must_change_password", False) and not request.url.path.startswith(
        _PASSWORD_CHANGE_PATHS
    ):
        raise PasswordChangeRequired()
    return principal


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that returns the principal when it holds ``permission``."""

    def dependency(
        request: Request, session: Annotated[Session, Depends(get_session)]
    ) -> Principal:
        principal = _signed_in(request, session, people_only=False)
        if not principal.can(permission):
            raise Forbidden(f"您的账号没有“{service.permission_label(permission)}”的权限")
        if (
            not principal.by_token
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
    """A person signed in on the desk, whatever the role (the account's own pages, its
    tokens, its inbox): API tokens are refused, so a token can never change a password, mint
    a token or read mail; a pending one-time password lets only the change page through."""
    return _signed_in(request, session, people_only=True)


SignedIn = Annotated[Principal, Depends(signed_in)]
