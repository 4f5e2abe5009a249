"""The Open Referral UK API: read-only, public JSON about published activities."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request, url_for

from portal.db_types import london_today
from portal.directory import oruk, search
from portal.directory.models import Activity, postcode_district
from portal.extensions import db
from portal.referrals.intake import normalise_postcode

bp = Blueprint("oruk", __name__, url_prefix="/api/oruk")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100


def _json(data: dict, status: int = 200) -> Response:
    # <, > and & are written as \u escapes: the same JSON to any parser, but never markup
    # to a browser that ignores the content type.
    body = (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _bad(message: str) -> Response:
    return _json({"error": "Bad request", "detail": message}, 400)


def _whole_number(name: str, default: int) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    return int(value) if value.isascii() and value.isdigit() else None


@bp.route("/")
def info():
    return _json(
        {
            "version": oruk.HSDS_VERSION,
            "profile": oruk.PROFILE_URL,
            "openapi_url": url_for(".openapi", _external=True),
        }
    )


@bp.route("/openapi.json")
def openapi():
    return _json(oruk.openapi_document())


@bp.route("/services")
def services():
    page = _whole_number("page", 1)
    if page is None or page < 1:
        return _bad("page must be a whole number, 1 or more")
    per_page = _whole_number("per_page", DEFAULT_PER_PAGE)
    if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
        return _bad(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}")
    filters = search.SearchFilters(
        q=(request.args.get("text") or request.args.get("search") or "")[: search.MAX_QUERY]
    )
    for name in ("taxonomy_id", "taxonomy_term_id"):
        value = request.args.get(name)
        if not value or (value == oruk.TAXONOMY_ID and name == "taxonomy_id"):
            continue
        category = oruk.TERM_IDS.get(value)
        if category is None:
            return _bad(f"{name} is not a taxonomy or term this API knows")
        filters.categories.append(category.value)
    postcode = request.args.get("postcode")
    if postcode:
        if normalise_postcode(postcode) is None:
            return _bad("postcode must be a UK postcode, like CV1 2AB")
        filters.district = postcode_district(postcode) or ""
    found = search.search(filters, page, per_page)
    today = london_today()
    return _json(
        oruk.page_envelope(
            found.total, page, per_page, [oruk.service_summary(a, today) for a in found.items]
        )
    )


@bp.route("/services/<service_id>")
def service(service_id: str):
    found = db.session.scalar(search.listed().where(Activity.uuid == service_id[:36]))
    if found is None:
        return _json({"error": "Not found", "detail": "No published service has that id"}, 404)
    return _json(oruk.service_full(found, london_today()))
