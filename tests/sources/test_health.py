"""Source health from fetch runs: ok, silent, flooding, failing, never, disabled."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tests.support import LocalServer, Reply
from yuqing.sources.health import health_for_all, source_health
from yuqing.sources.models import FetchRun, Source
from yuqing.worker import collect

NOW = datetime(2024, 10, 10, 12, 0)


def make_source(session: Session, *, interval: int = 900, **values: object) -> Source:
    fields: dict[str, object] = {
        "name": "新闻网",
        "kind": "rss",
        "url": "http://news.example.cn/feed",
        "interval_seconds": interval,
        "created_at": NOW - timedelta(days=30),
        "last_attempt_at": NOW - timedelta(minutes=5),
        "last_success_at": NOW - timedelta(minutes=5),
        **values,
    }
    source = Source(**fields)
    session.add(source)
    session.commit()
    return source


def add_runs(session: Session, source: Source, runs: list[tuple[datetime, int]]) -> None:
    session.add_all(
        FetchRun(source_id=source.id, started_at=at, ok=True, items_new=n, items_seen=n)
        for at, n in runs
    )
    session.commit()


def every(
    step: timedelta, *, start: datetime, end: datetime, items: int
) -> list[tuple[datetime, int]]:
    runs = []
    at = start
    while at <= end:
        runs.append((at, items))
        at += step
    return runs


def test_a_source_never_fetched(session: Session) -> None:
    source = make_source(session, last_attempt_at=None, last_success_at=None)
    health = source_health(session, source, now=NOW)
    assert (health.state, health.explanation, health.label) == ("never", "尚未抓取", "未抓取")


def test_a_disabled_source(session: Session) -> None:
    source = make_source(session, enabled=False, consecutive_failures=5)
    assert source_health(session, source, now=NOW).state == "disabled"


def test_any_run_of_failures_is_one_failing_state_with_the_next_try(session: Session) -> None:
    source = make_source(
        session,
        consecutive_failures=3,
        last_error="连接超时（http://x/）",
        next_attempt_at=NOW + timedelta(minutes=30),
    )
    health = source_health(session, source, now=NOW)
    assert (health.state, health.label) == ("failing", "失败 3 次")
    assert health.explanation == (
        "连续失败 3 次：连接超时（http://x/）；最近一次成功于 2024-10-10 19:55；"
        "下次重试 2024-10-10 20:30"
    )
    two = make_source(session, consecutive_failures=2, last_error="连接超时")
    health = source_health(session, two, now=NOW)
    assert (health.state, health.label) == ("failing", "失败 2 次")


def test_a_source_that_never_succeeded_is_failing_not_never_fetched(session: Session) -> None:
    """The old page said 未抓取 beside 连续失败 2 次: one state now, and it is the failure."""
    source = make_source(
        session, last_success_at=None, consecutive_failures=2, last_error="HTTP 404"
    )
    health = source_health(session, source, now=NOW)
    assert (health.state, health.label) == ("failing", "失败 2 次")
    assert "从未成功" in health.explanation and "未抓取" not in health.explanation


def test_a_paused_source_says_so(session: Session) -> None:
    source = make_source(session, enabled=False, consecutive_failures=4, last_error="x")
    health = source_health(session, source, now=NOW)
    assert (health.state, health.label) == ("disabled", "已暂停")


def test_regular_new_items_are_ok(session: Session) -> None:
    source = make_source(session)
    runs = every(timedelta(minutes=20), start=NOW - timedelta(days=3), end=NOW, items=2)
    add_runs(session, source, runs)
    health = source_health(session, source, now=NOW + timedelta(minutes=10))
    assert health.state == "ok" and health.explanation.startswith("正常，最近一次成功抓取于")


def test_a_source_quiet_for_much_longer_than_usual_is_silent(session: Session) -> None:
    source = make_source(session)
    last = NOW - timedelta(hours=5)
    add_runs(
        session,
        source,
        every(timedelta(minutes=20), start=last - timedelta(days=2), end=last, items=1),
    )
    health = source_health(session, source, now=NOW)
    assert health.state == "silent"
    assert health.explanation == "已 5 小时无新内容（通常每 20 分钟有新内容）"


def test_silence_shorter_than_two_intervals_is_not_silent(session: Session) -> None:
    source = make_source(session, interval=3600)
    last = NOW - timedelta(minutes=90)
    add_runs(
        session,
        source,
        every(timedelta(minutes=10), start=last - timedelta(hours=6), end=last, items=1),
    )
    assert source_health(session, source, now=NOW).state == "ok"
    # The same quiet spell is silence once it lasts two intervals.
    assert source_health(session, source, now=NOW + timedelta(minutes=31)).state == "silent"


def test_too_few_runs_to_know_the_usual_gap(session: Session) -> None:
    source = make_source(session)
    add_runs(session, source, [(NOW - timedelta(days=3), 4), (NOW - timedelta(days=2), 1)])
    assert source_health(session, source, now=NOW).state == "ok"


def test_a_burst_far_above_the_hourly_average_is_flooding(session: Session) -> None:
    source = make_source(session)
    add_runs(
        session,
        source,
        every(
            timedelta(hours=1), start=NOW - timedelta(days=7), end=NOW - timedelta(hours=2), items=2
        ),
    )
    add_runs(
        session, source, [(NOW - timedelta(minutes=40), 70), (NOW - timedelta(minutes=10), 50)]
    )
    health = source_health(session, source, now=NOW)
    assert health.state == "flooding"
    assert health.explanation.startswith("最近 1 小时新增 120 条，是过去 7 天平均每小时 2.0 条的")


def test_a_burst_below_the_floor_is_not_flooding(session: Session) -> None:
    source = make_source(session)
    add_runs(
        session,
        source,
        every(
            timedelta(hours=1), start=NOW - timedelta(days=7), end=NOW - timedelta(hours=2), items=1
        ),
    )
    add_runs(session, source, [(NOW - timedelta(minutes=10), 40)])
    assert source_health(session, source, now=NOW).state == "ok"


def test_the_first_backlog_of_a_new_source_is_not_flooding(session: Session) -> None:
    source = make_source(session, created_at=NOW - timedelta(minutes=30))
    add_runs(session, source, [(NOW - timedelta(minutes=20), 300)])
    assert source_health(session, source, now=NOW).state == "ok"


def test_health_for_all_matches_one_by_one(session: Session) -> None:
    quiet = make_source(session, name="安静的源")
    last = NOW - timedelta(hours=5)
    add_runs(
        session,
        quiet,
        every(timedelta(minutes=20), start=last - timedelta(days=1), end=last, items=1),
    )
    broken = make_source(session, name="坏的源", consecutive_failures=4, last_error="HTTP 500")
    pushed = Source(name="推送", kind="push", created_at=NOW)
    session.add(pushed)
    session.commit()
    found = health_for_all(session, now=NOW)
    assert {k: h.state for k, h in found.items()} == {
        quiet.id: "silent",
        broken.id: "failing",
        pushed.id: "never",
    }
    assert found[quiet.id] == source_health(session, quiet, now=NOW)


def test_failing_fetches_make_a_failing_source(session: Session, http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Reply(500, b"")
    source = Source(name="坏的源", kind="rss", url=http_server.url("/feed"))
    session.add(source)
    session.commit()
    for _ in range(3):
        collect.fetch_source(session, source, now=NOW)
    session.commit()
    health = source_health(session, source, now=NOW)
    assert health.state == "failing" and "HTTP 500" in health.explanation
