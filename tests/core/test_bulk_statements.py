"""Many rows in one statement on PostgreSQL: rows go as one JSON parameter and arrays as
literals (``insert_many``, ``where_in``, ``pg_array``); every kind of value the desk stores
comes back as it was sent. On SQLite an executemany of an INSERT runs as a few multi-row
INSERTs, with the same rows, ids and conflict handling as row by row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session

from tests.support import postgres_schema
from yuqing.core.database import (
    insert_many,
    insert_returning_ids,
    make_engine,
    pg_array,
    where_in,
)

AWKWARD = [
    '引号"和\\反斜杠',
    "{花括号,逗号}",
    "NULL",
    "",
    " ",
    '{"像": "JSON"}',
    "换行\n与制表\t",
    "emoji 😀 与 \u2028",
]

METADATA = MetaData()
KINDS = Table(
    "bulk_kinds",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("big", BigInteger),
    Column("label", String(80)),
    Column("body", Text),
    Column("at", DateTime),
    Column("day", Date),
    Column("flag", Boolean),
    Column("score", Float),
    Column("vector", LargeBinary),
)


class _Base(DeclarativeBase):
    metadata = METADATA


class _Kind(_Base):
    __table__ = KINDS


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Engine]:
    with postgres_schema(postgres_url, "bulk") as engine:
        METADATA.create_all(engine)
        yield engine


def test_rows_inserted_in_one_statement_come_back_unchanged(postgres: Engine) -> None:
    columns = ("id", "big", "label", "body", "at", "day", "flag", "score", "vector")
    rows: list[tuple[Any, ...]] = [
        (
            i + 1,
            2**62 + i,
            value[:80],
            value * 3,
            datetime(2026, 12, 7, 1, 2, 3, i * 1000),
            date(2026, 12, i % 28 + 1),
            i % 2 == 0,
            i / 3,
            bytes([i, 0, 255]),
        )
        for i, value in enumerate(AWKWARD)
    ]
    rows.append((100, None, None, None, datetime(2026, 1, 1), None, None, None, None))
    with Session(postgres) as session:
        insert_many(session.connection(), KINDS, columns, rows)
        session.commit()
        stored = session.execute(text(f"SELECT {', '.join(columns)} FROM bulk_kinds ORDER BY id"))
        assert [tuple(row) for row in stored] == rows


def test_a_conflict_clause_applies_to_the_rows_sent(postgres: Engine) -> None:
    columns = ("id", "label")
    with Session(postgres) as session:
        insert_many(session.connection(), KINDS, columns, [(1, "旧"), (2, "旧")])
        insert_many(
            session.connection(),
            KINDS,
            columns,
            [(2, "新"), (3, "新")],
            suffix="ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label",
        )
        labels = session.execute(text("SELECT id, label FROM bulk_kinds ORDER BY id")).all()
    assert [tuple(row) for row in labels] == [(1, "旧"), (2, "新"), (3, "新")]


def test_where_in_finds_every_awkward_string_and_id(postgres: Engine) -> None:
    with Session(postgres) as session:
        rows = [(i + 1, value) for i, value in enumerate(AWKWARD)]
        insert_many(session.connection(), KINDS, ("id", "body"), rows)
        found = where_in(session, "SELECT id FROM bulk_kinds WHERE body", AWKWARD, ints=False)
        assert sorted(i for (i,) in found) == list(range(1, len(AWKWARD) + 1))
        by_id = where_in(session, "SELECT body FROM bulk_kinds WHERE id", [2, 4, 99], ints=True)
        assert sorted(body for (body,) in by_id) == sorted([AWKWARD[1], AWKWARD[3]])


def test_an_array_literal_reads_back_as_the_values(postgres: Engine) -> None:
    values: list[str | None] = [*AWKWARD, None]
    with postgres.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        cursor.execute(
            "SELECT %s::text[], %s::bigint[], %s::bigint[]",
            (pg_array(values), pg_array([1, -2, 2**63 - 1]), pg_array([])),
        )
        assert cursor.fetchone() == (values, [1, -2, 2**63 - 1], [])


# -- SQLite: an executemany of an INSERT becomes a few multi-row INSERTs -----------------


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def _statements_run(session: Session) -> list[str]:
    """Every statement SQLite runs on the session's connection from now on."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    seen: list[str] = []
    raw.set_trace_callback(seen.append)
    return seen


def test_sqlite_rows_of_an_executemany_go_in_few_statements(sqlite: Engine) -> None:
    rows = [(i, 2**62 + i, AWKWARD[i % len(AWKWARD)], i / 7) for i in range(1, 1000)]
    with Session(sqlite) as session:
        seen = _statements_run(session)
        session.connection().exec_driver_sql(
            "INSERT INTO bulk_kinds (id, big, body, score) VALUES (?, ?, ?, ?)", rows
        )
        inserts = [s for s in seen if s.startswith("INSERT")]
        # 999 rows = 3 × 256 + 3 × 64 + 2 × 16 + 1 × 4 + 3 one at a time
        assert len(inserts) == 12
        session.commit()
        stored = session.execute(text("SELECT id, big, body, score FROM bulk_kinds ORDER BY id"))
        assert [tuple(row) for row in stored] == rows


def test_sqlite_ids_given_by_several_statements_follow_each_other(sqlite: Engine) -> None:
    with Session(sqlite) as session:
        session.connection().exec_driver_sql("INSERT INTO bulk_kinds (id) VALUES (41)")
        rows = [(f"第{i}条",) for i in range(300)]
        ids = insert_returning_ids(session, cast(Any, _Kind), ("label",), rows, converted=True)
        assert ids == list(range(42, 342))
        query = text("SELECT id, label FROM bulk_kinds")
        stored: dict[int, str] = {i: label for i, label in session.execute(query)}
        assert all(stored[i] == label for i, (label,) in zip(ids, rows, strict=True))


def test_sqlite_conflict_clauses_apply_row_by_row(sqlite: Engine) -> None:
    """Two rows with one key in one multi-row statement add up, as two statements would."""
    with Session(sqlite) as session:
        connection = session.connection()
        connection.exec_driver_sql("INSERT INTO bulk_kinds (id, big) VALUES (1, 10)")
        bumps = [(1 + i % 3, 1) for i in range(40)]  # ids 1, 2, 3 again and again
        connection.exec_driver_sql(
            "INSERT INTO bulk_kinds (id, big) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET big = big + excluded.big",
            bumps,
        )
        ignored = [(2, "不覆盖")] * 5 + [(9, "新的")] * 5
        connection.exec_driver_sql(
            "INSERT OR IGNORE INTO bulk_kinds (id, label) VALUES (?, ?)", ignored
        )
        rows = connection.exec_driver_sql("SELECT id, big, label FROM bulk_kinds ORDER BY id")
        assert [tuple(row) for row in rows] == [
            (1, 10 + 14, None),
            (2, 13, None),
            (3, 13, None),
            (9, None, "新的"),
        ]


def test_sqlite_other_executemany_statements_run_as_sent(sqlite: Engine) -> None:
    with Session(sqlite) as session:
        connection = session.connection()
        connection.exec_driver_sql(
            "INSERT INTO bulk_kinds (id, big) VALUES (?, ?)", [(i, 0) for i in range(10)]
        )
        seen = _statements_run(session)
        connection.exec_driver_sql(
            "UPDATE bulk_kinds SET big = ? WHERE id = ?", [(i * 2, i) for i in range(10)]
        )
        # a placeholder after VALUES: the rows cannot be laid side by side
        connection.exec_driver_sql(
            "INSERT INTO bulk_kinds (id, big) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET label = ?",
            [(i, 0, "改") for i in range(5)],
        )
        assert len([s for s in seen if s.startswith("UPDATE")]) == 10
        assert len([s for s in seen if s.startswith("INSERT")]) == 5
        with pytest.raises(DBAPIError) as refused:  # the driver's own refusal
            connection.exec_driver_sql(
                "INSERT INTO bulk_kinds (id, big) VALUES (?, ?)",
                [(20, 1), (21, 1), (22, 1), (23, 1), (24,)],
            )
        assert isinstance(refused.value.orig, sqlite3.ProgrammingError)
