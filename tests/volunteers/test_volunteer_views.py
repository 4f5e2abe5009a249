"""A volunteer's own pages under /volunteering: proposals, the people they buddy, contacts,
hours and their details.

A volunteer sees only their own current matches; for anything else the answer is 404, so
nothing about another person is confirmed.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.cases.models import Contact, ContactMethod, GoalStatus
from portal.db_types import utcnow
from portal.form_fields import utc_to_local_input
from portal.referrals.models import ReferralStatus
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    Volunteer,
    VolunteerHours,
)
from portal.volunteers.profile import TRANSPORT
from tests.cases.test_case_views import BrowserForm, flashed, signed_in
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_goal,
    make_referral,
    make_resident,
    valid_nhs_number,
)
from tests.statements import statements_of, statements_sent

# --- helpers ----------------------------------------------------------------------------------


def error_beside(page: str, field_id: str) -> str | None:
    """The message shown beside one field, as a person reads it."""
    match = re.search(
        rf'id="{re.escape(field_id)}-error"[^>]*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error:\s*</span>(.*?)\s*</span>',
        page,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def typed_date(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}[day]": str(day.day),
        f"{name}[month]": str(day.month),
        f"{name}[year]": str(day.year),
    }


def when(hours_ago: float) -> str:
    """A time as a person types it into the datetime-local box (UK wall clock)."""
    return utc_to_local_input(utcnow() - timedelta(hours=hours_ago))


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def fresh_match(db, match: BuddyMatch) -> BuddyMatch:
    db.session.expire_all()
    return db.session.get(BuddyMatch, match.id)


def volunteer_called(name: str) -> Volunteer:
    return make_compliant_volunteer(user_kw={"full_name": name})


NHS = valid_nhs_number(4242)


def case_of(navigator, given: str, family: str, **resident_kw):
    resident = make_resident(given_name=given, family_name=family, **resident_kw)
    return make_referral(
        resident=resident,
        status=ReferralStatus.ACTIVE,
        navigator_id=navigator.id,
        details="Lives with her son, who drinks heavily; GP worried about self-neglect",
        known_risks="Son can be aggressive to visitors",
    )


@pytest.fixture
def vic(app):
    return volunteer_called("Vic Volunteer")


@pytest.fixture
def harold_case(navigator):
    return case_of(navigator, "Harold", "Featherstonehaugh", phone="07700 900 456", nhs_number=NHS)


@pytest.fixture
def maureen_case(navigator):
    return case_of(navigator, "Maureen", "Oyelaran-Quist", phone="07700 900 789")


def contact_data(**changes) -> dict[str, str]:
    data = {
        "occurred_at": when(2),
        "method": "home_visit",
        "duration_minutes": "60",
        "notes": "We walked to the park and had a cup of tea",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


# --- the start page ---------------------------------------------------------------------------


def test_start_page_shows_proposals_waiting_and_the_people_i_buddy(
    app, navigator, vic, harold_case, maureen_case
):
    active = make_buddy_match(harold_case, vic, navigator)
    proposed = make_buddy_match(
        maureen_case, vic, navigator, status=BuddyMatchStatus.PROPOSED, responded_at=None
    )
    ended_case = case_of(navigator, "Edna", "Ellingham")
    make_buddy_match(
        ended_case,
        vic,
        navigator,
        status=BuddyMatchStatus.ENDED,
        ended_at=utcnow() - timedelta(days=2),
        end_reason="Moved away",
    )

    page = signed_in(app, vic.user).get("/volunteering").text

    waiting = page[page.index("Waiting for your answer") : page.index("People I buddy")]
    assert f'href="/volunteering/buddies/{proposed.id}"' in waiting
    assert "Would you buddy Maureen?" in waiting
    mine = page[page.index("People I buddy") : page.index("My time")]
    assert f'href="/volunteering/buddies/{active.id}"' in mine
    assert ">Harold</a>" in mine
    assert "Edna" not in page
    for secret in ("Featherstonehaugh", "Oyelaran-Quist", harold_case.reference, NHS):
        assert secret not in page


def test_start_page_sends_as_many_statements_for_many_people_as_for_one(
    app, navigator, make_user, vic, harold_case
):
    """Each match, and the person it is for, is drawn from what the page read, not read again
    after the view's audit: buddying more people must not mean more queries."""
    first = make_buddy_match(harold_case, vic, navigator)
    browser = signed_in(app, vic.user)
    browser.get("/volunteering")
    one_person = statements_of(app, browser, "/volunteering")

    asked, buddied = [], [(first.id, "Harold")]
    for given, family, status in (
        ("Maureen", "Oyelaran-Quist", BuddyMatchStatus.PROPOSED),
        ("Edna", "Ellingham", BuddyMatchStatus.ACTIVE),
        ("Ravi", "Ramanathan", BuddyMatchStatus.PROPOSED),
        ("Stan", "Szymanski", BuddyMatchStatus.ACTIVE),
    ):
        their_navigator = make_user(Role.NAVIGATOR)
        case = case_of(their_navigator, given, family)
        if status == BuddyMatchStatus.PROPOSED:
            match = make_buddy_match(case, vic, their_navigator, status=status, responded_at=None)
            asked.append((match.id, given))
        else:
            match = make_buddy_match(
                case, vic, their_navigator, next_meeting_at=utcnow() + timedelta(days=3)
            )
            buddied.append((match.id, given))
    many_people = statements_of(app, browser, "/volunteering")

    assert many_people == one_person
    page = browser.get("/volunteering").text
    waiting = page[page.index("Waiting for your answer") : page.index("People I buddy")]
    for match_id, given in asked:
        assert f'href="/volunteering/buddies/{match_id}">Would you buddy {given}?' in waiting
    mine = page[page.index("People I buddy") : page.index("My time")]
    for match_id, given in buddied:
        assert f'href="/volunteering/buddies/{match_id}">{given}</a>' in mine


def test_start_page_reads_the_training_courses_once(app, vic):
    """The courses read for the training list are the ones the checks use."""
    sent = statements_sent(app, signed_in(app, vic.user), "/volunteering")

    assert len([s for s in sent if "FROM training_modules" in s]) == 1


def test_start_page_with_nobody_to_buddy(app, vic):
    page = signed_in(app, vic.user).get("/volunteering").text

    assert "Waiting for your answer" not in page
    assert "You are not buddying anyone at the moment." in page


def test_start_page_is_for_volunteers_only(logged_in_navigator):
    assert logged_in_navigator.get("/volunteering").status_code == 403


# --- one person's page ------------------------------------------------------------------------


def test_buddy_page_shows_first_name_open_goals_and_phone_but_nothing_else_about_the_case(
    app, navigator, vic, harold_case
):
    match = make_buddy_match(harold_case, vic, navigator)
    make_goal(harold_case, navigator, description="Walk to the park on his own")
    make_goal(
        harold_case,
        navigator,
        description="Join the lunch club",
        status=GoalStatus.ACHIEVED,
        closed_on=date.today(),
    )

    response = signed_in(app, vic.user).get(f"/volunteering/buddies/{match.id}")

    assert response.status_code == 200
    page = response.text
    assert "<h1>Harold</h1>" in page
    assert "Walk to the park on his own" in page
    assert "Join the lunch club" not in page
    assert "07700 900 456" in page
    assert 'href="tel:07700900456"' in page
    assert navigator.full_name in page
    assert "Featherstonehaugh" not in page
    assert NHS not in page and f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}" not in page
    assert "NHS number" not in page
    assert harold_case.reference not in page
    assert "drinks heavily" not in page and "self-neglect" not in page
    assert "aggressive" not in page


def test_buddy_page_reads_nothing_twice(app, navigator, vic, harold_case):
    """The match checked for access is the one the page shows, not read again after the
    view is recorded."""
    match = make_buddy_match(harold_case, vic, navigator)
    browser = signed_in(app, vic.user)

    sent = statements_sent(app, browser, f"/volunteering/buddies/{match.id}")

    assert [s for s in sent if sent.count(s) > 1] == []
    assert any("FROM buddy_matches" in s for s in sent)


def test_proposal_page_keeps_the_phone_hidden_until_the_volunteer_says_yes(
    app, db, navigator, vic, harold_case
):
    match = make_buddy_match(
        harold_case, vic, navigator, status=BuddyMatchStatus.PROPOSED, responded_at=None
    )
    browser = signed_in(app, vic.user)

    proposal = browser.get(f"/volunteering/buddies/{match.id}").text

    assert "Would you buddy Harold?" in proposal
    assert "You will see how to contact them once you say yes." in proposal
    assert "07700 900 456" not in proposal and "07700900456" not in proposal
    assert "Featherstonehaugh" not in proposal and harold_case.reference not in proposal
    assert f'action="/volunteering/buddies/{match.id}/contacts"' not in proposal

    response = browser.post(f"/volunteering/buddies/{match.id}/accept")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/volunteering/buddies/{match.id}"
    after = browser.get(response.headers["Location"]).text
    assert "Thank you. You are now Harold's buddy." in flashed(after)
    assert "07700 900 456" in after
    accepted = fresh_match(db, match)
    assert accepted.status == BuddyMatchStatus.ACTIVE
    assert accepted.responded_at is not None
    (alert,) = db.session.scalars(sa.select(Alert).where(Alert.user_id == navigator.id)).all()
    assert alert.kind == AlertKind.BUDDY_RESPONSE
    assert alert.referral_id == harold_case.id
    assert "Vic Volunteer agreed to buddy Harold" in alert.message


def test_declining_a_proposal_tells_the_navigator_why(app, db, navigator, vic, harold_case):
    match = make_buddy_match(
        harold_case, vic, navigator, status=BuddyMatchStatus.PROPOSED, responded_at=None
    )
    browser = signed_in(app, vic.user)

    response = browser.post(
        f"/volunteering/buddies/{match.id}/decline",
        data={"reason": "I am away for most of the summer"},
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/volunteering"
    page = browser.get(response.headers["Location"]).text
    assert "Thank you for letting us know. The navigator has been told." in flashed(page)
    assert "Would you buddy Harold?" not in page
    declined = fresh_match(db, match)
    assert declined.status == BuddyMatchStatus.DECLINED
    assert declined.decline_reason == "I am away for most of the summer"
    (alert,) = db.session.scalars(sa.select(Alert).where(Alert.user_id == navigator.id)).all()
    assert alert.kind == AlertKind.BUDDY_RESPONSE and alert.referral_id == harold_case.id
    assert "Vic Volunteer cannot buddy: I am away for most of the summer" in alert.message


# --- logging a contact ------------------------------------------------------------------------


def test_contact_with_a_concern_is_saved_and_alerts_the_navigator_and_coordinators(
    app, db, navigator, make_user, vic, harold_case
):
    match = make_buddy_match(harold_case, vic, navigator)
    coordinators = [make_user(Role.COORDINATOR), make_user(Role.COORDINATOR)]
    away = make_user(Role.COORDINATOR, is_active=False)
    browser = signed_in(app, vic.user)
    next_meeting = utc_to_local_input(utcnow() + timedelta(days=3))

    response = browser.post(
        f"/volunteering/buddies/{match.id}/contacts",
        data=contact_data(
            concern="y",
            concern_note="He had a fall and has bruises on his arm",
            next_meeting_at=next_meeting,
        ),
    )

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.fragment) == (f"/volunteering/buddies/{match.id}", "contacts")
    page = browser.get(response.headers["Location"]).text
    assert (
        "Contact saved. The navigator and the hub coordinators have been told about your concern"
        in flashed(page)
    )
    assert "Concern raised" in page

    (contact,) = db.session.scalars(sa.select(Contact)).all()
    assert contact.referral_id == harold_case.id
    assert contact.author_id == vic.user_id
    assert contact.method == ContactMethod.HOME_VISIT
    assert contact.duration_minutes == 60
    assert contact.concern_raised
    assert contact.safeguarding_note == "He had a fall and has bruises on his arm"
    assert utc_to_local_input(fresh_match(db, match).next_meeting_at) == next_meeting

    alerts = db.session.scalars(sa.select(Alert).where(Alert.kind == AlertKind.BUDDY_CONCERN))
    told = {a.user_id: a for a in alerts}
    assert set(told) == {navigator.id, *(c.id for c in coordinators)}
    assert away.id not in told
    for alert in told.values():
        assert alert.referral_id == harold_case.id
        assert "He had a fall and has bruises on his arm" in alert.message

    caseload = signed_in(app, navigator).get("/caseload").text
    start = caseload.rindex("<tr", 0, caseload.index(f">{harold_case.reference}<"))
    row = caseload[start : caseload.index("</tr>", start)]
    assert "1 unread" in row


def test_contact_ticked_as_a_concern_needs_the_worry_written_down(
    app, db, navigator, vic, harold_case
):
    match = make_buddy_match(harold_case, vic, navigator)
    url = f"/volunteering/buddies/{match.id}/contacts"

    response = signed_in(app, vic.user).post(url, data=contact_data(concern="y"))

    assert response.status_code == 400
    assert error_beside(response.text, "concern_note") == "Tell us what worries you"
    kept = BrowserForm(response.text, url)
    assert kept.data["notes"][0].strip() == "We walked to the park and had a cup of tea"
    assert kept.data["concern"] == ["y"]
    assert count(db, Contact) == 0
    assert count(db, Alert) == 0


def test_contact_longer_than_a_contact_may_be_is_refused_not_a_server_error(
    app, db, navigator, vic, harold_case
):
    """A contact is stored as at most 12 hours; a longer one must come back to be corrected."""
    match = make_buddy_match(harold_case, vic, navigator)
    browser = signed_in(app, vic.user)
    url = f"/volunteering/buddies/{match.id}/contacts"

    response = browser.post(url, data=contact_data(occurred_at=when(14), duration_minutes="780"))

    assert response.status_code == 400
    assert error_beside(response.text, "duration_minutes")
    assert count(db, Contact) == 0

    twelve_hours = browser.post(
        url, data=contact_data(occurred_at=when(13), duration_minutes="720")
    )
    assert twelve_hours.status_code == 302
    assert count(db, Contact) == 1


def test_contact_without_a_concern_alerts_nobody(app, db, navigator, coordinator, vic, harold_case):
    match = make_buddy_match(harold_case, vic, navigator)

    response = signed_in(app, vic.user).post(
        f"/volunteering/buddies/{match.id}/contacts", data=contact_data()
    )

    assert response.status_code == 302
    assert count(db, Contact, Contact.referral_id == harold_case.id) == 1
    assert count(db, Alert) == 0


# --- what a volunteer may not reach -----------------------------------------------------------


@pytest.fixture
def someone_elses(navigator, maureen_case):
    other = volunteer_called("Olive Other")
    return {
        "active": make_buddy_match(maureen_case, other, navigator),
        "proposed": make_buddy_match(
            case_of(navigator, "Percy", "Proposedson"),
            other,
            navigator,
            status=BuddyMatchStatus.PROPOSED,
            responded_at=None,
        ),
    }


def _attempt(browser, action: str, match: BuddyMatch):
    url = f"/volunteering/buddies/{match.id}"
    if action == "view":
        return browser.get(url)
    if action == "accept":
        return browser.post(f"{url}/accept")
    if action == "decline":
        return browser.post(f"{url}/decline", data={"reason": "Not for me"})
    return browser.post(f"{url}/contacts", data=contact_data())


ACTIONS = ["view", "accept", "decline", "log-contact"]


@pytest.mark.parametrize("which", ["active", "proposed"])
@pytest.mark.parametrize("action", ACTIONS)
def test_another_volunteers_match_is_not_found_and_nothing_changes(
    app, db, vic, someone_elses, which, action
):
    match = someone_elses[which]
    status = match.status
    given = match.referral.resident.given_name
    browser = signed_in(app, vic.user)

    response = _attempt(browser, action, match)

    assert response.status_code == 404
    assert given not in response.text
    after = fresh_match(db, match)
    assert after.status == status and after.decline_reason is None
    assert count(db, Contact) == 0
    assert count(db, Alert) == 0


@pytest.mark.parametrize("action", ACTIONS)
def test_an_ended_match_is_not_found(app, db, navigator, vic, harold_case, action):
    match = make_buddy_match(
        harold_case,
        vic,
        navigator,
        status=BuddyMatchStatus.ENDED,
        ended_at=utcnow() - timedelta(days=1),
        end_reason="The person's support has ended",
    )
    browser = signed_in(app, vic.user)

    response = _attempt(browser, action, match)

    assert response.status_code == 404
    assert "Harold" not in response.text
    assert fresh_match(db, match).status == BuddyMatchStatus.ENDED
    assert count(db, Contact) == 0
    assert count(db, Alert) == 0


def test_a_contact_cannot_be_logged_for_someone_the_volunteer_does_not_buddy(
    app, db, navigator, vic, harold_case, someone_elses
):
    """Neither through another volunteer's match, nor by naming the case in the form."""
    own = make_buddy_match(harold_case, vic, navigator)
    theirs = someone_elses["active"]
    browser = signed_in(app, vic.user)

    refused = browser.post(
        f"/volunteering/buddies/{theirs.id}/contacts",
        data=contact_data(concern="y", concern_note="Made up"),
    )

    assert refused.status_code == 404
    assert count(db, Contact) == 0
    assert count(db, Alert) == 0

    # Naming the other case in the form changes nothing: the match decides the case.
    response = browser.post(
        f"/volunteering/buddies/{own.id}/contacts",
        data=contact_data(referral_id=str(theirs.referral_id)),
    )

    assert response.status_code == 302
    (contact,) = db.session.scalars(sa.select(Contact)).all()
    assert contact.referral_id == harold_case.id
    assert count(db, Contact, Contact.referral_id == theirs.referral_id) == 0


# --- hours ------------------------------------------------------------------------------------


def hours_data(day: date | None = None, **changes) -> dict[str, str]:
    data = {
        **typed_date("worked_on", day or date.today()),
        "kind": "training",
        "hours": "2",
        "minutes": "30",
        "notes": "Safeguarding course at the hub",
    }
    data.update(changes)
    return data


def test_hours_are_logged(app, db, vic):
    browser = signed_in(app, vic.user)

    response = browser.post("/volunteering/hours", data=hours_data())

    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).text
    assert "Hours saved. Thank you for your time." in flashed(page)
    (entry,) = db.session.scalars(sa.select(VolunteerHours)).all()
    assert entry.volunteer_id == vic.id and entry.minutes == 150
    assert entry.worked_on == date.today()


def test_more_than_24_hours_in_one_entry_is_refused(app, db, vic):
    browser = signed_in(app, vic.user)

    response = browser.post("/volunteering/hours", data=hours_data(hours="25", minutes="0"))

    assert response.status_code == 400
    assert error_beside(response.text, "hours") == "A day has only 24 hours: enter 24 or fewer"
    kept = BrowserForm(response.text, "/volunteering/hours")
    assert kept.data["hours"] == ["25"]
    assert kept.data["notes"][0].strip() == "Safeguarding course at the hub"
    assert count(db, VolunteerHours) == 0


def test_more_than_24_hours_in_a_day_across_two_entries_is_refused(app, db, vic):
    browser = signed_in(app, vic.user)
    today = date.today()
    first = browser.post("/volunteering/hours", data=hours_data(hours="20", minutes="0"))
    assert first.status_code == 302

    response = browser.post(
        "/volunteering/hours", data=hours_data(kind="travel", hours="5", minutes="0")
    )

    assert response.status_code == 400
    assert error_beside(response.text, "hours") == (
        f"That makes more than 24 hours on {today.day} {today:%B %Y}: you have already "
        "logged 20 h that day, so at most 4 h more"
    )
    assert [e.minutes for e in db.session.scalars(sa.select(VolunteerHours))] == [20 * 60]
    # Exactly up to 24 hours is fine.
    exact = browser.post("/volunteering/hours", data=hours_data(hours="4", minutes="0"))
    assert exact.status_code == 302
    assert count(db, VolunteerHours) == 2


# --- my details -------------------------------------------------------------------------------


def test_profile_shows_current_details(app, vic, db):
    vic.postcode = "CV1 2AB"
    vic.languages = ["English", "Welsh"]
    vic.availability = ["tue_morning"]
    vic.transport = TRANSPORT[0]
    vic.user.phone = "07700 900 111"
    db.session.commit()

    form = BrowserForm(
        signed_in(app, vic.user).get("/volunteering/profile").text, "/volunteering/profile"
    )

    assert form.data["phone"] == ["07700 900 111"]
    assert form.data["postcode"] == ["CV1 2AB"]
    assert form.data["languages"] == ["English, Welsh"]
    assert form.data["availability"] == ["tue_morning"]
    assert form.data["transport"] == [TRANSPORT[0]]


def test_profile_edit_keeps_what_was_typed_on_error_and_saves_on_success(app, db, vic):
    vic.postcode = "CV1 2AB"
    vic.user.phone = "07700 900 111"
    db.session.commit()
    browser = signed_in(app, vic.user)
    typed = {
        "phone": "07700 900 222",
        "postcode": "NOWHERE",
        "languages": "English, gujarati",
        "availability": ["wed_afternoon", "sat_morning"],
        "transport": TRANSPORT[2],
        "interests": ["music"],
    }

    refused = browser.post("/volunteering/profile", data=typed)

    assert refused.status_code == 400
    assert error_beside(refused.text, "postcode") == "Enter a real postcode, like CV1 2AB"
    kept = BrowserForm(refused.text, "/volunteering/profile")
    assert kept.data["phone"] == ["07700 900 222"]
    assert kept.data["postcode"] == ["NOWHERE"]
    assert kept.data["languages"] == ["English, gujarati"]
    assert sorted(kept.data["availability"]) == ["sat_morning", "wed_afternoon"]
    assert kept.data["transport"] == [TRANSPORT[2]]
    assert kept.data["interests"] == ["music"]
    db.session.expire_all()
    unchanged = db.session.get(Volunteer, vic.id)
    assert unchanged.postcode == "CV1 2AB" and unchanged.user.phone == "07700 900 111"

    response = browser.post("/volunteering/profile", data={**typed, "postcode": "cv3 4ef"})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/volunteering"
    assert "Your details are saved" in flashed(browser.get(response.headers["Location"]).text)
    db.session.expire_all()
    saved = db.session.get(Volunteer, vic.id)
    assert saved.postcode == "CV3 4EF"
    assert saved.user.phone == "07700 900 222"
    assert saved.languages == ["English", "Gujarati"]
    assert saved.availability == ["wed_afternoon", "sat_morning"]
    assert saved.transport == TRANSPORT[2]
    assert saved.interests == ["music"]
