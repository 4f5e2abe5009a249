"""Load test: 50 people using the portal at once for 5 minutes, then a count of the rows.

Starts a throwaway PostgreSQL server, migrates it, loads a working set (benchmarks/load/
seed.py) and serves the portal with gunicorn on 127.0.0.1 in the production config, CSRF
on (benchmarks/pages.py's `Gunicorn` and `bench_app()`). Then locust, in this process,
runs a mix of users for a fixed time: navigators (caseload, cases, logging contacts),
volunteers (their page, the people they buddy, logging contacts and hours), the public
(searching the directory, opening activities) and GP practices (their referrals, referring
someone). Each logs in through the login form.

It prints throughput, p50/p95/p99 and errors for each page, then counts the rows: every
write the portal answered with its success response must be in the database exactly once,
by the right person on the right record. Rows saved whose answer never arrived are
reported on their own line, not as failures.

Exits non-zero when a write that succeeded is missing, duplicated or misfiled, or when
more than 1% of requests failed. Slow figures are reported, never failures.

    cd /work/main
    PYTHONPATH=. .venv/bin/python benchmarks/load/run.py            # 50 users for 5 minutes
    PYTHONPATH=. .venv/bin/python benchmarks/load/run.py --quick    # 10 users for 30 s
    PYTHONPATH=. .venv/bin/python benchmarks/load/run.py --users 100 --minutes 10
"""

# gevent first: locust runs its users as greenlets, and the standard library must be
# patched before anything else imports it (sockets, threads, subprocess, ssl).
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
for _folder in (ROOT, ROOT / "benchmarks"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from benchmarks.pages import URL_ENV, Gunicorn, Visitor  # noqa: E402

SEED = 20261210
PASSWORD = "load test password for every account"  # noqa: S105  (fictional accounts)
MAX_ERROR_RATE = 0.01
KINDS = ("navigator_contact", "buddy_contact", "volunteer_hours", "referral")


# --- the swarm -------------------------------------------------------------------------------


@dataclass
class Swarm:
    log: object  # users.RequestLog
    users: dict[str, int]  # by class, once every user had started
    ramp_s: float
    seconds: float  # from the first user starting to the last one stopping
    client_cpu: float  # the share of one core this process used meanwhile
    exceptions: list[str]  # tasks that raised (a fault in this script, or a page it misread)
    problems: Counter  # client-side trouble the users noted
    killed: int  # users still in a request stop_timeout after the end, and killed


def swarm(args, host: str, working_set, ledger, server: Gunicorn) -> Swarm:
    from locust import between
    from locust.env import Environment

    from benchmarks.load import users

    shared = users.Person.shared = users.Shared(working_set, ledger, random.Random(SEED))
    users.Person.wait_time = between(args.think_min, args.think_max)
    log = users.RequestLog()
    env = Environment(user_classes=list(users.ROLES), host=host, stop_timeout=args.stop_timeout)
    env.events.request.add_listener(log.on_request)
    spawned = gevent.event.Event()
    env.events.spawning_complete.add_listener(lambda user_count, **kw: spawned.set())
    runner = env.create_local_runner()
    cpu, started = time.process_time(), time.monotonic()
    counts: dict[str, int] = {}
    try:
        runner.start(args.users, spawn_rate=args.spawn_rate)
        spawned.wait(timeout=args.users / args.spawn_rate + 120)
        ramp = time.monotonic() - started
        counts = dict(runner.user_classes_count)
        print(f"# {sum(counts.values())} users started in {ramp:.1f} s: {counts}", file=sys.stderr)
        deadline = time.monotonic() + args.minutes * 60
        seen, last = 0, time.monotonic()
        while (left := deadline - time.monotonic()) > 0:
            gevent.sleep(min(30.0, left))
            if server.process is None or server.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped during the run:\n{server.log_tail()}")
            now, total = time.monotonic(), log.total()
            print(
                f"# {now - started:5.0f} s: {runner.user_count} users, "
                f"{(total - seen) / (now - last):.1f} requests/s lately, "
                f"{total} requests, {log.failed()} failed",
                file=sys.stderr,
                flush=True,
            )
            seen, last = total, now
    finally:
        # Each user finishes the request it is making (a write is never cut off by the
        # test) and stops at its next pause or task. Those still busy after stop_timeout
        # are killed by runner.quit().
        shared.stopping.set()
        deadline = time.monotonic() + args.stop_timeout
        while runner.user_count and time.monotonic() < deadline:
            gevent.sleep(0.2)
        killed = runner.user_count
        runner.quit()
    seconds = time.monotonic() - started
    exceptions = [f"{e['count']}x {e['msg']}\n{e['traceback']}" for e in runner.exceptions.values()]
    return Swarm(
        log,
        counts,
        ramp,
        seconds,
        (time.process_time() - cpu) / seconds,
        exceptions,
        shared.problems,
        killed,
    )


# --- counting the rows -----------------------------------------------------------------------


@dataclass
class Check:
    sent: Counter = field(default_factory=Counter)
    saved: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)  # rows with a marker of this run
    missing: list[str] = field(default_factory=list)  # saved, not in the database
    duplicated: list[str] = field(default_factory=list)  # in the database more than once
    misfiled: list[str] = field(default_factory=list)  # wrong author, case or practice
    unanswered: list[str] = field(default_factory=list)  # in the database, no success answer
    cut_off: int = 0  # sent, but the user was killed before any answer came
    strangers: list[str] = field(default_factory=list)  # markers this run never sent

    @property
    def failed(self) -> bool:
        return bool(self.missing or self.duplicated or self.misfiled or self.strangers)


def count_rows(url: str, ledger) -> Check:
    """Every row carrying one of this run's markers, against what the ledger says."""
    from portal.auth.models import User
    from portal.cases.models import Contact
    from portal.referrals.models import Referral
    from portal.volunteers.models import BuddyMatch, Volunteer, VolunteerHours

    like = f"%LT-{ledger.run_id}-%"
    found: dict[str, list[tuple[str, str, int | None]]] = defaultdict(list)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            match_case = dict(conn.execute(sa.select(BuddyMatch.id, BuddyMatch.referral_id)).all())
            queries = {
                "contacts": sa.select(Contact.notes, User.email, User.role, Contact.referral_id)
                .join(User, User.id == Contact.author_id)
                .where(Contact.notes.like(like)),
                "volunteer_hours": sa.select(VolunteerHours.notes, User.email, User.role, sa.null())
                .join(Volunteer, Volunteer.id == VolunteerHours.volunteer_id)
                .join(User, User.id == Volunteer.user_id)
                .where(VolunteerHours.notes.like(like)),
                "referrals": sa.select(
                    Referral.details, User.email, User.role, Referral.practice_id
                )
                .outerjoin(User, User.id == Referral.referred_by_id)
                .where(Referral.details.like(like)),
            }
            for table, query in queries.items():
                for text, email, _role, record in conn.execute(query):
                    for marker in ledger.pattern.findall(text or ""):
                        found[marker].append((table, email, record))
    finally:
        engine.dispose()

    expected_table = {
        "navigator_contact": "contacts",
        "buddy_contact": "contacts",
        "volunteer_hours": "volunteer_hours",
        "referral": "referrals",
    }
    check = Check()
    for marker, write in ledger.writes.items():
        check.sent[write.kind] += 1
        rows = found.get(marker, [])
        check.found[write.kind] += len(rows)
        if write.saved:
            check.saved[write.kind] += 1
        elif not write.answer:
            check.cut_off += 1
        if len(rows) > 1:
            check.duplicated.append(f"{marker} ({write.kind}) is in {len(rows)} rows")
        if write.saved and not rows:
            check.missing.append(f"{marker} ({write.kind} by {write.email}, {write.page})")
        if not write.saved and rows:
            check.unanswered.append(
                f"{marker} ({write.kind} by {write.email}): {write.answer or 'no success answer'}"
            )
        if write.kind == "buddy_contact":
            record = match_case.get(write.target)
        elif write.kind == "volunteer_hours":
            record = None
        else:
            record = write.target
        for table, email, got in rows:
            if table != expected_table[write.kind] or email != write.email or got != record:
                check.misfiled.append(
                    f"{marker} ({write.kind} by {write.email} on {record}) is in {table}, "
                    f"by {email}, on {got}"
                )
    check.strangers = [m for m in found if m not in ledger.writes]
    return check


# --- the report ------------------------------------------------------------------------------


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return 0.0
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(p) - 1]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def report(args, result: Swarm, check: Check, counts: dict, timings: dict, extra: dict) -> bool:
    log = result.log
    total, failed = log.total(), log.failed()
    rate = failed / total if total else 1.0
    every = [t for times in log.times.values() for t in times]
    print("\n# load test: the portal under gunicorn on PostgreSQL, 127.0.0.1")
    print(f"load_backend: {extra['backend']}")
    print(
        f"load_server: gunicorn {extra['gunicorn']}, {args.workers} sync workers, production "
        "config (CSRF on, production argon2), 127.0.0.1"
    )
    print(
        "load_users: "
        + f"{sum(result.users.values())} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(result.users.items()))
        + f"), think time {args.think_min:g}-{args.think_max:g} s, spawned at "
        f"{args.spawn_rate:g}/s in {result.ramp_s:.1f} s"
    )
    print(
        f"load_duration_s: {result.seconds:.1f} s ({args.minutes:g} min with every user, "
        "plus the ramp-up and the last requests)"
    )
    print(
        "load_rows: "
        + ", ".join(
            f"{t} {counts[t]}"
            for t in ("referrals", "contacts", "volunteers", "activities")
            if t in counts
        )
    )
    print("load_logins: " + ", ".join(f"{k} {v}" for k, v in extra["logins"].items()))
    print(
        f"load_seed_s: {sum(timings.values()):.1f} s ("
        + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        + ")"
    )
    print(
        f"load_machine: load average {extra['load_before']:.2f} before, "
        f"{extra['load_after']:.2f} after (1 min, {os.cpu_count()} CPUs); the clients used "
        f"{100 * result.client_cpu:.0f}% of a core"
    )
    print(f"load_requests: {total}")
    print(f"load_throughput_rps: {total / result.seconds:.1f}")
    print(f"load_p50_ms: {pct(every, 50):.1f} ms")
    print(f"load_p95_ms: {pct(every, 95):.1f} ms")
    print(f"load_p99_ms: {pct(every, 99):.1f} ms")
    print(f"load_errors: {failed}")
    print(f"load_error_rate: {100 * rate:.2f} %")
    for name in log.names():
        times, n = sorted(log.times.get(name, [])), log.count(name)
        errors = sum(log.failures.get(name, Counter()).values())
        key = f"load_{slug(name)}"
        print(f"# {name}")
        print(f"{key}_requests: {n} ({n / result.seconds:.2f}/s)")
        print(f"{key}_p50_ms: {pct(times, 50):.1f} ms")
        print(f"{key}_p95_ms: {pct(times, 95):.1f} ms")
        print(f"{key}_p99_ms: {pct(times, 99):.1f} ms")
        print(f"{key}_errors: {errors} ({100 * errors / n if n else 0:.2f} %)")

    print("\n# writes: every success answer against the rows in the database")
    for label, counter in (
        ("load_writes_sent", check.sent),
        ("load_writes_saved", check.saved),
        ("load_writes_rows_found", check.found),
    ):
        print(
            f"{label}: {sum(counter.values())} ("
            + ", ".join(f"{k} {counter[k]}" for k in KINDS)
            + ")"
        )
    print(f"load_writes_missing: {len(check.missing)}")
    print(f"load_writes_duplicated: {len(check.duplicated)}")
    print(f"load_writes_misfiled: {len(check.misfiled)}")
    print(f"load_writes_saved_without_success_answer: {len(check.unanswered)}")
    print(f"load_writes_cut_off: {check.cut_off} (sent; the user was stopped before the answer)")

    for name in log.names():
        failures = log.failures.get(name)
        if failures:
            shown = "; ".join(f"{n}x {m}" for m, n in failures.most_common(5))
            print(f"# ERROR: {name}: {sum(failures.values())} failed ({shown})")
    for label, items in (
        ("missing (answered as saved, not in the database)", check.missing),
        ("duplicated", check.duplicated),
        ("misfiled", check.misfiled),
        ("not sent by this run", check.strangers),
    ):
        for item in items[:10]:
            print(f"# ERROR: write {label}: {item}")
    for item in check.unanswered[:10]:
        print(f"# note: saved although the answer was not a success: {item}")
    for message, n in result.problems.most_common(10):
        print(f"# WARNING: {n}x {message}")
    if result.killed:
        print(
            f"# WARNING: {result.killed} users were still busy {args.stop_timeout:g} s after "
            "the end and were killed"
        )
    for exception in result.exceptions[:5]:
        print(f"# ERROR: a user's task raised: {exception}")
    if extra["tracebacks"]:
        print(f"# WARNING: gunicorn logged {extra['tracebacks']} tracebacks:")
        for line, n in extra["traceback_ends"].most_common(10):
            print(f"#   {n}x {line}")

    ok = True
    if rate > MAX_ERROR_RATE:
        print(f"# ERROR: {100 * rate:.2f} % of requests failed (more than 1 %)")
        ok = False
    if total == 0:
        print("# ERROR: no request was made")
        ok = False
    if check.failed:
        ok = False
    if result.exceptions or sum(result.problems.values()):
        ok = False
    print(f"load_verdict: {'pass' if ok else 'FAIL'}")
    return ok


def traceback_ends(log_text: str) -> Counter:
    """The last line of each traceback gunicorn logged (the exception and its message)."""
    ends: Counter = Counter()
    for block in log_text.split("Traceback (most recent call last):")[1:]:
        lines = [
            ln
            for ln in block.splitlines()
            if ln.strip() and not ln.startswith((" ", "\t", "[", "During", "The above"))
        ]
        if lines:
            ends[lines[0][:240]] += 1
    return ends


# --- the run ---------------------------------------------------------------------------------


def run(args, tmp: Path, stack: list) -> bool:
    import caseload

    from benchmarks.load.seed import seed
    from benchmarks.load.users import Ledger

    backend = caseload.postgres_throwaway()
    stack.append(backend.cleanup)
    print(f"# PostgreSQL on {backend.url.rsplit('@', 1)[-1]}", file=sys.stderr)
    app = caseload.make_app(backend.url)  # flask_migrate.upgrade() with the test config
    working_set, counts, timings = seed(
        app,
        referrals=args.referrals,
        navigators=args.navigators,
        volunteers=args.volunteers,
        password=PASSWORD,
    )
    print(
        f"# seeded in {sum(timings.values()):.1f} s: "
        + ", ".join(f"{len(v)} {k} logins" for k, v in working_set.accounts.items()),
        file=sys.stderr,
    )
    from benchmarks.load import users

    needed = {cls.role: 0 for cls in users.ROLES if cls.role}
    weights = sum(cls.weight for cls in users.ROLES)
    for cls in users.ROLES:
        if cls.role:
            needed[cls.role] = -(-args.users * cls.weight // weights)
    short = {r: n for r, n in needed.items() if len(working_set.accounts.get(r, [])) < n}
    if short:
        raise RuntimeError(f"not enough logins for the users: need {short}")

    env = dict(os.environ, SECRET_KEY=secrets.token_hex(32), **{URL_ENV: backend.url})
    server = Gunicorn("portal", "benchmarks.pages:bench_app()", env, args.workers, tmp)
    stack.append(server.stop)
    server.start()
    server.wait_ready("/login")
    # One login of each role through the real form, before the clock starts: a setup
    # problem stops the run here with a clear message (and every worker is warm).
    for accounts in working_set.accounts.values():
        for _ in range(args.workers):
            Visitor(server.port).login(accounts[0].email, PASSWORD)
    print(f"# gunicorn on 127.0.0.1:{server.port}, {args.workers} workers", file=sys.stderr)

    ledger = Ledger(secrets.token_hex(3))
    load_before = os.getloadavg()[0]
    result = swarm(args, f"http://127.0.0.1:{server.port}", working_set, ledger, server)
    load_after = os.getloadavg()[0]
    server.stop()  # no request is still being answered when the rows are counted
    log_text = server.log_path.read_text(errors="replace")
    check = count_rows(backend.url, ledger)
    from importlib.metadata import version

    extra = {
        "backend": "postgresql (a throwaway server, tests/pg_server.py)",
        "gunicorn": version("gunicorn"),
        "load_before": load_before,
        "load_after": load_after,
        "tracebacks": log_text.count("Traceback (most recent call last)"),
        "traceback_ends": traceback_ends(log_text),
        "logins": {role: len(accounts) for role, accounts in working_set.accounts.items()},
    }
    if extra["tracebacks"]:
        print(f"# gunicorn log, last lines:\n{log_text[-4000:]}", file=sys.stderr)
    return report(args, result, check, counts, timings, extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=None, help="people at once (default 50)")
    parser.add_argument("--minutes", type=float, default=None, help="with every user (default 5)")
    parser.add_argument("--quick", action="store_true", help="10 users for 30 s on 5,000 referrals")
    parser.add_argument("--referrals", type=int, default=None, help="default 20,000")
    parser.add_argument("--navigators", type=int, default=26)
    parser.add_argument("--volunteers", type=int, default=None, help="default 1 per 20 referrals")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started a second")
    parser.add_argument("--think-min", type=float, default=1.0, help="seconds between pages")
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument(
        "--stop-timeout", type=float, default=60, help="seconds users get to finish at the end"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.users = args.users or (10 if quick else 50)
    args.minutes = args.minutes if args.minutes is not None else (0.5 if quick else 5)
    args.referrals = args.referrals or (5_000 if quick else 20_000)
    args.volunteers = args.volunteers or max(100, args.referrals // 20)
    if args.workers < 2:
        parser.error("--workers must be 2 or more")
    if args.users < 1 or args.minutes <= 0 or args.spawn_rate <= 0:
        parser.error("--users, --minutes and --spawn-rate must be positive")
    if not 0 <= args.think_min <= args.think_max:
        parser.error("--think-min must be between 0 and --think-max")
    needed_navigators = -(-args.users * 3 // 10)
    if args.navigators < max(2, needed_navigators):
        parser.error(f"--navigators must be at least {max(2, needed_navigators)}")

    # SIGTERM ends the run as Ctrl+C does: the finally block stops gunicorn and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="portal-load-"))
    stack: list = []  # what to stop, in the order it was started
    started = time.perf_counter()
    ok = False
    try:
        ok = run(args, tmp, stack)
    except KeyboardInterrupt:
        print("# interrupted: stopping gunicorn and PostgreSQL", file=sys.stderr)
        return 130
    finally:
        for stop in reversed(stack):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                print(f"# could not stop cleanly: {exc!r}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
