"""Faults: the database restarts mid-load, SQLite goes read-only or fills up, SMTP is down.

Real servers throughout, no mocks: a PostgreSQL cluster of this test's own that is stopped
and started under load, the portal served over loopback, SQLite files on disk, and the
aiosmtpd server from conftest with the portal pointed at a closed port while it is "down".
"""

from __future__ import annotations

import gc
import html
import re
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.audit.models import AuditEvent
from portal.auth.models import Role, User
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralReasonLink,
    ReferralStatus,
    Resident,
    Route,
)
from portal.referrals.workflow import Actor
from portal.reports.delivery import run_due
from portal.reports.models import DeliveryStatus, OutcomeReport
from portal.volunteers.profile import TRANSPORT
from tests import factories
from tests.faults_support import Browser, Reply, live_server
from tests.pg_server import PostgresServer, started_for_tests
from tests.referrals.test_referral_form import gp_form

FRIENDLY_503 = "Sorry, the service is unavailable"
# What must never reach a person's screen, whatever broke.
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlite3", "127.0.0.1", "SELECT", "INSERT")
REASONS = ["loneliness", "low_mood"]


def referral_form(practice_id: int, seed: int, marker: str) -> dict:
    """A complete GP referral as the practice's form posts it; `marker` goes in the details."""
    return gp_form(
        practice_id,
        nhs_number=factories.valid_nhs_number(seed),
        family_name=f"Okafor{seed}",
        details=marker,
    )


def friendly_503_problem(reply: Reply) -> str | None:
    """Why `reply` is not the calm "try again" page; None when it is."""
    if reply.status != 503:
        return f"status {reply.status}"
    if FRIENDLY_503 not in reply.body:
        return "no friendly message"
    leaked = [word for word in LEAKS if word in reply.body]
    if leaked:
        return f"leaks {leaked}"
    if "retry-after" not in reply.headers:
        return "no Retry-After header"
    return None


_LOCATION = re.compile(r"/practice/referrals/(\d+)$")


@dataclass
class Submission:
    worker: int
    marker: str
    reply: Reply

    @property
    def referral_id(self) -> int | None:
        if self.reply.status != 302:
            return None
        match = _LOCATION.search(self.reply.headers.get("location", ""))
        return int(match.group(1)) if match else None


def whole_referral_problems(referral_ids_by_marker: dict[str, int]) -> list[str]:
    """Every referral in the database whole, and each exactly the one a success reported.

    `referral_ids_by_marker`: the referral each success response pointed at, by the
    marker its form carried in the details.
    """
    problems: list[str] = []
    referrals = db.session.scalars(sa.select(Referral)).all()
    seen: dict[str, int] = {}
    for referral in referrals:
        marker = referral.details or ""
        if marker in seen:
            problems.append(f"{marker!r} saved twice ({seen[marker]} and {referral.id})")
        seen[marker] = referral.id
        if referral_ids_by_marker.get(marker) != referral.id:
            problems.append(f"referral {referral.id} ({marker!r}) has no success response")
        if referral.resident is None:
            problems.append(f"referral {referral.id} has no resident")
        reasons = sorted(r.value for r in referral.reason_codes)
        if reasons != sorted(REASONS):
            problems.append(f"referral {referral.id} has reasons {reasons}")
        received = [e for e in referral.events if e.action == ReferralAction.RECEIVED]
        if len(received) != 1 or received[0].version is None:
            problems.append(f"referral {referral.id} history: {[e.action for e in received]}")
        audits = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "created",
                AuditEvent.object_type == "referral",
                AuditEvent.object_id == str(referral.id),
            )
        )
        if audits != 1:
            problems.append(f"referral {referral.id} has {audits} 'created' audit rows")
    for marker, referral_id in referral_ids_by_marker.items():
        if seen.get(marker) != referral_id:
            problems.append(f"success for {marker!r} (referral {referral_id}) is not in the db")
    orphans = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Resident)
        .where(~sa.exists().where(Referral.resident_id == Resident.id))
    )
    if orphans:
        problems.append(f"{orphans} residents saved without their referral")
    loose = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ReferralEvent)
        .where(~sa.exists().where(Referral.id == ReferralEvent.referral_id))
    ) + db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ReferralReasonLink)
        .where(~sa.exists().where(Referral.id == ReferralReasonLink.referral_id))
    )
    if loose:
        problems.append(f"{loose} history or reason rows without their referral")
    return problems


# --- PostgreSQL restarted under load ----------------------------------------------------------


@pytest.fixture
def own_postgres():
    """A cluster for this test alone: restarting the shared one would break other tests."""
    server = started_for_tests(PostgresServer())
    yield server
    server.stop()


def _handled_errors_app(url: str):
    """The test app, but an error is handled as in production (the 500 page), never raised
    out of the app into the test: what a person would see is what the test sees."""
    return create_app(
        "test", overrides={"SQLALCHEMY_DATABASE_URI": url, "PROPAGATE_EXCEPTIONS": False}
    )


def _migrated_app(url: str):
    from flask_migrate import upgrade

    app = _handled_errors_app(url)
    with app.app_context():
        upgrade()
    return app


class PracticeUsers:
    """Practice users, each in their own browser, sending referrals through the real form."""

    def __init__(self, base_url: str, people: list[tuple[str, int]]):
        self.people = people
        self.browsers = [Browser(base_url) for _ in people]
        self.submissions: list[Submission] = []
        self._lock = threading.Lock()
        self._sent = [0] * len(people)
        for browser, (email, _) in zip(self.browsers, people, strict=True):
            login = browser.post("/login", {"email": email, "password": factories.PASSWORD})
            assert login.status == 302, login.body[:500]

    def submit(self, worker: int) -> Submission:
        self._sent[worker] += 1
        n = self._sent[worker]
        marker = f"fault-load {worker}-{n}"
        form = referral_form(self.people[worker][1], worker * 10_000 + n, marker)
        submission = Submission(worker, marker, self.browsers[worker].post("/referrals/new", form))
        with self._lock:
            self.submissions.append(submission)
        return submission

    def in_threads(self, work) -> None:
        """Run work(worker) in one thread per user; fail on anything a thread raised."""
        errors: list[BaseException] = []

        def run(worker: int) -> None:
            try:
                work(worker)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(len(self.people))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a browser thread did not finish"
        assert errors == []


@pytest.fixture
def postgres_app(own_postgres):
    """The portal, migrated, on the test's own PostgreSQL; its connections closed after."""
    app = _migrated_app(own_postgres.create_database("faults"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    # Anything dropped without being closed is reported now, against this test.
    gc.collect()


def test_a_connection_dropped_after_the_last_query_still_gets_its_answer(own_postgres):
    """The database ends the connection between a request's last query and its closing
    ROLLBACK (as a restart does): the page that was made still goes out, and the next
    request gets a fresh connection. Found once in a CI run of the restart test below."""
    url = own_postgres.create_database("dropped")
    app = _handled_errors_app(url)

    def dropped_after_reading():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        return "read before the connection went"

    app.add_url_rule("/drop-after-reading", "drop_after_reading", dropped_after_reading)
    client = app.test_client()
    for _ in range(3):
        answer = client.get("/drop-after-reading")
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        assert answer.get_data(as_text=True) == "read before the connection went"
    with app.app_context():
        db.engine.dispose()


def test_postgresql_restart_mid_load_fails_cleanly_and_recovers(own_postgres, postgres_app):
    app = postgres_app
    workers = 4
    with app.app_context():
        users = [factories.make_user(Role.PRACTICE_USER) for _ in range(workers + 1)]
        people = [(u.email, u.practice_id) for u in users[:workers]]
        arriving = users[workers].email
        db.session.remove()

    with live_server(app) as base_url:
        load = PracticeUsers(base_url, people)
        stop = threading.Event()
        warmed = threading.Barrier(workers + 1)

        def keep_referring(worker: int) -> None:
            try:
                for _ in range(3):
                    load.submit(worker)
                warmed.wait(timeout=60)
                while not stop.is_set():
                    load.submit(worker)
                    time.sleep(0.05)
            except BaseException:
                warmed.abort()
                raise

        def restart_under_load() -> tuple[float, float]:
            try:
                warmed.wait(timeout=60)
                down_at = time.monotonic()
                own_postgres.halt()
                time.sleep(1.5)
                own_postgres.resume()
                up_at = time.monotonic()
                time.sleep(3)
                return down_at, up_at
            finally:
                stop.set()

        logins: list[Reply] = []

        def keep_logging_in() -> None:
            # Someone arriving at work and logging in, again and again, in a new browser.
            while not stop.is_set():
                form = {"email": arriving, "password": factories.PASSWORD}
                logins.append(Browser(base_url).post("/login", form))
                time.sleep(0.05)

        times: list[tuple[float, float]] = []
        side_errors: list[BaseException] = []

        def side(work):
            def run() -> None:
                try:
                    work()
                except BaseException as exc:  # reported below
                    side_errors.append(exc)
                    stop.set()

            return threading.Thread(target=run)

        others = [side(lambda: times.append(restart_under_load())), side(keep_logging_in)]
        for t in others:
            t.start()
        load.in_threads(keep_referring)
        for t in others:
            t.join(timeout=120)
        assert side_errors == []
        assert times, "the restart did not complete"
        ((down_at, up_at),) = times
        during = [s for s in load.submissions if down_at <= s.reply.started < up_at]
        after = [s for s in load.submissions if s.reply.started >= up_at]

        # A second restart while nobody is using the portal (a quiet night): the pool
        # still holds connections to the old server, none of which has failed yet.
        own_postgres.halt()
        own_postgres.resume()
        quiet_start = len(load.submissions)
        load.in_threads(load.submit)
        after_quiet = load.submissions[quiet_start:]

    submissions = load.submissions
    # The outage was really met: requests were turned away while the server was down...
    assert [s for s in during if s.reply.status != 302], "no request met the outage"
    # ...and every reply, then or at any time, was a success or the calm 503 page.
    bad = [
        (s.marker, s.reply.status, friendly_503_problem(s.reply), s.reply.body[:300])
        for s in submissions
        if s.reply.status != 302 and friendly_503_problem(s.reply) is not None
    ]
    assert bad == []
    bad_logins = [
        (r.status, friendly_503_problem(r), r.body[:300])
        for r in logins
        if r.status != 302 and friendly_503_problem(r) is not None
    ]
    assert bad_logins == []
    # Every request made once PostgreSQL accepted connections again succeeded...
    assert len(after) >= workers
    assert [(s.marker, s.reply.status) for s in after if s.reply.status != 302] == []
    assert [r.status for r in logins if r.started >= up_at and r.status != 302] == []
    # ...and after the quiet restart too: the pool checks a connection before handing it
    # out (pool_pre_ping), rather than failing the first person of the morning.
    assert [(s.marker, s.reply.status) for s in after_quiet if s.reply.status != 302] == []

    successes = {s.marker: s.referral_id for s in submissions if s.reply.status == 302}
    assert None not in successes.values()
    with app.app_context():
        assert whole_referral_problems(successes) == []


# --- SQLite: read-only, and full -------------------------------------------------------------


def _sqlite_file(path) -> sqlite3.Connection:
    """A plain connection to the file, outside the app, to inspect it."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def snapshot(path) -> dict[str, list]:
    """Every row of every table, in order: to show that nothing changed."""
    with closing(_sqlite_file(path)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        # Names read from sqlite_master, not from anyone's input.
        select = 'SELECT * FROM "{}" ORDER BY 1'
        return {t: conn.execute(select.format(t)).fetchall() for t in tables}


def integrity(path) -> tuple[list, list]:
    """SQLite's own verdict on the file, and any row pointing at a row that is not there."""
    with closing(_sqlite_file(path)) as conn:
        return (
            conn.execute("PRAGMA integrity_check").fetchall(),
            conn.execute("PRAGMA foreign_key_check").fetchall(),
        )


@dataclass
class SqliteSite:
    path: object
    app: object
    practice_id: int
    email: str
    practice_name: str
    activity_title: str
    others: list = field(default_factory=list)

    def browser(self):
        """A logged-in practice user's browser (the test client keeps the cookie)."""
        client = self.app.test_client()
        login = client.post("/login", data={"email": self.email, "password": factories.PASSWORD})
        assert login.status_code == 302
        return client

    def reopened(self, url: str):
        """The portal started again on the same file through `url`; closed at teardown."""
        app = _handled_errors_app(url)
        self.others.append(app)
        return app

    def close(self) -> None:
        for app in (self.app, *self.others):
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@contextmanager
def database_errors(app) -> Iterator[list[str]]:
    """What the database driver said each time it refused something, while inside."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(context) -> None:
        seen.append(str(context.original_exception))

    sa.event.listen(engine, "handle_error", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "handle_error", record)


@pytest.fixture
def sqlite_site(tmp_path):
    """The portal on a SQLite file of its own, with a practice user and a public activity."""
    from flask_migrate import upgrade

    path = tmp_path / "portal.db"
    app = _handled_errors_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        user = factories.make_user(Role.PRACTICE_USER)
        activity = factories.make_activity(title="Tuesday walk in the park")
        site = SqliteSite(
            path=path,
            app=app,
            practice_id=user.practice_id,
            email=user.email,
            practice_name=user.practice.name,
            activity_title=activity.title,
        )
        db.session.remove()
    yield site
    site.close()


def _reply(response) -> Reply:
    return Reply(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=response.get_data(as_text=True),
        started=0,
        ended=0,
    )


def _saved_referrals(app) -> dict[str, int]:
    with app.app_context():
        found = dict(db.session.execute(sa.select(Referral.details, Referral.id)).all())
        db.session.remove()
        return found


def test_sqlite_read_only_refuses_writes_clearly_keeps_reads_and_corrupts_nothing(
    sqlite_site,
):
    """The database file becomes read-only (a mount remounted read-only after a disk error,
    a restore with the wrong owner) and the portal is restarted onto it.

    Simulated with SQLite's `mode=ro`: the connection then behaves exactly as one SQLite
    opens on a file it cannot write (it falls back to read-only and every write fails with
    SQLITE_READONLY). `chmod 0444` would not do: root (as in CI) ignores file permissions,
    and connections opened before the change keep writing through their open handles.
    """
    site = sqlite_site
    writer = site.browser()
    first = writer.post(
        "/referrals/new", data=referral_form(site.practice_id, 1, "before read-only")
    )
    assert first.status_code == 302
    with site.app.app_context():
        db.engine.dispose()
    before = snapshot(site.path)

    read_only = site.reopened(f"sqlite:///file:{site.path}?mode=ro&uri=true")
    browser = read_only.test_client()
    browser.set_cookie("portal_session", writer.get_cookie("portal_session").value)

    # Writes: a clear "try again later" page, never a server error.
    with database_errors(read_only) as refused:
        writes = {
            "practice referral": browser.post(
                "/referrals/new", data=referral_form(site.practice_id, 2, "while read-only")
            ),
            "self-referral": read_only.test_client().post(
                "/refer-yourself", data=referral_form(site.practice_id, 3, "self, read-only")
            ),
            "login": read_only.test_client().post(
                "/login", data={"email": site.email, "password": factories.PASSWORD}
            ),
        }
    # Refused by SQLite for the reason simulated, not by something else.
    assert refused and all("readonly database" in e for e in refused), refused
    assert {name: friendly_503_problem(_reply(r)) for name, r in writes.items()} == dict.fromkeys(
        writes
    )

    # Reads that write nothing still work, and show what is in the database.
    assert read_only.test_client().get("/healthz").status_code == 200
    directory = read_only.test_client().get("/directory")
    assert directory.status_code == 200
    assert site.activity_title in directory.get_data(as_text=True)
    form = read_only.test_client().get("/refer-yourself")
    assert form.status_code == 200
    assert site.practice_name in form.get_data(as_text=True)
    # A page of personal records is only shown once its view is in the audit trail
    # (every view writes an audit row), so on a read-only database it too says
    # "try again later" rather than showing records unaudited, or failing with a 500.
    records = browser.get("/practice/referrals")
    assert friendly_503_problem(_reply(records)) is None

    with read_only.app_context():
        db.engine.dispose()
    assert integrity(site.path) == ([("ok",)], [])
    assert snapshot(site.path) == before

    # Writable again (the mount is fixed, the portal restarted): the same form is saved.
    again = site.browser().post(
        "/referrals/new", data=referral_form(site.practice_id, 2, "while read-only")
    )
    assert again.status_code == 302
    assert set(_saved_referrals(site.app)) == {"before read-only", "while read-only"}


def test_sqlite_disk_full_refuses_the_write_clearly_saves_nothing_and_recovers(sqlite_site):
    """The disk fills up: SQLite cannot grow the file, and says SQLITE_FULL.

    Simulated with `PRAGMA max_page_count` on every connection the portal checks out (a
    tmpfs of fixed size needs root to mount): the file may not grow by a single page, as on
    a full disk. A referral with long details needs new pages, so it cannot be saved.
    """
    site = sqlite_site
    browser = site.browser()
    app = site.app
    limit: dict[str, int | None] = {"pages": None}
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")  # no free pages left for a write to reuse
            unlimited = conn.exec_driver_sql("PRAGMA max_page_count").scalar()

    @sa.event.listens_for(engine, "checkout")
    def _disk_size(dbapi_connection, record, proxy) -> None:
        pages = limit["pages"] or unlimited
        dbapi_connection.execute(f"PRAGMA max_page_count = {int(pages)}")

    long_details = "full disk " + "x" * 4900
    try:
        before = snapshot(site.path)
        with closing(_sqlite_file(site.path)) as conn:
            limit["pages"] = conn.execute("PRAGMA page_count").fetchone()[0]

        with database_errors(app) as refused:
            full = browser.post(
                "/referrals/new", data=referral_form(site.practice_id, 1, long_details)
            )
        assert friendly_503_problem(_reply(full)) is None
        assert refused == ["database or disk is full"]
        # The page is for a person: it says what to do and that nothing was half-saved.
        assert "Please try again" in full.get_data(as_text=True)

        with app.app_context():
            db.engine.dispose()
        assert integrity(site.path) == ([("ok",)], [])
        assert snapshot(site.path) == before

        # Space is freed: the same form is saved, whole.
        limit["pages"] = None
        again = browser.post(
            "/referrals/new", data=referral_form(site.practice_id, 1, long_details)
        )
        assert again.status_code == 302
        saved = _saved_referrals(app)
        assert list(saved) == [long_details]
        with app.app_context():
            (referral_id,) = saved.values()
            assert whole_referral_problems({long_details: referral_id}) == []
            db.session.remove()
        assert integrity(site.path) == ([("ok",)], [])
    finally:
        sa.event.remove(engine, "checkout", _disk_size)


# --- SMTP down, under load -------------------------------------------------------------------


def page_text(html_page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", html_page)))


@contextmanager
def smtp_down(app) -> Iterator[None]:
    """The mail server stops answering: the portal's MAIL_PORT is a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = closed
    try:
        yield
    finally:
        app.config["MAIL_PORT"] = port


def all_at_once(calls: list) -> list:
    """Run each call in its own thread, released together; what each returned, in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except BaseException as exc:  # reported below
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert errors == []
    db.session.expire_all()
    return results


def signed_in(app, user):
    client = app.test_client()
    login = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert login.status_code == 302
    return client


def server_errors(responses) -> list:
    return [(r.request.path, r.status_code) for r in responses if r.status_code >= 500]


LOAD = 6


def test_smtp_down_under_load_activity_referrals_are_saved_and_say_the_email_failed(
    app, smtp_server
):
    organisation = factories.make_organisation(email="hello@friends.example")
    member = factories.make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    activity_id = factories.make_activity(organisation, title="Tuesday walk").id
    cases = []
    for _ in range(LOAD + 1):
        navigator = factories.make_user(Role.NAVIGATOR)
        referral = factories.make_referral(
            status=ReferralStatus.ASSIGNED,
            navigator_id=navigator.id,
            route=Route.SOCIAL_NAVIGATION,
            support_level=1,
            triaged_at=utcnow() - timedelta(days=2),
            assigned_at=utcnow() - timedelta(days=2),
        )
        cases.append((signed_in(app, navigator), referral.id))

    def refer(browser, referral_id):
        url = f"/cases/{referral_id}/activities/{activity_id}/refer"
        response = browser.post(url, data={"consent": "y", "share_phone": "y"})
        shown = browser.get(response.headers["Location"]) if response.status_code == 302 else None
        return response, shown

    with smtp_down(app):
        results = all_at_once([lambda b=b, r=r: refer(b, r) for b, r in cases[:LOAD]])

    assert server_errors(r for r, _ in results) == []
    assert [r.status_code for r, _ in results] == [302] * LOAD
    for _, shown in results:
        assert shown.status_code == 200
        # Told plainly: saved, the email did not go, and how the organisation will know.
        assert (
            "The referral is saved, but the email telling the organisation did not send. "
            "They will still see it when they log in." in page_text(shown.get_data(as_text=True))
        )
    # Each saved once, as sent, and the organisation sees each in its list.
    links = db.session.scalars(sa.select(ActivityReferral)).all()
    assert sorted(link.referral_id for link in links) == sorted(r for _, r in cases[:LOAD])
    assert {link.status for link in links} == {ActivityReferralStatus.SENT}
    incoming = signed_in(app, member).get("/organisation/referrals")
    assert incoming.status_code == 200
    assert page_text(incoming.get_data(as_text=True)).count("Tuesday walk") >= LOAD
    assert smtp_server.messages == []

    # The mail server is back: nothing saved up is sent late or twice; a new referral
    # sends its own two emails (the member and the organisation's inbox) and no more.
    browser, referral_id = cases[LOAD]
    response, _ = refer(browser, referral_id)
    assert response.status_code == 302
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [member.email, "hello@friends.example"]
    )


def test_smtp_down_under_load_outcome_reports_wait_then_go_once_when_it_is_back(
    app, smtp_server, coordinator
):
    hub = Actor.of(coordinator)
    navigator = factories.make_user(Role.NAVIGATOR)
    practices = []
    for n in range(LOAD):
        practice = factories.make_practice(report_mailbox=f"reports.{n}@nhs.example")
        referral = factories.make_referral(
            practice=practice,
            status=ReferralStatus.ACTIVE,
            navigator_id=navigator.id,
            route=Route.SOCIAL_NAVIGATION,
            support_level=2,
            received_at=utcnow() - timedelta(days=20),
            first_contact_at=utcnow() - timedelta(days=19),
            triaged_at=utcnow() - timedelta(days=19),
            assigned_at=utcnow() - timedelta(days=10),
        )
        workflow.close(referral, hub, ClosureReason.MOVED_AWAY)
        db.session.commit()
        practices.append(practice)
    admins = [signed_in(app, factories.make_user(Role.ADMIN)) for _ in practices]
    mailboxes = Counter(p.report_mailbox for p in practices)
    practice_ids = [p.id for p in practices]

    def send_now(browser, practice_id):
        response = browser.post(f"/admin/reports/practices/{practice_id}/send")
        shown = browser.get(response.headers["Location"]) if response.status_code == 302 else None
        return response, shown

    with smtp_down(app):
        results = all_at_once(
            [lambda b=b, p=p: send_now(b, p) for b, p in zip(admins, practice_ids, strict=True)]
        )

    assert server_errors(r for r, _ in results) == []
    assert [r.status_code for r, _ in results] == [302] * LOAD
    for _, shown in results:
        words = page_text(shown.get_data(as_text=True))
        assert "The report about 1 person was not sent: The mail server did not take" in words
    reports = db.session.scalars(sa.select(OutcomeReport).order_by(OutcomeReport.id)).all()
    # Each practice's report is claimed once and kept, waiting to be tried again.
    assert sorted(r.practice_id for r in reports) == sorted(practice_ids)
    assert {(r.status, r.attempts) for r in reports} == {(DeliveryStatus.RETRYING, 1)}
    assert smtp_server.messages == []

    # The mail server is back; two scheduler runs at once, then more later: each practice
    # gets its report once.
    later = utcnow() + timedelta(minutes=app.config["REPORT_RETRY_MINUTES"] + 1)

    def scheduler_run(now):
        with app.test_request_context():
            try:
                return run_due(now)
            finally:
                db.session.remove()

    all_at_once([lambda: scheduler_run(later), lambda: scheduler_run(later)])
    scheduler_run(later + timedelta(hours=1))
    assert Counter(m["To"] for m in smtp_server.messages) == mailboxes
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(sa.select(OutcomeReport))} == {DeliveryStatus.SENT}


def volunteer_application(n: int) -> dict:
    return {
        "full_name": f"Alex Morgan{n}",
        "email": f"alex.morgan{n}@example.com",
        "phone": "07700 900 982",
        "postcode": "cv1 2ab",
        "languages": "English",
        "availability": ["mon_morning"],
        "transport": TRANSPORT[1],
        "roles": ["buddy"],
        "interests": ["walking"],
        "referee_1_name": "Jo Smith",
        "referee_1_contact": "01632 960 002",
        "referee_2_name": "Sam Patel",
        "referee_2_contact": "07700 900 123",
        "motivation": "I retired last year and would like to help people near me.",
        "consent": "y",
        "website": "",
    }


def organisation_registration(n: int) -> dict:
    return {
        "name": f"Friends of Park {n}",
        "charity_number": f"11234{n:02d}",
        "company_number": "",
        "description": "We look after the park and run walks.",
        "email": f"hello{n}@friends.example",
        "phone": "024 7600 1234",
        "web_address": "https://friends.example",
        "address": "1 Park Lane\nCoventry",
        "postcode": "cv3 6pt",
        "contact_name": f"Pat Parker{n}",
        "contact_email": f"pat{n}@friends.example",
        "agree": "y",
        "website": "",
    }


def test_smtp_down_under_load_public_sign_ups_are_saved_and_not_told_an_email_was_sent(
    app, smtp_server
):
    """Volunteers and organisations sign up while the mail server is down.

    Each is saved (a coordinator can send the link again), and the thank-you page must
    not tell the person an email with their link is on its way when none was sent.
    """

    def apply(path: str, form: dict, n: int):
        # Each person on their own address, as the public form limits per address.
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        response = browser.post(path, data=form)
        shown = browser.get(response.headers["Location"]) if response.status_code == 302 else None
        return response, shown

    half = LOAD // 2
    calls = [lambda n=n: apply("/volunteer", volunteer_application(n), n) for n in range(half)] + [
        lambda n=n: apply("/organisations/register", organisation_registration(n), half + n)
        for n in range(half)
    ]
    with smtp_down(app):
        results = all_at_once(calls)

    assert server_errors(r for r, _ in results) == []
    assert [r.status_code for r, _ in results] == [302] * LOAD
    # Saved, once each.
    volunteers = db.session.scalars(sa.select(User.email).where(User.role == Role.VOLUNTEER))
    members = db.session.scalars(sa.select(User.email).where(User.role == Role.ORGANISATION_MEMBER))
    assert sorted(volunteers) == sorted(f"alex.morgan{n}@example.com" for n in range(half))
    assert sorted(members) == sorted(f"pat{n}@friends.example" for n in range(half))
    assert smtp_server.messages == []
    # What each person is told.
    claims = {}
    for response, shown in results:
        words = page_text(shown.get_data(as_text=True))
        assert app.config["HUB_PHONE"] in words
        said = [p for p in ("We have sent you an email", "We have emailed a link") if p in words]
        if said:
            claims[response.request.path] = said
    assert claims == {}, "told an email was sent when the mail server was down"
