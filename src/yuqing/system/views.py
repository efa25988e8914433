"""The desk page of system settings (系统设置): the desk's public address for now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import render
from yuqing.system import service

router = APIRouter(include_in_schema=False)

Administrator = Annotated[Principal, Depends(require("users.manage"))]


def _page(
    request: Request,
    session: Session,
    *,
    typed: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = service.get_public_url(session)
    return render(
        request,
        "system/settings.html",
        {
            "nav": "settings",
            "public": current,
            "typed": current.url if typed is None else typed,
            "seen_at": f"{request.url.scheme}://{request.url.netloc}",
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, _: Administrator) -> HTMLResponse:
    notice = "已保存。" if request.query_params.get("saved") else None
    return _page(request, session, notice=notice)


@router.post("/admin/settings", response_class=HTMLResponse)
def save_settings(
    request: Request,
    session: SessionDep,
    principal: Administrator,
    _csrf: CsrfChecked,
    public_url: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        service.update_public_url(session, url=public_url, actor=principal.actor)
    except service.SettingError as error:
        session.rollback()
        return _page(request, session, typed=public_url, error=str(error), status_code=422)
    session.commit()
    return RedirectResponse("/admin/settings?saved=1", status_code=303)
