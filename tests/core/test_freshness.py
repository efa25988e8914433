"""The configuration signatures every batch reads are asked of the database at most once a
second, and at once after this process changed the table."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from tests.support import desk_client
from yuqing.core import freshness
from yuqing.schemes import service as schemes
from yuqing.schemes.matcher import MatchDoc
from yuqing.schemes.models import Scheme, SchemeMatch
from yuqing.schemes.schemas import SchemeIn

AUTH = {"Authorization": "Bearer test-push-token"}
STORY = "江城大学第二食堂今天中午发生学生集体腹泻事件，多名学生被送往医院治疗。"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with desk_client(engine) as test_client:
        yield test_client


@pytest.fixture
def scheme_queries(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine sends that reads the scheme table itself."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM scheme " in statement or statement.rstrip().endswith("FROM scheme"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def _push(client: TestClient, external_id: str, body: str = STORY) -> None:
    reply = client.post(
        "/api/v1/mentions",
        json={"source": "采集器", "items": [{"id": external_id, "text": body}]},
        headers=AUTH,
    )
    assert reply.status_code == 200, reply.text


def _canteen(session: Session) -> Scheme:
    scheme = schemes.create(
        session, scheme_in=SchemeIn(name="食堂", subject_words=["江城大学"], event_words=["食堂"])
    )
    session.commit()
    return scheme


def test_batches_in_a_row_do_not_ask_for_the_scheme_signature(
    client: TestClient, session: Session, scheme_queries: list[str]
) -> None:
    _canteen(session)
    _push(client, "1")
    asked = len(scheme_queries)
    assert asked >= 1  # the first batch after the change reads the schemes
    for n in range(2, 6):
        _push(client, str(n), f"{STORY}第{n}次")
    assert len(scheme_queries) == asked
    assert len(session.scalars(select(SchemeMatch)).all()) == 5


def test_a_scheme_saved_in_this_process_matches_the_very_next_batch(
    client: TestClient, session: Session
) -> None:
    _push(client, "1", "图书馆今天开放到晚上十点。")  # reads (and caches) the empty scheme table
    scheme = _canteen(session)
    _push(client, "2")
    assert session.scalars(select(SchemeMatch.scheme_id)).all() == [scheme.id]
    schemes.update(session, scheme=scheme, scheme_in=SchemeIn(name="食堂", subject_words=["宿舍"]))
    session.commit()
    _push(client, "3")
    assert len(session.scalars(select(SchemeMatch)).all()) == 1  # item 3 matches no more


def test_a_rolled_back_change_does_not_count(engine: Engine) -> None:
    calls: list[int] = []

    def probe(session: Session) -> tuple[object, ...]:
        calls.append(1)
        return (session.scalar(select(Scheme.id).limit(1)),)

    signature = freshness.Signature((Scheme.__tablename__,), probe)
    with Session(engine) as session:
        signature.get(session)
        signature.get(session)
        assert len(calls) == 1
        session.add(Scheme(name="未保存", mode="simple"))
        session.flush()
        session.rollback()
        signature.get(session)
        assert len(calls) == 1


def test_a_change_by_another_process_is_seen_within_the_check_interval(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(freshness, "CHECK_SECONDS", 0.3)
    with Session(engine) as session:
        _canteen(session)
        before = schemes.current_matcher(session)
        session.commit()
    # Plain SQL on a connection of its own: what another process's edit looks like here.
    with engine.begin() as connection:
        connection.execute(text("UPDATE scheme SET version = version + 1, enabled = false"))
    with Session(engine) as session:
        assert schemes.current_matcher(session) is before  # trusted for up to CHECK_SECONDS
    time.sleep(0.35)
    with Session(engine) as session:
        after = schemes.current_matcher(session)
    assert after is not before
    assert after.match_batch([MatchDoc(title="", text=STORY)]) == [[]]
