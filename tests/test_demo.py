"""The demo desk reads like a real week of a university: no test artefacts, complaints that
read as complaints, and one ready alert rule whose alerts reach the desk inbox (issue 12)."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing import demo
from yuqing.alerts.models import Alert, AlertRule
from yuqing.auth import service as auth
from yuqing.auth.models import User
from yuqing.mentions.models import Mention
from yuqing.notify import service as notify


def test_the_demo_stream_has_no_test_artefacts() -> None:
    items = demo._items(random.Random(7), 240)
    for item in items:
        words = f"{item.get('title') or ''}{item['text']}".lower()
        assert "<script" not in words and "alert(" not in words and "桌面应当" not in words
        assert "demo" not in item.get("url", "")  # links read as real links in reports


def test_the_demo_has_complaints_praise_and_notices() -> None:
    texts = [item["text"] for item in demo._items(random.Random(7), 240)]
    for cue in ("停电", "空调故障", "频繁掉线", "补贴发放延迟", "涨价", "校运会", "科研", "通知"):
        assert any(cue in text for text in texts), cue
    # A repost of a complaint does not cheer it on.
    complaints = ("停电", "空调故障", "频繁掉线", "发放延迟", "涨价")
    reposts = [t for t in texts if t.startswith("转发：") and any(c in t for c in complaints)]
    assert reposts and not any(t.endswith(("点赞！", "太棒了！", "祝贺！")) for t in reposts)


def test_the_demo_ships_a_rule_whose_alerts_reach_the_admins_inbox(session: Session) -> None:
    auth.bootstrap_admin(session)
    session.commit()
    assert demo.load_demo(session) is not None
    rule = session.execute(select(AlertRule)).scalar_one()
    assert rule.name == demo.DEMO_RULE and rule.enabled
    alerts = list(session.execute(select(Alert)).scalars())
    assert alerts and all(a.rule_id == rule.id for a in alerts)
    admin = session.execute(select(User).where(User.username == "admin")).scalar_one()
    assert notify.count_unread(session, user_id=admin.id) == len(alerts)
    stored = " ".join(session.execute(select(Mention.text)).scalars())
    assert "<script" not in stored


def test_the_fictional_university_is_placed_nowhere() -> None:
    from yuqing.analysis.places import find_places

    texts = [item["text"] for item in demo._items(random.Random(7), 240)]
    assert not any(find_places(texts))  # "说不清原因" once put it in 清原满族自治县
