"""The alert desk on the real app: lists render escaped, the editor needs the permission and
the CSRF token, saves are audited, the manual alert form sends once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support import TEST_PASSWORD, make_user, sign_in
from yuqing.alerts import delivery, views
from yuqing.alerts.models import Alert, AlertRule
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention
from yuqing.notify.models import Channel
from yuqing.sources.models import Source


@contextmanager
def client_as(engine: Engine, role: str) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from yuqing.web.app import create_app

    app = create_app()
    if not any(getattr(r, "path", "") == "/alerts" for r in app.routes):
        app.include_router(views.router)  # until web/app.py includes it
    name = make_user(engine, f"{role}_user", role)
    with TestClient(app) as client:
        yield sign_in(client, name, TEST_PASSWORD)


def _mention(session: Session, source: Source, title: str) -> int:
    row = Mention(
        source_id=source.id,
        title=title,
        text="正文",
        url="https://example.cn/x",
        published_at=utcnow(),
        content_hash=hash(title) & 0xFFFFFFF,
        risk_score=70,
        status="new",
    )
    session.add(row)
    session.commit()
    return row.id


def test_alert_list_and_page_escape_and_show_delivery(
    engine: Engine,
    session: Session,
    push_source: Source,
    make_rule: Callable[..., AlertRule],
    channel: Channel,
) -> None:
    rule = make_rule("manual", name="<b>值班</b>")
    mid = _mention(session, push_source, "<script>alert(1)</script>食堂")
    alert = delivery.raise_manual(
        session, rule=rule, mention_id=mid, note="<i>核实</i>", actor=SYSTEM
    )
    session.commit()
    with client_as(engine, "unit_member") as client:
        page = client.get("/alerts")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
        assert "&lt;b&gt;值班&lt;/b&gt;" in page.text and "待发送" in page.text
        one = client.get(f"/alerts/{alert.id}")
        assert one.status_code == 200 and "&lt;i&gt;核实&lt;/i&gt;" in one.text
        # The delivery names the channel by its name and kind, never "wecom channel:1".
        assert "企业微信群机器人“舆情值班群”" in one.text and "channel:" not in one.text
        assert client.get("/alerts/rules/new").status_code == 403
        assert client.get("/alerts/999999").status_code == 404
        mention_page = client.get(f"/mentions/{mid}")
        assert f"/alerts/raise?mention_id={mid}" in mention_page.text


def _form(client: Any, **values: Any) -> dict[str, Any]:
    return {"csrf_token": client.cookies.get("yuqing_csrf"), **values}


def test_rule_editor_saves_with_csrf_and_audit(
    engine: Engine, session: Session, channel: Channel
) -> None:
    with client_as(engine, "publicity") as client:
        assert client.get("/alerts/rules/new?kind=negative_share").status_code == 200
        data = {
            "name": "负面过半",
            "kind": "negative_share",
            "enabled": "1",
            "level": "urgent",
            "threshold_percent": "60",
            "window_minutes": "30",
            "min_count": "8",
            "recipient": f"channel:{channel.id}",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "max_per_hour": "5",
        }
        refused = client.post("/alerts/rules", data=data, follow_redirects=False)
        assert refused.status_code == 403
        bad = client.post(
            "/alerts/rules",
            data=_form(client, **{**data, "quiet_end": "7点"}),
            follow_redirects=False,
        )
        assert bad.status_code == 422 and "时:分" in bad.text
        saved = client.post("/alerts/rules", data=_form(client, **data), follow_redirects=False)
        assert saved.status_code == 303
        listing = client.get(saved.headers["location"])
        assert "负面过半" in listing.text and "舆情值班群" in listing.text
    rule = session.scalars(select(AlertRule)).one()
    assert rule.level == "urgent" and rule.quiet_end == "07:00" and '"threshold":0.6' in rule.params
    audit = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "alert_rule")).one()
    assert audit.actor_name == "publicity_user"


def test_manual_alert_form_sends_once(
    engine: Engine,
    session: Session,
    push_source: Source,
    make_rule: Callable[..., AlertRule],
) -> None:
    rule = make_rule("manual", name="值班群")
    mid = _mention(session, push_source, "食堂投诉")
    with client_as(engine, "unit_member") as client:
        form = client.get(f"/alerts/raise?mention_id={mid}")
        assert form.status_code == 200 and "值班群" in form.text
        data = _form(client, mention_id=str(mid), rule_id=str(rule.id), note="请看", level="urgent")
        sent = client.post("/alerts/raise", data=data, follow_redirects=False)
        assert sent.status_code == 303
        again = client.post("/alerts/raise", data=data, follow_redirects=False)
        assert again.status_code == 422 and "不再重复" in again.text
    session.expire_all()
    [alert] = session.scalars(select(Alert)).all()
    assert alert.level == "urgent" and alert.raised_by == "unit_member_user"
