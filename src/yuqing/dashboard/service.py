"""The dashboard's figures, read from the counters and small indexed queries (never a scan
of the mention table), and the rebuild of the counters from stored mentions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from yuqing.alerts.config import LEVEL_LABELS
from yuqing.alerts.models import Alert
from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.core.timeutil import local_zone, to_local, utcnow
from yuqing.dashboard import stage
from yuqing.dashboard.models import ALL_PLACES, DashboardDay, DashboardHour
from yuqing.events import service as events
from yuqing.events.models import Event
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

TREND_HOURS = 48
TREND_DAYS = 30
TOP_EVENTS = 10
HOT_WORDS = 20
BOARD_ROWS = 20
SENTIMENTS = ("positive", "neutral", "negative", "")
SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面", "": "未判定"}
KIND_LABELS = {
    "rss": "订阅源",
    "page": "单个网页",
    "list": "列表页",
    "import": "导入文件",
    "push": "推送接口",
}
REBUILD_CHUNK = 20_000


def _province_names() -> dict[str, str]:
    return {code: name for name, code in stage.province_codes().items()}


def _today_start(now: datetime) -> tuple[date, datetime]:
    """The institution's current day and its start in naive UTC."""
    local = now.replace(tzinfo=UTC).astimezone(local_zone())
    start = datetime.combine(local.date(), time(), tzinfo=local_zone())
    return local.date(), start.astimezone(UTC).replace(tzinfo=None)


# --- counters ---------------------------------------------------------------------------


def rebuild(session: Session) -> int:
    """Recount every listed mention into empty counters (for a database that had mentions
    before the counters existed, or after hand repairs). Returns how many were counted; the
    caller commits."""
    session.execute(delete(DashboardHour))
    session.execute(delete(DashboardDay))
    kinds = dict(session.execute(select(Source.id, Source.kind)).all())
    total, last = 0, 0
    while True:
        batch = session.execute(
            select(
                Mention.id,
                Mention.source_id,
                Mention.published_at,
                Mention.sentiment,
                Mention.regions,
            )
            .where(Mention.status == "new", Mention.id > last)
            .order_by(Mention.id)
            .limit(REBUILD_CHUNK)
        ).all()
        if not batch:
            return total
        counts: Counter[stage.Key] = Counter()
        for row in batch:
            kind = kinds.get(row.source_id, "")
            counts.update(
                stage.count_rows(
                    kind,
                    [
                        {
                            "published_at": row.published_at,
                            "sentiment": row.sentiment,
                            "regions": row.regions,
                        }
                    ],
                )
            )
        stage.add_counts(session, counts)
        total += len(batch)
        last = batch[-1].id


# --- the snapshot -------------------------------------------------------------------------


def snapshot(
    session: Session, *, principal: Principal, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the dashboard draws, as JSON-ready data; cases are those ``principal`` sees."""
    at = now or utcnow()
    today, today_start = _today_start(at)
    return {
        "generated_at": _iso_local(at),
        "today": today.isoformat(),
        "sentiments": [{"key": s, "label": SENTIMENT_LABELS[s]} for s in SENTIMENTS],
        "hourly": hourly_trend(session, at),
        "daily": daily_trend(session, today),
        "kinds": kinds(session, today),
        "provinces": provinces(session, today),
        "events": top_events(session),
        "hot_words": hot_words(session, at),
        "cases": open_cases(session, principal, at),
        "alerts": alerts_today(session, today_start),
        "totals": totals(session, today),
    }


def _iso_local(value: datetime | None) -> str | None:
    local = to_local(value)
    return local.isoformat(timespec="minutes") if local else None


def _steps(
    session: Session,
    table: type[DashboardHour] | type[DashboardDay],
    step: InstrumentedAttribute[Any],
    first: Any,
    last: Any,
) -> Sequence[Row[Any]]:
    """The counts of all places per step (hour or day) and sentiment, ``first`` to ``last``
    included."""
    return session.execute(
        select(step, table.sentiment, func.sum(table.count))
        .where(step >= first, step <= last, table.province == ALL_PLACES)
        .group_by(step, table.sentiment)
    ).all()


def hourly_trend(session: Session, now: datetime) -> dict[str, Any]:
    """Mentions per hour over the last ``TREND_HOURS`` hours, split by sentiment."""
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=TREND_HOURS - 1)
    rows = _steps(session, DashboardHour, DashboardHour.hour, start, end)
    hours = [start + timedelta(hours=i) for i in range(TREND_HOURS)]
    return _series(rows, hours, lambda h: to_local(h).strftime("%m-%d %H:00"))  # type: ignore[union-attr]


def daily_trend(session: Session, today: date) -> dict[str, Any]:
    """Mentions per day (institution's zone) over the last ``TREND_DAYS`` days."""
    start = today - timedelta(days=TREND_DAYS - 1)
    rows = _steps(session, DashboardDay, DashboardDay.day, start, today)
    days = [start + timedelta(days=i) for i in range(TREND_DAYS)]
    return _series(rows, days, lambda d: d.strftime("%m-%d"))


def _series(rows: Any, buckets: list[Any], label: Any) -> dict[str, Any]:
    counts: dict[str, dict[Any, int]] = defaultdict(dict)
    for bucket, sentiment, n in rows:
        counts[sentiment or ""][bucket] = int(n)
    return {
        "labels": [label(b) for b in buckets],
        "series": {s: [counts[s].get(b, 0) for b in buckets] for s in SENTIMENTS},
    }


def _window(today: date) -> Any:
    return (DashboardDay.day >= today - timedelta(days=TREND_DAYS - 1), DashboardDay.day <= today)


def kinds(session: Session, today: date) -> list[dict[str, Any]]:
    """Mentions per source kind over the last ``TREND_DAYS`` days, most first."""
    rows = session.execute(
        select(DashboardDay.kind, func.sum(DashboardDay.count))
        .where(*_window(today), DashboardDay.province == ALL_PLACES)
        .group_by(DashboardDay.kind)
    ).all()
    found = [
        {"kind": k, "label": KIND_LABELS.get(k, k or "其他"), "count": int(n)} for k, n in rows
    ]
    return sorted(found, key=lambda r: (-r["count"], r["kind"]))


def provinces(session: Session, today: date, limit: int = 34) -> list[dict[str, Any]]:
    """Mentions naming each province over the last ``TREND_DAYS`` days, most first."""
    rows = session.execute(
        select(DashboardDay.province, func.sum(DashboardDay.count))
        .where(*_window(today), DashboardDay.province != ALL_PLACES)
        .group_by(DashboardDay.province)
    ).all()
    names = _province_names()
    ranked = sorted(((int(n), c) for c, n in rows), key=lambda p: (-p[0], p[1]))[:limit]
    return [{"code": c, "name": names.get(c, c), "count": n} for n, c in ranked]


def totals(session: Session, today: date) -> dict[str, int]:
    """Today's mentions, today's negative ones, and the last ``TREND_DAYS`` days'."""
    rows = session.execute(
        select(DashboardDay.day, DashboardDay.sentiment, func.sum(DashboardDay.count))
        .where(*_window(today), DashboardDay.province == ALL_PLACES)
        .group_by(DashboardDay.day, DashboardDay.sentiment)
    ).all()
    out = {"today": 0, "today_negative": 0, "period": 0}
    for day, sentiment, n in rows:
        out["period"] += int(n)
        if day == today:
            out["today"] += int(n)
            if sentiment == "negative":
                out["today_negative"] += int(n)
    return out


def top_events(session: Session, limit: int = TOP_EVENTS) -> list[dict[str, Any]]:
    """The hottest live events (the heat index kept by events.jobs.refresh_heat)."""
    rows = session.execute(
        select(Event)
        .where(Event.merged_into_id.is_(None))
        .order_by(Event.heat.desc(), Event.id.desc())
        .limit(limit)
    ).scalars()
    return [
        {
            "id": e.id,
            "title": e.title or f"事件 {e.id}",
            "heat": round(e.heat, 1),
            "size": e.size,
            "negative_share": round(events.sentiment_share(e)["negative"], 3),
            "last_seen_at": _iso_local(e.last_seen_at),
            "url": f"/events/{e.id}",
        }
        for e in rows
    ]


def hot_words(session: Session, now: datetime, limit: int = HOT_WORDS) -> list[dict[str, Any]]:
    """Key phrases rising in the last hour (events.service.hot_topics)."""
    return [
        {"term": t.term, "count": t.last_hour, "ratio": round(t.ratio, 2)}
        for t in events.hot_topics(session, now=now, limit=limit)
    ]


def open_cases(session: Session, principal: Principal, now: datetime) -> dict[str, Any]:
    """Open cases the principal sees, nearest deadline first (cases.service.list_board_rows); an
    account that may not read cases gets none (``allowed`` false) rather than an error."""
    if not principal.can(cases.READ):
        return {"allowed": False, "total": 0, "overdue": 0, "rows": []}
    rows = cases.list_board_rows(session, principal=principal, now=now)
    return {
        "allowed": True,
        "total": len(rows),
        "overdue": sum(1 for r in rows if r.overdue),
        "rows": [
            {
                "id": r.case_id,
                "title": r.title,
                "status": r.status_label,
                "grade": r.grade_name,
                "grade_color": r.grade_color,
                # A case this unit reported but another unit handles: the handler stays unnamed,
                # as on the case pages.
                "unit": r.unit_name if principal.sees_unit(r.unit_id) else "其他单位",
                "clock": r.clock_label,
                "due_at": _iso_local(r.due_at),
                "seconds_left": None if r.seconds_left is None else int(r.seconds_left),
                "overdue": r.overdue,
                "url": f"/cases/{r.case_id}",
            }
            for r in rows[:BOARD_ROWS]
        ],
    }


def alerts_today(session: Session, start: datetime) -> dict[str, Any]:
    """Alerts raised since the start of the institution's day, by level."""
    rows = session.execute(
        select(Alert.level, func.count()).where(Alert.created_at >= start).group_by(Alert.level)
    ).all()
    by_level = {level: 0 for level in LEVEL_LABELS}
    for level, n in rows:
        by_level[level] = by_level.get(level, 0) + int(n)
    return {
        "total": sum(by_level.values()),
        "levels": [
            {"level": k, "label": LEVEL_LABELS.get(k, k), "count": n} for k, n in by_level.items()
        ],
    }


def home_numbers(
    session: Session, principal: Principal, now: datetime | None = None
) -> dict[str, Any]:
    """The few figures of the desk's home page: today's volume and alerts (the whole
    institution's: mentions belong to no unit) and the open cases of the user's unit."""
    at = now or utcnow()
    today, start = _today_start(at)
    figures = totals(session, today)
    board = open_cases(session, principal, at)
    return {
        "today": figures["today"],
        "today_negative": figures["today_negative"],
        "alerts": alerts_today(session, start)["total"],
        "open_cases": board["total"],
        "overdue_cases": board["overdue"],
    }
