"""The tantivy index beside the database: same answers as the database path, committed rows
found at once, a lost index rebuilt, hidden and removed rows gone, nothing lost to kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from tests.mentions.test_search import CORPUS, HAN_RUN, load, when
from yuqing.core.settings import reset_settings_cache
from yuqing.mentions import jobs, neardup, search_index, store
from yuqing.mentions.models import Mention
from yuqing.mentions.search import (
    SearchFilters,
    SearchPage,
    plan_query,
    search,
    search_database,
    search_form,
    search_page,
)
from yuqing.sources.models import Source

FILTERS = [
    SearchFilters(),
    SearchFilters(source_kind="rss"),
    SearchFilters(start=datetime(2024, 5, 3), end=datetime(2024, 5, 8, 1)),
]


def queries() -> list[str]:
    """Every Han substring of two to four characters in the corpus, and pairs of them."""
    found: set[str] = set()
    for title, body, _, _ in CORPUS:
        for run in HAN_RUN.findall(search_form(title, body)):
            for n in (2, 3, 4):
                found.update(run[i : i + n] for i in range(len(run) - n + 1))
    picked = sorted(found)
    return [*picked, "学生 食堂", "学校 价格", "通知 同学"]


def from_database(session: Session, query: str, filters: SearchFilters) -> SearchPage:
    return search_database(session, plan_query(query), filters=filters, limit=1000)


def answered_by_index(session: Session, query: str) -> bool:
    """Whether the index answered (its totals are never marked capped; compare the path)."""
    wanted = search_index.IndexQuery(terms=plan_query(query).terms)
    return search_index.find(session, wanted, limit=1, offset=0) is not None


def assert_same_as_database(session: Session, query_list: list[str] | None = None) -> None:
    for query in query_list or queries():
        for filters in FILTERS:
            fast = search(session, query, filters=filters, limit=1000)
            slow = from_database(session, query, filters)
            assert (fast.ids, fast.total) == (slow.ids, slow.total), (query, filters)
            # A results page: on PostgreSQL the log rides in the statement of its rows.
            page, rows = search_page(session, query, filters=filters, limit=7, offset=2)
            assert (page.ids, page.total) == (slow.ids[2:9], slow.total), (query, filters)
            assert [m.id for m in rows] == page.ids


def index_path(engine: Engine) -> Path:
    return search_index.index_path(engine)


def pending(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM mention_fts_change")).scalar_one()


def test_results_equal_with_the_index_and_without(session: Session, engine: Engine) -> None:
    load(session)
    assert answered_by_index(session, "食堂")
    assert_same_as_database(session)
    search_index.catch_up(engine)
    assert pending(session) == 0
    assert_same_as_database(session)
    session.commit()


def test_search_index_off_answers_from_the_database(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(session)
    monkeypatch.setenv("YUQING_SEARCH_INDEX", "off")
    reset_settings_cache()
    assert not answered_by_index(session, "食堂")
    assert search(session, "食堂").total == 3
    assert search_index.catch_up(engine) is None


def test_a_committed_row_is_found_before_and_after_catch_up(
    session: Session, engine: Engine
) -> None:
    ids = load(session)
    search_index.catch_up(engine)
    source = session.get(Source, session.get(Mention, ids[0]).source_id)  # type: ignore[union-attr]
    assert source is not None
    added = store.ingest(
        session, source=source, items=[{"id": "n1", "text": "图书馆新增自习座位", "time": when(28)}]
    )
    session.commit()
    new_id = added.outcomes[0].mention_id
    # Not yet in the index: the search merges the logged row from the database.
    assert pending(session) == 1
    assert search(session, "自习座位").ids == [new_id]
    assert_same_as_database(session, ["图书馆", "自习", "座位"])
    assert search_index.catch_up(engine) == 1
    assert pending(session) == 0
    assert search(session, "自习座位").ids == [new_id]
    # The session's own uncommitted rows count too (as on the database path).
    store.ingest(session, source=source, items=[{"id": "n2", "text": "自习座位预约"}])
    assert len(search(session, "自习座位").ids) == 2
    session.rollback()
    assert search(session, "自习座位").ids == [new_id]


def one_committed_after_catch_up(
    session: Session, engine: Engine, external_id: str, text: str
) -> int:
    """The corpus, caught up, then one more item committed (logged, not yet applied)."""
    ids = load(session)
    search_index.catch_up(engine)
    source = session.get(Source, session.get(Mention, ids[0]).source_id)  # type: ignore[union-attr]
    assert source is not None
    added = store.ingest(
        session, source=source, items=[{"id": external_id, "text": text, "time": when(28)}]
    )
    session.commit()
    new_id = added.outcomes[0].mention_id
    assert new_id is not None
    return new_id


def racing_catch_up(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, name: str, raced: list[int]
) -> Callable[..., Any]:
    """Put a catch-up in front of the first call of ``search_index.<name>`` (its count of
    applied ids goes to ``raced``); returns the function as it was."""
    read = getattr(search_index, name)

    def racing(*args: object) -> object:
        if not raced:
            raced.append(search_index.catch_up(engine) or 0)
        return read(*args)

    monkeypatch.setattr(search_index, name, racing)
    return cast(Callable[..., Any], read)


def test_a_catch_up_while_a_page_is_read_loses_nothing(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's statement reads the log after tantivy answered: a catch-up that commits
    the index and deletes the log rows in between must not hide the row (the page is read
    again when the index's meta.json changed)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the page and the log in one statement is the PostgreSQL path")
    new_id = one_committed_after_catch_up(session, engine, "r1", "图书馆新增自习座位")
    raced: list[int] = []
    read = racing_catch_up(monkeypatch, engine, "_page_and_log", raced)
    page, rows = search_page(session, "自习座位")
    assert raced == [1] and pending(session) == 0
    assert page.ids == [new_id] and [m.id for m in rows] == [new_id] and page.total == 1
    # With the row logged and not yet applied, it rides along in the same statement.
    monkeypatch.setattr(search_index, "_page_and_log", read)
    session.execute(update(Mention).where(Mention.id == new_id).values(search_text="自习座位增加"))
    session.commit()
    assert pending(session) == 1
    page, rows = search_page(session, "座位增加")
    assert page.ids == [new_id] and rows[0].search_text == "自习座位增加" and page.total == 1


def test_a_catch_up_while_the_log_is_read_loses_nothing(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL tantivy searches while the log is read: a catch-up that commits the
    index and deletes the log rows just before the log is read must not hide the row (the
    search runs again when the index's meta.json changed). On SQLite the log is read first."""
    new_id = one_committed_after_catch_up(session, engine, "r2", "操场夜间开放时间")
    raced: list[int] = []
    pool = search_index._search_pool
    pooled: list[int] = []

    def counting() -> object:
        pooled.append(1)
        return pool()

    monkeypatch.setattr(search_index, "_logging", {})  # no earlier test's log state
    monkeypatch.setattr(search_index, "_search_pool", counting)
    racing_catch_up(monkeypatch, engine, "_pending_ids", raced)
    assert search(session, "夜间开放").ids == [new_id]
    assert raced == [1] and pending(session) == 0
    postgres = engine.dialect.name == "postgresql"
    # On PostgreSQL tantivy searched while the log was read, and again once the index's
    # meta.json showed the catch-up's commit.
    assert len(pooled) == (2 if postgres else 0)
    # A logged change not yet applied is left out of tantivy's answer and tested on its row.
    session.execute(update(Mention).where(Mention.id == new_id).values(search_text="操场关闭"))
    session.commit()
    assert pending(session) == 1
    assert search(session, "夜间开放").total == 0
    # With changes waiting the log is read first: tantivy would otherwise search twice.
    pooled.clear()
    assert search(session, "操场关闭").ids == [new_id]
    assert pooled == []


def test_an_index_deleted_is_rebuilt(session: Session, engine: Engine) -> None:
    load(session)
    search_index.catch_up(engine)
    path = index_path(engine)
    assert (path / "ready.json").exists()
    shutil.rmtree(path)
    assert answered_by_index(session, "食堂")  # a small database: built by the search
    assert (path / "ready.json").exists()
    assert_same_as_database(session)
    assert search_index.rebuild(engine) == len(CORPUS)
    assert_same_as_database(session)


def test_hidden_changed_and_removed_rows_leave_the_results(
    session: Session, engine: Engine
) -> None:
    ids = load(session)
    search_index.catch_up(engine)
    session.execute(update(Mention).where(Mention.id == ids[5]).values(status="filtered"))
    session.execute(text("DELETE FROM mention WHERE id = :id"), {"id": ids[9]})
    session.execute(update(Mention).where(Mention.id == ids[7]).values(near_group_id=ids[2]))
    source = session.get(Source, session.get(Mention, ids[8]).source_id)  # type: ignore[union-attr]
    assert source is not None
    changed = {"id": "8", "title": "停电通知", "text": "明日上午宿舍区停电", "time": when(9)}
    assert store.ingest(session, source=source, items=[changed]).updated == 1
    session.commit()
    for _ in range(2):  # before catch-up (merged from the log) and after
        assert (search(session, "食堂").ids, search(session, "食堂").total) == ([ids[0]], 1)
        assert search(session, "学生会").ids == []
        assert search(session, "停水").ids == []
        assert search(session, "停电").ids == [ids[8], ids[3]]
        assert_same_as_database(session, ["食堂", "学生", "停水", "停电", "通知", "宿舍"])
        search_index.catch_up(engine)
        assert pending(session) == 0
    session.execute(update(Mention).where(Mention.id == ids[5]).values(status="new"))
    session.commit()
    search_index.catch_up(engine)
    assert search(session, "食堂").ids == [ids[5], ids[0]]


CATCHER = """
import sys
from yuqing.core.database import make_engine
from yuqing.mentions import search_index
search_index.BATCH = 50
engine = make_engine(sys.argv[1])
print("ready", flush=True)
while True:
    search_index.catch_up(engine)
"""


def test_catch_up_killed_with_sigkill_loses_nothing(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    load(session)
    search_index.catch_up(engine)
    source = session.scalars(select(Source)).first()
    assert source is not None
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for round_ in range(3):
        items = [
            {"id": f"k{round_}-{i}", "text": f"第{round_}轮杀进程测试第{i}条消息", "time": when(20)}
            for i in range(400)
        ]
        store.ingest(session, source=source, items=items)
        session.commit()
        catcher = subprocess.Popen(
            [sys.executable, "-c", CATCHER, url], env=env, stdout=subprocess.PIPE, text=True
        )
        assert catcher.stdout is not None and catcher.stdout.readline() == "ready\n"
        time.sleep(0.3 + 0.4 * round_)
        catcher.send_signal(signal.SIGKILL)
        catcher.wait()
        # Whatever it had done, searching and catching up again lose nothing.
        assert search(session, "杀进程测试").total == 400 * (round_ + 1)
        search_index.catch_up(engine)
        assert pending(session) == 0
        listed = session.scalar(
            select(func.count()).where(Mention.status == "new", Mention.text.contains("杀进程"))
        )
        assert search(session, "杀进程测试").total == listed == 400 * (round_ + 1)
    assert_same_as_database(session, ["杀进程", "测试", "消息", "食堂"])


def test_first_search_inside_a_writing_session_does_not_wait(session: Session) -> None:
    source = Source(name="写入中", kind="push")
    session.add(source)
    session.flush()
    store.ingest(session, source=source, items=[{"id": "w1", "text": "运动会延期举行"}])
    started = time.perf_counter()
    assert search(session, "运动会").total == 1  # uncommitted: the database answers
    assert time.perf_counter() - started < 5
    session.commit()
    assert answered_by_index(session, "运动会")
    assert search(session, "运动会").total == 1


def test_a_process_keeping_an_old_token_reads_no_stale_index(
    session: Session, engine: Engine
) -> None:
    ids = load(session)
    search_index.catch_up(engine)
    kept = search_index._tokens[engine]
    # The database is recreated or restored: another token, and another process builds
    # and feeds the new index from the log.
    session.execute(text("DELETE FROM mention_fts_meta"))
    source = session.get(Source, session.get(Mention, ids[0]).source_id)  # type: ignore[union-attr]
    assert source is not None
    store.ingest(session, source=source, items=[{"id": "t1", "text": "新建体育馆开放"}])
    session.commit()
    search_index.catch_up(engine)
    assert pending(session) == 0
    search_index._tokens[engine] = kept  # this process still keeps the old token
    for _ in range(2):  # noticed by the first search, which the database answers
        assert search(session, "体育馆").total == 1
    assert search_index._tokens[engine] != kept
    assert answered_by_index(session, "体育馆")
    assert_same_as_database(session, ["体育馆", "食堂", "学生"])


def test_the_runner_job_keeps_the_index_caught_up(session: Session, engine: Engine) -> None:
    load(session)
    stop = threading.Event()
    thread = threading.Thread(target=jobs.follow_search_index, args=(stop,), kwargs={"every": 0.1})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while pending(session) and time.monotonic() < deadline:
            session.rollback()
            time.sleep(0.1)
        assert pending(session) == 0
        assert (index_path(engine) / "ready.json").exists()
    finally:
        stop.set()
        thread.join()
    assert_same_as_database(session, ["食堂", "学生", "通知"])


def test_rows_by_id_are_read_through_the_primary_key_on_sqlite(
    session: Session, engine: Engine
) -> None:
    """The search's and the catch-up's read of logged rows, a rebuild's batches and the
    near-duplicate stage's read of its candidates test the listing on the rows: in the
    statement it made SQLite (no statistics) walk the stream index over every listed row."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    load(session)
    literal = {"literal_binds": True}
    by_id = search_index._BY_ID.params(ids=[1, 2, 3]).compile(engine, compile_kwargs=literal)
    batch = search_index._ROWS.where(Mention.id > 3).order_by(Mention.id).limit(10)  # rebuild
    candidates = f"{neardup._CANDIDATES} IN (SELECT value FROM json_each('[1, 2, 3]'))"
    for statement in (str(by_id), str(batch.compile(engine, compile_kwargs=literal)), candidates):
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {statement}")).all()
        assert "SEARCH mention USING INTEGER PRIMARY KEY" in plan[0][-1], plan


def test_a_long_log_sends_the_page_to_find_without_reading_its_rows(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the page and the log in one statement is the PostgreSQL path")
    ids = load(session)
    search_index.catch_up(engine)
    monkeypatch.setattr(search_index, "PAGE_PENDING", 3)
    source = session.get(Source, session.get(Mention, ids[0]).source_id)  # type: ignore[union-attr]
    assert source is not None
    items = [{"id": f"long-{i}", "text": f"图书馆第{i}次延长开放"} for i in range(5)]
    store.ingest(session, source=source, items=items)
    session.commit()
    token = search_index._tokens[engine]
    read = search_index._page_and_log(session, token, [ids[0], ids[1]])
    assert read is not None
    rows, logged = read
    assert logged is None and sorted(rows) == sorted([ids[0], ids[1]])  # no logged rows read
    new = set(session.scalars(select(Mention.id).where(Mention.external_id.like("long-%"))))
    page, found = search_page(session, "延长开放")
    assert new <= set(page.ids) and [m.id for m in found] == page.ids
    assert_same_as_database(session, ["延长开放", "图书馆", "食堂"])


def test_a_search_reads_an_emptied_log_through_its_key(session: Session, engine: Engine) -> None:
    """After a build or a bulk load the log's table keeps its emptied pages (the vacuum after
    a catch-up does not truncate them): a search reads the log through its primary key, not
    by scanning those pages (at 1M items a scan cost every search 6–43 ms)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the table's emptied pages are PostgreSQL's")
    ids = load(session)
    session.execute(
        text(
            "INSERT INTO mention_fts_change(mention_id) SELECT :id FROM generate_series(1, 50000)"
        ),
        {"id": ids[0]},
    )
    session.commit()
    search_index.catch_up(engine)  # applies, deletes, vacuums: the pages stay
    assert pending(session) == 0
    pages = session.execute(text("SELECT pg_relation_size('mention_fts_change') / 8192")).scalar()
    assert pages is not None and pages > 100
    scans = text(
        "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'mention_fts_change'"
    )
    before = session.execute(scans).scalar_one()
    assert search(session, "食堂").total == 3
    search_page(session, "食堂")
    assert session.execute(scans).scalar_one() == before
    session.rollback()


def test_a_forked_process_searches_with_its_own_threads(session: Session, engine: Engine) -> None:
    """A Celery worker is forked from its parent: the parent's pool of search threads comes
    along without its threads, and a search waiting on it would never return."""
    if engine.dialect.name != "postgresql":
        pytest.skip("tantivy searches on a thread beside the log only on PostgreSQL")
    load(session)
    session.commit()
    assert search(session, "食堂").total == 3  # the parent's pool now has a thread
    session.close()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            engine.dispose(close=False)  # the parent's connections stay the parent's
            with Session(engine) as own:
                code = 0 if search(own, "食堂").total == 3 else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    pytest.fail("the forked process's search did not return")
