"""Desk pages of accounts: sign in, sign out, change password, API tokens; for
administrators the accounts and roles (the audit log's pages are ``yuqing.audit.views``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.audit import search
from yuqing.auth import config, limits, service
from yuqing.auth.deps import SESSION_COOKIE, SignedIn, client_ip, require
from yuqing.auth.models import ApiToken, Role, User
from yuqing.auth.schemas import Principal
from yuqing.core import audit
from yuqing.core.database import SessionDep
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.requests import cookie_secure
from yuqing.pagekit.templating import error_page, render

router = APIRouter()


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
        secure=cookie_secure(request),
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
    _csrf: CsrfChecked,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ip = client_ip(request)
    try:
        # Counted and committed before the 0.4 s hash, so a flood stops at its budget.
        service.admit_login(session, username=username, ip=ip)
        session.commit()
        user = service.check_login(session, username=username, password=password, ip=ip)
    except limits.LoginPaused as paused:
        session.commit()  # the refusal is counted, not audited one by one
        answer = _login_refused(request, next, username, paused.message, 429)
        answer.headers["Retry-After"] = str(paused.retry_after)
        return answer
    except service.AuthError as error:
        session.commit()  # the failed attempt is audited and counted
        return _login_refused(request, next, username, str(error), 401)
    secret = service.start_session(session, user=user)
    session.commit()
    target = "/account/password" if user.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, secret)
    return response


def _login_refused(
    request: Request, next: str, username: str, error: str, status_code: int
) -> HTMLResponse:
    return render(
        request,
        "auth/login.html",
        {"next": _safe_next(next), "error": error, "username": username},
        status_code=status_code,
    )


@router.post("/logout")
def logout(request: Request, session: SessionDep, _csrf: CsrfChecked) -> Response:
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
def password_page(
    request: Request,
    principal: SignedIn,
    revoked: Annotated[int | None, Query(ge=0, le=100_000)] = None,
) -> HTMLResponse:
    """The change form; ``revoked`` (after a change) says how many tokens the change revoked."""
    forced = bool(getattr(request.state, "must_change_password", False))
    context = {"forced": forced, "nav": "account", "revoked": revoked}
    return render(request, "auth/password.html", context)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    _csrf: CsrfChecked,
    current: Annotated[str, Form(max_length=500)] = "",
    new: Annotated[str, Form(max_length=500)] = "",
    repeat: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    error = "两次输入的新密码不一致" if new != repeat else None
    revoked = 0
    if error is None:
        try:
            revoked = service.change_password(
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
    response = RedirectResponse(f"/account/password?revoked={revoked}", status_code=303)
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
    principal: Principal,
    *,
    new_secret: str | None,
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    user = service.get_user(session, user_id=principal.user_id)
    assert user is not None
    scopes = {p: label for p, label in config.PERMISSIONS.items() if principal.can(p)}
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
    _csrf: CsrfChecked,
) -> HTMLResponse:
    form = await request.form()
    name = str(form.get("name") or "")[:100]
    scopes = [str(s) for s in form.getlist("scopes")]
    try:
        _, secret = service.create_own_token(session, principal=principal, name=name, scopes=scopes)
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
    _csrf: CsrfChecked,
    token_id: int,
) -> Response:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id:
        return error_page(request, status_code=404, title="找不到令牌", message="令牌不存在。")
    service.revoke_token(session, token=token, actor=principal.actor)
    session.commit()
    return RedirectResponse("/account/tokens", status_code=303)


# --- account administration (账号管理) -------------------------------------------------

Manager = Annotated[Principal, Depends(require("users.manage"))]
_NO_STORE = {"Cache-Control": "no-store"}  # pages that show a one-time password
_DONE = {
    "role": "角色和单位已保存。",
    "person": "对应人员已保存：发给该人员的消息会进入这个账号的站内消息。",
    "active": "账号已启用。",
    "inactive": "账号已停用，其登录状态已结束。",
    "unlock": "账号已解除锁定：各地址的登录暂停均已清除。",
    "permissions": "角色权限已保存。",
}


_PAUSES_SHOWN = 100  # a spray over many names and addresses must not make a huge page


def _optional_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise service.AuthError(f"编号“{value[:20]}”不是数字")
    return int(value)


def _users_page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    created: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    response = render(
        request,
        "auth/users.html",
        {
            "users": service.list_users(session),
            "roles": service.list_roles(session),
            "role_names": {r.id: r.name for r in service.list_roles(session)},
            "units": org.list_units(session),
            "unit_names": {u.id: u.name for u in org.list_units(session)},
            "people": org.list_people(session),
            "paused": service.list_paused_names(session),
            "pauses": limits.paused(session, limit=_PAUSES_SHOWN),
            "error": error,
            "created": created,
            "form": form or {},
            "nav": "admin",
        },
        status_code=status_code,
    )
    response.headers.update(_NO_STORE)
    return response


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, principal: Manager) -> HTMLResponse:
    return _users_page(request, session)


@router.post("/admin/users", response_class=HTMLResponse)
def create_account(
    request: Request,
    session: SessionDep,
    principal: Manager,
    _csrf: CsrfChecked,
    username: Annotated[str, Form(max_length=100)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    unit_id: Annotated[str, Form(max_length=20)] = "",
    person_id: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    form = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "unit_id": unit_id,
        "person_id": person_id,
    }
    try:
        user, password = service.create_account(
            session,
            username=username,
            role_key=role,
            actor=principal.actor,
            display_name=display_name or None,
            unit_id=_optional_id(unit_id),
            person_id=_optional_id(person_id),
        )
    except service.AuthError as refused:
        session.rollback()
        return _users_page(request, session, error=str(refused), form=form, status_code=422)
    session.commit()
    created = {"username": user.username, "password": password}
    return _users_page(request, session, created=created)


def _load_user(session: Session, user_id: int) -> User | None:
    return service.get_user(session, user_id=user_id)


def _user_page(
    request: Request,
    session: Session,
    user: User,
    *,
    error: str | None = None,
    notice: str | None = None,
    new_password: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    history = search.list_entries(
        session, filters=search.AuditFilters(object_type="user", object_id=str(user.id)), limit=20
    )
    people = org.list_people(session, unit_id=user.unit_id)  # the account's unit, else all
    linked = org.get_person(session, person_id=user.person_id) if user.person_id else None
    if linked is not None and linked not in people:
        people.insert(0, linked)  # linked before the account moved units: still shown
    response = render(
        request,
        "auth/user.html",
        {
            "user": user,
            "roles": service.list_roles(session),
            "role_names": {r.id: r.name for r in service.list_roles(session)},
            "units": org.list_units(session),
            "people": people,
            "unit_names": {u.id: u.name for u in org.list_units(session)},
            "locked": service.list_paused_names(session).get(user.username),
            "history": history,
            "error": error,
            "notice": notice,
            "new_password": new_password,
            "nav": "admin",
        },
        status_code=status_code,
    )
    response.headers.update(_NO_STORE)
    return response


def _user_not_found(request: Request) -> HTMLResponse:
    return error_page(request, status_code=404, title="找不到账号", message="该账号不存在。")


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request, session: SessionDep, principal: Manager, user_id: int, done: str = ""
) -> HTMLResponse:
    user = _load_user(session, user_id)
    if user is None:
        return _user_not_found(request)
    return _user_page(request, session, user, notice=_DONE.get(done))


class AccountChange:
    """One administrator's change of one account: the manager, the CSRF check and the
    account's id, as the route's dependency."""

    def __init__(
        self,
        request: Request,
        session: SessionDep,
        principal: Manager,
        _csrf: CsrfChecked,
        user_id: int,
    ) -> None:
        self.request = request
        self.session = session
        self.principal = principal
        self.user_id = user_id

    def run(self, done: str, change: Callable[[User], object]) -> Response:
        """Unknown account 404, a refused change shown on the account's page, success
        redirected there with the notice ``done``."""
        session = self.session
        user = _load_user(session, self.user_id)
        if user is None:
            return _user_not_found(self.request)
        try:
            change(user)
        except service.AuthError as refused:
            session.rollback()
            session.refresh(user)
            return _user_page(self.request, session, user, error=str(refused), status_code=422)
        session.commit()
        return RedirectResponse(f"/admin/users/{user.id}?done={done}", status_code=303)


Change = Annotated[AccountChange, Depends()]


@router.post("/admin/users/{user_id}/role")
def change_role(
    it: Change,
    role: Annotated[str, Form(max_length=40)] = "",
    unit_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return it.run(
        "role",
        lambda user: service.update_account(
            it.session, user=user, role_key=role, unit_id=_optional_id(unit_id), by=it.principal
        ),
    )


@router.post("/admin/users/{user_id}/person")
def change_person(it: Change, person_id: Annotated[str, Form(max_length=20)] = "") -> Response:
    actor = it.principal.actor
    return it.run(
        "person",
        lambda user: service.update_account_person(
            it.session, user=user, person_id=_optional_id(person_id), actor=actor
        ),
    )


@router.post("/admin/users/{user_id}/active")
def change_active(it: Change, active: Annotated[str, Form(max_length=5)] = "") -> Response:
    on = active == "1"
    return it.run(
        "active" if on else "inactive",
        lambda user: service.update_account_active(
            it.session, user=user, active=on, by=it.principal
        ),
    )


@router.post("/admin/users/{user_id}/unlock")
def unlock_account(it: Change) -> Response:
    return it.run(
        "unlock", lambda user: service.unlock(it.session, user=user, actor=it.principal.actor)
    )


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request, session: SessionDep, principal: Manager, _csrf: CsrfChecked, user_id: int
) -> HTMLResponse:
    """The one-time password is shown in this response only (no redirect that could be
    reloaded from history)."""
    user = _load_user(session, user_id)
    if user is None:
        return _user_not_found(request)
    password = service.reset_password(session, user=user, actor=principal.actor)
    session.commit()
    return _user_page(request, session, user, new_password=password)


def _roles_page(
    request: Request, session: Session, *, error: str | None = None, notice: str | None = None
) -> HTMLResponse:
    roles = service.list_roles(session)
    return render(
        request,
        "auth/roles.html",
        {
            "roles": roles,
            "granted": {r.id: set(r.permissions.split()) for r in roles},
            "permissions": config.PERMISSIONS,
            "error": error,
            "notice": notice,
            "nav": "admin",
        },
        status_code=422 if error else 200,
    )


@router.get("/admin/roles", response_class=HTMLResponse)
def roles_page(
    request: Request, session: SessionDep, principal: Manager, done: str = ""
) -> HTMLResponse:
    return _roles_page(request, session, notice=_DONE.get(done))


@router.post("/admin/roles/{role_id}")
async def change_role_permissions(
    request: Request, session: SessionDep, principal: Manager, _csrf: CsrfChecked, role_id: int
) -> Response:
    role = session.get(Role, role_id)
    if role is None:
        return error_page(request, status_code=404, title="找不到角色", message="该角色不存在。")
    form = await request.form()
    permissions = [str(p) for p in form.getlist("permissions")]
    try:
        service.update_role_permissions(session, role=role, permissions=permissions, by=principal)
    except service.AuthError as refused:
        session.rollback()
        return _roles_page(request, session, error=str(refused))
    session.commit()
    return RedirectResponse("/admin/roles?done=permissions", status_code=303)
