"""The public directory (no login), an activity's page, and organisations registering.

Everything here is what a member of the public, or a navigator finding something for a
person, sees in the browser: the search and its filters through the query string, the
htmx results swap, the registration form and what it saves.
"""

from __future__ import annotations

import html
import re
from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role, User
from portal.db_types import london_today
from portal.directory.models import Activity, ActivityStatus, Frequency, Organisation
from portal.extensions import db
from tests.cases.test_case_views import case_for, signed_in
from tests.factories import make_activity, make_organisation

HTMX = {"HX-Request": "true"}
# A link or form that acts on a case: refer to, or record a signpost to, an activity.
CASE_ACTION = re.compile(r"/cases/\d+/activities/\d+/(refer|signpost)")

# --- helpers ----------------------------------------------------------------------------------


def listed(organisation: Organisation | None = None, **kw) -> Activity:
    """A published activity of a verified organisation, checked today: one the public sees."""
    fields = {
        "description": "A friendly group that meets every week.",
        "categories": ["social_connection"],
        "frequency": Frequency.WEEKLY,
        "days": [0],
        "start_time": time(10, 0),
        "end_time": time(11, 30),
        "venue_name": "Community hall",
        "postcode": "CV1 2AB",
        "last_confirmed_on": london_today(),
        **kw,
    }
    return make_activity(organisation or make_organisation(), **fields)


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def result_titles(page: str) -> list[str]:
    """The activity titles in the results list, in order."""
    return [
        html.unescape(title)
        for title in re.findall(
            r'<h3 class="nhsuk-card__heading nhsuk-heading-s"><a href="[^"]*">(.*?)</a></h3>', page
        )
    ]


def result_cards(page: str) -> dict[str, str]:
    """Each result card's markup, by the activity title it shows."""
    found = {}
    for chunk in page.split('<li class="nhsuk-card')[1:]:
        # The card's content is one <div> with no <div> inside it.
        card = chunk[: chunk.index("</div>")]
        titles = result_titles(card)
        assert len(titles) == 1, card
        found[titles[0]] = card
    return found


def error_beside(page: str, field_id: str) -> str | None:
    match = re.search(
        rf'id="{re.escape(field_id)}-error"[^>]*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error:\s*</span>(.*?)\s*</span>',
        page,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def input_value(page: str, name: str) -> str | None:
    """The value an <input name=...> is drawn with (what the person typed, kept)."""
    for tag in re.findall(r"<input\b[^>]*>", page):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            match = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(match.group(1)) if match else ""
    return None


def textarea_value(page: str, name: str) -> str | None:
    match = re.search(
        rf'<textarea\b[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S
    )
    return html.unescape(match.group(1)).strip() if match else None


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def long_date(day) -> str:
    return f"{day.day} {day:%B %Y}"


# --- the directory ----------------------------------------------------------------------------


def test_directory_is_public_and_lists_published_activities_of_verified_organisations(client):
    walking = listed(title="Walking group")
    choir = listed(title="Community choir")

    response = client.get("/directory")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<html" in response.text
    assert sorted(result_titles(response.text)) == ["Community choir", "Walking group"]
    assert "2 activities" in text_of(response.text)
    cards = result_cards(response.text)
    assert walking.organisation.name in cards["Walking group"]
    assert f"/directory/activities/{choir.uuid}" in cards["Community choir"]


@pytest.mark.parametrize(
    "hide",
    [
        pytest.param({"status": ActivityStatus.DRAFT}, id="draft"),
        pytest.param({"status": ActivityStatus.PAUSED}, id="paused"),
        pytest.param({"status": ActivityStatus.ARCHIVED}, id="archived"),
        pytest.param({"verified": False}, id="unverified-organisation"),
    ],
)
def test_unpublished_or_unverified_activities_are_never_shown(client, hide):
    shown = listed(title="Shown walking group")
    hide = dict(hide)
    verified = hide.pop("verified", True)
    hidden = listed(make_organisation(verified=verified), title="Hidden walking group", **hide)

    for url in ("/directory", "/directory?q=hidden", "/directory?q=walking", "/directory?page=2"):
        page = client.get(url).text
        assert "Hidden walking group" not in page, url
    assert result_titles(client.get("/directory?q=walking").text) == [shown.title]
    assert client.get(f"/directory/activities/{hidden.uuid}").status_code == 404
    assert client.get(f"/directory/activities/{shown.uuid}").status_code == 200


def test_words_search_title_description_and_organisation_name(client):
    listed(title="Tuesday walking group", description="A gentle stroll round the park.")
    listed(title="Knit and natter", description="Bring your own wool.")
    listed(make_organisation(name="Foleshill Allotments"), title="Growing together")

    def found(q: str) -> list[str]:
        return result_titles(client.get("/directory", query_string={"q": q}).text)

    assert found("walk") == ["Tuesday walking group"]  # a prefix of a word
    assert found("wool") == ["Knit and natter"]  # in the description
    assert found("allotments") == ["Growing together"]  # the organisation's name
    assert found("walking park") == ["Tuesday walking group"]  # every word must match
    assert found("walking wool") == []
    assert found("alk") == []  # not the middle of a word
    assert "No activities match" in client.get("/directory?q=zebra").text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"category": "arts"}, ["Painting"], id="category"),
        pytest.param({"category": ["arts", "nature"]}, ["Gardening", "Painting"], id="categories"),
        pytest.param({"day": "2"}, ["Gardening"], id="day"),
        pytest.param({"day": ["0", "2"]}, ["Gardening", "Painting"], id="days"),
        pytest.param({"time": "afternoon"}, ["Gardening"], id="time-afternoon"),
        pytest.param({"time": "evening"}, ["Online quiz"], id="time-evening"),
        pytest.param({"time": "morning"}, ["Painting"], id="time-morning"),
        pytest.param({"cost": "free"}, ["Gardening", "Online quiz"], id="free"),
        pytest.param({"access": "step_free"}, ["Painting"], id="access"),
        pytest.param({"access": ["step_free", "hearing_loop"]}, ["Painting"], id="access-all-of"),
        pytest.param({"district": "CV2"}, ["Gardening"], id="district"),
        pytest.param({"district": "cv2 4ab"}, ["Gardening"], id="district-from-postcode"),
        pytest.param({"where": "online"}, ["Online quiz"], id="online"),
        pytest.param({"where": "in_person"}, ["Gardening", "Painting"], id="in-person"),
        pytest.param({"category": "arts", "day": "2"}, [], id="filters-combine"),
    ],
)
def test_each_filter_through_the_query_string(client, query, expected):
    listed(
        title="Painting",
        categories=["arts"],
        days=[0],
        start_time=time(10, 0),
        end_time=time(11, 0),
        cost_pence=300,
        step_free=True,
        hearing_loop=True,
        postcode="CV1 2AB",
    )
    listed(
        title="Gardening",
        categories=["nature"],
        days=[2],
        start_time=time(14, 0),
        end_time=time(16, 0),
        cost_pence=None,
        postcode="CV2 4AB",
    )
    listed(
        title="Online quiz",
        categories=["social_connection"],
        days=[4],
        start_time=time(19, 0),
        end_time=time(20, 0),
        online=True,
        venue_name=None,
        postcode=None,
    )

    response = client.get("/directory", query_string=query)

    assert response.status_code == 200
    assert sorted(result_titles(response.text)) == expected


def test_filters_are_shown_back_as_chosen(client):
    page = client.get(
        "/directory",
        query_string={"q": "walk", "category": "arts", "day": "3", "cost": "free"},
    ).text
    assert input_value(page, "q") == "walk"
    assert re.search(r'id="category-arts"[^>]*checked', page)
    assert re.search(r'id="day-3"[^>]*checked', page)
    assert re.search(r'id="cost-free"[^>]*checked', page)
    assert not re.search(r'id="category-nature"[^>]*checked', page)


def test_unknown_filter_values_are_ignored_and_a_bad_district_is_explained(client):
    listed(title="Walking group")

    page = client.get(
        "/directory",
        query_string={"category": "nope", "day": ["9", "x"], "time": "midnight", "where": "moon"},
    ).text
    assert result_titles(page) == ["Walking group"]

    response = client.get("/directory?district=nowhere")
    assert response.status_code == 200
    assert "Enter a postcode district like CV2, or a full postcode" in text_of(response.text)
    # The typed value is kept in the box, and no district filter was applied.
    assert input_value(response.text, "district") == "nowhere"
    assert result_titles(response.text) == ["Walking group"]


def test_takes_referrals_filter_is_for_staff_only(app, client, navigator):
    listed(title="Open group")
    listed(title="Signpost only group", accepts_referrals=False)
    listed(title="Full group", capacity=10, spaces_available=0)

    public = client.get("/directory?referrals=1").text
    assert sorted(result_titles(public)) == ["Full group", "Open group", "Signpost only group"]
    assert 'id="referrals"' not in public

    staff = signed_in(app, navigator).get("/directory?referrals=1").text
    assert result_titles(staff) == ["Open group"]
    assert 'id="referrals"' in staff


def test_results_are_paged_and_the_pager_keeps_the_filters(client):
    for n in range(23):
        listed(title=f"Walk {n:02d}")
    listed(title="Choir")

    first = client.get("/directory?q=walk").text
    assert len(result_titles(first)) == 20
    assert "23 activities found" in text_of(first)
    next_link = re.search(r'href="([^"]*page=2[^"]*)"', first)
    assert next_link is not None
    assert "q=walk" in html.unescape(next_link.group(1))
    second = client.get(html.unescape(next_link.group(1))).text
    assert result_titles(second) == ["Walk 20", "Walk 21", "Walk 22"]
    # Past the last page: nothing, not an error.
    beyond = client.get("/directory?q=walk&page=99")
    assert beyond.status_code == 200
    assert result_titles(beyond.text) == []


def test_htmx_request_gets_only_the_results_partial(client):
    listed(title="Walking group")
    listed(title="Choir")

    partial = client.get("/directory?q=walk", headers=HTMX)
    full = client.get("/directory?q=walk")

    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert "<form" not in partial.text
    assert partial.text.lstrip().startswith('<div id="directory-results"')
    assert result_titles(partial.text) == ["Walking group"]
    assert "HX-Request" in partial.headers.get("Vary", "")

    assert "<html" in full.text
    assert 'id="directory-results"' in full.text
    assert 'role="search"' in full.text
    assert result_titles(full.text) == ["Walking group"]


def test_results_show_the_schedule_and_next_session_date(client):
    today = london_today()
    in_two_days = today + timedelta(days=2)
    listed(
        title="Walking group",
        days=[in_two_days.weekday()],
        start_time=time(10, 0),
        end_time=time(11, 30),
    )
    listed(title="Drop in", frequency=Frequency.BY_ARRANGEMENT, days=[])

    cards = result_cards(client.get("/directory").text)

    walking = text_of(cards["Walking group"])
    weekday = in_two_days.strftime("%A")
    assert f"Every {weekday}, 10:00 to 11:30" in walking
    assert f"next on {long_date(in_two_days)}" in walking
    drop_in = text_of(cards["Drop in"])
    assert "By arrangement" in drop_in
    assert "next on" not in drop_in


def test_stale_listings_say_they_may_be_out_of_date(client):
    today = london_today()
    listed(title="Fresh group", last_confirmed_on=today - timedelta(days=30))
    listed(title="Old group", last_confirmed_on=today - timedelta(days=240))

    page = client.get("/directory").text
    cards = result_cards(page)

    assert "May be out of date" in cards["Old group"]
    assert "May be out of date" not in cards["Fresh group"]


# --- one activity's page ----------------------------------------------------------------------


def test_activity_page_shows_a_listed_activity(client):
    today = london_today()
    activity = listed(
        title="Walking group",
        description="A gentle walk.",
        days=[(today + timedelta(days=1)).weekday()],
        cost_pence=250,
        step_free=True,
        last_confirmed_on=today - timedelta(days=300),
    )

    response = client.get(f"/directory/activities/{activity.uuid}")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Walking group" in page
    assert activity.organisation.name in page
    assert "A gentle walk." in page
    assert "£2.50 a session" in page
    assert "Step-free access" in page
    assert long_date(today + timedelta(days=1)) in page
    assert "May be out of date" in page
    # The public never sees the navigators' buttons.
    assert not CASE_ACTION.search(response.text)


@pytest.mark.parametrize(
    "activity_uuid",
    [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "1",
        "%3Cscript%3E",
        "a" * 500,
    ],
)
def test_activity_page_is_404_for_anything_not_listed(client, activity_uuid):
    listed(title="Walking group")
    response = client.get(f"/directory/activities/{activity_uuid}")
    assert response.status_code == 404
    assert "Walking group" not in response.text


def test_activity_page_uses_the_uuid_not_the_row_id(client):
    activity = listed(title="Walking group")
    assert client.get(f"/directory/activities/{activity.id}").status_code == 404


# --- finding an activity for a case -----------------------------------------------------------


def test_navigator_with_own_case_sees_refer_links(app, navigator):
    referral = case_for(navigator)
    open_group = listed(title="Open group")
    signpost = listed(title="Signpost group", accepts_referrals=False)
    full = listed(title="Full group", capacity=5, spaces_available=0)
    browser = signed_in(app, navigator)

    page = browser.get(f"/directory?case={referral.id}").text

    given = referral.resident.given_name
    assert f"For {referral.resident.full_name}" in text_of(page)
    cards = result_cards(page)
    refer = f"/cases/{referral.id}/activities/{open_group.id}/refer"
    assert refer in cards["Open group"]
    assert f"Refer {given} to Open group" in text_of(cards["Open group"])
    assert not CASE_ACTION.search(cards["Signpost group"])
    assert "Signpost only" in text_of(cards["Signpost group"])
    assert not CASE_ACTION.search(cards["Full group"])
    # The case travels with the search and into the activity's page.
    assert f"case={referral.id}" in cards["Open group"]
    activity_page = browser.get(f"/directory/activities/{open_group.uuid}?case={referral.id}").text
    assert refer in activity_page
    signpost_page = browser.get(f"/directory/activities/{signpost.uuid}?case={referral.id}").text
    assert f"/cases/{referral.id}/activities/{signpost.id}/signpost" in signpost_page
    assert f"/activities/{signpost.id}/refer" not in signpost_page
    full_page = browser.get(f"/directory/activities/{full.uuid}?case={referral.id}").text
    assert not CASE_ACTION.search(full_page)
    # htmx searches keep the links too.
    partial = browser.get(f"/directory?case={referral.id}&q=open", headers=HTMX).text
    assert "<html" not in partial
    assert refer in partial


def test_another_navigators_case_gives_no_refer_links(app, navigator, make_user):
    someone_else = make_user(Role.NAVIGATOR)
    theirs = case_for(someone_else)
    activity = listed(title="Open group")
    browser = signed_in(app, navigator)

    for url in (
        f"/directory?case={theirs.id}",
        f"/directory/activities/{activity.uuid}?case={theirs.id}",
    ):
        response = browser.get(url)
        assert response.status_code == 200
        assert not CASE_ACTION.search(response.text)
        assert theirs.resident.family_name not in response.text
        assert f"case={theirs.id}" not in response.text


def test_case_argument_is_ignored_for_the_public_and_organisation_members(
    app, client, make_user, navigator
):
    referral = case_for(navigator)
    listed(title="Open group")
    member = make_user(Role.ORGANISATION_MEMBER)

    for browser in (client, signed_in(app, member)):
        page = browser.get(f"/directory?case={referral.id}").text
        assert not CASE_ACTION.search(page)
        assert referral.resident.family_name not in page


def test_closed_case_gives_no_refer_links(app, navigator):
    from portal.db_types import utcnow
    from portal.referrals.models import ClosureReason, ReferralStatus

    referral = case_for(
        navigator,
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.GOALS_MET,
        outcome_summary="Goals met",
    )
    listed(title="Open group")
    page = signed_in(app, navigator).get(f"/directory?case={referral.id}").text
    assert not CASE_ACTION.search(page)


# --- organisations registering ----------------------------------------------------------------


def registration(**changes) -> dict[str, str]:
    data = {
        "name": "Friends of the Park",
        "charity_number": "1123456",
        "company_number": "",
        "description": "We look after the park and run walks.",
        "email": "Hello@FriendsOfThePark.org",
        "phone": "024 7600 1234",
        "web_address": "https://friendsofthepark.org",
        "address": "1 Park Lane\nCoventry",
        "postcode": "cv3 6pt",
        "contact_name": "Pat Parker",
        "contact_email": "pat@friendsofthepark.org",
        "agree": "y",
        "website": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_registration_form_is_public(client):
    response = client.get("/organisations/register")
    assert response.status_code == 200
    assert 'name="charity_number"' in response.text
    # The honeypot is in the form, hidden from people.
    assert 'name="website"' in response.text


def test_registering_saves_an_unverified_organisation_and_its_member_and_emails_them(
    client, coordinator, smtp_server
):
    users_before = count(User)

    response = client.post("/organisations/register", data=registration())

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/organisations/register/thank-you"
    (organisation,) = db.session.scalars(sa.select(Organisation)).all()
    assert organisation.name == "Friends of the Park"
    assert organisation.verified_at is None
    assert not organisation.is_verified
    assert organisation.charity_number == "1123456"
    assert organisation.email == "hello@friendsofthepark.org"
    assert organisation.postcode == "CV3 6PT"
    assert organisation.website == "https://friendsofthepark.org"
    assert organisation.contact_name == "Pat Parker"
    assert count(User) == users_before + 1
    member = db.session.scalar(sa.select(User).where(User.email == "pat@friendsofthepark.org"))
    assert member.role == Role.ORGANISATION_MEMBER
    assert member.organisation_id == organisation.id
    assert member.full_name == "Pat Parker"

    (message,) = smtp_server.messages
    assert message["To"] == "pat@friendsofthepark.org"
    assert "Friends of the Park" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Hello Pat Parker" in body
    assert "http://localhost/invite/" in body

    # The hub is told there is someone to verify.
    alerts = db.session.scalars(sa.select(Alert).where(Alert.user_id == coordinator.id)).all()
    assert [a.kind for a in alerts] == [AlertKind.ORGANISATION_REGISTERED]

    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    assert "nhsuk-panel" in thanks.text
    assert "Registration received" in text_of(thanks.text)
    # Shown once: the flag is used up.
    assert "nhsuk-panel" not in client.get(response.headers["Location"]).text


def test_invalid_charity_number_is_refused_beside_the_field_and_keeps_what_was_typed(
    client, smtp_server
):
    users_before = count(User)

    response = client.post(
        "/organisations/register",
        data=registration(charity_number="12AB", description="We run <walks> & talks"),
    )

    assert response.status_code == 400
    message = error_beside(response.text, "charity_number")
    assert message is not None
    assert message.startswith("Enter a charity number in the right format")
    assert input_value(response.text, "charity_number") == "12AB"
    assert input_value(response.text, "name") == "Friends of the Park"
    assert input_value(response.text, "contact_email") == "pat@friendsofthepark.org"
    assert input_value(response.text, "postcode") == "cv3 6pt"
    assert textarea_value(response.text, "description") == "We run <walks> & talks"
    assert "There is a problem" in response.text
    assert count(Organisation) == 0
    assert count(User) == users_before
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("field", "value", "message_starts"),
    [
        ("postcode", "nowhere", "Enter a real postcode"),
        ("email", "not-an-email", "Enter an email address in the right format"),
        ("web_address", "friendsofthepark", "Enter a web address starting with https://"),
        ("company_number", "ABC", "Enter a company number in the right format"),
        ("name", "", "Enter the organisation's name"),
        ("agree", None, "Tick the box to confirm"),
    ],
)
def test_other_invalid_registrations_are_refused_beside_the_field(
    client, field, value, message_starts
):
    response = client.post("/organisations/register", data=registration(**{field: value}))

    assert response.status_code == 400
    message = error_beside(response.text, field)
    assert message is not None, field
    assert message.startswith(message_starts)
    assert count(Organisation) == 0


def test_honeypot_filled_saves_nothing_and_looks_the_same(client, smtp_server):
    users_before = count(User)

    response = client.post(
        "/organisations/register", data=registration(website="http://spam.example")
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/organisations/register/thank-you"
    assert count(Organisation) == 0
    assert count(User) == users_before
    assert smtp_server.messages == []
    assert "Registration received" in text_of(client.get(response.headers["Location"]).text)


@pytest.mark.parametrize("typed", ["pat@friendsofthepark.org", " PAT@FriendsOfThePark.org "])
def test_registering_with_an_email_that_has_an_account_saves_nothing_and_reveals_nothing(
    app, make_user, smtp_server, typed
):
    existing = make_user(Role.NAVIGATOR, email="pat@friendsofthepark.org")
    users_before = count(User)
    existing_browser = app.test_client()
    new_browser = app.test_client()

    taken = existing_browser.post("/organisations/register", data=registration(contact_email=typed))
    fresh = new_browser.post(
        "/organisations/register",
        data=registration(name="Another group", contact_email="sam@another.org"),
    )

    assert taken.status_code == fresh.status_code == 302
    assert taken.headers["Location"] == fresh.headers["Location"]
    taken_page = existing_browser.get(taken.headers["Location"])
    fresh_page = new_browser.get(fresh.headers["Location"])
    assert taken_page.status_code == fresh_page.status_code == 200
    assert text_of(taken_page.text) == text_of(fresh_page.text)

    names = db.session.scalars(sa.select(Organisation.name)).all()
    assert names == ["Another group"]
    assert count(User) == users_before + 1
    db.session.refresh(existing)
    assert existing.role == Role.NAVIGATOR
    assert existing.organisation_id is None
    # The owner of the address is told, by email, that nothing was saved.
    to_existing = [m for m in smtp_server.messages if m["To"] == existing.email]
    assert len(to_existing) == 1
    assert "already have an account" in to_existing[0]["Subject"]


def test_thank_you_page_without_registering_has_no_confirmation_panel(client):
    page = client.get("/organisations/register/thank-you")
    assert page.status_code == 200
    assert "nhsuk-panel" not in page.text
    assert "What happens next" in page.text


def test_registration_needs_the_forms_csrf_token(csrf_app, client, smtp_server):
    refused = client.post("/organisations/register", data=registration())

    assert refused.status_code == 400
    assert count(Organisation) == 0
    assert smtp_server.messages == []

    token = input_value(client.get("/organisations/register").text, "csrf_token")
    assert token
    done = client.post("/organisations/register", data=registration(csrf_token=token))
    assert done.status_code == 302
    assert count(Organisation) == 1


def test_sixth_registration_in_an_hour_is_refused(app, client, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_FORM_RATE_LIMIT", "5 per hour")
    # Mistakes are not counted: someone correcting the form is never locked out.
    for _ in range(3):
        bad = client.post("/organisations/register", data=registration(charity_number="x"))
        assert bad.status_code == 400
    for n in range(5):
        response = client.post(
            "/organisations/register",
            data=registration(name=f"Group {n}", contact_email=f"person{n}@example.org"),
        )
        assert response.status_code == 302, n

    refused = client.post(
        "/organisations/register",
        data=registration(name="Sixth group", contact_email="sixth@example.org"),
    )

    assert refused.status_code == 429
    assert "Too many attempts" in text_of(refused.text)
    assert count(Organisation) == 5
    assert client.get("/organisations/register").status_code == 200
