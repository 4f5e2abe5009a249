"""Fixtures: the app on SQLite and on a real PostgreSQL, a client, one user per role, factories.

Every test that uses `app` runs twice: once per database backend.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from portal import create_app
from portal.auth.models import Role
from portal.extensions import db as _db
from tests import factories
from tests.audit_guard import audit_guard_lifted
from tests.pg_server import PostgresServer, started_for_tests

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server():
    server = started_for_tests(PostgresServer())
    yield server
    server.stop()


class FreshContextClient(FlaskClient):
    """Each request gets its own application context, as it does in production.

    Tests keep an app context pushed for factories; without this, every request
    would reuse it and share `g` (Flask-Login's cached user) and one database
    session across requests, which no real worker does.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _migrated_app(url: str):
    from flask_migrate import upgrade

    app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": url})
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def _apps(tmp_path_factory):
    """One migrated app per backend, made on first use and kept for the session."""
    made: dict[str, object] = {}
    yield made
    for app in made.values():
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(backend, _apps, request, tmp_path_factory):
    if backend not in _apps:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("sqlite") / "portal.db"
            url = f"sqlite:///{path}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = server.create_database("portal_test")
        _apps[backend] = _migrated_app(url)
    app = _apps[backend]
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        _db.session.remove()
        _empty_tables()
        ctx.pop()


def _empty_tables() -> None:
    # Emptied tables reuse ids, so a kept matching pool could look current: forget them,
    # and the kept dashboard figures, as a freshly started worker would have none.
    from portal.dashboard.kept import forget_figures
    from portal.matching.pools import forget_pools

    forget_pools()
    forget_figures()
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn, audit_guard_lifted(conn):
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # users <-> organisations reference each other; check the keys at commit.
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    return factories.make_user


def _login(client, user, password: str = factories.PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, "test login failed"
    return client


@pytest.fixture
def login(client):
    return lambda user, password=factories.PASSWORD: _login(client, user, password)


# One fixture per role, and a logged-in client for each.
def _role_fixture(role: Role):
    @pytest.fixture
    def user_fixture(app):
        return factories.make_user(role)

    return user_fixture


def _logged_in_fixture(role_name: str):
    @pytest.fixture
    def logged_in(client, request):
        user = request.getfixturevalue(role_name)
        return _login(client, user)

    return logged_in


for _role in Role:
    globals()[_role.value] = _role_fixture(_role)
    globals()[f"logged_in_{_role.value}"] = _logged_in_fixture(_role.value)


@pytest.fixture
def csrf_app(app):
    """The app with CSRF protection switched on, for the tests that check it."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture(scope="session")
def instance_tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="portal-instance-"))


class _Mailbox:
    """What the test SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback (aiosmtpd); the app is pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    old = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_BACKEND")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_BACKEND="smtp")
    yield mailbox
    controller.stop()
    app.config.update(old)


@pytest.fixture
def components_match_their_macros(app):
    """Every page the test renders is identical with and without the NHS.UK component
    cache (tests/component_check.py); modules that render many pages use it."""
    from tests.component_check import ComponentCheck

    with ComponentCheck(app) as check:
        yield check
    assert not check.differences, "\n".join(check.differences[:5])
