"""The dashboard (大屏) page and the JSON it draws from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.dashboard import service
from yuqing.pagekit.templating import ECHARTS_FILE, render

router = APIRouter()
Reader = Annotated[Principal, Depends(require("mentions.read"))]


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(request: Request, principal: Reader) -> HTMLResponse:
    return render(
        request,
        "dashboard/page.html",
        {"nav": "dashboard", "echarts_available": ECHARTS_FILE.is_file()},
    )


@router.get("/api/v1/dashboard", summary="大屏数据")
def dashboard_data(session: SessionDep, principal: Reader) -> dict[str, Any]:
    """趋势、来源类型、地域、热点事件、热词、待办处置和今日预警（处置只含本单位可见的）。"""
    return service.snapshot(session, principal=principal)
