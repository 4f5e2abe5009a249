"""Benchmark: directory search over 5,000 published activities.

Builds a fresh database (SQLite by default; --postgres starts a throwaway PostgreSQL
server; DATABASE_URL set uses a throwaway database on that server), creates the schema
with the migrations, adds 120 organisations (100 verified), 5,000 listed activities and
500 that search must leave out (drafts, paused, or of unverified organisations) through
the ORM (so the derived search columns are filled exactly as in use), then times:

- the search itself, in process, for a mix of queries people type and filters they tick
  (`directory_search_p95_ms`, the figure the issue names);
- the whole public page, GET /directory, through the test client (routing, queries and
  rendering: `directory_page_p95_ms`);
- a page of the Open Referral UK API (`oruk_services_p95_ms`).

Performance is reported, never asserted: the script fails only on errors.

    .venv/bin/python benchmarks/directory_search.py              # SQLite
    .venv/bin/python benchmarks/directory_search.py --postgres   # throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sqlalchemy as sa
from caseload import (
    make_app,
    postgres_from_url,
    postgres_throwaway,
    sqlite_backend,
)

from portal.db_types import utcnow
from portal.directory import search
from portal.directory.models import (
    Activity,
    ActivityCategory,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db

SEED = 20261122
DISTRICTS = ("CV1", "CV2", "CV3", "CV4", "CV5", "CV6", "CV7", "CV8")
KINDS = (
    "walking group",
    "lunch club",
    "knit and natter",
    "community choir",
    "men's shed",
    "gardening club",
    "art class",
    "coffee morning",
    "chair yoga",
    "digital drop-in",
    "money advice session",
    "carers' café",
    "book club",
    "dance class",
    "bereavement group",
    "tai chi",
    "allotment volunteers",
    "history society",
    "bingo afternoon",
    "swimming for beginners",
)
PLACES = (
    "Foleshill",
    "Tile Hill",
    "Earlsdon",
    "Stoke",
    "Radford",
    "Wood End",
    "Hillfields",
    "Canley",
    "Bell Green",
    "Binley",
)
QUERIES = (
    {},
    {"q": "walking"},
    {"q": "club"},
    {"q": "coffee morning"},
    {"q": "yoga", "cost": "free"},
    {"category": "social_connection"},
    {"category": ["arts", "nature"], "day": "2"},
    {"day": ["0", "3"], "time": "morning"},
    {"time": "evening", "access": "step_free"},
    {"district": "CV2"},
    {"district": "CV6 1AB", "q": "lunch"},
    {"access": ["step_free", "hearing_loop"], "cost": "free"},
    {"where": "online"},
    {"q": "choir", "category": "arts", "day": "1", "district": "CV3"},
    {"q": "nothing-matches-this"},
    {"page": "5"},
)


def seed(activities: int) -> None:
    rng = random.Random(SEED)
    organisations = [
        Organisation(
            name=f"{rng.choice(PLACES)} Community Trust {n}",
            description="Local activities for local people.",
            email=f"hello{n}@org.invalid",
            verified_at=utcnow() if n < 100 else None,
        )
        for n in range(120)
    ]
    db.session.add_all(organisations)
    db.session.flush()
    categories = [c.value for c in ActivityCategory]
    today = date.today()
    verified, unverified = organisations[:100], organisations[100:]
    batch = []
    # The listed activities, then a tenth as many that search must leave out.
    for n in range(activities + activities // 10):
        listed = n < activities
        kind = rng.choice(KINDS)
        place = rng.choice(PLACES)
        start = clock(rng.choice((9, 10, 11, 13, 14, 18, 19)), rng.choice((0, 30)))
        online = rng.random() < 0.1
        district = rng.choice(DISTRICTS)
        batch.append(
            Activity(
                organisation=rng.choice(verified if listed or n % 2 else unverified),
                title=f"{place} {kind}",
                description=f"A friendly {kind} in {place}. Everyone welcome; "
                "come along for a cup of tea and a chat.",
                categories=rng.sample(categories, rng.randint(1, 3)),
                frequency=rng.choice(
                    (Frequency.WEEKLY,) * 6 + (Frequency.FORTNIGHTLY, Frequency.MONTHLY)
                ),
                days=sorted(rng.sample(range(7), rng.randint(1, 2))),
                starts_on=today - timedelta(days=rng.randint(0, 300)),
                monthly_week=rng.choice((1, 2, 3, -1)),
                start_time=start,
                end_time=clock(start.hour + 1, start.minute),
                venue_name=None if online else f"{place} Community Centre",
                postcode=None if online else f"{district} {rng.randint(1, 9)}AB",
                online=online,
                cost_pence=rng.choice((None, None, None, 200, 350)),
                step_free=rng.random() < 0.6,
                hearing_loop=rng.random() < 0.3,
                accessible_toilet=rng.random() < 0.5,
                transport_offered=rng.random() < 0.1,
                accepts_referrals=rng.random() < 0.7,
                spaces_available=rng.choice((None, 0, 3, 10)),
                status=ActivityStatus.PUBLISHED
                if listed or not n % 2
                else rng.choice((ActivityStatus.DRAFT, ActivityStatus.PAUSED)),
                last_confirmed_on=today - timedelta(days=rng.randint(0, 400)),
            )
        )
        if len(batch) == 1000:
            db.session.add_all(batch)
            db.session.flush()
            batch = []
    db.session.add_all(batch)
    db.session.commit()
    with db.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def run(backend, rounds: int, activities: int, verbose: bool = False) -> None:
    app = make_app(backend.url)
    with app.app_context():
        started = time.perf_counter()
        seed(activities)
        print(f"seed_s: {time.perf_counter() - started:.1f} s")
        listed = db.session.scalar(
            sa.select(sa.func.count()).select_from(search.listed().subquery())
        )
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Activity))
        print(f"activities_listed: {listed} of {total} in the table")

    in_process, pages, api = [], [], []
    by_query: dict[str, list[float]] = {}
    with app.test_request_context():
        for _ in range(3):  # warm up
            for query in QUERIES:
                search.search(search.SearchFilters.from_args(MultiDict(query)), query.get("page"))
        for _ in range(rounds):
            for query in QUERIES:
                filters = search.SearchFilters.from_args(MultiDict(query))
                started = time.perf_counter()
                page = search.search(filters, query.get("page"))
                in_process.append((time.perf_counter() - started) * 1000)
                by_query.setdefault(urlencode(query, doseq=True), []).append(in_process[-1])
                if query == {"q": "walking"} and page.total == 0:
                    raise SystemExit("the seeded data should have walking groups")
            db.session.remove()

    client = app.test_client()
    for warm in (True, False):
        for _ in range(1 if warm else rounds):
            for query in QUERIES:
                path = "/directory?" + urlencode(query, doseq=True)
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"GET {path} answered {response.status_code}")
                if not warm:
                    pages.append(elapsed)
            started = time.perf_counter()
            response = client.get("/api/oruk/services?per_page=50&text=club")
            if response.status_code != 200:
                raise SystemExit(f"the API answered {response.status_code}")
            if not warm:
                api.append((time.perf_counter() - started) * 1000)

    if verbose:
        for query, samples in sorted(by_query.items(), key=lambda kv: -p95(kv[1])):
            print(f"  {p95(samples):6.1f} ms  ?{query}")
    print(f"database: {backend.name}")
    print(f"searches_timed: {len(in_process)}")
    print(f"directory_search_p95_ms: {p95(in_process):.1f} ms")
    print(f"directory_search_median_ms: {sorted(in_process)[len(in_process) // 2]:.1f} ms")
    print(f"directory_page_p95_ms: {p95(pages):.1f} ms")
    print(f"oruk_services_p95_ms: {p95(api):.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=20, help="times each query is timed")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="p95 of each query")
    args = parser.parse_args(argv)
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
        backend = postgres_from_url(os.environ["DATABASE_URL"])
    elif args.postgres:
        backend = postgres_throwaway()
    else:
        backend = sqlite_backend()
    started = time.perf_counter()
    try:
        run(backend, args.rounds, args.activities, args.verbose)
    finally:
        backend.cleanup()
    print(f"directory_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
