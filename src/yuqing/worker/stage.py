"""The analysis stages of the packages below ``mentions`` (places, sentiment, schemes, risk).

``analysis`` and ``schemes`` sit under ``mentions`` in the layer order, so they cannot see
the batch; these stages adapt their batch functions to it (``find_places``, the sentiment
models' ``predict``, the scheme matcher's ``match_batch``, ``risk.score``). The stages of
the packages above (near-duplicates, events, dashboard, alerts) live in their own
``stage.py``. Each keeps its results on the rows: Place objects, scheme hits, scores.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from yuqing.analysis import places as place_finder
from yuqing.analysis import risk
from yuqing.analysis.sentiment import get_emotion_model, get_sentiment_model
from yuqing.core.database import insert_many
from yuqing.mentions.batch import Batch, Row
from yuqing.mentions.models import MentionPlace
from yuqing.schemes import service as schemes
from yuqing.schemes.matcher import MatchDoc


class Places:
    """Places named in each row (地名): Place objects on the row, their display text in
    ``regions``; the ``mention_place`` rows once the ids exist."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if not rows:
            return
        found = place_finder.find_places([row.search_text for row in rows])
        for row, places in zip(rows, found, strict=True):
            row.places = places
            row.regions = place_finder.display(places) or None

    def after_insert(self, session: Session, batch: Batch) -> None:
        changed = [row.id for row in batch.changed if row.id is not None]
        if changed:
            session.execute(delete(MentionPlace).where(MentionPlace.mention_id.in_(changed)))
        _store_places(session, batch.analysed_rows)


def _store_places(session: Session, rows: list[Row]) -> None:
    links = [(row.id, p.code, p.level, p.name) for row in rows for p in row.places]
    if not links:
        return
    # On the driver: SQLAlchemy's per-row parameter handling costs more than the insert.
    table = cast(Table, MentionPlace.__table__)
    insert_many(session.connection(), table, ("mention_id", "code", "level", "name"), links)


class Sentiment:
    """Sentiment (and emotion, when a model is installed), one batched call each."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if not rows:
            return
        texts = [row.search_text for row in rows]
        model = get_sentiment_model()
        for row, (label, probability) in zip(rows, model.predict(texts), strict=True):
            row.sentiment, row.sentiment_score = label, probability
            row.sentiment_model = model.version
        emotions = get_emotion_model()
        if emotions is not None:
            for row, (emotion, _) in zip(rows, emotions.predict(texts), strict=True):
                row.emotion = emotion

    def after_insert(self, session: Session, batch: Batch) -> None:
        return None


class Schemes:
    """The monitoring schemes each row matches (after places and sentiment: a scheme may
    filter on ``region:`` and ``sentiment:``); the matches stored once the ids exist.

    The compiled matcher is a process cache (``schemes.service.current_matcher``), checked
    against the scheme table's signature at every batch and rebuilt from it: a worker that
    starts cold matches as any other."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        if not rows:
            return
        name = batch.source.name
        docs = [_match_doc(name, row) for row in rows]
        hits = schemes.current_matcher(session).match_batch(docs)
        for row, row_hits in zip(rows, hits, strict=True):
            row.hits = row_hits

    def after_insert(self, session: Session, batch: Batch) -> None:
        rows = batch.analysed_rows
        changed = [row.id for row in batch.changed if row.id]
        pairs = [(row.id, row.hits) for row in rows if row.id]
        schemes.record_matches(session, pairs, stored=changed)


def _match_doc(source_name: str, row: Row) -> MatchDoc:
    names: list[str] = []
    for place in row.places:
        names.extend(n for n in (place.name, place.province, place.city) if n)
    return MatchDoc(
        title=row.title,
        text=row.text,
        url=row.url,
        source_name=source_name,
        regions=list(dict.fromkeys(names)),
        sentiment=row.sentiment,
    )


class Risk:
    """The risk score (last of the analysis: it reads sentiment and the schemes' weights)."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        weight = batch.source.weight
        for row in batch.analysed_rows:
            probability = row.sentiment_score
            if probability is not None:
                probability = round(min(max(probability, 0.0), 1.0), 2)
            weights = tuple(hit.weight for hit in row.hits)
            row.risk_score, row.risk_parts = _risk_of(row.sentiment, probability, weights, weight)

    def after_insert(self, session: Session, batch: Batch) -> None:
        return None


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
