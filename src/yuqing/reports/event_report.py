"""The special report (专报) on one event: 舆情概况, 传播情况, 内容分析, 处置建议.

It is the office's report about the event and whichever unit handles it, so it has no
per-unit version (``store.get_reader_content``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.cases import service as cases
from yuqing.core.labels import SENTIMENT_LABELS
from yuqing.core.timeutil import format_local, local_zone, utcnow
from yuqing.events import service as events
from yuqing.events.models import Event, EventMember
from yuqing.mentions.models import Mention
from yuqing.reports import figures, summarise
from yuqing.reports.schemas import (
    KIND_LABELS,
    ChartSpec,
    Paragraph,
    ReportContent,
    ReportError,
    Section,
    Table,
)
from yuqing.sources import service as sources


def event_report(session: Session, *, event_id: int, now: datetime | None = None) -> ReportContent:
    """The special report (专报) on an event: 舆情概况, 传播情况, 内容分析, 处置建议."""
    now = now or utcnow()
    event = events.get(session, event_id=event_id)
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
    source = sources.get(session, source_id=first.source_id) if first else None
    text = (
        f"该事件首发于{format_local(event.first_seen_at)}，首发来源为{source.name if source else '未知'}，"
        f"截至{format_local(event.last_seen_at)}共有相关信息 {len(items)} 条，来源 {event.source_count} 个，"
        f"当前热度 {event.heat:.1f}。首发内容："
    )
    quote = figures.quote_of(first, event.terms.split()[:10]) if first else None
    return Section(
        heading="一、舆情概况", paragraphs=[Paragraph(text=text, quotes=[quote] if quote else [])]
    )


def _spread_section(session: Session, event: Event, items: list[Mention]) -> Section:
    zone = local_zone()
    by_day: dict[str, int] = {}
    for m in items:
        key = m.published_at.replace(tzinfo=UTC).astimezone(zone).strftime("%m-%d")
        by_day[key] = by_day.get(key, 0) + 1
    names = {s.id: s.name for s in sources.list_all(session)}
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
        quote = figures.quote_of(m)
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
            text=f"情感分布：{figures.split_text(split)}。情绪分布：{'，'.join(f'{k} {v} 条' for k, v in emotions.items()) or '无'}。"
        ),
        Paragraph(text=f"热词：{'、'.join(w for w, _ in words[:10]) or '无'}。"),
    ]
    for label in ("negative", "positive", "neutral"):
        voices = [m for m in items if (m.sentiment or "neutral") == label][:2]
        quotes = [q for q in (figures.quote_of(m) for m in voices) if q]
        if quotes:
            paragraphs.append(Paragraph(text=f"{SENTIMENT_LABELS[label]}观点代表：", quotes=quotes))
    return Section(
        heading="三、内容分析",
        paragraphs=paragraphs,
        tables=[Table(title="热词", columns=["词", "次数"], rows=[[w, n] for w, n in words])],
        charts=[figures.sentiment_chart(split)],
    )


def _advice_section(session: Session, event: Event) -> Section:
    case = cases.get_case_of_event(session, event_id=event.id)
    if case is None:
        text = "（请填写处置建议。）"
    else:
        parts = [f"已开启舆情处置单 #{case.id}（{cases.status_label(case.status)}）。"]
        parts += [
            t for t in (case.summary, case.feedback_text, case.response_text, case.lessons) if t
        ]
        text = "".join(parts)
    return Section(heading="四、处置建议", paragraphs=[Paragraph(text=text, editable=True)])
