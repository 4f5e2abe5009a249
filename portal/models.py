"""Every model, imported in one place so the metadata (and Alembic) sees the whole schema."""

import portal.dashboard.facts  # noqa: F401  (marks referrals stale on every flush)
from portal.alerts.models import Alert
from portal.audit.models import AuditEvent
from portal.auth.models import RateLimitCounter, Role, User
from portal.cases.models import Contact, Goal
from portal.dashboard.models import ReferralFacts, StaleReferral
from portal.directory.models import (
    Activity,
    ActivityAttendance,
    ActivityImport,
    ActivityReferral,
    Organisation,
)
from portal.jobs.models import JobRun
from portal.matching.models import MatchDecision, MatchingWeight, PostcodeDistrict
from portal.measures.models import MeasureResponse
from portal.referrals.models import (
    Neighbourhood,
    Practice,
    Referral,
    ReferralReasonLink,
    Resident,
)
from portal.reports.models import OutcomeReport, QueuedOutcome, ReportAttempt
from portal.volunteers.models import (
    BuddyMatch,
    ReminderSent,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
)

__all__ = [
    "Activity",
    "ActivityAttendance",
    "ActivityImport",
    "ActivityReferral",
    "Alert",
    "AuditEvent",
    "BuddyMatch",
    "Contact",
    "Goal",
    "JobRun",
    "MatchDecision",
    "MatchingWeight",
    "MeasureResponse",
    "Neighbourhood",
    "Organisation",
    "OutcomeReport",
    "PostcodeDistrict",
    "Practice",
    "QueuedOutcome",
    "RateLimitCounter",
    "Referral",
    "ReferralFacts",
    "ReferralReasonLink",
    "ReminderSent",
    "ReportAttempt",
    "Resident",
    "Role",
    "StaleReferral",
    "TrainingModule",
    "TrainingRecord",
    "User",
    "Volunteer",
    "VolunteerHours",
]
