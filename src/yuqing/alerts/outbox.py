"""The one place alerts hand messages to the notification outbox (``yuqing.notify``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from yuqing.alerts.schemas import Explanation, RecipientRef
from yuqing.notify.models import Notification
from yuqing.notify.schemas import Message, MessageItem, Recipient

SOURCE_TYPE = "alert"


def message_of(
    title: str, level: str, explanations: Sequence[Explanation], link: str | None
) -> Message:
    """The message of one alert, or a digest of several: the reason first, then the items."""
    lines: list[str] = []
    words: list[str] = []
    items: list[MessageItem] = []
    for explanation in explanations:
        lines.append(f"规则：{explanation.rule}。{explanation.summary}")
        for number in explanation.numbers:
            extra = f"（基线 {number.baseline}）" if number.baseline is not None else ""
            bar = f"（阈值 {number.bar}）" if number.bar else ""
            lines.append(f"· {number.label}：{number.value}{extra}{bar}")
        if explanation.words and len(explanations) == 1:
            lines.append(f"关键词：{'、'.join(explanation.words)}")
        if explanation.sources and len(explanations) == 1:
            lines.append(f"来源：{'、'.join(explanation.sources)}")
        words.extend(explanation.words)
        for sample in explanation.items:
            items.append(
                MessageItem(
                    title=sample.title or "（无标题）",
                    url=sample.url or "",
                    snippet=sample.snippet,
                    source=sample.source,
                    published_at=sample.published_at,
                )
            )
    return Message(
        title=title,
        text="\n".join(lines),
        items=items,
        highlight=list(dict.fromkeys(words))[:20],
        level=level,
        link=link,
    )


def enqueue(
    session: Session,
    *,
    message: Message,
    recipients: Sequence[RecipientRef],
    dedupe_key: str,
    alert_id: int,
    not_before: datetime | None,
) -> int:
    """Write the outbox rows in the caller's transaction; returns how many were written."""
    from yuqing.notify import service

    rows = service.enqueue(
        session,
        message=message,
        recipients=[Recipient(kind=r.kind, id=r.id) for r in recipients],
        dedupe_key=dedupe_key,
        source_type=SOURCE_TYPE,
        source_id=alert_id,
        not_before=not_before,
    )
    return len(rows)


def list_deliveries(session: Session, *, alert_ids: Sequence[int]) -> dict[int, list[Notification]]:
    """The outbox rows of alerts (by the alert that carried them), for the desk."""
    from yuqing.notify import service

    return service.list_for_sources(session, source_type=SOURCE_TYPE, source_ids=list(alert_ids))


def list_new_in_inbox(
    session: Session, *, user_id: int, after: int | None, limit: int = 5
) -> tuple[int, list[Notification]]:
    """An account's unread alert messages in the desk inbox newer than ``after`` (an inbox
    row id), newest first, and the newest such id (the cursor of the desk's toasts). Without
    ``after`` only the cursor: a page that has just opened does not toast old alerts."""
    from yuqing.notify import service

    return service.list_unread_after(
        session, user_id=user_id, source_type=SOURCE_TYPE, after=after, limit=limit
    )
