"""Upgrading an installed desk: which revision its database is at, and whether the code's
migrations go further (then ``yuqing init`` backs it up before upgrading)."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from yuqing.core.database import alembic_config


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending_upgrade(engine: Engine) -> tuple[str, str] | None:
    """``(current, head)`` when a database made by an earlier release waits for migrations;
    None when it is new (nothing to keep) or already at the head."""
    current = current_revision(engine)
    if current is None:
        return None
    head = head_revision(engine)
    return None if current == head else (current, head)
