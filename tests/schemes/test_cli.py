"""``yuqing schemes`` commands on a real database."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.cli import app
from yuqing.mentions.store import ingest
from yuqing.sources.models import Source

runner = CliRunner()


def test_check_refuses_a_bad_query_with_exit_code_2(engine: Engine) -> None:
    bad = runner.invoke(app, ["schemes", "check", "南京 AND (大学"])
    assert bad.exit_code == 2
    assert "应为AND/OR/NOT 或右括号" in bad.output
    good = runner.invoke(app, ["schemes", "check", "南京 NEAR/3 大学"])
    assert good.exit_code == 0 and "检索式正确" in good.output


def test_add_list_backfill_remove(engine: Engine, session: Session, push_source: Source) -> None:
    ingest(session, source=push_source, items=[{"external_id": "1", "text": "食堂涨价"}])
    session.commit()
    added = runner.invoke(
        app, ["schemes", "add", "食堂", "--subject", "食堂,饭堂", "--exclude", "招聘"]
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["schemes", "add", "坏", "--query", "foo:bar"]).exit_code == 2
    filled = runner.invoke(app, ["schemes", "backfill", "1"])
    assert filled.exit_code == 0 and "命中 1 条" in filled.output
    listing = runner.invoke(app, ["schemes", "list"]).output
    assert "食堂" in listing and "1/1" in listing
    assert runner.invoke(app, ["schemes", "remove", "1", "--yes"]).exit_code == 0
    assert runner.invoke(app, ["schemes", "backfill", "1"]).exit_code == 2
