"""Benchmark: a week's outcome reports to 60 GP practices about 10,000 closed referrals.

Builds a fresh database (SQLite by default; `--backend postgresql` or `--postgres` starts a
throwaway PostgreSQL server; DATABASE_URL set uses a throwaway database on that server),
creates the schema with the migrations and bulk-loads, in a child process (so the seeding
does not count towards this process's peak memory):

- 6 neighbourhood teams, 60 practices (weekly reports, each with a report mailbox), 20
  navigators, 200 volunteer buddies, 40 organisations and 300 activities (the activities
  through the ORM, so their derived columns are filled as in use);
- 10,000 closed referrals spread evenly over the practices, one resident each. Each has
  1-3 reasons, 2 goals, baseline and closing UCLA-3 and ONS4 answers, 1-2 activity
  referrals, and about 30% an ended buddy match. 90% agreed to share details with the GP;
  the rest get the coded minimum. About 1 in 8 went to the INT as well.
- one QueuedOutcome (closed) per referral, all queued inside the last whole week.

Then, for each practice, it times `delivery.claim(practice, period, now=...)` (which
composes the summaries and commits the claim) and, inside `app.test_request_context()`,
`render.pdf(report)`, `render.coded_csv(report)` and `render.as_json(report)`. Nothing is
emailed. The PDF pages are counted with pypdf outside the timed sections.

Peak memory is `resource.getrusage(RUSAGE_SELF).ru_maxrss` of this process: the absolute
peak resident set (the app, its imports and the generation; the seeding ran in a child).

Performance is reported, never asserted: the script fails only on errors.

    .venv/bin/python benchmarks/reports.py                          # SQLite
    .venv/bin/python benchmarks/reports.py --backend postgresql     # throwaway PostgreSQL
    .venv/bin/python benchmarks/reports.py --practices 3 --referrals 300   # a quick run
"""

from __future__ import annotations

import argparse
import gc
import io
import multiprocessing
import os
import random
import resource
import shutil
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sqlalchemy as sa
from caseload import (
    _TMP,
    FAMILY,
    GIVEN,
    STREETS,
    _nhs_numbers,
    choose_backend,
    insert_dicts,
    make_app,
)
from flask import Flask

from portal.auth.models import Role, User
from portal.cases.models import Goal, GoalStatus
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    ReportFrequency,
    Resident,
    Route,
)
from portal.reports import delivery, render
from portal.reports.models import OutcomeReport, QueuedOutcome, ReportEvent
from portal.reports.periods import last_complete, london_date, london_midnight
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, Volunteer, VolunteerStatus

SEED = 20261122
NEIGHBOURHOODS = 6
NAVIGATORS = 20
VOLUNTEERS = 200
ORGANISATIONS = 40
ACTIVITIES = 300

R = ReferralReason
REASONS = (
    (R.LONELINESS, 40),
    (R.LOW_MOOD, 15),
    (R.BEREAVEMENT, 8),
    (R.CARER_SUPPORT, 6),
    (R.MONEY, 8),
    (R.HOUSING, 4),
    (R.PHYSICAL_ACTIVITY, 7),
    (R.LONG_TERM_CONDITION, 6),
    (R.DIGITAL_INCLUSION, 4),
    (R.OTHER, 2),
)
C = ClosureReason
CLOSURES = ((C.GOALS_MET, 45), (C.CONNECTED, 30), (C.DECLINED, 10), (C.REFERRED_ON, 8))
SUMMARIES = (
    "Goes to the lunch club every Thursday and has made two friends there.",
    "Joined the walking group; feels less alone and sleeps better.",
    "Benefits check done and the attendance allowance claim is in.",
    "Decided she did not want more support for now; knows how to get back to us.",
    "Referred on to the carers' centre for a carer's assessment.",
)
GOALS = (
    "Get back to gardening",
    "Join a walking group",
    "Meet people nearby in the afternoons",
    "Learn to video call my grandchildren on a tablet",
    "Sing in a choir again",
    "Sort out my benefits and bills",
    "Feel confident going out on my own",
    "Go to a lunch club once a week",
    "Find other carers to talk to",
    "Get out of the house more",
)
ACTIVITY_KINDS = (
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
)
PLACES = ("Foleshill", "Tile Hill", "Earlsdon", "Stoke", "Radford", "Canley", "Binley")
A = ActivityReferralStatus
ACTIVITY_OUTCOMES = ((A.ATTENDED, 45), (A.ACCEPTED, 15), (A.STOPPED, 15), (A.DECLINED, 15))


def _weighted(rng: random.Random, mix):
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights=weights)[0]


def bulk(table: sa.Table, rows: list[dict]) -> None:
    insert_dicts(table, rows)


def settle() -> None:
    """Sequences past the explicit ids (PostgreSQL) and fresh statistics."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("neighbourhoods", "practices", "users", "volunteers", "residents"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('referrals', 'id'), "
                "(SELECT max(id) FROM referrals))"
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        postgres = conn.dialect.name == "postgresql"
        conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    db.engine.dispose()


def _week(now: datetime):
    """The last whole week (Monday to Sunday) before `now`, as the morning run claims it."""
    return last_complete(ReportFrequency.WEEKLY, london_date(now))


# --- seeding (in a child process) ------------------------------------------------------------


def seed(app: Flask, practices: int, referrals: int, now: datetime, out) -> None:
    """Load every row; puts the row counts and the peak memory of the seeding on `out`."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    counts: Counter = Counter()
    period = _week(now)
    week_start = london_midnight(period.start)
    week_seconds = int((period.cutoff - week_start).total_seconds())
    with app.app_context():
        created = now - timedelta(days=3 * 365)
        bulk(
            Neighbourhood.__table__,
            [
                {"id": i, "name": f"Neighbourhood {i} INT", "email": f"int{i}@nhs.invalid"}
                for i in range(1, NEIGHBOURHOODS + 1)
            ],
        )
        bulk(
            Practice.__table__,
            [
                {
                    "id": i,
                    "ods_code": f"Y{i:05d}",
                    "name": f"Practice {i:02d} Medical Centre",
                    "neighbourhood_id": (i - 1) % NEIGHBOURHOODS + 1,
                    "address": f"{i} High Street",
                    "postcode": f"CV{i % 6 + 1} {i % 9 + 1}AA",
                    "report_frequency": ReportFrequency.WEEKLY,
                    "report_mailbox": f"reports.y{i:05d}@nhs.invalid",
                    "notify_on_close": False,
                    "list_size": 6000 + 300 * i,
                }
                for i in range(1, practices + 1)
            ],
        )

        def user(uid: int, email: str, name: str, role: Role) -> dict:
            return {
                "id": uid,
                "email": email,
                "full_name": name,
                "role": role,
                "password_hash": None,
                "is_active": True,
                "session_token": uuid.uuid4().hex,
                "is_volunteer_navigator": False,
                "languages": [],
                "created_at": created,
            }

        navigator_ids = list(range(1, NAVIGATORS + 1))
        users = [
            user(
                uid,
                f"navigator{uid}@bench.invalid",
                f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                Role.NAVIGATOR,
            )
            for uid in navigator_ids
        ]
        volunteer_users = list(range(NAVIGATORS + 1, NAVIGATORS + VOLUNTEERS + 1))
        users += [
            user(
                uid,
                f"volunteer{uid}@bench.invalid",
                f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                Role.VOLUNTEER,
            )
            for uid in volunteer_users
        ]
        bulk(User.__table__, users)
        bulk(
            Volunteer.__table__,
            [
                {
                    "id": n,
                    "user_id": uid,
                    "status": VolunteerStatus.ACTIVE,
                    "role_buddy": True,
                    "applied_at": created,
                }
                for n, uid in enumerate(volunteer_users, start=1)
            ],
        )
        organisations = [
            Organisation(
                name=f"{rng.choice(PLACES)} Community Trust {n}",
                email=f"hello{n}@org.invalid",
                verified_at=created,
            )
            for n in range(ORGANISATIONS)
        ]
        db.session.add_all(organisations)
        db.session.flush()
        activities = [
            Activity(
                organisation=organisations[n % ORGANISATIONS],
                title=f"{rng.choice(PLACES)} {rng.choice(ACTIVITY_KINDS)}",
                description="A friendly group; come along for a cup of tea and a chat.",
                frequency=Frequency.WEEKLY,
                days=[n % 7],
                status=ActivityStatus.PUBLISHED,
                accepts_referrals=True,
            )
            for n in range(ACTIVITIES)
        ]
        db.session.add_all(activities)
        db.session.commit()
        activity_ids = [a.id for a in activities]
        counts.update(organisations=ORGANISATIONS, activities=ACTIVITIES)

        residents, rows, reasons, goals, measures, sent, buddies, queued = ([] for _ in range(8))
        nhs = _nhs_numbers()
        for rid in range(1, referrals + 1):
            practice_id = (rid - 1) % practices + 1
            residents.append(
                {
                    "id": rid,
                    "nhs_number": next(nhs) if rng.random() < 0.95 else None,
                    "given_name": rng.choice(GIVEN),
                    "family_name": rng.choice(FAMILY),
                    "date_of_birth": date(1932, 1, 1) + timedelta(days=rng.randrange(365 * 70)),
                    "address": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}, Coventry",
                    "postcode": f"CV{rng.randint(1, 6)} {rng.randint(1, 9)}AB",
                    "phone": f"07700 9{rng.randrange(100_000):05d}",
                    "preferred_contact": PreferredContact.PHONE,
                    "language": "English",
                    "interpreter_needed": False,
                    "practice_id": practice_id,
                    "created_at": created,
                }
            )
            queued_at = week_start + timedelta(seconds=rng.randrange(week_seconds))
            closed_at = queued_at - timedelta(seconds=rng.randrange(1, 60))
            received = closed_at - timedelta(days=rng.uniform(60, 240))
            assigned = received + timedelta(days=rng.uniform(3, 12))
            navigator = rng.choice(navigator_ids)
            both = rng.random() < 0.125
            reason = _weighted(rng, CLOSURES)
            rows.append(
                {
                    "id": rid,
                    "reference": f"SP-R{rid:06d}",
                    "resident_id": rid,
                    "source": ReferralSource.PRACTICE,
                    "practice_id": practice_id,
                    "referrer_name": "Dr A Referrer",
                    "referrer_role": "GP",
                    "details": "Lives alone since a bereavement; would like to meet people.",
                    "consent_given": True,
                    "consent_share_with_gp": rng.random() < 0.9,
                    "consent_recorded_by": "GP",
                    "consent_recorded_at": received,
                    "status": ReferralStatus.CLOSED,
                    "route": Route.BOTH if both else Route.SOCIAL_NAVIGATION,
                    "int_neighbourhood_id": (practice_id - 1) % NEIGHBOURHOODS + 1
                    if both
                    else None,
                    "support_level": rng.choice((1, 2, 2, 3)),
                    "navigator_id": navigator,
                    "received_at": received,
                    "first_contact_at": received + timedelta(hours=rng.uniform(2, 48)),
                    "triaged_at": assigned - timedelta(days=1),
                    "assigned_at": assigned,
                    "closed_at": closed_at,
                    "closure_reason": reason,
                    "outcome_summary": rng.choice(SUMMARIES),
                    "updated_at": closed_at,
                    "version": 3,
                }
            )
            chosen = {_weighted(rng, REASONS) for _ in range(rng.randint(1, 3))}
            reasons += [{"referral_id": rid, "reason": r} for r in sorted(chosen)]
            for n, text in enumerate(rng.sample(GOALS, 2)):
                status = GoalStatus.ACHIEVED if n == 0 or rng.random() < 0.5 else GoalStatus.OPEN
                goals.append(
                    {
                        "referral_id": rid,
                        "description": text,
                        "status": status,
                        "set_on": assigned.date(),
                        "closed_on": closed_at.date() if status != GoalStatus.OPEN else None,
                        "created_by_id": navigator,
                        "created_at": assigned,
                        "version": 1,
                    }
                )
            for stage, at in ((Stage.BASELINE, assigned), (Stage.CLOSING, closed_at)):
                better = stage == Stage.CLOSING
                ucla = [rng.randint(1, 2) if better else rng.randint(2, 3) for _ in range(3)]
                ons = [rng.randint(5, 9) if better else rng.randint(2, 6) for _ in range(3)]
                ons.append(rng.randint(1, 5) if better else rng.randint(4, 9))
                for scale, answers, score in (
                    (Scale.UCLA3, ucla, float(sum(ucla))),
                    (Scale.ONS4, ons, None),
                ):
                    measures.append(
                        {
                            "referral_id": rid,
                            "scale": scale,
                            "stage": stage,
                            "answers": answers,
                            "score": score,
                            "declined": False,
                            "recorded_by_id": navigator,
                            "recorded_at": at - timedelta(minutes=5),
                        }
                    )
            for activity_id in rng.sample(activity_ids, rng.randint(1, 2)):
                at = assigned + timedelta(days=rng.uniform(5, 40))
                status = _weighted(rng, ACTIVITY_OUTCOMES)
                sent.append(
                    {
                        "referral_id": rid,
                        "activity_id": activity_id,
                        "status": status,
                        "decline_reason": "The group is full" if status == A.DECLINED else None,
                        "consent_confirmed": True,
                        "person_name": "A person",
                        "created_by_id": navigator,
                        "created_at": at,
                        "sent_at": at,
                        "responded_at": at + timedelta(days=2),
                        "respond_by": (at + timedelta(days=14)).date(),
                        "version": 1,
                    }
                )
            if rng.random() < 0.3:
                start = assigned + timedelta(days=rng.uniform(5, 30))
                buddies.append(
                    {
                        "referral_id": rid,
                        "volunteer_id": rng.randint(1, VOLUNTEERS),
                        "status": BuddyMatchStatus.ENDED,
                        "proposed_by_id": navigator,
                        "proposed_at": start - timedelta(days=1),
                        "responded_at": start,
                        "ended_at": closed_at,
                        "end_reason": "The case closed",
                        "ended_by_id": navigator,
                        "version": 2,
                    }
                )
            queued.append(
                {
                    "referral_id": rid,
                    "practice_id": practice_id,
                    "event": ReportEvent.CLOSED,
                    "queued_at": queued_at,
                    "report_id": None,
                }
            )
        for table, table_rows in (
            (Resident.__table__, residents),
            (Referral.__table__, rows),
            (ReferralReasonLink.__table__, reasons),
            (Goal.__table__, goals),
            (MeasureResponse.__table__, measures),
            (ActivityReferral.__table__, sent),
            (BuddyMatch.__table__, buddies),
            (QueuedOutcome.__table__, queued),
        ):
            bulk(table, table_rows)
            counts[table.name] = len(table_rows)
        settle()
    counts["seed_s_x1000"] = round((time.perf_counter() - started) * 1000)
    counts["seed_peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put(dict(counts))


# --- the run ---------------------------------------------------------------------------------


def _peak_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def run(args: argparse.Namespace, backend) -> None:
    started = time.perf_counter()
    app = make_app(backend.url)
    with app.app_context():
        db.engine.dispose()
    # A Monday morning after the week the changes were queued in, as the morning run sees it.
    today = london_date(datetime.now(UTC))
    monday = today - timedelta(days=today.weekday())
    now = london_midnight(monday) + timedelta(hours=7)
    period = _week(now)
    migrate_s = time.perf_counter() - started

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=seed, args=(app, args.practices, args.referrals, now, out))
    child.start()
    counts = out.get()
    child.join()
    if child.exitcode:
        raise RuntimeError(f"seeding failed (exit code {child.exitcode})")
    gc.collect()
    baseline_mb = _peak_mb()

    people = pages = 0
    pdf_bytes = csv_bytes = json_bytes = 0
    compose_s = pdf_s = csv_s = json_s = 0.0
    slowest = (0.0, 0, 0)
    with app.app_context():
        practices = list(db.session.scalars(sa.select(Practice.id).order_by(Practice.id)))
        db.session.commit()
        generation_start = time.perf_counter()
        for n, practice_id in enumerate(practices, start=1):
            t0 = time.perf_counter()
            practice = db.session.get(Practice, practice_id)
            report = delivery.claim(practice, period, now=now)
            t1 = time.perf_counter()
            if report is None:
                raise RuntimeError(f"the report for {practice.ods_code} was already claimed")
            with app.test_request_context():
                pdf = render.pdf(report)
                t2 = time.perf_counter()
                csv_text = render.coded_csv(report)
                t3 = time.perf_counter()
                json_text = render.as_json(report)
                t4 = time.perf_counter()
            compose_s += t1 - t0
            pdf_s += t2 - t1
            csv_s += t3 - t2
            json_s += t4 - t3
            people += report.people
            pdf_bytes += len(pdf)
            csv_bytes += len(csv_text.encode())
            json_bytes += len(json_text.encode())
            # Counting pages is not part of the work timed.
            paused = time.perf_counter()
            practice_pages = _pages(pdf)
            pages += practice_pages
            generation_start += time.perf_counter() - paused
            if t2 - t1 > slowest[0]:
                slowest = (t2 - t1, report.people, practice_pages)
            elapsed = time.perf_counter() - generation_start
            print(
                f"# {n}/{len(practices)} {practice.ods_code}: {report.people} people, "
                f"claim {t1 - t0:.2f} s, pdf {t2 - t1:.2f} s ({practice_pages} pages), "
                f"{elapsed:.0f} s so far, peak {_peak_mb():.0f} MB",
                file=sys.stderr,
                flush=True,
            )
            db.session.expunge_all()
            del pdf, csv_text, json_text, report
        total_s = time.perf_counter() - generation_start
        reports = db.session.scalar(sa.select(sa.func.count()).select_from(OutcomeReport))
        carried = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(QueuedOutcome)
            .where(QueuedOutcome.report_id.is_not(None))
        )
        db.session.commit()
        db.engine.dispose()
    if people != args.referrals or carried != args.referrals:
        raise RuntimeError(
            f"{people} people in the reports and {carried} changes carried, not {args.referrals}"
        )
    peak_mb = _peak_mb()

    print(f"reports_backend: {backend.name}")
    print(f"reports_load_average: {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
    print(f"reports_practices: {len(practices)}")
    print(f"reports_people: {people}")
    print(f"reports_period: {period.label}")
    print(
        "reports_seeded: "
        + ", ".join(
            f"{k} {v}" for k, v in counts.items() if not k.startswith(("seed_s", "seed_peak"))
        )
    )
    print(f"reports_migrate_s: {migrate_s:.1f} s")
    print(f"reports_seed_s: {counts['seed_s_x1000'] / 1000:.1f} s")
    print(f"reports_{len(practices)}_practices_s: {total_s:.1f} s")
    print(f"reports_compose_s: {compose_s:.1f} s (delivery.claim, with the commit)")
    print(f"reports_pdf_s: {pdf_s:.1f} s")
    print(f"reports_csv_s: {csv_s:.2f} s")
    print(f"reports_json_s: {json_s:.2f} s")
    print(f"reports_pdf_pages: {pages}")
    print(f"reports_pdf_pages_per_s: {pages / pdf_s:.1f} pages/s")
    print(f"reports_pdf_ms_per_person: {pdf_s / people * 1000:.1f} ms")
    print(f"reports_compose_ms_per_person: {compose_s / people * 1000:.2f} ms")
    print(f"reports_slowest_pdf_s: {slowest[0]:.1f} s ({slowest[1]} people, {slowest[2]} pages)")
    print(
        f"reports_bytes: pdf {pdf_bytes / 1e6:.1f} MB, csv {csv_bytes / 1e6:.1f} MB, "
        f"json {json_bytes / 1e6:.1f} MB"
    )
    print(f"reports_outcome_reports: {reports}")
    print(f"reports_baseline_mb: {baseline_mb:.0f} MB (peak RSS before generating)")
    print(f"reports_peak_mb: {peak_mb:.0f} MB")
    print(f"reports_seed_peak_mb: {counts['seed_peak_kb'] / 1024:.0f} MB (the seeding child)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--practices", type=int, default=60)
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        help="sqlite (the default) or postgresql (a throwaway server, or a throwaway "
        "database on DATABASE_URL's server)",
    )
    parser.add_argument("--postgres", action="store_true", help="the same as --backend postgresql")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    args = parser.parse_args(argv)
    if args.backend == "sqlite":
        args.sqlite = True
    elif args.backend == "postgresql":
        args.postgres, args.sqlite = True, False
    if args.practices < 1 or args.referrals < args.practices:
        parser.error("--referrals must be at least --practices, and --practices at least 1")

    started = time.perf_counter()
    backend = None
    try:
        backend = choose_backend(args)
        run(args, backend)
    finally:
        if backend is not None:
            backend.cleanup()
        shutil.rmtree(_TMP, ignore_errors=True)
    print(f"reports_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
