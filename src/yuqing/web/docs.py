"""The API documentation page (API 文档), with Swagger UI served from our own package.

FastAPI's built-in /docs loads Swagger UI from a CDN, which a desk without internet access
cannot reach; this page is the same UI from ``static/vendor`` (see scripts/vendor_assets.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from yuqing.web.templating import STATIC_DIR, error_page

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
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API 文档",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        # Swagger UI would otherwise ask validator.swagger.io to check the schema.
        swagger_ui_parameters={"validatorUrl": None},
    )
