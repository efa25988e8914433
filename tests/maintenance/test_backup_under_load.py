"""A backup taken while the real server takes pushes (and audited changes) restores
elsewhere to exactly the snapshot its manifest describes: every table's row count and the
audit chain's head."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.maintenance.conftest import fill_desk, use_target
from tests.support import serving_app
from yuqing.cli import app
from yuqing.core import database
from yuqing.core.audit import SYSTEM
from yuqing.maintenance import backup, retention
from yuqing.maintenance import service as maintenance

runner = CliRunner()


def test_backup_under_push_load_restores_to_its_snapshot(
    engine: Engine, tmp_path: Path, restore_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_desk(engine, tmp_path / "var")
    stop = threading.Event()
    pushed: list[float] = []
    errors: list[str] = []

    def push(port: int) -> None:
        n = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while not stop.is_set():
                items = [
                    {"id": f"load-{n}-{i}", "title": f"负载{n}", "text": f"第{n}批第{i}条推送内容"}
                    for i in range(50)
                ]
                answer = client.post(
                    "/api/v1/mentions",
                    json={"source": "负载推送", "items": items},
                    headers={"Authorization": "Bearer test-push-token"},
                )
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code} {answer.text[:200]}")
                pushed.append(time.monotonic())
                n += 1

    def change_rules() -> None:
        days = 100
        while not stop.is_set():
            with Session(engine) as session:
                retention.update_rule(session, kind="alerts", days=days, actor=SYSTEM)
                session.commit()
            days += 1
            time.sleep(0.05)

    with serving_app() as port:
        threads = [
            threading.Thread(target=push, args=(port,), daemon=True),
            threading.Thread(target=change_rules, daemon=True),
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(pushed) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        began = time.monotonic()
        result = maintenance.run_backup(database.new_session, target_dir=tmp_path / "backups")
        ended = time.monotonic()
        while len([t for t in pushed if t > ended]) < 3 and time.monotonic() < deadline + 60:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[:3]
    assert any(t < began for t in pushed) and any(t > ended for t in pushed)
    manifest = result.manifest
    live = backup.database_counts(engine)
    assert live["mention"] > manifest.counts["mention"]  # the pushes went on after the copy
    key = (tmp_path / "var" / "audit_key").read_text().strip()

    url = use_target(restore_target, monkeypatch)
    monkeypatch.setenv("YUQING_AUDIT_KEY", key)
    restored = runner.invoke(app, ["restore", str(result.path)], catch_exceptions=False)
    assert restored.exit_code == 0, restored.output
    target = database.make_engine(url)
    try:
        assert backup.database_counts(target) == manifest.counts
        with target.connect() as connection:
            head = connection.execute(text("SELECT seq, last_hash FROM audit_head")).one()
        assert (int(head[0]), str(head[1])) == (manifest.audit_seq, manifest.audit_hash)
        assert manifest.audit_seq > 1
    finally:
        target.dispose()
    verified = runner.invoke(app, ["audit", "verify"], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output
