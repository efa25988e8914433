"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from yuqing.mentions.models import Mention, MentionPlace
from yuqing.sources.models import FetchRun, Source

__all__ = ["FetchRun", "Mention", "MentionPlace", "Source"]
