"""The writer that merges concurrent pushes into one transaction, through a real server.

Several clients push at once to the app under uvicorn (SQLite or PostgreSQL, whichever the
suite runs on): every item is stored exactly once, each client gets the outcomes of its own
items, one text pushed by several clients at once has one original, a batch the database
refuses does not take the others' items with it, and on PostgreSQL a deadlock rolls the
merged transaction back and it is written again, each item once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from tests.support import serving_app
from yuqing.core.database import new_session
from yuqing.mentions import store
from yuqing.sources.models import Source
from yuqing.worker import pipeline, writer

AUTH = {"Authorization": "Bearer test-push-token"}
TEXTS = [
    "江城大学食堂今天起调整部分菜品价格，学生表示难以接受",
    "江城大学图书馆延长开放时间至晚上十一点",
    "网传江城大学宿舍楼停电一整晚，学校回应正在抢修",
    "江城大学举办校园开放日，吸引数千名家长和考生",
    "有学生反映江城大学校车班次减少，通勤时间变长",
]
CLIENTS = 6
PUSHES = 4  # per client
BATCH = 25


@pytest.fixture
def base(engine: Engine) -> Iterator[str]:
    with serving_app() as port:
        yield f"http://127.0.0.1:{port}"


def _items(client: int, push: int) -> list[dict[str, Any]]:
    """A batch of one client: its own items, texts every client repeats (copies across
    batches), and three items every client sends (the same item from several batches)."""
    items = []
    for n in range(BATCH - 3):
        body = TEXTS[n % len(TEXTS)] if n % 3 == 0 else f"{TEXTS[n % 5]}（第{client}-{push}-{n}条）"
        items.append({"id": f"c{client}-p{push}-{n}", "text": body, "time": "2026-12-01T08:00:00"})
    for shared in ("shared-1", "shared-2"):
        items.append({"id": shared, "text": f"共同条目 {shared}", "time": "2026-12-01T08:00:00"})
    # The same item from several batches, its text a copy of the clients' repeated text.
    items.append({"id": "shared-copy", "text": TEXTS[0], "time": "2026-12-01T08:00:00"})
    return items


def _push(base: str, items: list[dict[str, Any]], source: str = "并发采集") -> httpx.Response:
    body = {"source": source, "items": items}
    return httpx.post(f"{base}/api/v1/mentions", json=body, headers=AUTH, timeout=120)


def _push_all(base: str, batches: list[list[dict[str, Any]]]) -> list[httpx.Response]:
    start = threading.Barrier(len(batches))

    def one(batch: list[dict[str, Any]]) -> httpx.Response:
        start.wait()
        return _push(base, batch)

    with ThreadPoolExecutor(len(batches)) as pool:
        return list(pool.map(one, batches))


def _rows(engine: Engine) -> list[dict[str, Any]]:
    query = text(
        "SELECT id, external_id, status, content_hash, duplicate_of_id, duplicate_count "
        "FROM mention"
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _check_stored_once(engine: Engine, sent: list[list[dict[str, Any]]], replies: Any) -> None:
    rows = _rows(engine)
    by_external = Counter(row["external_id"] for row in rows)
    assert set(by_external.values()) == {1}, "an item was stored twice"
    assert set(by_external) == {item["id"] for batch in sent for item in batch}
    ids = {row["external_id"]: row["id"] for row in rows}
    # Each client's outcomes are its own items', at their own positions.
    for batch, reply in zip(sent, replies, strict=True):
        outcomes = reply.json()["outcomes"]
        assert [o["index"] for o in outcomes] == list(range(len(batch)))
        for item, outcome in zip(batch, outcomes, strict=True):
            assert outcome["status"] in {"new", "duplicate", "unchanged"}, outcome
            assert outcome["mention_id"] == ids[item["id"]], (item, outcome)
    # One original per text; every copy points at it and is counted on it.
    originals = [row for row in rows if row["status"] == "new"]
    assert len({row["content_hash"] for row in originals}) == len(originals)
    copies = Counter(row["duplicate_of_id"] for row in rows if row["status"] == "duplicate")
    for row in originals:
        assert row["duplicate_count"] == copies.get(row["id"], 0)
    by_id = {row["id"]: row for row in rows}
    for row in rows:
        if row["status"] == "duplicate":
            original = by_id[row["duplicate_of_id"]]
            assert original["status"] == "new"
            assert original["content_hash"] == row["content_hash"]


def test_concurrent_pushes_store_every_item_once_with_each_clients_outcomes(
    base: str, engine: Engine
) -> None:
    groups_before = writer._writer.groups
    sent: list[list[dict[str, Any]]] = []
    replies: list[httpx.Response] = []
    for push in range(PUSHES):
        batches = [_items(client, push) for client in range(CLIENTS)]
        answers = _push_all(base, batches)
        assert [a.status_code for a in answers] == [200] * CLIENTS, [a.text for a in answers]
        sent.extend(batches)
        replies.extend(answers)
    _check_stored_once(engine, sent, replies)
    # Each shared item is stored once (new, or a copy of the repeated text), then unchanged.
    for shared in ("shared-1", "shared-2", "shared-copy"):
        statuses = Counter(
            o["status"]
            for batch, reply in zip(sent, replies, strict=True)
            for item, o in zip(batch, reply.json()["outcomes"], strict=True)
            if item["id"] == shared
        )
        assert statuses["unchanged"] == CLIENTS * PUSHES - 1, (shared, statuses)
        assert statuses["new"] + statuses["duplicate"] == 1, (shared, statuses)
    # Pushes that arrived together were written together.
    assert writer._writer.groups - groups_before < CLIENTS * PUSHES


def test_a_batch_the_database_refuses_does_not_lose_the_other_clients_items(
    base: str, engine: Engine
) -> None:
    """One client's batch holds an item a trigger refuses (a real refusal by the database,
    inside the merged transaction); the other clients' items are all stored, once."""
    bad_title = "数据库拒收的条目"
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_item() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.title = '数据库拒收的条目' THEN "
                    "RAISE EXCEPTION 'refused' USING ERRCODE = '22000'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_item BEFORE INSERT ON mention "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_item()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_item BEFORE INSERT ON mention "
                    f"WHEN NEW.title = '{bad_title}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    try:
        batches = [_items(client, 0) for client in range(CLIENTS)]
        batches[2].insert(5, {"id": "bad", "title": bad_title, "text": "这一条会被拒收"})
        answers = _push_all(base, batches)
        good = [b for n, b in enumerate(batches) if n != 2]
        good_answers = [a for n, a in enumerate(answers) if n != 2]
        assert [a.status_code for a in good_answers] == [200] * (CLIENTS - 1)
        bad_answer = answers[2]
        if bad_answer.status_code == 200:  # a refusal the item is blamed for: it fails alone
            outcomes = bad_answer.json()["outcomes"]
            assert outcomes[5]["status"] == "failed"
            good.append([item for item in batches[2] if item["id"] != "bad"])
            good_answers.append(_without(bad_answer, 5))
        else:  # a refusal no item can be blamed for: the batch is refused whole, retryable
            assert bad_answer.status_code == 503, bad_answer.text
        rows = _rows(engine)
        assert "bad" not in {row["external_id"] for row in rows}
        _check_stored_once(engine, good, good_answers)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse_item" + _on_mention(engine)))


def _on_mention(engine: Engine) -> str:
    return " ON mention" if engine.dialect.name == "postgresql" else ""


class _Reply:
    """A reply with one outcome taken out and the rest renumbered (for the checks)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def json(self) -> dict[str, Any]:
        return self.data


def _without(reply: httpx.Response, index: int) -> _Reply:
    outcomes = [dict(o) for o in reply.json()["outcomes"] if o["index"] != index]
    for n, outcome in enumerate(outcomes):
        outcome["index"] = n
    return _Reply({"outcomes": outcomes})


def test_a_deadlock_is_retried_and_stores_each_item_once(base: str, engine: Engine) -> None:
    """Another connection locks the source row, the writer locks an often-copied original
    and waits for the source row, the other connection then waits for the original: a
    deadlock. PostgreSQL rolls back the writer's transaction (the other connection waits
    longer before it checks), the writer writes the group again, and each item is stored
    once; the client sees 200."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a deadlock between two writers is PostgreSQL's: runs in its pass")
    first = _push(base, [{"id": "orig", "text": TEXTS[0], "time": "2026-12-01T08:00:00"}])
    assert first.status_code == 200
    original = first.json()["outcomes"][0]["mention_id"]
    source = first.json()["source_id"]
    retries_before = writer._writer.retries
    batch = [
        {"id": "copy", "text": TEXTS[0], "time": "2026-12-01T08:00:00"},
        {"id": "other", "text": TEXTS[1], "time": "2026-12-01T08:00:00"},
    ]
    with engine.connect() as blocker:
        blocker.execute(text("SET deadlock_timeout = '10s'"))
        blocker.execute(
            text("SELECT id FROM source WHERE id = :id FOR NO KEY UPDATE"), {"id": source}
        )
        with ThreadPoolExecutor(1) as pool:
            pushed = pool.submit(_push, base, batch)
            _wait_for_lock_wait(engine, "UPDATE source")
            # The writer holds the original (its copy's count) and waits for the source.
            blocker.execute(
                text("UPDATE mention SET near_count = near_count WHERE id = :id"), {"id": original}
            )
            blocker.rollback()
            reply = pushed.result(timeout=120)
    assert reply.status_code == 200, reply.text
    assert [o["status"] for o in reply.json()["outcomes"]] == ["duplicate", "new"]
    assert writer._writer.retries > retries_before
    rows = _rows(engine)
    assert Counter(row["external_id"] for row in rows) == {"orig": 1, "copy": 1, "other": 1}
    assert {row["external_id"]: row["duplicate_count"] for row in rows}["orig"] == 1


def _wait_for_lock_wait(engine: Engine, query_start: str) -> None:
    deadline = time.monotonic() + 60
    probe = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :start"
    )
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if connection.execute(probe, {"start": query_start + "%"}).scalar_one():
                return
            connection.rollback()
            time.sleep(0.05)
    raise AssertionError(f"no transaction waited on a lock for {query_start!r}")


def test_requests_waiting_for_analysis_are_prepared_as_one_batch(
    engine: Engine, push_source: Any
) -> None:
    """Eight requests pile up while every analysis slot is busy: the first thread to get a
    slot prepares the seven that share no item in one batch, the one that repeats an item
    of another request comes after it, and each caller gets its own outcomes."""
    own = writer.Writer()
    requests = [
        [{"id": f"r{r}-{n}", "text": f"{TEXTS[n % 5]}（请求{r}第{n}条）"} for n in range(5)]
        for r in range(7)
    ]
    requests.append([{"id": "r0-1", "text": "改过的文字：江城大学食堂价格调整说明"}])
    for _ in range(writer.ANALYSERS):
        own._analysers.acquire()
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = []
        for items in requests:  # in this order, so the repeated item comes last
            futures.append(pool.submit(own.write, push_source.id, items))
            deadline = time.monotonic() + 10
            while len(own._waiting) < len(futures):
                assert time.monotonic() < deadline, "a request did not reach the queue"
                time.sleep(0.005)
        for _ in range(writer.ANALYSERS):
            own._analysers.release()
        results = [future.result(timeout=60) for future in futures]
    assert own.prepared == 2
    for items, result in zip(requests[:7], results[:7], strict=True):
        assert [o.index for o in result.outcomes] == list(range(len(items)))
        assert result.new == len(items)
    assert results[7].updated == 1 and results[7].outcomes[0].index == 0
    rows = {row["external_id"]: row for row in _rows(engine)}
    assert len(rows) == 35
    assert results[7].outcomes[0].mention_id == rows["r0-1"]["id"]


def test_the_writer_keeps_its_own_connection_from_group_to_group(
    engine: Engine, push_source: Any
) -> None:
    """The writer commits every group on its own connection, even while other connections
    of the pool come and go and write in between. A SQLite connection empties its page
    cache when another connection committed since its last transaction; a PostgreSQL
    connection that rolls back forgets its prepared statements (psycopg)."""
    used: list[int] = []

    def seen(connection: Any) -> None:
        if threading.current_thread().name == "yuqing-writer":
            used.append(id(connection.connection.dbapi_connection))

    own = writer.Writer()
    event.listen(engine, "commit", seen)
    try:
        first, second = engine.connect(), engine.connect()  # two idle connections in the pool
        first.close()
        second.close()
        for n in range(4):
            result = own.write(push_source.id, [{"id": f"one-{n}", "text": f"{TEXTS[n]}（{n}）"}])
            assert result.new == 1
            with engine.begin() as other:  # another connection commits between two groups
                other.exec_driver_sql("UPDATE source SET name = name WHERE id = 0")
    finally:
        event.remove(engine, "commit", seen)
    assert len(used) == 4
    assert len(set(used)) == 1


def _prepared(connection: Any) -> list[str]:
    rows = connection.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
    return [row[0] for row in rows]


def test_on_postgresql_the_push_path_keeps_its_statements_prepared(
    engine: Engine, push_source: Any
) -> None:
    """psycopg prepares a statement on its fifth run on one connection and forgets them all
    when the connection rolls back. The writer's statements stay prepared on its own
    connection, and so do the preparation's lookups: its read-only transaction ends with a
    commit, and the pool hands out the connection returned last."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements of the driver: PostgreSQL only")
    idle = [engine.connect() for _ in range(3)]  # idle in the pool, returned first
    for connection in idle:
        connection.close()
    own = writer.Writer()
    for n in range(8):
        items = [{"id": f"p{n}-{k}", "text": f"{TEXTS[k]}（第{n}批{k}）"} for k in range(3)]
        assert own.write(push_source.id, items).new == 3
    held = own._connection._held
    assert held is not None
    writes = _prepared(held)
    assert any("INSERT INTO mention " in statement for statement in writes), writes
    with engine.connect() as connection:  # the preparation's, returned last
        lookups = _prepared(connection)
    assert any("external_id" in s and s.lstrip().startswith("SELECT") for s in lookups), lookups


def test_on_postgresql_the_writer_connects_again_when_its_connection_is_lost(
    engine: Engine, push_source: Any
) -> None:
    """The database restarted (here: the writer's server process terminated): the next
    group finds its connection broken, takes a new one and is stored, no error to the
    caller."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server process to terminate: PostgreSQL only")
    own = writer.Writer()
    assert own.write(push_source.id, [{"id": "before", "text": TEXTS[0]}]).new == 1
    held = own._connection._held
    assert held is not None
    pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    held.rollback()
    with engine.begin() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    assert own.write(push_source.id, [{"id": "after", "text": TEXTS[1]}]).new == 1
    assert {row["external_id"] for row in _rows(engine)} == {"before", "after"}
    assert own._connection._held is not held


def _analyses(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        rows = connection.exec_driver_sql(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            (list(writer.ANALYZED),),
        )
        return {name: count for name, count in rows}


def test_statistics_are_refreshed_beside_the_writer(engine: Engine, push_source: Any) -> None:
    """On PostgreSQL the tables the writer reads are analysed by a thread of its own once
    enough rows came in (a prepared statement keeps the plan it got while they were small
    until then), and the next threshold follows the table's size; SQLite needs none."""
    own = writer.Writer()
    own._statistics.threshold = 3
    before = _analyses(engine) if engine.dialect.name == "postgresql" else {}
    assert own.write(push_source.id, [{"id": f"s{n}", "text": TEXTS[n]} for n in range(4)]).new
    if engine.dialect.name != "postgresql":
        assert own._statistics.threshold == 2**62
        assert own._statistics.analysed == 0
        return
    deadline = time.monotonic() + 20
    while own._statistics.analysed == 0:
        assert time.monotonic() < deadline, "ANALYZE did not run"
        time.sleep(0.02)
    assert own._statistics.threshold == writer.ANALYZE_ROWS
    assert own._statistics.inserted == 0
    with engine.connect() as connection:
        analysed = connection.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE relname = 'mention'"
        ).scalar_one()
    assert analysed >= 4  # the rows stored, counted by this ANALYZE
    deadline = time.monotonic() + 10  # the server reports its counts within a second or so
    while True:
        after = _analyses(engine)
        grown = [t for t in writer.ANALYZED if after.get(t, 0) > before.get(t, 0)]
        if len(grown) == len(writer.ANALYZED) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(grown) == sorted(writer.ANALYZED)


def test_a_batch_is_settled_against_what_was_stored_since_it_was_prepared(
    engine: Engine, push_source: Any
) -> None:
    """The writer keeps the keys each group stored; a batch prepared while a group was
    written is looked up again for those keys only, and becomes a copy of the text that
    group stored first. A batch prepared before the groups still kept is settled in full."""
    own = writer.Writer()
    with new_session() as session:  # prepared before the text below is stored
        source = session.get(Source, push_source.id)
        assert source is not None
        late = store.prepare(session, source=source, items=[{"id": "w-2", "text": TEXTS[0]}])
    assert [row.external_id for row in late.new] == ["w-2"]
    first = own.write(push_source.id, [{"id": "w-1", "text": TEXTS[0]}])
    assert first.new == 1 and own.groups == 1
    assert own._written_since([_job(seen=1)]) == frozenset()
    written = own._written_since([_job(seen=0)])
    assert written is not None and (push_source.id, "id", "w-1") in written
    with new_session() as session:
        looked_up = _statements_on(session)
        store.settle(session, late, written=frozenset())  # nothing stored since
        assert [row.external_id for row in late.new] == ["w-2"]
        assert not [s for s in looked_up if "FROM mention" in s]
        store.settle(session, late, written=written)
        assert late.new == [] and late.copies[0].duplicate_of_id == first.outcomes[0].mention_id
    for number in range(2, writer.WRITTEN_KEPT + 3):  # the first group's keys are let go
        own._written.append((number, frozenset()))
    own.groups = writer.WRITTEN_KEPT + 2
    assert own._written_since([_job(seen=0)]) is None


def _job(seen: int) -> Any:
    return writer._Job(batch=None, items=0, keys=frozenset(), seen=seen)  # type: ignore[arg-type]


def _statements_on(session: Any) -> list[str]:
    seen: list[str] = []
    event.listen(
        session.connection(),
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: seen.append(statement),
    )
    return seen


def test_an_item_another_process_stored_meanwhile_is_settled_not_failed(
    engine: Engine, push_source: Any
) -> None:
    """Another connection (a fetch, another process) stores an item after the writer
    prepared it: the unique key refuses the writer's insert, and the group is tried once
    more, settled against all that is stored; the item comes back unchanged, not failed."""
    own = writer.Writer()
    item = {"id": "elsewhere-1", "text": TEXTS[1], "time": "2026-12-01T08:00:00"}
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as other:
        raw = other.connection.dbapi_connection
        assert raw is not None
        if sqlite:  # holds the write lock: the writer's group waits for it to begin
            raw.execute("BEGIN IMMEDIATE")
        with Session(bind=other) as session:
            source = session.get(Source, push_source.id)
            assert source is not None
            pipeline.process(session, source=source, items=[item])
            session.flush()
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(own.write, push_source.id, [item])
                deadline = time.monotonic() + 10
                while own.prepared < 1:  # prepared without seeing the uncommitted item
                    assert time.monotonic() < deadline, "the push was not prepared"
                    time.sleep(0.01)
                time.sleep(0.3)  # the writer reaches its lock wait or the unique key
                session.commit()
                result = pending.result(timeout=60)
    assert [o.status for o in result.outcomes] == ["unchanged"], result.outcomes
    assert own.retries == 1
    assert Counter(row["external_id"] for row in _rows(engine))["elsewhere-1"] == 1
