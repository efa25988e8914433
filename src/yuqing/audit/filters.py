"""The audit log's filters as the page, the export and the JSON route receive them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends

from yuqing.audit import search
from yuqing.core import audit
from yuqing.core.timeutil import local_zone, to_utc_naive


class AuditFilterError(ValueError):
    """A filter the log cannot be searched by (a malformed date), in Chinese."""


@dataclass(frozen=True)
class AuditQuery:
    """The audit page's filters as the form sends them (dates are Beijing days)."""

    start: str = ""
    end: str = ""
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    q: str = ""

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def filters(self) -> search.AuditFilters:
        """Filters in UTC: ``start`` from its local midnight, ``end`` to the end of its day."""
        since, until = _local_day(self.start, "开始日期"), _local_day(self.end, "结束日期")
        return search.AuditFilters(
            since=since,
            until=None if until is None else until + timedelta(days=1),
            actor=self.actor,
            action=self.action if self.action in audit.ACTIONS else "",
            object_type=self.object_type,
            object_id=self.object_id,
            text=self.q,
        )


def _local_day(value: str, label: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as error:
        raise AuditFilterError(f"{label}“{value[:20]}”应写成 年-月-日，例如 2024-03-05") from error
    return to_utc_naive(datetime.combine(day, time()), assume=local_zone())


def audit_query(
    start: str = "",
    end: str = "",
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    q: str = "",
) -> AuditQuery:
    """The filters of a query string or form, each cut to its column's width."""
    return AuditQuery(
        start[:10], end[:10], actor[:100], action[:40], object_type[:40], object_id[:64], q[:200]
    )


AuditQueryDep = Annotated[AuditQuery, Depends(audit_query)]
