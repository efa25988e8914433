"""Timed work of the mentions domain that the runner calls."""

from __future__ import annotations

import logging
import threading

from yuqing.core.database import get_engine
from yuqing.mentions import search_index

log = logging.getLogger(__name__)

SEARCH_INDEX_SECONDS = 2.0
"""How often the runner brings the search index up to date. Searches never wait for it
(they merge what is not yet applied), so this only keeps the change log short; a search
that finds many changes waiting asks for a catch-up at once (``search_index.catch_up_soon``)."""


def follow_search_index(stop: threading.Event, *, every: float = SEARCH_INDEX_SECONDS) -> None:
    """Apply the change log to the search index until ``stop`` is set; the first run
    builds a missing index (minutes at 1M mentions; the database answers meanwhile)."""
    while True:
        try:
            search_index.catch_up(get_engine())
        except Exception:  # one failed catch-up must not end the loop; the log stays
            log.exception("search index catch-up failed")
        if stop.wait(every):
            return
