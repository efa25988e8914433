"""Tables of the dashboard: mention counters per hour and per day, kept by the ingest stage."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base

ALL_PLACES = ""
"""The ``province`` of a counter that counts every mention (the totals). A counter with a
province code counts the mentions naming that province; a mention naming two provinces
counts in both, so only the ``ALL_PLACES`` rows add up to the volume."""


class DashboardHour(Base):
    """Listed mentions published in one hour (UTC), by source kind, sentiment and province."""

    __tablename__ = "dashboard_hour"
    # The key is the lookup index (hour first: every read is a time range).
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(8), primary_key=True)  # '' when not scored
    province: Mapped[str] = mapped_column(String(12), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DashboardDay(Base):
    """The same counters per day in the institution's zone: 30-day charts read ~20k rows at
    most instead of summing 720 hours of every province."""

    __tablename__ = "dashboard_day"
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(8), primary_key=True)
    province: Mapped[str] = mapped_column(String(12), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
