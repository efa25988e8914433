"""Many rows in one statement on PostgreSQL: rows go as one JSON parameter and arrays as
literals (``insert_many``, ``where_in``, ``pg_array``); every kind of value the desk stores
comes back as it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

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
from sqlalchemy.orm import Session

from tests.support import postgres_schema
from yuqing.core.database import insert_many, pg_array, where_in

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
