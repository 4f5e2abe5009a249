"""Benchmark: a navigator's caseload (GET /caseload) with 200 open cases among 100,000
referrals and 1,000,000 contacts.

Builds a fresh database in a temporary folder (SQLite by default, PostgreSQL with
--postgres or when DATABASE_URL is set), creates the schema with the migrations,
bulk-loads referrals, contacts and alerts, logs in as the benchmarked navigator through
the test client and times full GET /caseload requests (routing, queries, rendering).

The SQL statement count per request is measured at a small size first and again at full
size, to show it does not grow with the number of rows.

Performance is reported, never asserted: the script exits non-zero only on errors
(a request that fails, a load that fails, data that is not what was planned), not on
slow figures.

    .venv/bin/python benchmarks/caseload.py                # SQLite
    .venv/bin/python benchmarks/caseload.py --postgres     # a throwaway PostgreSQL server
    DATABASE_URL=postgresql://... .venv/bin/python benchmarks/caseload.py
    .venv/bin/python benchmarks/caseload.py --explain --profile 50   # where the time goes
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import enum
import gc
import io
import json
import math
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Keep create_app() away from the project's own instance/ folder.
_TMP = Path(tempfile.mkdtemp(prefix="portal-bench-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["PORTAL_INSTANCE_DIR"] = str(_TMP / "instance")

import nhs_number  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from portal import create_app  # noqa: E402
from portal.alerts.models import Alert, AlertKind  # noqa: E402
from portal.auth.models import Role, User  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.cases import caseload as caseloads  # noqa: E402
from portal.cases.models import Contact, ContactMethod, ContactResult  # noqa: E402
from portal.db_types import utcnow  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.referrals.models import (  # noqa: E402
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralSource,
    ReferralStatus,
    Resident,
    Route,
    Urgency,
)

PASSWORD = "benchmark navigator password"  # noqa: S105
NAVIGATOR_EMAIL = "navigator@bench.invalid"
COORDINATOR_EMAIL = "coordinator@bench.invalid"
SEED = 20260202
CHUNK = 20_000
TARGET_MS = 100

NEIGHBOURHOODS = 6
PRACTICES = 30


def _words(text: str) -> list[str]:
    return text.split()


GIVEN = _words(
    "Margaret Patricia Jean Brenda Sheila Maureen Doreen Joan Barbara Valerie Pauline "
    "Christine Sandra Janet Irene Elsie Kathleen Sylvia Carol Linda John David Michael Peter "
    "Brian Kenneth Roy Derek Alan Keith Geoffrey Ronald Trevor Graham Colin Sarah Emma "
    "Rachel Claire Amy Laura Hannah Megan James Daniel Ben Tom Chris Matthew Liam Ryan "
    "Aisha Fatima Mohammed Imran Priya Rajesh Sunita Harpreet Gurdeep Anna Piotr Katarzyna "
    "Tomasz Grace Chidi Ngozi Emeka Yusuf Amina Olena Andriy"
)
FAMILY = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Turner Hill Cooper Ward Morris Harris "
    "Lewis Baker Harrison Bates Fletcher Holloway Pearson Dunn Shaw Lloyd Barnes Webb Chapman "
    "Mason Carter Price Parsons Bishop Kemp Khan Ahmed Hussain Patel Singh Kaur Sharma Begum "
    "Ali Kowalski Nowak Wisniewski Okafor Adeyemi Mensah Kovalenko Shevchenko Murphy Kelly "
    "O'Brien Byrne Campbell Stewart MacDonald"
)
STREETS = (
    "Acacia Avenue",
    "Beech Road",
    "Chestnut Close",
    "Damson Way",
    "Elder Grove",
    "Fern Lane",
    "Hazel Road",
    "Maple Crescent",
    "Orchard Way",
    "Poplar Road",
    "Wren Street",
    "Yew Tree Lane",
)
DISTRICTS = ("CV1", "CV2", "CV3", "CV4", "CV5", "CV6", "CV7", "CV8")
INWARD = "ABDEFGHJLNPQRSTUWXYZ"
LANGUAGES = ("English",) * 17 + ("Punjabi", "Polish", "Urdu")
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

S = ReferralStatus
# Of every 1,000 referrals: most closed; about 5% open cases with a navigator (assigned or
# being supported), which is about 200 for each of 26 navigators. (status, per mille)
STATUS_MIX = (
    (S.CLOSED, 880),
    (S.ACTIVE, 46),
    (S.ASSIGNED, 8),
    (S.TRIAGED, 10),
    (S.RECEIVED, 30),
    (S.CONTACTING, 26),
)
CASE_STATUSES = (S.ASSIGNED, S.ACTIVE)
SOURCE_MIX = (
    (ReferralSource.PRACTICE, 65),
    (ReferralSource.SELF, 20),
    (ReferralSource.PROFESSIONAL, 15),
)
NAVIGATED = (Route.SOCIAL_NAVIGATION, Route.BOTH)

M = ContactMethod
# A navigator's contacts: how, how often, and how long (minutes; None for messages).
METHOD_MIX = (
    (M.PHONE, 55),
    (M.HOME_VISIT, 10),
    (M.VIDEO, 4),
    (M.VENUE, 8),
    (M.ACCOMPANIED, 5),
    (M.LETTER, 3),
    (M.TEXT, 10),
    (M.EMAIL, 5),
)
MINUTES = {
    M.PHONE: (5, 45),
    M.HOME_VISIT: (30, 120),
    M.VIDEO: (10, 45),
    M.VENUE: (30, 90),
    M.ACCOMPANIED: (60, 180),
}
MESSAGES = (M.LETTER, M.TEXT, M.EMAIL)
SUCCESS_RATE = 0.65  # of attempts to speak to the person, the share that does
NOTES = (
    "Talked about groups nearby; will think about the walking group.",
    "Went through the benefits check together; forms sent.",
    "Feeling a little better; wants to try the lunch club.",
    "Low this week after a hospital appointment; agreed to call again soon.",
    None,
    None,
)
CONTACT_COLUMNS = (
    "referral_id",
    "author_id",
    "occurred_at",
    "method",
    "duration_minutes",
    "successful",
    "result",
    "notes",
    "concern_raised",
    "safeguarding_note",
    "created_at",
    "updated_at",
    "version",
)


# --- the database ------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str
    cleanup: Callable[[], None] = lambda: None


def sqlite_backend() -> Backend:
    path = _TMP / "bench.db"
    return Backend("sqlite", f"sqlite:///{path}")


def postgres_from_url(raw: str) -> Backend:
    """A throwaway database on the server DATABASE_URL points at; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    from config import database_url

    base = make_url(database_url(raw))
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = base.set(database=name).render_as_string(hide_password=False)
    return Backend("postgresql", url, drop)


def postgres_throwaway() -> Backend:
    from tests.pg_server import PostgresServer

    server = PostgresServer().start()
    try:
        url = server.create_database("portal_bench")
    except Exception:
        server.stop()
        raise
    return Backend("postgresql", url, server.stop)


def choose_backend(args) -> Backend:
    """--sqlite wins; then a PostgreSQL DATABASE_URL; then --postgres (a throwaway server)."""
    if args.sqlite:
        return sqlite_backend()
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
        return postgres_from_url(os.environ["DATABASE_URL"])
    if args.postgres:
        return postgres_throwaway()
    return sqlite_backend()


def make_app(url: str) -> Flask:
    from flask_migrate import upgrade

    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    return app


def _plain(value):
    """What COPY should receive: enum values as text, UTC datetimes as naive UTC."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def insert_rows(table: sa.Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Rows (tuples in `columns` order) in one transaction per CHUNK.

    PostgreSQL gets COPY (psycopg's cursor.copy); SQLite gets an executemany of a Core
    insert, which on SQLite is a prepared statement run once per row inside the transaction.
    """
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                raw = conn.connection.driver_connection
                names = ", ".join(columns)
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
                ):
                    for row in chunk:
                        copy.write_row([_plain(v) for v in row])
            else:
                conn.execute(
                    sa.insert(table), [dict(zip(columns, row, strict=True)) for row in chunk]
                )


def _default(column: sa.Column):
    """A column's Python-side default, as an ORM or Core INSERT would fill it."""
    default = column.default
    if default is None or default.is_sequence or default.is_clause_element:
        return None
    return default.arg(None) if default.is_callable else default.arg


def insert_dicts(table: sa.Table, rows: list[dict]) -> None:
    """Rows as dicts, with every column's Python-side default filled in (COPY applies none)
    and JSON columns written as JSON text on PostgreSQL."""
    if not rows:
        return
    missing = [
        c
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and not c.primary_key
    ]
    json_columns = set()
    if db.engine.dialect.name == "postgresql":
        json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    if missing or json_columns:
        full_rows = []
        for row in rows:
            full = dict(row)
            for c in missing:
                full[c.name] = _default(c)
            for name in json_columns & full.keys():
                if not isinstance(full[name], str):
                    full[name] = json.dumps(full[name])
            full_rows.append(full)
        rows = full_rows
    columns = tuple(rows[0])
    insert_rows(table, columns, [tuple(r[c] for c in columns) for r in rows])


# --- the data ----------------------------------------------------------------------------


def _weighted(rng: random.Random, mix):
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights=weights)[0]


def _nhs_numbers() -> Iterator[str]:
    """Valid NHS numbers in the 999 test range, each once."""
    for i in range(1_000_000):
        stem = f"999{i:06d}"
        check = nhs_number.calculate_checksum(stem)
        if check is not None and check != 10:
            yield stem + str(check)


def _reference(referral_id: int) -> str:
    # A bijection on 31**6, so every id has its own six-character code that looks random.
    n = (referral_id * 7_919 + 104_729) % 31**6
    code = []
    for _ in range(6):
        n, digit = divmod(n, 31)
        code.append(REFERENCE_ALPHABET[digit])
    return "SP-" + "".join(code)


@dataclass
class Loaded:
    """What was loaded, for the report; the rows themselves are not kept."""

    navigator_id: int = 0
    navigators: int = 0
    referrals: int = 0
    residents: int = 0
    contacts: int = 0
    alerts: int = 0
    seconds: Counter = field(default_factory=Counter)  # per table


@dataclass
class Planner:
    """Plans every referral, contact and alert up front, then loads them in two phases.

    The small phase is a random sample of the referrals (with a few of the benchmarked
    navigator's open cases among them) and their contacts and alerts; the full phase is
    the rest. Ids follow `received_at` and contacts are inserted in time order, as they
    would be in a database that has been used for years: one case's contacts are spread
    over the whole table, not stored side by side.
    """

    now: datetime
    referrals: int
    contacts: int
    open_cases: int
    other_navigators: int
    small: int
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    practices: list[int] = field(default_factory=list)
    navigator_id: int = 0
    coordinator_id: int = 0
    others: list[int] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # referrals, by id - 1
    residents: dict[int, dict] = field(default_factory=dict)
    nav_contacts: list[int] = field(default_factory=list)  # by referral, navigator's contacts
    triage_contacts: list[int] = field(default_factory=list)  # by referral, the hub's calls
    small_ids: set[int] = field(default_factory=set)
    loaded: Loaded = field(default_factory=Loaded)

    # reference data

    def reference_data(self) -> None:
        created = utcnow()
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(Neighbourhood),
                [
                    {"id": i, "name": f"Neighbourhood {i} INT", "email": f"int{i}@nhs.invalid"}
                    for i in range(1, NEIGHBOURHOODS + 1)
                ],
            )
            conn.execute(
                sa.insert(Practice),
                [
                    {
                        "id": i,
                        "ods_code": f"Y{i:05d}",
                        "name": f"Practice {i:02d} Medical Centre",
                        "neighbourhood_id": (i - 1) % NEIGHBOURHOODS + 1,
                        "address": f"{i} High Street",
                        "postcode": f"CV{i % 8 + 1} {i % 9 + 1}AA",
                        "report_frequency": "weekly",
                        "notify_on_close": False,
                        "list_size": 6000 + 300 * i,
                    }
                    for i in range(1, PRACTICES + 1)
                ],
            )
            self.practices = list(range(1, PRACTICES + 1))

            def user(email: str, name: str, role: Role, password: bool) -> dict:
                return {
                    "email": email,
                    "full_name": name,
                    "role": role,
                    "password_hash": hash_password(PASSWORD) if password else None,
                    "is_active": True,
                    "session_token": uuid.uuid4().hex,
                    "is_volunteer_navigator": False,
                    "caseload_capacity": 220 if role == Role.NAVIGATOR else None,
                    "created_at": created,
                }

            conn.execute(
                sa.insert(User),
                [
                    user(NAVIGATOR_EMAIL, "Bench Navigator", Role.NAVIGATOR, True),
                    user(COORDINATOR_EMAIL, "Bench Coordinator", Role.COORDINATOR, True),
                ]
                + [
                    user(f"navigator{i}@bench.invalid", f"Navigator {i:02d}", Role.NAVIGATOR, False)
                    for i in range(1, self.other_navigators + 1)
                ],
            )
            ids = dict(conn.execute(sa.select(User.email, User.id)).all())
        self.navigator_id = ids[NAVIGATOR_EMAIL]
        self.coordinator_id = ids[COORDINATOR_EMAIL]
        self.others = [
            ids[f"navigator{i}@bench.invalid"] for i in range(1, self.other_navigators + 1)
        ]
        self.loaded.navigator_id = self.navigator_id
        self.loaded.navigators = 1 + self.other_navigators

    # planning

    def plan(self) -> None:
        rng = self.rng
        nhs = _nhs_numbers()
        rows: list[dict] = []
        recent: list[dict] = []
        for _ in range(self.referrals):
            # About one referral in seven is a second or third for someone referred before.
            if recent and rng.random() < 0.15:
                resident = rng.choice(recent)
            else:
                resident = self._resident(len(self.residents) + 1, nhs)
                self.residents[resident["id"]] = resident
                recent.append(resident)
                if len(recent) > 5_000:
                    recent.pop(0)
            rows.append(self._referral(resident))
        rows.sort(key=lambda r: r["received_at"])
        for i, row in enumerate(rows, start=1):
            row["id"] = i
            row["reference"] = _reference(i)
        self.rows = rows
        self.small_ids = set(rng.sample(range(1, self.referrals + 1), self.small))
        self._assign_navigators()
        self._plan_contact_counts()

    def _resident(self, rid: int, nhs: Iterator[str]) -> dict:
        rng = self.rng
        older = rng.random() < 0.6
        born = date(1935 if older else 1960, 1, 1) + timedelta(days=rng.randrange(365 * 30))
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        language = rng.choice(LANGUAGES)
        return {
            "id": rid,
            "nhs_number": next(nhs) if rng.random() < 0.95 else None,
            "given_name": given,
            "family_name": family,
            "date_of_birth": born,
            "address": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}, Coventry",
            "postcode": f"{rng.choice(DISTRICTS)} {rng.randrange(1, 10)}"
            f"{rng.choice(INWARD)}{rng.choice(INWARD)}",
            "phone": f"07700 9{rng.randrange(100_000):05d}",
            "email": f"{given.lower()}.{family.lower()}{rid}@example.invalid"
            if rng.random() < 0.4
            else None,
            "preferred_contact": rng.choice(
                (PreferredContact.PHONE,) * 3 + (PreferredContact.TEXT, PreferredContact.EMAIL)
            ),
            "language": language,
            "interpreter_needed": language != "English" and rng.random() < 0.5,
            "accessibility_needs": None,
            "gender": rng.choice(("Woman", "Man", None)),
            "practice_id": rng.choice(self.practices) if rng.random() < 0.97 else None,
            "created_at": self.now - timedelta(days=3 * 365),
        }

    def _received_at(self, status: ReferralStatus) -> datetime:
        rng = self.rng
        if status in (S.RECEIVED, S.CONTACTING):
            days = min(rng.expovariate(1 / 8), 60)
        elif status in (S.TRIAGED, S.ASSIGNED):
            days = rng.uniform(2, 30)
        elif status == S.ACTIVE:
            days = rng.uniform(14, 240)
        else:
            days = rng.uniform(30, 3 * 365)
        return self.now - timedelta(days=days, seconds=rng.randrange(86_400))

    def _after(self, start: datetime, low: float, high: float) -> datetime:
        """A moment `low` to `high` days after `start`, but never later than shortly before now."""
        rng = self.rng
        wanted = start + timedelta(days=rng.uniform(low, high))
        room = self.now - timedelta(minutes=5) - start
        latest = start + room * rng.uniform(0.5, 0.98)
        return min(wanted, latest) if room > timedelta(0) else start

    def _referral(self, resident: dict) -> dict:
        rng = self.rng
        status = _weighted(rng, STATUS_MIX)
        source = _weighted(rng, SOURCE_MIX)
        received = self._received_at(status)
        practice_id = resident["practice_id"]
        if source == ReferralSource.PRACTICE and practice_id is None:
            practice_id = rng.choice(self.practices)
        if source == ReferralSource.SELF or (
            source == ReferralSource.PROFESSIONAL and rng.random() < 0.5
        ):
            practice_id = None
        row = {
            "id": 0,
            "reference": "",
            "resident_id": resident["id"],
            "source": source,
            "practice_id": practice_id,
            "referred_by_id": None,
            "referrer_name": None if source == ReferralSource.SELF else "Dr A Referrer",
            "referrer_role": None if source == ReferralSource.SELF else "GP",
            "details": "Lives alone since a bereavement; would like to meet people nearby.",
            "known_risks": None,
            "urgency": Urgency.URGENT if rng.random() < 0.1 else Urgency.ROUTINE,
            "consent_given": True,
            "consent_share_with_gp": True,
            "consent_recorded_by": "The person" if source == ReferralSource.SELF else "GP",
            "consent_recorded_at": received,
            "status": status,
            "route": None,
            "support_level": None,
            "navigator_id": None,
            "preferred_buddy_gender": None,
            "int_neighbourhood_id": None,
            "int_sent_at": None,
            "triage_note": None,
            "next_contact_on": None,
            "received_at": received,
            "first_contact_at": None,
            "triaged_at": None,
            "assigned_at": None,
            "closed_at": None,
            "closure_reason": None,
            "outcome_summary": None,
            "updated_at": received,
            "version": 1,
        }
        if status == S.RECEIVED:
            return row
        row["first_contact_at"] = row["updated_at"] = self._after(received, 0.05, 5)
        if status == S.CONTACTING:
            return row
        triaged = self._after(row["first_contact_at"], 0.05, 10)
        if status in (S.TRIAGED, *CASE_STATUSES):
            route = rng.choice(NAVIGATED) if status in CASE_STATUSES else Route.SOCIAL_NAVIGATION
        else:
            route = rng.choices(
                (
                    Route.SOCIAL_NAVIGATION,
                    Route.INT,
                    Route.BOTH,
                    Route.SIGNPOST,
                    Route.NOT_APPROPRIATE,
                ),
                weights=(60, 12, 8, 15, 5),
            )[0]
        row.update(route=route, triaged_at=triaged, updated_at=triaged)
        if route in (Route.INT, Route.BOTH):
            row.update(
                int_neighbourhood_id=rng.randrange(1, NEIGHBOURHOODS + 1), int_sent_at=triaged
            )
        navigated = route in NAVIGATED
        if navigated:
            row["support_level"] = rng.choice((1, 2, 2, 3))
        if status == S.TRIAGED:
            return row
        if navigated:
            # The navigator is chosen later, once it is known which cases are whose.
            assigned = self._after(triaged, 0.05, 7)
            row.update(assigned_at=assigned, updated_at=assigned)
        if status in CASE_STATUSES:
            if rng.random() < 0.9:
                row["next_contact_on"] = (self.now + timedelta(days=rng.uniform(-10, 28))).date()
            return row
        closed = (
            self._after(row["assigned_at"], 14, 240) if navigated else self._after(triaged, 0.05, 2)
        )
        reason = {
            Route.SIGNPOST: ClosureReason.SIGNPOSTED,
            Route.NOT_APPROPRIATE: ClosureReason.NOT_APPROPRIATE,
        }.get(route) or rng.choice(
            (
                ClosureReason.GOALS_MET,
                ClosureReason.GOALS_MET,
                ClosureReason.CONNECTED,
                ClosureReason.REFERRED_ON,
                ClosureReason.DECLINED,
                ClosureReason.UNABLE_TO_CONTACT,
                ClosureReason.MOVED_AWAY,
            )
        )
        row.update(
            closed_at=closed,
            closure_reason=reason,
            outcome_summary="Closed after support.",
            updated_at=closed,
        )
        return row

    def _assign_navigators(self) -> None:
        """Exactly `open_cases` open cases for the benchmarked navigator, a few of them in the
        small phase; the other open cases and every closed case shared among all navigators."""
        rng = self.rng
        open_ids = [r["id"] for r in self.rows if r["status"] in CASE_STATUSES]
        in_small = [i for i in open_ids if i in self.small_ids]
        elsewhere = [i for i in open_ids if i not in self.small_ids]
        first = min(5, len(in_small), self.open_cases)
        if len(elsewhere) < self.open_cases - first:
            raise RuntimeError(
                f"only {len(open_ids)} open cases planned; the navigator needs {self.open_cases}"
            )
        mine = set(rng.sample(in_small, first) + rng.sample(elsewhere, self.open_cases - first))
        everyone = [self.navigator_id, *self.others]
        for row in self.rows:
            if row["assigned_at"] is None:
                continue
            if row["status"] in CASE_STATUSES:
                row["navigator_id"] = (
                    self.navigator_id if row["id"] in mine else rng.choice(self.others)
                )
            else:
                row["navigator_id"] = rng.choice(everyone)

    def _triage_contacts(self, row: dict) -> int:
        status = row["status"]
        if status == S.RECEIVED:
            return 0
        return self.rng.choice((1, 1, 2, 3))

    def _plan_contact_counts(self) -> None:
        """How many contacts the navigator logs on each case: the same rate of contact for
        every case over its (capped) time with a navigator, scaled so that the contacts
        add up to exactly --contacts."""
        rng = self.rng
        triage = [self._triage_contacts(r) for r in self.rows]
        spans = []
        for row in self.rows:
            if row["assigned_at"] is None or row["status"] == S.ASSIGNED:
                spans.append(0.0)
                continue
            end = row["closed_at"] or self.now
            days = min((end - row["assigned_at"]).total_seconds() / 86_400, 180)
            spans.append(max(days, 1) * rng.uniform(0.5, 1.5))
        fixed = sum(triage) + sum(
            2 for r in self.rows if r["status"] == S.ASSIGNED
        )  # assigned cases: up to 2 attempts so far, about 1 on average
        rate = max(self.contacts - fixed, 0) / max(sum(spans), 1)
        counts = []
        for row, span in zip(self.rows, spans, strict=True):
            if row["status"] == S.ASSIGNED:
                counts.append(rng.choice((0, 1, 2, 3, 4)))
            elif row["assigned_at"] is None:
                counts.append(0)
            else:
                counts.append(
                    max(int(span * rate + rng.random()), 1 if row["status"] == S.ACTIVE else 0)
                )
        # Exactly the total asked for: add or remove single contacts on cases that had support.
        diff = self.contacts - sum(triage) - sum(counts)
        supported = [i for i, span in enumerate(spans) if span > 0]
        while diff != 0 and supported:
            i = rng.choice(supported)
            if diff > 0:
                counts[i] += 1
                diff -= 1
            elif counts[i] > 1:
                counts[i] -= 1
                diff += 1
        self.nav_contacts = counts
        self.triage_contacts = triage

    def _contacts_of(self, row: dict) -> list[tuple]:
        rng = self.rng
        out = []
        status = row["status"]
        k = self.triage_contacts[row["id"] - 1]
        if k:
            # The hub's calls before triage: the last one reaches the person, unless it never did.
            start = row["first_contact_at"]
            end = row["triaged_at"] or self.now - timedelta(minutes=5)
            reached = status not in (S.CONTACTING,) and row["closure_reason"] != (
                ClosureReason.UNABLE_TO_CONTACT
            )
            for n in range(k):
                at = start if n == 0 else start + (end - start) * rng.random()
                last = n == k - 1
                success = reached and last
                out.append(self._contact(row, self.coordinator_id, at, M.PHONE, success))
        k = self.nav_contacts[row["id"] - 1]
        if k:
            start = row["assigned_at"]
            end = row["closed_at"] or self.now - timedelta(minutes=5)
            times = sorted(start + (end - start) * rng.random() for _ in range(k))
            for n, at in enumerate(times):
                method = _weighted(rng, METHOD_MIX)
                if status == S.ASSIGNED:
                    success = False  # the navigator has not reached the person yet
                elif status == S.ACTIVE and n == 0:
                    success = method not in MESSAGES  # the first conversation made it active
                    method = M.PHONE if method in MESSAGES else method
                else:
                    success = method not in MESSAGES and rng.random() < SUCCESS_RATE
                out.append(self._contact(row, row["navigator_id"], at, method, success))
        return out

    def _contact(self, row, author: int, at: datetime, method: M, success: bool) -> tuple:
        rng = self.rng
        if method in MESSAGES:
            result, minutes = ContactResult.MESSAGE_SENT, None
        elif success:
            result, minutes = ContactResult.SPOKE, rng.randint(*MINUTES[method])
        else:
            result = (
                ContactResult.NO_ANSWER
                if method != M.PHONE or rng.random() < 0.6
                else rng.choice((ContactResult.LEFT_MESSAGE,) * 9 + (ContactResult.WRONG_DETAILS,))
            )
            minutes = rng.randint(1, 5) if method in (M.PHONE, M.VIDEO) else None
        concern = success and rng.random() < 0.004
        created = at + timedelta(minutes=rng.uniform(1, 240))
        created = min(created, self.now)
        return (
            row["id"],
            author,
            at,
            method,
            minutes,
            success,
            result,
            rng.choice(NOTES) if success else None,
            concern,
            "Raised with the safeguarding lead; see the case notes." if concern else None,
            created,
            created,
            1,
        )

    def _alerts_of(self, row: dict) -> list[dict]:
        """Each case's assignment alert to its navigator (unread on a few new or open cases),
        and on some open cases a safeguarding alert the navigator has not read yet."""
        rng = self.rng
        if row["navigator_id"] is None:
            return []
        open_case = row["status"] in CASE_STATUSES
        out = []
        unread = open_case and (row["status"] == S.ASSIGNED or rng.random() < 0.08)
        assigned = row["assigned_at"]
        out.append(
            {
                "user_id": row["navigator_id"],
                "referral_id": row["id"],
                "kind": AlertKind.CASE_ASSIGNED,
                "message": f"{row['reference']} has been assigned to you.",
                "created_at": assigned,
                "read_at": None
                if unread
                else min(assigned + timedelta(hours=rng.uniform(0.1, 48)), self.now),
            }
        )
        if rng.random() < 0.05:
            at = self._after(assigned, 1, 60)
            for user in (row["navigator_id"], self.coordinator_id):
                out.append(
                    {
                        "user_id": user,
                        "referral_id": row["id"],
                        "kind": AlertKind.CONCERN_RAISED,
                        "message": f"A safeguarding concern was raised on {row['reference']}.",
                        "created_at": at,
                        "read_at": None
                        if open_case and rng.random() < 0.5
                        else min(at + timedelta(hours=rng.uniform(0.1, 24)), self.now),
                    }
                )
        return out

    # loading

    def load(self, phase: str) -> None:
        """Insert the small sample ("small") or every other referral ("rest")."""
        small = phase == "small"
        rows = [r for r in self.rows if (r["id"] in self.small_ids) == small]
        resident_ids = sorted({r["resident_id"] for r in rows})
        residents = [self.residents.pop(i) for i in resident_ids if i in self.residents]
        seconds = self.loaded.seconds

        start = time.perf_counter()
        insert_dicts(Resident.__table__, residents)
        seconds["residents"] += time.perf_counter() - start

        start = time.perf_counter()
        insert_dicts(Referral.__table__, rows)
        seconds["referrals"] += time.perf_counter() - start

        contacts = []
        for row in rows:
            contacts.extend(self._contacts_of(row))
        contacts.sort(key=lambda c: c[2])  # by occurred_at, as they were logged
        start = time.perf_counter()
        insert_rows(Contact.__table__, CONTACT_COLUMNS, contacts)
        seconds["contacts"] += time.perf_counter() - start

        alerts = []
        for row in rows:
            alerts.extend(self._alerts_of(row))
        alerts.sort(key=lambda a: a["created_at"])
        start = time.perf_counter()
        insert_dicts(Alert.__table__, alerts)
        seconds["alerts"] += time.perf_counter() - start

        self.loaded.referrals += len(rows)
        self.loaded.residents += len(residents)
        self.loaded.contacts += len(contacts)
        self.loaded.alerts += len(alerts)


def analyze() -> None:
    """Fresh planner statistics, as a database that has been running a while would have.

    PostgreSQL also gets VACUUM, which autovacuum would soon run after a bulk load anyway
    (and might otherwise start in the middle of the timed requests).
    """
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Explicit ids were inserted: move the sequences past them.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('residents', 'id'), "
                "(SELECT max(id) FROM residents))"
            )
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('referrals', 'id'), "
                "(SELECT max(id) FROM referrals))"
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        postgres = conn.dialect.name == "postgresql"
        conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    # SQLite reads the statistics when a connection opens: start the pool afresh.
    db.engine.dispose()


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Statements:
    """Every statement the engine sends, with how long the database took to answer it."""

    count: int = 0
    seconds: float = 0.0
    log: list[tuple[str, object, float]] | None = None
    _started: float = 0.0

    def attach(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - self._started
        self.seconds += elapsed
        if self.log is not None:
            self.log.append((statement, parameters, elapsed))

    def reset(self, keep_log: bool = False) -> None:
        self.count = 0
        self.seconds = 0.0
        self.log = [] if keep_log else None


@dataclass
class Result:
    name: str
    path: str
    times_ms: list[float]
    statements: int
    sql_ms: float  # mean per request
    total: str  # the number of cases the page's caption says match

    def pct(self, p: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _caption_total(html: str) -> str:
    marker = '<caption class="nhsuk-table__caption">'
    start = html.find(marker)
    if start < 0:
        return "?"
    return html[start + len(marker) :].split(" ", 1)[0]


def measure(
    client, stmts: Statements, name: str, path: str, n: int, warmup: int = 5, headers=None
) -> Result:
    for _ in range(max(warmup, 1)):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    html = response.get_data(as_text=True)
    if 'id="caseload-table"' not in html:
        raise RuntimeError(f"GET {path} did not return the caseload table")
    times = []
    counts = set()
    sql_seconds = 0.0
    gc.collect()
    for _ in range(n):
        stmts.reset()
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        counts.add(stmts.count)
        sql_seconds += stmts.seconds
    if len(counts) != 1:
        print(f"# note: {name} statement count varied between requests: {sorted(counts)}")
    return Result(name, path, times, max(counts), sql_seconds / n * 1000, _caption_total(html))


def login(app: Flask, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login as {email} failed: {response.status_code}")
    if client.get("/caseload").status_code != 200:
        raise RuntimeError(f"{email} cannot open /caseload")
    return client


@contextmanager
def page_size(rows: int) -> Iterator[None]:
    """The caseload's page size for a moment: the view reads caseloads.PAGE_SIZE each time."""
    size = caseloads.PAGE_SIZE
    caseloads.PAGE_SIZE = rows
    try:
        yield
    finally:
        caseloads.PAGE_SIZE = size


def search_prefix(app: Flask, navigator_id: int) -> str:
    """The first three letters of the family name most common among the navigator's cases."""
    with app.app_context():
        family = db.session.scalar(
            sa.select(Resident.family_name)
            .join(Referral, Referral.resident_id == Resident.id)
            .where(Referral.navigator_id == navigator_id, Referral.status.in_(CASE_STATUSES))
            .group_by(Resident.family_name)
            .order_by(sa.func.count().desc(), Resident.family_name)
            .limit(1)
        )
    return family[:3].lower()


def facts(app: Flask, navigator_id: int, overdue_days: int) -> dict[str, int]:
    """The benchmarked navigator's cases, counted straight from the tables."""
    with app.app_context():
        mine = Referral.navigator_id == navigator_id
        is_open = Referral.status.in_(CASE_STATUSES)
        cutoff = utcnow() - timedelta(days=overdue_days)
        open_ids = sa.select(Referral.id).where(mine, is_open)
        return {
            "open": db.session.scalar(sa.select(sa.func.count()).where(mine, is_open)),
            "closed": db.session.scalar(
                sa.select(sa.func.count()).where(mine, Referral.status == S.CLOSED)
            ),
            "contacts_on_open": db.session.scalar(
                sa.select(sa.func.count()).where(Contact.referral_id.in_(open_ids))
            ),
            "contacts_all": db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Contact)
                .join(Referral, Referral.id == Contact.referral_id)
                .where(mine)
            ),
            "unread_alerts": db.session.scalar(
                sa.select(sa.func.count()).where(
                    Alert.user_id == navigator_id,
                    Alert.read_at.is_(None),
                    Alert.referral_id.in_(open_ids),
                )
            ),
            "overdue": db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Referral)
                .where(
                    mine,
                    is_open,
                    sa.func.coalesce(
                        sa.select(sa.func.max(Contact.occurred_at))
                        .where(Contact.referral_id == Referral.id, Contact.successful.is_(True))
                        .correlate(Referral)
                        .scalar_subquery(),
                        Referral.assigned_at,
                    )
                    < cutoff,
                )
            ),
        }


@contextmanager
def timed(label: str, store: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    store[label] = store.get(label, 0.0) + time.perf_counter() - start


def explain(app: Flask, client, stmts: Statements, path: str) -> None:
    """The plan of every SELECT one request sends, with its real parameters."""
    stmts.reset(keep_log=True)
    client.get(path)
    log = stmts.log or []
    stmts.reset()
    print(f"\n# EXPLAIN for GET {path}: {len(log)} statements")
    print_plans(
        app,
        [
            (f"{elapsed * 1000:.2f} ms  {' '.join(statement.split())[:300]}", statement, params)
            for statement, params, elapsed in log
        ],
    )


def print_plans(app: Flask, statements: Sequence[tuple[str, str, object]]) -> None:
    """For each (heading, statement, parameters): the heading, then the database's plan
    of the statement when it is a SELECT (EXPLAIN ANALYZE on PostgreSQL)."""
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            postgres = db.engine.dialect.name == "postgresql"
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            for heading, statement, parameters in statements:
                print(f"\n## {heading}")
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                cursor = raw.cursor()
                cursor.execute(prefix + statement, parameters)
                for row in cursor.fetchall():
                    print("   ", " | ".join(str(c) for c in row))
                cursor.close()
            raw.rollback()
        finally:
            raw.close()


def profile(client, path: str, n: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    print(f"\n# cProfile of {n} x GET {path}")
    print(out.getvalue())


# --- the run -----------------------------------------------------------------------------


def run(args: argparse.Namespace, backend: Backend) -> None:
    timings: dict[str, float] = {}
    with timed("migrate", timings):
        app = make_app(backend.url)
    stmts = Statements()
    with app.app_context():
        stmts.attach(db.engine)
        planner = Planner(
            now=utcnow(),
            referrals=args.referrals,
            contacts=args.contacts,
            open_cases=args.open_cases,
            other_navigators=args.navigators - 1,
            small=args.small,
        )
        planner.reference_data()
        with timed("plan", timings):
            planner.plan()
        with timed("load_small", timings):
            planner.load("small")
            with timed("analyze", timings):
                analyze()
    small_loaded = Loaded(**{k: v for k, v in vars(planner.loaded).items() if k != "seconds"})
    navigator_id = planner.navigator_id
    client = login(app, NAVIGATOR_EMAIL)
    overdue_days = app.config["CASE_CONTACT_OVERDUE_DAYS"]
    small_facts = facts(app, navigator_id, overdue_days)
    # The planned rows are still in memory: keep the garbage collector from walking them
    # in the middle of a timed request.
    gc.collect()
    gc.freeze()
    small = measure(client, stmts, "small", "/caseload", args.small_requests, warmup=args.warmup)
    gc.unfreeze()

    with app.app_context(), timed("load_full", timings):
        planner.load("rest")
        with timed("analyze", timings):
            analyze()
    loaded = planner.loaded
    del planner  # a million planned rows need not sit in memory (or in the GC) while timing
    gc.collect()

    with app.app_context():
        counted = {
            "referrals": db.session.scalar(sa.select(sa.func.count()).select_from(Referral)),
            "residents": db.session.scalar(sa.select(sa.func.count()).select_from(Resident)),
            "contacts": db.session.scalar(sa.select(sa.func.count()).select_from(Contact)),
            "successful": db.session.scalar(
                sa.select(sa.func.count()).where(Contact.successful.is_(True))
            ),
            "alerts": db.session.scalar(sa.select(sa.func.count()).select_from(Alert)),
            "open_cases": db.session.scalar(
                sa.select(sa.func.count()).where(Referral.status.in_(CASE_STATUSES))
            ),
        }
    mine = facts(app, navigator_id, overdue_days)
    if mine["open"] != args.open_cases:
        raise RuntimeError(f"the navigator has {mine['open']} open cases, not {args.open_cases}")

    full = measure(client, stmts, "full", "/caseload", args.requests, warmup=args.warmup)
    if full.total != str(args.open_cases):
        raise RuntimeError(f"GET /caseload says {full.total} open cases, not {args.open_cases}")
    # The same request showing 5 rows instead of a full page: a difference means a query per row.
    rows_per_page = caseloads.PAGE_SIZE
    with page_size(5):
        five_rows = measure(client, stmts, "five_rows", "/caseload", 3, warmup=1)

    prefix = search_prefix(app, navigator_id)
    last_page = math.ceil(args.open_cases / rows_per_page)
    paths = {
        "sort_last_contact": "/caseload?sort=last_contact",
        "overdue": "/caseload?overdue=1",
        "search_family_name": f"/caseload?q={prefix}",
        "sort_name": "/caseload?sort=name",
        "sort_assigned": "/caseload?sort=assigned",
        "status_active": "/caseload?status=active",
        f"page_{last_page}": f"/caseload?page={last_page}",
        "overdue_sort_last_contact": "/caseload?overdue=1&sort=last_contact",
    }
    extra = [
        measure(
            client,
            stmts,
            "htmx_partial",
            "/caseload",
            args.variant_requests,
            headers={"HX-Request": "true"},
        )
    ]
    extra += [
        measure(client, stmts, name, path, args.variant_requests) for name, path in paths.items()
    ]
    hub = []
    if args.hub_requests:
        coordinator = login(app, COORDINATOR_EMAIL)
        hub = [
            measure(
                coordinator,
                stmts,
                "hub_one_navigator",
                f"/caseload?navigator={navigator_id}",
                args.hub_requests,
            ),
            measure(coordinator, stmts, "hub_every_navigator", "/caseload", args.hub_requests),
        ]

    load_s = timings["load_small"] + timings["load_full"]
    print(f"caseload_backend: {backend.name}")
    print(f"caseload_load_average: {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
    print(f"caseload_referrals: {counted['referrals']}")
    print(f"caseload_residents: {counted['residents']}")
    print(f"caseload_contacts: {counted['contacts']} ({counted['successful']} successful)")
    print(f"caseload_alerts: {counted['alerts']}")
    print(
        f"caseload_navigators: {loaded.navigators} "
        f"({counted['open_cases']} open cases between them)"
    )
    print(
        f"caseload_navigator_cases: {mine['open']} open, {mine['closed']} closed "
        f"({mine['contacts_on_open']} contacts on the open ones, {mine['contacts_all']} on all)"
    )
    print(
        f"caseload_navigator_overdue: {mine['overdue']} open cases with no successful contact "
        f"in {overdue_days} days"
    )
    print(f"caseload_navigator_unread_alerts: {mine['unread_alerts']} on open cases")
    print(f"caseload_migrate_s: {timings['migrate']:.1f} s")
    print(f"caseload_plan_s: {timings['plan']:.1f} s (generating the rows in Python)")
    print(f"caseload_load_s: {load_s:.1f} s (of which {timings['analyze']:.1f} s ANALYZE)")
    print(
        "caseload_load_s_by_table: "
        + ", ".join(f"{t} {s:.1f} s" for t, s in loaded.seconds.most_common())
    )
    print(f"caseload_requests: {len(full.times_ms)}")
    print(f"caseload_p50_ms: {full.pct(50):.1f} ms")
    print(f"caseload_p95_ms: {full.pct(95):.1f} ms")
    print(f"caseload_max_ms: {max(full.times_ms):.1f} ms")
    print(f"caseload_sql_ms_per_request: {full.sql_ms:.1f} ms")
    print(f"caseload_sql_statements: {full.statements}")
    print(
        f"caseload_small_size: {small_loaded.referrals} referrals, {small_loaded.contacts} "
        f"contacts, {small_facts['open']} open cases for the navigator"
    )
    print(f"caseload_sql_statements_at_{small_loaded.referrals}: {small.statements}")
    print(f"caseload_sql_statements_at_{counted['referrals']}: {full.statements}")
    print(f"caseload_sql_statements_page_of_5: {five_rows.statements}")
    print(f"caseload_sql_statements_page_of_{rows_per_page}: {full.statements}")
    print(f"caseload_p50_ms_at_{small_loaded.referrals}: {small.pct(50):.1f} ms")
    print(f"caseload_p95_ms_at_{small_loaded.referrals}: {small.pct(95):.1f} ms")
    for r in extra + hub:
        print(
            f"caseload_{r.name}_p95_ms: {r.pct(95):.1f} ms "
            f"(p50 {r.pct(50):.1f} ms, sql {r.sql_ms:.1f} ms, statements {r.statements}, "
            f"matches {r.total}, GET {r.path})"
        )
    if small.statements != full.statements:
        print(
            f"# WARNING: {small.statements} statements at {small_loaded.referrals} referrals but "
            f"{full.statements} at {counted['referrals']}: something is loaded per row"
        )
    if five_rows.statements != full.statements:
        extra_per_row = (full.statements - five_rows.statements) / (rows_per_page - 5)
        print(
            f"# WARNING: {five_rows.statements} statements for a page of 5 but "
            f"{full.statements} for a page of {rows_per_page}: about {extra_per_row:g} "
            "query per row shown (an N+1)"
        )
    if hub and hub[0].statements > full.statements + 3:
        print(
            f"# WARNING: the coordinator's view of one navigator's caseload sends "
            f"{hub[0].statements} statements, the navigator's own view {full.statements}: "
            f"{hub[0].statements - full.statements} more with {loaded.navigators} navigators "
            "(a query per navigator?)"
        )
    verdict = "within" if full.pct(95) < TARGET_MS else "OVER"
    print(f"# p95 {full.pct(95):.1f} ms is {verdict} the {TARGET_MS} ms target")

    if args.explain:
        explain(app, client, stmts, "/caseload")
        for path in args.explain_path or []:
            explain(app, client, stmts, path)
    if args.profile:
        profile(client, "/caseload", args.profile)

    with app.app_context():
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--open-cases", type=int, default=200, help="the benchmarked navigator's open cases"
    )
    parser.add_argument(
        "--navigators", type=int, default=26, help="navigators, the benchmarked one included"
    )
    parser.add_argument(
        "--small", type=int, default=2_000, help="referrals in the first measurement"
    )
    parser.add_argument("--requests", type=int, default=200, help="timed GET /caseload requests")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--small-requests", type=int, default=30)
    parser.add_argument("--variant-requests", type=int, default=50)
    parser.add_argument(
        "--hub-requests",
        type=int,
        default=20,
        help="timed requests of the coordinator's views (0 skips them)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/pg_server.py); "
        "DATABASE_URL set means a throwaway database on that server instead",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    parser.add_argument("--explain", action="store_true", help="print the plan of each query")
    parser.add_argument("--explain-path", action="append", help="also explain this path")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N requests")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.referrals:
        parser.error("--small must be between 0 and --referrals")
    if args.navigators < 2:
        parser.error("--navigators must be at least 2")

    started = time.perf_counter()
    backend = None
    try:
        backend = choose_backend(args)
        run(args, backend)
    finally:
        if backend is not None:
            backend.cleanup()
        shutil.rmtree(_TMP, ignore_errors=True)
    print(f"caseload_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
