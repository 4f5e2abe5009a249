"""Buddies from the case's side: a navigator proposes a volunteer, ends a match, closes the case.

Only a volunteer who may be matched can be proposed; everyone else is listed with the
reasons, and a proposal naming them anyway is refused with the reason beside the choice.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.referrals.models import ReferralStatus
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, VolunteerStatus
from portal.volunteers.training import add_months
from tests.cases.test_case_views import BrowserForm, case_for, flashed, signed_in
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_training_module,
    make_volunteer,
)

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


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def matches(db, *where) -> list[BuddyMatch]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(BuddyMatch).where(*where).order_by(BuddyMatch.id)))


def compliant(name: str, **kw):
    return make_compliant_volunteer(user_kw={"full_name": name}, **kw)


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def not_eligible(page: str) -> dict[str, list[str]]:
    """The list under 'Volunteers who cannot be proposed now': name -> reasons."""
    if "Volunteers who cannot be proposed now" not in page:
        return {}
    part = page[page.index("Volunteers who cannot be proposed now") :]
    part = part[: part.index("</ul>\n</ul>") if "</ul>\n</ul>" in part else len(part)]
    found = {}
    for name, reasons in re.findall(
        r"<li><strong>([^<]+)</strong><ul[^>]*>(.*?)</ul></li>", part, re.S
    ):
        found[html.unescape(name)] = [
            html.unescape(r) for r in re.findall(r"<li>(.*?)</li>", reasons, re.S)
        ]
    return found


def eligible(page: str) -> dict[str, str]:
    """The radios a navigator can choose from: name -> volunteer id."""
    found = {}
    for value, label in re.findall(
        r'name="volunteer_id" type="radio" value="(\d+)"[^>]*>\s*'
        r'<label class="nhsuk-label nhsuk-radios__label" for="[^"]+">([^<]+)</label>',
        page,
    ):
        found[html.unescape(label)] = value
    return found


# --- proposing --------------------------------------------------------------------------------


def test_navigator_proposes_a_compliant_volunteer_who_is_emailed(app, db, navigator, smtp_server):
    referral = case_for(navigator)
    volunteer = compliant("Gina Good")
    browser = signed_in(app, navigator)
    url = f"/cases/{referral.id}/buddies/new"
    page = browser.get(url).text
    assert eligible(page) == {"Gina Good": str(volunteer.id)}
    form = BrowserForm(page, url).with_changes(volunteer_id=str(volunteer.id))

    response = browser.post(url, data=form)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.fragment) == (f"/cases/{referral.id}", "buddies")
    case_page = browser.get(response.headers["Location"]).text
    assert (
        "Gina Good has been asked. They have been emailed and will answer in the portal."
        in flashed(case_page)
    )
    buddies = text_of(case_page[case_page.index('id="buddies"') :])
    assert "Gina Good · Proposed" in buddies

    (match,) = matches(db)
    assert match.referral_id == referral.id
    assert match.volunteer_id == volunteer.id
    assert match.status == BuddyMatchStatus.PROPOSED
    assert match.proposed_by_id == navigator.id

    (message,) = smtp_server.messages
    assert message["To"] == volunteer.user.email
    assert message["Subject"] == "Someone would like you as their buddy"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "/volunteering" in body
    # Nothing about the person leaves the portal.
    resident = referral.resident
    for secret in (resident.given_name, resident.family_name, referral.reference):
        assert secret not in body


def _expired_dbs():
    issued = date.today() - timedelta(days=4 * 365)
    volunteer = compliant("Ed Expired", dbs_issue_date=issued)
    return volunteer, f"Their DBS check ran out on {_day(add_months(issued, 36))}"


def _missing_training():
    volunteer = compliant("Nell Noncompliant")
    make_training_module(name="Lone working")
    return volunteer, "Training not done: Lone working"


def _in_vetting():
    volunteer = compliant("Vince Vetting", status=VolunteerStatus.VETTING)
    return volunteer, "Their status is vetting, not active"


def _full_up():
    volunteer = compliant("Fran Full", max_buddies=1)
    other = make_volunteer()  # anyone: only the count of current matches matters
    make_buddy_match(case_for(other.user), volunteer, other.user)
    return volunteer, "They already have 1 of 1 people"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_expired_dbs, id="expired-dbs"),
        pytest.param(_missing_training, id="training-not-done"),
        pytest.param(_in_vetting, id="vetting"),
        pytest.param(_full_up, id="no-room"),
    ],
)
def test_proposing_a_volunteer_who_may_not_be_matched_is_refused_with_the_reason(
    app, db, navigator, smtp_server, make
):
    referral = case_for(navigator)
    volunteer, reason = make()
    before = len(matches(db))
    browser = signed_in(app, navigator)

    response = browser.post(
        f"/cases/{referral.id}/buddies/new", data={"volunteer_id": str(volunteer.id)}
    )

    assert response.status_code == 400
    message = error_beside(response.text, "volunteer_id")
    assert message is not None
    assert message.startswith(f"{volunteer.user.full_name} cannot be proposed: ")
    assert reason in message
    assert len(matches(db)) == before
    assert matches(db, BuddyMatch.referral_id == referral.id) == []
    assert smtp_server.messages == []


def test_proposing_nobody_or_a_stranger_is_refused(app, db, navigator, make_user):
    referral = case_for(navigator)
    not_a_volunteer = make_user(Role.NAVIGATOR)
    browser = signed_in(app, navigator)
    url = f"/cases/{referral.id}/buddies/new"

    for data in ({}, {"volunteer_id": "999999"}, {"volunteer_id": str(not_a_volunteer.id)}):
        response = browser.post(url, data=data)
        assert response.status_code == 400
        assert error_beside(response.text, "volunteer_id") == "Choose a volunteer from the list"
    assert matches(db) == []


def test_propose_page_lists_who_cannot_be_proposed_and_why(app, navigator):
    referral = case_for(navigator)
    good = compliant("Gina Good")
    expired, expired_reason = _expired_dbs()
    compliant("Paula Paused", status=VolunteerStatus.PAUSED)
    compliant("Vince Vetting", status=VolunteerStatus.VETTING)
    compliant("Nick Navigator", role_buddy=False, role_navigator=True)

    page = signed_in(app, navigator).get(f"/cases/{referral.id}/buddies/new").text

    assert eligible(page) == {"Gina Good": str(good.id)}
    listed = not_eligible(page)
    assert listed == {
        "Ed Expired": [expired_reason],
        "Paula Paused": ["Their status is paused, not active"],
    }
    # Volunteers still being vetted, and those who do not buddy, are not offered at all.
    assert "Vince Vetting" not in page and "Nick Navigator" not in page
    assert expired.user.full_name in page


def test_propose_page_when_nobody_can_be_proposed(app, navigator):
    referral = case_for(navigator)
    compliant("Paula Paused", status=VolunteerStatus.PAUSED)

    page = signed_in(app, navigator).get(f"/cases/{referral.id}/buddies/new").text

    assert "No volunteer can be proposed at the moment." in page
    assert "Ask this volunteer" not in page
    assert not_eligible(page) == {"Paula Paused": ["Their status is paused, not active"]}


def test_another_navigators_case_is_not_found(app, db, navigator, make_user, smtp_server):
    someone_else = make_user(Role.NAVIGATOR)
    referral = case_for(someone_else)
    volunteer = compliant("Gina Good")
    match = make_buddy_match(referral, compliant("Ali Active"), someone_else)
    browser = signed_in(app, navigator)

    assert browser.get(f"/cases/{referral.id}/buddies/new").status_code == 404
    proposed = browser.post(
        f"/cases/{referral.id}/buddies/new", data={"volunteer_id": str(volunteer.id)}
    )
    assert proposed.status_code == 404
    ended = browser.post(
        f"/cases/{referral.id}/buddies/{match.id}/end", data={"reason": "Not mine to end"}
    )
    assert ended.status_code == 404

    assert [(m.id, m.status) for m in matches(db)] == [(match.id, BuddyMatchStatus.ACTIVE)]
    assert smtp_server.messages == []


# --- ending -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [BuddyMatchStatus.ACTIVE, BuddyMatchStatus.PROPOSED], ids=["end", "withdraw"]
)
def test_ending_a_match_needs_a_reason(app, db, navigator, status):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    volunteer = compliant("Ali Active")
    match = make_buddy_match(referral, volunteer, navigator, status=status)
    browser = signed_in(app, navigator)
    url = f"/cases/{referral.id}/buddies/{match.id}/end"

    refused = browser.post(url, data={"reason": "   "})

    assert refused.status_code == 400
    assert error_beside(refused.text, "reason") == "Say why the match is ending"
    assert matches(db)[0].status == status

    response = browser.post(url, data={"reason": "Harold would rather go to the group alone"})

    assert response.status_code == 302
    assert "The buddy match has ended" in flashed(browser.get(response.headers["Location"]).text)
    (ended,) = matches(db)
    assert ended.status == BuddyMatchStatus.ENDED
    assert ended.end_reason == "Harold would rather go to the group alone"
    assert ended.ended_by_id == navigator.id and ended.ended_at is not None
    # The volunteer no longer reaches the person.
    assert (
        signed_in(app, volunteer.user).get(f"/volunteering/buddies/{match.id}").status_code == 404
    )


def test_a_match_from_another_case_cannot_be_ended_through_this_one(app, db, navigator):
    mine = case_for(navigator)
    other = case_for(navigator)
    match = make_buddy_match(other, compliant("Ali Active"), navigator)

    response = signed_in(app, navigator).post(
        f"/cases/{mine.id}/buddies/{match.id}/end", data={"reason": "Wrong case"}
    )

    assert response.status_code == 404
    assert matches(db)[0].status == BuddyMatchStatus.ACTIVE


def test_closing_the_case_ends_its_buddy_match(app, db, navigator):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    volunteer = compliant("Ali Active")
    match = make_buddy_match(referral, volunteer, navigator)
    proposal = make_buddy_match(
        referral,
        compliant("Pam Proposed"),
        navigator,
        status=BuddyMatchStatus.PROPOSED,
        responded_at=None,
    )
    browser = signed_in(app, navigator)
    close = f"/cases/{referral.id}/close"
    form = BrowserForm(browser.get(close).text, close).with_changes(reason="moved_away")

    response = browser.post(close, data=form)

    assert response.status_code == 302
    for m in matches(db):
        assert m.status == BuddyMatchStatus.ENDED
        assert m.end_reason == "The person's support has ended"
        assert m.ended_by_id == navigator.id
        assert m.ended_at is not None and m.ended_at <= utcnow()
    assert {m.id for m in matches(db)} == {match.id, proposal.id}
    buddy = signed_in(app, volunteer.user)
    assert buddy.get(f"/volunteering/buddies/{match.id}").status_code == 404
    assert "You are not buddying anyone at the moment." in buddy.get("/volunteering").text
