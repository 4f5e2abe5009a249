"""An activity's life as a listing, and keeping listings fresh.

The default ACTIVITY_FRESHNESS_MONTHS is 6: on 31 August 2025 a listing last confirmed
before 28 February 2025 may be out of date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.directory import listings
from portal.directory.models import Activity, ActivityStatus
from portal.extensions import db
from portal.referrals.workflow import TransitionRefused
from tests.factories import make_activity, make_organisation, make_user

S = ActivityStatus
TODAY = date(2025, 8, 31)
CUTOFF = date(2025, 2, 28)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def body(message) -> str:
    return message.get_content().replace("\r\n", "\n")


def flag(app, today: date = TODAY) -> int:
    with app.test_request_context():
        return listings.flag_stale_activities(today)


def test_freshness_is_six_months_by_default(app):
    assert app.config["ACTIVITY_FRESHNESS_MONTHS"] == 6
    with app.test_request_context():
        assert listings.stale_before(TODAY) == CUTOFF


# --- status changes ---------------------------------------------------------------------------

ALLOWED = [
    (S.DRAFT, S.PUBLISHED),
    (S.DRAFT, S.ARCHIVED),
    (S.PUBLISHED, S.PAUSED),
    (S.PUBLISHED, S.ARCHIVED),
    (S.PAUSED, S.PUBLISHED),
    (S.PAUSED, S.ARCHIVED),
    (S.ARCHIVED, S.DRAFT),
]
REFUSED = [(old, new) for old in S for new in S if (old, new) not in ALLOWED]


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_allowed_status_changes(app, old, new):
    activity = make_activity(status=old)
    listings.change_status(activity, new, TODAY)
    db.session.commit()
    assert db.session.get(Activity, activity.id).status == new


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_refused_status_changes_leave_the_activity_alone(app, old, new):
    activity = make_activity(status=old, last_confirmed_on=date(2024, 1, 1))
    with pytest.raises(TransitionRefused) as refused:
        listings.change_status(activity, new, TODAY)
    assert refused.value.field == "status"
    assert old.label.lower() in refused.value.message
    assert activity.status == old
    assert activity.last_confirmed_on == date(2024, 1, 1)


def test_every_pair_of_statuses_is_covered():
    assert len(ALLOWED) + len(REFUSED) == len(S) ** 2
    assert (S.DRAFT, S.DRAFT) in REFUSED
    assert (S.ARCHIVED, S.PUBLISHED) in REFUSED
    assert (S.DRAFT, S.PAUSED) in REFUSED


@pytest.mark.parametrize("old", [S.DRAFT, S.PAUSED])
def test_an_unverified_organisation_publishing_is_refused(app, old):
    activity = make_activity(make_organisation(verified=False), status=old)
    with pytest.raises(TransitionRefused) as refused:
        listings.change_status(activity, S.PUBLISHED, TODAY)
    assert "not been verified" in refused.value.message
    assert refused.value.field == "status"
    assert activity.status == old
    assert activity.last_confirmed_on is None


def test_an_unverified_organisation_may_still_archive_and_restore_drafts(app):
    activity = make_activity(make_organisation(verified=False), status=S.DRAFT)
    listings.change_status(activity, S.ARCHIVED, TODAY)
    listings.change_status(activity, S.DRAFT, TODAY)
    assert activity.status == S.DRAFT


def test_publishing_confirms_the_listing(app):
    activity = make_activity(
        status=S.PAUSED, last_confirmed_on=date(2024, 1, 1), freshness_flagged_on=date(2024, 9, 1)
    )
    listings.change_status(activity, S.PUBLISHED, TODAY)
    db.session.commit()
    saved = db.session.get(Activity, activity.id)
    assert saved.last_confirmed_on == TODAY
    assert saved.freshness_flagged_on is None


def test_pausing_does_not_confirm(app):
    activity = make_activity(status=S.PUBLISHED, last_confirmed_on=date(2024, 1, 1))
    listings.change_status(activity, S.PAUSED, TODAY)
    assert activity.last_confirmed_on == date(2024, 1, 1)


def test_confirm_makes_a_listing_fresh_again(app):
    activity = make_activity(
        last_confirmed_on=date(2024, 1, 1), freshness_flagged_on=date(2024, 7, 2)
    )
    with app.test_request_context():
        assert listings.is_stale(activity, TODAY)
        listings.confirm(activity, TODAY)
        assert not listings.is_stale(activity, TODAY)
    assert activity.last_confirmed_on == TODAY
    assert activity.freshness_flagged_on is None


# --- months_before ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 8, 31), 6, date(2024, 2, 29)),  # leap year
        (date(2025, 8, 31), 6, date(2025, 2, 28)),
        (date(2025, 8, 30), 6, date(2025, 2, 28)),
        (date(2025, 8, 28), 6, date(2025, 2, 28)),
        (date(2025, 8, 27), 6, date(2025, 2, 27)),
        (date(2025, 3, 31), 1, date(2025, 2, 28)),
        (date(2025, 5, 31), 1, date(2025, 4, 30)),
        (date(2025, 1, 15), 1, date(2024, 12, 15)),  # across the year end
        (date(2025, 3, 31), 6, date(2024, 9, 30)),
        (date(2025, 6, 30), 6, date(2024, 12, 30)),
        (date(2024, 2, 29), 12, date(2023, 2, 28)),
        (date(2025, 7, 14), 0, date(2025, 7, 14)),
        (date(2025, 7, 14), 30, date(2023, 1, 14)),
    ],
)
def test_months_before(day, months, expected):
    assert listings.months_before(day, months) == expected


# --- staleness: Python and SQL agree ----------------------------------------------------------


def test_is_stale_at_the_cutoff(app):
    on_cutoff = make_activity(last_confirmed_on=CUTOFF)
    day_before = make_activity(last_confirmed_on=date(2025, 2, 27))
    never_confirmed_old = make_activity(last_confirmed_on=None, created_at=at(date(2025, 2, 27)))
    never_confirmed_new = make_activity(last_confirmed_on=None, created_at=at(CUTOFF))
    with app.test_request_context():
        assert not listings.is_stale(on_cutoff, TODAY)
        assert listings.is_stale(day_before, TODAY)
        assert listings.is_stale(never_confirmed_old, TODAY)
        assert not listings.is_stale(never_confirmed_new, TODAY)


def test_is_stale_and_stale_condition_agree(app):
    confirmed = [
        None,
        date(2024, 1, 1),
        date(2025, 2, 27),
        CUTOFF,
        date(2025, 3, 1),
        TODAY,
    ]
    created = [
        at(date(2023, 5, 5)),
        at(date(2025, 2, 27), 23),
        at(CUTOFF, 0),
        at(CUTOFF, 23),
        at(date(2025, 8, 1)),
    ]
    organisation = make_organisation()
    activities = [
        make_activity(organisation, last_confirmed_on=c, created_at=made)
        for c in confirmed
        for made in created
    ]
    db.session.expire_all()
    for today in (TODAY, date(2025, 9, 1), date(2026, 3, 1), date(2025, 3, 1)):
        with app.test_request_context():
            in_python = {a.id for a in activities if listings.is_stale(a, today)}
            in_sql = set(
                db.session.scalars(sa.select(Activity.id).where(listings.stale_condition(today)))
            )
        assert in_sql == in_python, today
    # The set is not trivially all or nothing.
    with app.test_request_context():
        stale_today = {a.id for a in activities if listings.is_stale(a, TODAY)}
    assert 0 < len(stale_today) < len(activities)


# --- flagging stale listings ------------------------------------------------------------------


def stale(organisation, title: str, **kw) -> Activity:
    return make_activity(organisation, title=title, last_confirmed_on=date(2024, 12, 1), **kw)


def test_each_organisation_is_emailed_once_with_its_stale_listings(app, smtp_server):
    walkers = make_organisation(name="Walkers", email="office@walkers.org")
    make_user(Role.ORGANISATION_MEMBER, organisation_id=walkers.id, email="pat@walkers.org")
    gardeners = make_organisation(name="Gardeners", email="hello@gardeners.org")
    b_walk = stale(walkers, "B walk")
    a_walk = stale(walkers, "A walk")
    fresh_walk = make_activity(walkers, title="Fresh walk", last_confirmed_on=date(2025, 8, 1))
    digging = stale(gardeners, "Digging")

    assert flag(app) == 3

    by_address = {m["To"]: m for m in smtp_server.messages}
    assert sorted(by_address) == ["hello@gardeners.org", "office@walkers.org", "pat@walkers.org"]
    walkers_body = body(by_address["pat@walkers.org"])
    assert by_address["pat@walkers.org"]["Subject"] == "Please check your activity listings"
    assert "- A walk\n- B walk" in walkers_body
    assert "Fresh walk" not in walkers_body and "Digging" not in walkers_body
    assert "6 months" in walkers_body
    assert "- Digging" in body(by_address["hello@gardeners.org"])
    assert "walk" not in body(by_address["hello@gardeners.org"])

    db.session.expire_all()
    for activity in (a_walk, b_walk, digging):
        assert db.session.get(Activity, activity.id).freshness_flagged_on == TODAY
    assert db.session.get(Activity, fresh_walk.id).freshness_flagged_on is None


def test_a_second_run_sends_nothing(app, smtp_server):
    stale(make_organisation(email="office@example.org"), "Walk")
    assert flag(app) == 1
    assert len(smtp_server.messages) == 1
    assert flag(app, date(2025, 9, 1)) == 0
    assert flag(app, date(2026, 8, 31)) == 0
    assert len(smtp_server.messages) == 1


def test_confirming_then_going_stale_again_flags_again(app, smtp_server):
    activity = stale(make_organisation(email="office@example.org"), "Walk")
    assert flag(app) == 1

    listings.confirm(db.session.get(Activity, activity.id), date(2025, 9, 1))
    db.session.commit()
    assert flag(app, date(2026, 3, 1)) == 0  # still fresh: confirmed 1 September 2025
    assert flag(app, date(2026, 3, 2)) == 1  # now six months and a day

    assert len(smtp_server.messages) == 2
    assert db.session.get(Activity, activity.id).freshness_flagged_on == date(2026, 3, 2)


def test_never_confirmed_listings_go_stale_from_when_they_were_made(app, smtp_server):
    organisation = make_organisation(email="office@example.org")
    old = make_activity(organisation, title="Old", created_at=at(date(2025, 1, 10)))
    make_activity(organisation, title="New", created_at=at(date(2025, 6, 10)))
    assert flag(app) == 1
    (message,) = smtp_server.messages
    assert "- Old" in body(message) and "New" not in body(message)
    assert db.session.get(Activity, old.id).freshness_flagged_on == TODAY


@pytest.mark.parametrize("status", [S.DRAFT, S.PAUSED, S.ARCHIVED])
def test_listings_not_published_are_never_flagged(app, smtp_server, status):
    activity = stale(make_organisation(email="office@example.org"), "Walk", status=status)
    assert flag(app) == 0
    assert smtp_server.messages == []
    assert db.session.get(Activity, activity.id).freshness_flagged_on is None
