"""The Open Referral UK API: every answer checked against the ORUK schemas, formats on.

The schemas are the published ones, kept in the shared standards folder (never copied
into the repository): openapi.json for the page envelope and "/", service_list.json for
each item of /services, service.json for /services/{id}. A missing folder fails the
tests; it is never a reason to skip them.
"""

from __future__ import annotations

import html
import json
import os
import re
import uuid
from datetime import date, time, timedelta
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from portal.auth.models import Role
from portal.db_types import london_today
from portal.directory import oruk
from portal.directory.models import (
    Activity,
    ActivityCategory,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from tests.cases.test_case_views import signed_in
from tests.factories import make_activity, make_organisation, make_user

SCHEMA_BASE = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/compiled/"
OPENAPI_URI = "urn:oruk:openapi.json"

# --- the schemas ------------------------------------------------------------------------------


def oruk_schema_dir() -> Path:
    """The ORUK standards folder: $ORUK_SCHEMA_DIR, shared/ beside the repository, or /work."""
    candidates = []
    if os.environ.get("ORUK_SCHEMA_DIR"):
        candidates.append(Path(os.environ["ORUK_SCHEMA_DIR"]))
    candidates.append(Path(__file__).resolve().parents[3] / "shared/standards/oruk")
    candidates.append(Path("/work/shared/standards/oruk"))
    for folder in candidates:
        if all((folder / name).is_file() for name in ("openapi.json", "service.json")):
            return folder
    pytest.fail(
        "The Open Referral UK schemas were not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "). Set ORUK_SCHEMA_DIR to the folder holding openapi.json, service.json and "
        "service_list.json."
    )


@cache
def _load(name: str) -> dict:
    return json.loads((oruk_schema_dir() / name).read_text(encoding="utf-8"))


def _registry() -> Registry:
    """The compiled schemas under the addresses openapi.json refers to them by."""
    resources = [
        (SCHEMA_BASE + name, Resource.from_contents(_load(name), default_specification=DRAFT202012))
        for name in ("service.json", "service_list.json")
    ]
    resources.append(
        (
            OPENAPI_URI,
            Resource.from_contents(_load("openapi.json"), default_specification=DRAFT202012),
        )
    )
    return Registry().with_resources(resources)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _openapi_response_schema(path: str) -> dict:
    pointer = _pointer("paths", path, "get", "responses", "200", "content", "application/json")
    return {"$ref": f"{OPENAPI_URI}#/{pointer}/schema"}


def assert_valid(instance, schema: dict) -> None:
    validator = Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors
    )


def assert_valid_page(body: dict) -> None:
    """A page of /services: the openapi response schema (Page + contents of service_list)."""
    assert_valid(body, _openapi_response_schema("/services"))
    # The same again spelt out, with every Page field present and the contents required.
    page = _load("openapi.json")["components"]["schemas"]["Page"]
    assert_valid(
        body,
        {
            "allOf": [page],
            "type": "object",
            "required": [*page["properties"], "contents"],
            "properties": {"contents": {"type": "array", "items": _load("service_list.json")}},
        },
    )
    one_to_one = set(_load("service_list.json")["properties"])
    for item in body["contents"]:
        assert_valid(item, _load("service_list.json"))
        assert set(item) <= one_to_one, set(item) - one_to_one


def assert_valid_service(body: dict) -> None:
    assert_valid(body, _load("service.json"))
    assert_valid(body, _openapi_response_schema("/services/{id}"))
    assert set(body) <= set(_load("service.json")["properties"])


# --- requests ---------------------------------------------------------------------------------


def api(client, path: str, status: int = 200, **query):
    response = client.get(f"/api/oruk{path}", query_string=query)
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response


def services(client, status: int = 200, **query) -> dict:
    body = api(client, "/services", status, **query).get_json()
    if status == 200:
        assert_valid_page(body)
    return body


def service(client, service_id: str, status: int = 200) -> dict:
    body = api(client, f"/services/{service_id}", status).get_json()
    if status == 200:
        assert_valid_service(body)
    return body


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["contents"]]


def names(page: dict) -> list[str]:
    return sorted(item["name"] for item in page["contents"])


def assert_bad_request(client, **query) -> dict:
    body = api(client, "/services", 400, **query).get_json()
    assert body["error"] == "Bad request"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def listed(organisation: Organisation | None = None, **kw) -> Activity:
    fields = {
        "description": "A friendly weekly group.",
        "categories": ["social_connection"],
        "frequency": Frequency.WEEKLY,
        "days": [1],
        "start_time": time(10, 0),
        "end_time": time(11, 30),
        "venue_name": "Community hall",
        "postcode": "CV1 2AB",
        "last_confirmed_on": london_today(),
        **kw,
    }
    return make_activity(organisation or make_organisation(), **fields)


def every_id(value) -> list[str]:
    """Every "id" and "*_id" anywhere in a JSON document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if (key == "id" or key.endswith("_id")) and isinstance(item, str):
                found.append(item)
            else:
                found.extend(every_id(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(every_id(item))
    return found


# --- the schemas themselves -------------------------------------------------------------------


def test_schema_folder_is_found_and_holds_the_schemas():
    folder = oruk_schema_dir()
    for name in ("openapi.json", "service.json", "service_list.json"):
        assert (folder / name).is_file(), name
    assert "Page" in _load("openapi.json")["components"]["schemas"]
    assert set(_load("service.json")["required"]) >= {"id", "name", "status"}


def test_the_schema_check_catches_a_wrong_service():
    """The validator is really on: a service without a name, or with a bad id, fails."""
    bad = [
        {"id": str(uuid.uuid4()), "status": "active"},  # no name
        {"id": "not-a-uuid", "name": "x", "status": "active"},
        {"id": str(uuid.uuid4()), "name": "x", "status": "open"},
        {"id": str(uuid.uuid4()), "name": "x", "status": "active", "url": "not a uri"},
        {"id": str(uuid.uuid4()), "name": "x", "status": "active", "last_modified": "yesterday"},
    ]
    for instance in bad:
        with pytest.raises(AssertionError):
            assert_valid(instance, _load("service_list.json"))


# --- the endpoints ----------------------------------------------------------------------------


def test_info_endpoint_matches_the_root_schema(client):
    body = api(client, "/").get_json()

    assert_valid(body, _openapi_response_schema("/"))
    assert body["version"] == "3.0"
    assert body["profile"].startswith("https://")
    assert body["openapi_url"].endswith("/api/oruk/openapi.json")
    document = api(client, "/openapi.json").get_json()
    assert set(document["paths"]) >= {"/", "/services", "/services/{id}"}


def test_services_list_items_and_envelope_match_the_schemas(client):
    organisation = make_organisation(
        name="Friends of the Park",
        description="We look after the park.",
        email="hello@friends.org",
        website="https://friends.org",
        charity_number="SC012345",
        company_number="01234567",
    )
    listed(organisation, title="Walk", cost_pence=250, min_age=18, max_age=99)
    listed(organisation, title="Online quiz", online=True, venue_name=None, postcode=None)
    listed(
        make_organisation(),
        title="Old listing",
        last_confirmed_on=london_today() - timedelta(days=365),
        contact_email="walks@example.org",
    )

    body = services(client)

    assert body["total_items"] == 3
    assert body["total_pages"] == 1
    assert body["page_number"] == 1
    assert body["size"] == 3
    assert body["first_page"] is True
    assert body["last_page"] is True
    assert body["empty"] is False
    by_name = {item["name"]: item for item in body["contents"]}
    assert by_name["Walk"]["fees"] == "£2.50 a session"
    assert by_name["Walk"]["minimum_age"] == 18
    assert by_name["Walk"]["organization"]["id"] == organisation.uuid
    assert by_name["Walk"]["organization_id"] == organisation.uuid
    assert by_name["Walk"]["email"] == "hello@friends.org"
    assert by_name["Online quiz"]["fees"] == "Free"
    assert by_name["Old listing"]["email"] == "walks@example.org"
    assert "may be out of date" in by_name["Old listing"]["alert"]
    assert "alert" not in by_name["Walk"]
    assert by_name["Walk"]["assured_date"] == london_today().isoformat()
    assert all(item["status"] == "active" for item in body["contents"])


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            {
                "frequency": Frequency.WEEKLY,
                "days": [0, 3],
                "step_free": True,
                "hearing_loop": True,
            },
            id="weekly-with-access",
        ),
        pytest.param(
            {"frequency": Frequency.FORTNIGHTLY, "days": [2], "starts_on": date(2025, 1, 8)},
            id="fortnightly",
        ),
        pytest.param(
            {"frequency": Frequency.MONTHLY, "days": [4], "monthly_week": -1}, id="monthly-last"
        ),
        pytest.param(
            {
                "frequency": Frequency.BY_ARRANGEMENT,
                "days": [],
                "start_time": None,
                "end_time": None,
            },
            id="by-arrangement",
        ),
        pytest.param(
            {
                "online": True,
                "venue_name": None,
                "postcode": None,
                "start_time": time(19, 0),
                "end_time": time(20, 0),
            },
            id="online",
        ),
        pytest.param(
            {"online": True, "venue_name": "Library", "venue_address": "1 High St\nCoventry"},
            id="online-and-venue",
        ),
        pytest.param(
            {"cost_pence": 350, "contact_name": "Pat", "contact_email": "pat@example.org"},
            id="paid-with-contact",
        ),
        pytest.param(
            {"categories": ["arts", "nature", "carers"], "min_age": 0, "max_age": 120},
            id="many-categories",
        ),
        pytest.param(
            {"last_confirmed_on": None, "description": None, "schedule_note": "Not in August"},
            id="sparse",
        ),
    ],
)
def test_service_detail_matches_the_service_schema(client, kind):
    organisation = make_organisation(
        charity_number="1123456",
        company_number="SC123456",
        email="hello@friends.org",
        website="https://friends.org",
    )
    activity = listed(organisation, title="Walk", **kind)

    body = service(client, activity.uuid)

    assert body["id"] == activity.uuid
    assert body["name"] == "Walk"
    assert body["organization"]["id"] == organisation.uuid
    identifiers = body["organization"]["organization_identifiers"]
    assert {i["identifier"] for i in identifiers} == {"1123456", "SC123456"}
    assert len(body["schedules"]) == 1
    assert body["schedules"][0]["service_id"] == activity.uuid
    categories = kind.get("categories", ["social_connection"])
    assert len(body["attributes"]) == len(categories)
    for attribute in body["attributes"]:
        assert attribute["taxonomy_term"]["taxonomy_id"] == oruk.TAXONOMY_ID
    if kind.get("cost_pence"):
        assert body["cost_options"][0]["amount"] == kind["cost_pence"] / 100
    else:
        assert body["cost_options"] == []


def test_schedules_say_when_in_icalendar_terms(client):
    weekly = listed(title="Weekly", days=[0, 3], start_time=time(10, 0), end_time=time(11, 30))
    fortnightly = listed(
        title="Fortnightly",
        frequency=Frequency.FORTNIGHTLY,
        days=[2],
        starts_on=date(2025, 1, 8),
    )
    monthly = listed(title="Monthly", frequency=Frequency.MONTHLY, days=[4], monthly_week=-1)

    (w,) = service(client, weekly.uuid)["schedules"]
    assert (w["freq"], w["interval"], w["byday"]) == ("WEEKLY", 1, "MO,TH")
    assert (w["opens_at"], w["closes_at"]) == ("10:00", "11:30")
    (f,) = service(client, fortnightly.uuid)["schedules"]
    assert (f["freq"], f["interval"], f["byday"], f["dtstart"]) == (
        "WEEKLY",
        2,
        "WE",
        "2025-01-08",
    )
    (m,) = service(client, monthly.uuid)["schedules"]
    assert (m["freq"], m["byday"]) == ("MONTHLY", "-1FR")


# --- what is listed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        pytest.param({"status": ActivityStatus.DRAFT}, id="draft"),
        pytest.param({"status": ActivityStatus.PAUSED}, id="paused"),
        pytest.param({"status": ActivityStatus.ARCHIVED}, id="archived"),
        pytest.param({"verified": False}, id="unverified-organisation"),
    ],
)
def test_only_published_activities_of_verified_organisations_appear(client, hidden):
    shown = listed(title="Shown walk")
    hidden = dict(hidden)
    verified = hidden.pop("verified", True)
    secret = listed(make_organisation(verified=verified), title="Hidden walk", **hidden)

    for query in ({}, {"text": "walk"}, {"text": "hidden"}, {"per_page": "100"}):
        page = services(client, **query)
        assert secret.uuid not in ids(page), query
        assert "Hidden walk" not in json.dumps(page)
    assert ids(services(client)) == [shown.uuid]
    body = service(client, secret.uuid, 404)
    assert body == {"error": "Not found", "detail": "No published service has that id"}
    service(client, shown.uuid)


@pytest.mark.parametrize(
    "service_id",
    ["00000000-0000-4000-8000-000000000000", "nope", "1", "x" * 300, "%3Cscript%3E"],
)
def test_unknown_service_is_a_json_404(client, service_id):
    listed()
    body = service(client, service_id, 404)
    assert body["error"] == "Not found"


def test_ids_are_uuids_and_stable_across_requests_and_edits(app, client):
    organisation = make_organisation(charity_number="1123456")
    activity = listed(
        organisation,
        title="Walk",
        online=True,
        step_free=True,
        cost_pence=100,
        contact_name="Pat",
        categories=["physical_activity", "nature"],
    )

    first = service(client, activity.uuid)
    second = service(client, activity.uuid)
    listed_id = ids(services(client))

    assert first == second
    found = every_id(first)
    assert len(found) > 10
    for value in found:
        assert str(uuid.UUID(value)) == value, value
    assert listed_id == [activity.uuid]

    # The organisation edits the listing through its own page.
    member = make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    browser = signed_in(app, member)
    url = f"/activities/{activity.id}/edit"
    form = {
        "title": "Walk in the park",
        "description": "Now longer.",
        "categories": ["physical_activity", "nature"],
        "frequency": "weekly",
        "days": ["1"],
        "start_time": "10:00",
        "end_time": "11:30",
        "online": "yes",
        "venue_name": "Community hall",
        "postcode": "CV1 2AB",
        "cost": "1.00",
        "access": ["step_free"],
        "accepts_referrals": "yes",
        "contact_name": "Pat",
        "version": "1",
    }
    assert browser.post(url, data=form).status_code == 302

    after = service(client, activity.uuid)
    assert after["name"] == "Walk in the park"
    assert after["id"] == first["id"] == activity.uuid
    assert every_id(after) == found
    assert ids(services(client)) == [activity.uuid]


# --- filters ----------------------------------------------------------------------------------


def test_text_and_search_filter_by_words(client):
    walk = listed(title="Tuesday walking group", description="Round the park.")
    listed(title="Knit and natter", description="Bring your own wool.")

    for name in ("text", "search"):
        assert ids(services(client, **{name: "walk"})) == [walk.uuid]
        assert names(services(client, **{name: "wool"})) == ["Knit and natter"]
        assert services(client, **{name: "zebra"})["contents"] == []
    assert len(ids(services(client, text=""))) == 2


def test_taxonomy_filters(client):
    arts = listed(title="Painting", categories=["arts"])
    nature = listed(title="Gardening", categories=["nature", "physical_activity"])
    listed(title="Chat", categories=["social_connection"])
    # The term ids come from the API itself.
    terms = {
        a["taxonomy_term"]["term"]: a["taxonomy_term"]["id"]
        for activity in (arts, nature)
        for a in service(client, activity.uuid)["attributes"]
    }
    taxonomy = service(client, arts.uuid)["attributes"][0]["taxonomy_term"]["taxonomy_id"]

    assert len(ids(services(client, taxonomy_id=taxonomy))) == 3
    assert ids(services(client, taxonomy_id=terms["arts"])) == [arts.uuid]
    assert ids(services(client, taxonomy_term_id=terms["arts"])) == [arts.uuid]
    assert ids(services(client, taxonomy_term_id=terms["physical_activity"])) == [nature.uuid]
    assert (
        services(client, taxonomy_term_id=oruk.term_id(ActivityCategory("carers")))["contents"]
        == []
    )

    for bad in ("00000000-0000-4000-8000-000000000000", "arts", "<b>"):
        assert_bad_request(client, taxonomy_id=bad)
        assert_bad_request(client, taxonomy_term_id=bad)


def test_postcode_filters_by_district(client):
    cv1 = listed(title="In CV1", postcode="CV1 2AB")
    listed(title="In CV2", postcode="CV2 4AB")
    listed(title="Online", online=True, venue_name=None, postcode=None)

    assert ids(services(client, postcode="CV1 5RW")) == [cv1.uuid]
    assert ids(services(client, postcode="cv15rw")) == [cv1.uuid]
    assert names(services(client, postcode="CV2 1AA")) == ["In CV2"]
    assert services(client, postcode="CV7 9AA")["contents"] == []
    for bad in ("nowhere", "12345", "CV1", "<script>"):
        body = assert_bad_request(client, postcode=bad)
        assert "postcode" in body["detail"]


def test_filters_combine(client):
    walk = listed(title="Walk", categories=["physical_activity"], postcode="CV1 2AB")
    listed(title="Walk too", categories=["physical_activity"], postcode="CV2 4AB")
    listed(title="Walk and paint", categories=["arts"], postcode="CV1 2AB")
    term = oruk.term_id(ActivityCategory("physical_activity"))
    assert ids(services(client, text="walk", postcode="CV1 1AA", taxonomy_term_id=term)) == [
        walk.uuid
    ]


# --- paging -----------------------------------------------------------------------------------


def test_page_and_per_page(client):
    made = [listed(title=f"Activity {n}") for n in range(5)]

    first = services(client, per_page="2")
    assert (first["total_items"], first["total_pages"], first["page_number"]) == (5, 3, 1)
    assert (first["size"], first["first_page"], first["last_page"], first["empty"]) == (
        2,
        True,
        False,
        False,
    )
    middle = services(client, per_page="2", page="2")
    assert (middle["size"], middle["first_page"], middle["last_page"]) == (2, False, False)
    last = services(client, per_page="2", page="3")
    assert (last["size"], last["first_page"], last["last_page"], last["page_number"]) == (
        1,
        False,
        True,
        3,
    )
    seen = ids(first) + ids(middle) + ids(last)
    assert sorted(seen) == sorted(a.uuid for a in made)
    assert len(set(seen)) == 5
    everything = services(client, per_page="100")
    assert everything["size"] == 5
    assert ids(everything) == seen  # the same order, page by page
    default = services(client)
    assert default["size"] == 5


@pytest.mark.parametrize("page", ["3", "4", "1000", "999999999", "10000000000", "10" * 20])
def test_paging_beyond_the_last_page_is_an_empty_page(client, page):
    for n in range(3):
        listed(title=f"Activity {n}")

    body = services(client, per_page="2", page=page)

    assert body["contents"] == []
    assert body["size"] == 0
    assert body["empty"] is True
    assert body["last_page"] is True
    assert body["first_page"] is False
    assert body["page_number"] == int(page)
    assert body["total_items"] == 3
    assert body["total_pages"] == 2


def test_an_empty_directory_is_one_empty_page(client):
    body = services(client)
    assert body["contents"] == []
    assert (body["total_items"], body["total_pages"], body["empty"]) == (0, 1, True)
    assert (body["first_page"], body["last_page"]) == (True, True)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"per_page": "101"}, id="per_page-101"),
        pytest.param({"per_page": "0"}, id="per_page-0"),
        pytest.param({"per_page": "-5"}, id="per_page-negative"),
        pytest.param({"per_page": "ten"}, id="per_page-words"),
        pytest.param({"per_page": "1e2"}, id="per_page-exponent"),
        pytest.param({"per_page": "²"}, id="per_page-superscript"),
        pytest.param({"page": "0"}, id="page-0"),
        pytest.param({"page": "abc"}, id="page-abc"),
        pytest.param({"page": "-1"}, id="page-negative"),
        pytest.param({"page": "1.5"}, id="page-fraction"),
        pytest.param({"page": " 2"}, id="page-space"),
        pytest.param({"page": "²"}, id="page-superscript"),
    ],
)
def test_bad_paging_is_a_json_400(client, query):
    listed()
    body = assert_bad_request(client, **query)
    assert ("per_page" if "per_page" in query else "page") in body["detail"]


# --- free text is inert -----------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert(1)</script> " onmouseover=alert(1) {{7*7}}'
HOSTILE_DESCRIPTION = (
    'javascript:alert(1) hx-get="/x" <img src=x onerror=alert(1)> & {{7*7}} '
    "'single' </textarea> \u2028 end"
)
HOSTILE_ORGANISATION = "Friends & <b>Neighbours</b> {{7*7}}"


@pytest.fixture
def hostile(app) -> Activity:
    organisation = make_organisation(
        name=HOSTILE_ORGANISATION,
        description=HOSTILE_DESCRIPTION,
        website="javascript:alert(1)",
    )
    return listed(
        organisation,
        title=HOSTILE_TITLE,
        description=HOSTILE_DESCRIPTION,
        venue_name='Hall"><script>alert(2)</script>',
        schedule_note="<i>{{7*7}}</i>",
        contact_name="<svg onload=alert(3)>",
        categories=["arts"],
    )


def test_free_text_in_the_api_is_inert_and_exact(client, hostile):
    for response in (
        api(client, "/services"),
        api(client, "/services", text="script alert"),
        api(client, f"/services/{hostile.uuid}"),
    ):
        raw = response.get_data(as_text=True)
        assert "<script" not in raw
        assert "<" not in raw
        assert ">" not in raw
        assert "javascript:" not in json.loads(raw).get("organization", {}).get("website", "")

    (item,) = services(client)["contents"]
    assert item["name"] == HOSTILE_TITLE
    assert item["description"] == HOSTILE_DESCRIPTION
    assert item["organization"]["name"] == HOSTILE_ORGANISATION
    assert "website" not in item["organization"]  # a javascript: address is never a website
    detail = service(client, hostile.uuid)
    assert detail["name"] == HOSTILE_TITLE
    assert detail["description"] == HOSTILE_DESCRIPTION
    assert detail["schedules"][0]["notes"] == "<i>{{7*7}}</i>"
    assert detail["contacts"][0]["name"] == "<svg onload=alert(3)>"
    (venue,) = [s["location"] for s in detail["service_at_locations"]]
    assert venue["name"] == 'Hall"><script>alert(2)</script>'


def test_free_text_in_the_directory_pages_is_escaped(client, hostile):
    pages = [
        client.get("/directory").text,
        client.get("/directory", query_string={"q": "script"}).text,
        client.get("/directory", headers={"HX-Request": "true"}).text,
        client.get(f"/directory/activities/{hostile.uuid}").text,
    ]
    for page in pages:
        assert "<script>alert(1)</script>" not in page
        assert "<script>alert(2)</script>" not in page
        assert "<img src=x" not in page
        assert "<b>Neighbours</b>" not in page
        assert 'hx-get="/x"' not in page
        assert '" onmouseover=' not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "{{7*7}}" in page

    activity_page = pages[-1]
    heading = re.search(r"<h1>(.*?)</h1>", activity_page, re.S)
    assert html.unescape(heading.group(1)) == HOSTILE_TITLE
    listing = re.search(
        r'<h3 class="nhsuk-card__heading nhsuk-heading-s"><a href="[^"]*">(.*?)</a></h3>', pages[0]
    )
    assert html.unescape(listing.group(1)) == HOSTILE_TITLE


# --- headers ----------------------------------------------------------------------------------


def test_every_answer_is_json_open_to_any_origin(client):
    activity = listed()
    for path, query, status in (
        ("/", {}, 200),
        ("/openapi.json", {}, 200),
        ("/services", {}, 200),
        (f"/services/{activity.uuid}", {}, 200),
        ("/services/nope", {}, 404),
        ("/services", {"page": "0"}, 400),
    ):
        response = api(client, path, status, **query)
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        json.loads(response.get_data(as_text=True))


def test_the_api_needs_no_login_and_ignores_it(app, client, navigator):
    activity = listed()
    anonymous = service(client, activity.uuid)
    logged_in = signed_in(app, navigator)
    assert service(logged_in, activity.uuid) == anonymous
    assert db.session.get(Activity, activity.id).status == ActivityStatus.PUBLISHED


@pytest.mark.parametrize(
    "website",
    [
        "https://friends.org/café",
        "https://friends.org/events?days=mon|tue",
        "https://friends.org/{walks}",
    ],
)
def test_a_website_the_profile_form_accepts_is_a_valid_uri_in_the_api(app, client, website):
    """Whatever the organisation may save as its website, the API never emits a bad URI."""
    organisation = make_organisation(name="Friends")
    activity = listed(organisation)
    browser = signed_in(app, make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id))

    saved = browser.post(
        "/organisation/profile",
        data={
            "name": "Friends",
            "description": "We walk.",
            "email": "hello@friends.org",
            "web_address": website,
            "address": "1 Park Lane",
            "postcode": "CV3 6PT",
        },
    )

    assert saved.status_code in (302, 400)
    # service() and services() check the answers against the schemas, formats on.
    detail = service(client, activity.uuid)
    (item,) = services(client)["contents"]
    if saved.status_code == 302:
        assert detail["organization"].get("website") == item["organization"].get("website")
