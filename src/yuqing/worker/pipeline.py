"""The ingest pipeline: store (normalise, dedupe, index) with the analysis stages composed in.

Each stage is a plain function over the batch of rows about to be stored; none calls the
next. Order matters: places and sentiment come first because schemes can filter on
``region:`` and ``sentiment:``, and the risk score reads what the others found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from yuqing.alerts import flows as alerts
from yuqing.analysis import places as place_finder
from yuqing.analysis import risk
from yuqing.analysis.sentiment import get_emotion_model, get_sentiment_model
from yuqing.dashboard import flows as dashboard
from yuqing.events import flows as events
from yuqing.mentions import neardup
from yuqing.mentions import service as mentions
from yuqing.mentions.models import MentionPlace
from yuqing.mentions.schemas import IngestResult, ItemIn
from yuqing.schemes import service as schemes
from yuqing.schemes.matcher import MatchDoc, SchemeHit
from yuqing.sources.models import Source

Finish = Callable[[list[int]], None]


def process(
    session: Session, *, source: Source, items: Sequence[ItemIn | Mapping[str, Any]]
) -> IngestResult:
    """Store a batch of items and analyse the new and changed ones; the caller commits."""
    return mentions.ingest(session, source=source, items=items, analyse=analyse)


def analyse(session: Session, source: Source, rows: list[dict[str, Any]]) -> Finish | None:
    """Fill the analysis columns of ``rows``; returns what stores their links (places,
    scheme matches, similarity keys, events) and raises alerts once the rows have ids.

    Events and alerts run even for a batch with no new rows: its exact copies still count
    towards their events."""
    steps: list[Finish | None] = []
    if rows:
        steps.append(_analyse_rows(session, source, rows))
    steps.append(events.stage(session, source, rows))  # after near-duplicates: needs groups
    steps.append(dashboard.stage(session, source, rows))  # the pre-aggregated counts
    steps.append(alerts.stage(session, source, rows))  # last: reads matches, risk, events

    def finish(mention_ids: list[int]) -> None:
        for step in steps:
            if step is not None:
                step(mention_ids)

    return finish


def _analyse_rows(session: Session, source: Source, rows: list[dict[str, Any]]) -> Finish:
    texts = [row["search_text"] for row in rows]
    places = place_finder.find_places(texts)
    for row, found in zip(rows, places, strict=True):
        row["regions"] = place_finder.display(found) or None
    _sentiment(rows, texts)
    docs = [_match_doc(source, row, found) for row, found in zip(rows, places, strict=True)]
    hits = schemes.current_matcher(session).match_batch(docs)
    finish_similar = neardup.stage(session, source, rows)
    for row, row_hits in zip(rows, hits, strict=True):
        _risk(source, row, row_hits)

    def finish(mention_ids: list[int]) -> None:
        _store_places(session, mention_ids, places)
        schemes.record_matches(session, list(zip(mention_ids, hits, strict=True)))
        if finish_similar is not None:
            finish_similar(mention_ids)

    return finish


def _sentiment(rows: list[dict[str, Any]], texts: list[str]) -> None:
    model = get_sentiment_model()
    for row, (label, probability) in zip(rows, model.predict(texts), strict=True):
        row["sentiment"], row["sentiment_score"] = label, probability
        row["sentiment_model"] = model.version
    emotions = get_emotion_model()
    if emotions is not None:
        for row, (emotion, _) in zip(rows, emotions.predict(texts), strict=True):
            row["emotion"] = emotion


def _match_doc(source: Source, row: dict[str, Any], places: list[place_finder.Place]) -> MatchDoc:
    names: list[str] = []
    for place in places:
        names.extend(n for n in (place.name, place.province, place.city) if n)
    return MatchDoc(
        title=row["title"],
        text=row["text"],
        url=row["url"],
        source_name=source.name,
        regions=list(dict.fromkeys(names)),
        sentiment=row["sentiment"],
    )


def _risk(source: Source, row: dict[str, Any], hits: list[SchemeHit]) -> None:
    probability = row["sentiment_score"]
    if probability is not None:
        probability = round(min(max(probability, 0.0), 1.0), 2)
    weights = tuple(hit.weight for hit in hits)
    score, parts = _risk_of(row["sentiment"], probability, weights, source.weight)
    row["risk_score"], row["risk_parts"] = score, parts


@lru_cache(maxsize=65_536)
def _risk_of(
    sentiment: str | None, probability: float | None, weights: tuple[float, ...], source: float
) -> tuple[int, str]:
    """The score and its JSON, remembered: mentions repeat the same few inputs (the score
    rounds probabilities to 0.01 itself, so rounding here first changes nothing)."""
    result = risk.score(
        sentiment=sentiment,
        sentiment_score=probability,
        scheme_weights=list(weights),
        source_weight=source,
        spread=0,
    )
    return result.score, result.to_json()


def _store_places(
    session: Session, mention_ids: list[int], places: list[list[place_finder.Place]]
) -> None:
    session.execute(delete(MentionPlace).where(MentionPlace.mention_id.in_(mention_ids)))
    links = [
        (mid, p.code, p.level, p.name)
        for mid, found in zip(mention_ids, places, strict=True)
        for p in found
    ]
    if not links:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # The driver's executemany: SQLAlchemy's per-row parameter handling costs more here.
        connection.exec_driver_sql(
            "INSERT INTO mention_place (mention_id, code, level, name) VALUES (?, ?, ?, ?)", links
        )
        return
    session.execute(
        insert(MentionPlace),
        [dict(zip(("mention_id", "code", "level", "name"), link, strict=True)) for link in links],
    )
