"""The API documentation page (API 文档), with Swagger UI served from our own package.

FastAPI's built-in /docs loads Swagger UI from a CDN, which a desk without internet access
cannot reach; this page is the same UI from ``static/vendor`` (see scripts/vendor_assets.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from yuqing.pagekit.templating import STATIC_DIR, error_page, render

router = APIRouter(include_in_schema=False)

SWAGGER_DIR = STATIC_DIR / "vendor" / "swagger-ui"


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        return error_page(
            request,
            status_code=503,
            title="API 文档暂不可用",
            message="Swagger UI 尚未安装：请运行 npm ci --no-audit --no-fund && "
            "python scripts/vendor_assets.py。接口说明仍可在 /openapi.json 获取。",
        )
    # FastAPI's get_swagger_ui_html starts Swagger UI with an inline script, which the
    # Content-Security-Policy refuses; this page starts it from static/js/swagger.js.
    return render(
        request,
        "docs/swagger.html",
        {"title": f"{request.app.title} · API 文档", "openapi_url": request.app.openapi_url},
    )
