"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from yuqing.analysis.models import SentimentLabel
from yuqing.mentions.models import Mention, MentionBand, MentionPlace
from yuqing.schemes.models import Scheme, SchemeGroup, SchemeMatch
from yuqing.sources.models import FetchRun, Source

__all__ = [
    "FetchRun",
    "Mention",
    "MentionBand",
    "MentionPlace",
    "Scheme",
    "SchemeGroup",
    "SchemeMatch",
    "SentimentLabel",
    "Source",
]
