"""The admin audit trail pages: "who looked at this person?" answered in one step."""

from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    request,
    stream_with_context,
    url_for,
)

from portal.audit import trail
from portal.audit.forms import TrailForm, filled_from, read
from portal.audit.service import audit
from portal.auth.models import Role
from portal.auth.permissions import roles_required
from portal.extensions import db
from portal.form_fields import LONDON
from portal.spreadsheet import safe_cell
from portal.web import render, wants_partial

bp = Blueprint("audit", __name__)

# Each person's trail has an address of its own (by internal id, never by what was typed),
# so other pages can link "Who has looked at this record" straight to the answer.
_PERSON_ENDPOINTS = {
    trail.RESIDENT: "audit.resident_trail",
    trail.VOLUNTEER: "audit.volunteer_trail",
}
_PERSON_ARGS = {trail.RESIDENT: "resident_id", trail.VOLUNTEER: "volunteer_id"}


def _url_args(filters: trail.TrailFilters) -> tuple[str, dict[str, object]]:
    """The endpoint and arguments that show these filters: ids and codes only."""
    args: dict[str, object] = dict(filters.query_args())
    if filters.person is None:
        return "audit.trail", args
    kind, person_id = filters.person
    return _PERSON_ENDPOINTS[kind], {_PERSON_ARGS[kind]: person_id, **args}


def _person_or_404(filters: trail.TrailFilters) -> trail.Person | None:
    if filters.person is None:
        return None
    kind, person_id = filters.person
    found = trail.resident_person if kind == trail.RESIDENT else trail.volunteer_person
    person = found(person_id)
    if person is None:
        abort(404)
    return person


def _audit_reading(filters: trail.TrailFilters, exported: bool = False) -> None:
    # Reading someone's trail shows which records they have: it is a view of the person.
    if filters.person is None:
        audit("exported" if exported else "viewed_list", "audit_trail", None)
    else:
        kind, person_id = filters.person
        audit("exported" if exported else "viewed", f"audit_trail_{kind}", person_id)
    db.session.commit()


def _show(filters: trail.TrailFilters, person: trail.Person | None, form: TrailForm | None = None):
    # Audit first: committing after the queries would expire every row they loaded.
    _audit_reading(filters)
    page = trail.search_events(filters, current_app.config["PAGE_SIZE"])
    endpoint, url_args = _url_args(filters)
    return render(
        "audit/trail.html",
        "audit/partials/_trail.html",
        form=form or filled_from(filters, person),
        has_errors=False,
        person=person,
        filters=filters,
        page=page,
        rows=trail.describe(page.items),
        endpoint=endpoint,
        url_args=url_args,
    )


@bp.route("/admin/audit", methods=["GET", "POST"], endpoint="trail")
@roles_required(Role.ADMIN)
def trail_page():
    if request.method == "GET":
        filters = trail.TrailFilters.from_args(request.args)
        return _show(filters, None)
    form = TrailForm()
    filters, person = read(form)
    if filters is None:
        # What was typed comes back as typed, with the message beside the field; nothing
        # was searched, so nothing about anyone was shown or needs auditing.
        return render(
            "audit/trail.html",
            "audit/partials/_trail.html",
            status_code=400,
            form=form,
            person=None,
            filters=None,
            page=None,
            rows=[],
            has_errors=True,
        )
    endpoint, url_args = _url_args(filters)
    address = url_for(endpoint, **url_args)
    if wants_partial():
        # htmx: the answer at once, and the address bar set to the page that shows it.
        response = _show(filters, person, form)
        response.headers["HX-Push-Url"] = address
        return response
    return redirect(address, 303)


@bp.route("/admin/audit/resident/<int:resident_id>")
@roles_required(Role.ADMIN)
def resident_trail(resident_id: int):
    filters = trail.TrailFilters.from_args(request.args, resident_id=resident_id)
    return _show(filters, _person_or_404(filters))


@bp.route("/admin/audit/volunteer/<int:volunteer_id>")
@roles_required(Role.ADMIN)
def volunteer_trail(volunteer_id: int):
    filters = trail.TrailFilters.from_args(request.args, volunteer_id=volunteer_id)
    return _show(filters, _person_or_404(filters))


CSV_HEADERS = [
    "When (UK time)",
    "Who",
    "Their email",
    "Role",
    "What they did",
    "Record",
    "Record type",
    "Record id",
    "From address",
]


@bp.route("/admin/audit/events.csv")
@bp.route("/admin/audit/resident/<int:resident_id>/events.csv")
@bp.route("/admin/audit/volunteer/<int:volunteer_id>/events.csv")
@roles_required(Role.ADMIN)
def export_csv(resident_id: int | None = None, volunteer_id: int | None = None):
    filters = trail.TrailFilters.from_args(
        request.args, resident_id=resident_id, volunteer_id=volunteer_id
    )
    _person_or_404(filters)
    _audit_reading(filters, exported=True)

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADERS)
        for row in trail.all_rows(filters):
            event = row.event
            writer.writerow(
                [
                    safe_cell(f"{event.occurred_at.astimezone(LONDON):%Y-%m-%d %H:%M:%S}"),
                    safe_cell(row.actor),
                    safe_cell(row.actor_email),
                    safe_cell(row.role),
                    safe_cell(row.action),
                    safe_cell(row.record),
                    safe_cell(event.object_type),
                    safe_cell(event.object_id),
                    safe_cell(event.source_address),
                ]
            )
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    response = Response(stream_with_context(lines()), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
