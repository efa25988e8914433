"""Routes of analysis: an analyst corrects a mention's sentiment (人工校正)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.analysis import service
from yuqing.auth.deps import require
from yuqing.auth.service import Principal
from yuqing.core.database import SessionDep
from yuqing.web.csrf import CsrfProblem
from yuqing.web.templating import error_page

router = APIRouter(include_in_schema=False)


@router.post("/mentions/{mention_id}/sentiment", response_model=None)
def correct_sentiment(
    request: Request,
    mention_id: int,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require("mentions.label"))],
    problem: CsrfProblem,
    label: Annotated[str, Form()] = "",
    emotion: Annotated[str, Form()] = "",
) -> Response | HTMLResponse:
    """Store the analyst's label; back to the mention page."""
    if problem:
        return error_page(request, status_code=403, title="请求被拒绝", message=problem)
    try:
        service.record_label(
            session,
            mention_id=mention_id,
            label=label,
            emotion=emotion or None,
            actor=principal.actor,
        )
    except service.MentionNotFound as error:
        return error_page(request, status_code=404, title="找不到信息", message=str(error))
    except service.LabelError as error:
        return error_page(request, status_code=422, title="标签无效", message=str(error))
    session.commit()
    return RedirectResponse(f"/mentions/{mention_id}#sentiment", status_code=303)
