"""Consent withdrawal: once recorded, nothing more about the person leaves the hub.

Activity organisations lose sight of the person's contact details and get no new
referrals, no buddy can be matched, and the GP practice gets only the coded minimum,
including in a report made but not yet sent.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.db_types import london_today, utcnow
from portal.directory import activity_referrals
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.referrals import consent
from portal.referrals.models import ReferralAction, ReferralEvent, ReferralStatus
from portal.referrals.workflow import TransitionRefused
from portal.reports.compose import minimal_summary
from portal.reports.models import DeliveryStatus, OutcomeReport
from portal.volunteers.models import BuddyMatch
from tests.cases.test_case_views import fresh, signed_in
from tests.directory.test_case_activities import listed, person_case, text_of
from tests.factories import make_compliant_volunteer, make_user


def sent_link(referral, navigator, activity=None, **kw):
    activity = activity or listed()
    shared = activity_referrals.SharedDetails(phone=True, email=True, age=True, note="Likes tea")
    link = activity_referrals.refer(referral, activity, navigator, shared, london_today())
    for key, value in kw.items():
        setattr(link, key, value)
    from portal.extensions import db

    db.session.commit()
    return link


def report_with(referral, status: DeliveryStatus, other_reference="T-OTHER") -> OutcomeReport:
    from portal.extensions import db

    full = {
        "schema_version": 1,
        "reference": referral.reference,
        "event": "accepted",
        "event_label": "Accepted for support",
        "event_date": "2026-11-20",
        "shared_in_full": True,
        "patient": {"nhs_number": None, "given_name": "Rosalind", "family_name": "Quenby"},
        "codes": [],
        "outcome": {"status": "accepted", "reason": None, "reason_label": None, "summary": "x"},
        "hub": {"name": "Hub"},
        "referral": {"reasons": ["Loneliness"]},
        "what_matters": [{"goal": "Walk to the shops again", "status": "Working on it"}],
    }
    other = {**full, "reference": other_reference}
    report = OutcomeReport(
        claim_key=f"test:{referral.id}:{status.value}",
        practice_id=referral.practice_id,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 20),
        referral_ids=[referral.id, 999_999],
        summaries=[full, other],
        status=status,
    )
    db.session.add(report)
    db.session.commit()
    return report


def test_the_page_says_what_will_stop(app, navigator):
    referral = person_case(navigator)
    sent_link(referral, navigator)
    browser = signed_in(app, navigator)
    page = text_of(browser.get(f"/cases/{referral.id}/consent/withdraw").text)
    assert "Withdraw consent to share" in page
    assert "1 open activity referral is withdrawn" in page
    assert "Tuesday walk (Friends of the Park)" in page
    assert "The person withdraws consent to share" in text_of(
        browser.get(f"/cases/{referral.id}").text
    )


def test_withdrawing_stops_every_kind_of_sharing_at_once(app, db, navigator, smtp_server):
    referral = person_case(navigator)
    link = sent_link(referral, navigator)
    waiting = report_with(referral, DeliveryStatus.RETRYING)
    delivered = report_with(referral, DeliveryStatus.SENT)
    smtp_server.messages.clear()
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/consent/withdraw", data={"note": "Rang the hub on Tuesday"}
    )

    assert response.status_code == 302
    referral = fresh(db, referral)
    assert referral.consent_withdrawn_at is not None
    assert referral.consent_withdrawn_by == navigator.full_name
    assert referral.consent_share_with_gp is False
    # The organisation's referral is withdrawn and no longer shows how to reach the person.
    link = db.session.get(ActivityReferral, link.id)
    assert link.status == ActivityReferralStatus.STOPPED
    assert link.end_reason == consent.ACTIVITY_END_REASON
    assert (link.shared_phone, link.shared_email, link.shared_age, link.shared_note) == (
        None,
        None,
        None,
        None,
    )
    # The organisation is told to stop expecting them, with no personal details.
    assert smtp_server.messages, "the organisation was not told"
    for message in smtp_server.messages:
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "withdrawn" in body and "Rosalind" not in body and "07700" not in body
    # The report not yet delivered carries only the coded minimum now; the other person's
    # section and the delivered report are as they were.
    db.session.expire_all()
    waiting = db.session.get(OutcomeReport, waiting.id)
    mine, other = waiting.summaries
    assert mine["shared_in_full"] is False
    assert "what_matters" not in mine and "referral" not in mine
    assert "summary" not in mine["outcome"]
    assert mine["patient"]["given_name"] == "Rosalind"
    assert other["what_matters"] and other["shared_in_full"] is True
    assert db.session.get(OutcomeReport, delivered.id).summaries[0]["shared_in_full"] is True
    # Its history and the audit trail say who did it.
    (event,) = db.session.scalars(
        sa.select(ReferralEvent).where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.action == ReferralAction.CONSENT_WITHDRAWN,
        )
    )
    assert event.actor_id == navigator.id and event.note == "Rang the hub on Tuesday"
    assert (
        db.session.scalar(
            sa.select(AuditEvent.actor_id).where(
                AuditEvent.action == "consent_withdrawn", AuditEvent.object_id == str(referral.id)
            )
        )
        == navigator.id
    )
    # The case says so, and no longer offers to do it again.
    page = text_of(browser.get(f"/cases/{referral.id}").text)
    assert "Consent to share withdrawn" in page
    assert "The person withdraws consent to share" not in page


def test_after_withdrawal_no_activity_referral_can_be_made(app, db, navigator, smtp_server):
    referral = person_case(navigator)
    activity = listed()
    consent.withdraw(referral, navigator)
    db.session.commit()
    smtp_server.messages.clear()
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/activities/{activity.id}/refer",
        data={"share_phone": "y", "consent": "y"},
        follow_redirects=True,
    )

    assert "withdrew consent to share their details" in text_of(response.text)
    assert db.session.scalars(sa.select(ActivityReferral)).all() == []
    assert smtp_server.messages == []


def test_after_withdrawal_no_buddy_can_be_proposed(app, db, navigator):
    referral = person_case(navigator)
    volunteer = make_compliant_volunteer()
    consent.withdraw(referral, navigator)
    db.session.commit()
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/buddies/new", data={"volunteer_id": str(volunteer.id)}
    )

    assert response.status_code == 400
    assert "withdrew consent to share their details" in text_of(response.text)
    assert db.session.scalars(sa.select(BuddyMatch)).all() == []


def test_the_gp_summary_after_withdrawal_is_the_coded_minimum(app, db, navigator):
    """minimal_summary() and the not-shared branch of person_summary() agree exactly."""
    from portal.reports import compose
    from portal.reports.models import QueuedOutcome, ReportEvent

    referral = person_case(navigator, status=ReferralStatus.ACTIVE)
    item = QueuedOutcome(
        referral_id=referral.id,
        practice_id=referral.practice_id,
        event=ReportEvent.ACCEPTED,
        queued_at=utcnow() - timedelta(days=1),
    )
    full = compose.person_summary(referral, item, {"name": "Hub"}, [], [], [], [])
    consent.withdraw(referral, navigator)
    cut = compose.person_summary(referral, item, {"name": "Hub"}, [], [], [], [])
    assert full["shared_in_full"] is True and "referral" in full
    assert cut == minimal_summary(full)


def test_withdrawing_twice_changes_nothing_more(app, db, navigator):
    referral = person_case(navigator)
    consent.withdraw(referral, navigator)
    db.session.commit()
    try:
        consent.withdraw(referral, navigator)
    except TransitionRefused as refused:
        assert refused.message == "Consent was already withdrawn."
    else:
        raise AssertionError("a second withdrawal was accepted")
    browser = signed_in(app, navigator)
    response = browser.post(f"/cases/{referral.id}/consent/withdraw", data={})
    assert response.status_code == 302
    db.session.rollback()
    events = db.session.scalars(
        sa.select(ReferralEvent).where(ReferralEvent.action == ReferralAction.CONSENT_WITHDRAWN)
    ).all()
    assert len(events) == 1


def test_another_navigator_cannot_withdraw_for_someone_not_theirs(app, db, navigator):
    referral = person_case(navigator)
    other = signed_in(app, make_user(Role.NAVIGATOR))
    assert other.get(f"/cases/{referral.id}/consent/withdraw").status_code == 404
    assert other.post(f"/cases/{referral.id}/consent/withdraw", data={}).status_code == 404
    assert fresh(db, referral).consent_withdrawn_at is None


def test_a_note_too_long_is_refused_beside_the_field_and_kept(app, db, navigator):
    referral = person_case(navigator)
    browser = signed_in(app, navigator)
    response = browser.post(f"/cases/{referral.id}/consent/withdraw", data={"note": "x" * 1001})
    assert response.status_code == 400
    assert "x" * 1001 in response.text
    assert 'id="note-error"' in response.text
    assert fresh(db, referral).consent_withdrawn_at is None


def test_the_coordinator_sees_it_on_the_referral(app, db, navigator, coordinator):
    referral = person_case(navigator)
    consent.withdraw(referral, navigator)
    db.session.commit()
    page = text_of(signed_in(app, coordinator).get(f"/referrals/{referral.id}").text)
    assert "Consent to share withdrawn" in page and navigator.full_name in page
