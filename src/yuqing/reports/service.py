"""Reports (报告): the face the desk pages, the commands and other domains call.

The work lives in the domain's rooms: ``figures`` (counts, rankings and quotes over a
period), ``digests`` (the daily, weekly and monthly reports), ``event_report`` (the 专报),
``store`` (stored reports, versions, each reader's version) and ``delivery`` (the outbox and
what became of it); ``jobs`` is the scheduled daily digest. Every function works in the
caller's transaction and never commits.
"""

from __future__ import annotations

from yuqing.reports.delivery import (
    RECIPIENTS_TEXT,
    SOURCE_TYPE,
    DeliveryStatus,
    get_delivery_status,
    list_sent_report_ids,
)
from yuqing.reports.digests import PERIOD_TOP_EVENTS, UNIT_VERSION, daily, monthly, weekly
from yuqing.reports.event_report import event_report
from yuqing.reports.figures import (
    REPORTER,
    count_by_day,
    count_by_region,
    count_by_sentiment,
    count_by_source,
    count_items,
    day_bounds,
    list_attention_items,
    list_overdue_cases,
    list_top_events,
    month_days,
    week_bounds,
)
from yuqing.reports.store import (
    ALL,
    BUILDERS,
    content_of,
    create_report,
    create_version,
    get_latest_version,
    get_reader_content,
    get_report,
    list_reports,
    list_versions,
    update_paragraph,
    update_sent_version,
    whole,
)

__all__ = [
    "ALL",
    "BUILDERS",
    "PERIOD_TOP_EVENTS",
    "RECIPIENTS_TEXT",
    "REPORTER",
    "SOURCE_TYPE",
    "UNIT_VERSION",
    "DeliveryStatus",
    "content_of",
    "count_by_day",
    "count_by_region",
    "count_by_sentiment",
    "count_by_source",
    "count_items",
    "create_report",
    "create_version",
    "daily",
    "day_bounds",
    "event_report",
    "get_delivery_status",
    "get_latest_version",
    "get_reader_content",
    "get_report",
    "list_attention_items",
    "list_overdue_cases",
    "list_reports",
    "list_sent_report_ids",
    "list_top_events",
    "list_versions",
    "month_days",
    "monthly",
    "update_paragraph",
    "update_sent_version",
    "week_bounds",
    "weekly",
    "whole",
]
