"""Where a page's time goes: the pages of pages.py, one request at a time, split into SQL,
template rendering and the rest, with an optional cProfile of each.

pages.py answers "how fast, next to the floor"; this answers "why". It loads the same data
(dashboards.py's Seeder) into a SQLite file, which --db keeps so that the next run starts at
once, then requests each page through the test client and prints, per page, the median of:

- the whole request (`profile_<page>_ms`),
- the time the database took to answer its statements (`profile_<page>_sql_ms`),
- the time inside render_template, which includes the NHS.UK macros
  (`profile_<page>_render_ms`),
- the commit at the end of the request, such as the audit row of a record view
  (`profile_<page>_commit_ms`),
- and what is left: Flask, the login and session, the view's Python and the ORM turning
  rows into objects (`profile_<page>_other_ms`).

    .venv/bin/python benchmarks/profile_pages.py                 # 20,000, in a temporary file
    .venv/bin/python benchmarks/profile_pages.py --db /tmp/pages.db             # kept
    .venv/bin/python benchmarks/profile_pages.py --db /tmp/pages.db --page case --cprofile
    .venv/bin/python benchmarks/profile_pages.py --db /tmp/big.db --referrals 100000
    .venv/bin/python benchmarks/profile_pages.py --db /tmp/pages.db --no-kept-figures
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import before_render_template, template_rendered

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _folder in (ROOT, BENCH_DIR):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

PAGES = ("triage_queue", "caseload", "case", "directory", "dashboard", "shell")


class Clock:
    """Per request: the SQL, render and commit seconds, from engine and Flask signals."""

    def __init__(self) -> None:
        self.sql = self.render = self.commit = 0.0
        self._sql_started = self._render_started = self._commit_started = 0.0
        self._depth = 0

    def attach(self, app, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._before_sql)
        sa.event.listen(engine, "after_cursor_execute", self._after_sql)
        sa.event.listen(engine, "commit", self._before_commit)
        before_render_template.connect(self._before_render, app)
        template_rendered.connect(self._after_render, app)
        # The commit event fires before the DBAPI commit; the connection's "checkin"
        # after it is near enough for the end of the commit.
        sa.event.listen(engine.pool, "checkin", self._after_commit)

    def reset(self) -> None:
        self.sql = self.render = self.commit = 0.0
        self._commit_started = 0.0

    def _before_sql(self, *args) -> None:
        self._sql_started = time.perf_counter()

    def _after_sql(self, *args) -> None:
        self.sql += time.perf_counter() - self._sql_started

    def _before_render(self, sender, **extra) -> None:
        if self._depth == 0:
            self._render_started = time.perf_counter()
        self._depth += 1

    def _after_render(self, sender, **extra) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.render += time.perf_counter() - self._render_started

    def _before_commit(self, conn) -> None:
        self._commit_started = time.perf_counter()

    def _after_commit(self, *args) -> None:
        if self._commit_started:
            self.commit += time.perf_counter() - self._commit_started
            self._commit_started = 0.0


def build(db_path: Path, args: argparse.Namespace) -> None:
    """Loads the benchmark's data into a new SQLite file."""
    import caseload
    from caseload import Planner
    from dashboards import Seeder
    from pages import settle

    from portal.db_types import london_today, utcnow
    from portal.extensions import db

    app = caseload.make_app(f"sqlite:///{db_path}")
    timings: dict[str, float] = {}
    with app.app_context():
        planner = Planner(
            now=utcnow(),
            referrals=args.referrals,
            contacts=10 * args.referrals,
            open_cases=min(200, args.referrals // 50),
            other_navigators=25,
            small=args.referrals // 2,
        )
        seeder = Seeder(
            planner,
            volunteers=args.referrals // 20,
            measures=2 * args.referrals,
            today=london_today(),
        )
        seeder.reference_data()
        seeder.plan(args.referrals // 2)
        seeder.load("small")
        seeder.load("rest")
        settle(timings)
        db.session.remove()
        db.engine.dispose()
    print(f"# loaded {args.referrals} referrals into {db_path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite file, made if missing and kept; default: a temporary one, removed after",
    )
    parser.add_argument("--referrals", type=int, default=20_000, help="when making the file")
    parser.add_argument("-n", type=int, default=40, help="timed requests of each page")
    parser.add_argument("--cprofile", action="store_true", help="and a cProfile of each page")
    parser.add_argument("--top", type=int, default=30, help="functions in each profile")
    parser.add_argument(
        "--save-profile",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="with --cprofile: also save each profile as FOLDER/<page>.pstats, for pstats' "
        "print_callers",
    )
    parser.add_argument(
        "--no-component-cache",
        action="store_true",
        help="render the NHS.UK macros as the package ships them (portal/component_cache.py off)",
    )
    parser.add_argument(
        "--no-kept-figures",
        action="store_true",
        help="work the dashboard's figures out on every view (portal/dashboard/kept.py off)",
    )
    parser.add_argument(
        "--page", action="append", choices=PAGES, dest="pages", help="repeat; default: every page"
    )
    args = parser.parse_args(argv)
    if args.db is not None:
        return profile(args)
    with tempfile.TemporaryDirectory(prefix="portal-profile-") as folder:
        args.db = Path(folder) / "pages.db"
        return profile(args)


def profile(args: argparse.Namespace) -> int:
    import caseload
    import dashboards
    from caseload import COORDINATOR_EMAIL, NAVIGATOR_EMAIL
    from dashboards import COMMISSIONER_EMAIL
    from pages import SHELL_PATH, add_references, pick_case

    from portal import create_app
    from portal.extensions import db

    if not args.db.exists():
        build(args.db, args)
    app = create_app(
        "test",
        overrides={
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.db}",
            "TESTING": False,
            "NHSUK_COMPONENT_CACHE": not args.no_component_cache,
            "DASHBOARD_FIGURES_SECONDS": 0 if args.no_kept_figures else 300,
        },
    )

    # The page shell alone (base.html, empty) and the floor's table in it, as in pages.py.
    add_references(app)

    clock = Clock()
    with app.app_context():
        clock.attach(app, db.engine)
        from portal.auth.models import User

        navigator_id = db.session.scalar(sa.select(User.id).where(User.email == NAVIGATOR_EMAIL))
    case_id, _ = pick_case(app, navigator_id)
    paths = {
        "triage_queue": ("coordinator", "/hub"),
        "caseload": ("navigator", "/caseload"),
        "case": ("navigator", f"/cases/{case_id}"),
        "directory": ("public", "/directory?" + urlencode({"q": "club"})),
        "dashboard": ("commissioner", "/dashboard"),
        "shell": ("navigator", SHELL_PATH),
    }
    clients = {
        "coordinator": caseload.login(app, COORDINATOR_EMAIL),
        "navigator": caseload.login(app, NAVIGATOR_EMAIL),
        "commissioner": dashboards.login(app, COMMISSIONER_EMAIL),
        "public": app.test_client(),
    }
    for page in args.pages or PAGES:
        role, path = paths[page]
        client = clients[role]
        for _ in range(5):
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
        rows = []
        for _ in range(args.n):
            clock.reset()
            started = time.perf_counter()
            client.get(path)
            total = time.perf_counter() - started
            rows.append((total, clock.sql, clock.render, clock.commit))
        med = [statistics.median(col) * 1000 for col in zip(*rows, strict=True)]
        total, sql, render, commit = med
        print(f"profile_{page}_ms: {total:.1f}")
        print(f"profile_{page}_sql_ms: {sql:.1f}")
        print(f"profile_{page}_render_ms: {render:.1f}")
        print(f"profile_{page}_commit_ms: {commit:.1f}")
        print(f"profile_{page}_other_ms: {max(0.0, total - sql - render - commit):.1f}")
        if args.cprofile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.n):
                client.get(path)
            profiler.disable()
            if args.save_profile is not None:
                args.save_profile.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(args.save_profile / f"{page}.pstats")
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            print(f"# cProfile of {args.n} x GET {path} as {role}")
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
