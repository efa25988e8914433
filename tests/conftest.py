"""Fixtures on real parts: a migrated SQLite or PostgreSQL database, a local HTTP server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from tests.support import LocalServer, need
from yuqing.core import counting, database, freshness
from yuqing.core.settings import reset_settings_cache
from yuqing.sources.models import Source

TEST_DATABASE_URL = os.environ.get("YUQING_TEST_DATABASE_URL", "")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data folder; the test HTTP server on 127.0.0.1 is allowed."""
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("YUQING_FETCH_ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("YUQING_PUSH_TOKEN", "test-push-token")
    reset_settings_cache()
    yield
    reset_settings_cache()


def _pg_available(url: str) -> str | None:
    try:
        engine = database.make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure means: not reachable
        return f"PostgreSQL not reachable at {url}: {type(error).__name__}"


def _reset_postgres(url: str) -> Engine:
    engine = database.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.upgrade_database(engine)
    return engine


def _truncate(engine: Engine) -> None:
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.begin() as connection:
        # The audit log refuses TRUNCATE (a trigger); between tests, and only here, this
        # transaction runs as a replica, for which ordinary triggers do not fire. Only a
        # superuser may set it, which the desk's own database role need not be.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = database.make_engine(f"sqlite:///{path}")
    database.upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine | None]:
    if not TEST_DATABASE_URL:
        yield None
        return
    problem = _pg_available(TEST_DATABASE_URL)
    if problem:
        yield None
        return
    engine = _reset_postgres(TEST_DATABASE_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(
    _sqlite_template: Path, tmp_path: Path, _postgres_engine: Engine | None
) -> Iterator[Engine]:
    """The database of one test: a fresh migrated SQLite file, or PostgreSQL when
    ``YUQING_TEST_DATABASE_URL`` is set (tables emptied after the test)."""
    if TEST_DATABASE_URL:
        need(_postgres_engine is not None, f"PostgreSQL at {TEST_DATABASE_URL} is not reachable")
        assert _postgres_engine is not None
        database.set_engine(_postgres_engine)
        yield _postgres_engine
        _truncate(_postgres_engine)
        freshness.forget_all()  # the same database, emptied under the process's caches
        counting.forget()
        database.set_engine(None)
        return
    path = tmp_path / "var" / "yuqing.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_sqlite_template, path)
    eng = database.make_engine(f"sqlite:///{path}")
    database.set_engine(eng)
    yield eng
    database.set_engine(None)
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def push_source(session: Session) -> Source:
    source = Source(name="推送测试", kind="push")
    session.add(source)
    session.commit()
    return source


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server = LocalServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL for tests that compare both databases."""
    url = TEST_DATABASE_URL or DEFAULT_PG_URL
    problem = _pg_available(url)
    need(problem is None, problem or "")
    return url


TEST_REDIS_URL = os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A reachable Redis database for queue mode, emptied before and after the test (the
    broker of ``yuqing.worker.tasks``, which this points at it)."""
    import redis

    from yuqing.worker import tasks

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
        problem = None
    except redis.RedisError as error:
        problem = f"Redis not reachable at {TEST_REDIS_URL}: {type(error).__name__}"
    need(problem is None, problem or "")
    client.flushdb()
    monkeypatch.setenv("YUQING_REDIS_URL", TEST_REDIS_URL)
    reset_settings_cache()
    tasks.get_app.cache_clear()
    yield TEST_REDIS_URL
    tasks.get_app.cache_clear()
    client.flushdb()
    client.close()
