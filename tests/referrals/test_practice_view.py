"""What a GP practice sees: its own referrals, their progress, never the hub's case notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.form_fields import utc_to_local_input
from portal.referrals.models import (
    ClosureReason,
    Practice,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralStatus,
)
from tests.factories import PASSWORD, make_practice, make_referral, make_resident
from tests.statements import statements_of, statements_sent


def person(**kw):
    # No NHS number: the factory's numbers can repeat between residents in one test.
    return make_resident(**{"nhs_number": None, **kw})


def signed_in(app, user):
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def closed_referral(practice: Practice) -> Referral:
    return make_referral(
        practice=practice,
        resident=person(given_name="Finished"),
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.MOVED_AWAY,
    )


def event_count(db, referral: Referral) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
    )


@pytest.fixture
def own_practice(app, practice_user, db) -> Practice:
    return db.session.get(Practice, practice_user.practice_id)


@pytest.fixture
def own_referral(own_practice) -> Referral:
    return make_referral(
        practice=own_practice,
        resident=person(given_name="Ours"),
        received_at=utcnow() - timedelta(days=2),
    )


@pytest.fixture
def other_referral() -> Referral:
    return make_referral(practice=make_practice(), resident=person(given_name="Theirs"))


def test_practice_sees_only_its_own_referrals(
    logged_in_practice_user, own_practice, own_referral, other_referral
):
    closed = closed_referral(own_practice)
    page = logged_in_practice_user.get("/practice/referrals").text

    assert own_referral.reference in page and "Ours" in page
    assert closed.reference in page and "Moved away" in page
    assert other_referral.reference not in page and "Theirs" not in page
    assert "2 referrals, newest first" in page


def test_the_list_sends_as_many_statements_for_many_referrals_as_for_one(
    app, logged_in_practice_user, own_practice, own_referral
):
    """Each referral, and the person it is for, is drawn from what the list read, not read
    again after the view's audit: more referrals must not mean more queries."""
    logged_in_practice_user.get("/practice/referrals")
    one_referral = statements_of(app, logged_in_practice_user, "/practice/referrals")

    rows = {own_referral.reference: "Ours"}
    for n, (given, status) in enumerate(
        (
            ("Triaged", ReferralStatus.TRIAGED),
            ("Supported", ReferralStatus.ACTIVE),
            ("Contacting", ReferralStatus.CONTACTING),
        )
    ):
        referral = make_referral(
            practice=own_practice,
            resident=person(given_name=given),
            status=status,
            received_at=utcnow() - timedelta(days=3 + n),
        )
        rows[referral.reference] = given
    closed = closed_referral(own_practice)
    rows[closed.reference] = "Finished"
    many_referrals = statements_of(app, logged_in_practice_user, "/practice/referrals")

    assert many_referrals == one_referral
    page = logged_in_practice_user.get("/practice/referrals").text
    assert "5 referrals, newest first" in page
    for reference, given in rows.items():
        row = page[page.index(reference) :]
        assert f"Patient </span>{given} " in row[: row.index("</tr>")]
    assert "Moved away" in page


def test_the_referral_page_reads_nothing_twice(app, practice_user, own_referral):
    """The referral checked for access is the one the page shows, not read again after the
    view is recorded."""
    browser = signed_in(app, practice_user)

    sent = statements_sent(app, browser, f"/practice/referrals/{own_referral.id}")

    assert [s for s in sent if sent.count(s) > 1] == []
    assert any("FROM referrals" in s for s in sent)


def test_another_practices_referral_is_not_found(
    logged_in_practice_user, own_referral, other_referral
):
    assert logged_in_practice_user.get(f"/practice/referrals/{own_referral.id}").status_code == 200
    response = logged_in_practice_user.get(f"/practice/referrals/{other_referral.id}")
    assert response.status_code == 404
    assert "Theirs" not in response.text and other_referral.reference not in response.text


def test_information_for_another_practices_referral_is_not_found_and_not_saved(
    logged_in_practice_user, other_referral, db
):
    before = event_count(db, other_referral)

    response = logged_in_practice_user.post(
        f"/practice/referrals/{other_referral.id}/information", data={"text": "Sneaky note"}
    )

    assert response.status_code == 404
    assert event_count(db, other_referral) == before


def test_information_added_by_the_practice_reaches_the_hub(
    app, logged_in_practice_user, practice_user, coordinator, own_referral, db
):
    path = f"/practice/referrals/{own_referral.id}"

    response = logged_in_practice_user.post(
        f"{path}/information", data={"text": "New mobile number: 07700 900 777"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == path
    db.session.expire_all()
    event = db.session.scalars(
        sa.select(ReferralEvent).where(
            ReferralEvent.referral_id == own_referral.id,
            ReferralEvent.action == ReferralAction.INFORMATION_ADDED,
        )
    ).one()
    assert event.note == "New mobile number: 07700 900 777"
    assert event.actor_id == practice_user.id
    practice_page = logged_in_practice_user.get(path).text
    assert "New mobile number: 07700 900 777" in practice_page
    hub_page = signed_in(app, coordinator).get(f"/referrals/{own_referral.id}").text
    assert "Information added by the practice" in hub_page
    assert "New mobile number: 07700 900 777" in hub_page


def test_empty_information_is_refused(logged_in_practice_user, own_referral, db):
    before = event_count(db, own_referral)
    response = logged_in_practice_user.post(
        f"/practice/referrals/{own_referral.id}/information", data={"text": "   "}
    )
    assert response.status_code == 400
    assert "Enter the information to add" in response.text
    assert event_count(db, own_referral) == before


def test_information_for_a_closed_referral_is_refused(logged_in_practice_user, own_practice, db):
    closed = make_referral(
        practice=own_practice,
        resident=person(),
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.DECLINED,
    )
    page = logged_in_practice_user.get(f"/practice/referrals/{closed.id}").text
    assert f"/practice/referrals/{closed.id}/information" not in page  # no form offered
    before = event_count(db, closed)

    response = logged_in_practice_user.post(
        f"/practice/referrals/{closed.id}/information", data={"text": "Too late"}
    )

    assert response.status_code == 409
    assert 'href="#text"' not in response.text
    assert "This referral is closed, so it cannot be changed" in response.text
    assert event_count(db, closed) == before


def test_practice_page_never_shows_the_hubs_contact_notes(
    app, logged_in_practice_user, coordinator, own_referral
):
    hub = signed_in(app, coordinator)
    attempt = hub.post(
        f"/referrals/{own_referral.id}/attempts",
        data={
            "occurred_at": utc_to_local_input(utcnow() - timedelta(hours=1)),
            "method": "phone",
            "result": "no_answer",
            "notes": "private hub note",
        },
    )
    assert attempt.status_code == 302
    assert "private hub note" in hub.get(f"/referrals/{own_referral.id}").text

    page = logged_in_practice_user.get(f"/practice/referrals/{own_referral.id}").text

    assert "private hub note" not in page
    assert "Contact attempt recorded" not in page
    assert "Contacting" in page  # where the referral has got to is shown


@pytest.mark.parametrize("role", [Role.NAVIGATOR, Role.VOLUNTEER, Role.PRACTICE_USER])
def test_other_roles_cannot_open_the_hubs_referral_page(
    client, make_user, login, own_referral, role
):
    user = (
        make_user(role, practice_id=own_referral.practice_id)
        if role == Role.PRACTICE_USER
        else make_user(role)
    )
    login(user)
    response = client.get(f"/referrals/{own_referral.id}")
    assert response.status_code == 403
    assert "Ours" not in response.text and own_referral.reference not in response.text


@pytest.mark.parametrize("action", ["attempts", "triage", "close", "edit"])
def test_practice_user_cannot_act_on_a_referral_as_the_hub(
    logged_in_practice_user, own_referral, db, action
):
    before = event_count(db, own_referral)
    response = logged_in_practice_user.post(
        f"/referrals/{own_referral.id}/{action}", data={"version": "1"}
    )
    assert response.status_code == 403
    assert event_count(db, own_referral) == before
