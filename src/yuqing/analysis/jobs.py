"""Timed work of analysis: retrain the sentiment model from the office's new labels."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from yuqing.analysis import sentiment, service
from yuqing.analysis.labelled import LabelledFileError
from yuqing.analysis.models import SentimentModelVersion

log = logging.getLogger(__name__)

RETRAIN_NEW_LABELS = 50
"""New labels since the last training that make a scheduled retraining worth it."""
RETRAIN_EVERY = timedelta(hours=24)


def retrain_if_due(session: Session, now: datetime) -> service.TrainReport | None:
    """Once a day at most, when at least ``RETRAIN_NEW_LABELS`` labels came in since the last
    training, train a candidate exactly as the 重新训练 button does (held-out comparison,
    refit on all labels when accepted, the version kept either way)."""
    last = session.scalar(
        select(func.max(SentimentModelVersion.created_at)).where(
            SentimentModelVersion.kind == "sentiment"
        )
    )
    if last is not None and now - last < RETRAIN_EVERY:
        return None
    new = session.execute(
        text("SELECT COUNT(*) FROM sentiment_label WHERE created_at > :at"),
        {"at": last or datetime(1970, 1, 1)},
    ).scalar_one()
    if new < RETRAIN_NEW_LABELS:
        return None
    try:
        return service.train(session, files=[], trigger="schedule")
    except (LabelledFileError, sentiment.TrainingDataError) as error:
        log.info("scheduled retraining skipped: %s", error)
        return None
