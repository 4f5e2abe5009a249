"""Coordinators and the directory: organisations, verifying them, and importing activities.

The CSV import is two steps: upload (every row checked, the file held, nothing created),
then confirm (the held file's activities created, once only, by the coordinator who
uploaded it).
"""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.auth.models import Role
from portal.db_types import london_today
from portal.directory import csv_import
from portal.directory.models import Activity, ActivityImport, ActivityStatus, Organisation
from portal.extensions import db
from tests.cases.test_case_views import signed_in
from tests.factories import make_activity, make_organisation, make_user

# --- helpers ----------------------------------------------------------------------------------


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def table_rows(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as the text of each cell."""
    start = page.index(caption)
    body = page[start : page.index("</table>", start)]
    # Responsive tables repeat the column heading in each cell for small screens.
    body = re.sub(r'<span class="nhsuk-table-responsive__heading"[^>]*>.*?</span>', "", body)
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        if "<td" in row
    ]


def csv_text(rows: list[dict], columns=csv_import.ALL_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def template_rows() -> list[dict]:
    return list(csv.DictReader(io.StringIO(csv_import.template_csv())))


def upload(browser, organisation, content, filename="activities.csv"):
    """Post a file as a browser does: multipart/form-data.

    The body is encoded in memory: the test client's own encoder spools anything over
    500 KB to a temporary file it never closes, which pytest reports as a ResourceWarning.
    """
    if isinstance(content, str):
        content = content.encode("utf-8")
    boundary, body = encode_multipart(
        {"organisation": str(organisation.id), "file": FileStorage(io.BytesIO(content), filename)}
    )
    return browser.post(
        "/activities/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def held_import_id(page: str) -> int:
    match = re.search(r'action="/activities/import/(\d+)/confirm"', page)
    assert match, "no confirm button on the page"
    return int(match.group(1))


@pytest.fixture
def hub(app, coordinator):
    return signed_in(app, coordinator)


# --- organisations ----------------------------------------------------------------------------


def test_organisations_list_shows_unverified_first(hub):
    make_organisation(name="Alpha verified")
    make_organisation(name="Zulu waiting", verified=False)
    make_organisation(name="Beta verified")
    make_organisation(name="Mike waiting", verified=False)
    with_two = make_organisation(name="Charlie verified")
    make_activity(with_two)
    make_activity(with_two, status=ActivityStatus.DRAFT)

    response = hub.get("/organisations")

    assert response.status_code == 200
    rows = table_rows(response.text, "organisations, those waiting to be verified first")
    names = [row[0] for row in rows]
    assert names == [
        "Mike waiting",
        "Zulu waiting",
        "Alpha verified",
        "Beta verified",
        "Charlie verified",
    ]
    by_name = {row[0]: row for row in rows}
    assert "Waiting" in by_name["Mike waiting"][1]
    assert "Waiting" not in by_name["Alpha verified"][1]
    assert "2" in by_name["Charlie verified"][2]


def test_organisations_pages_are_for_hub_staff(app, make_user):
    organisation = make_organisation()
    for role in (Role.NAVIGATOR, Role.ORGANISATION_MEMBER, Role.VOLUNTEER):
        browser = signed_in(app, make_user(role))
        assert browser.get("/organisations").status_code == 403
        assert browser.get(f"/organisations/{organisation.id}").status_code == 403
        assert browser.post(f"/organisations/{organisation.id}/verify").status_code == 403
    assert fresh(Organisation, organisation.id).verified_at is not None
    anonymous = app.test_client().get("/organisations")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]


def test_organisation_page_shows_details_members_and_activities(hub):
    organisation = make_organisation(
        name="Friends of the Park",
        verified=False,
        charity_number="1123456",
        email="hello@friends.org",
        contact_name="Pat Parker",
    )
    make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id, full_name="Pat Parker")
    make_activity(organisation, title="Walking group", status=ActivityStatus.DRAFT)

    response = hub.get(f"/organisations/{organisation.id}")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Friends of the Park" in page
    assert "1123456" in page
    assert "hello@friends.org" in page
    assert "Pat Parker" in page
    assert "Walking group" in page
    assert "Verify Friends of the Park" in page
    assert hub.get("/organisations/999999").status_code == 404


def test_verifying_emails_the_organisation_and_a_second_verify_is_harmless(
    hub, coordinator, smtp_server
):
    organisation = make_organisation(name="Friends", verified=False, email="hello@friends.org")
    member = make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    published = make_activity(organisation, title="Walk")

    assert hub.get(f"/directory/activities/{published.uuid}").status_code == 404
    response = hub.post(f"/organisations/{organisation.id}/verify")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/organisations/{organisation.id}"
    verified = fresh(Organisation, organisation.id)
    assert verified.verified_at is not None
    assert verified.verified_by_id == coordinator.id
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [member.email, "hello@friends.org"]
    )
    assert all(m["Subject"] == "Friends is verified" for m in smtp_server.messages)
    page = hub.get(response.headers["Location"]).text
    assert "Friends is verified." in text_of(page)
    assert "Verify Friends" not in text_of(page)
    # Its published activity is now in the public directory.
    assert app_client_get(hub, f"/directory/activities/{published.uuid}") == 200

    first_verified_at = verified.verified_at
    again = hub.post(f"/organisations/{organisation.id}/verify")

    assert again.status_code == 302
    assert fresh(Organisation, organisation.id).verified_at == first_verified_at
    assert len(smtp_server.messages) == 2
    assert "Friends was already verified." in text_of(hub.get(again.headers["Location"]).text)


def app_client_get(browser, url: str) -> int:
    return browser.get(url).status_code


def test_verifying_by_get_or_a_missing_organisation(hub):
    organisation = make_organisation(verified=False)
    assert hub.get(f"/organisations/{organisation.id}/verify").status_code == 405
    assert hub.post("/organisations/999999/verify").status_code == 404
    assert fresh(Organisation, organisation.id).verified_at is None


def test_coordinator_adds_an_activity_for_an_organisation(hub):
    organisation = make_organisation(name="Friends")
    url = f"/organisations/{organisation.id}/activities/new"
    form_page = hub.get(url)
    assert form_page.status_code == 200
    assert f'action="{url}"' in form_page.text

    response = hub.post(
        url,
        data={
            "title": "Knit and natter",
            "description": "Bring your own wool.",
            "categories": ["arts"],
            "frequency": "by_arrangement",
            "online": "yes",
            "accepts_referrals": "no",
            "cost": "free",
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/organisations/{organisation.id}"
    (activity,) = db.session.scalars(sa.select(Activity)).all()
    assert activity.organisation_id == organisation.id
    assert activity.status == ActivityStatus.DRAFT
    assert activity.online is True
    assert activity.accepts_referrals is False
    assert activity.days == []
    assert "Knit and natter" in text_of(hub.get(response.headers["Location"]).text)

    bad = hub.post(url, data={"title": "", "categories": ["arts"]})
    assert bad.status_code == 400
    assert count(Activity) == 1
    assert hub.get("/organisations/999999/activities/new").status_code == 404


def test_coordinator_edits_and_publishes_any_organisations_activity(hub):
    organisation = make_organisation(name="Friends")
    activity = make_activity(
        organisation,
        title="Walk",
        description="A walk.",
        categories=["nature"],
        days=[2],
        venue_name="Park",
        postcode="CV3 6PT",
        status=ActivityStatus.DRAFT,
    )
    url = f"/activities/{activity.id}/edit"
    assert hub.get(url).status_code == 200

    response = hub.post(
        url,
        data={
            "title": "Walk in the park",
            "description": "A longer walk.",
            "categories": ["nature"],
            "frequency": "weekly",
            "days": ["2"],
            "online": "no",
            "venue_name": "Park",
            "postcode": "CV3 6PT",
            "accepts_referrals": "yes",
            "version": "1",
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/organisations/{organisation.id}"
    assert fresh(Activity, activity.id).title == "Walk in the park"
    published = hub.post(f"/activities/{activity.id}/status", data={"status": "published"})
    assert urlsplit(published.headers["Location"]).path == f"/organisations/{organisation.id}"
    assert fresh(Activity, activity.id).status == ActivityStatus.PUBLISHED


# --- CSV import -------------------------------------------------------------------------------


def test_import_page_and_template_download(hub):
    page = hub.get("/activities/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text

    template = hub.get("/activities/import/template.csv")

    assert template.status_code == 200
    assert template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.text == csv_import.template_csv()
    header = next(csv.reader(io.StringIO(template.text)))
    assert header == list(csv_import.ALL_COLUMNS)


def test_uploading_a_valid_csv_previews_it_and_creates_nothing_until_confirmed(hub):
    organisation = make_organisation(name="Friends")

    response = upload(hub, organisation, csv_import.template_csv(), "walks.csv")

    assert response.status_code == 200
    page = text_of(response.text)
    assert "Every row of walks.csv passed its checks: 1 activity for Friends." in page
    assert "Nothing is saved until you import it." in page
    assert "Import 1 activity" in page
    preview = table_rows(response.text, "Preview")
    assert preview == [["2", "Tuesday walking group", "Tuesday", "CV3 6PT", "Draft"]]
    assert count(Activity) == 0
    (held,) = db.session.scalars(sa.select(ActivityImport)).all()
    assert held.row_count == 1
    assert held.imported_at is None
    assert held_import_id(response.text) == held.id


def test_confirming_creates_the_activities_once(hub):
    organisation = make_organisation(name="Friends")
    rows = template_rows()
    second = {**rows[0], "title": "Thursday walk", "days": "Thu", "status": "published"}
    response = upload(hub, organisation, csv_text([rows[0], second]))
    assert "Import 2 activities" in text_of(response.text)
    import_id = held_import_id(response.text)

    confirmed = hub.post(f"/activities/import/{import_id}/confirm")

    assert confirmed.status_code == 302
    assert urlsplit(confirmed.headers["Location"]).path == f"/organisations/{organisation.id}"
    activities = {
        a.title: a for a in db.session.scalars(sa.select(Activity).order_by(Activity.title))
    }
    assert set(activities) == {"Thursday walk", "Tuesday walking group"}
    assert activities["Tuesday walking group"].status == ActivityStatus.DRAFT
    assert activities["Thursday walk"].status == ActivityStatus.PUBLISHED
    assert activities["Thursday walk"].last_confirmed_on == london_today()
    assert activities["Tuesday walking group"].organisation_id == organisation.id
    assert activities["Tuesday walking group"].categories == [
        "physical_activity",
        "social_connection",
    ]
    assert activities["Tuesday walking group"].step_free is True
    assert "2 activities imported for Friends." in text_of(
        hub.get(confirmed.headers["Location"]).text
    )
    assert fresh(ActivityImport, import_id).imported_at is not None

    twice = hub.post(f"/activities/import/{import_id}/confirm")

    assert twice.status_code == 302
    assert count(Activity) == 2
    assert "That file was already imported." in text_of(hub.get(twice.headers["Location"]).text)


def test_another_coordinator_cannot_confirm_someone_elses_import(app, hub):
    organisation = make_organisation()
    import_id = held_import_id(upload(hub, organisation, csv_import.template_csv()).text)
    other = signed_in(app, make_user(Role.COORDINATOR))

    response = other.post(f"/activities/import/{import_id}/confirm")

    assert response.status_code == 404
    assert count(Activity) == 0
    assert fresh(ActivityImport, import_id).imported_at is None
    assert other.post("/activities/import/999999/confirm").status_code == 404


def test_csv_missing_columns_is_refused_with_the_message(hub):
    organisation = make_organisation()
    columns = [c for c in csv_import.ALL_COLUMNS if c not in ("postcode", "cost")]

    response = upload(hub, organisation, csv_text(template_rows(), columns))

    assert response.status_code == 400
    assert "The file is missing these columns: postcode, cost" in text_of(response.text)
    assert "Nothing was imported." in text_of(response.text)
    assert count(Activity) == 0
    assert count(ActivityImport) == 0
    assert "/confirm" not in response.text


def test_csv_with_row_errors_lists_them_by_row_and_creates_nothing(hub):
    organisation = make_organisation()
    good = template_rows()[0]
    rows = [
        good,
        {**good, "title": "Bad times", "start_time": "14:00", "end_time": "13:00"},
        good,
        {**good, "title": "Bad day", "days": "Someday"},
        {**good, "title": "Bad cost", "cost": "lots"},
    ]

    response = upload(hub, organisation, csv_text(rows))

    assert response.status_code == 400
    problems = table_rows(response.text, "Problems, by row")
    assert problems == [
        ["3", "end_time", "End time must be after the start time"],
        ["5", "days", "“someday” is not a day of the week"],
        ["6", "cost", "Enter the cost in pounds and pence, like 3.50, or leave it empty"],
    ]
    assert "3 problems found." in text_of(response.text)
    assert count(Activity) == 0
    assert count(ActivityImport) == 0


def test_published_rows_for_an_unverified_organisation_are_refused(hub):
    organisation = make_organisation(verified=False)
    row = {**template_rows()[0], "status": "published"}

    response = upload(hub, organisation, csv_text([row]))

    assert response.status_code == 400
    assert table_rows(response.text, "Problems, by row") == [
        [
            "2",
            "status",
            "The organisation is not verified yet, so its activities can only be drafts",
        ]
    ]
    assert count(ActivityImport) == 0


def test_a_huge_csv_is_refused_with_a_clear_message(app, hub):
    organisation = make_organisation()
    row = template_rows()[0]
    content = csv_text([row] * 10_000)
    assert len(content.encode()) < app.config["MAX_CONTENT_LENGTH"]

    response = upload(hub, organisation, content)

    assert response.status_code == 400
    limit = app.config["ACTIVITY_IMPORT_MAX_ROWS"]
    assert (
        f"The file has more than {limit:,} activities. Split it into files of {limit:,} or "
        "fewer and import each one." in text_of(response.text)
    )
    assert count(Activity) == 0
    assert count(ActivityImport) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "Choose a CSV file to upload", id="empty-file"),
        pytest.param(
            "title,description\n".encode("utf-16"),
            "The file must be saved as “CSV UTF-8” (a text file)",
            id="not-utf8",
        ),
        pytest.param(
            ",".join(csv_import.ALL_COLUMNS).encode() + b"\n",
            "The file has no activities in it, only the header row",
            id="header-only",
        ),
    ],
)
def test_unreadable_or_empty_files_are_refused(hub, content, message):
    response = upload(hub, make_organisation(), content)
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert count(ActivityImport) == 0


def test_upload_without_an_organisation_is_refused(hub):
    response = hub.post(
        "/activities/import",
        data={
            "organisation": "",
            "file": (io.BytesIO(csv_import.template_csv().encode()), "a.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Choose the organisation these activities belong to" in text_of(response.text)
    assert count(ActivityImport) == 0


def test_a_body_over_the_size_limit_is_refused_with_a_413_page(app, hub):
    organisation = make_organisation()
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = upload(hub, organisation, too_big)

    assert response.status_code == 413
    assert "<html" in response.text
    assert "That file or form is too large" in text_of(response.text)
    assert count(ActivityImport) == 0
    assert count(Activity) == 0
