"""Benchmark: page speed under gunicorn, side by side with the floor of the stack.

Builds a fresh database in a temporary folder (SQLite by default, PostgreSQL with
--postgres or when DATABASE_URL is set), creates the schema with the migrations and
bulk-loads 100,000 referrals, 1,000,000 contacts, 5,000 volunteers and 2,000 activities
with everything the dashboards count (dashboards.py's Seeder, which builds on caseload.py's
Planner). It counts the SQL statements of each page through the test client at a small
size and again at full size, to show the counts do not grow with the data.

It then serves the portal under gunicorn (2 sync workers, the production config) on
127.0.0.1 and a free port, and next to it a minimal Flask + SQLAlchemy + Jinja app (the
"floor": one page of 25 referrals from the same database) under gunicorn the same way.
Concurrent clients, each logged in through the real login form as the page's role,
request each page for a fixed time, in rounds that each time the floor first. Each page's
throughput is printed as a ratio of the floor's (`page_ratio_<page>`), with its p95
latency and its statement count.

Two reference pages are timed the same way (`reference_ratio_<name>`), served by the
benchmark's app only: the portal's layout with an empty body ("shell"), and the floor's own
table inside that layout ("floor_in_layout"). They show what the login, the session, the
security headers and the NHS.UK layout cost before a page draws anything of its own.

Performance is reported, never asserted: the script exits non-zero only on errors (a load
that fails, a request that does not answer 200 with the expected page), not on slow
figures. The gunicorn processes are stopped at the end, on errors, on Ctrl+C and on SIGTERM.

    .venv/bin/python benchmarks/pages.py                 # SQLite
    .venv/bin/python benchmarks/pages.py --postgres      # a throwaway PostgreSQL server
    DATABASE_URL=postgresql://... .venv/bin/python benchmarks/pages.py
    .venv/bin/python benchmarks/pages.py --referrals 5000 --volunteers 500 --small 1000 \
        --seconds 10                                     # a quick run
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import html
import http.client
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask, render_template
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# This module is also what the gunicorn workers import (bench_app, floor_app), so the
# benchmark's helpers (caseload.py and the others, which make a temporary folder and load
# the whole portal when imported) are imported inside run(), not here.
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _folder in (ROOT, BENCH_DIR):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

URL_ENV = "PAGES_BENCH_DATABASE_URL"  # the database the gunicorn apps serve
FLOOR_ROWS = 25  # the portal's PAGE_SIZE
TARGET_RATIO = 0.5
REQUEST_TIMEOUT_S = 300
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]*)"')


# --- the apps gunicorn serves --------------------------------------------------------------


def bench_app() -> Flask:
    """The portal as a deployment runs it (the production config) on the benchmark's
    database; gunicorn loads it as `benchmarks.pages:bench_app()`. SECRET_KEY and the
    database URL come from the environment the benchmark gives gunicorn.

    Two-step login is not asked of the benchmark's coordinators: each client logs in once
    and only the pages after that are timed, and one code cannot log in many clients."""
    from portal import create_app

    app = create_app(
        "production",
        overrides={"SQLALCHEMY_DATABASE_URI": os.environ[URL_ENV], "MFA_REQUIRED_ROLES": ()},
    )
    add_references(app)
    return app


SHELL_PATH = "/__bench/shell"
SHELL_MARKER = 'id="maincontent"'
FLOOR_IN_LAYOUT_PATH = "/__bench/floor-in-layout"


def add_references(app: Flask) -> None:
    """The benchmark's two reference pages, on the benchmark's app only, behind the same
    login as every page:

    - the shell: the portal's layout (base.html: the NHS.UK header, navigation and footer)
      with an empty body. Its cost is what every logged-in page pays before its content:
      the session, loading the user, the header's counts, CSRF, the CSP nonce and headers;
    - the floor in the layout: the floor's own table of 25 referrals, read the same way,
      inside that layout. No page with content of its own can do better."""
    from portal.auth.permissions import login_required_any_role
    from portal.extensions import db

    shell = app.jinja_env.from_string('{% extends "base.html" %}{% block body %}{% endblock %}')
    floor_in_layout = app.jinja_env.from_string(
        '{% extends "base.html" %}{% block body %}' + FLOOR_TABLE + "{% endblock %}"
    )

    @login_required_any_role
    def bench_shell():
        return render_template(shell)

    @login_required_any_role
    def bench_floor_in_layout():
        rows = db.session.scalars(
            sa.select(FloorReferral).order_by(FloorReferral.id).limit(FLOOR_ROWS)
        ).all()
        return render_template(floor_in_layout, rows=rows)

    app.add_url_rule(SHELL_PATH, "bench_shell", bench_shell)
    app.add_url_rule(FLOOR_IN_LAYOUT_PATH, "bench_floor_in_layout", bench_floor_in_layout)


class _FloorBase(DeclarativeBase):
    pass


class FloorReferral(_FloorBase):
    """The few columns of `referrals` the floor page shows."""

    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str]
    status: Mapped[str]
    urgency: Mapped[str]
    received_at: Mapped[datetime]


FLOOR_TABLE = """<table id="floor-table">
  <caption>{{ rows | length }} referrals</caption>
  <thead><tr><th>Reference</th><th>Received</th><th>Urgency</th><th>Status</th></tr></thead>
  <tbody>
  {% for r in rows %}
    <tr>
      <td><a href="/referrals/{{ r.id }}">{{ r.reference }}</a></td>
      <td>{{ r.received_at.strftime("%d %b %Y %H:%M") }}</td>
      <td>{{ r.urgency }}</td>
      <td>{{ r.status }}</td>
    </tr>
  {% endfor %}
  </tbody>
</table>"""

FLOOR_PAGE = (
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Referrals</title></head>
<body>
<main>
<h1>Referrals</h1>
"""
    + FLOOR_TABLE
    + """
</main>
</body>
</html>
"""
)


def floor_app(url: str | None = None) -> Flask:
    """The floor of the stack: Flask, Flask-SQLAlchemy and a Jinja template showing 25
    referrals (by id) from the benchmark's database, and nothing else (no login, audit,
    CSRF or security headers). It opens connections with the portal's own settings (WAL,
    busy timeout and foreign keys on SQLite, JIT off on PostgreSQL) and engine options.
    gunicorn loads it as `benchmarks.pages:floor_app()`."""
    import portal  # noqa: F401  (registers the portal's per-connection settings)
    from config import Config

    app = Flask("floor")
    app.config["SQLALCHEMY_DATABASE_URI"] = url or os.environ[URL_ENV]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(Config.SQLALCHEMY_ENGINE_OPTIONS)
    db = SQLAlchemy(app)
    app.jinja_env.loader = DictLoader({"floor.html": FLOOR_PAGE})

    @app.get("/")
    def floor():
        rows = db.session.scalars(
            sa.select(FloorReferral).order_by(FloorReferral.id).limit(FLOOR_ROWS)
        ).all()
        return render_template("floor.html", rows=rows)

    return app


# --- the clients ---------------------------------------------------------------------------


class Visitor:
    """One person's browser, cut down: a cookie jar and one request at a time.

    Each request opens its own connection (http.client), as gunicorn's sync workers close
    the connection after every response. The time of a request covers connecting, sending,
    waiting for a worker and reading the whole body.
    """

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, value = header.split(";", 1)[0].partition("=")
            if value:
                self.cookies[name.strip()] = value
            else:  # deleted
                self.cookies.pop(name.strip(), None)
        return response.status, response.headers, data

    def login(self, email: str, password: str) -> None:
        """Through the login form, with its CSRF token when the page has one."""
        status, _, body = self.request("GET", "/login")
        if status != 200:
            raise RuntimeError(f"GET /login answered {status}")
        form = {"email": email, "password": password}
        token = CSRF_FIELD.search(body.decode())
        if token:
            form["csrf_token"] = html.unescape(token.group(1))
        status, headers, _ = self.request(
            "POST",
            "/login",
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 302 or (headers.get("Location") or "").startswith("/login"):
            raise RuntimeError(f"login as {email} through gunicorn failed: {status}")


@dataclass
class Window:
    """One target, hammered by every client for one stretch of time."""

    times_ms: list[float]
    errors: list[str]
    seconds: float
    client_cpu_s: float = 0.0  # CPU time this process (the clients) used meanwhile

    @property
    def rps(self) -> float:
        return len(self.times_ms) / self.seconds if self.seconds else 0.0


def hammer(
    visitors: list[Visitor],
    path: str,
    marker: str,
    stop: threading.Event,
    seconds: float = 0,
    each: int = 0,
) -> Window:
    """Every visitor requests `path` one request after another, all at once: for `seconds`,
    or `each` requests apiece. A request counts when it answers 200 with `marker` in it."""
    wanted = marker.encode()
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds

    def one(visitor: Visitor) -> tuple[list[float], list[str], float]:
        times: list[float] = []
        errors: list[str] = []
        n = 0
        while not stop.is_set() and (n < each if each else time.perf_counter() < deadline):
            n += 1
            start = time.perf_counter()
            try:
                status, _, body = visitor.request("GET", path)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)
                continue
            elapsed = (time.perf_counter() - start) * 1000
            if status == 200 and wanted in body:
                times.append(elapsed)
            else:
                errors.append(f"{status}" if status != 200 else f"200 without {marker!r}")
        return times, errors, time.perf_counter()

    with ThreadPoolExecutor(max_workers=len(visitors)) as pool:
        futures = [pool.submit(one, v) for v in visitors]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            stop.set()  # Ctrl+C: the clients stop after the request they are making
            raise
    times = [t for r in results for t in r[0]]
    errors = [e for r in results for e in r[1]]
    return Window(times, errors, max(r[2] for r in results) - started, time.process_time() - cpu)


# --- the servers ---------------------------------------------------------------------------


class Gunicorn:
    """gunicorn serving `app_spec` on 127.0.0.1 and a free port, in a session of its own,
    so that stopping it ends its workers too and Ctrl+C in the terminal reaches only us.

    (matching.py's Server always serves the test config's create_app, so it is not used.)
    """

    def __init__(self, name: str, app_spec: str, env: dict, workers: int, log_dir: Path):
        from matching import free_port

        self.name, self.app_spec, self.env, self.workers = name, app_spec, env, workers
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--worker-class",
                    "sync",
                    "--timeout",
                    str(REQUEST_TIMEOUT_S),
                    "--graceful-timeout",
                    "10",
                    "--chdir",
                    str(ROOT),
                    self.app_spec,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        atexit.register(self.stop)

    def wait_ready(self, path: str, timeout_s: float = 120) -> None:
        """Until a worker answers `path` with 200 (the master listens before they boot)."""
        deadline = time.monotonic() + timeout_s
        probe = Visitor(self.port)
        while True:
            try:
                if probe.request("GET", path)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.name}) exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({self.name}) did not answer:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), then SIGKILL to the whole process
        group if anything is left after 20 s."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of this gunicorn only
        if process.poll() is None:
            process.wait()
        self.process = None


# --- the run -------------------------------------------------------------------------------


@dataclass
class Target:
    key: str  # page_<key>_... in the output; "floor" for the floor
    role: str  # who the clients are logged in as: "public" for nobody
    path: str
    marker: str  # text every answer must contain
    windows: list[Window] = field(default_factory=list)
    small: object = None  # caseload.Result of the statement count at the small size
    full: object = None  # the same at full size
    note: str = ""  # said about the page in the report

    @property
    def times_ms(self) -> list[float]:
        return [t for w in self.windows for t in w.times_ms]

    @property
    def errors(self) -> list[str]:
        return [e for w in self.windows for e in w.errors]

    @property
    def rps(self) -> float:
        seconds = sum(w.seconds for w in self.windows)
        return len(self.times_ms) / seconds if seconds else 0.0

    @property
    def client_cpu(self) -> float:
        """The share of one core the clients used while timing this target."""
        seconds = sum(w.seconds for w in self.windows)
        return sum(w.client_cpu_s for w in self.windows) / seconds if seconds else 0.0


def pick_case(app: Flask, navigator_id: int) -> tuple[int, int]:
    """A typical case of the benchmarked navigator: of the open cases already loaded (the
    small sample, so that the page is the same at both sizes), the one with the median
    number of contacts. The case page lists every contact, so the count matters."""
    from caseload import CASE_STATUSES

    from portal.cases.models import Contact
    from portal.extensions import db
    from portal.referrals.models import Referral

    with app.app_context():
        cases = db.session.execute(
            sa.select(Referral.id, sa.func.count(Contact.id))
            .outerjoin(Contact, Contact.referral_id == Referral.id)
            .where(Referral.navigator_id == navigator_id, Referral.status.in_(CASE_STATUSES))
            .group_by(Referral.id)
            .order_by(sa.func.count(Contact.id), Referral.id)
        ).all()
    if not cases:
        raise RuntimeError("the navigator has no open case in the small sample: raise --small")
    case_id, contacts = cases[(len(cases) - 1) // 2]
    return case_id, contacts


def most_contacts(app: Flask, navigator_id: int) -> int:
    """The most contacts on any of the navigator's open cases."""
    from caseload import CASE_STATUSES

    from portal.cases.models import Contact
    from portal.extensions import db
    from portal.referrals.models import Referral

    with app.app_context():
        per_case = (
            sa.select(sa.func.count(Contact.id).label("n"))
            .join(Referral, Referral.id == Contact.referral_id)
            .where(Referral.navigator_id == navigator_id, Referral.status.in_(CASE_STATUSES))
            .group_by(Contact.referral_id)
            .subquery()
        )
        return db.session.scalar(sa.select(sa.func.max(per_case.c.n))) or 0


def settle(timings: dict[str, float]) -> None:
    """What a bulk load leaves to do: work out the dashboard facts again (Core inserts and
    COPY skip the ORM hooks that mark referrals stale), as dashboards.py does, then fresh
    statistics. Inside an app context."""
    import dashboards
    from caseload import timed

    from portal.dashboard import facts
    from portal.extensions import db

    with timed("facts", timings):
        facts.rebuild()
        db.session.commit()
    with timed("analyze", timings):
        dashboards.analyze()


def floor_statements(url: str) -> int:
    """Statements of one floor request, counted in process through the test client."""
    from caseload import Statements

    app = floor_app(url)
    stmts = Statements()
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        stmts.attach(engine)
    client = app.test_client()
    client.get("/")
    stmts.reset()
    response = client.get("/")
    if response.status_code != 200:
        raise RuntimeError(f"the floor page answered {response.status_code} in process")
    with app.app_context():
        engine.dispose()
    return stmts.count


def run(args: argparse.Namespace, backend, stop: threading.Event) -> bool:
    """Loads, counts, serves, measures and prints; False if any request failed."""
    import caseload
    import dashboards
    from caseload import COORDINATOR_EMAIL, NAVIGATOR_EMAIL, PASSWORD, Planner, timed
    from dashboards import COMMISSIONER_EMAIL, FIGURES, Page, Seeder
    from matching import pct

    from portal.db_types import london_today, utcnow
    from portal.extensions import db

    def q(times: list[float], p: float) -> float:
        return pct(times, p) if times else 0.0

    timings: dict[str, float] = {}
    with timed("migrate", timings):
        app = caseload.make_app(backend.url)
    stmts = caseload.Statements()
    with app.app_context():
        stmts.attach(db.engine)
        planner = Planner(
            now=utcnow(),
            referrals=args.referrals,
            contacts=args.contacts,
            open_cases=min(200, args.referrals // 50),
            other_navigators=args.navigators - 1,
            small=args.small,
        )
        seeder = Seeder(
            planner, volunteers=args.volunteers, measures=args.measures, today=london_today()
        )
        seeder.reference_data()
        with timed("plan", timings):
            seeder.plan(args.small)
        with timed("load_small", timings):
            seeder.load("small")
        settle(timings)
    small_counts = dashboards.counts(app)
    navigator_id = planner.navigator_id
    case_id, case_contacts = pick_case(app, navigator_id)

    case_page = Target("case", "navigator", f"/cases/{case_id}", 'id="case-header"')
    pages = [
        Target("triage_queue", "coordinator", "/hub", 'id="hub-table"'),
        Target("caseload", "navigator", "/caseload", 'id="caseload-table"'),
        case_page,
        Target(
            "directory",
            "public",
            "/directory?" + urlencode({"q": args.directory_query}),
            'id="directory-results"',
        ),
        Target("dashboard", "commissioner", "/dashboard", FIGURES),
    ]
    # Not pages of the issue: references, to tell the layout's share from the pages' own.
    references = [
        Target("shell", "navigator", SHELL_PATH, SHELL_MARKER),
        Target("floor_in_layout", "navigator", FLOOR_IN_LAYOUT_PATH, 'id="floor-table"'),
    ]
    emails = {
        "coordinator": COORDINATOR_EMAIL,
        "navigator": NAVIGATOR_EMAIL,
        "commissioner": COMMISSIONER_EMAIL,
    }
    clients = {
        "coordinator": caseload.login(app, COORDINATOR_EMAIL),
        "navigator": caseload.login(app, NAVIGATOR_EMAIL),
        "commissioner": dashboards.login(app, COMMISSIONER_EMAIL),
        "public": app.test_client(),
    }

    def count(target: Target, warmup: int):
        page = Page(target.key, target.role, target.path, target.marker)
        return dashboards.measure(clients[target.role], stmts, page, args.count_requests, warmup)

    for target in pages:
        target.small = count(target, 1)

    with app.app_context():
        with timed("load_full", timings):
            seeder.load("rest")
        settle(timings)
    loaded_seconds = seeder.seconds
    del seeder, planner  # millions of planned rows need not sit in memory while measuring
    gc.collect()
    full_counts = dashboards.counts(app)
    case_page.note = (
        f"; the case has {case_contacts} contacts, the navigator's open cases up to "
        f"{most_contacts(app, navigator_id)}"
    )
    for target in pages:
        target.full = count(target, 2)
    floor_count = floor_statements(backend.url)
    with app.app_context():
        db.engine.dispose()  # the servers have the database to themselves from here
    gc.collect()
    gc.freeze()

    # --- through gunicorn ---
    env = dict(os.environ, SECRET_KEY=secrets.token_hex(32), **{URL_ENV: backend.url})
    portal_server = Gunicorn("portal", "benchmarks.pages:bench_app()", env, args.workers, _tmp())
    floor_server = Gunicorn("floor", "benchmarks.pages:floor_app()", env, args.workers, _tmp())
    servers = (portal_server, floor_server)
    try:
        for server in servers:
            server.start()
        portal_server.wait_ready("/login")
        floor_server.wait_ready("/")
        visitors: dict[str, list[Visitor]] = {
            "public": [Visitor(portal_server.port) for _ in range(args.clients)],
            "floor": [Visitor(floor_server.port) for _ in range(args.clients)],
        }
        for role, email in emails.items():
            visitors[role] = []
            for _ in range(args.clients):
                visitor = Visitor(portal_server.port)
                visitor.login(email, PASSWORD)
                visitors[role].append(visitor)
        floor = Target("floor", "floor", "/", 'id="floor-table"')
        targets = [floor, *references, *pages]
        for target in targets:  # every worker renders every page before the timing
            warm = hammer(visitors[target.role], target.path, target.marker, stop, each=args.warmup)
            if warm.errors:
                raise RuntimeError(
                    f"warming up GET {target.path} as {target.role}: {warm.errors[0]}\n"
                    f"{(floor_server if target is floor else portal_server).log_tail()}"
                )
        load_before = os.getloadavg()[0]
        for n in range(1, args.rounds + 1):
            for target in targets:
                window = hammer(
                    visitors[target.role], target.path, target.marker, stop, seconds=args.seconds
                )
                target.windows.append(window)
                print(
                    f"# round {n}: {target.key} {window.rps:.1f} requests/s, "
                    f"p95 {q(window.times_ms, 95):.1f} ms, "
                    f"{len(window.errors)} errors",
                    file=sys.stderr,
                    flush=True,
                )
        load_after = os.getloadavg()[0]
        failed = [t for t in targets if t.errors or not t.times_ms]
        logged = {server.name: server.log_tail(10**7).count("Traceback") for server in servers}
        if failed or any(logged.values()):
            print(
                f"# gunicorn (portal) log, last lines:\n{portal_server.log_tail()}", file=sys.stderr
            )
    finally:
        for server in servers:
            server.stop()

    # --- the report ---
    name = backend.name
    gunicorn_version = _gunicorn_version()
    print(f"\n# page speed under gunicorn ({name})")
    print(f"pages_backend: {name}")
    print(
        f"pages_load_average: {load_before:.2f} before, {load_after:.2f} after the timing "
        f"(1 min, {os.cpu_count()} CPUs)"
    )
    print("pages_rows: " + ", ".join(f"{t} {n}" for t, n in full_counts.items()))
    print(
        "pages_rows_small: "
        + ", ".join(f"{t} {small_counts[t]}" for t in ("referrals", "contacts", "volunteers"))
    )
    load_s = timings["load_small"] + timings["load_full"] + timings["analyze"]
    print(f"pages_plan_s: {timings['plan']:.1f} s")
    print(f"pages_load_s: {load_s:.1f} s (including ANALYZE)")
    if "facts" in timings:
        print(f"pages_facts_rebuild_s: {timings['facts']:.1f} s (the dashboard facts, both phases)")
    print(
        "pages_load_s_by_table: "
        + ", ".join(f"{t} {s:.1f}" for t, s in loaded_seconds.most_common(6))
    )
    print(
        f"pages_server: gunicorn {gunicorn_version}, {args.workers} sync workers for the portal "
        f"(production config) and {args.workers} for the floor; {args.clients} clients at once; "
        f"each page timed for {args.seconds:g} s in each of {args.rounds} rounds"
    )
    for server, tracebacks in logged.items():
        if tracebacks:
            print(f"# WARNING: the {server} server logged {tracebacks} tracebacks (see stderr)")
    floor_times = floor.times_ms
    print(f"floor_rps: {floor.rps:.1f}")
    print(f"floor_p95_ms: {q(floor_times, 95):.1f} ms")
    print(f"floor_sql_statements: {floor_count}")
    print(
        f"# floor: p50 {q(floor_times, 50):.1f} ms, "
        f"{len(floor_times)} requests, {len(floor.errors)} errors; by round: "
        + ", ".join(f"{w.rps:.1f}" for w in floor.windows)
        + f" requests/s; the clients used {100 * floor.client_cpu:.0f}% of a core; "
        f"GET {floor.path}: {FLOOR_ROWS} referrals by id"
    )
    said = {
        "shell": "the portal's layout with an empty body",
        "floor_in_layout": "the floor's table of 25 referrals inside the portal's layout",
    }
    for reference in references:
        key, times = reference.key, reference.times_ms
        print(f"reference_ratio_{key}: {reference.rps / floor.rps if floor.rps else 0.0:.2f}")
        print(f"reference_{key}_p95_ms: {q(times, 95):.1f} ms")
        print(
            f"# {key}: {said[key]}, logged in as a navigator (a reference, not a page of "
            f"the issue): p50 {q(times, 50):.1f} ms, {len(times)} requests, "
            f"{len(reference.errors)} errors"
        )
    small_referrals = small_counts["referrals"]
    full_referrals = full_counts["referrals"]
    for target in pages:
        key, times = target.key, target.times_ms
        ratio = target.rps / floor.rps if floor.rps else 0.0
        p95 = q(times, 95)
        print(f"page_ratio_{key}: {ratio:.2f}")
        print(f"page_{key}_rps: {target.rps:.1f}")
        print(f"page_{key}_p95_ms: {p95:.1f} ms")
        print(f"page_{key}_sql_statements: {target.full.statements}")
        print(f"page_{key}_sql_statements_at_{small_referrals}: {target.small.statements}")
        print(f"page_{key}_sql_statements_at_{full_referrals}: {target.full.statements}")
        rounds = ", ".join(
            f"{w.rps / f.rps:.2f}" if f.rps else "-"
            for w, f in zip(target.windows, floor.windows, strict=True)
        )
        print(
            f"# {key}: p50 {q(times, 50):.1f} ms, max "
            f"{max(times) if times else 0:.1f} ms, {len(times)} requests, "
            f"{len(target.errors)} errors; ratio by round {rounds}; in process (test client, "
            f"one at a time) p50 {target.full.pct(50):.1f} ms at full size; the clients used "
            f"{100 * target.client_cpu:.0f}% of a core; GET {target.path} as {target.role}"
            f"{target.note}"
        )
        if target.small.statements != target.full.statements:
            print(
                f"# WARNING: {key} sends {target.small.statements} statements at "
                f"{small_referrals} referrals but {target.full.statements} at {full_referrals}: "
                "something is loaded per row"
            )
        verdict = "at or above" if ratio >= TARGET_RATIO else "BELOW"
        print(f"# {key}: ratio {ratio:.2f} is {verdict} the {TARGET_RATIO} target")
    for target in failed:
        shown = sorted(set(target.errors))[:5]
        print(
            f"# ERROR: GET {target.path} as {target.role}: {len(target.errors)} failed "
            f"requests ({'; '.join(shown) or 'none answered'})"
        )
    return not failed


def _tmp() -> Path:
    from caseload import _TMP

    return _TMP


def _gunicorn_version() -> str:
    from importlib.metadata import version

    return version("gunicorn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument(
        "--contacts", type=int, default=None, help="default: 10 per referral (1,000,000)"
    )
    parser.add_argument("--volunteers", type=int, default=5_000)
    parser.add_argument(
        "--measures", type=int, default=None, help="measure responses; default 2 per referral"
    )
    parser.add_argument(
        "--navigators", type=int, default=26, help="navigators (caseload.Planner's)"
    )
    parser.add_argument(
        "--small", type=int, default=2_000, help="referrals when the statements are first counted"
    )
    parser.add_argument(
        "--seconds", type=float, default=30, help="timing of each page in each round"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds: the floor, then every page, each time"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument(
        "--clients", type=int, default=None, help="requests at once; default 2 per worker"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed requests of each page by each client"
    )
    parser.add_argument(
        "--count-requests",
        type=int,
        default=3,
        help="requests through the test client when counting statements",
    )
    parser.add_argument("--directory-query", default="club", help="the word searched for")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/pg_server.py); "
        "DATABASE_URL set means a throwaway database on that server instead",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    args = parser.parse_args(argv)
    if args.contacts is None:
        args.contacts = 10 * args.referrals
    if args.measures is None:
        args.measures = 2 * args.referrals
    if args.clients is None:
        args.clients = 2 * args.workers
    if not 0 < args.small < args.referrals:
        parser.error("--small must be between 0 and --referrals")
    if args.navigators < 2:
        parser.error("--navigators must be at least 2")
    if args.workers < 1 or args.clients < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--workers, --clients, --rounds and --seconds must be positive")

    from caseload import _TMP, choose_backend

    # SIGTERM ends the run as Ctrl+C does: the finally blocks stop gunicorn and clean up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    stop = threading.Event()
    started = time.perf_counter()
    backend = None
    try:
        backend = choose_backend(args)
        ok = run(args, backend, stop)
    finally:
        stop.set()
        if backend is not None:
            backend.cleanup()
        shutil.rmtree(_TMP, ignore_errors=True)
    print(f"pages_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
