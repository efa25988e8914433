"""Each rule kind on a real database: fires on the right data, stays quiet on the wrong data,
and delivers into the outbox with dedupe, cooldown, cap, quiet hours, urgency and digests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.alerts.conftest import ingest, make_scheme, notifications
from yuqing.alerts import delivery, jobs, service
from yuqing.alerts.models import Alert, AlertRule
from yuqing.alerts.rules import Rule, spike_test
from yuqing.core.audit import SYSTEM, AuditEntry
from yuqing.core.timeutil import to_utc_naive, utcnow
from yuqing.events.models import Event, EventHour
from yuqing.mentions.models import Mention
from yuqing.schemes.models import SchemeMatch
from yuqing.sources.models import FetchRun, Source

MakeRule = Callable[..., AlertRule]


def alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


# --- scheme hits ----------------------------------------------------------------------------


def test_scheme_hit_alerts_a_matching_item_with_its_reason(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    scheme_id = make_scheme(session, "校园食堂", "食堂")
    make_rule("scheme_hit", params={"scheme_ids": [scheme_id]})
    ingest(
        session, push_source, "某大学食堂饭菜里吃出异物，学生投诉无人处理", "今天天气很好适合出游"
    )
    session.commit()
    [alert] = alerts(session)
    mention = session.get(Mention, alert.mention_id)
    assert mention is not None and "食堂" in mention.text
    why = service.explanation_of(alert)
    assert "校园食堂" in why.summary and why.words == ["食堂"]
    assert why.sources == ["推送测试"] and why.items[0].url == mention.url
    [note] = notifications(session)
    assert (note.source_type, note.source_id, note.target) == ("alert", alert.id, note.target)
    payload = json.loads(note.payload)
    assert "规则：" in payload["text"] and payload["items"][0]["url"] == mention.url
    assert note.dedupe_key == f"alert:{alert.rule_id}:m{mention.id}"


def test_scheme_hit_on_another_scheme_or_no_match_stays_quiet(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    watched = make_scheme(session, "校园食堂", "食堂")
    make_scheme(session, "招生", "招生")
    make_rule("scheme_hit", params={"scheme_ids": [watched]})
    ingest(session, push_source, "今年招生计划公布，新增两个专业", "图书馆延长开放时间")
    session.commit()
    assert alerts(session) == [] and notifications(session) == []


def test_negative_only_rule_takes_only_negative_items(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "学校", "学校")
    make_rule("scheme_hit", params={"hit_mode": "negative"})
    ingest(
        session,
        push_source,
        "学校食堂卫生太差了，吃完拉肚子，投诉也没人管，太气人了",
        "学校举办运动会，同学们热情高涨，取得圆满成功，非常开心",
    )
    session.commit()
    rows = session.execute(select(Mention.id, Mention.sentiment)).all()
    assert {s for _, s in rows} >= {"negative"}  # the model reads the first as negative
    alerted = {a.mention_id for a in alerts(session)}
    assert alerted == {mid for mid, s in rows if s == "negative"}


def test_risk_rule_needs_the_score(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "学校", "学校")
    make_rule("scheme_hit", params={"hit_mode": "risk", "min_risk": 100})
    ingest(session, push_source, "学校举办运动会，同学们热情高涨")
    session.commit()
    assert alerts(session) == []


# --- sensitive words ------------------------------------------------------------------------


def test_sensitive_words_fire_by_category(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    service.ensure_categories(session)
    make_rule("sensitive_words", params={"categories": ["rumour"]})
    ingest(
        session, push_source, "有人在群里造谣说学校要停课", "网络赌博广告又出现在论坛", "平常的一天"
    )
    session.commit()
    [alert] = alerts(session)
    why = service.explanation_of(alert)
    assert why.words == ["造谣"] and "散布谣言" in why.summary


def test_edited_word_list_applies_to_the_next_batch(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    [category, *_] = service.ensure_categories(session)
    make_rule("sensitive_words")
    ingest(session, push_source, "一段提到甲乙丙丁的文字")
    session.commit()
    assert alerts(session) == []
    service.update_category(session, category=category, name=category.name, words=["甲乙丙丁"])
    session.commit()
    ingest(session, push_source, "另一段提到甲乙丙丁的文字")
    session.commit()
    assert len(alerts(session)) == 1
    assert session.scalar(
        select(func.count()).where(AuditEntry.object_type == "sensitive_category")
    )


# --- same transaction, dedupe, cap ------------------------------------------------------------


def test_alert_and_outbox_roll_back_with_the_batch(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "食堂", "食堂")
    make_rule("scheme_hit")
    ingest(session, push_source, "食堂涨价引发不满")
    assert len(alerts(session)) == 1 and len(notifications(session)) == 1
    session.rollback()
    assert alerts(session) == [] and notifications(session) == []
    assert session.scalar(select(func.count()).select_from(Mention)) == 0


def test_an_item_is_alerted_once_even_when_updated_or_reposted(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "食堂", "食堂")
    make_rule("scheme_hit")
    text = "学校食堂饭菜价格上涨三成，学生普遍反映难以承受，希望学校给个说法"
    ingest(session, push_source, text, external_id="a1")
    session.commit()
    ingest(session, push_source, text + "（更新）", external_id="a1")
    ingest(session, push_source, "转发：" + text + " //@某某", external_id="a2")
    session.commit()
    assert len(alerts(session)) == 1 and len(notifications(session)) == 1


def test_hourly_cap_keeps_the_riskiest_and_counts_the_rest(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "全部", "的")
    rule = make_rule("scheme_hit", max_per_hour=2)
    ingest(session, push_source, *[f"第{i}条新闻的内容，编号{i * 7919}" for i in range(6)])
    session.commit()
    assert len(alerts(session)) == 2
    session.refresh(rule)
    assert rule.suppressed == 4


# --- quiet hours, urgency, digests ----------------------------------------------------------


def _local(text: str) -> datetime:
    return to_utc_naive(datetime.fromisoformat(text))


def _rule(**values: Any) -> Rule:
    base: dict[str, Any] = {
        "id": 1,
        "name": "r",
        "kind": "scheme_hit",
        "level": "warning",
        "params": __import__("yuqing.alerts.schemas", fromlist=["RuleParams"]).RuleParams(),
        "recipients": (),
        "quiet_start": None,
        "quiet_end": None,
        "quiet_weekends": False,
        "urgent_risk": None,
        "batch_minutes": 0,
        "cooldown_minutes": 0,
        "max_per_hour": 30,
    }
    return Rule(**{**base, **values})


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2024-06-05 23:10", "2024-06-06 07:30"),  # Wednesday night → Thursday morning
        ("2024-06-06 06:00", "2024-06-06 07:30"),
        ("2024-06-06 12:00", None),
        ("2024-06-07 23:00", "2024-06-10 07:30"),  # Friday night → Monday (weekend held)
        ("2024-06-09 15:00", "2024-06-10 07:30"),  # Sunday afternoon
    ],
)
def test_quiet_hours_and_weekend_hold_until_the_window_opens(
    now: str, expected: str | None
) -> None:
    rule = _rule(quiet_start="22:00", quiet_end="07:30", quiet_weekends=True)
    release = delivery.hold_until(rule, _local(now))
    assert release == (_local(expected) if expected else None)


def test_held_alert_waits_and_urgent_one_goes_at_once(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "食堂", "食堂")
    make_rule("scheme_hit", name="夜间", quiet_start="00:00", quiet_end="23:59")
    make_rule("scheme_hit", name="紧急", quiet_start="00:00", quiet_end="23:59", urgent_risk=0)
    before = utcnow()
    ingest(session, push_source, "食堂夜宵窗口关闭")
    session.commit()
    held, urgent = alerts(session)
    assert held.state == "held" and held.not_before is not None and held.not_before > before
    assert urgent.state == "sent" and urgent.level == "urgent" and urgent.not_before is None
    by_alert = {n.source_id: n for n in notifications(session)}
    assert by_alert[held.id].next_attempt_at == held.not_before
    assert by_alert[urgent.id].next_attempt_at <= utcnow() and by_alert[urgent.id].level == "urgent"


def test_batched_rule_sends_one_digest_when_the_batch_is_due(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    make_scheme(session, "食堂", "食堂")
    make_rule("scheme_hit", batch_minutes=10)
    ingest(session, push_source, "食堂一号窗口排队", "食堂二号窗口涨价", "食堂三号窗口关闭")
    session.commit()
    assert [a.state for a in alerts(session)] == ["pending"] * 3 and notifications(session) == []
    assert delivery.flush_batches(session, now=utcnow() + timedelta(minutes=5)) == 0
    assert delivery.flush_batches(session, now=utcnow() + timedelta(minutes=11)) == 1
    session.commit()
    found = alerts(session)
    assert {a.state for a in found} == {"sent"} and {a.delivered_with for a in found} == {
        found[0].id
    }
    [digest] = notifications(session)
    payload = json.loads(digest.payload)
    assert "3 条" in payload["title"] and len(payload["items"]) == 3


# --- periodic rules -------------------------------------------------------------------------


def _mention(session: Session, source: Source, at: datetime, sentiment: str, n: int) -> int:
    row = Mention(
        source_id=source.id,
        title=f"信息{n}",
        text=f"正文{n}",
        url=f"https://example.cn/{n}",
        published_at=at,
        content_hash=1000 + n,
        sentiment=sentiment,
        risk_score=50,
        status="new",
    )
    session.add(row)
    session.flush()
    return row.id


def test_negative_share_fires_over_threshold_with_enough_items(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    # Half past the hour: the rule's alerts are one per hour-long window, and a "now" in
    # the last minute of an hour put the check a minute later into the next window.
    now = utcnow().replace(minute=30, second=0, microsecond=0)
    if now > utcnow():
        now -= timedelta(hours=1)
    make_rule("negative_share", params={"threshold": 0.5, "min_count": 5, "window_minutes": 60})
    for i in range(4):
        _mention(session, push_source, now - timedelta(minutes=10), "negative", i)
    session.commit()
    assert jobs.evaluate_periodic(session, now=now) == []  # 4 < min count
    _mention(session, push_source, now - timedelta(minutes=5), "neutral", 10)
    _mention(session, push_source, now - timedelta(hours=3), "neutral", 11)  # outside window
    [alert] = jobs.evaluate_periodic(session, now=now)
    why = service.explanation_of(alert)
    assert "负面信息 4 条" in why.summary and "80%" in why.summary
    assert jobs.evaluate_periodic(session, now=now + timedelta(minutes=1)) == []  # same window


def test_negative_share_below_threshold_is_quiet(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    now = utcnow()
    make_rule("negative_share", params={"threshold": 0.5, "min_count": 2})
    for i, s in enumerate(["negative", "neutral", "positive", "neutral"]):
        _mention(session, push_source, now - timedelta(minutes=5), s, i)
    assert jobs.evaluate_periodic(session, now=now) == []


def test_spike_bars() -> None:
    assert spike_test(30, 12 * 3, 12, "medium").fired  # 30 against a mean of 3
    assert not spike_test(8, 12 * 3, 12, "medium").fired  # under the minimum count
    assert not spike_test(40, 12 * 30, 12, "medium").fired  # the usual level
    assert spike_test(6, 0, 12, "high").fired and not spike_test(6, 0, 12, "low").fired


def test_scheme_spike_fires_against_its_baseline_with_cooldown(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    now = utcnow()
    scheme_id = make_scheme(session, "食堂", "食堂")
    rule = make_rule("spike", params={"target": "scheme", "sensitivity": "medium"})
    rule.cooldown_minutes = 120
    rule.version += 1
    n = 0
    for hour in range(1, 13):  # two a hour before
        for _ in range(2):
            n += 1
            mid = _mention(
                session, push_source, now - timedelta(hours=hour, minutes=20), "neutral", n
            )
            session.add(SchemeMatch(scheme_id=scheme_id, mention_id=mid, words='["食堂"]'))
    for _ in range(15):
        n += 1
        mid = _mention(session, push_source, now - timedelta(minutes=10), "negative", n)
        session.add(SchemeMatch(scheme_id=scheme_id, mention_id=mid, words='["食堂"]'))
    session.commit()
    [alert] = jobs.evaluate_periodic(session, now=now)
    why = service.explanation_of(alert)
    assert alert.subject == f"s{scheme_id}" and "15 条" in why.summary and why.words == ["食堂"]
    assert why.numbers[0].baseline == 2.0 and len(why.items) == 5
    # The next window still counts high, but the cooldown holds it back.
    assert jobs.evaluate_periodic(session, now=now + timedelta(minutes=61)) == []


def test_event_spike_reads_hourly_counts(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    now = utcnow().replace(minute=30)
    make_rule("spike", params={"target": "event", "sensitivity": "high"})
    event = Event(title="食堂涨价", first_seen_at=now - timedelta(hours=12), last_seen_at=now)
    quiet = Event(title="平稳", first_seen_at=now - timedelta(hours=12), last_seen_at=now)
    session.add_all([event, quiet])
    session.flush()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(1, 13):
        session.add(EventHour(event_id=event.id, hour=hour - timedelta(hours=back + 1), count=1))
        session.add(EventHour(event_id=quiet.id, hour=hour - timedelta(hours=back + 1), count=5))
    session.add(EventHour(event_id=event.id, hour=hour, count=12))
    session.add(EventHour(event_id=quiet.id, hour=hour, count=6))
    session.commit()
    [alert] = jobs.evaluate_periodic(session, now=now)
    assert alert.event_id == event.id and "食堂涨价" in alert.title


def test_silent_source_alerts_once_per_silence(session: Session, make_rule: MakeRule) -> None:
    now = utcnow()
    source = Source(
        name="校报订阅",
        kind="rss",
        url="http://127.0.0.1:9/feed",
        interval_seconds=3600,
        last_attempt_at=now - timedelta(minutes=5),
        last_success_at=now - timedelta(minutes=5),
        last_new_item_at=now - timedelta(days=4),
        created_at=now - timedelta(days=20),
    )
    session.add(source)
    session.flush()
    for day in range(4, 11):
        session.add(
            FetchRun(source_id=source.id, started_at=now - timedelta(days=day), items_new=3)
        )
    make_rule("source_silent")
    [alert] = jobs.evaluate_periodic(session, now=now)
    assert "校报订阅" in alert.title and "无新内容" in service.explanation_of(alert).summary
    assert jobs.evaluate_periodic(session, now=now + timedelta(minutes=1)) == []


# --- manual -----------------------------------------------------------------------------------


def test_manual_alert_goes_at_once_and_only_once(
    session: Session, push_source: Source, make_rule: MakeRule
) -> None:
    rule = make_rule("manual", quiet_start="00:00", quiet_end="23:59")
    mid = _mention(session, push_source, utcnow(), "negative", 1)
    alert = delivery.raise_manual(session, rule=rule, mention_id=mid, note="请核实", actor=SYSTEM)
    session.commit()
    assert alert.state == "sent" and alert.raised_by == "系统" and alert.note == "请核实"
    assert "请核实" in service.explanation_of(alert).summary
    with pytest.raises(delivery.ManualAlertError, match="不再重复"):
        delivery.raise_manual(session, rule=rule, mention_id=mid, actor=SYSTEM)
    with pytest.raises(delivery.ManualAlertError, match="没有 ID"):
        delivery.raise_manual(session, rule=rule, mention_id=999_999, actor=SYSTEM)


def test_rule_changes_are_audited(session: Session, make_rule: MakeRule) -> None:
    rule = make_rule("scheme_hit")
    rule_in = service.rule_in_of(rule)
    rule_in.max_per_hour = 5
    service.update_rule(session, rule=rule, rule_in=rule_in)
    service.delete_rule(session, rule=rule)
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "alert_rule")
    ).all()
    assert list(actions) == ["create", "update", "delete"]
