"""Desk pages of notifications: the inbox (收件箱) with its unread badge, and the group
channels (通知渠道) page to add, test, enable and disable channels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import SignedIn, require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.notify import service
from yuqing.notify.channels import CHANNEL_KINDS
from yuqing.notify.models import Channel, Notification
from yuqing.notify.service import DeliveryView
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, found_or_404, render
from yuqing.system.service import get_public_url

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(require("notify.manage"))]
PAGE_SIZE = 50


# --- inbox ------------------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request, session: SessionDep, principal: SignedIn, page: int = 1
) -> HTMLResponse:
    page = max(1, page)
    rows = service.list_inbox(
        session, user_id=principal.user_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "notify/inbox.html",
        {
            "nav": "inbox",
            "rows": [(row, service.message_of(row)) for row in rows[:PAGE_SIZE]],
            "unread": service.count_unread(session, user_id=principal.user_id),
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
        },
    )


@router.get("/inbox/badge", response_class=HTMLResponse)
def inbox_badge(request: Request, session: SessionDep, principal: SignedIn) -> HTMLResponse:
    """The top bar's inbox link with the unread count (HTMX polls it every 10 s)."""
    return render(
        request,
        "notify/_badge.html",
        {"unread": service.count_unread(session, user_id=principal.user_id), "polled": True},
    )


@router.get("/inbox/{notification_id}", response_class=HTMLResponse)
def inbox_item(
    request: Request, session: SessionDep, principal: SignedIn, notification_id: int
) -> HTMLResponse:
    """Open one message; opening marks it read."""
    row = service.open_inbox_item(
        session, user_id=principal.user_id, notification_id=notification_id
    )
    if row is None:
        return error_page(
            request, status_code=404, title="找不到这条消息", message="该消息不存在或不属于您。"
        )
    session.commit()
    return render(
        request,
        "notify/message.html",
        {"nav": "inbox", "row": row, "message": service.message_of(row)},
    )


@router.post("/inbox/read-all", response_class=HTMLResponse)
def read_all(
    request: Request, session: SessionDep, principal: SignedIn, _csrf: CsrfChecked
) -> Response:
    service.mark_all_read(session, user_id=principal.user_id)
    session.commit()
    return RedirectResponse("/inbox", status_code=303)


# --- group channels ---------------------------------------------------------------------


def _channels_page(
    request: Request,
    session: Session,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    notice_ok: bool = True,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "notify/channels.html",
        {
            "nav": "alerts",
            "channels": service.list_channels(session),
            "kinds": CHANNEL_KINDS,
            "mask": service.mask,
            "masked_url": service.masked_url,
            "summary": service.count_outbox_by_state(session),
            "state_labels": service.STATE_LABELS,
            "problems": _named(session, service.list_recent_problems(session)),
            "public_url": get_public_url(session).url,
            "form": form or {"kind": "wecom"},
            "error": error,
            "notice": notice,
            "notice_ok": notice_ok,
        },
        status_code=status_code,
    )


def _named(session: Session, rows: list[Notification]) -> list[tuple[Notification, DeliveryView]]:
    """Outbox rows with the channel's name, the address or the account they go to."""
    return list(zip(rows, service.describe(session, rows=rows), strict=True))


@router.get("/notify/channels", response_class=HTMLResponse)
def channels_page(request: Request, session: SessionDep, principal: Manager) -> HTMLResponse:
    notice = None
    added = request.query_params.get("added", "")
    if added.isdigit() and (channel := service.get_channel(session, channel_id=int(added))):
        notice = f"已添加通知渠道“{channel.name}”。"
    return _channels_page(request, session, notice=notice)


@router.post("/notify/channels", response_class=HTMLResponse)
def add_channel(
    request: Request,
    session: SessionDep,
    principal: Manager,
    _csrf: CsrfChecked,
    kind: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
) -> Response:
    try:
        channel = service.create_channel(
            session, kind=kind, name=name, url=url, secret=secret, actor=principal.actor
        )
    except service.ChannelError as error:
        session.rollback()
        form = {"kind": kind, "name": name, "url": url}  # the secret is not echoed back
        return _channels_page(request, session, form=form, error=str(error), status_code=422)
    session.commit()
    return RedirectResponse(f"/notify/channels?added={channel.id}", status_code=303)


def _channel_or_404(request: Request, session: Session, channel_id: int) -> Channel | HTMLResponse:
    return found_or_404(
        request,
        service.get_channel(session, channel_id=channel_id),
        title="找不到这个通知渠道",
        message=f"编号为 {channel_id} 的通知渠道不存在。",
    )


@router.post("/notify/channels/{channel_id}/test", response_class=HTMLResponse)
def test_channel(
    request: Request,
    session: SessionDep,
    principal: Manager,
    _csrf: CsrfChecked,
    channel_id: int,
) -> Response:
    channel = _channel_or_404(request, session, channel_id)
    if not isinstance(channel, Channel):
        return channel
    error = service.send_test(session, channel=channel, actor=principal.actor)
    session.commit()
    notice = (
        f"测试消息已发到“{channel.name}”。"
        if error is None
        else f"“{channel.name}”测试失败：{error}"
    )
    return _channels_page(request, session, notice=notice, notice_ok=error is None)


@router.post("/notify/channels/{channel_id}/enabled", response_class=HTMLResponse)
def toggle_channel(
    request: Request,
    session: SessionDep,
    principal: Manager,
    _csrf: CsrfChecked,
    channel_id: int,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    channel = _channel_or_404(request, session, channel_id)
    if not isinstance(channel, Channel):
        return channel
    service.update_channel_enabled(
        session, channel=channel, enabled=enabled == "1", actor=principal.actor
    )
    session.commit()
    return RedirectResponse(f"/notify/channels#channel-{channel.id}", status_code=303)
