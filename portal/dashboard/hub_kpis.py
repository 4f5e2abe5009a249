"""The hub dashboard's figures: what needs doing today, for the staff who do it.

Hub staff see person-level records anyway, so these counts are not suppressed. Each
function says in its docstring exactly what it counts, like those in `kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from portal.cases.caseload import CASE_STATUSES, overdue_count
from portal.dashboard.kpis import Scope, _uk_day, _utc_day_and_late
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    Organisation,
)
from portal.extensions import db
from portal.referrals.models import Practice, Referral, ReferralSource
from portal.referrals.queue import navigators_with_caseload
from portal.referrals.workflow import TRIAGE_STATUSES
from portal.referrals.working_days import working_days_between
from portal.reports.models import DeliveryStatus, OutcomeReport
from portal.reports.periods import london_midnight
from portal.volunteers.models import TrainingModule, TrainingRecord, Volunteer, VolunteerStatus
from portal.volunteers.training import add_months


def week_start(today: date) -> date:
    """Monday of this week."""
    return today - timedelta(days=today.weekday())


@dataclass(frozen=True)
class RecentCount:
    label: str
    this_week: int
    this_month: int


def _week_and_month(column, today: date, *where) -> dict:
    """Counts of referrals received this week and this month (UK dates), by `column`."""
    month = Scope(today.replace(day=1), today)
    week = Scope(week_start(today), today)
    in_week = sa.and_(Referral.received_at >= week.since, Referral.received_at < week.until)
    earliest = min(month.since, week.since)  # a week can start in the month before
    rows = db.session.execute(
        sa.select(
            column,
            sa.func.sum(sa.case((in_week, 1), else_=0)),
            sa.func.sum(sa.case((Referral.received_at >= month.since, 1), else_=0)),
        )
        .where(Referral.received_at >= earliest, Referral.received_at < month.until, *where)
        .group_by(column)
    )
    return {key: (int(w or 0), int(m or 0)) for key, w, m in rows}


def received_by_source(today: date) -> list[RecentCount]:
    """Referrals received this week (from Monday) and this month (from the 1st), UK dates,
    by who referred. Every source is listed."""
    counts = _week_and_month(Referral.source, today)
    return [RecentCount(s.label, *counts.get(s, (0, 0))) for s in ReferralSource]


def received_by_practice(today: date) -> list[RecentCount]:
    """Referrals received this week and this month by the practice they came from, for
    practices with any this week or this month (a week can begin last month), busiest
    first. Self-referrals with no practice count under "No practice"."""
    counts = _week_and_month(Referral.practice_id, today)
    names = dict(
        db.session.execute(
            sa.select(Practice.id, Practice.name).where(
                Practice.id.in_([k for k in counts if k is not None])
            )
        ).all()
    )
    rows = [
        RecentCount(names.get(pid, "No practice") if pid else "No practice", w, m)
        for pid, (w, m) in counts.items()
        if m or w
    ]
    return sorted(rows, key=lambda r: (-r.this_month, -r.this_week, r.label))


@dataclass(frozen=True)
class QueueAge:
    waiting: int
    over_2: int
    over_5: int
    oldest: int | None  # working days


def triage_queue_age(today: date) -> QueueAge:
    """Referrals waiting for a triage decision (received or being contacted), and how many
    have waited more than 2 and more than 5 working days since the UK date received."""
    day, late = _utc_day_and_late(Referral.received_at)
    rows = db.session.execute(
        sa.select(day, late, sa.func.count())
        .where(Referral.status.in_(TRIAGE_STATUSES))
        .group_by(day, late)
    ).all()
    waiting = over_2 = over_5 = 0
    oldest = None
    for utc_day, is_late, n in rows:
        age = working_days_between(_uk_day(utc_day, is_late), today)
        waiting += n
        over_2 += n if age > 2 else 0
        over_5 += n if age > 5 else 0
        oldest = age if oldest is None else max(oldest, age)
    return QueueAge(waiting, over_2, over_5, oldest)


def recent_scope(today: date, days: int = 90) -> Scope:
    """Referrals received in the last `days` days, today included: the hub's working window
    for time-to-contact and time-to-triage."""
    return Scope(today - timedelta(days=days - 1), today)


@dataclass(frozen=True)
class NavigatorLoad:
    navigator: str
    open_cases: int
    capacity: int | None

    @property
    def use(self) -> int | None:
        """Open cases as a percentage of capacity; None when no capacity is set."""
        if not self.capacity:
            return None
        return round(100 * self.open_cases / self.capacity)


def caseload_by_navigator() -> list[NavigatorLoad]:
    """Each active navigator's open cases (referrals assigned to them that are not closed,
    the count triage uses) against the caseload capacity set on their account."""
    return [
        NavigatorLoad(user.full_name, n, user.caseload_capacity)
        for user, n in navigators_with_caseload()
    ]


def cases_without_contact(days: int) -> int:
    """Open cases (assigned or being supported) with no successful contact in `days` days:
    the last successful contact, or the assignment when there has been none, is older."""
    return overdue_count(None, days)


@dataclass(frozen=True)
class AwaitingResponse:
    organisation: str
    waiting: int
    past_respond_by: int


def activity_referrals_awaiting(today: date) -> list[AwaitingResponse]:
    """Activity referrals sent to an organisation that has not yet accepted or declined,
    by organisation, with how many are past the date the organisation was asked to
    respond by. Most overdue first."""
    late = sa.and_(ActivityReferral.respond_by.is_not(None), ActivityReferral.respond_by < today)
    rows = db.session.execute(
        sa.select(
            Organisation.name,
            sa.func.count(),
            sa.func.sum(sa.case((late, 1), else_=0)),
        )
        .select_from(ActivityReferral)
        .join(Activity, Activity.id == ActivityReferral.activity_id)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .where(ActivityReferral.status == ActivityReferralStatus.SENT)
        .group_by(Organisation.name)
    ).all()
    out = [AwaitingResponse(name, n, int(past or 0)) for name, n, past in rows]
    return sorted(out, key=lambda r: (-r.past_respond_by, -r.waiting, r.organisation))


def volunteers_by_status() -> list[tuple[str, int]]:
    """Volunteer records by their current status. Every status is listed."""
    rows = dict(
        db.session.execute(
            sa.select(Volunteer.status, sa.func.count()).group_by(Volunteer.status)
        ).all()
    )
    return [(status.label, rows.get(status, 0)) for status in VolunteerStatus]


@dataclass(frozen=True)
class ExpiryCounts:
    dbs_expired: int
    dbs_expiring: int
    training_expired: int
    training_expiring: int


# Volunteers whose checks matter: the same statuses the expiry reminders go to.
CHECKED_STATUSES = (VolunteerStatus.ACTIVE, VolunteerStatus.PAUSED)


def _last_start_expiring_by(day: date, months: int) -> date:
    """The latest start date whose `months`-long validity ends on or before `day`
    (add_months clamps 31 January + 1 month to 28 February, so step to find it)."""
    start = add_months(day, -months)
    while add_months(start + timedelta(days=1), months) <= day:
        start += timedelta(days=1)
    return start


def volunteer_expiry(today: date, within_days: int, renewal_years: int) -> ExpiryCounts:
    """Active or paused volunteers whose DBS check, or a training module their roles
    require, has run out (expired) or runs out within `within_days` days (expiring).

    A DBS check counts for `renewal_years` from its issue date, or from the last Update
    Service check when later, and only for roles that need one (buddy, navigator). A
    module counts from its latest completion for its `valid_for_months`. A volunteer is
    counted once in each column however many items apply, and in both training columns
    when one module has run out and another is about to."""
    horizon = today + timedelta(days=within_days)
    needs_dbs = sa.or_(Volunteer.role_buddy.is_(True), Volunteer.role_navigator.is_(True))

    def dbs_ends_by(day: date):
        start = _last_start_expiring_by(day, 12 * renewal_years)
        checked_before = Volunteer.dbs_checked_at < london_midnight(start + timedelta(days=1))
        return sa.and_(
            Volunteer.dbs_issue_date <= start,
            sa.or_(
                Volunteer.dbs_update_service.is_(False),
                Volunteer.dbs_checked_at.is_(None),
                checked_before,
            ),
        )

    dbs = db.session.execute(
        sa.select(
            sa.func.sum(sa.case((dbs_ends_by(today - timedelta(days=1)), 1), else_=0)),
            sa.func.sum(sa.case((dbs_ends_by(horizon), 1), else_=0)),
        ).where(
            Volunteer.status.in_(CHECKED_STATUSES),
            needs_dbs,
            Volunteer.dbs_issue_date.is_not(None),
        )
    ).one()

    modules = db.session.execute(
        sa.select(
            TrainingModule.id,
            TrainingModule.valid_for_months,
            TrainingModule.required_for_buddy,
            TrainingModule.required_for_navigator,
            TrainingModule.required_for_befriender,
        ).where(TrainingModule.is_active.is_(True), TrainingModule.valid_for_months.is_not(None))
    ).all()
    training_expired = training_expiring = 0
    if modules:
        latest = (
            sa.select(
                TrainingRecord.volunteer_id,
                TrainingRecord.module_id,
                sa.func.max(TrainingRecord.completed_on).label("completed_on"),
            )
            .group_by(TrainingRecord.volunteer_id, TrainingRecord.module_id)
            .subquery()
        )

        def required_by(buddy: bool, navigator: bool, befriender: bool) -> list:
            pairs = (
                (Volunteer.role_buddy, buddy),
                (Volunteer.role_navigator, navigator),
                (Volunteer.role_befriender, befriender),
            )
            return [column.is_(True) for column, required in pairs if required]

        def ends_by(day: date):
            return sa.or_(
                sa.false(),
                *(
                    sa.and_(
                        latest.c.module_id == module_id,
                        latest.c.completed_on <= _last_start_expiring_by(day, months),
                        sa.or_(*roles),
                    )
                    for module_id, months, *flags in modules
                    if (roles := required_by(*flags))
                ),
            )

        yesterday = today - timedelta(days=1)
        expiring_row = sa.and_(ends_by(horizon), sa.not_(ends_by(yesterday)))
        row = db.session.execute(
            sa.select(
                sa.func.count(sa.distinct(sa.case((ends_by(yesterday), Volunteer.id)))),
                sa.func.count(sa.distinct(sa.case((expiring_row, Volunteer.id)))),
            )
            .select_from(latest)
            .join(Volunteer, Volunteer.id == latest.c.volunteer_id)
            .where(Volunteer.status.in_(CHECKED_STATUSES))
        ).one()
        training_expired, training_expiring = (int(n or 0) for n in row)
    expired_dbs, by_horizon_dbs = (int(v or 0) for v in dbs)
    return ExpiryCounts(
        expired_dbs,
        by_horizon_dbs - expired_dbs,
        training_expired,
        training_expiring,
    )


@dataclass(frozen=True)
class FailedReport:
    report_id: int
    practice: str
    period_start: date
    period_end: date
    status: DeliveryStatus
    last_error: str | None


def failed_report_count() -> int:
    """Outcome reports to practices that have failed for good or are waiting to be retried
    after a failed attempt."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutcomeReport)
        .where(OutcomeReport.status.in_((DeliveryStatus.FAILED, DeliveryStatus.RETRYING)))
    )


def failed_report_deliveries(limit: int = 25) -> list[FailedReport]:
    """The same reports as `failed_report_count`, latest period first, at most `limit`."""
    rows = db.session.execute(
        sa.select(
            OutcomeReport.id,
            Practice.name,
            OutcomeReport.period_start,
            OutcomeReport.period_end,
            OutcomeReport.status,
            OutcomeReport.last_error,
        )
        .join(Practice, Practice.id == OutcomeReport.practice_id)
        .where(OutcomeReport.status.in_((DeliveryStatus.FAILED, DeliveryStatus.RETRYING)))
        .order_by(OutcomeReport.period_end.desc(), Practice.name)
        .limit(limit)
    ).all()
    return [FailedReport(*row) for row in rows]


def open_case_count() -> int:
    """Cases assigned to a navigator or being supported."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Referral).where(Referral.status.in_(CASE_STATUSES))
    )
