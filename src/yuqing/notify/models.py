"""Tables of notifications: configured group channels and the outbox (one row per delivery)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class Channel(Base):
    """A configured group channel (通知渠道): a WeCom/DingTalk/Feishu group robot, a JSON
    webhook or a shared mailbox. Its health is kept in plain words for the desk."""

    __tablename__ = "notify_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # wecom | dingtalk | feishu | webhook | email
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text, default="")  # robot/webhook URL or e-mail address
    secret: Mapped[str] = mapped_column(Text, default="")  # signing secret; shown masked
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)


class Notification(Base):
    """One delivery of a message to one address (通知发件箱): a group channel, an e-mail
    address or a desk inbox. Written in the caller's transaction, sent by the worker."""

    __tablename__ = "notification"
    __table_args__ = (
        # The same alert/event never goes twice to the same address (NULL keys never clash).
        Index("ux_notification_dedupe", "dedupe_key", "channel", "target", unique=True),
        Index("ix_notification_due", "state", "next_attempt_at"),
        Index("ix_notification_inbox", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # a Channel kind, "email" or "inbox"
    target: Mapped[str] = mapped_column(String(300))  # "channel:3", "a@b.cn", "user:7"
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_channel.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(40), default="")
    source_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(10), default="info")
    title: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)  # the Message as JSON
    mobiles: Mapped[str] = mapped_column(Text, default="")  # space-separated, for @ on urgent
    # pending → sending → delivered; sending → retry → sending …; → failed after the last try.
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)  # inbox rows: when opened
