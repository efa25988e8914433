"""Desk pages (监测方案) and JSON API of schemes."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import render
from yuqing.schemes import backfill, service
from yuqing.schemes.highlight import highlight
from yuqing.schemes.models import Scheme
from yuqing.schemes.query import SchemeSyntaxError
from yuqing.schemes.schemas import (
    MODE_LABELS,
    SCOPE_LABELS,
    WORD_FIELDS,
    WORD_LABELS,
    QueryCheck,
    QueryIn,
    SchemeIn,
    SchemeOut,
    check_query,
)

router = APIRouter()
CanRead = Annotated[Principal, Depends(require("schemes.read"))]
CanManage = Annotated[Principal, Depends(require("schemes.manage"))]
PAGE_SIZE = 20


def _scheme_or_404(scheme_id: int, session: SessionDep) -> Scheme:
    scheme = service.get(session, scheme_id=scheme_id)
    if scheme is None:
        raise HTTPException(404, f"没有 ID 为 {scheme_id} 的监测方案")
    return scheme


CurrentScheme = Annotated[Scheme, Depends(_scheme_or_404)]


# --- desk -----------------------------------------------------------------------------


def _form_values(scheme: Scheme | None, session: Session) -> dict[str, Any]:
    if scheme is None:
        return {"mode": "simple", "scope": "both", "weight": "1", "enabled": True}
    out = service.to_out(session, scheme)
    values: dict[str, Any] = out.model_dump()
    for name in (*WORD_FIELDS, "exclude_words"):
        values[name] = " ".join(values[name])
    return values


def _editor(
    request: Request,
    session: Session,
    *,
    scheme: Scheme | None,
    form: dict[str, Any],
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "schemes/edit.html",
        {
            "nav": "schemes",
            "scheme": scheme,
            "form": form,
            "errors": errors or [],
            "groups": service.list_groups(session),
            "word_labels": WORD_LABELS,
            "scope_labels": SCOPE_LABELS,
            "mode_labels": MODE_LABELS,
            "check": check_query(form["query"]) if form.get("query") else None,
        },
        status_code=status_code,
    )


@router.get(
    "/schemes",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.read"))],
)
def schemes_page(request: Request, session: SessionDep) -> HTMLResponse:
    schemes = service.list_all(session)
    groups = service.list_groups(session)
    by_group: dict[int | None, list[Scheme]] = {}
    for scheme in schemes:
        by_group.setdefault(scheme.group_id, []).append(scheme)
    return render(
        request,
        "schemes/list.html",
        {
            "nav": "schemes",
            "groups": groups,
            "by_group": by_group,
            "counts": service.match_counts(session),
            "mode_labels": MODE_LABELS,
            "notice": request.query_params.get("notice"),
        },
    )


@router.get(
    "/schemes/new",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.manage"))],
)
def new_scheme_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _editor(request, session, scheme=None, form=_form_values(None, session))


@router.get(
    "/schemes/validate",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.read"))],
)
def validate_fragment(request: Request, query: str = "") -> HTMLResponse:
    """The live check under the query box (HTMX, as the user types)."""
    return render(
        request,
        "schemes/_check.html",
        {"check": check_query(query) if query.strip() else None, "query": query},
    )


def _scheme_in(values: dict[str, Any]) -> tuple[SchemeIn | None, list[str]]:
    try:
        return SchemeIn(**values), []
    except ValidationError as error:
        messages = []
        for problem in error.errors():
            where = str(problem["loc"][0]) if problem["loc"] else ""
            text = str(problem["msg"]).removeprefix("Value error, ")
            if where == "name":
                text = "请填写方案名称（最多 200 个字）。"
            elif where == "weight":
                text = "权重应为 0 到 100 之间的数。"
            messages.append(text)
        return None, messages


WordForm = Annotated[str, Form()]


def _posted(
    name: WordForm = "",
    group: WordForm = "",
    mode: WordForm = "simple",
    scope: WordForm = "both",
    weight: WordForm = "1",
    query: WordForm = "",
    subject_words: WordForm = "",
    region_words: WordForm = "",
    person_words: WordForm = "",
    event_words: WordForm = "",
    exclude_words: WordForm = "",
) -> dict[str, Any]:
    """The scheme editor's fields as posted (both the new and the edit form send them)."""
    return {
        "name": name,
        "group": group,
        "mode": mode,
        "scope": scope,
        "weight": weight,
        "query": query,
        "subject_words": subject_words,
        "region_words": region_words,
        "person_words": person_words,
        "event_words": event_words,
        "exclude_words": exclude_words,
    }


PostedScheme = Annotated[dict[str, Any], Depends(_posted)]


def _save(
    request: Request,
    session: Session,
    scheme: Scheme | None,
    form: dict[str, Any],
    principal: Principal,
) -> Response:
    scheme_in, errors = _scheme_in(form)
    if scheme_in is None:
        return _editor(request, session, scheme=scheme, form=form, errors=errors, status_code=422)
    if scheme is None:
        scheme = service.create(session, scheme_in=scheme_in, actor=principal.actor)
    else:
        scheme_in.enabled = scheme.enabled
        service.update(session, scheme=scheme, scheme_in=scheme_in, actor=principal.actor)
    session.commit()
    return RedirectResponse(f"/schemes/{scheme.id}?saved=1", status_code=303)


@router.post("/schemes", response_class=HTMLResponse, include_in_schema=False)
def create_scheme_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    form: PostedScheme,
) -> Response:
    return _save(request, session, None, form, principal)


@router.get(
    "/schemes/{scheme_id}/edit",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.manage"))],
)
def edit_scheme_page(request: Request, session: SessionDep, scheme: CurrentScheme) -> HTMLResponse:
    return _editor(request, session, scheme=scheme, form=_form_values(scheme, session))


@router.post("/schemes/{scheme_id}", response_class=HTMLResponse, include_in_schema=False)
def update_scheme_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    scheme: CurrentScheme,
    _csrf: CsrfChecked,
    form: PostedScheme,
) -> Response:
    return _save(request, session, scheme, form, principal)


@router.post("/schemes/{scheme_id}/enabled", include_in_schema=False)
def toggle_scheme(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    scheme: CurrentScheme,
    _csrf: CsrfChecked,
    enabled: WordForm = "",
) -> Response:
    try:
        service.set_enabled(session, scheme=scheme, enabled=enabled == "1", actor=principal.actor)
    except SchemeSyntaxError as error:
        notice = f"方案“{scheme.name}”的检索式需要先修改才能启用：{error.message}"
        return RedirectResponse(f"/schemes?{urlencode({'notice': notice})}", status_code=303)
    session.commit()
    state = "启用" if scheme.enabled else "停用"
    return RedirectResponse(f"/schemes?notice=已{state}方案“{scheme.name}”。", status_code=303)


@router.post("/schemes/{scheme_id}/delete", include_in_schema=False)
def delete_scheme(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    scheme: CurrentScheme,
    _csrf: CsrfChecked,
) -> Response:
    name = scheme.name
    service.remove(session, scheme=scheme, actor=principal.actor)
    session.commit()
    return RedirectResponse(f"/schemes?notice=已删除方案“{name}”。", status_code=303)


@router.get(
    "/schemes/{scheme_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.read"))],
)
def scheme_page(
    request: Request, session: SessionDep, scheme: CurrentScheme, page: int = 1
) -> HTMLResponse:
    page = max(1, min(page, 500))
    total, items = service.mentions_of(
        session, scheme_id=scheme.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    rows = [
        {
            "item": item,
            "title": highlight(item.title or "（无标题）", item.words),
            "text": highlight(" ".join(item.text.split()), item.words, limit=200),
        }
        for item in items
    ]
    return render(
        request,
        "schemes/detail.html",
        {
            "nav": "schemes",
            "scheme": scheme,
            "out": service.to_out(session, scheme),
            "rows": rows,
            "total": total,
            "page": page,
            "pages": total.pages(PAGE_SIZE),
            "job": backfill.job(scheme.id),
            "mode_labels": MODE_LABELS,
            "scope_labels": SCOPE_LABELS,
            "word_labels": WORD_LABELS,
            "saved": request.query_params.get("saved") == "1",
        },
    )


@router.post(
    "/schemes/{scheme_id}/backfill",
    include_in_schema=False,
    dependencies=[Depends(require("schemes.manage"))],
)
def start_backfill(request: Request, scheme: CurrentScheme, _csrf: CsrfChecked) -> Response:
    job = backfill.start_backfill(scheme.id)
    if request.headers.get("hx-request"):
        return render(request, "schemes/_backfill.html", {"job": job, "scheme": scheme})
    return RedirectResponse(f"/schemes/{scheme.id}", status_code=303)


@router.get(
    "/schemes/{scheme_id}/backfill",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("schemes.read"))],
)
def backfill_progress(request: Request, scheme: CurrentScheme) -> HTMLResponse:
    return render(
        request, "schemes/_backfill.html", {"job": backfill.job(scheme.id), "scheme": scheme}
    )


@router.get(
    "/schemes/mention/{mention_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require("mentions.read"))],
)
def mention_matches(request: Request, session: SessionDep, mention_id: int) -> HTMLResponse:
    """The schemes a mention matched (loaded into the mention page)."""
    return render(
        request,
        "schemes/_mention_matches.html",
        {"scheme_matches": service.matches_for_mention(session, mention_id), "loaded": True},
    )


# --- API ------------------------------------------------------------------------------


api = APIRouter(
    prefix="/api/v1/schemes",
    tags=["监测方案 schemes"],
    dependencies=[Depends(require("schemes.read"))],
)


def _syntax_422(error: SchemeSyntaxError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": error.as_dict()})


async def _api_scheme_in(request: Request) -> SchemeIn | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse(status_code=422, content={"detail": "请求体不是 JSON"})
    if not isinstance(body, dict):
        return JSONResponse(status_code=422, content={"detail": "请求体应为 JSON 对象"})
    if body.get("mode") == "advanced":
        check = check_query(str(body.get("query") or ""))
        if not check.ok:
            return JSONResponse(
                status_code=422, content={"detail": check.model_dump(exclude={"ok"})}
            )
    try:
        return SchemeIn(**body)
    except ValidationError as error:
        problems = [
            {
                "field": ".".join(map(str, p["loc"])),
                "message": str(p["msg"]).removeprefix("Value error, "),
            }
            for p in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": problems})


@api.get("", response_model=list[SchemeOut])
def api_list(session: SessionDep) -> list[SchemeOut]:
    return [service.to_out(session, s) for s in service.list_all(session)]


@api.post("/validate", response_model=QueryCheck)
def api_validate(query_in: QueryIn) -> Response:
    """Check a query: 200 ``{"ok": true}``, or 422 with position, expected and message."""
    check = check_query(query_in.query)
    if not check.ok:
        return JSONResponse(status_code=422, content={"detail": check.model_dump(exclude={"ok"})})
    return JSONResponse(content=check.model_dump())


@api.post("", status_code=201, response_model=SchemeOut)
async def api_create(request: Request, session: SessionDep, principal: CanManage) -> Any:
    scheme_in = await _api_scheme_in(request)
    if isinstance(scheme_in, JSONResponse):
        return scheme_in
    scheme = service.create(session, scheme_in=scheme_in, actor=principal.actor)
    session.commit()
    return JSONResponse(
        status_code=201, content=service.to_out(session, scheme).model_dump(mode="json")
    )


@api.get("/{scheme_id}", response_model=SchemeOut)
def api_get(session: SessionDep, scheme: CurrentScheme) -> SchemeOut:
    return service.to_out(session, scheme)


@api.put("/{scheme_id}", response_model=SchemeOut)
async def api_update(
    request: Request, session: SessionDep, principal: CanManage, scheme: CurrentScheme
) -> Any:
    scheme_in = await _api_scheme_in(request)
    if isinstance(scheme_in, JSONResponse):
        return scheme_in
    service.update(session, scheme=scheme, scheme_in=scheme_in, actor=principal.actor)
    session.commit()
    return service.to_out(session, scheme)


@api.delete("/{scheme_id}", status_code=204)
def api_delete(session: SessionDep, principal: CanManage, scheme: CurrentScheme) -> Response:
    service.remove(session, scheme=scheme, actor=principal.actor)
    session.commit()
    return Response(status_code=204)


router.include_router(api)
