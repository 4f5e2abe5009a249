"""A name typed into a list's search box never goes into a page address
(portal/searches.py): the triage queue, caseloads and the volunteer board."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import session

from portal import searches
from portal.auth.models import Role
from portal.referrals.models import ReferralStatus
from tests import factories
from tests.conftest import _login

HTMX = {"HX-Request": "true"}
LISTS = [
    (Role.COORDINATOR, "/hub", {"status": "all"}),
    (Role.COORDINATOR, "/caseload", {}),
    (Role.NAVIGATOR, "/caseload", {}),
    (Role.COORDINATOR, "/volunteers", {}),
]


@pytest.fixture
def people(app):
    navigator = factories.make_user(Role.NAVIGATOR)
    for given, family in (("Edith", "Marsh"), ("Arthur", "Pennington")):
        resident = factories.make_resident(given_name=given, family_name=family)
        factories.make_referral(
            resident=resident, navigator_id=navigator.id, status=ReferralStatus.ACTIVE
        )
    factories.make_volunteer(user_kw={"full_name": "Edith Marshall"})
    factories.make_volunteer(user_kw={"full_name": "Arthur Penn"})
    return navigator


def _browser(app, role, navigator):
    user = navigator if role is Role.NAVIGATOR else factories.make_user(role)
    return _login(app.test_client(), user)


@pytest.mark.parametrize(("role", "address", "extra"), LISTS, ids=lambda v: getattr(v, "value", v))
def test_a_posted_search_is_shown_at_an_address_without_the_name(app, people, role, address, extra):
    browser = _browser(app, role, people)

    posted = browser.post(address, data={"q": "Marsh", **extra})

    assert posted.status_code == 303
    location = posted.headers["Location"]
    assert "marsh" not in location.lower()
    key = parse_qs(urlsplit(location).query)["search"][0]
    shown = browser.get(location)
    assert shown.status_code == 200
    assert "Marsh" in shown.text and "Penn" not in shown.text
    assert 'value="Marsh"' in shown.text  # the box keeps what was typed
    # The same words again keep their key, so searching does not fill the session.
    again = browser.post(address, data={"q": "Marsh", **extra})
    assert parse_qs(urlsplit(again.headers["Location"]).query)["search"] == [key]


@pytest.mark.parametrize(("role", "address", "extra"), LISTS, ids=lambda v: getattr(v, "value", v))
def test_htmx_gets_the_list_alone_at_the_address_with_the_key(app, people, role, address, extra):
    browser = _browser(app, role, people)

    answer = browser.post(address, data={"q": "Pennington Penn", **extra}, headers=HTMX)
    assert answer.status_code == 303  # htmx follows it and pushes the address it ends at
    followed = browser.get(answer.headers["Location"], headers=HTMX)

    assert followed.status_code == 200
    assert "<html" not in followed.text and 'id="q"' not in followed.text
    assert "Marsh" not in followed.text


@pytest.mark.parametrize(("role", "address", "extra"), LISTS, ids=lambda v: getattr(v, "value", v))
def test_a_name_written_into_the_address_searches_nothing(app, people, role, address, extra):
    browser = _browser(app, role, people)

    shown = browser.get(address, query_string={"q": "Marsh", **extra})

    assert shown.status_code == 200
    assert 'value="Marsh"' not in shown.text
    assert "Penn" in shown.text  # the list, unsearched


def test_a_key_from_someone_elses_session_finds_nothing_of_theirs(app, people):
    first = _browser(app, Role.COORDINATOR, people)
    second = _browser(app, Role.COORDINATOR, people)
    location = first.post("/hub", data={"q": "Marsh", "status": "all"}).headers["Location"]

    shown = second.get(location)

    assert shown.status_code == 200
    assert 'value="Marsh"' not in shown.text
    assert "Pennington" in shown.text  # the queue, unsearched


def test_page_links_carry_the_key_and_never_the_name(app, people):
    factories.make_referral(resident=factories.make_resident(family_name="Marsh"))
    size = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 1
    try:
        browser = _browser(app, Role.COORDINATOR, people)
        location = browser.post("/hub", data={"q": "Marsh", "status": "all"}).headers["Location"]
        key = parse_qs(urlsplit(location).query)["search"][0]
        shown = browser.get(location).text
    finally:
        app.config["PAGE_SIZE"] = size
    pager = shown[shown.index('class="nhsuk-pagination') :]
    assert f"search={key}" in pager and "page=2" in pager
    assert "Marsh" not in pager


def test_only_the_last_few_searches_are_kept(app):
    with app.test_request_context():
        keys = [searches.remember(f"name {n}") for n in range(searches.KEPT + 5)]
        kept = session[searches.SESSION_KEY]
        assert len(kept) == searches.KEPT
        assert searches.recall(keys[0]) == ""
        assert searches.recall(keys[-1]) == f"name {searches.KEPT + 4}"
        assert searches.remember(f"name {searches.KEPT + 4}") == keys[-1]
        assert searches.recall("made-up") == searches.recall(None) == ""


def test_long_searches_in_any_script_keep_the_session_cookie_small(app):
    with app.test_request_context():
        for n in range(searches.KEPT):
            newest = searches.remember(f"{n} " + "Ωмя名" * 25)
        assert searches.recall(newest).startswith(f"{searches.KEPT - 1} ")
        assert len(json.dumps(session[searches.SESSION_KEY])) <= searches.BUDGET
