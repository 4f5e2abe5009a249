"""Views that show something from a person's record write an audit row, including the
matching panels and lists that had none (issue 10): who looked, at what, and when."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.extensions import db
from tests.cases.test_case_views import case_for, signed_in
from tests.factories import make_user, make_volunteer


def _rows(actor_id: int) -> list[tuple]:
    db.session.expire_all()
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.actor_id == actor_id)
            .order_by(AuditEvent.id)
        )
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/cases/{id}/suggestions/buddies", ("viewed", "buddy_suggestions")),
        ("/cases/{id}/suggestions/activities", ("viewed", "activity_suggestions")),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_suggestion_panels_are_audited_as_views_of_the_case(app, path, expected, htmx):
    navigator = make_user(Role.NAVIGATOR)
    referral = case_for(navigator)
    browser = signed_in(app, navigator)
    headers = {"HX-Request": "true"} if htmx else {}
    assert browser.get(path.format(id=referral.id), headers=headers).status_code == 200
    assert (*expected, str(referral.id)) in _rows(navigator.id)


def test_navigator_suggestions_at_triage_are_audited(app):
    coordinator = make_user(Role.COORDINATOR)
    referral = case_for(make_user(Role.NAVIGATOR))
    browser = signed_in(app, coordinator)
    answer = browser.get(f"/referrals/{referral.id}/suggestions/navigators")
    assert answer.status_code == 200
    assert ("viewed", "navigator_suggestions", str(referral.id)) in _rows(coordinator.id)


def test_the_buddy_batch_and_the_alerts_inbox_are_audited_as_lists(app):
    coordinator = make_user(Role.COORDINATOR)
    browser = signed_in(app, coordinator)
    assert browser.get("/matching/buddies").status_code == 200
    assert ("viewed_list", "buddy_batch", None) in _rows(coordinator.id)

    navigator = make_user(Role.NAVIGATOR)
    referral = case_for(navigator)
    db.session.add(
        Alert(
            user_id=navigator.id,
            referral_id=referral.id,
            kind=AlertKind.CASE_ASSIGNED,
            message="New case",
        )
    )
    db.session.commit()
    browser = signed_in(app, navigator)
    assert browser.get("/alerts").status_code == 200
    assert ("viewed_list", "alerts", str(navigator.id)) in _rows(navigator.id)


def test_a_volunteers_own_page_is_audited_as_a_view_of_their_buddies(app):
    volunteer = make_volunteer()
    browser = signed_in(app, volunteer.user)
    assert browser.get("/volunteering").status_code == 200
    assert ("viewed_list", "buddy_matches", str(volunteer.id)) in _rows(volunteer.user_id)
