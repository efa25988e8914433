"""Helpers for alert tests: ingest through the whole pipeline (its last stage raises alerts), make rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts import service
from yuqing.alerts.models import AlertRule
from yuqing.alerts.schemas import RuleIn
from yuqing.notify.models import Channel, Notification
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult
from yuqing.worker import pipeline


def ingest(session: Session, source: Source, *texts: str, **extra: Any) -> IngestResult:
    items = [
        {"title": text[:20], "text": text, "url": f"https://example.cn/{abs(hash(text))}", **extra}
        for text in texts
    ]
    return pipeline.process(session, source=source, items=items)  # the alert stage runs last


@pytest.fixture
def channel(session: Session) -> Channel:
    row = Channel(kind="wecom", name="舆情值班群", url="http://127.0.0.1:9/robot")
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def make_rule(session: Session, channel: Channel) -> Callable[..., AlertRule]:
    def make(kind: str = "scheme_hit", **values: Any) -> AlertRule:
        values.setdefault("recipients", [{"kind": "channel", "id": channel.id}])
        rule = service.create_rule(
            session, rule_in=RuleIn(name=values.pop("name", f"{kind} 规则"), kind=kind, **values)
        )
        session.commit()
        return rule

    return make


def make_scheme(session: Session, name: str, *words: str) -> int:
    scheme = schemes.create(session, scheme_in=SchemeIn(name=name, subject_words=list(words)))
    session.commit()
    return scheme.id


def notifications(session: Session) -> list[Notification]:
    return list(session.scalars(select(Notification).order_by(Notification.id)))
