"""A case's timeline: every source, who and when, newest first, nothing shown twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.cases import work
from portal.cases.models import Contact, ContactMethod, ContactResult, Goal
from portal.cases.records import CaseRecords
from portal.cases.timeline import case_timeline
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralStatus,
    Route,
)
from portal.referrals.workflow import Actor
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, Volunteer
from tests.factories import make_activity, make_referral

S = ReferralStatus


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def settle() -> None:
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def add(*objects) -> None:
    db.session.add_all(objects)
    db.session.commit()


def summary(entries) -> list[tuple]:
    return [(e.kind, e.title, e.who) for e in entries]


@pytest.fixture
def people(make_user):
    return {
        "navigator": make_user(Role.NAVIGATOR, full_name="Nadia Navigator"),
        "coordinator": make_user(Role.COORDINATOR, full_name="Cara Coordinator"),
        "volunteer": make_user(Role.VOLUNTEER, full_name="Val Volunteer"),
    }


def test_every_source_appears_newest_first_with_who_did_it(people):
    nav, hub, vol_user = people["navigator"], people["coordinator"], people["volunteer"]
    referral = make_referral(
        status=S.ACTIVE,
        received_at=ago(days=12),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        navigator_id=nav.id,
        assigned_at=ago(days=9),
    )
    activity = make_activity(title="Tuesday choir")
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == vol_user.id))
    rid = referral.id
    add(
        ReferralEvent(
            referral_id=rid,
            action=ReferralAction.RECEIVED,
            to_status=S.RECEIVED,
            actor_label="The person, using the online self-referral form",
            at=ago(days=12),
        ),
        Contact(
            referral_id=rid,
            author_id=hub.id,
            occurred_at=ago(days=11),
            method=ContactMethod.PHONE,
            result=ContactResult.NO_ANSWER,
            successful=False,
        ),
        ReferralEvent(
            referral_id=rid,
            action=ReferralAction.ASSIGNED,
            from_status=S.TRIAGED,
            to_status=S.ASSIGNED,
            actor_id=hub.id,
            actor_label="Cara Coordinator (Hub coordinator)",
            note="Nadia Navigator",
            at=ago(days=9),
        ),
        Contact(
            referral_id=rid,
            author_id=nav.id,
            occurred_at=ago(days=8),
            method=ContactMethod.HOME_VISIT,
            result=ContactResult.SPOKE,
            successful=True,
            duration_minutes=30,
            notes="Talked about the choir",
        ),
        Goal(
            referral_id=rid, description="Sing again", created_by_id=nav.id, created_at=ago(days=7)
        ),
        MeasureResponse(
            referral_id=rid,
            scale=Scale.UCLA3,
            stage=Stage.BASELINE,
            answers=[3, 3, 2],
            score=8.0,
            recorded_by_id=nav.id,
            recorded_at=ago(days=6),
        ),
        ActivityReferral(
            referral_id=rid,
            activity_id=activity.id,
            status=ActivityReferralStatus.DECLINED,
            decline_reason="The choir is full",
            created_by_id=nav.id,
            created_at=ago(days=5),
            respond_by=(ago(days=5) + timedelta(days=14)).date(),
            responded_at=ago(days=4, hours=12),
        ),
        BuddyMatch(
            referral_id=rid,
            volunteer_id=volunteer.id,
            proposed_by_id=hub.id,
            proposed_at=ago(days=4),
            status=BuddyMatchStatus.ENDED,
            ended_at=ago(hours=2),
            end_reason="Volunteer moved away",
        ),
        Contact(
            referral_id=rid,
            author_id=nav.id,
            occurred_at=ago(days=3),
            method=ContactMethod.PHONE,
            result=ContactResult.SPOKE,
            successful=True,
            concern_raised=True,
            safeguarding_note="Bruises on both arms",
        ),
        MeasureResponse(
            referral_id=rid,
            scale=Scale.SWEMWBS,
            stage=Stage.REVIEW,
            declined=True,
            recorded_by_id=nav.id,
            recorded_at=ago(days=2),
        ),
        ReferralEvent(
            referral_id=rid,
            action=ReferralAction.NOTE,
            actor_label="The portal",
            note="Check the NHS number",
            at=ago(days=1),
        ),
    )
    db.session.expire_all()

    entries = case_timeline(db.session.get(Referral, rid))

    nadia, cara = "Nadia Navigator (Navigator)", "Cara Coordinator (Hub coordinator)"
    org = activity.organisation.name
    assert summary(entries) == [
        ("history", "Note for the hub", "The portal"),
        ("measure", "Short Warwick-Edinburgh Mental Wellbeing Scale (review)", nadia),
        ("concern", "Phone: Spoke to the person", nadia),
        ("buddy", "Buddy Val Volunteer: ended", cara),
        ("activity", f"{org} declined the referral to Tuesday choir", org),
        ("activity", f"Referred to Tuesday choir ({org})", nadia),
        ("measure", "UCLA 3-item loneliness scale (baseline)", nadia),
        ("goal", "Goal set", nadia),
        ("contact", "Home visit: Spoke to the person, 30 minutes", nadia),
        ("status", "Navigator assigned: triaged → assigned", cara),
        ("attempt", "Phone: No answer", cara),
        ("status", "Referral received", "The person, using the online self-referral form"),
    ]
    times = [e.at for e in entries]
    assert times == sorted(times, reverse=True)
    assert abs(times[0] - ago(days=1)) < timedelta(minutes=1)
    assert abs(times[-1] - ago(days=12)) < timedelta(minutes=1)
    by_title = {e.title: e for e in entries}
    assert by_title["Note for the hub"].detail == "Check the NHS number"
    assert by_title["Short Warwick-Edinburgh Mental Wellbeing Scale (review)"].detail == (
        "The person chose not to answer"
    )
    assert by_title["Phone: Spoke to the person"].lines == [
        "Safeguarding concern: Bruises on both arms"
    ]
    assert by_title[f"{org} declined the referral to Tuesday choir"].detail == (
        "Reason given: The choir is full"
    )
    assert by_title["UCLA 3-item loneliness scale (baseline)"].lines == [
        "Loneliness (UCLA-3 score): 8 (lonely)"
    ]
    assert by_title["Buddy Val Volunteer: ended"].detail == "Volunteer moved away"
    assert by_title["Goal set"].detail == "Sing again"
    assert by_title["Home visit: Spoke to the person, 30 minutes"].detail == (
        "Talked about the choir"
    )
    assert by_title["Navigator assigned: triaged → assigned"].detail == "Nadia Navigator"

    # The case page passes the records it has read for its lists: the same timeline,
    # however those were read.
    db.session.expire_all()
    referral = db.session.get(Referral, rid)

    def plain(model):
        return db.session.scalars(sa.select(model).where(model.referral_id == rid)).all()

    records = CaseRecords(
        contacts=plain(Contact),
        goals=plain(Goal),
        responses=plain(MeasureResponse),
        activity_links=plain(ActivityReferral),
        buddy_matches=plain(BuddyMatch),
    )
    assert case_timeline(referral, records) == entries
    # ...and it tells only what it is given, without reading the records again.
    nothing = CaseRecords([], [], [], [], [])
    assert [e.kind for e in case_timeline(referral, nothing)] == ["history", "status", "status"]


def test_measure_lines_show_each_result_with_its_band(people):
    nav = people["navigator"]
    referral = make_referral(status=S.ACTIVE, navigator_id=nav.id, assigned_at=ago(days=3))
    add(
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.ONS4,
            stage=Stage.REVIEW,
            answers=[7, 6, 9, 2],
            recorded_by_id=nav.id,
        ),
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.SWEMWBS,
            stage=Stage.REVIEW,
            answers=[3] * 7,
            score=19.25,
            recorded_by_id=nav.id,
            recorded_at=ago(hours=1),
        ),
    )
    ons4, swemwbs = case_timeline(referral)
    assert ons4.lines == [
        "Life satisfaction: 7 (high)",
        "Worthwhile: 6 (medium)",
        "Happiness: 9 (very high)",
        "Anxiety: 2 (low)",
    ]
    assert swemwbs.lines == ["Mental wellbeing (SWEMWBS metric score): 19.25"]


def test_triage_attempts_are_shown_once_from_their_contact_rows(people):
    hub = Actor.of(people["coordinator"])
    referral = make_referral(status=S.RECEIVED, received_at=ago(days=5))
    settle()

    workflow.record_contact_attempt(
        referral,
        hub,
        occurred_at=ago(days=4),
        method=ContactMethod.PHONE,
        result=ContactResult.NO_ANSWER,
    )
    workflow.record_contact_attempt(
        referral,
        hub,
        occurred_at=ago(days=3),
        method=ContactMethod.TEXT,
        result=ContactResult.MESSAGE_SENT,
    )
    db.session.commit()
    settle()
    assert [e.action for e in referral.events] == [ReferralAction.CONTACT_ATTEMPT] * 2

    entries = case_timeline(referral)

    cara = "Cara Coordinator (Hub coordinator)"
    assert summary(entries) == [
        ("status", "Status changed: received → contacting", cara),
        ("attempt", "Text message: Letter, text or email sent", cara),
        ("attempt", "Phone: No answer", cara),
    ]
    assert entries[0].detail == "Phone: No answer"


def test_a_contact_edit_appears_with_its_changes(people):
    nav = people["navigator"]
    me = Actor.of(nav)
    referral = make_referral(
        status=S.ACTIVE,
        received_at=ago(days=5),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        navigator_id=nav.id,
        assigned_at=ago(days=4),
    )
    settle()
    when = ago(days=1).replace(second=0, microsecond=0)
    contact = work.log_contact(
        referral,
        me,
        work.ContactDetails(
            occurred_at=when,
            method=ContactMethod.PHONE,
            result=ContactResult.SPOKE,
            duration_minutes=15,
        ),
    )
    db.session.commit()
    settle()
    work.edit_contact(
        contact,
        me,
        work.ContactDetails(
            occurred_at=when,
            method=ContactMethod.PHONE,
            result=ContactResult.SPOKE,
            duration_minutes=25,
            notes="Forgot the notes",
        ),
        contact.version,
    )
    db.session.commit()
    settle()

    entries = case_timeline(referral)

    edited, contact_entry = entries
    assert edited.kind == "history"
    assert edited.title == "Contact record corrected"
    assert edited.who == "Nadia Navigator (Navigator)"
    assert edited.detail == f"Contact of {when:%d/%m/%Y %H:%M} UTC (Phone)"
    assert edited.changes == {"Minutes": [15, 25], "Notes": [None, "Forgot the notes"]}
    # The contact itself shows as it is now.
    assert contact_entry.title == "Phone: Spoke to the person, 25 minutes"
    assert contact_entry.detail == "Forgot the notes"
    assert contact_entry.at == when


def test_a_timeline_shows_only_its_own_case(people):
    nav = people["navigator"]
    mine = make_referral(status=S.ACTIVE, navigator_id=nav.id, assigned_at=ago(days=3))
    other = make_referral(status=S.ACTIVE, navigator_id=nav.id, assigned_at=ago(days=3))
    add(
        Contact(
            referral_id=other.id,
            author_id=nav.id,
            occurred_at=ago(days=1),
            method=ContactMethod.PHONE,
            result=ContactResult.SPOKE,
            successful=True,
        ),
        Goal(referral_id=other.id, description="Not mine", created_by_id=nav.id),
    )
    assert case_timeline(mine) == []
    assert len(case_timeline(other)) == 2


def test_handover_and_closure_titles(people, make_user):
    hub = Actor.of(people["coordinator"])
    nav = people["navigator"]
    other = make_user(Role.NAVIGATOR, full_name="Olu Other")
    referral = make_referral(
        status=S.ACTIVE,
        received_at=ago(days=5),
        first_contact_at=ago(days=4),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        navigator_id=nav.id,
        assigned_at=ago(days=4),
    )
    settle()
    workflow.assign(referral, hub, other)
    db.session.commit()
    settle()
    workflow.close(referral, hub, ClosureReason.DIED)
    db.session.commit()
    settle()

    entries = case_timeline(referral)

    assert [(e.kind, e.title, e.detail) for e in entries] == [
        ("status", "Referral closed: being supported → closed", "Died"),
        ("status", "Navigator assigned", "Olu Other (was Nadia Navigator)"),
    ]
