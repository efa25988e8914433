"""The ingest pipeline: the one way collected items enter the store, analysed.

``process`` prepares a typed batch (``mentions.store.prepare``: normalise, same item stored
before, exact copies), runs every stage's ``before_insert`` in order, stores the batch
(``mentions.store.store``, which fills the rows' ids), then every stage's ``after_insert``,
all in the caller's transaction. A stage is a small object over the batch
(``mentions.batch.Stage``); none calls the next, and what one finds that a later one needs
travels on the batch (see docs/pipeline.md).

Order matters: places and sentiment come before schemes, which can filter on ``region:`` and
``sentiment:``; risk reads sentiment and the matched schemes' weights; events need the
near-duplicate groups; alerts come last and read matches, risk and events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from yuqing.alerts.stage import Alerts
from yuqing.dashboard.stage import Dashboard
from yuqing.events.stage import Events
from yuqing.mentions import store
from yuqing.mentions.batch import Batch, Stage
from yuqing.mentions.stage import NearDuplicates
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, ItemIn
from yuqing.worker.stage import Places, Risk, Schemes, Sentiment

ANALYSIS: tuple[Stage, ...] = (Places(), Sentiment(), Schemes(), Risk())
"""Stages whose ``before_insert`` reads only the rows (and process caches of scheme and
rule tables): they can run before the write lock, beside other batches being written."""

STAGES: tuple[Stage, ...] = (
    *ANALYSIS,
    NearDuplicates(),  # reads the stored band keys: under the lock, with what is stored
    Events(),
    Dashboard(),
    Alerts(),
)

# Queue mode (worker/tasks.py) runs a batch in two parts. The analysis part (every
# ``before_insert``, the store, and the after-insert work that links rows to their ids) runs
# in parallel workers; the after-insert work of events, dashboard counts and alerts runs in
# one ordered consumer, which keeps one view of the events' window.
PARALLEL_STAGES: tuple[Stage, ...] = STAGES[:5]
ORDERED_STAGES: tuple[Stage, ...] = STAGES[5:]


def process(
    session: Session,
    *,
    source: Source,
    items: Sequence[ItemIn | Mapping[str, Any]],
    stages: Sequence[Stage] = STAGES,
) -> IngestResult:
    """Store a batch of items of ``source`` and analyse the new and changed ones; the caller
    commits. ``stages``: all of them, in order (a test may run a few)."""
    return run(session, store.prepare(session, source=source, items=items), stages=stages)


def run(session: Session, batch: Batch, *, stages: Sequence[Stage] = STAGES) -> IngestResult:
    """Analyse and store a prepared batch (one prepared here, or received as JSON by a
    worker: ``Batch.from_dict``); the caller commits."""
    batch.analysed = True
    for stage in stages:
        stage.before_insert(session, batch)
    return _store(session, batch, stages)


def analyse(session: Session, batch: Batch) -> None:
    """The first half of ``run``: the stages that read only the rows (``ANALYSIS``); no
    write, so it runs outside the write lock (``worker/writer.py``)."""
    batch.analysed = True
    for stage in ANALYSIS:
        stage.before_insert(session, batch)


def write(
    session: Session,
    batch: Batch,
    *,
    settle: bool = True,
    written: frozenset[Any] | None = None,
) -> IngestResult:
    """The second half of ``run`` for a batch ``analyse`` saw (several merged into one by the
    writer): decide its new rows again against what is stored now (``store.settle``, only
    for the keys in ``written`` when given), the stages that read the store, the insert,
    every stage's ``after_insert``; the caller commits. ``settle=False``: the batch was
    prepared after the last write and alone."""
    if settle:
        store.settle(session, batch, written=written)
    for stage in STAGES:
        if stage not in ANALYSIS:
            stage.before_insert(session, batch)
    return _store(session, batch, STAGES)


def _store(session: Session, batch: Batch, stages: Sequence[Stage]) -> IngestResult:
    result = store.store(session, batch)
    for stage in stages:
        stage.after_insert(session, batch)
    store.finish(session, batch, result)
    return result


def run_parallel_part(session: Session, batch: Batch) -> IngestResult:
    """Queue mode, first part: analyse and store ``batch`` and store what links to the ids
    (places, scheme matches, near-duplicate bands); the caller commits and hands the batch
    to ``run_ordered_part``."""
    batch.analysed = True
    for stage in STAGES:
        stage.before_insert(session, batch)
    result = store.store(session, batch)
    for stage in PARALLEL_STAGES:
        stage.after_insert(session, batch)
    # Copies counted on their originals and the source's counters: last and sorted, as in
    # the embedded path, so parallel workers meet no hot row in the middle of a batch.
    store.finish(session, batch, result)
    return result


def run_ordered_part(session: Session, batch: Batch) -> None:
    """Queue mode, second part, one batch at a time in order: events, dashboard counts,
    alerts of a stored batch (received as JSON); the caller commits."""
    for stage in ORDERED_STAGES:
        stage.after_insert(session, batch)
