"""Benchmark: the triage queue (GET /hub) with 100,000 referrals in the database.

Builds a fresh database in a temporary folder (SQLite by default, PostgreSQL with
--postgres or when DATABASE_URL is set), creates the schema with the migrations,
bulk-loads a realistic spread of referrals, logs in as a hub coordinator through
the test client and times full GET /hub requests (routing, queries, rendering).

The SQL statement count per request is measured at a small size first and again
at full size, to show it does not grow with the number of rows.

Performance is reported, never asserted: the script exits non-zero only on errors
(a request that fails, a load that fails), not on slow figures.

    .venv/bin/python benchmarks/triage_queue.py                # SQLite, 100,000 referrals
    .venv/bin/python benchmarks/triage_queue.py --postgres     # a throwaway PostgreSQL server
    DATABASE_URL=postgresql://... .venv/bin/python benchmarks/triage_queue.py
    .venv/bin/python benchmarks/triage_queue.py --explain --profile   # where the time goes
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import gc
import io
import math
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
from portal.auth.models import Role, User  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.db_types import utcnow  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.referrals.models import (  # noqa: E402
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    Resident,
    Route,
    Urgency,
)

PASSWORD = "benchmark coordinator password"  # noqa: S105
COORDINATOR_EMAIL = "coordinator@bench.invalid"
SEED = 20260101
CHUNK = 10_000
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

# Of every 1,000 referrals: most closed or being supported, a few thousand in 100,000
# waiting for triage. (status, per mille)
STATUS_MIX = (
    (ReferralStatus.CLOSED, 820),
    (ReferralStatus.ACTIVE, 115),
    (ReferralStatus.ASSIGNED, 15),
    (ReferralStatus.TRIAGED, 12),
    (ReferralStatus.RECEIVED, 22),
    (ReferralStatus.CONTACTING, 16),
)
SOURCE_MIX = (
    (ReferralSource.PRACTICE, 65),
    (ReferralSource.SELF, 20),
    (ReferralSource.PROFESSIONAL, 15),
)
REASON_WEIGHTS = {
    ReferralReason.LONELINESS: 30,
    ReferralReason.LOW_MOOD: 20,
    ReferralReason.MONEY: 15,
    ReferralReason.CARER_SUPPORT: 8,
    ReferralReason.BEREAVEMENT: 7,
    ReferralReason.HOUSING: 8,
    ReferralReason.PHYSICAL_ACTIVITY: 10,
    ReferralReason.LONG_TERM_CONDITION: 10,
    ReferralReason.DIGITAL_INCLUSION: 5,
    ReferralReason.OTHER: 3,
}
WAITING = (ReferralStatus.RECEIVED, ReferralStatus.CONTACTING)
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


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


def make_app(url: str) -> Flask:
    from flask_migrate import upgrade

    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    return app


# --- the data ----------------------------------------------------------------------------


def _weighted(rng: random.Random, mix) -> list:
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights=weights)


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
class Loader:
    """Bulk inserts with SQLAlchemy Core, in chunks; ids chosen here so links need no RETURNING."""

    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    next_resident: int = 1
    next_referral: int = 1
    practices: list[tuple[int, int]] = field(default_factory=list)  # (id, neighbourhood id)
    navigators: list[int] = field(default_factory=list)
    nhs: Iterator[str] = field(default_factory=_nhs_numbers)

    def reference_data(self) -> int:
        """Neighbourhoods, practices, navigators and the coordinator; returns the coordinator id."""
        created = utcnow()
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(Neighbourhood),
                [
                    {"id": i, "name": f"Neighbourhood {i} INT", "email": f"int{i}@nhs.invalid"}
                    for i in range(1, NEIGHBOURHOODS + 1)
                ],
            )
            rows = []
            for i in range(1, PRACTICES + 1):
                neighbourhood = (i - 1) % NEIGHBOURHOODS + 1
                self.practices.append((i, neighbourhood))
                rows.append(
                    {
                        "id": i,
                        "ods_code": f"Y{i:05d}",
                        "name": f"Practice {i:02d} Medical Centre",
                        "neighbourhood_id": neighbourhood,
                        "address": f"{i} High Street",
                        "postcode": f"CV{i % 8 + 1} {i % 9 + 1}AA",
                        "report_frequency": "weekly",
                        "notify_on_close": False,
                        "list_size": 6000 + 300 * i,
                    }
                )
            conn.execute(sa.insert(Practice), rows)
            users = [
                {
                    "email": f"navigator{i}@bench.invalid",
                    "full_name": f"Navigator {i}",
                    "role": Role.NAVIGATOR,
                    "password_hash": None,
                    "is_active": True,
                    "session_token": uuid.uuid4().hex,
                    "is_volunteer_navigator": False,
                    "caseload_capacity": 40,
                    "created_at": created,
                }
                for i in range(1, 16)
            ]
            conn.execute(sa.insert(User), users)
            self.navigators = list(
                conn.scalars(sa.select(User.id).where(User.role == Role.NAVIGATOR))
            )
            conn.execute(
                sa.insert(User),
                [
                    {
                        "email": COORDINATOR_EMAIL,
                        "full_name": "Bench Coordinator",
                        "role": Role.COORDINATOR,
                        "password_hash": hash_password(PASSWORD),
                        "is_active": True,
                        "session_token": uuid.uuid4().hex,
                        "is_volunteer_navigator": False,
                        "created_at": created,
                    }
                ],
            )
            return conn.scalar(sa.select(User.id).where(User.email == COORDINATOR_EMAIL))

    def load(self, referrals: int) -> None:
        """Add `referrals` referrals for about 0.85 as many residents, 1-3 reasons each."""
        done = 0
        while done < referrals:
            n = min(CHUNK, referrals - done)
            residents, refs, reasons = self._chunk(n)
            with db.engine.begin() as conn:
                conn.execute(sa.insert(Resident), residents)
                conn.execute(sa.insert(Referral), refs)
                conn.execute(sa.insert(ReferralReasonLink), reasons)
            done += n

    def _resident(self) -> dict:
        rng = self.rng
        rid = self.next_resident
        self.next_resident += 1
        older = rng.random() < 0.6
        born = date(1935 if older else 1960, 1, 1) + timedelta(days=rng.randrange(365 * 30))
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        language = rng.choice(LANGUAGES)
        return {
            "id": rid,
            "nhs_number": next(self.nhs) if rng.random() < 0.95 else None,
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
            "practice_id": rng.choice(self.practices)[0] if rng.random() < 0.97 else None,
            "created_at": self.now - timedelta(days=3 * 365),
        }

    def _received_at(self, status: ReferralStatus) -> datetime:
        rng = self.rng
        if status in WAITING:
            # Mostly the last few weeks; one in two hundred has sat in the queue for months.
            days = rng.uniform(180, 900) if rng.random() < 0.005 else rng.expovariate(1 / 8)
            days = min(days, 60) if days < 180 else days
        elif status in (ReferralStatus.TRIAGED, ReferralStatus.ASSIGNED):
            days = rng.uniform(2, 45)
        elif status == ReferralStatus.ACTIVE:
            days = rng.uniform(14, 365)
        else:
            days = rng.uniform(30, 3 * 365)
        return self.now - timedelta(days=days, seconds=rng.randrange(86_400))

    def _chunk(self, n: int) -> tuple[list[dict], list[dict], list[dict]]:
        rng = self.rng
        residents: list[dict] = []
        referrals: list[dict] = []
        links: list[dict] = []
        reason_values = list(REASON_WEIGHTS)
        reason_weights = list(REASON_WEIGHTS.values())
        for _ in range(n):
            # About one referral in seven is a second or third for someone referred before.
            if residents and rng.random() < 0.15:
                resident = rng.choice(residents)
            else:
                resident = self._resident()
                residents.append(resident)
            rid = self.next_referral
            self.next_referral += 1
            status = _weighted(rng, STATUS_MIX)[0]
            source = _weighted(rng, SOURCE_MIX)[0]
            received = self._received_at(status)
            practice_id = resident["practice_id"]
            if source == ReferralSource.PRACTICE and practice_id is None:
                practice_id = rng.choice(self.practices)[0]
            # Self-referrals never name a practice; other professionals do half the time.
            unnamed = source == ReferralSource.SELF or (
                source == ReferralSource.PROFESSIONAL and rng.random() < 0.5
            )
            if unnamed:
                practice_id = None
            row = {
                "id": rid,
                "reference": _reference(rid),
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
            self._progress(row, status, received, practice_id)
            referrals.append(row)
            count = rng.choices((1, 2, 3), weights=(55, 35, 10))[0]
            chosen: set[ReferralReason] = set()
            while len(chosen) < count:
                chosen.add(rng.choices(reason_values, weights=reason_weights)[0])
            links.extend({"referral_id": rid, "reason": reason} for reason in chosen)
        return residents, referrals, links

    def _progress(self, row: dict, status: ReferralStatus, received: datetime, practice_id):
        """Fill in the steps a referral in `status` has been through, in order, before now."""
        rng = self.rng
        if status == ReferralStatus.RECEIVED:
            return
        cap = self.now - timedelta(minutes=5)

        def after(start: datetime, max_days: float) -> datetime:
            return min(start + timedelta(days=rng.uniform(0.05, max_days)), max(cap, start))

        row["first_contact_at"] = after(received, 5)
        row["updated_at"] = row["first_contact_at"]
        if status == ReferralStatus.CONTACTING:
            return
        triaged = after(row["first_contact_at"], 10)
        route = rng.choices(
            (Route.SOCIAL_NAVIGATION, Route.INT, Route.BOTH, Route.SIGNPOST, Route.NOT_APPROPRIATE),
            weights=(60, 12, 8, 15, 5),
        )[0]
        if status in (ReferralStatus.TRIAGED, ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE):
            route = rng.choice((Route.SOCIAL_NAVIGATION, Route.BOTH, Route.INT))
        row.update(route=route, triaged_at=triaged, updated_at=triaged)
        if route in (Route.INT, Route.BOTH):
            neighbourhood = next(
                (n for p, n in self.practices if p == practice_id), rng.randrange(1, 7)
            )
            row.update(int_neighbourhood_id=neighbourhood, int_sent_at=triaged)
        navigated = route in (Route.SOCIAL_NAVIGATION, Route.BOTH)
        if navigated:
            row["support_level"] = rng.choice((1, 2, 2, 3))
        if status == ReferralStatus.TRIAGED:
            return
        if navigated:
            assigned = after(triaged, 7)
            row.update(
                navigator_id=rng.choice(self.navigators), assigned_at=assigned, updated_at=assigned
            )
        if status in (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE):
            return
        closed = after(row["assigned_at"] or triaged, 120 if navigated else 2)
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
    total: str

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
    for _ in range(warmup):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    html = response.get_data(as_text=True)
    if 'id="hub-table"' not in html:
        raise RuntimeError(f"GET {path} did not return the triage table")
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


def login(app: Flask):
    client = app.test_client()
    response = client.post("/login", data={"email": COORDINATOR_EMAIL, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")
    if client.get("/hub").status_code != 200:
        raise RuntimeError("the coordinator cannot open /hub")
    return client


def variants(app: Flask) -> dict[str, str]:
    """Filter values that exist in the data: the busiest practice, a common name."""
    with app.app_context():
        waiting = Referral.status.in_(WAITING)
        practice = db.session.scalar(
            sa.select(Referral.practice_id)
            .where(waiting, Referral.practice_id.is_not(None))
            .group_by(Referral.practice_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        )
        neighbourhood = db.session.scalar(
            sa.select(Practice.neighbourhood_id).where(Practice.id == practice)
        )
        reference = db.session.scalar(
            sa.select(Referral.reference).where(waiting).order_by(Referral.id.desc()).limit(1)
        )
    return {
        "practice": f"/hub?practice={practice}",
        "int": f"/hub?int={neighbourhood}",
        "reason": "/hub?reason=money",
        "urgent": "/hub?urgency=urgent",
        "search_name": "/hub?q=mar+smi",
        "search_reference": f"/hub?q={reference}",
        "every_status": "/hub?status=all",
        "closed_page_40": "/hub?status=closed&page=40",
    }


@contextmanager
def timed(label: str, store: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    store[label] = time.perf_counter() - start


def explain(app: Flask, client, stmts: Statements, path: str) -> None:
    """The plan of every SELECT one request sends, with its real parameters."""
    stmts.reset(keep_log=True)
    client.get(path)
    log = stmts.log or []
    stmts.reset()
    print(f"\n# EXPLAIN for GET {path}: {len(log)} statements")
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            postgres = db.engine.dialect.name == "postgresql"
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            for statement, parameters, elapsed in log:
                one_line = " ".join(statement.split())
                print(f"\n## {elapsed * 1000:.2f} ms  {one_line[:300]}")
                if not one_line.upper().startswith("SELECT"):
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
        loader = Loader(now=utcnow())
        loader.reference_data()
        with timed("load_small", timings):
            loader.load(args.small)
            analyze()
    client = login(app)

    small = measure(client, stmts, "small", "/hub", args.small_requests, warmup=args.warmup)

    with app.app_context(), timed("load_full", timings):
        loader.load(args.referrals - args.small)
        analyze()
    with app.app_context():
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Referral))
        residents = db.session.scalar(sa.select(sa.func.count()).select_from(Resident))
        links = db.session.scalar(sa.select(sa.func.count()).select_from(ReferralReasonLink))
        waiting = db.session.scalar(sa.select(sa.func.count()).where(Referral.status.in_(WAITING)))

    full = measure(client, stmts, "full", "/hub", args.requests, warmup=args.warmup)
    # The same request showing 5 rows instead of a full page: a difference means a query per row.
    page_size = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 5
    five_rows = measure(client, stmts, "five_rows", "/hub", 3, warmup=1)
    app.config["PAGE_SIZE"] = page_size
    extra = [
        measure(
            client,
            stmts,
            "htmx_partial",
            "/hub",
            args.variant_requests,
            headers={"HX-Request": "true"},
        )
    ]
    extra += [
        measure(client, stmts, name, path, args.variant_requests)
        for name, path in variants(app).items()
    ]

    load_s = timings["load_small"] + timings["load_full"]
    print(f"triage_queue_backend: {backend.name}")
    print(f"triage_queue_load_average: {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
    print(f"triage_queue_rows: {rows} referrals")
    print(f"triage_queue_residents: {residents}")
    print(f"triage_queue_reason_links: {links}")
    print(f"triage_queue_waiting: {waiting} referrals waiting for triage")
    print(f"triage_queue_migrate_s: {timings['migrate']:.1f} s")
    print(f"triage_queue_load_s: {load_s:.1f} s")
    print(f"triage_queue_requests: {len(full.times_ms)}")
    print(f"triage_queue_p50_ms: {full.pct(50):.1f} ms")
    print(f"triage_queue_p95_ms: {full.pct(95):.1f} ms")
    print(f"triage_queue_max_ms: {max(full.times_ms):.1f} ms")
    print(f"triage_queue_sql_ms_per_request: {full.sql_ms:.1f} ms")
    print(f"triage_queue_sql_statements: {full.statements}")
    print(f"triage_queue_sql_statements_at_{args.small}: {small.statements}")
    print(f"triage_queue_sql_statements_at_{rows}: {full.statements}")
    print(f"triage_queue_sql_statements_page_of_5: {five_rows.statements}")
    print(f"triage_queue_sql_statements_page_of_{page_size}: {full.statements}")
    print(f"triage_queue_p50_ms_at_{args.small}: {small.pct(50):.1f} ms")
    print(f"triage_queue_p95_ms_at_{args.small}: {small.pct(95):.1f} ms")
    for r in extra:
        print(
            f"triage_queue_{r.name}_p95_ms: {r.pct(95):.1f} ms "
            f"(p50 {r.pct(50):.1f} ms, sql {r.sql_ms:.1f} ms, statements {r.statements}, "
            f"matches {r.total}, GET {r.path})"
        )
    if small.statements != full.statements:
        print(
            f"# WARNING: {small.statements} statements at {args.small} referrals but "
            f"{full.statements} at {rows}: something is loaded per row"
        )
    if five_rows.statements != full.statements:
        extra_per_row = (full.statements - five_rows.statements) / (page_size - 5)
        print(
            f"# WARNING: {five_rows.statements} statements for a page of 5 but "
            f"{full.statements} for a page of {page_size}: about {extra_per_row:g} "
            "query per row shown (an N+1)"
        )
    verdict = "within" if full.pct(95) < TARGET_MS else "OVER"
    print(f"# p95 {full.pct(95):.1f} ms is {verdict} the {TARGET_MS} ms target")

    if args.explain:
        explain(app, client, stmts, "/hub")
        for path in args.explain_path or []:
            explain(app, client, stmts, path)
    if args.profile:
        profile(client, "/hub", args.profile)

    with app.app_context():
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="size of the first measurement")
    parser.add_argument("--requests", type=int, default=200, help="timed GET /hub requests")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--small-requests", type=int, default=30)
    parser.add_argument("--variant-requests", type=int, default=30)
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

    started = time.perf_counter()
    backend = None
    try:
        if args.sqlite:
            backend = sqlite_backend()
        elif os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
            backend = postgres_from_url(os.environ["DATABASE_URL"])
        elif args.postgres:
            backend = postgres_throwaway()
        else:
            backend = sqlite_backend()
        run(args, backend)
    finally:
        if backend is not None:
            backend.cleanup()
        shutil.rmtree(_TMP, ignore_errors=True)
    print(f"triage_queue_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
