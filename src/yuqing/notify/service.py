"""The outbox (通知发件箱): resolve recipients to deliveries, the desk inbox, channel settings.

``enqueue`` writes rows in the caller's transaction and never commits, so a notification
exists exactly when the alert that caused it does; the worker sends them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.timeutil import utcnow
from yuqing.notify.channels import (
    CHANNEL_KINDS,
    SENDERS,
    Delivery,
    DeliveryError,
    with_public_links,
)
from yuqing.notify.models import Channel, Notification
from yuqing.notify.schemas import Message, Recipient
from yuqing.org import service as org
from yuqing.org.models import Person
from yuqing.system.service import get_public_url

INBOX = "inbox"
EMAIL = "email"
STATE_LABELS = {
    "pending": "待发送",
    "sending": "发送中",
    "retry": "等待重试",
    "delivered": "已送达",
    "failed": "发送失败",
}


class ChannelError(ValueError):
    """A channel form that cannot be saved; the message names the field, in Chinese."""


@dataclass(frozen=True)
class _Address:
    channel: str
    target: str
    channel_id: int | None = None
    user_id: int | None = None


def _people(session: Session, recipients: list[Recipient]) -> list[Person]:
    """Active people named by person, unit and role recipients (each once)."""
    return org.list_active_people(
        session,
        person_ids={r.id for r in recipients if r.kind == "person"},
        unit_ids={r.id for r in recipients if r.kind == "unit"},
        duty_role_ids={r.id for r in recipients if r.kind == "role"},
    )


def _addresses(
    session: Session, people: list[Person], recipients: list[Recipient]
) -> list[_Address]:
    found: dict[tuple[str, str], _Address] = {}

    def add(address: _Address) -> None:
        found.setdefault((address.channel, address.target), address)

    for person in people:
        if person.email and person.email.strip():
            add(_Address(EMAIL, person.email.strip().lower()))
    for user_id in auth.list_active_user_ids(session, person_ids=[p.id for p in people]):
        add(_Address(INBOX, f"user:{user_id}", user_id=user_id))
    channel_ids = [r.id for r in recipients if r.kind == "channel"]
    if channel_ids:
        statement = select(Channel).where(Channel.id.in_(channel_ids), Channel.enabled.is_(True))
        for channel in session.execute(statement.order_by(Channel.id)).scalars():
            add(_Address(channel.kind, f"channel:{channel.id}", channel_id=channel.id))
    return list(found.values())


def enqueue(
    session: Session,
    *,
    message: Message,
    recipients: list[Recipient],
    dedupe_key: str | None = None,
    source_type: str = "",
    source_id: int | None = None,
    not_before: datetime | None = None,
) -> list[Notification]:
    """Write one outbox row per (channel, address) in the caller's transaction (no commit).

    A row whose (dedupe_key, channel, target) exists already is skipped, so the same item
    or event never goes twice to the same address. ``not_before`` (quiet hours; naive means
    UTC, as stored) holds sending until then; desk inbox rows are silent and show at once. Group robots @ the
    people's mobiles only on urgent messages."""
    people = _people(session, recipients)
    addresses = _addresses(session, people, recipients)
    if not addresses:
        return []
    now = utcnow()
    due = max(now, _naive_utc(not_before)) if not_before else now
    mobiles = ""
    if message.level == "urgent":
        mobiles = " ".join(
            dict.fromkeys(p.phone.strip() for p in people if p.phone and p.phone.strip())
        )
    common = {
        "dedupe_key": dedupe_key,
        "source_type": source_type,
        "source_id": source_id,
        "level": message.level,
        "title": message.title[:300],
        "payload": message.model_dump_json(),
        "attempts": 0,
        "created_at": now,
    }
    rows = [
        {
            **common,
            "channel": a.channel,
            "target": a.target[:300],
            "channel_id": a.channel_id,
            "user_id": a.user_id,
            "mobiles": mobiles if a.channel_id is not None else "",
            "state": "delivered" if a.channel == INBOX else "pending",
            "delivered_at": now if a.channel == INBOX else None,
            "next_attempt_at": now if a.channel == INBOX else due,
        }
        for a in addresses
    ]
    return _insert_new(session, rows)


def enqueue_for_accounts(
    session: Session,
    *,
    message: Message,
    user_ids: list[int],
    dedupe_key: str | None = None,
    source_type: str = "",
    source_id: int | None = None,
) -> list[Notification]:
    """Tell these accounts (e.g. the administrators): each one's desk inbox, and the e-mail
    of the person the account belongs to; in the caller's transaction (no commit)."""
    from yuqing.auth.models import User

    ids = sorted(set(user_ids))
    if not ids:
        return []
    person_ids = [
        int(p)
        for p in session.execute(select(User.person_id).where(User.id.in_(ids))).scalars()
        if p is not None
    ]
    people = org.list_active_people(
        session, person_ids=set(person_ids), unit_ids=set(), duty_role_ids=set()
    )
    addresses = [a for a in _addresses(session, people, []) if a.channel == EMAIL]
    addresses += [_Address(INBOX, f"user:{u}", user_id=u) for u in ids]
    now = utcnow()
    rows = [
        {
            "dedupe_key": dedupe_key,
            "source_type": source_type,
            "source_id": source_id,
            "level": message.level,
            "title": message.title[:300],
            "payload": message.model_dump_json(),
            "attempts": 0,
            "created_at": now,
            "channel": a.channel,
            "target": a.target[:300],
            "channel_id": None,
            "user_id": a.user_id,
            "mobiles": "",
            "state": "delivered" if a.channel == INBOX else "pending",
            "delivered_at": now if a.channel == INBOX else None,
            "next_attempt_at": now,
        }
        for a in addresses
    ]
    return _insert_new(session, rows)


def count_reachable(session: Session, *, recipients: list[Recipient]) -> int:
    """How many addresses (e-mail, desk inbox, enabled channels) ``recipients`` reach now:
    0 means a message for them would go nowhere."""
    return len(_addresses(session, _people(session, recipients), recipients))


def _naive_utc(value: datetime) -> datetime:
    """Naive times are UTC, as stored everywhere; aware ones are converted."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[Notification]:
    """Insert rows, skipping those the unique index already holds (also when another
    transaction inserts the same key at the same moment)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    ids: list[int] = []
    for row in rows:
        statement = (
            dialect.insert(Notification)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["dedupe_key", "channel", "target"])
            .returning(Notification.id)
        )
        inserted = session.execute(statement).scalar()
        if inserted is not None:
            ids.append(int(inserted))
    if not ids:
        return []
    found = select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
    return list(session.execute(found).scalars())


def message_of(row: Notification) -> Message:
    return Message.model_validate_json(row.payload)


# --- the desk inbox ---------------------------------------------------------------------


def count_unread(session: Session, *, user_id: int) -> int:
    """Unread inbox messages of an account (the top bar's badge)."""
    statement = select(func.count()).where(
        Notification.channel == INBOX,
        Notification.user_id == user_id,
        Notification.read_at.is_(None),
    )
    return int(session.execute(statement).scalar_one())


def list_inbox(
    session: Session, *, user_id: int, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """An account's inbox, newest first."""
    statement = (
        select(Notification)
        .where(Notification.channel == INBOX, Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.execute(statement).scalars())


def open_inbox_item(session: Session, *, user_id: int, notification_id: int) -> Notification | None:
    """One inbox message of this account (None for anyone else's), marked read."""
    row = session.get(Notification, notification_id)
    if row is None or row.channel != INBOX or row.user_id != user_id:
        return None
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def list_unread_after(
    session: Session, *, user_id: int, source_type: str, after: int | None, limit: int = 5
) -> tuple[int, list[Notification]]:
    """An account's unread inbox messages of one kind (alerts …) newer than ``after`` (an
    inbox row id), newest first, and the newest such id: the cursor of the desk's toasts.
    Without ``after`` only the cursor."""
    mine = (
        Notification.channel == INBOX,
        Notification.user_id == user_id,
        Notification.source_type == source_type,
    )
    last = int(session.scalar(select(func.max(Notification.id)).where(*mine)) or 0)
    if after is None or after >= last:
        return last, []
    query = (
        select(Notification)
        .where(*mine, Notification.id > after, Notification.read_at.is_(None))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return last, list(session.scalars(query))


def mark_all_read(session: Session, *, user_id: int) -> int:
    rows = session.execute(
        select(Notification).where(
            Notification.channel == INBOX,
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
        )
    ).scalars()
    now = utcnow()
    count = 0
    for row in rows:
        row.read_at = now
        count += 1
    return count


# --- group channels ---------------------------------------------------------------------


def mask(secret: str) -> str:
    """A secret as the desk shows it: its last four characters only."""
    if not secret:
        return ""
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


def masked_url(url: str) -> str:
    """A robot URL without its key/token (the query and the path's last part carry it)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    path = parts.path
    # Feishu's /hook/<key>, and webhooks whose long last part is the token (Slack-style).
    if "/hook/" in path or len(path.rsplit("/", 1)[-1]) >= 16:
        path = path.rsplit("/", 1)[0] + "/••••"
    query = "••••" if parts.query else ""
    netloc = parts.netloc.rsplit("@", 1)
    host = "••••@" + netloc[1] if len(netloc) == 2 else parts.netloc  # user:password@
    return parts._replace(netloc=host, path=path, query=query).geturl()


def list_channels(session: Session) -> list[Channel]:
    return list(session.execute(select(Channel).order_by(Channel.id)).scalars())


def get_channel(session: Session, *, channel_id: int) -> Channel | None:
    return session.get(Channel, channel_id)


def _check_channel(kind: str, name: str, url: str) -> None:
    if kind not in CHANNEL_KINDS:
        raise ChannelError(f"渠道类型“{kind}”无效，可选：{'、'.join(CHANNEL_KINDS.values())}。")
    if not name.strip() or len(name) > 100:
        raise ChannelError("请填写渠道名称（最多 100 个字符）。")
    if kind == EMAIL:
        if "@" not in url:
            raise ChannelError(f"邮箱地址无效：{url or '（空）'}。")
    elif not url.startswith(("https://", "http://")):
        raise ChannelError("请填写以 https:// 开头的机器人或 Webhook 地址。")


def create_channel(
    session: Session, *, kind: str, name: str, url: str, secret: str, actor: Actor
) -> Channel:
    """Add a group channel (audited; the secret itself never enters the audit log)."""
    url, secret = url.strip(), secret.strip()
    _check_channel(kind, name, url)
    channel = Channel(kind=kind, name=name.strip(), url=url, secret=secret, enabled=True)
    session.add(channel)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        object_type="notify_channel",
        object_id=channel.id,
        summary=f"新建通知渠道“{channel.name}”（{CHANNEL_KINDS[kind]}）",
        changes={"url": [None, masked_url(url)], "secret": [None, "已设置" if secret else ""]},
    )
    return channel


def update_channel_enabled(
    session: Session, *, channel: Channel, enabled: bool, actor: Actor
) -> None:
    if channel.enabled == enabled:
        return
    channel.enabled = enabled
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="notify_channel",
        object_id=channel.id,
        summary=f"{'启用' if enabled else '停用'}通知渠道“{channel.name}”",
        changes={"enabled": [not enabled, enabled]},
    )


def delivery_for_channel(
    channel: Channel, *, key: str, message: Message, mobiles: list[str]
) -> Delivery:
    return Delivery(
        key=key, message=message, target=channel.url, secret=channel.secret, mobiles=mobiles
    )


def record_channel_result(channel: Channel, error: str | None) -> None:
    """Keep the channel's health in plain words: last success, last error."""
    if error is None:
        channel.last_success_at = utcnow()
        channel.last_error = None
    else:
        channel.last_error = error
        channel.last_error_at = utcnow()


def send_test(session: Session, *, channel: Channel, actor: Actor) -> str | None:
    """Send a test message now (not through the outbox); ``None`` on success, else the
    reason. The result is kept on the channel and audited."""
    from yuqing.core.settings import get_settings

    message = with_public_links(
        Message(
            title="舆情工作台测试消息",
            text=f"这是一条来自舆情工作台的测试消息，用于确认渠道“{channel.name}”可以收到通知。",
            level="info",
            link="/notify/channels",
        ),
        get_public_url(session).url,
    )
    key = f"test-{channel.id}-{int(utcnow().timestamp())}"
    try:
        SENDERS[channel.kind].send(
            delivery_for_channel(channel, key=key, message=message, mobiles=[]), get_settings()
        )
        error = None
    except DeliveryError as failure:
        error = failure.reason
    record_channel_result(channel, error)
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="notify_channel",
        object_id=channel.id,
        summary=f"测试通知渠道“{channel.name}”：{'成功' if error is None else error}",
    )
    return error


def count_outbox_by_state(session: Session) -> dict[str, int]:
    """Rows per state (inbox rows left out: they are never sent)."""
    statement = (
        select(Notification.state, func.count())
        .where(Notification.channel != INBOX)
        .group_by(Notification.state)
    )
    return {str(state): int(n) for state, n in session.execute(statement)}


def list_recent_problems(session: Session, *, limit: int = 20) -> list[Notification]:
    """Rows that failed or wait for a retry, newest first (for the channels page)."""
    statement = (
        select(Notification)
        .where(Notification.state.in_(("retry", "failed")))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


# --- deliveries as the desk shows them --------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    """One outbox row in the desk's words: how it goes (企业微信群机器人, 邮件, 站内消息),
    to whom (the channel's name, the address, the account's name) and its state."""

    id: int
    state: str
    state_label: str
    how: str
    to: str
    personal: bool  # an e-mail address or an account: shown to managers only
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def list_for_sources(
    session: Session, *, source_type: str, source_ids: list[int]
) -> dict[int, list[Notification]]:
    """The outbox rows of some alerts, reports …, by the id of what they carry."""
    found: dict[int, list[Notification]] = {}
    if not source_ids:
        return found
    statement = (
        select(Notification)
        .where(Notification.source_type == source_type, Notification.source_id.in_(source_ids))
        .order_by(Notification.id)
    )
    for row in session.execute(statement).scalars():
        found.setdefault(int(row.source_id or 0), []).append(row)
    return found


def describe(session: Session, *, rows: list[Notification]) -> list[DeliveryView]:
    """``rows`` named as people read them, never as ``webhook channel:1``."""
    channel_ids = {r.channel_id for r in rows if r.channel_id is not None}
    user_ids = {r.user_id for r in rows if r.user_id is not None}
    channels = (
        {
            c.id: c
            for c in session.execute(select(Channel).where(Channel.id.in_(channel_ids))).scalars()
        }
        if channel_ids
        else {}
    )
    users = auth.list_user_names(session, user_ids=user_ids)
    views = []
    for row in rows:
        if row.channel_id is not None:
            channel = channels.get(row.channel_id)
            how = CHANNEL_KINDS.get(row.channel, row.channel)
            to, personal = (channel.name if channel else "已删除的渠道"), False
        elif row.channel == INBOX:
            how, to, personal = "站内消息", users.get(row.user_id or 0, "已删除的账号"), True
        else:
            how, to, personal = "邮件", row.target, True
        views.append(
            DeliveryView(
                id=row.id,
                state=row.state,
                state_label=STATE_LABELS.get(row.state, row.state),
                how=how,
                to=to,
                personal=personal,
                last_error=row.last_error,
                next_attempt_at=row.next_attempt_at,
                delivered_at=row.delivered_at,
                created_at=row.created_at,
            )
        )
    return views
