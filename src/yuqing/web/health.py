"""Readiness probe (健康检查) for process managers, load balancers and tests: is the store reachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from yuqing.core.database import SessionDep

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz(session: SessionDep) -> JSONResponse:
    """200 when the app is up and its database answers; 503 with the reason otherwise."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return JSONResponse(
            {"status": "error", "detail": f"数据库不可用：{type(error).__name__}"}, 503
        )
    return JSONResponse({"status": "ok"})
