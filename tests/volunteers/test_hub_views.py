"""The hub's volunteer pages: the board, one volunteer's vetting, DBS and training, the lists
coordinators watch (running out, supervision, hours) and the admins' training courses.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.db_types import utcnow
from portal.referrals.models import ReferralStatus
from portal.volunteers.models import (
    DbsLevel,
    HoursKind,
    LeftReason,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)
from portal.volunteers.training import add_months
from tests.cases.test_case_views import BrowserForm, flashed, signed_in
from tests.factories import (
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_referral,
    make_training_module,
    make_volunteer,
)
from tests.statements import statements_sent

HTMX = {"HX-Request": "true"}


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


def fresh(db, volunteer: Volunteer) -> Volunteer:
    db.session.expire_all()
    return db.session.get(Volunteer, volunteer.id)


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def board_names(page: str) -> list[str]:
    """The volunteers listed on the board, by name, in order."""
    return [html.unescape(n) for n in re.findall(r'<a href="/volunteers/\d+">([^<]+)</a>', page)]


def vol(name: str, status=VolunteerStatus.ACTIVE, **kw) -> Volunteer:
    user_kw = {"full_name": name, **kw.pop("user_kw", {})}
    return make_volunteer(status, user_kw=user_kw, **kw)


def days_ago(n: int):
    return utcnow() - timedelta(days=n)


# --- the board --------------------------------------------------------------------------------


@pytest.fixture
def board_people(app):
    return {
        "aisha": vol("Aisha Applied", VolunteerStatus.APPLIED, applied_at=days_ago(1)),
        "brian": vol(
            "Brian Buddy",
            applied_at=days_ago(50),
            user_kw={"email": "brian.b@example.com"},
        ),
        "nadia": vol(
            "Nadia Navigator",
            applied_at=days_ago(30),
            role_buddy=False,
            role_navigator=True,
        ),
        "victor": vol("Victor Vetting", VolunteerStatus.VETTING, applied_at=days_ago(10)),
    }


def test_board_lists_every_volunteer_newest_application_first(logged_in_coordinator, board_people):
    page = logged_in_coordinator.get("/volunteers").text

    assert board_names(page) == [
        "Aisha Applied",
        "Victor Vetting",
        "Nadia Navigator",
        "Brian Buddy",
    ]
    assert "4 volunteers" in text_of(page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=applied", ["Aisha Applied"]),
        ("status=active", ["Nadia Navigator", "Brian Buddy"]),
        ("role=navigator", ["Nadia Navigator"]),
        ("role=buddy&status=active", ["Brian Buddy"]),
        ("q=brian", ["Brian Buddy"]),
        ("q=BRIAN.B%40example", ["Brian Buddy"]),
        ("q=nobody-called-this", []),
        ("status=nonsense", ["Aisha Applied", "Victor Vetting", "Nadia Navigator", "Brian Buddy"]),
    ],
)
def test_board_filters(logged_in_coordinator, board_people, query, expected):
    # The filter form is posted and answered with the board's address (portal/searches.py).
    response = logged_in_coordinator.post(
        "/volunteers", data=dict(parse_qsl(query)), follow_redirects=True
    )

    assert response.status_code == 200
    assert board_names(response.text) == expected
    if not expected:
        assert "No volunteers match." in response.text


def test_board_by_htmx_returns_only_the_board(logged_in_coordinator, board_people):
    response = logged_in_coordinator.get("/volunteers?role=buddy", headers=HTMX)

    assert response.status_code == 200
    part = response.text
    assert "<html" not in part and "<head" not in part and "<h1>" not in part
    assert part.lstrip().startswith('<div id="volunteer-board"')
    assert board_names(part) == ["Aisha Applied", "Victor Vetting", "Brian Buddy"]
    assert "HX-Request" in response.headers.get("Vary", "")
    # The status counts follow the role filter: Nadia is not a buddy.
    counts = dict(
        (label, int(n))
        for n, label in re.findall(
            r'<span class="portal-counts__number">(\d+)</span> ([^<]+)</a>', part
        )
    )
    assert counts == {"applied": 1, "vetting": 1, "active": 1, "paused": 0, "left": 0}


def test_board_full_page_without_htmx(logged_in_coordinator, board_people):
    page = logged_in_coordinator.get("/volunteers?role=buddy").text

    assert "<html" in page and "<h1>Volunteers</h1>" in page
    assert '<option value="buddy" selected>' in page


@pytest.mark.parametrize("role", [Role.NAVIGATOR, Role.VOLUNTEER, Role.PRACTICE_USER])
def test_board_and_volunteer_pages_are_hub_staff_only(app, make_user, role):
    someone = vol("Quiet Person")
    browser = signed_in(app, make_user(role))

    assert browser.get("/volunteers").status_code == 403
    assert browser.get(f"/volunteers/{someone.id}").status_code == 403
    assert browser.get("/volunteers/expiring").status_code == 403
    assert browser.get("/volunteers/hours.csv").status_code == 403
    assert (
        browser.post(f"/volunteers/{someone.id}/status", data={"status": "paused"}).status_code
        == 403
    )


# --- one volunteer ----------------------------------------------------------------------------


def test_volunteer_page_shows_why_they_cannot_be_matched(app, logged_in_coordinator):
    make_training_module(name="Safeguarding adults")
    volunteer = vol("Priya Patel")

    page = logged_in_coordinator.get(f"/volunteers/{volunteer.id}").text

    compliance = text_of(page[page.index('id="compliance"') : page.index('id="status"')])
    assert "Can Priya be matched with residents?" in compliance
    assert "Not yet, because:" in compliance
    assert "No DBS check recorded: an enhanced check is needed" in compliance
    assert "Training not done: Safeguarding adults" in compliance
    assert "Cannot be matched" in page


def test_volunteer_page_for_a_compliant_volunteer(logged_in_coordinator):
    volunteer = make_compliant_volunteer(user_kw={"full_name": "Carol Compliant"})

    page = logged_in_coordinator.get(f"/volunteers/{volunteer.id}").text

    assert "Can be matched" in page and "Cannot be matched" not in page
    assert "Yes: active, with the DBS check and every mandatory course in date" in text_of(page)


def test_volunteer_page_reads_the_volunteer_and_the_courses_once(app, logged_in_coordinator):
    """The volunteer found for the page is the one it shows, not read again after the view
    is recorded, and the training courses read for the checks fill the form too."""
    volunteer = make_compliant_volunteer(user_kw={"full_name": "Vera Once"})

    sent = statements_sent(app, logged_in_coordinator, f"/volunteers/{volunteer.id}")

    volunteer_reads = [s for s in sent if s.lstrip().startswith("SELECT volunteers.id")]
    assert len(volunteer_reads) == 1
    assert len([s for s in sent if "FROM training_modules" in s]) == 1


def test_unknown_volunteer_is_not_found(logged_in_coordinator):
    assert logged_in_coordinator.get("/volunteers/999999").status_code == 404


# --- status changes ---------------------------------------------------------------------------


def test_applied_volunteer_moves_to_vetting(db, logged_in_coordinator):
    volunteer = vol("Ann Applied", VolunteerStatus.APPLIED)
    page = logged_in_coordinator.get(f"/volunteers/{volunteer.id}").text
    form = BrowserForm(page, f"/volunteers/{volunteer.id}/status").with_changes(status="vetting")

    response = logged_in_coordinator.post(f"/volunteers/{volunteer.id}/status", data=form)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/volunteers/{volunteer.id}"
    assert "Ann Applied is now vetting" in flashed(
        logged_in_coordinator.get(response.headers["Location"]).text
    )
    assert fresh(db, volunteer).status == VolunteerStatus.VETTING


def _in_vetting(**kw) -> Volunteer:
    return vol(
        "Vera Vetting",
        VolunteerStatus.VETTING,
        applied_at=days_ago(60),
        referee_1_name="Jo Smith",
        referee_1_contact="01632 960 002",
        referee_2_name="Sam Patel",
        referee_2_contact="07700 900 123",
        **kw,
    )


def test_vetting_to_active_is_refused_until_references_and_dbs_are_recorded(
    db, logged_in_coordinator
):
    volunteer = _in_vetting()
    url = f"/volunteers/{volunteer.id}"
    page = logged_in_coordinator.get(url).text
    before = text_of(page)
    assert "Before they can become active:" in before
    assert "Both references must be received" in before
    assert "Record their enhanced DBS check" in before

    refused = logged_in_coordinator.post(f"{url}/status", data={"status": "active"})

    assert refused.status_code == 400
    message = error_beside(refused.text, "status")
    assert message is not None
    assert message.startswith("They cannot become active yet: ")
    assert "both references must be received" in message
    assert "record their enhanced dbs check" in message.lower()
    assert fresh(db, volunteer).status == VolunteerStatus.VETTING

    # References come back, but no DBS yet: still refused, now only for the DBS.
    references = {
        **typed_date("requested_on", date.today() - timedelta(days=30)),
        **typed_date("received_1", date.today() - timedelta(days=20)),
        **typed_date("received_2", date.today() - timedelta(days=10)),
    }
    assert logged_in_coordinator.post(f"{url}/references", data=references).status_code == 302
    still = logged_in_coordinator.post(f"{url}/status", data={"status": "active"})
    assert still.status_code == 400
    message = error_beside(still.text, "status")
    assert "references" not in message and "dbs check" in message.lower()

    dbs = {
        "level": "enhanced",
        "certificate_number": "0012 3456 7890",
        **typed_date("issue_date", date.today() - timedelta(days=5)),
    }
    assert logged_in_coordinator.post(f"{url}/dbs", data=dbs).status_code == 302

    response = logged_in_coordinator.post(f"{url}/status", data={"status": "active"})

    assert response.status_code == 302
    after = fresh(db, volunteer)
    assert after.status == VolunteerStatus.ACTIVE
    assert after.joined_on == date.today()
    assert after.dbs_certificate_number == "001234567890"


def test_refusal_to_activate_keeps_dbs_in_capitals(logged_in_coordinator):
    """The refusal joins the reasons into one sentence; 'DBS' is an acronym and stays one."""
    volunteer = _in_vetting()

    refused = logged_in_coordinator.post(
        f"/volunteers/{volunteer.id}/status", data={"status": "active"}
    )

    assert refused.status_code == 400
    assert error_beside(refused.text, "status") == (
        "They cannot become active yet: both references must be received; "
        "record their enhanced DBS check"
    )


def test_leaving_needs_a_reason(db, logged_in_coordinator):
    volunteer = vol("Lee Leaving", VolunteerStatus.APPLIED)
    url = f"/volunteers/{volunteer.id}/status"

    refused = logged_in_coordinator.post(url, data={"status": "left", "note": "Moving to Leeds"})

    assert refused.status_code == 400
    assert error_beside(refused.text, "left_reason") == "Choose why the volunteer is leaving"
    kept = BrowserForm(refused.text, url)
    assert kept.data["status"] == ["left"]
    assert kept.data["note"][0].strip() == "Moving to Leeds"
    after = fresh(db, volunteer)
    assert after.status == VolunteerStatus.APPLIED and after.user.is_active

    response = logged_in_coordinator.post(
        url, data={"status": "left", "left_reason": "moved", "note": "Moving to Leeds"}
    )

    assert response.status_code == 302
    after = fresh(db, volunteer)
    assert after.status == VolunteerStatus.LEFT
    assert after.left_reason == LeftReason.MOVED
    assert after.status_note == "Moving to Leeds"
    assert not after.user.is_active


def test_pausing_needs_a_note(db, logged_in_coordinator):
    volunteer = vol("Pat Pausing")
    url = f"/volunteers/{volunteer.id}/status"

    refused = logged_in_coordinator.post(url, data={"status": "paused", "note": "   "})

    assert refused.status_code == 400
    assert error_beside(refused.text, "note") == "Say why the volunteer is pausing"
    assert fresh(db, volunteer).status == VolunteerStatus.ACTIVE

    response = logged_in_coordinator.post(
        url, data={"status": "paused", "note": "Caring for her mother until March"}
    )

    assert response.status_code == 302
    after = fresh(db, volunteer)
    assert after.status == VolunteerStatus.PAUSED
    assert after.status_note == "Caring for her mother until March"
    page = logged_in_coordinator.get(f"/volunteers/{volunteer.id}").text
    assert "Caring for her mother until March" in page


# --- references -------------------------------------------------------------------------------


def test_references_are_recorded(db, logged_in_coordinator):
    volunteer = _in_vetting()
    asked = date.today() - timedelta(days=14)
    first = date.today() - timedelta(days=7)

    response = logged_in_coordinator.post(
        f"/volunteers/{volunteer.id}/references",
        data={**typed_date("requested_on", asked), **typed_date("received_1", first)},
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).fragment == "references"
    after = fresh(db, volunteer)
    assert after.references_requested_on == asked
    assert after.referee_1_received_on == first
    assert after.referee_2_received_on is None
    page = logged_in_coordinator.get(response.headers["Location"]).text
    assert "References saved" in flashed(page)


def test_reference_received_before_it_was_asked_for_is_refused(db, logged_in_coordinator):
    volunteer = _in_vetting()

    response = logged_in_coordinator.post(
        f"/volunteers/{volunteer.id}/references",
        data={
            **typed_date("requested_on", date.today() - timedelta(days=5)),
            **typed_date("received_1", date.today() - timedelta(days=9)),
        },
    )

    assert response.status_code == 400
    assert (
        error_beside(response.text, "received_1")
        == "A reference cannot arrive before it was asked for"
    )
    after = fresh(db, volunteer)
    assert after.references_requested_on is None and after.referee_1_received_on is None


# --- DBS ---------------------------------------------------------------------------------------


def test_dbs_issued_in_the_future_is_refused_beside_the_date(db, logged_in_coordinator):
    volunteer = _in_vetting()
    tomorrow = date.today() + timedelta(days=1)
    url = f"/volunteers/{volunteer.id}/dbs"

    response = logged_in_coordinator.post(
        url,
        data={
            "level": "enhanced",
            "certificate_number": "001234567890",
            **typed_date("issue_date", tomorrow),
        },
    )

    assert response.status_code == 400
    assert error_beside(response.text, "issue_date") == "The issue date cannot be in the future"
    kept = BrowserForm(response.text, url)
    assert kept.data["certificate_number"] == ["001234567890"]
    assert kept.data["issue_date[day]"] == [str(tomorrow.day)]
    after = fresh(db, volunteer)
    assert after.dbs_level is None and after.dbs_issue_date is None


def test_dbs_certificate_number_must_be_twelve_digits(db, logged_in_coordinator):
    volunteer = _in_vetting()

    response = logged_in_coordinator.post(
        f"/volunteers/{volunteer.id}/dbs",
        data={
            "level": "enhanced",
            "certificate_number": "12345",
            **typed_date("issue_date", date.today()),
        },
    )

    assert response.status_code == 400
    assert (
        error_beside(response.text, "certificate_number")
        == "Enter the 12-digit certificate number from the DBS certificate"
    )
    assert fresh(db, volunteer).dbs_level is None


def test_dbs_check_is_recorded_with_who_checked_it(db, coordinator, logged_in_coordinator):
    volunteer = _in_vetting()
    issued = date.today() - timedelta(days=3)

    response = logged_in_coordinator.post(
        f"/volunteers/{volunteer.id}/dbs",
        data={
            "level": "enhanced",
            "certificate_number": "0098 7654 3210",
            "update_service": "y",
            **typed_date("issue_date", issued),
        },
    )

    assert response.status_code == 302
    after = fresh(db, volunteer)
    assert after.dbs_level == DbsLevel.ENHANCED
    assert after.dbs_certificate_number == "009876543210"
    assert after.dbs_issue_date == issued
    assert after.dbs_update_service is True
    assert after.dbs_checked_by_id == coordinator.id


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_dbs_certificate_is_shown_in_full_to_coordinators_only(app, make_user, role):
    volunteer = make_compliant_volunteer(dbs_certificate_number="001234567890")

    page = signed_in(app, make_user(role)).get(f"/volunteers/{volunteer.id}").text

    if role == Role.COORDINATOR:
        assert "001234567890" in page
    else:
        assert "001234567890" not in page
        assert "12345678" not in page
        assert "••••••••7890" in page


# --- training ---------------------------------------------------------------------------------


def test_training_completed_before_the_volunteer_applied_is_refused(db, logged_in_coordinator):
    module = make_training_module(name="Induction")
    volunteer = vol("Tom Trainee", applied_at=days_ago(10))
    applied = fresh(db, volunteer).joined_portal_on
    too_early = date.today() - timedelta(days=30)
    url = f"/volunteers/{volunteer.id}/training"

    response = logged_in_coordinator.post(
        url,
        data={
            "module_id": str(module.id),
            "trainer": "Hub team",
            **typed_date("completed_on", too_early),
        },
    )

    assert response.status_code == 400
    assert error_beside(response.text, "completed_on") == (
        f"The completion date cannot be before they applied on {applied.day} {applied:%B %Y}"
    )
    kept = BrowserForm(response.text, url)
    assert kept.data["module_id"] == [str(module.id)]
    assert kept.data["trainer"] == ["Hub team"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingRecord)) == 0


def test_recording_the_last_missing_course_makes_the_volunteer_matchable(db, logged_in_coordinator):
    volunteer = make_compliant_volunteer(user_kw={"full_name": "Fay Fresh"})
    missing = make_training_module(name="Lone working", valid_for_months=24)
    url = f"/volunteers/{volunteer.id}"
    before = logged_in_coordinator.get(url).text
    assert "Cannot be matched" in before
    assert "Training not done: Lone working" in before

    response = logged_in_coordinator.post(
        f"{url}/training",
        data={"module_id": str(missing.id), **typed_date("completed_on", date.today())},
    )

    assert response.status_code == 302
    page = logged_in_coordinator.get(response.headers["Location"]).text
    assert "Lone working recorded" in flashed(page)
    assert "Can be matched" in page and "Cannot be matched" not in page
    db.session.expire_all()
    record = db.session.scalar(
        sa.select(TrainingRecord).where(TrainingRecord.module_id == missing.id)
    )
    assert record.volunteer_id == volunteer.id and record.completed_on == date.today()


# --- running out, supervision, hours ----------------------------------------------------------


def test_expiring_lists_a_dbs_running_out_in_20_days(logged_in_coordinator):
    runs_out = date.today() + timedelta(days=20)
    issued = add_months(runs_out, -36)
    soon = vol("Della Soon", dbs_level=DbsLevel.ENHANCED, dbs_issue_date=issued)
    vol(
        "Larry Later",
        dbs_level=DbsLevel.ENHANCED,
        dbs_issue_date=date.today() - timedelta(days=200),
    )
    days_left = (add_months(issued, 36) - date.today()).days

    page = logged_in_coordinator.get("/volunteers/expiring").text

    assert "Della Soon" in page and "Larry Later" not in page
    row = page[page.index(f'href="/volunteers/{soon.id}"') :]
    row = text_of(row[: row.index("</tr>")])
    assert "DBS check" in row
    assert f"In {days_left} days" in row
    assert "1 item, soonest first" in text_of(page)


def test_supervision_lists_a_buddy_with_no_contact_for_weeks(db, navigator, logged_in_coordinator):
    quiet = vol("Quentin Quiet")
    busy = vol("Bella Busy")
    quiet_case = make_referral(status=ReferralStatus.ACTIVE, navigator_id=navigator.id)
    busy_case = make_referral(status=ReferralStatus.ACTIVE, navigator_id=navigator.id)
    make_buddy_match(quiet_case, quiet, navigator, responded_at=days_ago(20))
    make_buddy_match(busy_case, busy, navigator, responded_at=days_ago(20))
    make_contact(busy_case, busy.user, days_ago=2)

    page = logged_in_coordinator.get("/volunteers/supervision").text
    quiet_table = page[
        page.index("Buddies with no contact logged in 14 days") : page.index('id="hours"')
    ]

    assert "Quentin Quiet" in quiet_table
    assert "Bella Busy" not in quiet_table
    assert "1 active match, longest quiet first" in text_of(quiet_table)
    row = quiet_table[quiet_table.index("Quentin Quiet") :]
    row = text_of(row[: row.index("</tr>")])
    assert quiet_case.reference in row
    assert "None since the match began" in row
    assert "20 days" in row
    assert navigator.full_name in row


def test_hours_csv_is_a_csv_whose_name_cells_cannot_run_as_formulas(db, logged_in_coordinator):
    name = '=HYPERLINK("http://evil.example","Click")'
    volunteer = vol(name)
    db.session.add(
        VolunteerHours(
            volunteer_id=volunteer.id,
            worked_on=date.today(),
            kind=HoursKind.TRAINING,
            minutes=90,
        )
    )
    db.session.commit()

    response = logged_in_coordinator.get("/volunteers/hours.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == [
        "Month",
        "Volunteer",
        "Contacts logged",
        "Hours with people",
        "Other hours",
        "Total hours",
    ]
    assert table[1] == [
        f"{date.today():%Y-%m}",
        "'" + name,
        "0",
        "0.00",
        "1.50",
        "1.50",
    ]
    assert len(table) == 2


# --- training courses (admins) ----------------------------------------------------------------


def test_admin_adds_a_course(db, logged_in_admin):
    assert "Add a course" in logged_in_admin.get("/admin/training/new").text

    response = logged_in_admin.post(
        "/admin/training/new",
        data={
            "name": "Safeguarding adults",
            "description": "Spotting and reporting abuse",
            "valid_for_months": "24",
            "required_for": ["buddy", "navigator"],
            "is_active": "y",
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/training"
    page = logged_in_admin.get("/admin/training").text
    assert "Safeguarding adults added" in flashed(page)
    assert "Buddy, Volunteer navigator" in text_of(page)
    module = db.session.scalar(sa.select(TrainingModule))
    assert module.name == "Safeguarding adults"
    assert module.valid_for_months == 24
    assert (
        module.required_for_buddy,
        module.required_for_navigator,
        module.required_for_befriender,
    ) == (True, True, False)
    assert module.is_active


def test_admin_cannot_add_a_second_course_with_the_same_name(db, logged_in_admin):
    make_training_module(name="Safeguarding adults")

    response = logged_in_admin.post(
        "/admin/training/new",
        data={"name": "safeguarding ADULTS", "valid_for_months": "12", "is_active": "y"},
    )

    assert response.status_code == 400
    assert error_beside(response.text, "name") == "There is already a course with this name"
    kept = BrowserForm(response.text, "/admin/training/new")
    assert kept.data["name"] == ["safeguarding ADULTS"]
    assert kept.data["valid_for_months"] == ["12"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingModule)) == 1


def test_admin_edits_a_course_but_not_onto_another_courses_name(db, logged_in_admin):
    first = make_training_module(name="Induction", required_for_buddy=True)
    make_training_module(name="Lone working")
    url = f"/admin/training/{first.id}"
    form = BrowserForm(logged_in_admin.get(url).text, url)
    assert form.data["name"] == ["Induction"]

    clash = logged_in_admin.post(url, data=form.with_changes(name="LONE WORKING"))

    assert clash.status_code == 400
    assert error_beside(clash.text, "name") == "There is already a course with this name"
    db.session.expire_all()
    assert db.session.get(TrainingModule, first.id).name == "Induction"

    saved = logged_in_admin.post(
        url,
        data=form.with_changes(
            name="Induction day", valid_for_months="", required_for=["befriender"], is_active=None
        ),
    )

    assert saved.status_code == 302
    db.session.expire_all()
    module = db.session.get(TrainingModule, first.id)
    assert module.name == "Induction day"
    assert module.valid_for_months is None
    assert (module.required_for_buddy, module.required_for_befriender) == (False, True)
    assert module.is_active is False


def test_saving_a_course_as_drawn_keeps_its_name_and_mandatory_roles(db, logged_in_admin):
    """Changing only the description must not make a mandatory course optional."""
    module = make_training_module(
        name="Induction", required_for_buddy=True, required_for_navigator=True
    )
    url = f"/admin/training/{module.id}"
    form = BrowserForm(logged_in_admin.get(url).text, url)
    assert sorted(form.data.get("required_for", [])) == ["buddy", "navigator"]

    response = logged_in_admin.post(url, data=form.with_changes(description="Half a day"))

    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(TrainingModule, module.id)
    assert saved.name == "Induction" and saved.description == "Half a day"
    assert (saved.required_for_buddy, saved.required_for_navigator) == (True, True)


def test_coordinators_may_not_manage_training_courses(db, logged_in_coordinator):
    module = make_training_module(name="Induction")

    assert logged_in_coordinator.get("/admin/training").status_code == 403
    assert logged_in_coordinator.get("/admin/training/new").status_code == 403
    assert (
        logged_in_coordinator.post(
            "/admin/training/new", data={"name": "Sneaky course", "is_active": "y"}
        ).status_code
        == 403
    )
    assert (
        logged_in_coordinator.post(
            f"/admin/training/{module.id}", data={"name": "Renamed", "is_active": "y"}
        ).status_code
        == 403
    )
    db.session.expire_all()
    assert [m.name for m in db.session.scalars(sa.select(TrainingModule))] == ["Induction"]
