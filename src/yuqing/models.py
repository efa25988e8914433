"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from yuqing.alerts.models import Alert, AlertRule, SensitiveCategory
from yuqing.analysis.models import SentimentLabel, SentimentModelVersion
from yuqing.auth.models import ApiToken, Role, User, UserSession
from yuqing.cases.models import (
    CalendarDay,
    CalendarYear,
    Case,
    CaseEntry,
    CaseEvent,
    CaseMention,
    CaseTimer,
    Closure,
    Grade,
    SlaClock,
)
from yuqing.core.audit import AuditEntry, AuditHead
from yuqing.dashboard.models import DashboardDay, DashboardHour
from yuqing.events.models import Event, EventHour, EventMember, EventSource
from yuqing.maintenance.models import BackupRun, PurgeRun, RetentionRule
from yuqing.mentions.models import Mention, MentionBand, MentionMark, MentionPlace
from yuqing.notify.models import Channel, Notification
from yuqing.org.models import DutyRole, Person, PersonRole, Unit, UnitKind
from yuqing.reports.models import Report, ReportVersion
from yuqing.schemes.models import Scheme, SchemeGroup, SchemeMatch
from yuqing.sources.models import FetchRun, ImportJob, Source
from yuqing.system.models import SiteSetting

__all__ = [
    "Alert",
    "AlertRule",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "BackupRun",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseEntry",
    "CaseEvent",
    "CaseMention",
    "CaseTimer",
    "Channel",
    "Closure",
    "DashboardDay",
    "DashboardHour",
    "DutyRole",
    "Event",
    "EventHour",
    "EventMember",
    "EventSource",
    "FetchRun",
    "Grade",
    "ImportJob",
    "Mention",
    "MentionBand",
    "MentionMark",
    "MentionPlace",
    "Notification",
    "Person",
    "PersonRole",
    "PurgeRun",
    "Report",
    "ReportVersion",
    "RetentionRule",
    "Role",
    "Scheme",
    "SchemeGroup",
    "SchemeMatch",
    "SensitiveCategory",
    "SentimentLabel",
    "SentimentModelVersion",
    "SiteSetting",
    "SlaClock",
    "Source",
    "Unit",
    "UnitKind",
    "User",
    "UserSession",
]
