"""SQLite's memory in one process stays near ``SQLITE_HEAP_LIMIT`` however many connections
read how much: each connection may cache 64 MB of pages, and four connections reading a
50 MB table held 160 MB under the old limit of 160 MB, 32 MB under this one."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from pathlib import Path

import pytest

from yuqing.core import database
from yuqing.core.database import SQLITE_HEAP_LIMIT, make_engine

ROWS = 25_000  # of 2,000 characters: a table of about 50 MB, more than the limit


def _sqlite() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib


def test_page_caches_of_all_connections_stay_near_the_limit(tmp_path: Path) -> None:
    lib = _sqlite()
    if lib is None:
        pytest.skip("no shared SQLite library to ask")
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
            connection.exec_driver_sql(
                "INSERT INTO t (body) SELECT printf('%.2000c', 'x') FROM "
                f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})"
                " SELECT i FROM n)"
            )
        if lib.sqlite3_memory_used() == 0:
            pytest.skip("Python's sqlite3 does not use the shared SQLite library")
        readers = [engine.connect() for _ in range(4)]
        try:
            for reader in readers:
                total = reader.exec_driver_sql("SELECT sum(length(body)) FROM t").scalar()
                assert total == ROWS * 2000
            used = lib.sqlite3_memory_used()
        finally:
            for reader in readers:
                reader.close()
    finally:
        engine.dispose()
    assert used < SQLITE_HEAP_LIMIT * 1.25, used / 2**20
    # Resident memory of the server stayed flat under pushes only once SQLite's memory had
    # stopped growing (bench/soak.py, core.database.SQLITE_HEAP_LIMIT): under 160 MB it
    # grew with the database; these readers then held 160 MB.
    assert used < 40 * 2**20, used / 2**20


def test_a_pooled_connection_is_opened_anew_after_a_while_and_its_statements_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _sqlite()
    if lib is None:
        pytest.skip("no shared SQLite library to ask")
    monkeypatch.setattr(database, "SQLITE_RECYCLE_SECONDS", 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'statements.db'}")
    try:
        with engine.connect() as connection:
            first = connection.connection.dbapi_connection
            before = lib.sqlite3_memory_used()
            for n in range(1, 121):  # 120 texts, each kept prepared by the driver's cache
                marks = ", ".join("?" * n)
                connection.exec_driver_sql(
                    f"SELECT count(*) FROM (SELECT 1 AS v) WHERE v IN ({marks})", tuple(range(n))
                )
            held = lib.sqlite3_memory_used() - before
        if before == 0:
            pytest.skip("this SQLite keeps no memory statistics")
        assert held > 1_000_000
        with engine.connect() as connection:  # soon after: the same connection
            assert connection.connection.dbapi_connection is first
        time.sleep(2.1)
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is not first
            assert lib.sqlite3_memory_used() - before < held / 4
    finally:
        engine.dispose()


def test_a_database_in_memory_is_not_recycled_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "SQLITE_RECYCLE_SECONDS", 0.2)
    for url in ("sqlite://", "sqlite:///:memory:"):
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE TABLE kept (v INTEGER)")
                connection.exec_driver_sql("INSERT INTO kept VALUES (7)")
            time.sleep(0.3)
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT v FROM kept").scalar_one() == 7
        finally:
            engine.dispose()
