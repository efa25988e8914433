"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from yuqing.alerts.models import Alert, AlertRule, SensitiveCategory
from yuqing.analysis.models import SentimentLabel, SentimentModelVersion
from yuqing.assessment.models import (
    Activity,
    Bulletin,
    CreditWeight,
    MonthlyTask,
    QualityScore,
    ScoreRubric,
    TrainingAttendance,
    TrainingInvite,
    TrainingSession,
)
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
from yuqing.editorial.models import (
    Attachment,
    EditorialImage,
    ReviewAction,
    ReviewStage,
    Submission,
    SubmissionKind,
    SubmissionVersion,
    WordList,
)
from yuqing.events.models import Event, EventHour, EventMember, EventSource
from yuqing.maintenance.models import BackupRun, PurgeRun, RetentionRule
from yuqing.mentions.models import Mention, MentionBand, MentionMark, MentionPlace
from yuqing.notify.models import Channel, Notification
from yuqing.org.models import (
    ChangeRequest,
    DutyRole,
    Person,
    PersonRole,
    QuotaRule,
    RegistrationForm,
    RegistrationRound,
    RoleTerm,
    Unit,
    UnitKind,
)
from yuqing.reports.models import Report, ReportVersion
from yuqing.schemes.models import Scheme, SchemeGroup, SchemeMatch
from yuqing.sources.models import FetchRun, ImportJob, Source
from yuqing.system.models import SiteSetting
from yuqing.worker.models import InboxBatch

__all__ = [
    "Activity",
    "Alert",
    "AlertRule",
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "BackupRun",
    "Bulletin",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseEntry",
    "CaseEvent",
    "CaseMention",
    "CaseTimer",
    "ChangeRequest",
    "Channel",
    "Closure",
    "CreditWeight",
    "DashboardDay",
    "DashboardHour",
    "DutyRole",
    "EditorialImage",
    "Event",
    "EventHour",
    "EventMember",
    "EventSource",
    "FetchRun",
    "Grade",
    "ImportJob",
    "InboxBatch",
    "Mention",
    "MentionBand",
    "MentionMark",
    "MentionPlace",
    "MonthlyTask",
    "Notification",
    "Person",
    "PersonRole",
    "PurgeRun",
    "QualityScore",
    "QuotaRule",
    "RegistrationForm",
    "RegistrationRound",
    "Report",
    "ReportVersion",
    "RetentionRule",
    "ReviewAction",
    "ReviewStage",
    "Role",
    "RoleTerm",
    "Scheme",
    "SchemeGroup",
    "SchemeMatch",
    "ScoreRubric",
    "SensitiveCategory",
    "SentimentLabel",
    "SentimentModelVersion",
    "SiteSetting",
    "SlaClock",
    "Source",
    "Submission",
    "SubmissionKind",
    "SubmissionVersion",
    "TrainingAttendance",
    "TrainingInvite",
    "TrainingSession",
    "Unit",
    "UnitKind",
    "User",
    "UserSession",
    "WordList",
]
