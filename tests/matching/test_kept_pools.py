"""Kept pools: a pool kept between requests is used only while nothing it was read from changed."""

from __future__ import annotations

from datetime import date

from portal.auth.models import Role
from portal.db_types import london_today
from portal.directory.models import ActivityStatus
from portal.matching import pools
from portal.volunteers.models import TrainingModule, VolunteerStatus
from tests import factories


def _one(pool, ident):
    return next(c for c in pool if c.id == ident)


def test_a_kept_buddy_pool_is_the_same_list_until_something_changes(app, db):
    volunteer = factories.make_compliant_volunteer(role_buddy=True)
    today = london_today()
    first = pools.buddy_pool(today)
    assert pools.buddy_pool(today) is first
    assert _one(first, volunteer.id).problems == ()

    volunteer.status = VolunteerStatus.PAUSED
    volunteer.status_note = "On holiday"
    db.session.commit()
    after = pools.buddy_pool(today)
    assert after is not first
    assert _one(after, volunteer.id).problems


def test_a_new_match_a_new_course_or_a_new_day_is_seen_at_once(app, db):
    volunteer = factories.make_compliant_volunteer(role_buddy=True)
    navigator = factories.make_user(Role.NAVIGATOR)
    referral = factories.make_referral(navigator_id=navigator.id)
    today = london_today()
    assert _one(pools.buddy_pool(today), volunteer.id).taken == 0

    factories.make_buddy_match(referral, volunteer, navigator)
    assert _one(pools.buddy_pool(today), volunteer.id).taken == 1

    db.session.add(TrainingModule(name="Safeguarding adults", required_for_buddy=True))
    db.session.commit()
    assert (
        "Training not done: Safeguarding adults"
        in _one(pools.buddy_pool(today), volunteer.id).problems
    )

    # A DBS check runs out with the calendar, not with a write: the day is in the key.
    later = pools.buddy_pool(date(today.year + 10, 1, 1))
    assert any("DBS" in p for p in _one(later, volunteer.id).problems)


def test_a_kept_activity_pool_sees_an_activity_paused(app, db):
    activity = factories.make_activity()
    assert _one(pools.activity_pool(), activity.id).open
    activity.status = ActivityStatus.PAUSED
    db.session.commit()
    assert not _one(pools.activity_pool(), activity.id).open
