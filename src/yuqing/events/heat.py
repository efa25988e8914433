"""The heat index (热度) of an event, 0–100, from counters the ingest stage keeps.

    heat = 100 × (0.45·V + 0.25·G + 0.15·S + 0.15·N)

- V, volume: log10(1 + mentions) / log10(1 + 1000), capped at 1 (1,000 mentions fill it);
- G, growth: the last hour against the hourly mean of the 24 hours before it, smoothed,
  r = (last + 1) / (mean + 1); G = log2(r) / 3 clipped to [0, 1] (eight times the usual
  rate fills it; a flat or falling event scores 0);
- S, spread: (sources − 1) / 4, capped at 1 (five sources or more fill it);
- N, negative share: negative / (positive + neutral + negative), 0 when none is scored.

Every part is bounded in [0, 1], so the heat is too (× 100). It costs a few float
operations per event and is recomputed for each touched event at every batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

W_VOLUME, W_GROWTH, W_SPREAD, W_NEGATIVE = 0.45, 0.25, 0.15, 0.15
VOLUME_FULL = 1000
GROWTH_FULL = 8.0
SPREAD_FULL = 5


@dataclass(frozen=True)
class HeatParts:
    """The four parts (each 0–1) and the index, so a page can explain a number."""

    volume: float
    growth: float
    spread: float
    negative: float

    @property
    def heat(self) -> float:
        raw = (
            W_VOLUME * self.volume
            + W_GROWTH * self.growth
            + W_SPREAD * self.spread
            + W_NEGATIVE * self.negative
        )
        return round(100.0 * min(max(raw, 0.0), 1.0), 1)


def parts(
    *,
    size: int,
    last_hour: int,
    previous_day: int,
    sources: int,
    negative: int,
    scored: int,
) -> HeatParts:
    """The parts of the heat of an event with these counts (negative counts clip to 0)."""
    volume = min(1.0, math.log10(1 + max(size, 0)) / math.log10(1 + VOLUME_FULL))
    ratio = (max(last_hour, 0) + 1) / (max(previous_day, 0) / 24 + 1)
    growth = min(1.0, max(0.0, math.log2(ratio) / math.log2(GROWTH_FULL)))
    spread = min(1.0, max(sources - 1, 0) / (SPREAD_FULL - 1))
    share = min(1.0, max(negative, 0) / scored) if scored > 0 else 0.0
    return HeatParts(volume=volume, growth=growth, spread=spread, negative=share)


@lru_cache(maxsize=65_536)  # most events are small: the same few inputs repeat
def heat(
    *, size: int, last_hour: int, previous_day: int, sources: int, negative: int, scored: int
) -> float:
    """The heat index, 0–100 (see the module docstring for the formula)."""
    return parts(
        size=size,
        last_hour=last_hour,
        previous_day=previous_day,
        sources=sources,
        negative=negative,
        scored=scored,
    ).heat
