"""Buddy matches: proposed by a navigator, accepted or declined by the volunteer, then ended.

Only a compliant volunteer with room for another person can be proposed, and the refusal
says why. Closing the person's case ends every current match.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.cases import work
from portal.db_types import utcnow
from portal.extensions import db
from portal.referrals.models import ClosureReason, Referral, ReferralStatus, Route
from portal.referrals.workflow import Actor, TransitionRefused
from portal.volunteers import buddying
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    Volunteer,
    VolunteerStatus,
)
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_referral,
    make_training_module,
)

RS = ReferralStatus
M = BuddyMatchStatus
TODAY = date.today()


# --- helpers -------------------------------------------------------------------------------


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def case(navigator=None, status: ReferralStatus = RS.ACTIVE, **kw) -> Referral:
    fields: dict = {"received_at": ago(days=30)}
    if status != RS.RECEIVED:
        fields["first_contact_at"] = ago(days=29)
    if status in (RS.TRIAGED, RS.ASSIGNED, RS.ACTIVE, RS.CLOSED):
        fields.update(route=Route.SOCIAL_NAVIGATION, support_level=2, triaged_at=ago(days=29))
    if status in (RS.ASSIGNED, RS.ACTIVE, RS.CLOSED) and navigator is not None:
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=28))
    if status == RS.CLOSED:
        fields.update(closed_at=ago(days=1), closure_reason=ClosureReason.MOVED_AWAY)
    return make_referral(status=status, **{**fields, **kw})


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def alerts() -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.id)))


def reread(match: BuddyMatch) -> BuddyMatch:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(BuddyMatch, match.id)


@contextmanager
def refused(field: str | None = None, says: str | None = None, contains: str | None = None):
    """The step inside raises TransitionRefused; no match or alert is added or changed."""
    db.session.commit()
    before = (
        count(BuddyMatch),
        count(Alert),
        sorted(db.session.execute(sa.select(BuddyMatch.id, BuddyMatch.status)).all()),
    )
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    if says is not None:
        assert caught.value.message == says
    if contains is not None:
        assert contains in caught.value.message
    db.session.flush()
    after = (
        count(BuddyMatch),
        count(Alert),
        sorted(db.session.execute(sa.select(BuddyMatch.id, BuddyMatch.status)).all()),
    )
    assert after == before


@pytest.fixture
def referral(navigator) -> Referral:
    return case(navigator)


@pytest.fixture
def volunteer() -> Volunteer:
    return make_compliant_volunteer()


def cannot_propose(volunteer: Volunteer, reasons: str) -> str:
    return f"{volunteer.user.full_name} cannot be proposed: {reasons}"


# --- proposing ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [RS.ASSIGNED, RS.ACTIVE])
def test_a_compliant_volunteer_is_proposed_for_a_case_being_worked(app, navigator, status):
    referral = case(navigator, status)
    volunteer = make_compliant_volunteer()
    started = utcnow()

    match = buddying.propose(referral, volunteer, navigator, TODAY)
    match = reread(match)

    assert (match.referral_id, match.volunteer_id) == (referral.id, volunteer.id)
    assert match.status == M.PROPOSED
    assert match.proposed_by_id == navigator.id
    assert started <= match.proposed_at <= utcnow()
    assert (match.responded_at, match.ended_at) == (None, None)


@pytest.mark.parametrize("status", [RS.RECEIVED, RS.CONTACTING, RS.TRIAGED, RS.CLOSED])
def test_no_buddy_for_a_case_not_being_worked(app, navigator, volunteer, status):
    referral = case(navigator, status)
    with refused(says="A buddy can only be proposed for a case being worked"):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_a_volunteer_whose_dbs_ran_out_is_refused_with_the_reason(app, navigator, referral):
    # Issued on 15 January four years ago: it ran out on 15 January last year.
    volunteer = make_compliant_volunteer(dbs_issue_date=date(TODAY.year - 4, 1, 15))
    with refused(
        "volunteer_id",
        says=cannot_propose(volunteer, f"Their DBS check ran out on 15 January {TODAY.year - 1}"),
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


@pytest.mark.parametrize("status", [VolunteerStatus.PAUSED, VolunteerStatus.VETTING])
def test_a_volunteer_who_is_not_active_is_refused(app, navigator, referral, status):
    volunteer = make_compliant_volunteer(status=status)
    with refused(
        "volunteer_id",
        says=cannot_propose(volunteer, f"Their status is {status.label.lower()}, not active"),
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_a_volunteer_missing_training_is_refused(app, navigator, referral, volunteer):
    make_training_module(name="Lone working")
    with refused("volunteer_id", says=cannot_propose(volunteer, "Training not done: Lone working")):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_every_reason_is_listed(app, navigator, referral):
    volunteer = make_compliant_volunteer(status=VolunteerStatus.PAUSED, dbs_level=DbsLevel.BASIC)
    make_training_module(name="Lone working")
    with refused(
        "volunteer_id",
        says=cannot_propose(
            volunteer,
            "Their status is paused, not active; "
            "Their DBS check is basic; the role needs enhanced; "
            "Training not done: Lone working",
        ),
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_a_volunteer_who_is_neither_buddy_nor_befriender_is_refused(app, navigator, referral):
    volunteer = make_compliant_volunteer(role_buddy=False, role_navigator=True)
    with refused(
        "volunteer_id",
        says=cannot_propose(volunteer, "They are not a buddy or telephone befriender"),
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_a_telephone_befriender_needs_no_dbs_to_be_proposed(app, navigator, referral):
    volunteer = make_compliant_volunteer(
        role_buddy=False,
        role_befriender=True,
        dbs_level=None,
        dbs_certificate_number=None,
        dbs_issue_date=None,
    )
    match = buddying.propose(referral, volunteer, navigator, TODAY)
    assert reread(match).status == M.PROPOSED


@pytest.mark.parametrize(
    ("held", "max_buddies"),
    [((M.PROPOSED,), 1), ((M.ACTIVE,), 1), ((M.PROPOSED, M.ACTIVE), 2), ((), 0)],
)
def test_a_volunteer_at_capacity_is_refused(app, navigator, referral, held, max_buddies):
    volunteer = make_compliant_volunteer(max_buddies=max_buddies)
    for status in held:
        make_buddy_match(case(navigator), volunteer, navigator, status=status)
    with refused(
        "volunteer_id",
        says=cannot_propose(volunteer, f"They already have {len(held)} of {max_buddies} people"),
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_declined_and_ended_matches_leave_room(app, navigator, referral):
    volunteer = make_compliant_volunteer(max_buddies=1)
    make_buddy_match(case(navigator), volunteer, navigator, status=M.DECLINED)
    make_buddy_match(case(navigator), volunteer, navigator, status=M.ENDED, ended_at=ago(days=2))
    match = buddying.propose(referral, volunteer, navigator, TODAY)
    assert reread(match).status == M.PROPOSED


def test_room_is_counted_for_this_volunteer_only(app, navigator, referral):
    volunteer = make_compliant_volunteer(max_buddies=1)
    busy = make_compliant_volunteer(max_buddies=1)
    make_buddy_match(case(navigator), busy, navigator)
    assert reread(buddying.propose(referral, volunteer, navigator, TODAY)).status == M.PROPOSED


@pytest.mark.parametrize("status", [M.PROPOSED, M.ACTIVE])
def test_a_volunteer_already_proposed_or_buddying_this_person_is_refused(
    app, navigator, referral, volunteer, status
):
    make_buddy_match(referral, volunteer, navigator, status=status)
    with refused(
        "volunteer_id",
        says=f"{volunteer.user.full_name} is already proposed or buddying this person",
    ):
        buddying.propose(referral, volunteer, navigator, TODAY)


def test_a_volunteer_who_declined_can_be_asked_again(app, navigator, referral, volunteer):
    make_buddy_match(referral, volunteer, navigator, status=M.DECLINED)
    match = buddying.propose(referral, volunteer, navigator, TODAY)
    assert reread(match).status == M.PROPOSED
    assert count(BuddyMatch, BuddyMatch.referral_id == referral.id) == 2


# --- accepting and declining ----------------------------------------------------------------


@pytest.fixture
def proposal(referral, volunteer, navigator) -> BuddyMatch:
    return make_buddy_match(
        referral,
        volunteer,
        navigator,
        status=M.PROPOSED,
        responded_at=None,
        proposed_at=ago(days=1),
    )


def test_the_volunteer_accepts_and_the_navigator_is_told(
    app, proposal, volunteer, referral, navigator
):
    started = utcnow()
    buddying.accept(proposal, volunteer, TODAY)
    match = reread(proposal)

    assert match.status == M.ACTIVE
    assert started <= match.responded_at <= utcnow()
    (alert,) = alerts()
    assert (alert.user_id, alert.kind, alert.referral_id) == (
        navigator.id,
        AlertKind.BUDDY_RESPONSE,
        referral.id,
    )
    assert alert.message == (
        f"{volunteer.user.full_name} agreed to buddy "
        f"{referral.resident.given_name} ({referral.reference})."
    )


def test_only_the_matchs_own_volunteer_may_accept_or_decline(app, proposal):
    other = make_compliant_volunteer()
    with refused(says="This is not your match"):
        buddying.accept(proposal, other, TODAY)
    with refused(says="This is not your match"):
        buddying.decline(proposal, other, "Busy")
    assert reread(proposal).status == M.PROPOSED


@pytest.mark.parametrize("status", [M.ACTIVE, M.DECLINED, M.ENDED])
def test_only_a_proposal_can_be_answered(app, referral, volunteer, navigator, status):
    match = make_buddy_match(
        referral,
        volunteer,
        navigator,
        status=status,
        ended_at=ago(days=1) if status == M.ENDED else None,
    )
    says = "This proposal has already been answered or withdrawn"
    with refused(says=says):
        buddying.accept(match, volunteer, TODAY)
    with refused(says=says):
        buddying.decline(match, volunteer, "No")
    assert reread(match).status == status


def test_accepting_checks_capacity_again(app, navigator, proposal, volunteer):
    # Between the proposal and the answer the volunteer took on someone else.
    volunteer.max_buddies = 1
    make_buddy_match(case(navigator), volunteer, navigator, status=M.ACTIVE)
    with refused(
        says=(
            "You cannot take this on at the moment (They already have 1 of 1 people). "
            f"Please call the hub on {app.config['HUB_PHONE']}."
        )
    ):
        buddying.accept(proposal, volunteer, TODAY)
    assert reread(proposal).status == M.PROPOSED


def test_other_proposals_do_not_count_against_accepting(app, navigator, proposal, volunteer):
    # Capacity 2: this proposal and another one are both waiting; accepting one is fine.
    make_buddy_match(case(navigator), volunteer, navigator, status=M.PROPOSED)
    buddying.accept(proposal, volunteer, TODAY)
    assert reread(proposal).status == M.ACTIVE


def test_accepting_checks_compliance_again(app, proposal, volunteer):
    make_training_module(name="Lone working")
    with refused(contains="(Training not done: Lone working)"):
        buddying.accept(proposal, volunteer, TODAY)


def test_declining_stores_the_reason_and_tells_the_navigator(
    app, proposal, volunteer, referral, navigator
):
    started = utcnow()
    buddying.decline(proposal, volunteer, "I live too far away")
    match = reread(proposal)

    assert match.status == M.DECLINED
    assert match.decline_reason == "I live too far away"
    assert started <= match.responded_at <= utcnow()
    assert match.ended_at is None
    (alert,) = alerts()
    assert (alert.user_id, alert.kind, alert.referral_id) == (
        navigator.id,
        AlertKind.BUDDY_RESPONSE,
        referral.id,
    )
    assert alert.message == (
        f"{volunteer.user.full_name} cannot buddy: I live too far away. Please propose "
        f"someone else for {referral.resident.given_name} ({referral.reference})."
    )


def test_declining_without_a_reason(app, proposal, volunteer, referral):
    buddying.decline(proposal, volunteer, None)
    match = reread(proposal)
    assert (match.status, match.decline_reason) == (M.DECLINED, None)
    (alert,) = alerts()
    assert alert.message.startswith(
        f"{volunteer.user.full_name} cannot buddy. Please propose someone else for"
    )


def test_an_answer_on_a_case_with_no_navigator_alerts_nobody(app, volunteer, navigator):
    referral = case(None)
    match = make_buddy_match(referral, volunteer, navigator, status=M.PROPOSED)
    buddying.decline(match, volunteer, "Busy")
    assert reread(match).status == M.DECLINED
    assert alerts() == []


# --- ending ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [M.PROPOSED, M.ACTIVE])
def test_ending_a_match_records_who_when_and_why(app, referral, volunteer, navigator, status):
    match = make_buddy_match(referral, volunteer, navigator, status=status)
    started = utcnow()
    buddying.end(match, navigator, "The person moved to a care home")
    match = reread(match)
    assert match.status == M.ENDED
    assert match.end_reason == "The person moved to a care home"
    assert match.ended_by_id == navigator.id
    assert started <= match.ended_at <= utcnow()


@pytest.mark.parametrize("reason", [None, ""])
def test_ending_needs_a_reason(app, referral, volunteer, navigator, reason):
    match = make_buddy_match(referral, volunteer, navigator)
    with refused("reason", says="Say why the match is ending"):
        buddying.end(match, navigator, reason)
    assert reread(match).status == M.ACTIVE


@pytest.mark.parametrize("status", [M.ENDED, M.DECLINED])
def test_a_match_that_is_over_cannot_end_again(app, referral, volunteer, navigator, status):
    match = make_buddy_match(referral, volunteer, navigator, status=status, ended_at=ago(days=1))
    with refused(says="This match has already ended"):
        buddying.end(match, navigator, "Again")


def test_a_long_end_reason_is_cut_to_fit(app, referral, volunteer, navigator):
    match = make_buddy_match(referral, volunteer, navigator)
    buddying.end(match, None, "x" * 500)
    match = reread(match)
    assert match.end_reason == "x" * 200
    assert match.ended_by_id is None


# --- closing the person's case --------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "summary", "declined"),
    [
        (ClosureReason.MOVED_AWAY, None, False),
        (ClosureReason.GOALS_MET, "Goes to the lunch club every week", True),
    ],
    ids=["no-closing-measures-needed", "closing-measures-declined"],
)
def test_closing_the_case_ends_its_current_matches(app, navigator, reason, summary, declined):
    referral = case(navigator, RS.ACTIVE)
    other_case = case(navigator, RS.ACTIVE)
    buddy, proposed, said_no, elsewhere = (make_compliant_volunteer() for _ in range(4))
    active = make_buddy_match(referral, buddy, navigator)
    waiting = make_buddy_match(referral, proposed, navigator, status=M.PROPOSED)
    declined_match = make_buddy_match(referral, said_no, navigator, status=M.DECLINED)
    other = make_buddy_match(other_case, elsewhere, navigator)
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    started = utcnow()

    work.close_case(
        referral, Actor.of(navigator), reason, summary, closing_measures_declined=declined
    )
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(Referral, referral.id).status == RS.CLOSED
    for match in (active, waiting):
        match = db.session.get(BuddyMatch, match.id)
        assert match.status == M.ENDED
        assert match.end_reason == "The person's support has ended"
        assert match.ended_by_id == navigator.id
        assert started <= match.ended_at <= utcnow()
    assert db.session.get(BuddyMatch, declined_match.id).status == M.DECLINED
    assert db.session.get(BuddyMatch, other.id).status == M.ACTIVE


def test_a_refused_close_ends_no_match(app, navigator):
    referral = case(navigator, RS.ACTIVE)
    match = make_buddy_match(referral, make_compliant_volunteer(), navigator)
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    with pytest.raises(TransitionRefused):
        # Goals met without closing measures or the tick that they were declined.
        work.close_case(referral, Actor.of(navigator), ClosureReason.GOALS_MET, "Done")
    db.session.rollback()
    assert db.session.get(BuddyMatch, match.id).status == M.ACTIVE


def test_a_coordinator_closing_the_case_is_recorded_as_ending_the_match(
    app, navigator, coordinator
):
    referral = case(navigator, RS.ASSIGNED)
    match = make_buddy_match(referral, make_compliant_volunteer(), navigator)
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    work.close_case(referral, Actor.of(coordinator), ClosureReason.DIED, None)
    match = reread(match)
    assert (match.status, match.ended_by_id) == (M.ENDED, coordinator.id)
