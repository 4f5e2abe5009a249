"""An organisation member's pages: their organisation, its activities, and referrals to it.

A member only ever reaches their own organisation's things: another organisation's
activity or referral is 404 for every method, and nothing about it changes.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.db_types import london_today
from portal.directory import activity_referrals
from portal.directory.models import (
    Activity,
    ActivityAttendance,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from tests.cases.test_case_views import BrowserForm, case_for, signed_in
from tests.factories import (
    PASSWORD,
    make_activity,
    make_organisation,
    make_resident,
    make_user,
)
from tests.statements import statements_of

# --- helpers ----------------------------------------------------------------------------------


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def error_beside(page: str, field_id: str) -> str | None:
    match = re.search(
        rf'id="{re.escape(field_id)}-error"[^>]*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error:\s*</span>(.*?)\s*</span>',
        page,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def input_value(page: str, name: str) -> str | None:
    for tag in re.findall(r"<input\b[^>]*>", page):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            match = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(match.group(1)) if match else ""
    return None


def error_summary(page: str) -> list[str]:
    """The messages in the "There is a problem" box at the top of a form."""
    match = re.search(r'class="nhsuk-error-summary"(.*?)</div>\s*</div>', page, re.S)
    if not match:
        return []
    return [
        html.unescape(re.sub(r"<[^>]+>", "", item)).strip()
        for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]


def flashed(page: str) -> str:
    return text_of(page)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def member_of(organisation: Organisation, **kw):
    return make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id, **kw)


def an_activity(organisation: Organisation, **kw) -> Activity:
    fields = {
        "description": "A walk round the park.",
        "categories": ["physical_activity"],
        "frequency": Frequency.WEEKLY,
        "days": [1],
        "start_time": time(10, 0),
        "end_time": time(11, 0),
        "venue_name": "Park gates",
        "postcode": "CV3 6PT",
        "last_confirmed_on": london_today(),
        **kw,
    }
    return make_activity(organisation, **fields)


def activity_form(**changes) -> dict:
    data = {
        "title": "Tuesday walking group",
        "description": "A gentle walk, then tea.",
        "categories": ["physical_activity", "social_connection"],
        "frequency": "weekly",
        "days": ["1"],
        "monthly_week": "",
        "start_time": "10:00",
        "end_time": "11:30",
        "schedule_note": "",
        "online": "no",
        "venue_name": "War Memorial Park gates",
        "venue_address": "Kenilworth Road",
        "postcode": "cv3 6pt",
        "cost": "3.50",
        "min_age": "",
        "max_age": "",
        "eligibility": "",
        "access": ["step_free"],
        "capacity": "12",
        "spaces_available": "5",
        "accepts_referrals": "yes",
        "contact_name": "Pat",
        "contact_email": "",
        "contact_phone": "",
        "version": "",
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


PERSON = {
    "given_name": "Rosalind",
    "family_name": "Quenby",
    "phone": "07700 900 123",
    "email": "rosalind.quenby@example.com",
    "address": "17 Hidden Terrace",
    "postcode": "CV6 9ZZ",
    "date_of_birth": date(1948, 6, 15),
}


def sent_referral(activity: Activity, navigator=None, *, phone=True, email=False, **person):
    """A referral sent to `activity` through the domain function, as the navigator's page does."""
    navigator = navigator or make_user(Role.NAVIGATOR)
    resident = make_resident(**{**PERSON, **person})
    referral = case_for(navigator, resident=resident)
    link = activity_referrals.refer(
        referral,
        activity,
        navigator,
        activity_referrals.SharedDetails(phone=phone, email=email, age=True, note="Likes tea"),
        london_today(),
    )
    db.session.commit()
    return link


def accepted_referral(activity: Activity, by, **kw) -> ActivityReferral:
    link = sent_referral(activity, **kw)
    activity_referrals.accept(link, by)
    db.session.commit()
    return link


@pytest.fixture
def org(app):
    return make_organisation(name="Friends of the Park", email="hello@friends.org")


@pytest.fixture
def member(org):
    return member_of(org, full_name="Morgan Member")


@pytest.fixture
def browser(app, member):
    return signed_in(app, member)


# --- the organisation's pages -----------------------------------------------------------------


def test_my_organisation_lists_only_its_own_activities(browser, org):
    an_activity(org, title="Our walk")
    an_activity(org, title="Our draft", status=ActivityStatus.DRAFT)
    an_activity(make_organisation(), title="Their walk")

    response = browser.get("/organisation")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Friends of the Park" in page
    assert "Our walk" in page
    assert "Our draft" in page
    assert "Their walk" not in page
    assert response.headers["Cache-Control"] == "no-store"


def test_unverified_organisation_is_told_it_cannot_publish_yet(app):
    unverified = make_organisation(verified=False)
    page = signed_in(app, member_of(unverified)).get("/organisation").text
    assert "The hub has not verified your organisation yet" in text_of(page)


def test_a_stale_profile_page_gets_a_conflict_not_an_overwrite(browser, org):
    page = browser.get("/organisation/profile").text
    drawn = BrowserForm(page, "/organisation/profile")
    # Someone else saves the details first (another member, or the hub).
    fresh_org = db.session.get(Organisation, org.id)
    fresh_org.phone = "024 7600 0000"
    db.session.commit()

    mine = drawn.with_changes(
        description="Walks every Sunday.", address="1 Park Lane", postcode="cv3 6pt"
    )
    response = browser.post("/organisation/profile", data=mine)

    assert response.status_code == 409
    assert "Someone else changed this just now" in text_of(response.text)
    assert "024 7600 0000" in text_of(response.text), "what is saved now is shown"
    assert fresh(Organisation, org.id).description != "Walks every Sunday."
    kept = BrowserForm(response.text, "/organisation/profile")
    assert kept.data["description"] == ["Walks every Sunday."]
    assert browser.post("/organisation/profile", data=kept.data).status_code == 302
    assert fresh(Organisation, org.id).description == "Walks every Sunday."


def test_profile_shows_and_saves_the_organisations_details(browser, org):
    page = browser.get("/organisation/profile").text
    assert input_value(page, "name") == "Friends of the Park"
    assert input_value(page, "email") == "hello@friends.org"

    form = BrowserForm(page, "/organisation/profile").with_changes(
        name="Friends of War Memorial Park",
        charity_number="sc 012345",
        description="We look after the park.",
        email="Team@Friends.org",
        web_address="https://friends.org",
        address="1 Park Lane",
        postcode="cv3 6pt",
    )
    response = browser.post("/organisation/profile", data=form)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/organisation"
    saved = fresh(Organisation, org.id)
    assert saved.name == "Friends of War Memorial Park"
    assert saved.charity_number == "SC012345"
    assert saved.email == "team@friends.org"
    assert saved.website == "https://friends.org"
    assert saved.postcode == "CV3 6PT"
    assert "Your organisation's details are saved." in flashed(
        browser.get(response.headers["Location"]).text
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("web_address", "friends dot org", "Enter a web address starting with https://"),
        ("web_address", "javascript:alert(1)", "Enter a web address starting with https://"),
        ("charity_number", "99", "Enter a charity number in the right format"),
        ("postcode", "nowhere", "Enter a real postcode, like CV1 2AB"),
    ],
)
def test_profile_refuses_bad_details_beside_the_field_and_saves_nothing(
    browser, org, field, value, message
):
    page = browser.get("/organisation/profile").text
    form = BrowserForm(page, "/organisation/profile").with_changes(
        name="A new name", description="Something", address="1 Lane", **{field: value}
    )

    response = browser.post("/organisation/profile", data=form)

    assert response.status_code == 400
    assert error_beside(response.text, field).startswith(message)
    assert input_value(response.text, field) == value
    assert input_value(response.text, "name") == "A new name"
    assert fresh(Organisation, org.id).name == "Friends of the Park"


# --- activities -------------------------------------------------------------------------------


def test_new_activity_is_saved_as_a_draft(browser, org):
    assert browser.get("/organisation/activities/new").status_code == 200

    response = browser.post("/organisation/activities/new", data=activity_form())

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/organisation"
    (activity,) = db.session.scalars(sa.select(Activity)).all()
    assert activity.organisation_id == org.id
    assert activity.status == ActivityStatus.DRAFT
    assert activity.title == "Tuesday walking group"
    assert activity.categories == ["physical_activity", "social_connection"]
    assert activity.days == [1]
    assert activity.start_time == time(10, 0)
    assert activity.end_time == time(11, 30)
    assert activity.postcode == "CV3 6PT"
    assert activity.cost_pence == 350
    assert activity.step_free is True
    assert activity.hearing_loop is False
    assert activity.capacity == 12
    assert activity.spaces_available == 5
    assert activity.accepts_referrals is True
    assert len(activity.uuid) == 36
    page = browser.get("/organisation").text
    assert "Tuesday walking group is saved as a draft." in flashed(page)
    # A draft is not in the public directory.
    assert browser.get(f"/directory/activities/{activity.uuid}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"start_time": "14:00", "end_time": "13:00"},
            "end_time",
            "End time must be after the start time",
            id="ends-before-start",
        ),
        pytest.param(
            {"start_time": "14:00", "end_time": "14:00"},
            "end_time",
            "End time must be after the start time",
            id="ends-when-it-starts",
        ),
        pytest.param(
            {"capacity": "-1", "spaces_available": ""},
            "capacity",
            "Places in total must be 0 or more",
            id="capacity-below-zero",
        ),
        pytest.param(
            {"cost": "three pounds"},
            "cost",
            "Enter the cost in pounds and pence, like 3.50, or leave it empty",
            id="price-not-money",
        ),
        pytest.param(
            {"cost": "-2"},
            "cost",
            "Enter the cost in pounds and pence, like 3.50, or leave it empty",
            id="price-negative",
        ),
        pytest.param(
            {"start_time": "25:00"},
            "start_time",
            "Enter the start time as a 24-hour time, like 10:30 or 14:00",
            id="not-a-time",
        ),
        pytest.param(
            {"capacity": "3", "spaces_available": "4"},
            "spaces_available",
            "Places free now cannot be more than places in total",
            id="more-free-than-total",
        ),
        pytest.param(
            {"min_age": "60", "max_age": "18"},
            "max_age",
            "Oldest age must be the same as or more than youngest age",
            id="ages-backwards",
        ),
    ],
)
def test_bad_activity_is_refused_beside_the_field_and_keeps_what_was_typed(
    browser, changes, field, message
):
    response = browser.post("/organisation/activities/new", data=activity_form(**changes))

    assert response.status_code == 400
    assert error_beside(response.text, field) == message
    for name, typed in changes.items():
        assert input_value(response.text, name) == typed, name
    assert input_value(response.text, "title") == "Tuesday walking group"
    assert message in error_summary(response.text)
    assert count(Activity) == 0


def test_editing_saves_and_marks_the_listing_checked(browser, org):
    activity = an_activity(
        org,
        title="Old title",
        last_confirmed_on=london_today() - timedelta(days=300),
        freshness_flagged_on=london_today() - timedelta(days=10),
    )
    url = f"/activities/{activity.id}/edit"
    page = browser.get(url).text
    assert input_value(page, "title") == "Old title"
    assert input_value(page, "version") == "1"

    response = browser.post(url, data=BrowserForm(page, url).with_changes(title="New title"))

    assert response.status_code == 302
    saved = fresh(Activity, activity.id)
    assert saved.title == "New title"
    assert saved.version == 2
    assert saved.last_confirmed_on == london_today()
    assert saved.freshness_flagged_on is None


def test_editing_a_stale_page_is_a_conflict_with_a_message(browser, org):
    activity = an_activity(org, title="Walk")
    url = f"/activities/{activity.id}/edit"
    stale_page = browser.get(url).text
    # Someone else saves first.
    activity.title = "Walk (changed by someone else)"
    db.session.commit()

    response = browser.post(url, data=BrowserForm(stale_page, url).with_changes(title="Mine"))

    assert response.status_code == 409
    assert "Someone else changed this just now. Check it, then try again." in error_summary(
        response.text
    )
    assert fresh(Activity, activity.id).title == "Walk (changed by someone else)"


def test_publishing_is_refused_while_unverified_and_works_once_verified(app, coordinator):
    organisation = make_organisation(verified=False)
    browser = signed_in(app, member_of(organisation))
    activity = an_activity(organisation, status=ActivityStatus.DRAFT, last_confirmed_on=None)
    url = f"/activities/{activity.id}/status"

    refused = browser.post(url, data={"status": "published", "version": "1"})

    assert refused.status_code == 302
    assert "Your organisation has not been verified by the hub yet" in flashed(
        browser.get(refused.headers["Location"]).text
    )
    assert fresh(Activity, activity.id).status == ActivityStatus.DRAFT

    organisation = fresh(Organisation, organisation.id)
    organisation.verified_at = organisation.created_at
    db.session.commit()
    done = browser.post(url, data={"status": "published", "version": "1"})

    assert done.status_code == 302
    saved = fresh(Activity, activity.id)
    assert saved.status == ActivityStatus.PUBLISHED
    assert saved.last_confirmed_on == london_today()
    assert f"{saved.title} is now published." in flashed(browser.get("/organisation").text)
    assert browser.get(f"/directory/activities/{saved.uuid}").status_code == 200


def test_pause_archive_and_bring_back(browser, org):
    activity = an_activity(org)
    url = f"/activities/{activity.id}/status"

    def to(status: str) -> ActivityStatus:
        version = str(fresh(Activity, activity.id).version)
        assert browser.post(url, data={"status": status, "version": version}).status_code == 302
        return fresh(Activity, activity.id).status

    assert to("paused") == ActivityStatus.PAUSED
    assert browser.get(f"/directory/activities/{activity.uuid}").status_code == 404
    assert to("archived") == ActivityStatus.ARCHIVED
    assert to("draft") == ActivityStatus.DRAFT
    # A draft cannot jump to paused: refused, with the reason.
    response = browser.post(url, data={"status": "paused"})
    assert "A draft activity cannot be changed to paused." in flashed(
        browser.get(response.headers["Location"]).text
    )
    assert fresh(Activity, activity.id).status == ActivityStatus.DRAFT


def test_status_change_from_a_stale_page_is_refused(browser, org):
    activity = an_activity(org)
    activity.title = "Changed"
    db.session.commit()
    response = browser.post(
        f"/activities/{activity.id}/status", data={"status": "paused", "version": "1"}
    )
    assert "Someone else changed this just now" in flashed(
        browser.get(response.headers["Location"]).text
    )
    assert fresh(Activity, activity.id).status == ActivityStatus.PUBLISHED


@pytest.mark.parametrize("status", ["", "deleted", "PUBLISHED"])
def test_status_change_to_something_unknown_is_a_bad_request(browser, org, status):
    activity = an_activity(org)
    response = browser.post(f"/activities/{activity.id}/status", data={"status": status})
    assert response.status_code == 400
    assert fresh(Activity, activity.id).status == ActivityStatus.PUBLISHED


def test_confirming_marks_the_listing_checked_today(browser, org):
    today = london_today()
    activity = an_activity(
        org,
        title="Old walk",
        last_confirmed_on=today - timedelta(days=250),
        freshness_flagged_on=today - timedelta(days=20),
    )
    before = browser.get("/organisation").text
    assert "May be out of date" in before
    assert "These details are still right" in before

    response = browser.post(f"/activities/{activity.id}/confirm")

    assert response.status_code == 302
    saved = fresh(Activity, activity.id)
    assert saved.last_confirmed_on == today
    assert saved.freshness_flagged_on is None
    after = browser.get("/organisation").text
    assert "Thank you. Old walk is marked as checked today." in flashed(after)
    assert "May be out of date" not in after


def test_another_organisations_activity_is_404_for_every_method(browser, org):
    theirs = an_activity(make_organisation(), title="Their walk", status=ActivityStatus.DRAFT)
    before = fresh(Activity, theirs.id)
    version, confirmed = before.version, before.last_confirmed_on

    assert browser.get(f"/activities/{theirs.id}/edit").status_code == 404
    edit = browser.post(
        f"/activities/{theirs.id}/edit", data=activity_form(title="Hijacked", version="1")
    )
    assert edit.status_code == 404
    status = browser.post(
        f"/activities/{theirs.id}/status", data={"status": "published", "version": "1"}
    )
    assert status.status_code == 404
    assert browser.post(f"/activities/{theirs.id}/confirm").status_code == 404
    for response in (edit, status):
        assert "Their walk" not in response.text

    after = fresh(Activity, theirs.id)
    assert after.title == "Their walk"
    assert after.status == ActivityStatus.DRAFT
    assert after.version == version
    assert after.last_confirmed_on == confirmed


@pytest.mark.parametrize("activity_id", ["999999", "0"])
def test_missing_activity_is_404(browser, activity_id):
    assert browser.get(f"/activities/{activity_id}/edit").status_code == 404
    assert browser.post(f"/activities/{activity_id}/confirm").status_code == 404


# --- referrals to the organisation ------------------------------------------------------------


def test_referrals_list_shows_only_this_organisations_referrals(browser, org):
    ours = sent_referral(an_activity(org, title="Our walk"), given_name="Olive")
    theirs = sent_referral(an_activity(make_organisation(), title="Their walk"), given_name="Tess")

    response = browser.get("/organisation/referrals")

    assert response.status_code == 200
    page = text_of(response.text)
    assert ours.person_name in page
    assert "Our walk" in page
    assert theirs.person_name not in page
    assert "Their walk" not in page
    assert f"/organisation/referrals/{theirs.id}" not in response.text
    assert "1 referral" in page

    partial = browser.get("/organisation/referrals?status=accepted", headers={"HX-Request": "true"})
    assert "<html" not in partial.text
    assert ours.person_name not in partial.text
    assert "No referrals accepted." in text_of(partial.text)


def test_the_referrals_list_sends_as_many_statements_for_many_referrals_as_for_one(
    app, browser, org, member
):
    """Each referral, and the activity it is for, is drawn from what the list read, not read
    again after the view's audit: more referrals must not mean more queries."""
    first = sent_referral(an_activity(org, title="Monday walk"), given_name="Olive")
    browser.get("/organisation/referrals")
    one_referral = statements_of(app, browser, "/organisation/referrals")

    rows = {first.id: ("Olive Quenby", "Monday walk", "Sent to organisation")}
    for given, title in (("Ivy", "Tuesday choir"), ("Nora", "Craft club")):
        link = sent_referral(an_activity(org, title=title), given_name=given)
        rows[link.id] = (f"{given} Quenby", title, "Sent to organisation")
    link = accepted_referral(an_activity(org, title="Allotment"), member, given_name="Ada")
    rows[link.id] = ("Ada Quenby", "Allotment", "Accepted")
    many_referrals = statements_of(app, browser, "/organisation/referrals")

    assert many_referrals == one_referral
    page = browser.get("/organisation/referrals").text
    assert "4 referrals" in text_of(page)
    for link_id, (person, title, status) in rows.items():
        row = page[page.index(f"/organisation/referrals/{link_id}") :]
        row = text_of(row[: row.index("</tr>")])
        assert f"{person} Activity {title} Status {status}" in row


def test_another_organisations_referral_is_404_on_get_and_every_post(browser, org, app):
    other = make_organisation()
    theirs = sent_referral(an_activity(other, title="Their walk"))
    accepted_theirs = accepted_referral(an_activity(other), member_of(other))
    today = london_today()
    posts = {
        "accept": {"version": "1"},
        "decline": {"reason": "No room", "version": "1"},
        "attendance": {
            "session_on[day]": str(today.day),
            "session_on[month]": str(today.month),
            "session_on[year]": str(today.year),
            "attended": "yes",
        },
        "stop": {"reason": "Moved away"},
    }

    for link in (theirs, accepted_theirs):
        before = fresh(ActivityReferral, link.id)
        status, version = before.status, before.version
        response = browser.get(f"/organisation/referrals/{link.id}")
        assert response.status_code == 404
        assert link.person_name not in response.text
        for action, data in posts.items():
            response = browser.post(f"/organisation/referrals/{link.id}/{action}", data=data)
            assert response.status_code == 404, action
            assert link.person_name not in response.text
        after = fresh(ActivityReferral, link.id)
        assert (after.status, after.version) == (status, version)
    assert count(ActivityAttendance) == 0


def test_a_missing_or_signposted_referral_is_404(browser, org):
    activity = an_activity(org, accepts_referrals=False)
    navigator = make_user(Role.NAVIGATOR)
    referral = case_for(navigator)
    link = activity_referrals.signpost(referral, activity, navigator)
    db.session.commit()

    assert browser.get(f"/organisation/referrals/{link.id}").status_code == 404
    assert browser.post(f"/organisation/referrals/{link.id}/accept").status_code == 404
    assert browser.get("/organisation/referrals/999999").status_code == 404


def test_the_referral_page_shows_only_what_the_person_agreed_to_share(browser, org):
    link = sent_referral(an_activity(org, title="Our walk"), phone=True, email=False)
    resident = link.referral.resident

    response = browser.get(f"/organisation/referrals/{link.id}")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Rosalind Quenby" in page
    assert "07700 900 123" in page  # phone: shared
    assert "Likes tea" in page
    assert f"Age {link.shared_age}" in page or str(link.shared_age) in page
    # Never shown: what was not shared, and what the case holds.
    body = response.text
    for secret in (
        "rosalind.quenby@example.com",
        resident.nhs_number,
        f"{resident.nhs_number[:3]} {resident.nhs_number[3:6]} {resident.nhs_number[6:]}",
        "17 Hidden Terrace",
        "CV6 9ZZ",
        "15 June 1948",
        "1948-06-15",
        "15/06/1948",
        link.referral.reference,
    ):
        assert secret not in body, secret
        assert secret not in page, secret
    assert "Not shared" in page


def test_accepting_a_referral(browser, org, member):
    activity = an_activity(org, capacity=10, spaces_available=3)
    link = sent_referral(activity)
    url = f"/organisation/referrals/{link.id}"
    page = browser.get(url).text

    response = browser.post(f"{url}/accept", data=BrowserForm(page, f"{url}/accept").data)

    assert response.status_code == 302
    saved = fresh(ActivityReferral, link.id)
    assert saved.status == ActivityReferralStatus.ACCEPTED
    assert saved.responded_by_id == member.id
    assert saved.responded_at is not None
    assert fresh(Activity, activity.id).spaces_available == 2
    (alert,) = db.session.scalars(sa.select(Alert)).all()
    assert alert.kind == AlertKind.ACTIVITY_RESPONSE
    assert alert.user_id == saved.referral.navigator_id
    after = browser.get(response.headers["Location"]).text
    assert "The navigator has been told." in flashed(after)
    assert "Status: Accepted" in text_of(after)
    # Accepting twice is refused, and nothing changes.
    again = browser.post(f"{url}/accept", data={"version": str(saved.version)})
    assert again.status_code == 400
    assert "This referral is accepted, so that cannot be done now." in text_of(again.text)
    assert fresh(Activity, activity.id).spaces_available == 2


def test_accepting_from_a_stale_page_is_a_conflict(browser, org):
    link = sent_referral(an_activity(org))
    response = browser.post(f"/organisation/referrals/{link.id}/accept", data={"version": "0"})
    assert response.status_code == 409
    assert "Someone else changed this just now" in text_of(response.text)
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.SENT


def test_declining_needs_a_reason(browser, org):
    link = sent_referral(an_activity(org))
    url = f"/organisation/referrals/{link.id}/decline"

    refused = browser.post(url, data={"reason": "   ", "version": "1"})

    assert refused.status_code == 400
    assert error_beside(refused.text, "reason") == "Say why you cannot take this referral"
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.SENT

    done = browser.post(url, data={"reason": "We are full until spring", "version": "1"})

    assert done.status_code == 302
    saved = fresh(ActivityReferral, link.id)
    assert saved.status == ActivityReferralStatus.DECLINED
    assert saved.decline_reason == "We are full until spring"
    (alert,) = db.session.scalars(sa.select(Alert)).all()
    assert alert.kind == AlertKind.ACTIVITY_DECLINED
    assert "We are full until spring" in alert.message


def test_attendance_in_the_future_is_refused_and_the_date_boxes_keep_what_was_typed(
    browser, org, member
):
    link = accepted_referral(an_activity(org), member)
    url = f"/organisation/referrals/{link.id}/attendance"
    tomorrow = london_today() + timedelta(days=1)
    typed = {
        "session_on[day]": f"{tomorrow.day:02d}",
        "session_on[month]": str(tomorrow.month),
        "session_on[year]": str(tomorrow.year),
        "attended": "yes",
    }

    refused = browser.post(url, data=typed)

    assert refused.status_code == 400
    assert (
        error_beside(refused.text, "session_on") == "The session date must be today or in the past."
    )
    for name in ("session_on[day]", "session_on[month]", "session_on[year]"):
        assert input_value(refused.text, name) == typed[name], name
    assert count(ActivityAttendance) == 0
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.ACCEPTED


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"session_on[day]": "31", "session_on[month]": "2"}, "must be a real date"),
        ({"session_on[day]": "", "session_on[month]": "", "session_on[year]": ""}, None),
        ({"attended": None}, "Say whether they came"),
    ],
)
def test_attendance_needs_a_real_date_and_an_answer(browser, org, member, typed, message):
    link = accepted_referral(an_activity(org), member)
    today = london_today()
    data = {
        "session_on[day]": str(today.day),
        "session_on[month]": str(today.month),
        "session_on[year]": str(today.year),
        "attended": "yes",
        **typed,
    }
    data = {k: v for k, v in data.items() if v is not None}

    response = browser.post(f"/organisation/referrals/{link.id}/attendance", data=data)

    assert response.status_code == 400
    if message is None:
        assert error_beside(response.text, "session_on") == "Enter the date of the session"
    elif "date" in message:
        assert message in error_beside(response.text, "session_on")
        assert input_value(response.text, "session_on[day]") == "31"
    else:
        assert error_beside(response.text, "attended") == message
    assert count(ActivityAttendance) == 0


def test_recording_attendance_and_stopping(browser, org, member):
    activity = an_activity(org, capacity=10, spaces_available=4)
    link = accepted_referral(activity, member)
    today = london_today()
    url = f"/organisation/referrals/{link.id}"

    response = browser.post(
        f"{url}/attendance",
        data={
            "session_on[day]": str(today.day),
            "session_on[month]": str(today.month),
            "session_on[year]": str(today.year),
            "attended": "yes",
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).fragment == "attendance"
    (record,) = db.session.scalars(sa.select(ActivityAttendance)).all()
    assert record.session_on == today
    assert record.attended is True
    assert record.recorded_by_id == member.id
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.ATTENDED
    page = browser.get(url).text
    assert "Sessions recorded" in page
    assert "Attendance saved." in flashed(page)

    refused = browser.post(f"{url}/stop", data={"reason": ""})
    assert refused.status_code == 400
    assert error_beside(refused.text, "reason") == "Say why it has ended"
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.ATTENDED

    stopped = browser.post(f"{url}/stop", data={"reason": "Moved to Leamington"})
    assert stopped.status_code == 302
    saved = fresh(ActivityReferral, link.id)
    assert saved.status == ActivityReferralStatus.STOPPED
    assert saved.end_reason == "Moved to Leamington"
    assert saved.ended_at is not None
    # The place is free again: accepted took one (4 -> 3), stopping gives it back.
    assert fresh(Activity, activity.id).spaces_available == 4
    messages = [a.message for a in db.session.scalars(sa.select(Alert).order_by(Alert.id))]
    assert any("has stopped going to" in m and "Moved to Leamington" in m for m in messages)


def test_attendance_is_refused_before_the_referral_is_accepted(browser, org):
    link = sent_referral(an_activity(org))
    today = london_today()
    response = browser.post(
        f"/organisation/referrals/{link.id}/attendance",
        data={
            "session_on[day]": str(today.day),
            "session_on[month]": str(today.month),
            "session_on[year]": str(today.year),
            "attended": "yes",
        },
    )
    assert response.status_code == 400
    assert "This referral is sent to organisation, so that cannot be done now." in text_of(
        response.text
    )
    assert count(ActivityAttendance) == 0


def test_referral_pages_are_for_organisation_members_only(app, navigator, org):
    link = sent_referral(an_activity(org))
    staff = signed_in(app, navigator)
    assert staff.get(f"/organisation/referrals/{link.id}").status_code == 403
    assert staff.post(f"/organisation/referrals/{link.id}/accept").status_code == 403
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.SENT


def _date_boxes(day: date) -> dict[str, str]:
    return {
        "session_on[day]": str(day.day),
        "session_on[month]": str(day.month),
        "session_on[year]": str(day.year),
    }


def test_attendance_before_the_referral_was_sent_is_refused(browser, org, member):
    link = accepted_referral(an_activity(org), member)
    sent = london_today() - timedelta(days=3)
    stored = fresh(ActivityReferral, link.id)
    stored.sent_at = datetime(sent.year, sent.month, sent.day, 12, 0, tzinfo=UTC)
    db.session.commit()

    response = browser.post(
        f"/organisation/referrals/{link.id}/attendance",
        data={**_date_boxes(sent - timedelta(days=1)), "attended": "yes"},
    )

    assert response.status_code == 400
    assert error_beside(response.text, "session_on") == (
        "The session date must be on or after the day the referral was sent "
        f"({sent.day} {sent:%B %Y})."
    )
    assert count(ActivityAttendance) == 0


def test_the_day_a_referral_was_sent_is_the_hubs_day_not_utcs(browser, org, member):
    """Sent at 23:30 UTC on 1 July is 00:30 on 2 July in the UK: a session on 1 July came
    before the referral, and the page says it was sent on 2 July."""
    today = london_today()
    year = today.year if today > date(today.year, 7, 3) else today.year - 1
    link = accepted_referral(an_activity(org), member)
    stored = fresh(ActivityReferral, link.id)
    stored.sent_at = datetime(year, 7, 1, 23, 30, tzinfo=UTC)
    db.session.commit()
    page = text_of(browser.get(f"/organisation/referrals/{link.id}").text)
    assert f"Sent 2 July {year}" in page

    response = browser.post(
        f"/organisation/referrals/{link.id}/attendance",
        data={**_date_boxes(date(year, 7, 1)), "attended": "yes"},
    )

    assert response.status_code == 400
    assert error_beside(response.text, "session_on") == (
        f"The session date must be on or after the day the referral was sent (2 July {year})."
    )
    assert count(ActivityAttendance) == 0


def test_answers_need_the_forms_csrf_token(csrf_app, org, member):
    link = sent_referral(an_activity(org))
    browser = csrf_app.test_client()
    token = input_value(browser.get("/login").text, "csrf_token")
    logged_in = browser.post(
        "/login", data={"email": member.email, "password": PASSWORD, "csrf_token": token}
    )
    assert logged_in.status_code == 302
    url = f"/organisation/referrals/{link.id}"

    refused = browser.post(f"{url}/accept", data={"version": "1"})

    assert refused.status_code == 400
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.SENT

    form = BrowserForm(browser.get(url).text, f"{url}/accept").data
    assert form["csrf_token"] != [""]
    assert browser.post(f"{url}/accept", data=form).status_code == 302
    assert fresh(ActivityReferral, link.id).status == ActivityReferralStatus.ACCEPTED


def test_the_persons_name_is_escaped_everywhere_the_organisation_sees_it(browser, org):
    hostile = "<script>alert(1)</script>"
    link = sent_referral(an_activity(org, title="Walk <b>now</b>"), given_name=hostile)
    url = f"/organisation/referrals/{link.id}"

    pages = [
        browser.get("/organisation/referrals").text,
        browser.get(url).text,
        browser.get(browser.post(f"{url}/accept", data={"version": "1"}).headers["Location"]).text,
    ]

    for page in pages:
        assert hostile not in page
        assert "<b>now</b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"You accepted {hostile} Quenby." in text_of(pages[-1])
