"""Flask extensions, created unbound; create_app() binds them to an app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def public_form_limit(form_name: str):
    """The limit on a public form: successful submissions per address, per form.

    Only a redirect (the form was accepted) counts, so someone correcting mistakes is
    never locked out; each public form has its own count.
    """
    from flask import current_app

    return limiter.limit(
        lambda: current_app.config["PUBLIC_FORM_RATE_LIMIT"],
        key_func=lambda: f"{form_name}:" + (get_remote_address() or ""),
        methods=["POST"],
        deduct_when=lambda response: response.status_code == 302,
    )
