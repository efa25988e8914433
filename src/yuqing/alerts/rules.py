"""Rule evaluators: which items, counts or sources make a rule fire, and why (pure of delivery).

Item rules (scheme hits, sensitive words) run over each ingest batch; periodic rules
(negative share, volume spikes, silent sources) run every minute. Each returns candidates:
an alert that would be raised, with its explanation and the keys that stop repeats.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ahocorasick_rs
from sqlalchemy.orm import Session

from yuqing.alerts.config import (
    BASELINES,
    KIND_LABELS,
    SAMPLE_ITEMS,
    SENSITIVITIES,
    SENSITIVITY_LABELS,
)
from yuqing.alerts.models import AlertRule, SensitiveCategory
from yuqing.alerts.schemas import Explanation, Number, RecipientRef, RuleParams, Sample
from yuqing.core.labels import SENTIMENT_LABELS
from yuqing.core.timeutil import format_local
from yuqing.events import service as events
from yuqing.mentions import service as mentions
from yuqing.schemes import service as schemes
from yuqing.sources import service as sources


@dataclass(frozen=True)
class Rule:
    """A rule as evaluators read it: a plain copy, safe to cache across sessions."""

    id: int
    name: str
    kind: str
    level: str
    params: RuleParams
    recipients: tuple[RecipientRef, ...]
    quiet_start: str | None
    quiet_end: str | None
    quiet_weekends: bool
    urgent_risk: int | None
    batch_minutes: int
    cooldown_minutes: int
    max_per_hour: int

    @classmethod
    def of(cls, row: AlertRule) -> Rule:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            level=row.level,
            params=RuleParams.model_validate_json(row.params or "{}"),
            recipients=tuple(RecipientRef(**r) for r in json.loads(row.recipients or "[]")),
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
            quiet_weekends=bool(row.quiet_weekends),
            urgent_risk=row.urgent_risk,
            batch_minutes=row.batch_minutes or 0,
            cooldown_minutes=row.cooldown_minutes or 0,
            max_per_hour=row.max_per_hour or 1,
        )


@dataclass
class Candidate:
    """An alert a rule would raise."""

    rule: Rule
    subject: str  # what it is about, for cooldowns: "m12", "e3", "s4", "src2", "all"
    dedupe_key: str  # rule + item/event (+ window): the same people never hear it twice
    title: str
    explanation: Explanation
    risk: int | None = None
    mention_id: int | None = None
    event_id: int | None = None
    level: str = ""

    def __post_init__(self) -> None:
        self.level = self.level or self.rule.level


# --- item rules ------------------------------------------------------------------------


@dataclass
class WordIndex:
    """Every sensitive word of every category, compiled once into one automaton."""

    words: list[str]
    category_of: list[str]  # category key per word
    names: dict[str, str]  # category key → name
    automaton: Any = None

    @classmethod
    def build(cls, categories: Iterable[SensitiveCategory]) -> WordIndex:
        words: list[str] = []
        keys: list[str] = []
        names: dict[str, str] = {}
        for category in categories:
            names[category.key] = category.name
            for word in dict.fromkeys(w.strip() for w in (category.words or "").split("\n")):
                if word:
                    words.append(word)
                    keys.append(category.key)
        automaton = ahocorasick_rs.AhoCorasick(words) if words else None
        return cls(words, keys, names, automaton)

    def find(self, value: str) -> list[int]:
        """Indexes of the words found in ``value`` (each once)."""
        if self.automaton is None or not value:
            return []
        return list(dict.fromkeys(i for i, _, _ in self.automaton.find_matches_as_indexes(value)))


@dataclass
class ItemBatch:
    """What the ingest stage knows of a stored batch."""

    rows: Sequence[Mapping[str, Any]]
    mention_ids: Sequence[int]
    source_name: str
    # mention id → [(scheme id, words)] (only for mentions the scheme rules could take)
    matches: Mapping[int, list[tuple[int, list[str]]]] = field(default_factory=dict)
    scheme_names: Mapping[int, str] = field(default_factory=dict)


def row_passes(rule: Rule, row: Mapping[str, Any]) -> bool:
    """The sentiment/risk filter of a scheme-hit rule, before its matches are read."""
    mode = rule.params.hit_mode
    if mode == "negative":
        return row.get("sentiment") == "negative"
    if mode == "risk":
        return (row.get("risk_score") or 0) >= rule.params.min_risk
    return True


def item_key(rule: Rule, mention_id: int, row: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and dedupe key of an item alert: a near-duplicate repost shares its
    group's key, so one story reposted fifty times is one alert."""
    anchor = row.get("near_group_id") or mention_id
    return f"m{anchor}", f"alert:{rule.id}:m{anchor}"


def scheme_hits(rule: Rule, batch: ItemBatch) -> list[Candidate]:
    wanted = set(rule.params.scheme_ids)
    found = []
    for row, mention_id in zip(batch.rows, batch.mention_ids, strict=True):
        hits = batch.matches.get(mention_id)
        if not hits or not row_passes(rule, row):
            continue
        hits = [h for h in hits if not wanted or h[0] in wanted]
        if not hits:
            continue
        schemes = [batch.scheme_names.get(sid, f"方案 #{sid}") for sid, _ in hits]
        words = list(dict.fromkeys(w for _, ws in hits for w in ws))
        summary = f"命中监测方案：{'、'.join(schemes)}"
        found.append(_item_candidate(rule, batch, row, mention_id, summary, words))
    return found


def sensitive_words(rule: Rule, batch: ItemBatch, index: WordIndex) -> list[Candidate]:
    wanted = set(rule.params.categories)
    found = []
    for row, mention_id in zip(batch.rows, batch.mention_ids, strict=True):
        hits = index.find(f"{row.get('title') or ''}\n{row.get('text') or ''}")
        if wanted:
            hits = [i for i in hits if index.category_of[i] in wanted]
        if not hits or not row_passes(rule, row):
            continue
        cats = dict.fromkeys(index.names[index.category_of[i]] for i in hits)
        words = [index.words[i] for i in hits]
        summary = f"出现敏感词（{'；'.join(cats)}）"
        found.append(_item_candidate(rule, batch, row, mention_id, summary, words))
    return found


def _item_candidate(
    rule: Rule,
    batch: ItemBatch,
    row: Mapping[str, Any],
    mention_id: int,
    summary: str,
    words: list[str],
) -> Candidate:
    risk = row.get("risk_score")
    sentiment = row.get("sentiment")
    numbers = [Number(label="风险分", value=risk if risk is not None else "未评分", bar=_bar(rule))]
    if sentiment:
        numbers.append(Number(label="情感", value=SENTIMENT_LABELS.get(sentiment, sentiment)))
    subject, key = item_key(rule, mention_id, row)
    title = row.get("title") or _cut(row.get("text") or "", 40)
    explanation = Explanation(
        rule=rule.name,
        kind=rule.kind,
        summary=summary,
        numbers=numbers,
        words=words[:10],
        sources=[batch.source_name],
        items=[sample_of_row(row, mention_id, batch.source_name)],
        link=f"/mentions/{mention_id}",
    )
    return Candidate(
        rule=rule,
        subject=subject,
        dedupe_key=key,
        title=f"【{KIND_LABELS[rule.kind]}】{title}",
        explanation=explanation,
        risk=risk,
        mention_id=mention_id,
    )


def _bar(rule: Rule) -> str | None:
    if rule.kind == "scheme_hit" and rule.params.hit_mode == "risk":
        return f"≥ {rule.params.min_risk}"
    return None


def sample_of_row(row: Mapping[str, Any], mention_id: int | None, source: str) -> Sample:
    return Sample(
        id=mention_id,
        title=row.get("title") or _cut(row.get("text") or "", 40),
        url=row.get("url"),
        snippet=_cut(row.get("text") or "", 120),
        source=source,
        published_at=row.get("published_at"),
        risk=row.get("risk_score"),
        sentiment=row.get("sentiment"),
    )


def _cut(value: str, width: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[:width] + "…"


# --- periodic rules --------------------------------------------------------------------


def window_key(rule: Rule, subject: str, now: datetime, minutes: int) -> str:
    """A dedupe key per rule, subject and time window: the same window never fires twice."""
    bucket = int(now.timestamp() // (minutes * 60))
    return f"alert:{rule.id}:{subject}:w{bucket}"


def negative_share(session: Session, rule: Rule, now: datetime) -> list[Candidate]:
    params = rule.params
    since = now - timedelta(minutes=params.window_minutes)
    if params.scheme_id is None:
        total, negative = mentions.count_sentiment(session, since=since, until=now)
    else:
        total, negative = schemes.count_sentiment(
            session, scheme_id=params.scheme_id, since=since, until=now
        )
    if total < params.min_count or negative / total < params.threshold:
        return []
    scope = _scheme_label(session, params.scheme_id)
    subject = f"s{params.scheme_id}" if params.scheme_id is not None else "all"
    samples, sources, words = recent_samples(
        session, since=since, now=now, scheme_id=params.scheme_id, negative=True
    )
    share = negative / total
    explanation = Explanation(
        rule=rule.name,
        kind=rule.kind,
        summary=(
            f"{scope}最近 {_span(params.window_minutes)}负面信息 {negative} 条，"
            f"占 {total} 条的 {share:.0%}，超过阈值 {params.threshold:.0%}"
        ),
        numbers=[
            Number(label="负面占比", value=f"{share:.0%}", bar=f"≥ {params.threshold:.0%}"),
            Number(label="负面条数", value=negative),
            Number(label="信息总数", value=total, bar=f"≥ {params.min_count}"),
        ],
        words=words,
        sources=sources,
        items=samples,
    )
    return [
        Candidate(
            rule=rule,
            subject=subject,
            dedupe_key=window_key(rule, subject, now, params.window_minutes),
            title=f"【负面占比】{scope}负面占 {share:.0%}",
            explanation=explanation,
            risk=max((s.risk or 0 for s in samples), default=None),
        )
    ]


@dataclass(frozen=True)
class Spike:
    """A count against its baseline, and whether it passes the sensitivity's bars."""

    current: int
    mean: float
    z: float
    fired: bool


def spike_test(current: int, baseline_total: int, windows: int, sensitivity: str) -> Spike:
    """Poisson z-score of ``current`` against the mean of ``windows`` baseline windows;
    the mean is floored at 1 so a quiet past does not make every post a spike."""
    bar = SENSITIVITIES[sensitivity]
    mean = baseline_total / windows if windows else 0.0
    floor = max(mean, 1.0)
    z = (current - floor) / math.sqrt(floor)
    fired = current >= bar.min_count and z >= bar.z and current >= bar.ratio * floor
    return Spike(current, mean, z, fired)


def spike(session: Session, rule: Rule, now: datetime) -> list[Candidate]:
    params = rule.params
    minutes, windows = BASELINES[params.baseline]
    if params.target == "event":
        counts = _event_counts(session, now, minutes, windows)
    else:
        counts = _scheme_counts(session, now, minutes, windows, params)
    found = []
    for subject_id, (current, before) in counts.items():
        result = spike_test(current, before, windows, params.sensitivity)
        if result.fired:
            found.append(_spike_candidate(session, rule, now, subject_id, result))
    return found


def _scheme_counts(
    session: Session, now: datetime, minutes: int, windows: int, params: RuleParams
) -> dict[int | None, tuple[int, int]]:
    start = now - timedelta(minutes=minutes)
    base = start - timedelta(minutes=minutes * windows)
    if params.target == "all":
        return {None: mentions.count_window(session, base=base, start=start, until=now)}
    counts = schemes.count_windows(
        session, base=base, start=start, until=now, scheme_id=params.scheme_id
    )
    return {scheme_id: pair for scheme_id, pair in counts.items()}


def _event_counts(
    session: Session, now: datetime, minutes: int, windows: int
) -> dict[int | None, tuple[int, int]]:
    """Per recently active event, from its hourly counts: the hours of the window (the
    current partial hour included) against the hours before them."""
    start = (now - timedelta(minutes=minutes)).replace(minute=0, second=0, microsecond=0)
    base = start - timedelta(minutes=minutes * windows)
    counts = events.count_hour_windows(session, base=base, start=start, until=now)
    return {event_id: pair for event_id, pair in counts.items()}


def _spike_candidate(
    session: Session, rule: Rule, now: datetime, subject_id: int | None, result: Spike
) -> Candidate:
    params = rule.params
    minutes, windows = BASELINES[params.baseline]
    bar = SENSITIVITIES[params.sensitivity]
    since = now - timedelta(minutes=minutes)
    event = params.target == "event"
    if event:
        title = (
            events.get_event_title(session, event_id=subject_id) if subject_id is not None else None
        )
        scope, subject = f"事件“{title or subject_id}”", f"e{subject_id}"
    else:
        scope = _scheme_label(session, subject_id)
        subject = f"s{subject_id}" if subject_id is not None else "all"
    samples, sources, words = recent_samples(
        session,
        since=since,
        now=now,
        scheme_id=None if event else subject_id,
        event_id=subject_id if event else None,
    )
    times = f"{result.current / max(result.mean, 1.0):.1f} 倍"
    explanation = Explanation(
        rule=rule.name,
        kind=rule.kind,
        summary=(
            f"{scope}最近 {_span(minutes)}{result.current} 条，之前 {windows} 个同长时段"
            f"平均 {result.mean:.1f} 条，为平均的 {times}"
        ),
        numbers=[
            Number(label="本时段条数", value=result.current, baseline=round(result.mean, 1)),
            Number(label="z 值（泊松）", value=round(result.z, 1), bar=f"≥ {bar.z}"),
            Number(label="倍数", value=times, bar=f"≥ {bar.ratio} 倍，且 ≥ {bar.min_count} 条"),
            Number(label="灵敏度", value=SENSITIVITY_LABELS[params.sensitivity]),
        ],
        words=words,
        sources=sources,
        items=samples,
        link=f"/events/{subject_id}" if event else None,
    )
    return Candidate(
        rule=rule,
        subject=subject,
        dedupe_key=window_key(rule, subject, now, minutes),
        title=f"【声量激增】{scope}最近 {_span(minutes)}{result.current} 条（平均 {result.mean:.1f}）",
        explanation=explanation,
        risk=max((s.risk or 0 for s in samples), default=None),
        event_id=subject_id if event else None,
    )


def silent_sources(session: Session, rule: Rule, now: datetime) -> list[Candidate]:
    wanted = set(rule.params.source_ids)
    found = []
    for source, why in sources.list_silent(session, now=now):
        if wanted and source.id not in wanted:
            continue
        # One alert per silence: the episode is named by the last new item before it.
        episode = format_local(source.last_new_item_at, "%Y%m%d%H%M") or "never"
        subject = f"src{source.id}"
        explanation = Explanation(
            rule=rule.name,
            kind=rule.kind,
            summary=f"信息源“{source.name}”{why}",
            numbers=[
                Number(label="最近新内容", value=format_local(source.last_new_item_at) or "无")
            ],
            sources=[source.name],
            link="/sources",
        )
        found.append(
            Candidate(
                rule=rule,
                subject=subject,
                dedupe_key=f"alert:{rule.id}:{subject}:{episode}",
                title=f"【信息源沉默】{source.name}",
                explanation=explanation,
            )
        )
    return found


PERIODIC = {
    "negative_share": negative_share,
    "spike": spike,
    "source_silent": silent_sources,
}


# --- shared ------------------------------------------------------------------------------


def recent_samples(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    scheme_id: int | None = None,
    event_id: int | None = None,
    negative: bool = False,
) -> tuple[list[Sample], list[str], list[str]]:
    """The riskiest recent items of a scope, its top sources and its top scheme words."""
    rows = mentions.list_riskiest(
        session, since=since, until=now, scheme_id=scheme_id, event_id=event_id, negative=negative
    )
    samples = [
        sample_of_row(
            {
                "title": r.title,
                "text": r.text,
                "url": r.url,
                "published_at": r.published_at,
                "risk_score": r.risk_score,
                "sentiment": r.sentiment,
            },
            r.id,
            r.source_name or "",
        )
        for r in rows[:SAMPLE_ITEMS]
    ]
    names = [name for name, _ in Counter(r.source_name or "未知" for r in rows).most_common(5)]
    words = schemes.list_top_words(session, mention_ids=[r.id for r in rows])
    return samples, names, words


def _scheme_label(session: Session, scheme_id: int | None) -> str:
    if scheme_id is None:
        return "全部信息"
    name = schemes.get_scheme_name(session, scheme_id=scheme_id)
    return f"方案“{name or scheme_id}”"


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} 天"
    if minutes % 60 == 0:
        return f"{minutes // 60} 小时"
    return f"{minutes} 分钟"
