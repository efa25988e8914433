"""``yuqing people …`` (its commands live in ``maintenance/cli.py``)."""

from yuqing.maintenance.cli import people_app as app

__all__ = ["app"]
