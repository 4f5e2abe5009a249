"""Importing activities from CSV: every row checked, nothing saved unless the whole file is right.

The header is row 1, as a spreadsheet numbers it.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import date, time

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.directory import csv_import
from portal.directory.models import (
    Activity,
    ActivityImport,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from tests.factories import make_organisation, make_user

TODAY = date(2025, 3, 3)


def template_row() -> dict[str, str]:
    return next(csv.DictReader(io.StringIO(csv_import.template_csv())))


def csv_bytes(*rows: dict, columns=csv_import.ALL_COLUMNS, tail: str = "") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return (out.getvalue() + tail).encode("utf-8")


def row(**changes) -> dict[str, str]:
    return {**template_row(), **changes}


def problems(checked) -> list[tuple[int, str]]:
    return [(p.row, p.column) for p in checked.problems]


def check(content: bytes, organisation, max_rows: int = 2000):
    return csv_import.check(content, organisation, max_rows)


def activity_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Activity))


@pytest.fixture
def org(app):
    return make_organisation(name="Walkers")


@pytest.fixture
def coordinator(app):
    return make_user(Role.COORDINATOR)


def hold_and_import(content: bytes, organisation, coordinator, max_rows: int = 2000) -> int:
    pending = csv_import.hold(content, "activities.csv", organisation, 1, coordinator)
    db.session.commit()
    created = csv_import.import_held(pending, max_rows, TODAY)
    db.session.commit()
    return created


# --- a good file ------------------------------------------------------------------------------


def test_the_template_passes(org):
    checked = check(csv_import.template_csv().encode(), org)
    assert checked.ok
    assert checked.file_problem is None and checked.problems == []
    assert len(checked.rows) == 1
    (preview,) = checked.preview
    assert preview == {
        "row": 2,
        "title": "Tuesday walking group",
        "when": "Tuesday",
        "postcode": "CV3 6PT",
        "status": "Draft",
    }


def test_a_valid_file_imports_every_activity_as_a_draft(org, coordinator):
    content = csv_bytes(
        row(),
        row(
            title="Monthly art club",
            categories="arts",
            frequency="Monthly",
            days="friday",
            monthly_week="last",
            start_time="18:00",
            end_time="20:00",
            cost="£3.50",
            capacity="12",
            spaces_available="4",
            min_age="18",
            max_age="99",
            hearing_loop="Y",
            step_free="no",
            status="",
        ),
        row(
            title="Fortnightly zoom",
            categories="Digital skills",
            frequency="fortnightly",
            days="Mon, Thu",
            starts_on="15/03/2027",
            online="yes",
            venue_name="",
            postcode="",
            accepts_referrals="no",
            start_time="",
            end_time="",
        ),
    )
    assert check(content, org).ok

    assert hold_and_import(content, org, coordinator) == 3

    saved = {a.title: a for a in db.session.scalars(sa.select(Activity))}
    assert set(saved) == {"Tuesday walking group", "Monthly art club", "Fortnightly zoom"}
    assert {a.status for a in saved.values()} == {ActivityStatus.DRAFT}
    assert {a.organisation_id for a in saved.values()} == {org.id}

    walk = saved["Tuesday walking group"]
    assert walk.categories == ["physical_activity", "social_connection"]
    assert walk.frequency == Frequency.WEEKLY and walk.days == [1]
    assert (walk.start_time, walk.end_time) == (time(10, 0), time(11, 30))
    assert walk.postcode == "CV3 6PT" and walk.postcode_district == "CV3"
    assert walk.step_free and not walk.hearing_loop
    assert walk.cost_pence is None and walk.accepts_referrals
    assert walk.last_confirmed_on is None

    art = saved["Monthly art club"]
    assert art.frequency == Frequency.MONTHLY and art.monthly_week == -1 and art.days == [4]
    assert art.cost_pence == 350
    assert (art.capacity, art.spaces_available, art.min_age, art.max_age) == (12, 4, 18, 99)
    assert art.hearing_loop and not art.step_free

    zoom = saved["Fortnightly zoom"]
    assert zoom.online and zoom.postcode is None and not zoom.accepts_referrals
    assert zoom.days == [0, 3] and zoom.starts_on == date(2027, 3, 15)

    assert db.session.scalar(sa.select(ActivityImport.imported_at)) is not None


def test_published_rows_of_a_verified_organisation_are_published(org, coordinator):
    content = csv_bytes(row(status="Published"), row(title="Still a draft", status="draft"))
    assert hold_and_import(content, org, coordinator) == 2
    saved = {a.title: a for a in db.session.scalars(sa.select(Activity))}
    published = saved["Tuesday walking group"]
    assert published.status == ActivityStatus.PUBLISHED
    assert published.last_confirmed_on == TODAY
    assert saved["Still a draft"].status == ActivityStatus.DRAFT


def test_published_rows_of_an_unverified_organisation_are_refused(app, coordinator):
    unverified = make_organisation(verified=False)
    checked = check(csv_bytes(row(), row(status="published")), unverified)
    assert not checked.ok
    assert problems(checked) == [(3, "status")]
    assert "not verified" in checked.problems[0].message
    # Drafts alone are fine for an unverified organisation.
    assert check(csv_bytes(row(), row(status="draft")), unverified).ok


def test_a_held_file_is_checked_again_before_import(app, coordinator):
    organisation = make_organisation()
    content = csv_bytes(row(status="published"))
    pending = csv_import.hold(content, "a.csv", organisation, 1, coordinator)
    organisation.verified_at = None  # no longer verified since the file was checked
    db.session.commit()
    with pytest.raises(ValueError):
        csv_import.import_held(pending, 2000, TODAY)
    db.session.rollback()
    assert activity_count() == 0


def test_headers_are_matched_whatever_their_case_and_spaces(org):
    text = csv_import.template_csv()
    header, rest = text.split("\r\n", 1)
    shouted = ",".join(f" {h.upper()} " for h in header.split(","))
    assert check(f"{shouted}\r\n{rest}".encode(), org).ok


def test_a_byte_order_mark_is_allowed(org):
    assert check(b"\xef\xbb\xbf" + csv_import.template_csv().encode(), org).ok


def test_only_the_required_columns_are_needed(org):
    content = csv_bytes(row(), columns=csv_import.REQUIRED_COLUMNS)
    assert check(content, org).ok


# --- problems with the whole file -------------------------------------------------------------


def test_missing_columns_are_named(org):
    columns = [c for c in csv_import.ALL_COLUMNS if c not in ("title", "postcode", "cost")]
    checked = check(csv_bytes(row(), columns=columns), org)
    assert not checked.ok
    assert checked.file_problem == "The file is missing these columns: title, postcode, cost"
    assert checked.rows == []


def test_an_empty_file_names_every_column(org):
    checked = check(b"", org)
    assert checked.file_problem.startswith("The file is missing these columns: title, description")


def test_a_header_only_file_has_no_activities(org):
    checked = check(csv_bytes(), org)
    assert not checked.ok
    assert "no activities" in checked.file_problem


@pytest.mark.parametrize(
    "content",
    [
        "title,description\ncafé,thé\n".encode("latin-1"),
        csv_import.template_csv().encode("utf-16"),
        b"\xff\xfe\x00\x00garbage",
    ],
)
def test_a_file_that_is_not_utf8_is_refused(org, content):
    checked = check(content, org)
    assert not checked.ok
    assert "UTF-8" in checked.file_problem


def test_blank_trailing_lines_are_ignored(org):
    blank_cells = "," * (len(csv_import.ALL_COLUMNS) - 1)
    content = csv_bytes(row(), row(title="Second"), tail=f"\r\n{blank_cells}\r\n  ,\r\n\r\n")
    checked = check(content, org)
    assert checked.ok
    assert len(checked.rows) == 2


def test_a_file_of_exactly_the_largest_size_with_blank_lines_after_is_allowed(org):
    blank_cells = "," * (len(csv_import.ALL_COLUMNS) - 1)
    content = csv_bytes(row(), row(), row(), tail=f"{blank_cells}\r\n{blank_cells}\r\n")
    checked = check(content, org, max_rows=3)
    assert checked.file_problem is None
    assert checked.ok and len(checked.rows) == 3


def test_one_row_over_the_limit_is_refused(org):
    checked = check(csv_bytes(row(), row(), row(), row()), org, max_rows=3)
    assert not checked.ok
    assert checked.file_problem == (
        "The file has more than 3 activities. Split it into files of 3 or fewer and import "
        "each one."
    )
    assert checked.rows == []


@pytest.fixture
def plain_app():
    """The app without a database: checking a file reads no table."""
    app = create_app("test")
    with app.app_context():
        yield app


def test_a_ten_thousand_row_file_is_refused_without_reading_it_all(plain_app, monkeypatch):
    max_rows = plain_app.config["ACTIVITY_IMPORT_MAX_ROWS"]
    assert max_rows == 2000
    organisation = Organisation(name="Walkers", verified_at=utcnow())
    content = csv_bytes(*[row(title=f"Walk {n}") for n in range(10_000)])

    checked_rows: list[int] = []
    real_check_row = csv_import._check_row

    def spy(number, *args):
        checked_rows.append(number)
        return real_check_row(number, *args)

    monkeypatch.setattr(csv_import, "_check_row", spy)
    tracemalloc.start()
    try:
        checked = csv_import.check(content, organisation, max_rows)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not checked.ok
    assert checked.file_problem == (
        "The file has more than 2,000 activities. Split it into files of 2,000 or fewer and "
        "import each one."
    )
    assert checked.rows == []
    # Reading stopped one row past the limit: rows 2 to 2001 were checked, no more.
    assert checked_rows == list(range(2, 2002))
    # The file's text is held a few times over (about 6 times its size), but its 10,000
    # rows are never all read into memory (that alone is over 12 times its size).
    assert peak < 10 * len(content)


# --- problems with rows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"starts_on": "31/02/2027"}, "starts_on"),
        ({"starts_on": "next week"}, "starts_on"),
        ({"starts_on": "2027-13-01"}, "starts_on"),
        ({"start_time": "25:00"}, "start_time"),
        ({"start_time": "10am"}, "start_time"),
        ({"end_time": "09:00"}, "end_time"),  # before the start
        ({"end_time": "10:00"}, "end_time"),  # the same as the start
        ({"capacity": "-1"}, "capacity"),
        ({"capacity": "ten"}, "capacity"),
        ({"capacity": "5", "spaces_available": "6"}, "spaces_available"),
        ({"cost": "abc"}, "cost"),
        ({"cost": "3.505"}, "cost"),
        ({"cost": "-2"}, "cost"),
        ({"categories": "Physical activity; Knitting"}, "categories"),
        ({"categories": ""}, "categories"),
        ({"days": "Tue; Funday"}, "days"),
        ({"days": ""}, "days"),
        ({"frequency": "daily"}, "frequency"),
        ({"frequency": "monthly", "monthly_week": "fifth"}, "monthly_week"),
        ({"frequency": "monthly"}, "monthly_week"),
        ({"frequency": "fortnightly"}, "starts_on"),
        ({"online": "maybe"}, "online"),
        ({"accepts_referrals": "sometimes"}, "accepts_referrals"),
        ({"step_free": "perhaps"}, "step_free"),
        ({"status": "live"}, "status"),
        ({"postcode": "NOT A POSTCODE"}, "postcode"),
        ({"postcode": ""}, "postcode"),
        ({"venue_name": ""}, "venue_name"),
        ({"title": ""}, "title"),
        ({"min_age": "60", "max_age": "50"}, "max_age"),
        ({"contact_email": "not an email"}, "contact_email"),
    ],
)
def test_a_bad_row_is_reported_with_its_row_number_and_nothing_is_imported(
    org, coordinator, changes, column
):
    content = csv_bytes(row(title="Good one"), row(**changes), row(title="Good two"))
    checked = check(content, org)
    assert not checked.ok
    assert checked.file_problem is None
    assert (3, column) in problems(checked)
    assert {p.row for p in checked.problems} == {3}
    assert all(p.message for p in checked.problems)

    # A file with a bad row is never imported, not even its good rows.
    pending = csv_import.hold(content, "bad.csv", org, 3, coordinator)
    db.session.commit()
    with pytest.raises(ValueError):
        csv_import.import_held(pending, 2000, TODAY)
    db.session.rollback()
    assert activity_count() == 0


def test_problems_in_several_rows_are_all_reported(org):
    content = csv_bytes(
        row(starts_on="next week"),
        row(),
        row(cost="abc", capacity="-3"),
        row(days="Someday"),
    )
    checked = check(content, org)
    assert sorted(problems(checked)) == [
        (2, "starts_on"),
        (4, "capacity"),
        (4, "cost"),
        (5, "days"),
    ]
    assert len(checked.rows) == 4


def test_row_numbers_count_blank_rows_in_the_middle(org):
    blank_cells = "," * (len(csv_import.ALL_COLUMNS) - 1)
    good, bad = csv_bytes(row()).decode(), csv_bytes(row(cost="abc")).decode()
    header, good_line = good.split("\r\n", 1)
    bad_line = bad.split("\r\n", 1)[1]
    content = f"{header}\r\n{good_line}{blank_cells}\r\n{bad_line}".encode()
    checked = check(content, org)
    # Header 1, good 2, blank 3, bad 4: as a spreadsheet numbers them.
    assert problems(checked) == [(4, "cost")]


def test_a_date_in_either_format_is_read(org, coordinator):
    content = csv_bytes(
        row(title="Slashes", frequency="fortnightly", starts_on="05/03/2027"),
        row(title="Dashes", frequency="fortnightly", starts_on="2027-03-05"),
    )
    assert hold_and_import(content, org, coordinator) == 2
    assert set(db.session.scalars(sa.select(Activity.starts_on))) == {date(2027, 3, 5)}
