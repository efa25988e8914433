"""A database made by release 0.1.0 upgrades to the head with every row kept, on SQLite
and on PostgreSQL; ``yuqing init`` backs it up before upgrading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select, text
from typer.testing import CliRunner

import yuqing.models  # noqa: F401  (registers every table)
from yuqing.cli import app
from yuqing.core import database
from yuqing.core.database import Base
from yuqing.core.settings import reset_settings_cache
from yuqing.maintenance import archive, backup, upgrade

FIXTURE = Path(__file__).parent.parent / "fixtures" / "release_0_1_0"
runner = CliRunner()


def _counts(engine: Engine, names: list[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in names
        }


def _release_tables(engine: Engine) -> list[str]:
    return sorted(n for n in inspect(engine).get_table_names() if not n.startswith("mention_fts"))


def _copy_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE / "yuqing.db", folder / "yuqing.db")
    shutil.copy(FIXTURE / "audit_key", folder / "audit_key")
    return folder / "yuqing.db"


def test_a_sqlite_database_of_release_0_1_0_upgrades_with_its_rows(tmp_path: Path) -> None:
    path = _copy_fixture(tmp_path)
    engine = database.make_engine(f"sqlite:///{path}")
    tables = _release_tables(engine)
    before = _counts(engine, tables)
    assert before["mention"] > 100 and before["audit_entry"] > 0
    assert upgrade.pending_upgrade(engine) == ("0001", upgrade.head_revision(engine))
    database.upgrade_database(engine)
    assert upgrade.current_revision(engine) == upgrade.head_revision(engine)
    assert _counts(engine, tables) == before
    assert "retention_rule" in inspect(engine).get_table_names()
    engine.dispose()


def test_init_backs_up_an_old_database_before_upgrading_it(tmp_path: Path) -> None:
    path = _copy_fixture(tmp_path)
    reset_settings_cache()
    database.set_engine(None)
    try:
        result = runner.invoke(app, ["init"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "先做一次备份" in result.output
        [made] = backup.list_backups(tmp_path / "var" / "backups")
        assert archive.read_manifest(made).schema_revision == "0001"
        engine = database.get_engine()
        assert upgrade.current_revision(engine) == upgrade.head_revision(engine)
        verified = runner.invoke(app, ["audit", "verify"], catch_exceptions=False)
        assert verified.exit_code == 0, verified.output
    finally:
        database.set_engine(None)
    assert path.exists()


def test_a_postgresql_database_of_release_0_1_0_upgrades_with_its_rows(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL at revision 0001 (as release 0.1.0 made it) is filled with the fixture's
    rows, then upgraded."""
    name = postgres_url.rsplit("/", 1)[1] + "_upgrade"
    admin = database.make_engine(postgres_url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    target = database.make_engine(postgres_url.rsplit("/", 1)[0] + "/" + name)
    source = database.make_engine(f"sqlite:///{_copy_fixture(tmp_path)}")
    try:
        command.upgrade(database.alembic_config(target), "0001")
        tables = _release_tables(source)
        old = MetaData()
        old.reflect(target)
        with source.connect() as reading, target.begin() as writing:
            for table in Base.metadata.sorted_tables:
                if table.name not in tables or table.name == "alembic_version":
                    continue
                rows = [dict(r._mapping) for r in reading.execute(select(table))]
                if rows:
                    writing.execute(insert(Table(table.name, old, autoload_with=writing)), rows)
                if "id" in table.c and rows and table.c.id.autoincrement is not False:
                    writing.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
        before = _counts(source, [t for t in tables if t != "alembic_version"])
        assert upgrade.pending_upgrade(target) is not None
        database.upgrade_database(target)
        assert upgrade.current_revision(target) == upgrade.head_revision(target)
        assert _counts(target, list(before)) == before
    finally:
        source.dispose()
        target.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _fixture_exists() -> None:
    assert (FIXTURE / "yuqing.db").exists(), "the 0.1.0 fixture database is kept in the repo"


def test_a_percent_encoded_database_url_reaches_alembic_as_it_is() -> None:
    """Alembic's options go through configparser's interpolation: a ``%`` in the URL (a
    percent-encoded password, or a connection option such as ``options=-csearch_path%3D…``)
    must arrive as it is, not as an interpolation error."""
    url = "postgresql+psycopg://desk:p%40ss%25word@127.0.0.1:1/yuqing?options=-csearch_path%3Ddesk"
    engine = database.make_engine(url)
    try:
        config = database.alembic_config(engine)
        expected = engine.url.render_as_string(hide_password=False)
        assert "%" in expected
        assert config.get_main_option("sqlalchemy.url") == expected
    finally:
        engine.dispose()
