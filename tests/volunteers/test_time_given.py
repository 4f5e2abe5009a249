"""What volunteers log: contacts with the people they buddy, and their other hours.

A concern alerts the navigator and every coordinator with the contact, in one transaction;
nobody logs more than 24 hours in a (UK) day; totals add both kinds of time.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases.models import Contact, ContactMethod, ContactResult
from portal.db_types import utcnow
from portal.extensions import db
from portal.form_fields import local_to_utc
from portal.referrals.models import Referral, ReferralStatus, Route
from portal.referrals.workflow import TransitionRefused
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, HoursKind, VolunteerHours
from portal.volunteers.time_given import (
    BuddyContact,
    Totals,
    log_buddy_contact,
    log_hours,
    minutes_on,
    month_and_year,
    totals,
)
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_referral,
    make_volunteer,
)

M = BuddyMatchStatus
TODAY = date.today()


# --- helpers -------------------------------------------------------------------------------


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def london(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return local_to_utc(datetime(day.year, day.month, day.day, hour, minute))


def case(navigator=None) -> Referral:
    fields = {
        "status": ReferralStatus.ACTIVE,
        "received_at": ago(days=60),
        "first_contact_at": ago(days=59),
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 2,
        "triaged_at": ago(days=59),
    }
    if navigator is not None:
        fields.update(navigator_id=navigator.id, assigned_at=ago(days=58))
    return make_referral(**fields)


def details(**kw) -> BuddyContact:
    return BuddyContact(
        **{
            "occurred_at": ago(hours=2),
            "method": ContactMethod.HOME_VISIT,
            "duration_minutes": 60,
            "notes": "Tea and a chat about the lunch club",
            "concern": None,
            "next_meeting_at": None,
            **kw,
        }
    )


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def hours(volunteer, day: date, minutes: int, kind: HoursKind = HoursKind.ADMIN) -> None:
    """Hours put straight into the table, as the dataset for a test."""
    db.session.add(
        VolunteerHours(volunteer_id=volunteer.id, worked_on=day, kind=kind, minutes=minutes)
    )
    db.session.commit()


@contextmanager
def refused(field: str, says: str | None = None):
    """TransitionRefused for `field`, and no contact, hours or alert saved."""
    db.session.commit()
    before = (count(Contact), count(VolunteerHours), count(Alert))
    with pytest.raises(TransitionRefused) as caught:
        yield caught
    assert caught.value.field == field
    if says is not None:
        assert caught.value.message == says
    db.session.flush()
    assert (count(Contact), count(VolunteerHours), count(Alert)) == before


@pytest.fixture
def volunteer():
    return make_compliant_volunteer()


@pytest.fixture
def referral(navigator) -> Referral:
    return case(navigator)


@pytest.fixture
def match(referral, volunteer, navigator) -> BuddyMatch:
    # Active since 20 days ago.
    return make_buddy_match(referral, volunteer, navigator)


# --- logging a contact ----------------------------------------------------------------------


def test_a_contact_is_saved_as_written_by_the_volunteer(app, match, volunteer, referral):
    when = ago(hours=3)
    next_meeting = utcnow() + timedelta(days=7)

    contact = log_buddy_contact(
        match,
        volunteer,
        details(occurred_at=when, duration_minutes=75, next_meeting_at=next_meeting),
    )
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Contact, contact.id)
    assert stored.author_id == volunteer.user_id
    assert stored.referral_id == referral.id
    assert stored.occurred_at == when
    assert (stored.method, stored.duration_minutes) == (ContactMethod.HOME_VISIT, 75)
    assert (stored.successful, stored.result) == (True, ContactResult.SPOKE)
    assert stored.notes == "Tea and a chat about the lunch club"
    assert (stored.concern_raised, stored.safeguarding_note) == (False, None)
    assert db.session.get(BuddyMatch, match.id).next_meeting_at == next_meeting
    assert count(Alert) == 0


def test_without_a_next_meeting_the_one_already_set_stays(app, match, volunteer):
    planned = utcnow() + timedelta(days=3)
    match.next_meeting_at = planned
    db.session.commit()
    log_buddy_contact(match, volunteer, details())
    db.session.commit()
    assert match.next_meeting_at == planned


def test_another_volunteers_match_is_not_found(app, match):
    other = make_compliant_volunteer()
    with pytest.raises(PermissionError):
        log_buddy_contact(match, other, details())
    db.session.flush()
    assert count(Contact) == 0


@pytest.mark.parametrize("status", [M.PROPOSED, M.DECLINED, M.ENDED])
def test_only_an_active_match_takes_contacts(app, referral, volunteer, navigator, status):
    match = make_buddy_match(
        referral,
        volunteer,
        navigator,
        status=status,
        ended_at=ago(days=1) if status == M.ENDED else None,
    )
    with pytest.raises(PermissionError):
        log_buddy_contact(match, volunteer, details())
    db.session.flush()
    assert count(Contact) == 0


@pytest.mark.parametrize("method", [ContactMethod.LETTER, ContactMethod.EMAIL])
def test_a_buddy_is_in_touch_in_person_or_by_phone_video_or_text(app, match, volunteer, method):
    with refused("method", says="Choose how you were in touch"):
        log_buddy_contact(match, volunteer, details(method=method))


def test_a_concern_alerts_the_navigator_and_every_active_coordinator(
    app, match, volunteer, referral, navigator, coordinator, make_user
):
    second = make_user(Role.COORDINATOR)
    make_user(Role.COORDINATOR, is_active=False)
    make_user(Role.NAVIGATOR)
    concern = "She said she has not eaten since Tuesday"

    contact = log_buddy_contact(match, volunteer, details(concern=concern))
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Contact, contact.id)
    assert (stored.concern_raised, stored.safeguarding_note) == (True, concern)
    saved = list(db.session.scalars(sa.select(Alert)))
    assert sorted(a.user_id for a in saved) == sorted([navigator.id, coordinator.id, second.id])
    message = (
        f"{volunteer.user.full_name}, buddy for {referral.resident.given_name} "
        f"({referral.reference}), raised a concern: {concern}"
    )
    for alert in saved:
        assert (alert.kind, alert.referral_id, alert.message) == (
            AlertKind.BUDDY_CONCERN,
            referral.id,
            message,
        )


def test_the_concern_and_its_alerts_are_one_transaction(app, match, volunteer, coordinator):
    log_buddy_contact(match, volunteer, details(concern="Fell on the stairs"))
    db.session.rollback()
    assert (count(Contact), count(Alert)) == (0, 0)


def test_a_concern_on_a_case_with_no_navigator_still_reaches_coordinators(
    app, volunteer, navigator, coordinator
):
    match = make_buddy_match(case(None), volunteer, navigator)
    log_buddy_contact(match, volunteer, details(concern="Fell on the stairs"))
    db.session.commit()
    assert [a.user_id for a in db.session.scalars(sa.select(Alert))] == [coordinator.id]


def test_a_contact_in_the_future_is_refused(app, match, volunteer):
    with refused("occurred_at", says="The date cannot be in the future"):
        log_buddy_contact(match, volunteer, details(occurred_at=utcnow() + timedelta(minutes=10)))


def test_a_clock_a_few_minutes_fast_is_allowed(app, match, volunteer):
    log_buddy_contact(match, volunteer, details(occurred_at=utcnow() + timedelta(minutes=3)))
    db.session.commit()
    assert count(Contact) == 1


def test_a_contact_long_before_the_match_started_is_refused(app, match, volunteer):
    # Accepted 20 days ago; a day's grace either side of midnight.
    with refused("occurred_at", says="The date cannot be before you started buddying this person"):
        log_buddy_contact(match, volunteer, details(occurred_at=ago(days=22)))
    log_buddy_contact(match, volunteer, details(occurred_at=ago(days=20, hours=12)))
    db.session.commit()
    assert count(Contact) == 1


@pytest.mark.parametrize("minutes", [0, -5, 721, 24 * 60])
def test_a_contact_needs_a_sensible_duration(app, match, volunteer, minutes):
    with refused("duration_minutes", says="Enter a number of minutes from 1 to 720 (12 hours)"):
        log_buddy_contact(match, volunteer, details(duration_minutes=minutes))


def test_a_contact_of_twelve_hours_is_the_longest_and_is_saved(app, match, volunteer):
    # The contacts table holds at most 12 hours a contact: the rule refuses more, so
    # nothing reaches the database that it would reject.
    with refused("duration_minutes"):
        log_buddy_contact(match, volunteer, details(occurred_at=ago(days=2), duration_minutes=780))
    log_buddy_contact(match, volunteer, details(occurred_at=ago(days=2), duration_minutes=720))
    db.session.commit()
    assert count(Contact, Contact.duration_minutes == 720) == 1


def test_the_next_meeting_must_be_after_the_contact(app, match, volunteer):
    when = ago(hours=5)
    with refused("next_meeting_at", says="The next meeting must be after this contact"):
        log_buddy_contact(
            match, volunteer, details(occurred_at=when, next_meeting_at=when - timedelta(hours=1))
        )
    assert match.next_meeting_at is None


# --- 24 hours in a day ----------------------------------------------------------------------


def test_contacts_and_hours_share_the_24_hours_of_a_day(app, match, volunteer):
    day = TODAY - timedelta(days=2)
    hours(volunteer, day, 23 * 60)
    with refused(
        "duration_minutes",
        says=(
            f"That makes more than 24 hours on {day.day} {day:%B %Y}: you have already "
            "logged 23 h that day, so at most 1 h more"
        ),
    ):
        log_buddy_contact(match, volunteer, details(occurred_at=london(day), duration_minutes=61))

    log_buddy_contact(match, volunteer, details(occurred_at=london(day), duration_minutes=60))
    db.session.commit()
    assert minutes_on(volunteer, day) == 24 * 60


def test_several_contacts_add_up(app, match, volunteer, referral):
    day = TODAY - timedelta(days=3)
    for hour in (8, 16):
        make_contact(
            referral,
            volunteer.user,
            occurred_at=london(day, hour),
            duration_minutes=700,
        )
    with refused("duration_minutes") as caught:
        log_buddy_contact(
            match, volunteer, details(occurred_at=london(day, 21), duration_minutes=41)
        )
    assert "you have already logged 23 h 20 min that day, so at most 40 min more" in (
        caught.value.message
    )
    log_buddy_contact(match, volunteer, details(occurred_at=london(day, 21), duration_minutes=40))
    db.session.commit()


def test_other_peoples_contacts_do_not_count(app, match, volunteer, referral, navigator):
    day = TODAY - timedelta(days=2)
    make_contact(referral, navigator, occurred_at=london(day, 9), duration_minutes=700)
    hours(volunteer, day, 23 * 60)
    other = make_volunteer()
    hours(other, day, 24 * 60)
    assert minutes_on(volunteer, day) == 23 * 60
    log_buddy_contact(match, volunteer, details(occurred_at=london(day), duration_minutes=60))
    db.session.commit()


def test_the_day_is_the_uk_day(app, match, volunteer):
    day = TODAY - timedelta(days=3)
    before = day - timedelta(days=1)
    hours(volunteer, before, 24 * 60)  # the day before is full

    # 00:30 in London belongs to `day`, even when it is still the day before in UTC.
    log_buddy_contact(
        match, volunteer, details(occurred_at=london(day, 0, 30), duration_minutes=30)
    )
    db.session.commit()
    with refused("duration_minutes"):
        log_buddy_contact(
            match, volunteer, details(occurred_at=london(before, 23, 30), duration_minutes=20)
        )
    assert minutes_on(volunteer, day) == 30


# --- logging other hours --------------------------------------------------------------------


def test_hours_are_logged(app, volunteer):
    day = TODAY - timedelta(days=1)
    entry = log_hours(volunteer, day, HoursKind.TRAVEL, 95, "Bus to the day centre", TODAY)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(VolunteerHours, entry.id)
    assert (stored.volunteer_id, stored.worked_on, stored.kind, stored.minutes, stored.notes) == (
        volunteer.id,
        day,
        HoursKind.TRAVEL,
        95,
        "Bus to the day centre",
    )


def test_a_whole_day_can_be_logged_on_an_empty_day(app, volunteer):
    log_hours(volunteer, TODAY, HoursKind.EVENT, 24 * 60, None, TODAY)
    db.session.commit()
    assert minutes_on(volunteer, TODAY) == 24 * 60


def test_hours_in_the_future_are_refused(app, volunteer):
    with refused("worked_on", says="The date cannot be in the future"):
        log_hours(volunteer, TODAY + timedelta(days=1), HoursKind.ADMIN, 30, None, TODAY)


def test_hours_before_applying_are_refused(app):
    volunteer = make_volunteer(applied_at=ago(days=10))
    joined = volunteer.joined_portal_on
    with refused("worked_on", says="The date cannot be before you applied to volunteer"):
        log_hours(volunteer, joined - timedelta(days=1), HoursKind.TRAINING, 60, None, TODAY)
    log_hours(volunteer, joined, HoursKind.TRAINING, 60, None, TODAY)
    db.session.commit()
    assert count(VolunteerHours) == 1


@pytest.mark.parametrize(
    ("minutes", "says"),
    [
        (0, "Enter the time you gave"),
        (24 * 60 + 1, "A day has only 24 hours: enter 24 or fewer"),
    ],
)
def test_hours_must_fit_in_a_day(app, volunteer, minutes, says):
    with refused("hours", says=says):
        log_hours(volunteer, TODAY, HoursKind.ADMIN, minutes, None, TODAY)


def test_hours_count_contacts_already_logged_that_day(app, volunteer, referral):
    day = TODAY - timedelta(days=1)
    make_contact(referral, volunteer.user, occurred_at=london(day, 10), duration_minutes=90)
    with refused(
        "hours",
        says=(
            f"That makes more than 24 hours on {day.day} {day:%B %Y}: you have already "
            "logged 1 h 30 min that day, so at most 22 h 30 min more"
        ),
    ):
        log_hours(volunteer, day, HoursKind.ADMIN, 22 * 60 + 31, None, TODAY)
    log_hours(volunteer, day, HoursKind.ADMIN, 22 * 60 + 30, None, TODAY)
    db.session.commit()
    with refused("hours", says=None) as caught:
        log_hours(volunteer, day, HoursKind.ADMIN, 1, None, TODAY)
    assert caught.value.message.endswith("so at most 0 min more")


# --- totals ---------------------------------------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def dataset(volunteer, referral, navigator):
    """Contacts and hours around 20 March 2025, some outside every range."""
    author = volunteer.user
    for when, minutes in [
        (utc(2024, 12, 31, 10), 30),  # last year
        (utc(2025, 1, 15, 10), 45),
        (utc(2025, 3, 1, 0, 30), 20),  # GMT: the first of the month in London too
        (utc(2025, 3, 20, 18), 60),  # "today"
        (utc(2025, 3, 21, 9), 15),  # "tomorrow"
    ]:
        make_contact(referral, author, occurred_at=when, duration_minutes=minutes)
    make_contact(referral, navigator, occurred_at=utc(2025, 3, 10, 10), duration_minutes=100)
    for day, minutes in [
        (date(2024, 12, 31), 300),
        (date(2025, 2, 28), 120),
        (date(2025, 3, 5), 90),
        (date(2025, 3, 20), 30),
        (date(2025, 3, 21), 600),
    ]:
        hours(volunteer, day, minutes)
    hours(make_volunteer(), date(2025, 3, 5), 300)
    return volunteer


def test_month_and_year_add_contacts_and_hours(app, dataset):
    month, year = month_and_year(dataset, date(2025, 3, 20))

    assert month == Totals(contact_minutes=80, other_minutes=120, contacts=2)
    assert (month.minutes, month.hours_text) == (200, "3 h 20 min")
    assert year == Totals(contact_minutes=125, other_minutes=240, contacts=3)
    assert (year.minutes, year.hours_text) == (365, "6 h 5 min")


def test_totals_run_up_to_but_not_including_the_end(app, dataset):
    assert totals(dataset, date(2025, 1, 1), date(2025, 3, 1)) == Totals(45, 120, 1)
    assert totals(dataset, date(2025, 3, 1), date(2025, 3, 2)) == Totals(20, 0, 1)
    assert totals(dataset, date(2025, 3, 21), date(2025, 3, 22)) == Totals(15, 600, 1)
    assert totals(dataset, date(2024, 1, 1), date(2026, 1, 1)) == Totals(170, 1140, 5)
    assert totals(dataset, date(2025, 4, 1), date(2025, 5, 1)) == Totals(0, 0, 0)


def test_totals_count_contacts_on_the_uk_day(app, volunteer, referral):
    # 00:30 on 1 July in London is 23:30 on 30 June in UTC.
    make_contact(
        referral,
        volunteer.user,
        occurred_at=london(date(2025, 7, 1), 0, 30),
        duration_minutes=25,
    )
    assert totals(volunteer, date(2025, 7, 1), date(2025, 8, 1)) == Totals(25, 0, 1)
    assert totals(volunteer, date(2025, 6, 1), date(2025, 7, 1)) == Totals(0, 0, 0)


def test_hours_text():
    assert Totals(0, 0, 0).hours_text == "0 min"
    assert Totals(45, 0, 1).hours_text == "45 min"
    assert Totals(60, 60, 1).hours_text == "2 h"
    assert Totals(61, 0, 1).hours_text == "1 h 1 min"
