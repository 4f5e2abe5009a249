"""The social prescribing portal. create_app() builds it; nothing runs at import time."""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any

from flask import Flask
from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, PackageLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import BASE_DIR, INSTANCE_DIR, ConfigError, config_for


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, connection_record) -> None:
    """Every SQLite connection: WAL, a busy timeout, foreign keys, and NORMAL sync.

    PostgreSQL connections get JIT compilation switched off: the dashboards' aggregates
    over a few hundred thousand rows spent longer compiling (100-200 ms a query) than
    the compiled code saved, and the portal's other queries are too small to gain."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.commit()
        return
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    config_class = config_for(config_name)
    config_class.validate()

    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(config_class)
    if os.environ.get("SECRET_KEY") and config_class.ENV_NAME != "test":
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if overrides:
        app.config.update(overrides)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    app.jinja_options = {
        **app.jinja_options,
        # The NHS.UK macros read optional parameters several levels deep.
        "undefined": ChainableUndefined,
        # Every template escapes, the NHS.UK macros (.jinja files) included: Flask's
        # default escapes only .html and friends, which would leave component text raw.
        "autoescape": True,
        "loader": ChoiceLoader(
            [FileSystemLoader(str(BASE_DIR / "templates")), PackageLoader("nhsuk_frontend_jinja")]
        ),
    }

    _init_extensions(app)
    _register_blueprints(app)

    from portal.templating import register_templating
    from portal.web import register_web

    register_web(app)
    register_templating(app)

    from portal.cli import register_cli

    register_cli(app)

    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    # PDF rendering narrates every step and glyph at INFO; only its problems belong in the log.
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return app


def _init_extensions(app: Flask) -> None:
    from portal.auth import ratelimit  # noqa: F401  (registers the portal-db:// storage)
    from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to see this page."
    login_manager.login_message_category = "info"
    # Sessions are bound to the session token; "strong" protection would also log
    # people out when a phone's address changes between mobile masts.
    login_manager.session_protection = "basic"

    import portal.models  # noqa: F401  (the whole schema on db.metadata)


def _register_blueprints(app: Flask) -> None:
    from portal.alerts.views import bp as alerts_bp
    from portal.audit.views import bp as audit_bp
    from portal.auth.views import bp as auth_bp
    from portal.cases.views import bp as cases_bp
    from portal.dashboard.views import bp as dashboard_bp
    from portal.directory.api import bp as oruk_bp
    from portal.directory.case_views import bp as case_activities_bp
    from portal.directory.hub_views import bp as directory_hub_bp
    from portal.directory.public_views import bp as directory_public_bp
    from portal.directory.views import bp as directory_bp
    from portal.governance.views import bp as governance_bp
    from portal.matching.views import bp as matching_bp
    from portal.pages import bp as pages_bp
    from portal.referrals.views import bp as referrals_bp
    from portal.reports.views import bp as reports_bp
    from portal.volunteers.hub_views import bp as volunteer_hub_bp
    from portal.volunteers.signup_views import bp as volunteer_signup_bp
    from portal.volunteers.views import bp as volunteers_bp

    for bp in (
        pages_bp,
        auth_bp,
        referrals_bp,
        cases_bp,
        alerts_bp,
        volunteers_bp,
        volunteer_hub_bp,
        volunteer_signup_bp,
        directory_bp,
        directory_public_bp,
        directory_hub_bp,
        case_activities_bp,
        oruk_bp,
        matching_bp,
        reports_bp,
        dashboard_bp,
        audit_bp,
        governance_bp,
    ):
        app.register_blueprint(bp)


__all__ = ["ConfigError", "create_app"]
