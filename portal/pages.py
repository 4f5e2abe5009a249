"""Public pages: the front door, accessibility and privacy statements, and a health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from portal.extensions import db
from portal.web import render

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    return render("pages/index.html")


@bp.route("/accessibility")
def accessibility():
    return render("pages/accessibility.html")


@bp.route("/privacy")
def privacy():
    return render("pages/privacy.html")


@bp.route("/healthz")
def healthz():
    """For load balancers: 200 when the database answers."""
    db.session.execute(sa.select(1))
    return {"status": "ok"}
