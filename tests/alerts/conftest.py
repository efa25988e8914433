"""Helpers for alert tests: ingest through the pipeline with the alert stage, make rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts import flows, service
from yuqing.alerts.models import AlertRule
from yuqing.alerts.schemas import RuleIn
from yuqing.mentions import service as mentions
from yuqing.mentions.schemas import IngestResult
from yuqing.notify.models import Channel, Notification
from yuqing.schemes import service as schemes
from yuqing.schemes.schemas import SchemeIn
from yuqing.sources.models import Source
from yuqing.worker import pipeline


def analyse_with_alerts(session: Session, source: Source, rows: list[dict[str, Any]]) -> Any:
    """The pipeline's stages with the alert stage last, as the worker composes them."""
    first = pipeline.analyse(session, source, rows)
    last = flows.stage(session, source, rows)

    def finish(ids: list[int]) -> None:
        if first is not None:
            first(ids)
        if last is not None:
            last(ids)

    return finish


def ingest(session: Session, source: Source, *texts: str, **extra: Any) -> IngestResult:
    items = [
        {"title": text[:20], "text": text, "url": f"https://example.cn/{abs(hash(text))}", **extra}
        for text in texts
    ]
    return mentions.ingest(session, source=source, items=items, analyse=analyse_with_alerts)


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
