"""The migration creates exactly the tables the models describe (no stale migration)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import yuqing.models  # noqa: F401  (registers every table)
from yuqing.core.database import Base


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            d
            for d in compare_metadata(context, Base.metadata)
            # The full-text tables are hand-written DDL outside the models.
            if "mention_fts" not in str(d)
        ]
    assert differences == []
