"""Retention rules and the purge on the real database: what goes, what stays (case records,
the audit log), a rule of 0 days refused, and a purge killed half way that resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.cases.conftest import World
from tests.maintenance.conftest import fill_desk
from yuqing.cases import service as cases
from yuqing.cases.models import CaseEvent, CaseMention
from yuqing.cli import app
from yuqing.core import database
from yuqing.core.audit import AuditEntry, verify
from yuqing.core.timeutil import utcnow
from yuqing.maintenance import retention
from yuqing.maintenance.models import PurgeRun
from yuqing.mentions.models import Mention, MentionBand, MentionPlace
from yuqing.schemes.models import SchemeMatch

runner = CliRunner()


def _age_all_but(session: Session, keep: int, days: int = 800) -> list[int]:
    """Make every mention but the ``keep`` newest ids ``days`` old; the aged ids."""
    ids = list(session.execute(select(Mention.id).order_by(Mention.id)).scalars())
    old = ids[:-keep]
    session.execute(
        update(Mention)
        .where(Mention.id.in_(old))
        .values(collected_at=utcnow() - timedelta(days=days))
    )
    session.commit()
    return old


def test_a_rule_of_zero_days_is_refused_and_a_change_is_audited(engine: Engine) -> None:
    result = runner.invoke(app, ["retention", "set", "mentions", "0"])
    assert result.exit_code == 2
    assert "不能小于 1" in result.output
    result = runner.invoke(app, ["retention", "set", "mentions", "abc"])
    assert result.exit_code == 2 and "整数" in result.output
    result = runner.invoke(app, ["retention", "set", "mentions", "365"])
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        assert retention.get_days(session, kind="mentions") == 365
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "retention_rule")
        ).scalar_one()
        assert "730 天 → 365 天" in entry.summary


def test_purge_deletes_old_mentions_with_their_dependents_and_keeps_case_records(
    engine: Engine, session: Session, world: World, tmp_path: Path
) -> None:
    fill_desk(engine, tmp_path / "var")
    old = _age_all_but(session, keep=5)
    kept_by_case = old[0]
    cases.open_case(session, principal=world.office, title="留存", mention_ids=[kept_by_case])
    session.commit()
    # The demo's own case keeps its event's mentions too.
    kept = set(session.execute(select(Mention.id).where(retention.protected_mention())).scalars())
    kept_old = kept & set(old)
    assert kept_by_case in kept_old
    assert session.execute(
        select(func.count()).select_from(MentionBand).where(MentionBand.mention_id.in_(old))
    ).scalar_one()
    outcomes = retention.purge_all(database.new_session, batch=17, pause=0)
    by_kind = {o.kind: o for o in outcomes}
    assert by_kind["mentions"].deleted == len(old) - len(kept_old)
    assert by_kind["mentions"].batches >= 2
    session.expire_all()
    left = set(session.execute(select(Mention.id)).scalars())
    assert kept_by_case in left and len(left) == 5 + len(kept_old)
    for table in (MentionBand, MentionPlace, SchemeMatch):
        orphans = session.execute(
            select(func.count()).select_from(table).where(table.mention_id.not_in(left))
        ).scalar_one()
        assert orphans == 0
    entries = list(
        session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "retention_purge")
        ).scalars()
    )
    assert {e.object_id for e in entries} == set(retention.RETENTION_KINDS)
    assert verify(session).ok
    assert session.execute(select(func.count()).select_from(PurgeRun)).scalar_one() == 0


SCRIPT = """
import sys, time
from yuqing.core.database import new_session
from yuqing.maintenance import retention

def slow_session():
    session = new_session()
    time.sleep(0.05)
    return session

retention.purge_kind(slow_session, kind="mentions", batch=3, pause=0.05)
"""


def test_a_purge_killed_half_way_resumes_and_leaves_nothing_half_deleted(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    fill_desk(engine, tmp_path / "var")
    # Nothing kept by a case here (the demo's case keeps its event): every aged row goes.
    session.execute(delete(CaseEvent))
    session.execute(delete(CaseMention))
    session.commit()
    old = _age_all_but(session, keep=3)
    url = engine.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, "YUQING_DATABASE_URL": url},
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline:
        with Session(engine) as probe:
            run = probe.get(PurgeRun, "mentions")
            done = run.deleted if run else 0
        if done >= 9:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 9 <= done < len(old)
    session.expire_all()
    run = session.get(PurgeRun, "mentions")
    assert run is not None
    remaining = session.execute(select(func.count()).select_from(Mention)).scalar_one()
    # Every batch wholly done or not at all: what is gone is exactly what was counted.
    assert remaining == len(old) + 3 - run.deleted
    with engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT count(*) FROM mention_band WHERE mention_id NOT IN (SELECT id FROM mention)"
            )
        ).scalar_one()
    assert orphans == 0
    counted = run.deleted
    outcome = retention.purge_kind(database.new_session, kind="mentions", batch=50, pause=0)
    assert outcome.resumed
    assert outcome.deleted == len(old)
    assert counted < outcome.deleted
    session.expire_all()
    assert session.execute(select(func.count()).select_from(Mention)).scalar_one() == 3
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "retention_purge")
    ).scalar_one()
    assert f"{len(old)} 条" in entry.summary and "续上次中断" in entry.summary
