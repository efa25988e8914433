"""The administrator's page on the real app: backups shown, rules refused or saved,
pseudonymised export, erasure on request (case records kept)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.cases.conftest import World
from tests.maintenance.conftest import fill_desk
from tests.support import desk_client
from yuqing.cases import service as cases
from yuqing.core.audit import AuditEntry
from yuqing.maintenance import retention
from yuqing.mentions.models import Mention


def _form(client: object, path: str, **values: str) -> object:
    token = client.cookies.get("yuqing_csrf")  # type: ignore[attr-defined]
    return client.post(path, data={**values, "csrf_token": token}, follow_redirects=False)  # type: ignore[attr-defined]


def test_page_shows_the_last_backup_and_refuses_a_zero_day_rule(
    engine: Engine, tmp_path: Path
) -> None:
    fill_desk(engine, tmp_path / "var")
    with desk_client(engine, role="admin") as client:
        page = client.get("/admin/maintenance")
        assert page.status_code == 200 and "还没有成功的备份" in page.text
        done = _form(client, "/admin/maintenance/backup")
        assert done.status_code == 303, done.text[:300]
        page = client.get("/admin/maintenance?done=backup")
        assert "最近一次成功备份" in page.text and "字节" in page.text
        refused = _form(client, "/admin/maintenance/retention", days_mentions="0")
        assert refused.status_code == 422
        assert "不能小于 1" in refused.text
        saved = _form(client, "/admin/maintenance/retention", days_raw="30")
        assert saved.status_code == 303
    with Session(engine) as session:
        assert retention.get_days(session, kind="mentions") == 730
        assert retention.get_days(session, kind="raw") == 30
    with desk_client(engine, role="publicity", username="office") as client:
        assert client.get("/admin/maintenance").status_code == 403


def test_export_pseudonymises_authors_and_erasure_keeps_case_records(
    engine: Engine, session: Session, world: World, tmp_path: Path
) -> None:
    fill_desk(engine, tmp_path / "var")
    # Three listed items no case keeps yet (the demo's case keeps its event's mentions).
    ids = list(
        session.execute(
            select(Mention.id)
            .where(Mention.status == "new", ~retention.protected_mention())
            .order_by(Mention.id)
        ).scalars()
    )
    session.execute(
        update(Mention)
        .where(Mention.id.in_(ids[:3]))
        .values(author="张三", raw='{"user_id": "u-778899", "text": "x"}')
    )
    session.commit()
    cases.open_case(session, principal=world.office, title="保留", mention_ids=[ids[0]])
    session.commit()
    with desk_client(engine, role="admin") as client:
        answer = _form(client, "/admin/maintenance/export", kind="mentions", days="3660")
        assert answer.status_code == 200
        body = answer.content.decode("utf-8-sig")
        assert "张三" not in body and "u-778899" not in body
        rows = list(csv.DictReader(io.StringIO(body)))
        named = {r["作者（化名）"] for r in rows if r["编号"] in {str(i) for i in ids[:3]}}
        assert len(named) == 1 and next(iter(named)).startswith("P-")
        again = _form(client, "/admin/maintenance/export", kind="mentions", days="3660")
        assert named <= {
            r["作者（化名）"]
            for r in csv.DictReader(io.StringIO(again.content.decode("utf-8-sig")))
        }
        events = _form(client, "/admin/maintenance/export", kind="events", days="3660")
        assert events.status_code == 200
        found = client.get("/admin/maintenance/people", params={"name": "张三"})
        assert "发布的信息 3 条，其中 1 条属于处置记录" in found.text
        refused = _form(client, "/admin/maintenance/erase", name="张三", confirm="李四")
        assert refused.status_code == 422
        erased = _form(client, "/admin/maintenance/erase", name="张三", confirm="张三")
        assert erased.status_code == 200 and "已删除“张三”发布的信息 2 条" in erased.text
    session.expire_all()
    left = list(session.execute(select(Mention).where(Mention.author == "张三")).scalars())
    assert [m.id for m in left] == [ids[0]] and left[0].raw is None
    summaries = [
        e.summary
        for e in session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "person_erasure")
        ).scalars()
    ]
    assert len(summaries) == 1 and "张三" not in summaries[0]
