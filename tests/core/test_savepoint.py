"""A savepoint nests on SQLite too: rolling the request back takes the row back with it."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from yuqing.core.database import savepoint
from yuqing.sources.models import Source


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Source)).scalar_one()


def test_a_row_written_in_a_savepoint_goes_when_the_transaction_is_rolled_back(
    engine: Engine,
) -> None:
    before = _count(engine)
    with Session(engine) as session:
        session.execute(select(Source.id)).all()  # a read first, as a request does
        with savepoint(session):
            session.add(Source(name="保存点测试", kind="push"))
            session.flush()
        session.rollback()  # the request failed after the savepoint
    assert _count(engine) == before


def test_a_row_written_in_a_savepoint_stays_when_the_transaction_commits(engine: Engine) -> None:
    before = _count(engine)
    with Session(engine) as session:
        with savepoint(session):
            session.add(Source(name="保存点测试", kind="push"))
            session.flush()
        session.commit()
    assert _count(engine) == before + 1
