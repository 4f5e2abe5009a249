"""What every template can use: the navigation for the current role, and display filters."""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import PackageLoader
from markupsafe import Markup

from portal import component_cache
from portal.auth.models import Role
from portal.measures.charts import sparkline
from portal.volunteers.training import expiry_date
from portal.volunteers.vetting import mask_certificate

LONDON = ZoneInfo("Europe/London")

# (label, endpoint) per role, in the order they appear in the header.
NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.ADMIN: [
        ("Users", "auth.users"),
        ("Triage queue", "referrals.hub"),
        ("INT referrals", "referrals.int_list"),
        ("Caseloads", "cases.caseload"),
        ("Volunteers", "volunteer_hub.board"),
        ("Training courses", "volunteer_hub.training_modules"),
        ("Organisations", "directory_hub.organisations_list"),
        ("Matching", "matching.weights"),
        ("Outcome reports", "reports.admin_overview"),
        ("Dashboard", "dashboard.hub"),
        ("Audit trail", "audit.trail"),
        ("Subject access", "governance.subject_access"),
    ],
    Role.COORDINATOR: [
        ("Dashboard", "dashboard.hub"),
        ("Triage queue", "referrals.hub"),
        ("Caseloads", "cases.caseload"),
        ("INT referrals", "referrals.int_list"),
        ("Volunteers", "volunteer_hub.board"),
        ("Waiting for a buddy", "matching.batch"),
        ("Organisations", "directory_hub.organisations_list"),
        ("Add a referral", "referrals.new_referral"),
        ("Alerts", "alerts.inbox"),
    ],
    Role.NAVIGATOR: [
        ("My caseload", "cases.caseload"),
        ("Activities", "directory_public.directory"),
        ("Alerts", "alerts.inbox"),
    ],
    Role.VOLUNTEER: [
        ("My volunteering", "volunteers.me"),
        ("Log hours", "volunteers.hours"),
        ("My details", "volunteers.profile"),
    ],
    Role.ORGANISATION_MEMBER: [
        ("My organisation", "directory.my_organisation"),
        ("Referrals to us", "directory.incoming_referrals"),
    ],
    Role.PRACTICE_USER: [
        ("Our referrals", "referrals.practice_referrals"),
        ("Refer someone", "referrals.new_referral"),
        ("Outcome reports", "reports.inbox"),
    ],
    Role.COMMISSIONER: [("Dashboard", "dashboard.overview")],
}


def navigation_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    items = []
    for label, endpoint in NAVIGATION[current_user.role]:
        href = url_for(endpoint)
        if endpoint == "alerts.inbox":
            # Counted only for the roles that get alerts: one indexed count per page.
            from portal.alerts.service import unread_count

            unread = unread_count(current_user.id)
            label = f"Alerts ({unread} unread)" if unread else label
        elif endpoint == "reports.inbox":
            from portal.reports.views import unread_count as unread_reports

            unread = unread_reports(current_user.practice_id)
            label = f"Outcome reports ({unread} new)" if unread else label
        items.append({"text": label, "href": href, "current": request.path == href})
    return items


def format_nhs_number(value: str | None) -> str:
    """943 476 5919: the way NHS numbers are written for people to read."""
    if not value:
        return ""
    return f"{value[:3]} {value[3:6]} {value[6:]}"


def mask_nhs_number(value: str | None) -> str:
    """Lists show only the last four digits."""
    if not value:
        return ""
    return f"*** *** {value[6:]}"


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return _date_text(value)


@functools.lru_cache(maxsize=4096)
def _date_text(value: date) -> str:
    # A caseload page writes about 150 dates, most of them the same few hundred days; the
    # text of a day never changes, so each worker formats each day once.
    return f"{value.day} {value:%B %Y}"


def format_iso_date(value: str | None) -> str:
    """A date kept as text (in a report's stored summaries), shown like any other date."""
    return format_date(date.fromisoformat(value)) if value else ""


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def htmx_config() -> str:
    """htmx settings that keep it inside the CSP and away from personal data in history."""
    return json.dumps(
        {
            "selfRequestsOnly": True,
            "allowEval": False,
            "allowScriptTags": False,
            "includeIndicatorStyles": False,
            "historyCacheSize": 0,
            "refreshOnHistoryMiss": True,
            # A form sent back with its errors (400 or 422), or a save refused because
            # someone else saved first (409), is swapped in like a success so the
            # messages show.
            "responseHandling": [
                {"code": "204", "swap": False},
                {"code": "[23]..", "swap": True},
                {"code": "40[09]", "swap": True, "error": False},
                {"code": "422", "swap": True, "error": False},
                {"code": "[45]..", "swap": False, "error": True},
            ],
        }
    )


def format_score(value: float | None) -> str:
    """Whole scores as whole numbers; SWEMWBS metric scores to two places, as published."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


_DRAFT_KEY = re.compile(r"^(contact|contact-edit|goal|close)-\d{1,10}$")


def draft_saved() -> str | None:
    """The draft a redirect after a save says is now safe to forget (see static/js/drafts.js)."""
    key = request.args.get("saved", "")
    if not _DRAFT_KEY.match(key) or not current_user.is_authenticated:
        return None
    return f"{key}-{current_user.id}"


# A form inside a cached component (the header's log out button) carries this in place of
# its CSRF token, which changes every second, and with_csrf_token() puts the token in after.
# Escaping turns "<" into "&lt;" in any text a person typed, so only the template's own
# placeholder is ever replaced.
CSRF_PLACEHOLDER = Markup("<portal-csrf-token>")


def with_csrf_token(html: str) -> Markup:
    return Markup(str(html).replace(str(CSRF_PLACEHOLDER), generate_csrf()))  # noqa: S704


def register_templating(app: Flask) -> None:
    if app.config["NHSUK_COMPONENT_CACHE"]:
        app.extensions["component_cache"] = component_cache.install(
            app.jinja_env, PackageLoader("nhsuk_frontend_jinja")
        )
    app.jinja_env.filters["nhs_number"] = format_nhs_number
    app.jinja_env.globals["csrf_placeholder"] = CSRF_PLACEHOLDER
    app.jinja_env.filters["with_csrf_token"] = with_csrf_token
    app.jinja_env.filters["masked_nhs_number"] = mask_nhs_number
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["iso_date"] = format_iso_date
    app.jinja_env.globals["sparkline"] = sparkline
    app.jinja_env.filters["score"] = format_score
    app.jinja_env.filters["training_expiry"] = expiry_date
    app.jinja_env.filters["masked_certificate"] = mask_certificate

    @app.context_processor
    def shell_context() -> dict:
        return {
            "hub_name": current_app.config["HUB_NAME"],
            "hub_phone": current_app.config["HUB_PHONE"],
            "navigation_items": navigation_items,
            "csrf_token": generate_csrf,
            "htmx_config": htmx_config,
            "Role": Role,
            "draft_saved": draft_saved,
        }
