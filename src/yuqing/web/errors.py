"""Errors as people read them: a Chinese HTML page for every desk route (404, 405, 422, 403
and the rest), JSON for the API (``/api/…``) and for clients that ask for it.

FastAPI's own answers (``{"detail":"Not Found"}``, English validation errors) are fine for
programs but a dead end for a person who mistyped an address or followed an old link.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from yuqing.pagekit.requests import wants_json
from yuqing.pagekit.templating import error_page

TITLES = {
    400: "请求有误",
    401: "需要登录",
    403: "没有权限",
    404: "找不到这个页面",
    405: "不支持这种操作",
    409: "操作冲突",
    413: "内容太大",
    422: "参数有误",
    429: "操作太频繁",
}
MESSAGES = {
    404: "您要找的页面或记录不存在，可能已被删除，或者地址输错了。",
    405: "这个地址不接受这种请求方式。请从工作台的页面上进入，不要直接修改地址。",
    403: "您的账号没有进行这项操作的权限。如需开通，请联系系统管理员。",
}
# Messages FastAPI/Starlette put in ``detail`` by themselves: not for people.
_FRAMEWORK_WORDS = {"Not Found", "Method Not Allowed", "Forbidden", "Bad Request", "Unauthorized"}

# Pydantic's error types in plain words; ``{}`` takes the constraint's value.
_PROBLEMS = {
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为“是”或“否”",
    "date_parsing": "应写成 年-月-日",
    "date_from_datetime_parsing": "应写成 年-月-日",
    "datetime_parsing": "应为日期时间",
    "datetime_from_date_parsing": "应为日期时间",
    "missing": "缺少此项",
    "string_too_long": "太长",
    "string_too_short": "太短",
    "enum": "不是可选的值",
    "literal_error": "不是可选的值",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "不能小于 {}"),
    "greater_than": ("gt", "应大于 {}"),
    "less_than_equal": ("le", "不能大于 {}"),
    "less_than": ("lt", "应小于 {}"),
}
_WHERE = {"query": "地址参数", "path": "地址中的", "body": "表单项", "header": "请求头"}
# Parameter names many desk routes share, as people call them.
_NAMES = {
    "page": "页码",
    "q": "查询",
    "start": "开始日期",
    "end": "结束日期",
    "limit": "条数",
    "offset": "起始位置",
    "source_id": "信息源编号",
    "rule_id": "规则编号",
    "scheme_id": "方案编号",
    "unit_id": "单位编号",
    "day": "日期",
}


def problem_text(problem: dict[str, Any]) -> str:
    """One validation problem in Chinese: which parameter, and what is wrong with it."""
    location = [str(part) for part in problem.get("loc", ())]
    where = _WHERE.get(location[0], "") if location else ""
    name = location[-1] if len(location) > 1 else (location[0] if location else "")
    kind = str(problem.get("type", ""))
    context = problem.get("ctx") or {}
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        what = words.format(context.get(key, ""))
    else:
        what = _PROBLEMS.get(kind, "填写有误")
    given = problem.get("input")
    shown = f"（收到“{str(given)[:30]}”）" if isinstance(given, str | int | float) else ""
    return f"{where}“{_NAMES.get(name, name)}”{what}{shown}"


def _detail_text(status: int, detail: Any) -> str:
    """The route's own Chinese message when it gave one, else the standard one."""
    if isinstance(detail, str) and detail and detail not in _FRAMEWORK_WORDS:
        return detail
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return str(detail["message"])
    return MESSAGES.get(status, "请求没有完成。请返回上一页重试，或从首页重新进入。")


def install_error_pages(app: FastAPI) -> None:
    """Answer HTTP errors and invalid parameters with a Chinese page on the desk."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if wants_json(request):
            detail = error.detail
            if error.status_code == 404 and detail == "Not Found":
                detail = "接口不存在"
            elif error.status_code == 405 and detail == "Method Not Allowed":
                detail = "该接口不支持这种请求方式"
            return JSONResponse(
                {"detail": detail}, status_code=error.status_code, headers=error.headers
            )
        page = error_page(
            request,
            status_code=error.status_code,
            title=TITLES.get(error.status_code, "出错了"),
            message=_detail_text(error.status_code, error.detail),
        )
        for name, value in (error.headers or {}).items():
            page.headers[name] = value
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, error: RequestValidationError) -> Response:
        if wants_json(request):
            return await request_validation_exception_handler(request, error)
        problems = "；".join(dict.fromkeys(problem_text(p) for p in error.errors()))
        return error_page(
            request,
            status_code=422,
            title=TITLES[422],
            message=f"{problems}。请检查地址，或从工作台的页面重新进入。",
        )
