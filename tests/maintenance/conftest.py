"""Helpers of the maintenance tests: a desk with data and files, a second empty target."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.cases.conftest import world  # noqa: F401  (a fixture of the retention and page tests)
from tests.conftest import TEST_DATABASE_URL
from tests.web.test_browser import browser, server  # noqa: F401  (fixtures of the browser test)
from yuqing.core import database
from yuqing.core.settings import reset_settings_cache


def fill_desk(engine: Engine, data_dir: Path) -> None:
    """Demo mentions and a few files where the desk keeps them (an upload, a model)."""
    from yuqing.cli.setup import ensure_audit_key
    from yuqing.demo import load_demo

    ensure_audit_key()
    with Session(engine) as session:
        load_demo(session)
        session.commit()
    (data_dir / "imports").mkdir(parents=True, exist_ok=True)
    (data_dir / "imports" / "upload-1.csv").write_text("标题,正文\n一,二\n", encoding="utf-8")
    (data_dir / "models" / "versions").mkdir(parents=True, exist_ok=True)
    (data_dir / "models" / "versions" / "v0-test.bin").write_bytes(os.urandom(4096))


def _admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
def restore_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data folder (and, on PostgreSQL, an empty database) to restore into; the
    settings point at it only when the test calls ``use_target``."""
    target = tmp_path / "restored"
    if TEST_DATABASE_URL:
        name = TEST_DATABASE_URL.rsplit("/", 1)[1] + "_restore"
        admin = database.make_engine(_admin_url(TEST_DATABASE_URL))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        monkeypatch.setenv("YUQING_RESTORE_URL", TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name)
    yield target


def use_target(target: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the settings (and the engine) at the restore target; its database URL."""
    monkeypatch.setenv("YUQING_DATA_DIR", str(target))
    url = os.environ.get("YUQING_RESTORE_URL", "")
    if url:
        monkeypatch.setenv("YUQING_DATABASE_URL", url)
    reset_settings_cache()
    database.set_engine(None)
    return url or f"sqlite:///{target / 'yuqing.db'}"
