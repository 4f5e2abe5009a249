"""The subject access pages: admins only, found by a posted form, downloads audited."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.templating import format_nhs_number
from tests.factories import PASSWORD, make_user
from tests.hostile import SCRIPT, assert_inert, page_text, pdf_text

FIND_RESIDENT = "/admin/subject-access/resident"
FIND_VOLUNTEER = "/admin/subject-access/volunteer"


def downloads(resident_id: int, volunteer_id: int) -> list[str]:
    return [
        f"/admin/subject-access/resident/{resident_id}.json",
        f"/admin/subject-access/resident/{resident_id}.pdf",
        f"/admin/subject-access/volunteer/{volunteer_id}.json",
        f"/admin/subject-access/volunteer/{volunteer_id}.pdf",
    ]


def events(db, action: str, object_type: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.object_type == object_type
            )
        )
    )


def addresses(page: str) -> list[str]:
    """Every address on the page: links, form targets and htmx attributes."""
    return re.findall(r'(?:href|action|src|hx-[a-z]+)="([^"]*)"', page)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_only_admins_reach_any_of_it(app, world, role):
    client = app.test_client()
    user = make_user(role)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    paths = downloads(world.resident.id, world.volunteer.id)
    for path in ["/admin/subject-access", *paths]:
        assert client.get(path).status_code == 403, path
    assert client.post(FIND_RESIDENT, data={"identifier": "SP-ZQ1111"}).status_code == 403
    assert client.post(FIND_VOLUNTEER, data={"email": "x@example.com"}).status_code == 403


def test_anonymous_people_are_sent_to_log_in(client, world):
    for path in ["/admin/subject-access", *downloads(world.resident.id, world.volunteer.id)]:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_search_page_posts_and_puts_nothing_in_the_address(logged_in_admin):
    response = logged_in_admin.get("/admin/subject-access")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count('method="post"') >= 2
    assert f'action="{FIND_RESIDENT}"' in page and f'action="{FIND_VOLUNTEER}"' in page
    assert response.headers["Cache-Control"] == "no-store"
    # An htmx request gets the same whole page: there is no part of it to swap.
    hx = logged_in_admin.get("/admin/subject-access", headers={"HX-Request": "true"})
    assert hx.status_code == 200 and "<html" in hx.get_data(as_text=True)
    assert "HX-Request" in hx.headers["Vary"]


@pytest.mark.parametrize(
    "typed",
    [
        "SP-ZQ1111",
        "sp-zq2222",
        " SP-ZQ2222 ",
        "nhs",  # replaced with the resident's NHS number, spaced as on a letter
    ],
)
def test_a_resident_is_found_by_reference_or_nhs_number(logged_in_admin, world, db, typed):
    if typed == "nhs":
        typed = format_nhs_number(world.resident.nhs_number)
    response = logged_in_admin.post(FIND_RESIDENT, data={"identifier": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    text = page_text(page)
    assert "Zebedee Quartermaine" in text and "SP-ZQ1111, SP-ZQ2222" in text
    assert f"/admin/subject-access/resident/{world.resident.id}.pdf" in addresses(page)
    assert f"/admin/subject-access/resident/{world.resident.id}.json" in addresses(page)
    for address in addresses(page):
        for identifier in ("SP-ZQ", world.resident.nhs_number, "Zebedee", "Quartermaine"):
            assert identifier.lower() not in address.lower(), address
    (viewed,) = events(db, "viewed", "subject_access_resident")
    assert viewed.object_id == str(world.resident.id)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("SP-NOPE99", "No referral has this reference"),
        ("999 000 0000", "Enter a valid NHS number"),
        ("123", "An NHS number must be 10 digits"),
        ("zebedee@example.com", "To find a volunteer, use their email below"),
        ("", "Enter a referral reference or NHS number"),
    ],
)
def test_nobody_found_says_why_beside_the_box_and_keeps_what_was_typed(
    logged_in_admin, world, db, typed, message
):
    response = logged_in_admin.post(FIND_RESIDENT, data={"identifier": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and 'href="#identifier"' in page
    assert message in page_text(page)
    assert re.search(r'id="identifier-error"', page)
    if typed:
        assert f'value="{typed}"' in page
    assert "Zebedee" not in page
    assert events(db, "viewed", "subject_access_resident") == []


def test_a_volunteer_is_found_by_email(logged_in_admin, world, db):
    email = world.volunteer.user.email.upper()
    response = logged_in_admin.post(FIND_VOLUNTEER, data={"email": email})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Bertram Buddyman" in page_text(page)
    assert f"/admin/subject-access/volunteer/{world.volunteer.id}.pdf" in addresses(page)
    assert not [a for a in addresses(page) if "@" in a]
    (viewed,) = events(db, "viewed", "subject_access_volunteer")
    assert viewed.object_id == str(world.volunteer.id)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("nobody@example.com", "No volunteer has this email address"),
        ("staff", "Enter an email address in the correct format"),
        ("navigator", "This email address is a staff account"),
    ],
)
def test_a_volunteer_not_found_says_why(logged_in_admin, world, typed, message):
    if typed == "navigator":
        typed = world.navigator.email
    response = logged_in_admin.post(FIND_VOLUNTEER, data={"email": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page_text(page) and 'href="#email"' in page
    assert f'value="{typed}"' in page


def test_what_was_typed_is_shown_back_inert(logged_in_admin, world):
    response = logged_in_admin.post(FIND_RESIDENT, data={"identifier": SCRIPT})
    assert response.status_code == 400
    assert_inert(response.get_data(as_text=True), SCRIPT, "subject access search")


def test_the_resident_downloads_are_attachments_and_audited(logged_in_admin, admin, world, db):
    base = f"/admin/subject-access/resident/{world.resident.id}"
    response = logged_in_admin.get(f"{base}.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert (
        f"subject-access-resident-{world.resident.id}-" in response.headers["Content-Disposition"]
    )
    assert response.headers["Cache-Control"] == "no-store"
    doc = json.loads(response.get_data(as_text=True))
    assert doc["person"]["family_name"] == "Quartermaine"
    assert doc["export"]["produced_by"] == f"{admin.full_name} (Administrator)"

    response = logged_in_admin.get(f"{base}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data)
    assert "Zebedee Quartermaine" in text and "SP-ZQ1111" in text
    assert admin.full_name in text

    exported = events(db, "exported", "subject_access_resident")
    assert [(e.object_id, e.actor_id, e.actor_role) for e in exported] == [
        (str(world.resident.id), admin.id, "admin")
    ] * 2


def test_the_volunteer_downloads_are_attachments_and_audited(logged_in_admin, admin, world, db):
    base = f"/admin/subject-access/volunteer/{world.volunteer.id}"
    response = logged_in_admin.get(f"{base}.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    doc = json.loads(response.get_data(as_text=True))
    assert doc["account"]["email"] == world.volunteer.user.email
    assert "Quartermaine" not in response.get_data(as_text=True)
    response = logged_in_admin.get(f"{base}.pdf")
    assert response.status_code == 200 and response.data[:5] == b"%PDF-"
    assert "Bertram Buddyman" in pdf_text(response.data)
    exported = events(db, "exported", "subject_access_volunteer")
    assert {e.object_id for e in exported} == {str(world.volunteer.id)} and len(exported) == 2


def test_a_later_export_lists_the_earlier_one_in_the_trail(logged_in_admin, world):
    base = f"/admin/subject-access/resident/{world.resident.id}.json"
    logged_in_admin.get(base)
    trail = json.loads(logged_in_admin.get(base).get_data(as_text=True))["audit_trail"]
    assert any(row["action"] == "Exported" for row in trail)


def test_an_unknown_person_is_404_and_nothing_is_audited(logged_in_admin, db, app):
    for path in downloads(999_999, 999_999):
        assert logged_in_admin.get(path).status_code == 404, path
    assert events(db, "exported", "subject_access_resident") == []
    assert events(db, "exported", "subject_access_volunteer") == []


def test_the_search_needs_a_csrf_token(csrf_app, world):
    client = csrf_app.test_client()
    admin = make_user(Role.ADMIN)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    response = client.post(FIND_RESIDENT, data={"identifier": "SP-ZQ1111"})
    assert response.status_code == 400
    assert "Zebedee" not in response.get_data(as_text=True)
