"""A resident with a full case history, another resident beside them, and a volunteer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from portal.alerts.models import Alert, AlertKind
from portal.audit.models import AuditEvent
from portal.auth.models import Role, User
from portal.cases.models import Contact, ContactMethod, ContactResult, GoalStatus
from portal.db_types import utcnow
from portal.directory.models import (
    ActivityAttendance,
    ActivityReferral,
    ActivityReferralStatus,
)
from portal.extensions import db
from portal.matching.models import MatchDecision, MatchKind
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralReason,
    ReferralStatus,
    Resident,
    Route,
)
from portal.reports import delivery
from portal.reports.models import OutcomeReport
from portal.reports.periods import Period, london_date
from portal.volunteers.models import HoursKind, ReminderSent, Volunteer, VolunteerHours
from tests.factories import (
    make_activity,
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_goal,
    make_practice,
    make_referral,
    make_resident,
    make_training_module,
    make_training_record,
    make_user,
)

CONTACT_NOTE = "Talked about getting back to the allotment"
SECOND_NOTE = "Met at the library café"
GOAL = "Join the Thursday walking group"
ACTIVITY = "Tuesday Tea Club"
BUDDY_NOTE = "Mrs Quartermaine told me about her son in Leeds"
HOURS_NOTE = "First aid refresher at the hub"
OTHER_NOTE = "Olwen is worried about her rent"


def ago(**kw):
    return utcnow() - timedelta(**kw)


@dataclass
class World:
    resident: Resident
    first: Referral
    second: Referral
    other: Resident
    other_referral: Referral
    navigator: User
    volunteer: Volunteer
    report: OutcomeReport


@pytest.fixture
def world(app) -> World:
    practice = make_practice()
    navigator = make_user(Role.NAVIGATOR, full_name="Nadia Navigator")
    coordinator = make_user(Role.COORDINATOR, full_name="Cora Coordinator")
    hub = workflow.Actor.of(coordinator)
    resident = make_resident(
        given_name="Zebedee",
        family_name="Quartermaine",
        phone="07700 900123",
        address="1 Orchard Row",
        practice_id=practice.id,
    )
    first = make_referral(
        resident=resident,
        practice=practice,
        reference="SP-ZQ1111",
        reasons=(ReferralReason.LONELINESS, ReferralReason.BEREAVEMENT),
        details="Lost his wife last spring",
        status=ReferralStatus.ACTIVE,
        received_at=ago(days=60),
        first_contact_at=ago(days=58),
        triaged_at=ago(days=57),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        navigator_id=navigator.id,
        assigned_at=ago(days=56),
        availability=["tue_morning"],
        access_needs=["step_free"],
        interests=["gardening"],
        wants_buddy=True,
    )
    second = make_referral(
        resident=resident,
        practice=practice,
        reference="SP-ZQ2222",
        status=ReferralStatus.ACTIVE,
        received_at=ago(days=20),
        navigator_id=navigator.id,
    )
    make_contact(first, navigator, days_ago=50, notes=CONTACT_NOTE)
    make_contact(second, navigator, days_ago=10, notes=SECOND_NOTE, method=ContactMethod.VENUE)
    make_goal(first, navigator, description=GOAL)
    make_goal(
        first,
        navigator,
        description="Sort out the boiler",
        status=GoalStatus.ACHIEVED,
        closed_on=date.today() - timedelta(days=5),
    )
    db.session.add(
        MeasureResponse(
            referral_id=first.id,
            scale=Scale.ONS4,
            stage=Stage.BASELINE,
            answers=[4, 5, 3, 7],
            score=None,
            recorded_by_id=navigator.id,
            recorded_at=ago(days=50),
        )
    )
    db.session.add(
        MeasureResponse(
            referral_id=first.id,
            scale=Scale.UCLA3,
            stage=Stage.BASELINE,
            answers=[3, 3, 2],
            score=8.0,
            recorded_by_id=navigator.id,
            recorded_at=ago(days=50),
        )
    )
    activity = make_activity(title=ACTIVITY)
    link = ActivityReferral(
        referral_id=first.id,
        activity_id=activity.id,
        status=ActivityReferralStatus.ACCEPTED,
        created_by_id=navigator.id,
        created_at=ago(days=40),
        sent_at=ago(days=40),
        consent_confirmed=True,
        person_name="Zebedee Quartermaine",
        shared_phone="07700 900123",
    )
    db.session.add(link)
    db.session.flush()
    db.session.add(
        ActivityAttendance(
            activity_referral_id=link.id,
            session_on=date.today() - timedelta(days=30),
            attended=True,
            recorded_by_id=navigator.id,
        )
    )
    volunteer = make_compliant_volunteer(
        user_kw={"full_name": "Bertram Buddyman"}, postcode="CV1 2AB"
    )
    make_buddy_match(second, volunteer, navigator)
    db.session.add(
        MatchDecision(
            referral_id=second.id,
            kind=MatchKind.BUDDY,
            candidate_id=volunteer.id,
            candidate_name="Bertram Buddyman",
            rank=1,
            score=0.82,
            reasons=["Both enjoy gardening"],
            eligible_count=3,
            chosen_by_id=navigator.id,
        )
    )
    db.session.add(
        Alert(
            user_id=volunteer.user_id,
            referral_id=second.id,
            kind=AlertKind.BUDDY_RESPONSE,
            message="Would you buddy Zebedee (SP-ZQ2222)?",
        )
    )
    db.session.add(
        Contact(
            referral_id=second.id,
            author_id=volunteer.user_id,
            occurred_at=ago(days=3),
            method=ContactMethod.ACCOMPANIED,
            duration_minutes=75,
            successful=True,
            result=ContactResult.SPOKE,
            notes=BUDDY_NOTE,
        )
    )
    db.session.add(
        VolunteerHours(
            volunteer_id=volunteer.id,
            worked_on=date.today() - timedelta(days=2),
            kind=HoursKind.TRAINING,
            minutes=90,
            notes=HOURS_NOTE,
        )
    )
    make_training_record(
        volunteer, make_training_module(name="Safeguarding adults"), trainer="Tess Trainer"
    )
    db.session.add(
        ReminderSent(
            volunteer_id=volunteer.id,
            subject="dbs",
            expires_on=date.today() + timedelta(days=60),
            threshold_days=60,
        )
    )
    db.session.add(
        Alert(
            user_id=navigator.id,
            referral_id=first.id,
            kind=AlertKind.CASE_ASSIGNED,
            message="Case SP-ZQ1111 was assigned to you",
        )
    )
    db.session.add(
        AuditEvent(
            actor_id=navigator.id,
            actor_role="navigator",
            action="viewed",
            object_type="case",
            object_id=str(first.id),
            occurred_at=ago(days=1),
        )
    )
    for actor, role, action, object_type, object_id in (
        (coordinator, "coordinator", "viewed", "volunteer", volunteer.id),
        (volunteer.user, "volunteer", "login", "user", volunteer.user_id),
        (volunteer.user, "volunteer", "created", "contact", 1),
    ):
        db.session.add(
            AuditEvent(
                actor_id=actor.id,
                actor_role=role,
                action=action,
                object_type=object_type,
                object_id=str(object_id),
                occurred_at=ago(hours=5),
                source_address="192.0.2.7",
            )
        )
    db.session.commit()
    workflow.close(first, hub, ClosureReason.GOALS_MET, "Goes to the walking group every week")

    # Someone else at the same practice, closed the same week: in the same outcome report.
    other = make_resident(given_name="Olwen", family_name="Otherperson", practice_id=practice.id)
    other_referral = make_referral(
        resident=other,
        practice=practice,
        reference="SP-OO3333",
        status=ReferralStatus.ACTIVE,
        received_at=ago(days=30),
        navigator_id=navigator.id,
        assigned_at=ago(days=29),
        route=Route.SOCIAL_NAVIGATION,
    )
    make_contact(other_referral, navigator, days_ago=5, notes=OTHER_NOTE)
    make_buddy_match(other_referral, volunteer, navigator)
    workflow.close(other_referral, hub, ClosureReason.MOVED_AWAY)
    db.session.commit()

    today = london_date(utcnow())
    report = delivery.claim(
        practice, Period(today - timedelta(days=7), today), now=utcnow() + timedelta(seconds=1)
    )
    assert report is not None and report.people == 2
    return World(
        resident=resident,
        first=first,
        second=second,
        other=other,
        other_referral=other_referral,
        navigator=navigator,
        volunteer=volunteer,
        report=report,
    )
