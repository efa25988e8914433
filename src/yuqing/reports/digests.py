"""The digests built from stored data for a reader: the daily (每日舆情), weekly and monthly.

A report is built for a reader: the case parts hold the cases, rows and figures of the
reader's units only (``figures.REPORTER``, every unit, makes the institution's report;
docs/reports.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.cases.config import HIDDEN_UNIT
from yuqing.core.timeutil import format_local, utcnow
from yuqing.events.models import Event
from yuqing.org import service as org
from yuqing.reports import figures
from yuqing.reports.schemas import (
    KIND_LABELS,
    ChartSpec,
    Paragraph,
    ReportContent,
    Section,
    Table,
)

# Weekly/monthly list more, but still a short table: a month can hold thousands of events.
PERIOD_TOP_EVENTS = 10
ATTENTION_ITEMS = 3
NO_CASES = "本版不含舆情处置情况（您的账号没有查看舆情处置的权限）。"
UNIT_VERSION = "（本单位版）"


def _unit_version(reader: Principal) -> str:
    return "" if reader.visible_units is None else UNIT_VERSION


def _change(now_n: int, before_n: int) -> str:
    if before_n == 0:
        return "前一日无数据" if now_n else "与前一日持平"
    pct = (now_n - before_n) / before_n * 100
    if abs(pct) < 0.05:
        return "与前一日持平"
    return f"较前一日{'增加' if pct > 0 else '减少'}{abs(pct):.1f}%"


# --- the daily digest -------------------------------------------------------------------


def daily(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = figures.REPORTER,
) -> ReportContent:
    """The daily digest (每日舆情) of local day ``day`` (default: yesterday), for ``reader``."""
    now = now or utcnow()
    day = day or figures.local_today(now) - timedelta(days=1)
    start, end = figures.day_bounds(day)
    total = figures.count_items(session, start=start, end=end)
    before = figures.count_items(session, start=start - timedelta(days=1), end=start)
    split = figures.count_by_sentiment(session, start=start, end=end)
    events = figures.list_top_events(session, start=start, end=end)
    overview = Paragraph(
        text=(
            f"{day:%Y年%m月%d日}共监测到相关信息 {total} 条，{_change(total, before)}"
            f"（前一日 {before} 条）。其中{figures.split_text(split)}。"
        )
    )
    sections = [
        Section(
            heading="一、总体情况", paragraphs=[overview], charts=[figures.sentiment_chart(split)]
        ),
        _events_section(session, "二、重点事件", events),
        _attention_section(session, "三、需关注的负面信息", start, end),
        _cases_section(session, "四、舆情处置", start, end, now, reader),
    ]
    return ReportContent(
        kind="daily",
        title=f"{KIND_LABELS['daily']}（{day:%Y年%m月%d日}）{_unit_version(reader)}",
        period_label=f"统计时段：{format_local(start)} 至 {format_local(end)}",
        period_start=start,
        period_end=end,
        generated_at=now,
        sections=sections,
    )


def _events_section(session: Session, heading: str, events: list[tuple[Event, int]]) -> Section:
    if not events:
        return Section(heading=heading, paragraphs=[Paragraph(text="本时段未形成热点事件。")])
    paragraphs = []
    table = Table(
        title="热点事件", columns=["序号", "事件", "本时段信息数", "热度", "负面数", "链接"]
    )
    for i, (event, n) in enumerate(events, 1):
        quote = figures.get_event_quote(session, event=event)
        paragraphs.append(
            Paragraph(
                text=f"{i}. {event.title}（本时段 {n} 条，热度 {event.heat:.1f}）：",
                quotes=[quote] if quote else [],
            )
        )
        link = quote.url if quote else ""
        table.rows.append([i, event.title, n, round(event.heat, 1), event.count_negative, link])
    return Section(heading=heading, paragraphs=paragraphs, tables=[table])


def _attention_section(session: Session, heading: str, start: datetime, end: datetime) -> Section:
    items = figures.list_attention_items(session, start=start, end=end)
    if not items:
        return Section(
            heading=heading, paragraphs=[Paragraph(text="本时段无需重点关注的负面信息。")]
        )
    paragraphs = []
    for item in items:
        quote = figures.quote_of(item)
        label = item.title or "无标题"
        paragraphs.append(
            Paragraph(
                text=f"{label}（风险 {item.risk_score or 0}，{format_local(item.published_at)}）：",
                quotes=[quote] if quote else [],
            )
        )
    return Section(heading=heading, paragraphs=paragraphs)


def _cases_section(
    session: Session, heading: str, start: datetime, end: datetime, now: datetime, reader: Principal
) -> Section:
    if not reader.can(cases.READ):
        return Section(heading=heading, paragraphs=[Paragraph(text=NO_CASES)])
    opened = [
        case
        for case in cases.list_opened_cases(session, start=start, end=end)
        if cases.sees_case(reader, case)
    ]
    late = figures.list_overdue_cases(session, now=now, reader=reader)
    whose = "" if reader.visible_units is None else "本单位（含下级单位）"
    text = f"{whose}本时段新增舆情处置单 {len(opened)} 件，当前超时未办结 {len(late)} 件。"
    table = Table(title="舆情处置", columns=["编号", "标题", "状态", "类别", "责任单位"])
    units = _unit_names(session, [case.unit_id for case in opened if case.unit_id])
    for case in opened:
        unit = _responsible_unit(reader, case.unit_id, units)
        table.rows.append([case.id, case.title, cases.status_label(case.status), "新增", unit])
    for row in late:
        table.rows.append([row.case_id, row.title, row.status_label, "超时", row.unit_name])
    return Section(heading=heading, paragraphs=[Paragraph(text=text)], tables=[table])


def _responsible_unit(reader: Principal, unit_id: int | None, names: dict[int, str]) -> str:
    """The 责任单位 of a case as the reader may know it (another unit's name stays hidden)."""
    if unit_id is None:
        return "未下发"
    return names.get(unit_id, "") if reader.sees_unit(unit_id) else HIDDEN_UNIT


def _unit_names(session: Session, unit_ids: list[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    wanted = set(unit_ids)
    return {u.id: u.name for u in org.list_units(session) if u.id in wanted}


# --- weekly and monthly -------------------------------------------------------------------


def weekly(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = figures.REPORTER,
) -> ReportContent:
    """The weekly report (周报) of the week holding ``day`` (default: last week)."""
    now = now or utcnow()
    first, nxt = figures.week_bounds(day or figures.local_today(now) - timedelta(days=7))
    title = f"{KIND_LABELS['weekly']}（{first:%Y年%m月%d日}—{nxt - timedelta(days=1):%m月%d日}）"
    return _period_report(
        session, "weekly", title + _unit_version(reader), (first, nxt), now, reader
    )


def monthly(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = figures.REPORTER,
) -> ReportContent:
    """The monthly report (月报) of the month holding ``day`` (default: last month)."""
    now = now or utcnow()
    first, nxt = figures.month_days(
        day or figures.local_today(now).replace(day=1) - timedelta(days=1)
    )
    title = f"{KIND_LABELS['monthly']}（{first:%Y年%m月}）{_unit_version(reader)}"
    return _period_report(session, "monthly", title, (first, nxt), now, reader, month=first)


def _period_report(
    session: Session,
    kind: str,
    title: str,
    days: tuple[date, date],
    now: datetime,
    reader: Principal,
    month: date | None = None,
) -> ReportContent:
    first, nxt = days
    start, end = figures.day_bounds(first)[0], figures.day_bounds(nxt)[0]
    length = end - start
    total = figures.count_items(session, start=start, end=end)
    before = figures.count_items(session, start=start - length, end=start)
    split = figures.count_by_sentiment(session, start=start, end=end)
    trend = figures.count_by_day(session, start=start, end=end)
    change = _change(total, before).replace("前一日", "上一周期")
    overview = Paragraph(
        text=f"本期共监测到相关信息 {total} 条，{change}（上一周期 {before} 条）。其中{figures.split_text(split)}。"
    )
    sources = figures.count_by_source(session, start=start, end=end)
    regions = figures.count_by_region(session, start=start, end=end)
    sections = [
        Section(
            heading="一、总体态势",
            paragraphs=[overview],
            charts=[
                ChartSpec(
                    kind="line",
                    title="每日信息量",
                    labels=[d for d, _ in trend],
                    values=[float(n) for _, n in trend],
                ),
                figures.sentiment_chart(split),
            ],
            tables=[
                Table(
                    title="每日信息量", columns=["日期", "信息数"], rows=[[d, n] for d, n in trend]
                )
            ],
        ),
        _events_section(
            session,
            "二、热点事件",
            figures.list_top_events(session, start=start, end=end, limit=PERIOD_TOP_EVENTS),
        ),
        _ranking_section("三、来源与地域", sources, regions),
        _attention_section(session, "四、需关注的负面信息", start, end),
        _cases_section(session, "五、舆情处置", start, end, now, reader),
    ]
    if reader.can(cases.READ):
        sections[-1].tables.append(_timeliness_table(session, month or first, now, reader))
    return ReportContent(
        kind=kind,
        title=title,
        period_label=f"统计时段：{format_local(start)} 至 {format_local(end)}",
        period_start=start,
        period_end=end,
        generated_at=now,
        sections=sections,
    )


def _ranking_section(
    heading: str, sources: list[tuple[str, int]], regions: list[tuple[str, int]]
) -> Section:
    lead = "、".join(f"{name}（{n} 条）" for name, n in sources[:3])
    places = "、".join(f"{name}（{n} 条）" for name, n in regions[:3])
    # An empty side is said plainly ("无"), never as "主要为无".
    said = [f"信息主要来自{lead}" if lead else "本时段无信息来源统计"]
    said.append(f"涉及地域主要为{places}" if places else "未识别到涉及地域")
    return Section(
        heading=heading,
        paragraphs=[Paragraph(text="；".join(said) + "。")],
        tables=[
            Table(title="来源排行", columns=["来源", "信息数"], rows=[[s, n] for s, n in sources]),
            Table(title="地域分布", columns=["省份", "信息数"], rows=[[r, n] for r, n in regions]),
        ],
        charts=[
            ChartSpec(
                kind="bar",
                title="来源排行",
                labels=[s for s, _ in sources],
                values=[float(n) for _, n in sources],
            )
        ],
    )


def _timeliness_table(session: Session, month: date, now: datetime, reader: Principal) -> Table:
    """Per unit the reader sees (as on its accountability page), the month's timeliness."""
    table = Table(
        title="各单位处置时效",
        columns=["责任单位", "承办数", "按时", "超时", "超时件数", "平均反馈用时（小时）"],
    )
    rows = cases.list_unit_figures(session, month=month, now=now)
    for fig in (f for f in rows if reader.sees_unit(f.unit_id)):
        table.rows.append(
            [
                fig.unit_name or "未指定",
                fig.received,
                sum(fig.met.values()),
                sum(fig.missed.values()),
                fig.overdue,
                fig.avg_hours_to_feedback if fig.avg_hours_to_feedback is not None else "—",
            ]
        )
    return table
