"""What callers hand to the outbox: a message and its recipients."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Level = Literal["info", "warning", "urgent"]
RecipientKind = Literal["person", "unit", "role", "channel"]
LEVEL_LABELS = {"info": "提示", "warning": "预警", "urgent": "紧急"}


class MessageItem(BaseModel):
    """One collected item quoted in a message."""

    title: str
    url: str = ""
    snippet: str = ""
    source: str = ""
    published_at: datetime | None = None


class Message(BaseModel):
    """A notification message, rendered by each channel in its own format."""

    title: str
    text: str = ""  # plain text, several lines
    items: list[MessageItem] = Field(default_factory=list)
    highlight: list[str] = Field(default_factory=list)  # words marked in HTML e-mail
    level: Level = "info"
    link: str | None = None  # the desk page of the alert/event (a desk path until sent)
    link_label: str = "在工作台查看"


class Recipient(BaseModel):
    """Who gets it: a person, a unit's people, the holders of a duty role, or a group
    channel (``id`` is the Person, Unit, DutyRole or Channel id)."""

    kind: RecipientKind
    id: int
