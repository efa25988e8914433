"""Helpers of the events tests: store items through the ingest path with the events stage."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, make_user, sign_in
from yuqing.events.models import EventMember
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source
from yuqing.worker import pipeline

Store = Callable[..., dict[str, int]]


@pytest.fixture
def store(session: Session) -> Store:
    """Ingest items of a source in one transaction; returns external id → event id."""

    def run(source: Source, items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        pipeline.process(session, source=source, items=list(items))  # events: a stage of it
        session.commit()
        return events_of(session)

    return run


def events_of(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Mention.external_id, EventMember.event_id).join(
            EventMember, EventMember.mention_id == Mention.id
        )
    ).all()
    return {ext: event_id for ext, event_id in rows if ext}


@contextmanager
def events_client(engine: Any, role: str = "publicity") -> Iterator[Any]:
    """The real app with the events pages, signed in as ``role``."""
    from fastapi.testclient import TestClient

    from yuqing.events import views
    from yuqing.web.app import create_app

    app = create_app()
    if not any(getattr(r, "path", "") == "/events" for r in app.routes):
        app.include_router(views.router)
    name = make_user(engine, f"{role}_events", role)
    with TestClient(app) as client:
        yield sign_in(client, name, TEST_PASSWORD)
