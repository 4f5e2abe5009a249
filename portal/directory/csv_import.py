"""Importing activities from a CSV file: every row checked by the activity form's own rules.

Nothing is saved unless the whole file is right. Reading stops one row past the limit,
so a huge file costs no more than a file of the largest size allowed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from werkzeug.datastructures import MultiDict

from portal.auth.models import User
from portal.db_types import utcnow
from portal.directory import listings
from portal.directory.forms import ActivityForm
from portal.directory.models import (
    Activity,
    ActivityCategory,
    ActivityImport,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.directory.schedule import DAY_NAMES, WEEKS_OF_MONTH
from portal.directory.search import ACCESS_FEATURES
from portal.extensions import db

REQUIRED_COLUMNS = (
    "title",
    "description",
    "categories",
    "frequency",
    "days",
    "start_time",
    "end_time",
    "online",
    "venue_name",
    "postcode",
    "cost",
    "accepts_referrals",
)
OPTIONAL_COLUMNS = (
    "status",
    "starts_on",
    "monthly_week",
    "schedule_note",
    "venue_address",
    "min_age",
    "max_age",
    "eligibility",
    *ACCESS_FEATURES,
    "capacity",
    "spaces_available",
    "contact_name",
    "contact_email",
    "contact_phone",
)
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
PREVIEW_ROWS = 10
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}
_DAY_NAMES = {name.lower(): n for n, name in enumerate(DAY_NAMES)} | {
    name[:3].lower(): n for n, name in enumerate(DAY_NAMES)
}
_CATEGORIES = {c.value: c.value for c in ActivityCategory} | {
    c.label.lower(): c.value for c in ActivityCategory
}
_FREQUENCIES = {f.value: f.value for f in Frequency} | {f.label.lower(): f.value for f in Frequency}
_WEEKS = {v.lower(): str(k) for k, v in WEEKS_OF_MONTH.items()} | {
    str(k): str(k) for k in WEEKS_OF_MONTH
}


@dataclass
class RowProblem:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    message: str


@dataclass
class CheckedFile:
    problems: list[RowProblem] = field(default_factory=list)
    file_problem: str | None = None
    rows: list[dict] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.file_problem is None and not self.problems and bool(self.rows)


class _RowError(Exception):
    def __init__(self, column: str, message: str):
        self.column, self.message = column, message


def _split(value: str) -> list[str]:
    return [part.strip().lower() for part in re.split(r"[;,]", value) if part.strip()]


def _yes_no(row: dict, column: str) -> str:
    value = (row.get(column) or "").strip().lower()
    if value in _YES:
        return "yes"
    if value in _NO:
        return "no"
    raise _RowError(column, "Enter yes or no")


def _date_parts(value: str) -> dict[str, str]:
    value = value.strip()
    if not value:
        return {}
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(value, pattern).date()
            return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}
        except ValueError:
            continue
    raise _RowError("starts_on", "Enter a real date, like 15/03/2027 or 2027-03-15")


def _as_formdata(row: dict) -> MultiDict:
    """A CSV row as if it had been typed into the activity form."""
    data = MultiDict()
    for name in (
        "title",
        "description",
        "start_time",
        "end_time",
        "schedule_note",
        "venue_name",
        "venue_address",
        "postcode",
        "cost",
        "min_age",
        "max_age",
        "eligibility",
        "capacity",
        "spaces_available",
        "contact_name",
        "contact_email",
        "contact_phone",
    ):
        data[name] = (row.get(name) or "").strip()
    for part in _split(row.get("categories") or ""):
        if part not in _CATEGORIES:
            raise _RowError("categories", f"“{part}” is not one of the categories")
        data.add("categories", _CATEGORIES[part])
    frequency = (row.get("frequency") or "").strip().lower()
    if frequency not in _FREQUENCIES:
        raise _RowError("frequency", "Enter weekly, fortnightly, monthly or by arrangement")
    data["frequency"] = _FREQUENCIES[frequency]
    for part in _split(row.get("days") or ""):
        if part not in _DAY_NAMES:
            raise _RowError("days", f"“{part}” is not a day of the week")
        data.add("days", str(_DAY_NAMES[part]))
    week = (row.get("monthly_week") or "").strip().lower()
    if week and week not in _WEEKS:
        raise _RowError("monthly_week", "Enter first, second, third, fourth or last")
    data["monthly_week"] = _WEEKS.get(week, "")
    for part, value in _date_parts(row.get("starts_on") or "").items():
        data[f"starts_on[{part}]"] = value
    data["online"] = _yes_no(row, "online")
    data["accepts_referrals"] = _yes_no(row, "accepts_referrals")
    for feature in ACCESS_FEATURES:
        if _yes_no(row, feature) == "yes":
            data.add("access", feature)
    return data


def _status(row: dict, organisation: Organisation) -> ActivityStatus:
    value = (row.get("status") or "draft").strip().lower()
    if value not in ("draft", "published"):
        raise _RowError("status", "Enter draft or published")
    if value == "published" and not organisation.is_verified:
        raise _RowError(
            "status",
            "The organisation is not verified yet, so its activities can only be drafts",
        )
    return ActivityStatus(value)


def _read(content: bytes) -> str | None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    # Dropped, as from forms: nobody means one, and PostgreSQL cannot store one.
    return text.replace("\x00", "")


def check(content: bytes, organisation: Organisation, max_rows: int) -> CheckedFile:
    result = CheckedFile()
    text = _read(content)
    if text is None:
        result.file_problem = "The file must be saved as “CSV UTF-8” (a text file)"
        return result
    reader = csv.DictReader(io.StringIO(text, newline=""))
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        result.file_problem = "The file is missing these columns: " + ", ".join(missing)
        return result
    reader.fieldnames = headers
    for number, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line, as spreadsheets often leave at the end
        if len(result.rows) >= max_rows:
            result.file_problem = (
                f"The file has more than {max_rows:,} activities. Split it into files of "
                f"{max_rows:,} or fewer and import each one."
            )
            result.rows, result.problems = [], []
            return result
        _check_row(number, row, organisation, result)
    if not result.rows and not result.problems:
        result.file_problem = "The file has no activities in it, only the header row"
    return result


def _check_row(number: int, row: dict, organisation: Organisation, result: CheckedFile) -> None:
    try:
        formdata = _as_formdata(row)
        status = _status(row, organisation)
    except _RowError as problem:
        result.problems.append(RowProblem(number, problem.column, problem.message))
        result.rows.append({})
        return
    form = ActivityForm(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        for name, messages in form.errors.items():
            column = "access" if name == "access" else name
            result.problems.extend(RowProblem(number, column, m) for m in messages)
    result.rows.append({"status": status})
    if len(result.preview) < PREVIEW_ROWS:
        result.preview.append(
            {
                "row": number,
                "title": form.title.data,
                "when": ", ".join(DAY_NAMES[d] for d in sorted(form.days.data or []))
                or "By arrangement",
                "postcode": form.postcode.data or "Online",
                "status": status.label,
            }
        )


def hold(content: bytes, filename: str, organisation: Organisation, rows: int, by: User):
    """Keep a checked file until the coordinator confirms it."""
    pending = ActivityImport(
        organisation=organisation,
        filename=filename[:200],
        content=_read(content),
        row_count=rows,
        created_by_id=by.id,
    )
    db.session.add(pending)
    db.session.flush()
    return pending


def import_held(pending: ActivityImport, max_rows: int, today: date) -> int:
    """Create every activity in the held file, or none: it is checked again first."""
    organisation = pending.organisation
    checked = check(pending.content.encode("utf-8"), organisation, max_rows)
    if not checked.ok:
        raise ValueError("The file no longer passes its checks")
    reader = csv.DictReader(io.StringIO(pending.content, newline=""))
    reader.fieldnames = [(h or "").strip().lower() for h in reader.fieldnames or []]
    created = 0
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        form = ActivityForm(formdata=_as_formdata(row), meta={"csrf": False})
        form.validate()
        activity = Activity(organisation=organisation, status=ActivityStatus.DRAFT)
        form.apply_to(activity)
        if _status(row, organisation) == ActivityStatus.PUBLISHED:
            listings.change_status(activity, ActivityStatus.PUBLISHED, today)
        db.session.add(activity)
        created += 1
    pending.imported_at = utcnow()
    return created


def template_csv() -> str:
    """A header row and one example, for coordinators to start from."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ALL_COLUMNS)
    example = {
        "title": "Tuesday walking group",
        "description": "A gentle hour's walk round the park, then tea.",
        "categories": "Physical activity; Social connection",
        "frequency": "weekly",
        "days": "Tue",
        "start_time": "10:00",
        "end_time": "11:30",
        "online": "no",
        "venue_name": "War Memorial Park gates",
        "postcode": "CV3 6PT",
        "cost": "",
        "accepts_referrals": "yes",
        "status": "draft",
        "step_free": "yes",
    }
    writer.writerow([example.get(column, "") for column in ALL_COLUMNS])
    return out.getvalue()
