"""The vetting pipeline: status changes, references, DBS checks and training completions.

Every refusal names its form field and leaves the volunteer exactly as they were.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.referrals.models import Referral, ReferralStatus, Route
from portal.referrals.workflow import TransitionRefused
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    LeftReason,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)
from portal.volunteers.vetting import (
    DbsCheck,
    change_status,
    mask_certificate,
    record_dbs,
    record_references,
    record_training,
)
from tests.factories import (
    make_buddy_match,
    make_referral,
    make_training_module,
    make_volunteer,
)

S = VolunteerStatus
M = BuddyMatchStatus
TODAY = date.today()

ALLOWED = {
    (S.APPLIED, S.VETTING),
    (S.APPLIED, S.LEFT),
    (S.VETTING, S.ACTIVE),
    (S.VETTING, S.LEFT),
    (S.ACTIVE, S.PAUSED),
    (S.ACTIVE, S.LEFT),
    (S.PAUSED, S.ACTIVE),
    (S.PAUSED, S.LEFT),
    (S.LEFT, S.VETTING),
}


# --- helpers -------------------------------------------------------------------------------


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def ready(status: VolunteerStatus = S.VETTING, **kw) -> Volunteer:
    """A buddy with everything needed to become active: two references and an enhanced DBS."""
    fields = {
        "role_buddy": True,
        "applied_at": ago(days=90),
        "referee_1_name": "Ann Referee",
        "referee_2_name": "Bob Referee",
        "references_requested_on": TODAY - timedelta(days=80),
        "referee_1_received_on": TODAY - timedelta(days=70),
        "referee_2_received_on": TODAY - timedelta(days=60),
        "dbs_level": DbsLevel.ENHANCED,
        "dbs_certificate_number": "001234567890",
        "dbs_issue_date": TODAY - timedelta(days=50),
        **kw,
    }
    if status == S.LEFT:
        fields.setdefault("left_reason", LeftReason.MOVED)
    return make_volunteer(status, **fields)


def applicant(**kw) -> Volunteer:
    """Someone who applied 20 days ago and has nothing recorded yet."""
    fields = {
        "applied_at": ago(days=20),
        "referee_1_name": "Ann Referee",
        "referee_2_name": "Bob Referee",
        **kw,
    }
    return make_volunteer(S.VETTING, **fields)


def case(navigator=None) -> Referral:
    fields = {
        "status": ReferralStatus.ACTIVE,
        "received_at": ago(days=30),
        "first_contact_at": ago(days=29),
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 2,
        "triaged_at": ago(days=29),
    }
    if navigator is not None:
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=28))
    return make_referral(**fields)


def snapshot(volunteer: Volunteer) -> dict:
    fields = {a.key: getattr(volunteer, a.key) for a in sa.inspect(Volunteer).column_attrs}
    user = volunteer.user
    return {
        **fields,
        "user_active": user.is_active,
        "session_token": user.session_token,
        "pending": len(db.session.new) + len(db.session.dirty),
        "records": len(volunteer.training_records),
    }


@contextmanager
def refused(volunteer: Volunteer, field: str | None, says: str | None = None):
    """The step inside raises TransitionRefused for `field` and changes nothing."""
    db.session.commit()
    before = snapshot(volunteer)
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    if says is not None:
        assert caught.value.message == says
    assert snapshot(volunteer) == before


def alerts() -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.id)))


# --- which status can follow which ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "to"),
    [(a, b) for a in S for b in S],
    ids=[f"{a.value}-to-{b.value}" for a in S for b in S],
)
def test_status_changes_follow_next(app, coordinator, start, to):
    volunteer = ready(start)
    reason = LeftReason.MOVED if to == S.LEFT else None
    note = "Exams this month" if to == S.PAUSED else None
    if (start, to) in ALLOWED:
        change_status(volunteer, to, coordinator, TODAY, reason=reason, note=note)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Volunteer, volunteer.id).status == to
    else:
        message = f"A volunteer who is {start.label.lower()} cannot become {to.label.lower()}"
        with refused(volunteer, "status", says=message):
            change_status(volunteer, to, coordinator, TODAY, reason=reason, note=note)


def test_a_status_change_is_timestamped_and_keeps_the_note(app, coordinator):
    volunteer = ready(S.ACTIVE)
    started = utcnow()
    change_status(volunteer, S.PAUSED, coordinator, TODAY, note="Exams this month")
    db.session.commit()
    assert volunteer.status == S.PAUSED
    assert volunteer.status_note == "Exams this month"
    assert started <= volunteer.status_changed_at <= utcnow()


def test_leaving_needs_a_reason(app, coordinator):
    volunteer = ready(S.ACTIVE)
    with refused(volunteer, "left_reason", says="Choose why the volunteer is leaving"):
        change_status(volunteer, S.LEFT, coordinator, TODAY, note="Moving house")


@pytest.mark.parametrize("note", [None, ""])
def test_pausing_needs_a_note(app, coordinator, note):
    volunteer = ready(S.ACTIVE)
    with refused(volunteer, "note", says="Say why the volunteer is pausing"):
        change_status(volunteer, S.PAUSED, coordinator, TODAY, note=note)


# --- becoming active ------------------------------------------------------------------------


def test_becoming_active_lists_everything_missing(app, coordinator):
    volunteer = applicant()
    with refused(
        volunteer,
        "status",
        says=(
            "They cannot become active yet: both references must be received; "
            "record their enhanced DBS check"
        ),
    ):
        change_status(volunteer, S.ACTIVE, coordinator, TODAY)


def _activation_refusal(volunteer, coordinator) -> str:
    with refused(volunteer, "status") as caught:
        change_status(volunteer, S.ACTIVE, coordinator, TODAY)
    return caught.value.message


@pytest.mark.parametrize(
    "received",
    [
        {"referee_1_received_on": None},
        {"referee_2_received_on": None},
        {"referee_1_received_on": None, "referee_2_received_on": None},
    ],
)
def test_both_references_must_be_received(app, coordinator, received):
    volunteer = ready(**received)
    message = _activation_refusal(volunteer, coordinator)
    assert message == "They cannot become active yet: both references must be received"


def test_the_dbs_the_role_needs_must_be_recorded(app, coordinator):
    volunteer = ready(dbs_level=None, dbs_certificate_number=None, dbs_issue_date=None)
    message = _activation_refusal(volunteer, coordinator)
    assert message == "They cannot become active yet: record their enhanced DBS check"


def test_a_dbs_that_has_run_out_must_be_renewed(app, coordinator):
    volunteer = ready(dbs_issue_date=TODAY - timedelta(days=4 * 365))
    message = _activation_refusal(volunteer, coordinator)
    assert message == (
        "They cannot become active yet: their DBS check has run out: record the new one"
    )


@pytest.mark.parametrize("level", [DbsLevel.BASIC, DbsLevel.STANDARD])
def test_a_dbs_below_the_level_the_role_needs_is_not_enough(app, coordinator, level):
    # A buddy visits people at home: a basic or standard check is not the one they need.
    volunteer = ready(dbs_level=level)
    message = _activation_refusal(volunteer, coordinator)
    assert message == (
        f"They cannot become active yet: their DBS check is {level.label.lower()}; "
        "the role needs enhanced"
    )


def test_a_volunteer_with_no_role_cannot_become_active(app, coordinator):
    volunteer = ready(role_buddy=False)
    message = _activation_refusal(volunteer, coordinator)
    assert message == "They cannot become active yet: choose at least one volunteering role"


def test_a_telephone_befriender_needs_references_but_no_dbs(app, coordinator):
    volunteer = ready(
        role_buddy=False,
        role_befriender=True,
        dbs_level=None,
        dbs_certificate_number=None,
        dbs_issue_date=None,
    )
    change_status(volunteer, S.ACTIVE, coordinator, TODAY)
    db.session.commit()
    assert volunteer.status == S.ACTIVE


def test_coming_back_from_a_pause_is_checked_again(app, coordinator):
    volunteer = ready(S.PAUSED, dbs_issue_date=TODAY - timedelta(days=4 * 365))
    message = _activation_refusal(volunteer, coordinator)
    assert "their DBS check has run out" in message


def test_activation_sets_joined_on(app, coordinator):
    volunteer = ready()
    assert volunteer.joined_on is None
    day = date(2025, 4, 1)
    change_status(volunteer, S.ACTIVE, coordinator, day)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Volunteer, volunteer.id)
    assert (stored.status, stored.joined_on) == (S.ACTIVE, day)


def test_coming_back_from_a_pause_keeps_the_first_joined_on(app, coordinator):
    volunteer = ready(S.PAUSED, joined_on=date(2024, 2, 1))
    change_status(volunteer, S.ACTIVE, coordinator, TODAY)
    db.session.commit()
    assert volunteer.joined_on == date(2024, 2, 1)


# --- pausing and leaving --------------------------------------------------------------------


def _buddy_with_matches(navigator, make_user, coordinator):
    """An active buddy with an active match, a proposed one, and an active one with no navigator."""
    volunteer = ready(S.ACTIVE, joined_on=TODAY - timedelta(days=40))
    other_navigator = make_user(Role.NAVIGATOR)
    active = make_buddy_match(case(navigator), volunteer, navigator)
    proposed = make_buddy_match(
        case(other_navigator), volunteer, other_navigator, status=M.PROPOSED, responded_at=None
    )
    unassigned = make_buddy_match(case(None), volunteer, coordinator)
    declined = make_buddy_match(
        case(other_navigator), volunteer, other_navigator, status=M.DECLINED
    )
    return volunteer, active, proposed, unassigned, declined


def test_leaving_ends_matches_disables_the_login_and_tells_navigators(
    app, coordinator, navigator, make_user
):
    volunteer, active, proposed, unassigned, declined = _buddy_with_matches(
        navigator, make_user, coordinator
    )
    token = volunteer.user.session_token
    started = utcnow()

    change_status(
        volunteer, S.LEFT, coordinator, TODAY, reason=LeftReason.MOVED, note="Moved to Leeds"
    )
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Volunteer, volunteer.id)
    assert (stored.status, stored.left_reason, stored.status_note) == (
        S.LEFT,
        LeftReason.MOVED,
        "Moved to Leeds",
    )
    assert stored.user.is_active is False
    assert stored.user.session_token != token
    for match in (active, proposed, unassigned):
        match = db.session.get(BuddyMatch, match.id)
        assert match.status == M.ENDED
        assert match.end_reason == "The volunteer has left"
        assert match.ended_by_id == coordinator.id
        assert started <= match.ended_at <= utcnow()
    assert db.session.get(BuddyMatch, declined.id).status == M.DECLINED

    (alert,) = alerts()  # the proposal's navigator had nothing to lose; the third has no navigator
    assert alert.user_id == navigator.id
    assert alert.kind == AlertKind.BUDDY_RESPONSE
    assert alert.referral_id == active.referral_id
    referral = db.session.get(Referral, active.referral_id)
    assert alert.message == (
        f"{stored.user.full_name}, the buddy for {referral.reference}, has left volunteering."
    )


def test_pausing_tells_navigators_but_keeps_the_matches_and_the_login(
    app, coordinator, navigator, make_user
):
    volunteer, active, proposed, unassigned, _ = _buddy_with_matches(
        navigator, make_user, coordinator
    )
    token = volunteer.user.session_token

    change_status(volunteer, S.PAUSED, coordinator, TODAY, note="Exams")
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Volunteer, volunteer.id)
    assert stored.status == S.PAUSED
    assert (stored.user.is_active, stored.user.session_token) == (True, token)
    assert [db.session.get(BuddyMatch, m.id).status for m in (active, proposed, unassigned)] == [
        M.ACTIVE,
        M.PROPOSED,
        M.ACTIVE,
    ]
    (alert,) = alerts()
    assert alert.user_id == navigator.id
    assert alert.kind == AlertKind.BUDDY_RESPONSE
    assert alert.message.endswith("has paused volunteering.")


def test_a_refused_leave_ends_nothing(app, coordinator, navigator, make_user):
    volunteer, active, *_ = _buddy_with_matches(navigator, make_user, coordinator)
    with refused(volunteer, "left_reason"):
        change_status(volunteer, S.LEFT, coordinator, TODAY)
    assert db.session.get(BuddyMatch, active.id).status == M.ACTIVE
    assert alerts() == []


def test_rejoining_enables_the_login_again(app, coordinator):
    volunteer = ready(S.ACTIVE)
    change_status(volunteer, S.LEFT, coordinator, TODAY, reason=LeftReason.CARING)
    db.session.commit()
    assert volunteer.user.is_active is False

    change_status(volunteer, S.VETTING, coordinator, TODAY)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Volunteer, volunteer.id)
    assert stored.status == S.VETTING
    assert stored.left_reason is None
    assert stored.user.is_active is True


# --- references -----------------------------------------------------------------------------


def test_references_are_recorded(app):
    volunteer = applicant()
    asked, first, second = (TODAY - timedelta(days=d) for d in (15, 10, 0))
    record_references(volunteer, asked, (first, second), TODAY)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Volunteer, volunteer.id)
    assert (
        stored.references_requested_on,
        stored.referee_1_received_on,
        stored.referee_2_received_on,
    ) == (asked, first, second)


def test_references_can_be_cleared(app):
    volunteer = ready()
    record_references(volunteer, None, (None, None), TODAY)
    assert volunteer.references_requested_on is None
    assert (volunteer.referee_1_received_on, volunteer.referee_2_received_on) == (None, None)


@pytest.mark.parametrize("n", [1, 2])
def test_a_reference_received_in_the_future_is_refused(app, n):
    volunteer = applicant()
    received = [TODAY, TODAY]
    received[n - 1] = TODAY + timedelta(days=1)
    with refused(
        volunteer, f"received_{n}", says="The date a reference came cannot be in the future"
    ):
        record_references(volunteer, TODAY - timedelta(days=5), tuple(received), TODAY)


@pytest.mark.parametrize("n", [1, 2])
def test_a_reference_received_before_it_was_asked_for_is_refused(app, n):
    volunteer = applicant()
    asked = TODAY - timedelta(days=5)
    received = [asked, asked]
    received[n - 1] = asked - timedelta(days=1)
    with refused(
        volunteer, f"received_{n}", says="A reference cannot arrive before it was asked for"
    ):
        record_references(volunteer, asked, tuple(received), TODAY)


def test_references_asked_for_in_the_future_are_refused(app):
    volunteer = applicant()
    with refused(
        volunteer,
        "requested_on",
        says="The date references were asked for cannot be in the future",
    ):
        record_references(volunteer, TODAY + timedelta(days=1), (None, None), TODAY)


def test_references_asked_for_before_the_person_applied_are_refused(app):
    volunteer = applicant()  # applied 20 days ago
    with refused(
        volunteer, "requested_on", says="References cannot be asked for before the person applied"
    ):
        record_references(volunteer, TODAY - timedelta(days=21), (None, None), TODAY)


def test_references_asked_for_on_the_day_of_applying_are_fine(app):
    volunteer = applicant()
    record_references(volunteer, volunteer.joined_portal_on, (None, None), TODAY)
    assert volunteer.references_requested_on == volunteer.joined_portal_on


def test_a_reference_received_before_the_person_applied_is_refused(app):
    # Nothing about them can be dated before the day they applied, even when the date
    # the references were asked for was not recorded.
    volunteer = applicant()  # applied 20 days ago
    with refused(
        volunteer, "received_1", says="A reference cannot arrive before the person applied"
    ):
        record_references(volunteer, None, (TODAY - timedelta(days=100), None), TODAY)


def test_a_reference_needs_the_referees_name(app):
    volunteer = applicant(referee_2_name=None)
    with refused(
        volunteer,
        "received_2",
        says="Add referee 2's name before recording their reference",
    ):
        record_references(volunteer, None, (TODAY, TODAY), TODAY)


# --- DBS checks -----------------------------------------------------------------------------


def test_a_dbs_check_is_recorded_with_who_checked_it(app, coordinator):
    volunteer = applicant()
    started = utcnow()
    check = DbsCheck(DbsLevel.ENHANCED, " 0012 3456 7890 ", TODAY - timedelta(days=3), True)

    record_dbs(volunteer, check, coordinator, TODAY)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Volunteer, volunteer.id)
    assert stored.dbs_level == DbsLevel.ENHANCED
    assert stored.dbs_certificate_number == "001234567890"
    assert stored.dbs_issue_date == TODAY - timedelta(days=3)
    assert stored.dbs_update_service is True
    assert stored.dbs_checked_by_id == coordinator.id
    assert started <= stored.dbs_checked_at <= utcnow()


def test_a_dbs_issued_today_is_fine(app, coordinator):
    volunteer = applicant()
    record_dbs(
        volunteer, DbsCheck(DbsLevel.BASIC, "123456789012", TODAY, False), coordinator, TODAY
    )
    assert (volunteer.dbs_level, volunteer.dbs_issue_date) == (DbsLevel.BASIC, TODAY)
    assert volunteer.dbs_update_service is False


@pytest.mark.parametrize(
    "number",
    ["", "12345678901", "1234567890123", "12345678901a", "1234-5678-9012"],
)
def test_a_certificate_number_must_be_twelve_digits(app, coordinator, number):
    volunteer = applicant()
    with refused(
        volunteer,
        "certificate_number",
        says="Enter the 12-digit certificate number from the DBS certificate",
    ):
        record_dbs(volunteer, DbsCheck(DbsLevel.ENHANCED, number, TODAY, False), coordinator, TODAY)


FULLWIDTH_DIGITS = "123456789012".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
SUPERSCRIPT_DIGITS = "123456789012".translate(
    str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
)


@pytest.mark.parametrize(
    "number", [FULLWIDTH_DIGITS, SUPERSCRIPT_DIGITS], ids=["fullwidth", "superscript"]
)
def test_digits_that_are_not_ascii_are_refused_or_normalised(app, coordinator, number):
    # "²".isdigit() is true; the certificate number must end up as the 12 digits 0-9.
    volunteer = applicant()
    check = DbsCheck(DbsLevel.ENHANCED, number, TODAY, False)
    try:
        record_dbs(volunteer, check, coordinator, TODAY)
    except TransitionRefused as refusal:
        assert refusal.field == "certificate_number"
        assert volunteer.dbs_certificate_number is None
    else:
        assert volunteer.dbs_certificate_number == "123456789012"


def test_a_dbs_issued_in_the_future_is_refused(app, coordinator):
    volunteer = applicant()
    check = DbsCheck(DbsLevel.ENHANCED, "123456789012", TODAY + timedelta(days=1), False)
    with refused(volunteer, "issue_date", says="The issue date cannot be in the future"):
        record_dbs(volunteer, check, coordinator, TODAY)


def test_mask_certificate_shows_the_last_four_digits_only():
    assert mask_certificate("001234567890") == "••••••••7890"
    assert mask_certificate("") == ""
    assert mask_certificate(None) == ""


# --- training -------------------------------------------------------------------------------


def test_training_is_recorded(app, coordinator):
    module = make_training_module(name="Safeguarding adults")
    volunteer = applicant()
    day = TODAY - timedelta(days=2)

    record = record_training(
        volunteer, module, day, coordinator, TODAY, trainer="Pat", notes="Online"
    )
    db.session.add(record)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(TrainingRecord, record.id)
    assert (stored.volunteer_id, stored.module_id, stored.completed_on) == (
        volunteer.id,
        module.id,
        day,
    )
    assert (stored.trainer, stored.notes, stored.recorded_by_id) == (
        "Pat",
        "Online",
        coordinator.id,
    )


def test_training_on_the_day_of_applying_and_today_is_fine(app, coordinator):
    module = make_training_module()
    volunteer = applicant()
    for day in (volunteer.joined_portal_on, TODAY):
        record = record_training(volunteer, module, day, coordinator, TODAY)
        assert record.completed_on == day


def test_training_completed_before_the_volunteer_applied_is_refused(app, coordinator):
    module = make_training_module()
    volunteer = applicant()  # applied 20 days ago
    joined = volunteer.joined_portal_on
    with refused(
        volunteer,
        "completed_on",
        says=f"The completion date cannot be before they applied on {joined.day} {joined:%B %Y}",
    ):
        record_training(volunteer, module, joined - timedelta(days=1), coordinator, TODAY)


def test_the_day_of_applying_is_the_uk_day(app, coordinator):
    # 23:30 UTC on 1 July is 00:30 on 2 July in London: they applied on 2 July.
    module = make_training_module()
    volunteer = applicant(applied_at=local_to_utc(datetime(2025, 7, 2, 0, 30)))
    assert volunteer.joined_portal_on == date(2025, 7, 2)
    with refused(volunteer, "completed_on"):
        record_training(volunteer, module, date(2025, 7, 1), coordinator, date(2025, 8, 1))
    record = record_training(volunteer, module, date(2025, 7, 2), coordinator, date(2025, 8, 1))
    assert record.completed_on == date(2025, 7, 2)


def test_training_completed_in_the_future_is_refused(app, coordinator):
    module = make_training_module()
    volunteer = applicant()
    with refused(volunteer, "completed_on", says="The completion date cannot be in the future"):
        record_training(volunteer, module, TODAY + timedelta(days=1), coordinator, TODAY)


def test_training_for_an_inactive_module_is_refused(app, coordinator):
    module = make_training_module(is_active=False)
    volunteer = applicant()
    with refused(volunteer, "module_id", says="That course is no longer offered"):
        record_training(volunteer, module, TODAY, coordinator, TODAY)
