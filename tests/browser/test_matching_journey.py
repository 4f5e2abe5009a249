"""Buddy suggestions in a real browser: a navigator opens the suggestion panel on a case, reads
why the top buddy is suggested and why another cannot be asked, asks the top buddy, and the
buddy says yes on their own page; and the same panel without JavaScript."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.extensions import db
from portal.matching.models import MatchDecision, MatchKind
from portal.matching.postcodes import load_demo_area
from portal.referrals.models import ReferralStatus, Route
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, Volunteer
from tests import factories

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Buddy:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class Case:
    referral_id: int
    buddies: dict[str, Buddy]


def _log_in_as(page, live_server, email: str, lands_on: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + lands_on)


def _log_in(page, live_server, role: Role) -> None:
    account = live_server.accounts[role]
    _log_in_as(page, live_server, account.email, account.start_path)


def _buddy(full_name: str, **kw) -> Volunteer:
    return factories.make_compliant_volunteer(user_kw={"full_name": full_name}, **kw)


def _case_with_buddies(
    live_server,
    *,
    given_name: str,
    family_name: str,
    postcode: str,
    language: str,
    buddies: list[tuple[str, dict]],
    at_capacity: tuple[str, dict],
) -> Case:
    """An active case on the navigator's caseload, compliant buddies, and one who is full.

    The buddy who is full has one person already and room for only one.
    """
    with live_server.app.app_context():
        load_demo_area()
        db.session.commit()
        navigator = db.session.scalar(
            sa.select(User).where(User.email == live_server.accounts[Role.NAVIGATOR].email)
        )
        resident = factories.make_resident(
            given_name=given_name, family_name=family_name, postcode=postcode, language=language
        )
        referral = factories.make_referral(
            resident=resident,
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            navigator_id=navigator.id,
            received_at=utcnow() - timedelta(days=12),
            triaged_at=utcnow() - timedelta(days=10),
            assigned_at=utcnow() - timedelta(days=9),
            first_contact_at=utcnow() - timedelta(days=7),
        )
        factories.make_contact(referral, navigator, days_ago=7)
        made = {name: _buddy(name, **kw) for name, kw in buddies}

        full_name, full_kw = at_capacity
        full = _buddy(full_name, max_buddies=1, **full_kw)
        someone_else = factories.make_referral(
            resident=factories.make_resident(postcode="CV1 2AA"),
            status=ReferralStatus.ACTIVE,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            navigator_id=navigator.id,
        )
        factories.make_buddy_match(someone_else, full, navigator)
        made[full_name] = full

        case = Case(
            referral.id,
            {name: Buddy(v.id, v.user.full_name, v.user.email) for name, v in made.items()},
        )
        db.session.remove()
    return case


def _decision(live_server, referral_id: int) -> MatchDecision:
    with live_server.app.app_context():
        decision = db.session.scalars(
            sa.select(MatchDecision).where(MatchDecision.referral_id == referral_id)
        ).one()
        db.session.expunge(decision)
        db.session.remove()
    return decision


def _matches(live_server, referral_id: int) -> list[tuple[int, BuddyMatchStatus]]:
    with live_server.app.app_context():
        rows = db.session.execute(
            sa.select(BuddyMatch.volunteer_id, BuddyMatch.status).where(
                BuddyMatch.referral_id == referral_id
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_navigator_asks_the_top_suggested_buddy_who_says_yes(
    axe_page, live_server, check_accessibility
):
    page = axe_page
    case = _case_with_buddies(
        live_server,
        given_name="Jaswinder",
        family_name="Gillingham",
        postcode="CV2 4GQ",
        language="Punjabi",
        buddies=[
            # Speaks Punjabi, a short way off: the obvious first choice.
            ("Harpreet Sandhu", {"postcode": "CV3 5FJ", "languages": ["English", "Punjabi"]}),
            # Next door, but English only.
            ("Gwendolyn Ashby", {"postcode": "CV2 1AB", "languages": ["English"]}),
            # Further away and speaks Polish.
            ("Tomasz Nowakowski", {"postcode": "CV8 1AA", "languages": ["English", "Polish"]}),
        ],
        # Would be the best of all (next door, Punjabi) if she had room.
        at_capacity=("Baljit Kaurwal", {"postcode": "CV2 3BB", "languages": ["Punjabi"]}),
    )
    top = case.buddies["Harpreet Sandhu"]
    case_url = live_server.url + f"/cases/{case.referral_id}"

    # The navigator opens the case from their caseload.
    _log_in(page, live_server, Role.NAVIGATOR)
    page.get_by_role("row").filter(has_text="Jaswinder Gillingham").get_by_role(
        "link", name="Jaswinder Gillingham"
    ).click()
    expect(page).to_have_url(case_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Jaswinder Gillingham")

    # htmx is a deferred script: wait until it has run, or a quick click is a plain link.
    page.wait_for_load_state("load")
    page.wait_for_function("typeof htmx === 'object'")
    # "Suggest buddies" swaps the panel in with htmx: no page load, the address stays.
    page.evaluate("window.__sameDocument = true")
    buddies = page.locator("#buddies")
    buddies.get_by_role("link", name="Suggest buddies").click()
    panel = page.locator("#buddy-suggestions")
    expect(
        panel.get_by_role("heading", level=3, name="Suggested buddies for Jaswinder")
    ).to_be_visible()
    expect(page).to_have_url(case_url)
    assert page.evaluate("window.__sameDocument === true")
    expect(buddies.get_by_role("link", name="Suggest buddies")).to_have_count(0)

    # The top suggestion is the Punjabi speaker, with the reasons in words.
    first = panel.locator("#buddy-suggestion-1")
    expect(first.get_by_role("heading", level=4)).to_contain_text("1. Harpreet Sandhu")
    reasons = first.get_by_role("listitem")
    expect(reasons.filter(has_text="Speaks Punjabi")).to_have_count(1)
    expect(reasons.filter(has_text=re.compile(r"^3\.5 km away \(CV3\)"))).to_have_count(1)
    expect(reasons.filter(has_text="Has capacity: buddying 0 of 2")).to_have_count(1)
    expect(reasons.first).to_contain_text("Speaks Punjabi")
    expect(
        first.get_by_role("button", name="Ask Harpreet Sandhu to buddy Jaswinder")
    ).to_be_visible()
    # The English speaker next door comes after her, and says why she scores less.
    second = panel.locator("#buddy-suggestion-2")
    expect(second.get_by_role("heading", level=4)).to_contain_text("2. Gwendolyn Ashby")
    expect(second.get_by_text("In the same postcode district (CV2)")).to_be_visible()
    expect(second.get_by_text("Does not speak Punjabi")).to_be_visible()
    # The buddy who is full is not among those that could be asked.
    expect(panel.locator("ol").get_by_text("Baljit Kaurwal")).to_have_count(0)
    check_accessibility(page, "the case page with buddy suggestions")

    # Why not Baljit? The look-up says, again without a page load.
    panel.get_by_label("Why not someone else?").fill("Kaurwal")
    panel.get_by_role("button", name="Look up").click()
    why_not = page.locator("#buddy-why-not")
    expect(why_not.get_by_text("Baljit Kaurwal")).to_be_visible()
    expect(why_not).to_contain_text("cannot be asked, because")
    expect(why_not.get_by_text("At capacity: buddying 1 of 1")).to_be_visible()
    expect(why_not.get_by_role("button")).to_have_count(0)
    expect(page).to_have_url(case_url)
    assert page.evaluate("window.__sameDocument === true")
    # The panel is still there around the answer, with the name typed kept.
    expect(page.locator("#buddy-suggestions").get_by_label("Why not someone else?")).to_have_value(
        "Kaurwal"
    )
    check_accessibility(page, "the case page with a why-not answer")

    # Ask the top buddy: the case page shows the proposal.
    page.locator("#buddy-suggestion-1").get_by_role(
        "button", name="Ask Harpreet Sandhu to buddy Jaswinder"
    ).click()
    expect(page).to_have_url(case_url + "#buddies")
    expect(page.get_by_text("Harpreet Sandhu has been asked.")).to_be_visible()
    proposal = page.locator("#buddies").get_by_role("listitem").filter(has_text="Harpreet Sandhu")
    expect(proposal).to_contain_text("Harpreet Sandhu · Proposed")
    expect(proposal.get_by_text("Withdraw this proposal")).to_be_visible()
    expect(
        page.locator("#buddies").get_by_role("link", name="Propose another buddy")
    ).to_be_visible()
    check_accessibility(page, "the case page with a buddy proposed")

    assert _matches(live_server, case.referral_id) == [(top.id, BuddyMatchStatus.PROPOSED)]
    decision = _decision(live_server, case.referral_id)
    assert decision.kind == MatchKind.BUDDY
    assert (decision.candidate_id, decision.rank, decision.top_candidate_id) == (top.id, 1, top.id)
    assert decision.from_suggestions is True
    assert "Speaks Punjabi" in decision.reasons
    assert decision.candidate_name == "Harpreet Sandhu"

    # Harpreet logs in, in a fresh session, and sees she has been asked.
    page.context.clear_cookies()
    _log_in_as(page, live_server, top.email, "/volunteering")
    expect(page.get_by_role("heading", level=1)).to_have_text("My volunteering")
    expect(page.get_by_role("heading", name="Waiting for your answer")).to_be_visible()
    check_accessibility(page, "My volunteering, with a proposal from the suggestions")
    page.get_by_role("link", name="Would you buddy Jaswinder?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Would you buddy Jaswinder?")
    expect(page.get_by_text("Jaswinder lives in CV2")).to_be_visible()
    page.get_by_role("button", name="Yes, I will be Jaswinder's buddy").click()
    expect(page.get_by_text("Thank you. You are now Jaswinder's buddy.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jaswinder")

    page.get_by_role("link", name="My volunteering").first.click()
    expect(page.get_by_role("heading", name="Waiting for your answer")).to_have_count(0)
    expect(page.get_by_role("link", name="Jaswinder", exact=True)).to_be_visible()
    assert _matches(live_server, case.referral_id) == [(top.id, BuddyMatchStatus.ACTIVE)]


def _no_script_context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    context.route(
        lambda url: urlsplit(url).hostname != "127.0.0.1",
        lambda route: route.abort("blockedbyclient"),
    )
    return context


def _ranked_names(html: str) -> list[str]:
    """ "1. Name" for each suggestion card in the panel's HTML, in order."""
    return re.findall(r'class="nhsuk-card__heading[^"]*">(\d+\. [^<]+?) <span', html)


def test_the_suggestion_panel_works_without_javascript(browser, live_server):
    case = _case_with_buddies(
        live_server,
        given_name="Hansaben",
        family_name="Mistry",
        postcode="CV6 1AB",
        language="Gujarati",
        buddies=[
            ("Nisha Desaiwala", {"postcode": "CV6 2CD", "languages": ["Gujarati", "English"]}),
            ("Oliver Prycethorne", {"postcode": "CV1 3EF", "languages": ["English"]}),
        ],
        at_capacity=("Devika Joshipura", {"postcode": "CV6 4GH", "languages": ["Gujarati"]}),
    )
    top = case.buddies["Nisha Desaiwala"]
    case_path = f"/cases/{case.referral_id}"
    panel_path = f"{case_path}/suggestions/buddies"

    context = _no_script_context(browser, live_server)
    page = context.new_page()
    try:
        _log_in(page, live_server, Role.NAVIGATOR)
        page.goto(case_path)
        expect(page.get_by_role("heading", level=1)).to_have_text("Hansaben Mistry")

        # Without htmx the link is an ordinary link to the panel as a page of its own.
        page.locator("#buddies").get_by_role("link", name="Suggest buddies").click()
        expect(page).to_have_url(live_server.url + panel_path)
        expect(page.get_by_role("heading", level=1)).to_have_text("Suggested buddies")
        expect(
            page.get_by_role("heading", level=2, name="Suggested buddies for Hansaben")
        ).to_be_visible()
        expect(page.get_by_role("link", name="Back to the case")).to_have_attribute(
            "href", re.compile(rf"{case_path}#buddies$")
        )
        first = page.locator("#buddy-suggestion-1")
        expect(first.get_by_role("heading", level=3)).to_contain_text("1. Nisha Desaiwala")
        expect(first.get_by_text("Speaks Gujarati")).to_be_visible()
        expect(first.get_by_text("In the same postcode district (CV6)")).to_be_visible()
        second = page.locator("#buddy-suggestion-2")
        expect(second.get_by_role("heading", level=3)).to_contain_text("2. Oliver Prycethorne")
        expect(second.get_by_text(re.compile(r"km away \(CV1\)"))).to_be_visible()

        # The same suggestions, in the same order, as the panel htmx swaps into the case page.
        partial = page.request.get(panel_path, headers={"HX-Request": "true"})
        assert partial.ok
        html = partial.text()
        assert "<h1" not in html and 'id="buddy-suggestions"' in html
        on_the_page = _ranked_names(page.locator("#buddy-suggestions").inner_html())
        assert on_the_page[:2] == ["1. Nisha Desaiwala", "2. Oliver Prycethorne"]
        assert _ranked_names(html) == on_the_page

        # The look-up is an ordinary form too.
        page.get_by_label("Why not someone else?").fill("Joshipura")
        page.get_by_role("button", name="Look up").click()
        # Posted: the name typed stays out of the address.
        expect(page).to_have_url(re.compile(rf"{re.escape(panel_path)}$"))
        why_not = page.locator("#buddy-why-not")
        expect(why_not.get_by_text("Devika Joshipura")).to_be_visible()
        expect(why_not.get_by_text("At capacity: buddying 1 of 1")).to_be_visible()
        expect(page.get_by_label("Why not someone else?")).to_have_value("Joshipura")

        # And the button asks the buddy, back on the case page.
        page.locator("#buddy-suggestion-1").get_by_role(
            "button", name="Ask Nisha Desaiwala to buddy Hansaben"
        ).click()
        expect(page).to_have_url(live_server.url + case_path + "#buddies")
        expect(page.get_by_text("Nisha Desaiwala has been asked.")).to_be_visible()
        expect(
            page.locator("#buddies").get_by_role("listitem").filter(has_text="Nisha Desaiwala")
        ).to_contain_text("Nisha Desaiwala · Proposed")
    finally:
        context.close()

    assert _matches(live_server, case.referral_id) == [(top.id, BuddyMatchStatus.PROPOSED)]
    decision = _decision(live_server, case.referral_id)
    assert (decision.rank, decision.from_suggestions) == (1, True)
