"""Build report content from stored data: the daily digest, weekly/monthly and the 专报.

Every figure is a query over the period; every sentence about an item is quoted from it
(summarise.py), so a reader can follow each statement to its source. A report is built for
a reader: the case parts hold the cases, rows and figures of the reader's units only
(``REPORTER``, every unit, makes the institution's report; docs/reports.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import service as cases
from yuqing.cases.config import HIDDEN_UNIT
from yuqing.cases.models import Case, CaseEvent
from yuqing.cases.schemas import BoardRow
from yuqing.core.labels import SENTIMENT_LABELS
from yuqing.core.palette import SENTIMENT_COLORS
from yuqing.core.timeutil import format_local, local_zone, utcnow
from yuqing.events.models import Event, EventMember
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.org.models import Unit
from yuqing.reports import summarise
from yuqing.reports.schemas import (
    KIND_LABELS,
    ChartSpec,
    Paragraph,
    Quote,
    ReportContent,
    ReportError,
    Section,
    Table,
)
from yuqing.sources.models import Source

# The reader of the institution's report (the office, leaders, the scheduled daily): it
# reads every unit's cases.
REPORTER = Principal(
    user_id=0,
    username="reports",
    display_name="报告生成",
    role_key="system",
    permissions=frozenset({cases.READ}),
    unit_id=None,
    visible_units=None,
)
TOP_EVENTS = 5
# Weekly/monthly list more, but still a short table: a month can hold thousands of events.
PERIOD_TOP_EVENTS = 10
ATTENTION_ITEMS = 3
NO_CASES = "本版不含舆情处置情况（您的账号没有查看舆情处置的权限）。"
UNIT_VERSION = "（本单位版）"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day ``day`` as naive UTC [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=local_zone())
    end = start + timedelta(days=1)
    return _utc(start), _utc(end)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _local_today(now: datetime) -> date:
    return now.replace(tzinfo=UTC).astimezone(local_zone()).date()


# --- figures over a period ------------------------------------------------------------


def _listed(start: datetime, end: datetime) -> list[Any]:
    return [Mention.status == "new", Mention.published_at >= start, Mention.published_at < end]


def count_items(session: Session, start: datetime, end: datetime) -> int:
    """Items (duplicates not counted) published in [start, end)."""
    statement = select(func.count()).select_from(Mention).where(*_listed(start, end))
    return int(session.execute(statement).scalar_one())


def sentiment_split(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Items per sentiment (positive/neutral/negative; unscored count as neutral)."""
    split = dict.fromkeys(SENTIMENT_LABELS, 0)
    statement = (
        select(Mention.sentiment, func.count())
        .where(*_listed(start, end))
        .group_by(Mention.sentiment)
    )
    for label, n in session.execute(statement):
        key = label if label in split else "neutral"
        split[key] += int(n)
    return split


def top_events(
    session: Session, start: datetime, end: datetime, limit: int = TOP_EVENTS
) -> list[tuple[Event, int]]:
    """The events with most items published in the period, listed hottest first as the desk
    ranks them (the period's item count, then the id, break ties)."""
    n = func.count().label("n")
    statement = (
        select(Event, n)
        .join(EventMember, EventMember.event_id == Event.id)
        .where(EventMember.published_at >= start, EventMember.published_at < end)
        .group_by(Event.id)
        .order_by(n.desc(), Event.heat.desc(), Event.id)
        .limit(limit)
    )
    chosen = [(event, int(count)) for event, count in session.execute(statement)]
    return sorted(chosen, key=lambda pair: (-pair[0].heat, -pair[1], pair[0].id))


def event_quote(session: Session, event: Event) -> Quote | None:
    """One sentence from the event's representative (else first) item, with its link."""
    mention_id = event.representative_id or event.first_mention_id
    mention = session.get(Mention, mention_id) if mention_id else None
    if mention is None:
        return None
    return quote_of(mention, event.terms.split()[:10])


def quote_of(mention: Mention, terms: list[str] | None = None) -> Quote | None:
    sentence = summarise.best_sentence(mention.text, terms or [], mention.title)
    if not sentence:
        return None
    return Quote(text=sentence, mention_id=mention.id, url=mention.url or "")


def attention_items(
    session: Session, start: datetime, end: datetime, limit: int = ATTENTION_ITEMS
) -> list[Mention]:
    """Negative items of the period with the highest risk."""
    statement = (
        select(Mention)
        .where(*_listed(start, end), Mention.sentiment == "negative")
        .order_by(Mention.risk_score.desc().nulls_last(), Mention.published_at.desc())
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def new_cases(session: Session, start: datetime, end: datetime) -> list[Case]:
    statement = (
        select(Case)
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at)
    )
    return list(session.execute(statement).scalars())


def overdue_cases(session: Session, now: datetime, reader: Principal = REPORTER) -> list[BoardRow]:
    """Open cases the reader sees with a clock past due; a case another unit handles names
    no unit (as on the reader's board)."""
    rows = [row for row in cases.list_board_rows(session, principal=reader, now=now) if row.overdue]
    return [
        row if reader.sees_unit(row.unit_id) else replace(row, unit_name=HIDDEN_UNIT)
        for row in rows
    ]


def _unit_version(reader: Principal) -> str:
    return "" if reader.visible_units is None else UNIT_VERSION


def source_counts(
    session: Session, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    n = func.count().label("n")
    statement = (
        select(Source.name, n)
        .join(Mention, Mention.source_id == Source.id)
        .where(*_listed(start, end))
        .group_by(Source.name)
        .order_by(n.desc(), Source.name)
        .limit(limit)
    )
    return [(name, int(c)) for name, c in session.execute(statement)]


def region_counts(
    session: Session, start: datetime, end: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    n = func.count().label("n")
    statement = (
        select(MentionPlace.name, n)
        .join(Mention, Mention.id == MentionPlace.mention_id)
        .where(*_listed(start, end), MentionPlace.level == "province")
        .group_by(MentionPlace.name)
        .order_by(n.desc(), MentionPlace.name)
        .limit(limit)
    )
    return [(name, int(c)) for name, c in session.execute(statement)]


def daily_counts(session: Session, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """Items per local day of [start, end)."""
    zone = local_zone()
    days: dict[str, int] = {}
    cursor = start
    while cursor < end:
        days[cursor.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")] = 0
        cursor += timedelta(days=1)
    statement = select(Mention.published_at).where(*_listed(start, end))
    for (published,) in session.execute(statement):
        key = published.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")
        days[key] = days.get(key, 0) + 1
    return list(days.items())


def _change(now_n: int, before_n: int) -> str:
    if before_n == 0:
        return "前一日无数据" if now_n else "与前一日持平"
    pct = (now_n - before_n) / before_n * 100
    if abs(pct) < 0.05:
        return "与前一日持平"
    return f"较前一日{'增加' if pct > 0 else '减少'}{abs(pct):.1f}%"


def _split_text(split: dict[str, int]) -> str:
    total = sum(split.values())
    if not total:
        return "无正面、中性、负面信息"
    parts = [f"{SENTIMENT_LABELS[k]} {v} 条（{v / total * 100:.1f}%）" for k, v in split.items()]
    return "，".join(parts)


def _sentiment_chart(split: dict[str, int]) -> ChartSpec:
    return ChartSpec(
        kind="pie",
        title="情感分布",
        labels=[SENTIMENT_LABELS[k] for k in split],
        values=[float(v) for v in split.values()],
        colors=[SENTIMENT_COLORS[k] for k in split],  # the desk's 负面 red and 正面 green
    )


# --- the daily digest -------------------------------------------------------------------


def daily(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = REPORTER,
) -> ReportContent:
    """The daily digest (每日舆情) of local day ``day`` (default: yesterday), for ``reader``."""
    now = now or utcnow()
    day = day or _local_today(now) - timedelta(days=1)
    start, end = day_bounds(day)
    total = count_items(session, start, end)
    before = count_items(session, start - timedelta(days=1), start)
    split = sentiment_split(session, start, end)
    events = top_events(session, start, end)
    overview = Paragraph(
        text=(
            f"{day:%Y年%m月%d日}共监测到相关信息 {total} 条，{_change(total, before)}"
            f"（前一日 {before} 条）。其中{_split_text(split)}。"
        )
    )
    sections = [
        Section(heading="一、总体情况", paragraphs=[overview], charts=[_sentiment_chart(split)]),
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
        quote = event_quote(session, event)
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
    items = attention_items(session, start, end)
    if not items:
        return Section(
            heading=heading, paragraphs=[Paragraph(text="本时段无需重点关注的负面信息。")]
        )
    paragraphs = []
    for item in items:
        quote = quote_of(item)
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
    opened = [case for case in new_cases(session, start, end) if cases.sees_case(reader, case)]
    late = overdue_cases(session, now, reader)
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
    return dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(set(unit_ids)))).all())


# --- weekly and monthly -------------------------------------------------------------------


def week_bounds(day: date) -> tuple[date, date]:
    """The Monday-to-Sunday week holding ``day``: [first, next first)."""
    first = day - timedelta(days=day.weekday())
    return first, first + timedelta(days=7)


def month_days(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt


def weekly(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = REPORTER,
) -> ReportContent:
    """The weekly report (周报) of the week holding ``day`` (default: last week)."""
    now = now or utcnow()
    first, nxt = week_bounds(day or _local_today(now) - timedelta(days=7))
    title = f"{KIND_LABELS['weekly']}（{first:%Y年%m月%d日}—{nxt - timedelta(days=1):%m月%d日}）"
    return _period_report(
        session, "weekly", title + _unit_version(reader), (first, nxt), now, reader
    )


def monthly(
    session: Session,
    *,
    day: date | None = None,
    now: datetime | None = None,
    reader: Principal = REPORTER,
) -> ReportContent:
    """The monthly report (月报) of the month holding ``day`` (default: last month)."""
    now = now or utcnow()
    first, nxt = month_days(day or _local_today(now).replace(day=1) - timedelta(days=1))
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
    start, end = day_bounds(first)[0], day_bounds(nxt)[0]
    length = end - start
    total = count_items(session, start, end)
    before = count_items(session, start - length, start)
    split = sentiment_split(session, start, end)
    trend = daily_counts(session, start, end)
    change = _change(total, before).replace("前一日", "上一周期")
    overview = Paragraph(
        text=f"本期共监测到相关信息 {total} 条，{change}（上一周期 {before} 条）。其中{_split_text(split)}。"
    )
    sources = source_counts(session, start, end)
    regions = region_counts(session, start, end)
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
                _sentiment_chart(split),
            ],
            tables=[
                Table(
                    title="每日信息量", columns=["日期", "信息数"], rows=[[d, n] for d, n in trend]
                )
            ],
        ),
        _events_section(
            session, "二、热点事件", top_events(session, start, end, limit=PERIOD_TOP_EVENTS)
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
    figures = cases.list_unit_figures(session, month=month, now=now)
    for fig in (f for f in figures if reader.sees_unit(f.unit_id)):
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


# --- the special report on one event (专报) ---------------------------------------------


def event_report(session: Session, *, event_id: int, now: datetime | None = None) -> ReportContent:
    """The special report (专报) on an event: 舆情概况, 传播情况, 内容分析, 处置建议."""
    now = now or utcnow()
    event = session.get(Event, event_id)
    if event is None or event.merged_into_id is not None:
        raise ReportError(f"事件 {event_id} 不存在（或已并入其他事件），无法生成专报")
    items = list(
        session.execute(
            select(Mention)
            .join(EventMember, EventMember.mention_id == Mention.id)
            .where(EventMember.event_id == event.id)
            .order_by(Mention.published_at, Mention.id)
        ).scalars()
    )
    start = event.first_seen_at
    end = max(event.last_seen_at, start) + timedelta(seconds=1)
    sections = [
        _overview_section(session, event, items),
        _spread_section(session, event, items),
        _content_section(event, items),
        _advice_section(session, event),
    ]
    return ReportContent(
        kind="event",
        title=f"{KIND_LABELS['event']}：{event.title}",
        period_label=f"时间范围：{format_local(start)} 至 {format_local(event.last_seen_at)}",
        period_start=start,
        period_end=end,
        generated_at=now,
        sections=sections,
    )


def _overview_section(session: Session, event: Event, items: list[Mention]) -> Section:
    first = items[0] if items else None
    source = session.get(Source, first.source_id) if first else None
    text = (
        f"该事件首发于{format_local(event.first_seen_at)}，首发来源为{source.name if source else '未知'}，"
        f"截至{format_local(event.last_seen_at)}共有相关信息 {len(items)} 条，来源 {event.source_count} 个，"
        f"当前热度 {event.heat:.1f}。首发内容："
    )
    quote = quote_of(first, event.terms.split()[:10]) if first else None
    return Section(
        heading="一、舆情概况", paragraphs=[Paragraph(text=text, quotes=[quote] if quote else [])]
    )


def _spread_section(session: Session, event: Event, items: list[Mention]) -> Section:
    zone = local_zone()
    by_day: dict[str, int] = {}
    for m in items:
        key = m.published_at.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")
        by_day[key] = by_day.get(key, 0) + 1
    names = {s.id: s.name for s in session.execute(select(Source)).scalars()}
    by_source: dict[str, int] = {}
    for m in items:
        by_source[names.get(m.source_id, "")] = by_source.get(names.get(m.source_id, ""), 0) + 1
    ranked = sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))
    reposts = sorted(items, key=lambda m: (-m.duplicate_count - m.near_count, m.published_at))[:3]
    paragraphs = [
        Paragraph(text=f"信息量按日分布：{'，'.join(f'{d} {n} 条' for d, n in by_day.items())}。"),
        Paragraph(text=f"主要传播来源：{'、'.join(f'{s}（{n} 条）' for s, n in ranked[:5])}。"),
    ]
    for m in reposts:
        quote = quote_of(m)
        paragraphs.append(
            Paragraph(
                text=f"重点传播：{m.title or '无标题'}（转载/相似 {m.duplicate_count + m.near_count} 次）：",
                quotes=[quote] if quote else [],
            )
        )
    return Section(
        heading="二、传播情况",
        paragraphs=paragraphs,
        tables=[
            Table(title="来源分布", columns=["来源", "信息数"], rows=[[s, n] for s, n in ranked])
        ],
        charts=[
            ChartSpec(
                kind="line",
                title="信息量走势",
                labels=list(by_day),
                values=[float(n) for n in by_day.values()],
            )
        ],
    )


EMOTION_LABELS = {
    "neutral": "中性",
    "happy": "喜悦",
    "angry": "愤怒",
    "sad": "悲伤",
    "fear": "恐惧",
    "surprise": "惊奇",
}


def _content_section(event: Event, items: list[Mention]) -> Section:
    split = dict.fromkeys(SENTIMENT_LABELS, 0)
    emotions: dict[str, int] = {}
    for m in items:
        split[m.sentiment if m.sentiment in split else "neutral"] += 1
        label = EMOTION_LABELS.get(m.emotion or "neutral", m.emotion or "中性")
        emotions[label] = emotions.get(label, 0) + 1
    words = summarise.hot_words(m.title + " " + m.text for m in items)
    paragraphs = [
        Paragraph(
            text=f"情感分布：{_split_text(split)}。情绪分布：{'，'.join(f'{k} {v} 条' for k, v in emotions.items()) or '无'}。"
        ),
        Paragraph(text=f"热词：{'、'.join(w for w, _ in words[:10]) or '无'}。"),
    ]
    for label in ("negative", "positive", "neutral"):
        voices = [m for m in items if (m.sentiment or "neutral") == label][:2]
        quotes = [q for q in (quote_of(m) for m in voices) if q]
        if quotes:
            paragraphs.append(Paragraph(text=f"{SENTIMENT_LABELS[label]}观点代表：", quotes=quotes))
    return Section(
        heading="三、内容分析",
        paragraphs=paragraphs,
        tables=[Table(title="热词", columns=["词", "次数"], rows=[[w, n] for w, n in words])],
        charts=[_sentiment_chart(split)],
    )


def _advice_section(session: Session, event: Event) -> Section:
    case = (
        session.execute(
            select(Case)
            .join(CaseEvent, CaseEvent.case_id == Case.id)
            .where(CaseEvent.event_id == event.id)
            .order_by(Case.id)
        )
        .scalars()
        .first()
    )
    if case is None:
        text = "（请填写处置建议。）"
    else:
        parts = [f"已开启舆情处置单 #{case.id}（{cases.status_label(case.status)}）。"]
        parts += [
            t for t in (case.summary, case.feedback_text, case.response_text, case.lessons) if t
        ]
        text = "".join(parts)
    return Section(heading="四、处置建议", paragraphs=[Paragraph(text=text, editable=True)])
