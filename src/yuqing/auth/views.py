"""Desk pages of accounts: sign in, sign out, change password, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth import config, service
from yuqing.auth.deps import SESSION_COOKIE, SignedIn, client_ip
from yuqing.auth.models import ApiToken
from yuqing.core import audit
from yuqing.core.database import get_session
from yuqing.web.csrf import csrf_problem
from yuqing.web.templating import error_page, render

router = APIRouter()
SessionDep = Annotated[Session, Depends(get_session)]
CsrfProblem = Annotated[str | None, Depends(csrf_problem)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and ``https://…`` go to the desk's home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _set_session_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=config.SESSION_MAX_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: str | None = None, message: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "auth/login.html",
        {"next": _safe_next(next), "message": (message or "")[:100], "username": ""},
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    problem: CsrfProblem,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    try:
        user = service.authenticate(
            session, username=username, password=password, ip=client_ip(request)
        )
    except service.AuthError as error:
        session.commit()  # the failed attempt is audited and counted
        return render(
            request,
            "auth/login.html",
            {"next": _safe_next(next), "error": str(error), "username": username},
            status_code=401,
        )
    secret = service.start_session(session, user=user)
    session.commit()
    target = "/account/password" if user.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, secret)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, problem: CsrfProblem) -> Response:
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    secret = request.cookies.get(SESSION_COOKIE, "")
    user = service.user_for_session(session, secret=secret) if secret else None
    if user is not None:
        audit.record(
            session,
            actor=audit.Actor(user.id, user.username, client_ip(request)),
            action="logout",
            object_type="user",
            object_id=user.id,
            summary="退出登录",
        )
    service.end_session(session, secret=secret)
    session.commit()
    response = RedirectResponse("/login?message=已退出登录", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, principal: SignedIn) -> HTMLResponse:
    forced = bool(getattr(request.state, "must_change_password", False))
    return render(request, "auth/password.html", {"forced": forced, "nav": "account"})


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    problem: CsrfProblem,
    current: Annotated[str, Form(max_length=500)] = "",
    new: Annotated[str, Form(max_length=500)] = "",
    repeat: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    error = "两次输入的新密码不一致" if new != repeat else None
    if error is None:
        try:
            service.change_password(
                session, user=user, current=current, new=new, actor=principal.actor
            )
            user.must_change_password = False
        except service.AuthError as refused:
            error = str(refused)
    if error:
        session.rollback()
        forced = bool(getattr(request.state, "must_change_password", False))
        return render(
            request,
            "auth/password.html",
            {"forced": forced, "error": error, "nav": "account"},
            status_code=422,
        )
    secret = service.start_session(session, user=user)  # other sessions ended
    session.commit()
    response = RedirectResponse("/?message=密码已修改", status_code=303)
    _set_session_cookie(request, response, secret)
    return response


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, session: SessionDep, principal: SignedIn) -> HTMLResponse:
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    return _tokens(request, session, principal, new_secret=None, error=None)


def _tokens(
    request: Request,
    session: Session,
    principal: service.Principal,
    *,
    new_secret: str | None,
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    scopes = {p: label for p, label in config.PERMISSIONS.items() if p in principal.permissions}
    return render(
        request,
        "auth/tokens.html",
        {
            "tokens": service.list_tokens(session, user=user),
            "scopes": scopes,
            "new_secret": new_secret,
            "error": error,
            "nav": "account",
        },
        status_code=status_code,
    )


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    problem: CsrfProblem,
) -> HTMLResponse:
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    form = await request.form()
    name = str(form.get("name") or "")[:100]
    scopes = [str(s) for s in form.getlist("scopes")]
    beyond = [s for s in scopes if s not in principal.permissions]
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    try:
        if beyond:
            raise service.AuthError("令牌的权限不能超过账号本身的权限")
        _, secret = service.create_token(
            session, user=user, name=name, scopes=scopes, actor=principal.actor
        )
    except service.AuthError as error:
        session.rollback()
        return _tokens(
            request, session, principal, new_secret=None, error=str(error), status_code=422
        )
    session.commit()
    return _tokens(request, session, principal, new_secret=secret, error=None)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    problem: CsrfProblem,
    token_id: int,
) -> Response:
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id:
        return error_page(request, status_code=404, title="找不到令牌", message="令牌不存在。")
    service.revoke_token(session, token=token, actor=principal.actor)
    session.commit()
    return RedirectResponse("/account/tokens", status_code=303)
