"""Routes of analysis: an analyst corrects a mention's sentiment (人工校正), the 标注 queue,
and the model page (versions, retraining, rollback, sensitivity, complaint lexicon)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.analysis import sentiment, service
from yuqing.analysis.labelled import LabelledFileError
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, render

router = APIRouter(include_in_schema=False)
CanLabel = Annotated[Principal, Depends(require("mentions.label"))]
CanManageModels = Annotated[Principal, Depends(require("models.manage"))]
QUEUE_PAGE = 20


@router.post("/mentions/{mention_id}/sentiment", response_model=None)
def correct_sentiment(
    request: Request,
    mention_id: int,
    session: SessionDep,
    principal: CanLabel,
    _csrf: CsrfChecked,
    label: Annotated[str, Form()] = "",
    emotion: Annotated[str, Form()] = "",
) -> Response | HTMLResponse:
    """Store the analyst's label; back to the mention page."""
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


@router.get("/labelling", response_class=HTMLResponse)
def labelling_page(request: Request, session: SessionDep, principal: CanLabel) -> HTMLResponse:
    """The 标注 queue: least-sure and high-risk unlabelled items first."""
    return render(
        request,
        "analysis/labelling.html",
        {
            "nav": "labelling",
            "items": service.queue(session, limit=QUEUE_PAGE),
            "progress": service.progress(session),
            "recent": service.recent_labels(session, limit=15),
            "model": sentiment.get_sentiment_model(),
        },
    )


@router.post("/labelling", response_model=None)
def label_batch(
    request: Request,
    session: SessionDep,
    principal: CanLabel,
    _csrf: CsrfChecked,
    label: Annotated[str, Form()] = "",
    mention_id: Annotated[list[int] | None, Form()] = None,
    single: Annotated[str, Form()] = "",
) -> Response | HTMLResponse:
    """Label the chosen items (a batch), or the one item whose button was pressed
    (``single=<id>:<label>``), and come back to the queue."""
    one, _, one_label = single.partition(":")
    if one.isdigit():
        mention_id, label = [int(one)], one_label
    if not mention_id:
        return error_page(
            request, status_code=422, title="没有选中信息", message="请先选中要标注的信息。"
        )
    try:
        service.record_labels(session, mention_ids=mention_id, label=label, actor=principal.actor)
    except service.MentionNotFound as error:
        return error_page(request, status_code=404, title="找不到信息", message=str(error))
    except service.LabelError as error:
        return error_page(request, status_code=422, title="标签无效", message=str(error))
    session.commit()
    return RedirectResponse("/labelling", status_code=303)


def _models_page(
    request: Request, session: Session, *, message: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    figures, labelled = service.sensitivity_figures(session)
    versions = service.list_versions(session)
    response = render(
        request,
        "analysis/models.html",
        {
            "nav": "labelling",
            "model": sentiment.get_sentiment_model(),
            "sensitivity": sentiment.current_sensitivity(),
            "figures": figures,
            "labelled": labelled,
            "versions": versions,
            "version_figures": {v.id: _figures(v.figures) for v in versions},
            "complaint_words": "\n".join(service.complaint_words()),
            "progress": service.progress(session),
            "message": message,
            "error": error,
        },
    )
    response.status_code = status
    return response


def _figures(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, session: SessionDep, principal: CanManageModels) -> HTMLResponse:
    """Model versions and their figures, sensitivity, the complaint lexicon."""
    return _models_page(request, session)


@router.post("/models/train", response_model=None)
def retrain(
    request: Request, session: SessionDep, principal: CanManageModels, _csrf: CsrfChecked
) -> Response | HTMLResponse:
    """Retrain from the labels now (the 重新训练 button)."""
    try:
        report = service.train(session, files=[], actor=principal.actor, trigger="button")
    except (LabelledFileError, sentiment.TrainingDataError) as error:
        return _models_page(request, session, error=str(error))
    session.commit()
    name = f"v{report.version.id}" if report.version else "新模型"
    if report.accepted:
        message = (
            f"{name} 胜过了当前模型（留出部分宏平均 F1 {report.candidate.macro_f1:.3f}），"
            "已用全部标注重新拟合并启用。"
        )
    else:
        current = report.current.macro_f1 if report.current else 0.0
        message = (
            f"{name} 没有胜过当前模型（{report.candidate.macro_f1:.3f} 对 {current:.3f}），未启用。"
        )
    return _models_page(request, session, message=message)


@router.post("/models/activate", response_model=None)
def activate(
    request: Request,
    session: SessionDep,
    principal: CanManageModels,
    _csrf: CsrfChecked,
    version: Annotated[str, Form()] = "",
) -> Response | HTMLResponse:
    """Put a kept version (or the shipped model, ``version=shipped``) back in use."""
    version_id = None if version == "shipped" else _int(version)
    if version != "shipped" and version_id is None:
        return error_page(
            request, status_code=422, title="版本无效", message="请选择一个模型版本。"
        )
    try:
        name = service.activate(session, version_id=version_id, actor=principal.actor)
    except service.VersionNotFound as error:
        return error_page(request, status_code=404, title="找不到模型版本", message=str(error))
    except service.VersionError as error:
        return _models_page(request, session, error=str(error), status=422)
    session.commit()
    return _models_page(request, session, message=f"已改用 {name}。之后收录的信息由它判断。")


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@router.post("/models/settings", response_model=None)
def save_settings(
    request: Request,
    session: SessionDep,
    principal: CanManageModels,
    _csrf: CsrfChecked,
    sensitivity: Annotated[str, Form()] = "",
    complaint_words: Annotated[str | None, Form()] = None,
) -> Response | HTMLResponse:
    """Store the sensitivity and, when given, the complaint lexicon."""
    try:
        if sensitivity:
            service.set_sensitivity(session, sensitivity=sensitivity, actor=principal.actor)
        if complaint_words is not None:
            service.set_complaint_words(
                session, words=complaint_words.splitlines(), actor=principal.actor
            )
    except service.LabelError as error:
        return _models_page(request, session, error=str(error), status=422)
    session.commit()
    return _models_page(request, session, message="已保存。之后收录的信息按新设置判断。")
