"""The FastAPI application: desk pages, JSON API, OpenAPI docs at /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yuqing import __version__
from yuqing.analysis import views as analysis_views
from yuqing.mentions import api as mentions_api
from yuqing.mentions import views as mentions_views
from yuqing.schemes import views as schemes_views
from yuqing.sources import views as sources_views
from yuqing.web import docs

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
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(mentions_api.router)
    app.include_router(mentions_views.router)
    app.include_router(sources_views.router)
    app.include_router(schemes_views.router)
    app.include_router(analysis_views.router)
    app.include_router(docs.router)
    return app
