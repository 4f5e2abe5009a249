"""From a case: referring the person to an activity, signposting, withdrawing, and seeing
the organisation's answers on the case page, its timeline and the alerts inbox.

The organisation gets the person's name and only the details ticked; the email that
tells it about a new referral carries no personal details at all.
"""

from __future__ import annotations

import html
import re
from datetime import date, time, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.db_types import london_today, utcnow
from portal.directory import activity_referrals
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
)
from portal.extensions import db
from portal.referrals.models import ClosureReason, ReferralStatus
from portal.referrals.working_days import add_working_days
from tests.cases.test_case_views import BrowserForm, case_for, signed_in
from tests.factories import make_activity, make_organisation, make_resident, make_user

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


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</section>", start)]


def links(*where) -> list[ActivityReferral]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ActivityReferral).where(*where)))


def fresh_link(link_id: int) -> ActivityReferral:
    db.session.expire_all()
    return db.session.get(ActivityReferral, link_id)


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def listed(**kw) -> Activity:
    organisation = kw.pop("organisation", None) or make_organisation(
        name="Friends of the Park", email="hello@friends.org"
    )
    fields = {
        "title": "Tuesday walk",
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


def person_case(navigator, **kw):
    resident = make_resident(
        given_name="Rosalind",
        family_name="Quenby",
        phone="07700 900 123",
        email="rosalind.quenby@example.com",
        address="17 Hidden Terrace",
        date_of_birth=date(1948, 6, 15),
    )
    return case_for(navigator, resident=resident, **kw)


@pytest.fixture
def nav_browser(app, navigator):
    return signed_in(app, navigator)


# --- referring --------------------------------------------------------------------------------


def test_refer_page_shows_what_will_be_shared(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed()

    response = nav_browser.get(f"/cases/{referral.id}/activities/{activity.id}/refer")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Refer to Tuesday walk" in page
    assert "Friends of the Park will see Rosalind's name and only the details you tick" in page
    assert "Their phone number" in page
    assert "07700 900 123" in page
    assert "Their email address" in page
    assert "rosalind.quenby@example.com" in page
    assert "Their age" in page
    assert "The person has agreed that we share these details with this organisation" in page
    assert not re.search(r'name="share_phone"[^>]*checked', response.text)
    assert not re.search(r'name="consent"[^>]*checked', response.text)


def test_refer_without_consent_is_refused_and_saves_nothing(nav_browser, navigator, smtp_server):
    referral = person_case(navigator)
    activity = listed()

    response = nav_browser.post(
        f"/cases/{referral.id}/activities/{activity.id}/refer",
        data={"share_phone": "y", "note": "Likes tea"},
    )

    assert response.status_code == 400
    assert (
        error_beside(response.text, "consent")
        == "Confirm the person agreed to share these details before you refer them"
    )
    # What was ticked and typed stays.
    assert re.search(r'name="share_phone"[^>]*checked', response.text)
    assert "Likes tea" in response.text
    assert links() == []
    assert smtp_server.messages == []


def test_refer_with_consent_and_only_phone_shares_only_the_phone(
    nav_browser, navigator, smtp_server
):
    referral = person_case(navigator)
    activity = listed(title="Tuesday walk")
    member = make_user(Role.ORGANISATION_MEMBER, organisation_id=activity.organisation_id)
    url = f"/cases/{referral.id}/activities/{activity.id}/refer"
    form = BrowserForm(nav_browser.get(url).text, url).with_changes(
        share_phone="y", consent="y", note="Would like someone to meet her at the gate"
    )

    response = nav_browser.post(url, data=form)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.fragment) == (f"/cases/{referral.id}", "activities")
    (link,) = links()
    assert link.referral_id == referral.id
    assert link.activity_id == activity.id
    assert link.status == ActivityReferralStatus.SENT
    assert link.consent_confirmed is True
    assert link.person_name == "Rosalind Quenby"
    assert link.shared_phone == "07700 900 123"
    assert link.shared_email is None
    assert link.shared_age is None
    assert link.shared_note == "Would like someone to meet her at the gate"
    assert link.created_by_id == navigator.id
    assert link.sent_at is not None
    expected_by = add_working_days(
        london_today(), nav_browser.application.config["ACTIVITY_RESPONSE_WORKING_DAYS"]
    )
    assert link.respond_by == expected_by

    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted([member.email, "hello@friends.org"])
    for message in smtp_server.messages:
        assert message["Subject"] == "New referral for Tuesday walk"
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert f"/organisation/referrals/{link.id}" in body
        assert long_date(expected_by) in body
        for secret in (
            "Rosalind",
            "Quenby",
            "07700 900 123",
            "07700900123",
            "rosalind.quenby@example.com",
            "Hidden Terrace",
            "meet her at the gate",
            referral.reference,
        ):
            assert secret not in body, secret
            assert secret not in message["Subject"], secret

    case_page = nav_browser.get(response.headers["Location"])
    assert case_page.status_code == 200
    assert (
        f"Referred to Tuesday walk. Friends of the Park will answer by {long_date(expected_by)}."
        in text_of(case_page.text)
    )
    activities = text_of(section(case_page.text, "activities"))
    assert "Tuesday walk (Friends of the Park) · Sent to organisation" in activities
    assert f"answer due by {long_date(expected_by)}" in activities


def test_referring_twice_to_the_same_activity_is_refused(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed()
    url = f"/cases/{referral.id}/activities/{activity.id}/refer"
    assert nav_browser.post(url, data={"consent": "y"}).status_code == 302

    again = nav_browser.post(url, data={"consent": "y"})

    assert again.status_code == 400
    assert "Rosalind Quenby has already been referred to this activity." in text_of(again.text)
    assert len(links()) == 1


def test_signpost_only_activity_refuses_referral_and_records_a_signpost(
    nav_browser, navigator, smtp_server
):
    referral = person_case(navigator)
    activity = listed(title="Drop-in cafe", accepts_referrals=False)
    refer_url = f"/cases/{referral.id}/activities/{activity.id}/refer"

    page = nav_browser.get(refer_url)

    assert page.status_code == 200
    assert "This activity does not take referrals: the person contacts them directly." in text_of(
        page.text
    )
    assert 'name="consent"' not in page.text
    refused = nav_browser.post(refer_url, data={"consent": "y", "share_phone": "y"})
    assert refused.status_code == 400
    assert links() == []

    response = nav_browser.post(f"/cases/{referral.id}/activities/{activity.id}/signpost")

    assert response.status_code == 302
    (link,) = links()
    assert link.status == ActivityReferralStatus.SIGNPOSTED
    assert link.shared_phone is None
    assert link.person_name is None
    assert link.created_by_id == navigator.id
    assert smtp_server.messages == []
    case_page = nav_browser.get(response.headers["Location"]).text
    assert "Recorded: Rosalind Quenby was signposted to Drop-in cafe." in text_of(case_page)
    assert "Drop-in cafe (Friends of the Park) · Signposted" in text_of(
        section(case_page, "activities")
    )
    assert "Signposted to Drop-in cafe" in text_of(section(case_page, "timeline"))


def test_a_full_activity_cannot_be_referred_to(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed(capacity=8, spaces_available=0)
    url = f"/cases/{referral.id}/activities/{activity.id}/refer"
    assert "This activity has no spaces at the moment." in text_of(nav_browser.get(url).text)
    assert nav_browser.post(url, data={"consent": "y"}).status_code == 400
    assert links() == []


@pytest.mark.parametrize(
    "hidden",
    [
        pytest.param({"status": ActivityStatus.DRAFT}, id="draft"),
        pytest.param({"status": ActivityStatus.PAUSED}, id="paused"),
        pytest.param({"verified": False}, id="unverified"),
    ],
)
def test_an_activity_not_in_the_directory_is_404(nav_browser, navigator, hidden):
    referral = person_case(navigator)
    hidden = dict(hidden)
    verified = hidden.pop("verified", True)
    activity = listed(organisation=make_organisation(verified=verified), **hidden)
    base = f"/cases/{referral.id}/activities/{activity.id}"
    assert nav_browser.get(f"{base}/refer").status_code == 404
    assert nav_browser.post(f"{base}/refer", data={"consent": "y"}).status_code == 404
    assert nav_browser.post(f"{base}/signpost").status_code == 404
    assert links() == []


def test_a_navigator_cannot_refer_from_another_navigators_case(app, nav_browser, smtp_server):
    other = make_user(Role.NAVIGATOR)
    theirs = person_case(other)
    activity = listed()
    link = activity_referrals.refer(
        theirs,
        activity,
        other,
        activity_referrals.SharedDetails(phone=False, email=False, age=False, note=None),
        london_today(),
    )
    db.session.commit()
    base = f"/cases/{theirs.id}/activities/{activity.id}"

    get = nav_browser.get(f"{base}/refer")
    post = nav_browser.post(f"{base}/refer", data={"consent": "y", "share_phone": "y"})
    sign = nav_browser.post(f"{base}/signpost")
    withdraw = nav_browser.post(
        f"/cases/{theirs.id}/activity-referrals/{link.id}/withdraw", data={"reason": "Mine now"}
    )

    for response in (get, post, sign, withdraw):
        assert response.status_code == 404
        assert "Quenby" not in response.text
    assert [x.id for x in links()] == [link.id]
    assert fresh_link(link.id).status == ActivityReferralStatus.SENT
    assert smtp_server.messages == []


def test_a_coordinator_may_refer_from_any_case(app, navigator, coordinator):
    referral = person_case(navigator)
    activity = listed()
    browser = signed_in(app, coordinator)
    response = browser.post(
        f"/cases/{referral.id}/activities/{activity.id}/refer",
        data={"consent": "y", "share_email": "y"},
    )
    assert response.status_code == 302
    (link,) = links()
    assert link.created_by_id == coordinator.id
    assert link.shared_email == "rosalind.quenby@example.com"
    assert link.shared_phone is None


def test_a_closed_case_is_refused(nav_browser, navigator):
    referral = person_case(
        navigator,
        status=ReferralStatus.CLOSED,
        closed_at=utcnow(),
        closure_reason=ClosureReason.GOALS_MET,
        outcome_summary="Goals met",
    )
    activity = listed()
    signpost_only = listed(title="Cafe", accepts_referrals=False)
    refer_url = f"/cases/{referral.id}/activities/{activity.id}/refer"

    for response in (
        nav_browser.get(refer_url),
        nav_browser.post(refer_url, data={"consent": "y"}),
        nav_browser.post(f"/cases/{referral.id}/activities/{signpost_only.id}/signpost"),
    ):
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert (location.path, location.fragment) == (f"/cases/{referral.id}", "activities")
    page = nav_browser.get(f"/cases/{referral.id}").text
    assert "This case is not open, so nothing can be added to it." in text_of(page)
    assert links() == []


def test_withdrawing_needs_a_reason_and_stops_the_referral(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed()
    url = f"/cases/{referral.id}/activities/{activity.id}/refer"
    nav_browser.post(url, data={"consent": "y"})
    (link,) = links()
    withdraw = f"/cases/{referral.id}/activity-referrals/{link.id}/withdraw"
    case_page = nav_browser.get(f"/cases/{referral.id}").text
    assert f'action="{withdraw}"' in case_page

    refused = nav_browser.post(withdraw, data={"reason": " "})

    assert refused.status_code == 302
    assert "Say why the referral is being withdrawn." in text_of(
        nav_browser.get(refused.headers["Location"]).text
    )
    assert fresh_link(link.id).status == ActivityReferralStatus.SENT

    done = nav_browser.post(withdraw, data={"reason": "She found another group"})

    assert done.status_code == 302
    saved = fresh_link(link.id)
    assert saved.status == ActivityReferralStatus.STOPPED
    assert saved.end_reason == "Withdrawn: She found another group"
    assert saved.ended_at is not None
    page = nav_browser.get(done.headers["Location"]).text
    assert "The referral to Tuesday walk is withdrawn." in text_of(page)
    assert f'action="{withdraw}"' not in page
    assert "Stopped: Tuesday walk" in text_of(section(page, "timeline"))
    # Withdrawing twice is refused with the reason.
    again = nav_browser.post(withdraw, data={"reason": "Again"})
    assert "This referral is stopped attending, so that cannot be done now." in text_of(
        nav_browser.get(again.headers["Location"]).text
    )
    assert fresh_link(link.id).end_reason == "Withdrawn: She found another group"


def test_withdrawing_a_referral_of_another_case_is_404(nav_browser, navigator):
    mine = person_case(navigator)
    other_case = case_for(navigator)
    activity = listed()
    link = activity_referrals.refer(
        other_case,
        activity,
        navigator,
        activity_referrals.SharedDetails(phone=False, email=False, age=False, note=None),
        london_today(),
    )
    db.session.commit()
    response = nav_browser.post(
        f"/cases/{mine.id}/activity-referrals/{link.id}/withdraw", data={"reason": "x"}
    )
    assert response.status_code == 404
    assert fresh_link(link.id).status == ActivityReferralStatus.SENT


# --- the organisation's answers, seen from the case -------------------------------------------


def test_case_timeline_and_alerts_show_the_organisations_answers(nav_browser, navigator):
    referral = person_case(navigator)
    walk = listed(title="Tuesday walk")
    choir = listed(title="Choir", organisation=walk.organisation)
    member = make_user(
        Role.ORGANISATION_MEMBER, organisation_id=walk.organisation_id, full_name="Morgan Member"
    )
    for activity in (walk, choir):
        url = f"/cases/{referral.id}/activities/{activity.id}/refer"
        assert nav_browser.post(url, data={"consent": "y"}).status_code == 302
    walk_link = links(ActivityReferral.activity_id == walk.id)[0]
    choir_link = links(ActivityReferral.activity_id == choir.id)[0]
    today = london_today()

    activity_referrals.accept(walk_link, member)
    db.session.commit()
    activity_referrals.record_attendance(walk_link, member, today, True, today)
    db.session.commit()
    activity_referrals.decline(choir_link, member, "The choir is full until May")
    db.session.commit()

    page = nav_browser.get(f"/cases/{referral.id}").text
    timeline = text_of(section(page, "timeline"))
    assert "Referred to Tuesday walk (Friends of the Park)" in timeline
    assert "Referred to Choir (Friends of the Park)" in timeline
    assert "Friends of the Park accepted the referral to Tuesday walk" in timeline
    assert "Morgan Member (Organisation member)" in timeline
    assert f"Rosalind Quenby came to Tuesday walk on {long_date(today)}" in timeline
    assert "Friends of the Park declined the referral to Choir" in timeline
    assert "Reason given: The choir is full until May" in timeline
    activities = text_of(section(page, "activities"))
    assert "Tuesday walk (Friends of the Park) · Attended" in activities
    assert f"came to 1 session, last on {long_date(today)}" in activities
    assert "Choir (Friends of the Park) · Declined" in activities
    assert "“The choir is full until May”" in activities

    inbox = nav_browser.get("/alerts")
    assert inbox.status_code == 200
    alerts = text_of(inbox.text)
    assert "Friends of the Park accepted Rosalind Quenby for Tuesday walk." in alerts
    assert f"Rosalind Quenby went to Tuesday walk on {long_date(today)}." in alerts
    assert (
        "Friends of the Park declined Rosalind Quenby for Choir: The choir is full until May"
        in alerts
    )
    assert f"/cases/{referral.id}" in inbox.text


def test_an_organisation_stopping_is_on_the_case_and_in_the_alerts(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed()
    member = make_user(Role.ORGANISATION_MEMBER, organisation_id=activity.organisation_id)
    nav_browser.post(f"/cases/{referral.id}/activities/{activity.id}/refer", data={"consent": "y"})
    (link,) = links()
    activity_referrals.accept(link, member)
    db.session.commit()
    activity_referrals.stop(link, member, "Has not come for a month")
    db.session.commit()

    page = nav_browser.get(f"/cases/{referral.id}").text
    timeline = text_of(section(page, "timeline"))
    assert "Stopped: Tuesday walk" in timeline
    assert "Has not come for a month" in timeline
    assert "ended: Has not come for a month" in text_of(section(page, "activities"))
    assert (
        "Friends of the Park: Rosalind Quenby has stopped going to Tuesday walk. "
        "Has not come for a month" in text_of(nav_browser.get("/alerts").text)
    )


def test_the_answer_due_date_skips_weekends_and_bank_holidays(nav_browser, navigator):
    referral = person_case(navigator)
    activity = listed()
    nav_browser.post(f"/cases/{referral.id}/activities/{activity.id}/refer", data={"consent": "y"})
    (link,) = links()
    assert link.respond_by.weekday() < 5
    assert link.respond_by > london_today() + timedelta(days=9)


def test_hostile_activity_text_is_escaped_on_the_case_pages(nav_browser, navigator):
    hostile = "<script>alert(1)</script>"
    referral = person_case(navigator)
    organisation = make_organisation(name=f"Friends {hostile}")
    activity = listed(organisation=organisation, title=f"Walk {hostile}")
    member = make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    refer_url = f"/cases/{referral.id}/activities/{activity.id}/refer"
    refer_page = nav_browser.get(refer_url).text
    nav_browser.post(refer_url, data={"consent": "y"})
    (link,) = links()
    activity_referrals.decline(link, member, f"Sorry {hostile}")
    db.session.commit()

    for page in (
        refer_page,
        nav_browser.get(f"/cases/{referral.id}").text,
        nav_browser.get("/alerts").text,
    ):
        assert hostile not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
