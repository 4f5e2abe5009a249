"""Consent withdrawal: from the moment it is recorded, nothing more about the person is shared.

UK GDPR lets a person withdraw consent at any time, and it must be as easy as giving it.
What the hub already holds it keeps (to support them, and for the record); what stops is
sharing: with activity organisations, with volunteer buddies, and with the GP beyond the
coded minimum that support has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal.auth.models import User
from portal.db_types import utcnow
from portal.directory import activity_referrals
from portal.directory.models import OPEN_ACTIVITY_REFERRAL, ActivityReferral
from portal.extensions import db
from portal.referrals.models import Referral, ReferralAction
from portal.referrals.workflow import Actor, TransitionRefused, _event
from portal.reports.compose import minimal_summary
from portal.reports.models import WAITING, OutcomeReport

ACTIVITY_END_REASON = "Withdrawn: the person withdrew consent for the hub to share their details."


@dataclass
class Withdrawal:
    """What withdrawing changed, so the view can tell organisations and the person doing it."""

    stopped_activity_referrals: list[ActivityReferral] = field(default_factory=list)
    minimised_reports: int = 0


def withdraw(referral: Referral, by: User, note: str | None = None, now: datetime | None = None):
    """Record the withdrawal and stop every kind of sharing at once, in this transaction."""
    if referral.consent_withdrawn:
        raise TransitionRefused("Consent was already withdrawn.", None)
    now = now or utcnow()
    referral.consent_withdrawn_at = now
    referral.consent_withdrawn_by = by.full_name[:120]
    referral.consent_share_with_gp = False
    done = Withdrawal()

    open_links = db.session.scalars(
        sa.select(ActivityReferral).where(
            ActivityReferral.referral_id == referral.id,
            ActivityReferral.status.in_(OPEN_ACTIVITY_REFERRAL),
        )
    )
    for link in open_links:
        activity_referrals.stop(link, by, ACTIVITY_END_REASON)
        # The organisation no longer sees how to reach the person.
        link.shared_phone = link.shared_email = link.shared_age = link.shared_note = None
        done.stopped_activity_referrals.append(link)

    done.minimised_reports = _minimise_unsent_reports(referral)
    _event(
        referral,
        ReferralAction.CONSENT_WITHDRAWN,
        Actor.of(by),
        note=note or None,
        at=now,
    )
    return done


def _minimise_unsent_reports(referral: Referral) -> int:
    """A report made but not yet delivered carries only the coded minimum about them now."""
    changed = 0
    waiting = db.session.scalars(
        sa.select(OutcomeReport)
        .where(OutcomeReport.status.in_(WAITING))
        .options(sa.orm.undefer(OutcomeReport.summaries))
    )
    for report in waiting:
        if referral.id not in (report.referral_ids or []):
            continue
        report.summaries = [
            minimal_summary(s) if s.get("reference") == referral.reference else s
            for s in report.summaries
        ]
        changed += 1
    return changed
