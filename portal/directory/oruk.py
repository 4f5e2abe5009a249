"""Activities as Open Referral UK services (the UK profile of HSDS 3.0).

Every id is a UUID that never changes: activities and organisations carry their own,
and the parts the schema wants ids for (schedules, locations, cost options…) get ids
derived from their activity's with uuid5, so the same input always gives the same id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from flask import current_app, url_for

from portal.directory import listings
from portal.directory.models import Activity, ActivityCategory, Frequency, Organisation
from portal.directory.organisations import charity_register, is_web_address
from portal.directory.schedule import describe
from portal.directory.search import ACCESS_FEATURES

HSDS_VERSION = "3.0"
PROFILE_URL = "https://github.com/openreferral/uk-profile"
SCHEMA_BASE = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/compiled/"
TAXONOMY_NAME = "Social prescribing needs"
TAXONOMY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "social-prescribing-portal/taxonomy/needs"))
ICAL_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def term_id(category: ActivityCategory) -> str:
    return str(uuid.uuid5(uuid.UUID(TAXONOMY_ID), category.value))


TERM_IDS = {term_id(category): category for category in ActivityCategory}


def _child_id(parent: str, part: str) -> str:
    return str(uuid.uuid5(uuid.UUID(parent), part))


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _web_address(value: str | None) -> str | None:
    return value if is_web_address(value) else None


def _drop_empty(data: dict) -> dict:
    return {key: value for key, value in data.items() if value not in (None, "")}


def fees(activity: Activity) -> str:
    if activity.is_free:
        return "Free"
    return f"£{activity.cost_pence / 100:.2f} a session"


def organisation_summary(organisation: Organisation) -> dict:
    return _drop_empty(
        {
            "id": organisation.uuid,
            "name": organisation.name,
            "description": organisation.description or organisation.name,
            "email": organisation.email,
            "website": _web_address(organisation.website),
        }
    )


def organisation_full(organisation: Organisation) -> dict:
    identifiers = []
    if organisation.charity_number:
        identifiers.append(
            {
                "id": _child_id(organisation.uuid, "charity-number"),
                "organization_id": organisation.uuid,
                "identifier_scheme": charity_register(organisation.charity_number),
                "identifier_type": "Charity number",
                "identifier": organisation.charity_number,
            }
        )
    if organisation.company_number:
        identifiers.append(
            {
                "id": _child_id(organisation.uuid, "company-number"),
                "organization_id": organisation.uuid,
                "identifier_scheme": "GB-COH",
                "identifier_type": "Company number",
                "identifier": organisation.company_number,
            }
        )
    return {**organisation_summary(organisation), "organization_identifiers": identifiers}


def service_summary(activity: Activity, today: date) -> dict:
    """The one-to-one fields of a service, as in a page of /services."""
    alert = None
    if listings.is_stale(activity, today):
        alert = "This listing may be out of date: the organisation has not confirmed it recently."
    return _drop_empty(
        {
            "id": activity.uuid,
            "organization_id": activity.organisation.uuid,
            "name": activity.title,
            "description": activity.description,
            "url": url_for(
                "directory_public.activity", activity_uuid=activity.uuid, _external=True
            ),
            "email": activity.contact_email or activity.organisation.email,
            "status": "active",
            "fees": fees(activity),
            "minimum_age": activity.min_age,
            "maximum_age": activity.max_age,
            "assured_date": listings.confirmed_on(activity).isoformat(),
            "alert": alert,
            "last_modified": _timestamp(activity.updated_at),
            "organization": organisation_summary(activity.organisation),
        }
    )


def _schedule(activity: Activity) -> dict:
    schedule = {
        "id": _child_id(activity.uuid, "schedule"),
        "service_id": activity.uuid,
        "description": describe(
            activity.frequency,
            activity.days or [],
            activity.start_time,
            activity.end_time,
            activity.monthly_week,
        ),
        "attending_type": "online" if activity.online else "in person",
        "notes": activity.schedule_note,
        "opens_at": activity.start_time.strftime("%H:%M") if activity.start_time else None,
        "closes_at": activity.end_time.strftime("%H:%M") if activity.end_time else None,
        "dtstart": activity.starts_on.isoformat() if activity.starts_on else None,
    }
    days = sorted(activity.days or [])
    if activity.frequency in (Frequency.WEEKLY, Frequency.FORTNIGHTLY) and days:
        schedule.update(
            freq="WEEKLY",
            interval=2 if activity.frequency == Frequency.FORTNIGHTLY else 1,
            byday=",".join(ICAL_DAYS[d] for d in days),
        )
    elif activity.frequency == Frequency.MONTHLY and days and activity.monthly_week:
        schedule.update(
            freq="MONTHLY",
            interval=1,
            byday=",".join(f"{activity.monthly_week}{ICAL_DAYS[d]}" for d in days),
        )
    return _drop_empty(schedule)


def _address(activity: Activity, location_id: str) -> dict | None:
    if not activity.postcode:
        return None
    lines = [line.strip() for line in (activity.venue_address or "").splitlines() if line.strip()]
    first = lines[0] if lines else activity.venue_name or activity.postcode
    city = lines[-1] if len(lines) > 1 else current_app.config["DIRECTORY_TOWN"]
    return {
        "id": _child_id(activity.uuid, "address"),
        "location_id": location_id,
        "address_1": first,
        "city": city,
        "state_province": current_app.config["DIRECTORY_COUNTY"],
        "postal_code": activity.postcode,
        "country": "GB",
        "address_type": "physical",
    }


def _locations(activity: Activity) -> list[dict]:
    found = []
    if activity.online:
        location_id = _child_id(activity.uuid, "online")
        found.append(
            {
                "id": _child_id(activity.uuid, "at-online"),
                "service_id": activity.uuid,
                "location_id": location_id,
                "location": {"id": location_id, "location_type": "virtual", "name": "Online"},
            }
        )
    if activity.venue_name or activity.postcode:
        location_id = _child_id(activity.uuid, "venue")
        address = _address(activity, location_id)
        accessibility = [
            {
                "id": _child_id(activity.uuid, f"access-{feature}"),
                "location_id": location_id,
                "description": label,
            }
            for feature, label in ACCESS_FEATURES.items()
            if getattr(activity, feature)
        ]
        location = _drop_empty(
            {
                "id": location_id,
                "location_type": "physical",
                "name": activity.venue_name,
                "addresses": [address] if address else [],
                "accessibility": accessibility,
            }
        )
        found.append(
            {
                "id": _child_id(activity.uuid, "at-venue"),
                "service_id": activity.uuid,
                "location_id": location_id,
                "location": location,
            }
        )
    return found


def _attributes(activity: Activity) -> list[dict]:
    attributes = []
    for value in activity.categories or []:
        category = ActivityCategory(value)
        attributes.append(
            {
                "id": _child_id(activity.uuid, f"category-{category.value}"),
                "link_id": activity.uuid,
                "link_type": "service",
                "taxonomy_term_id": term_id(category),
                "taxonomy_term": {
                    "id": term_id(category),
                    "name": category.label,
                    "description": f"{TAXONOMY_NAME}: {category.label}",
                    "taxonomy": TAXONOMY_NAME,
                    "taxonomy_id": TAXONOMY_ID,
                    "term": category.value,
                },
            }
        )
    return attributes


def service_full(activity: Activity, today: date) -> dict:
    service = service_summary(activity, today)
    service["organization"] = organisation_full(activity.organisation)
    service["schedules"] = [_schedule(activity)]
    service["service_at_locations"] = _locations(activity)
    service["cost_options"] = (
        []
        if activity.is_free
        else [
            {
                "id": _child_id(activity.uuid, "cost"),
                "service_id": activity.uuid,
                "option": "Each session",
                "amount": activity.cost_pence / 100,
                "amount_description": fees(activity),
            }
        ]
    )
    service["contacts"] = (
        [
            {
                "id": _child_id(activity.uuid, "contact"),
                "service_id": activity.uuid,
                "name": activity.contact_name,
            }
        ]
        if activity.contact_name
        else []
    )
    service["attributes"] = _attributes(activity)
    return service


def page_envelope(total: int, page: int, per_page: int, items: list[dict]) -> dict:
    pages = max(1, -(-total // per_page))
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(items),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not items,
        "contents": items,
    }


def openapi_document() -> dict:
    """What this API offers: the three endpoints of the ORUK profile it implements."""

    def query(name: str, kind: str, text: str) -> dict:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": kind},
        }

    return {
        "openapi": "3.0.0",
        "info": {
            "title": f"{current_app.config['HUB_NAME']} activity directory",
            "version": "1.0.0",
            "description": "Open Referral UK (HSDS 3.0 UK profile), read-only. Lists the "
            "published activities of organisations the hub has verified.",
        },
        "servers": [{"url": url_for("oruk.info", _external=True).rstrip("/")}],
        "paths": {
            "/": {
                "get": {"summary": "About this API", "responses": {"200": {"description": "OK"}}}
            },
            "/services": {
                "get": {
                    "summary": "A page of services",
                    "parameters": [
                        query("text", "string", "Words to find in the service"),
                        query("search", "string", "Same as text"),
                        query("taxonomy_id", "string", "A taxonomy id, or one of its term ids"),
                        query("taxonomy_term_id", "string", "A taxonomy term id"),
                        query("postcode", "string", "Services in this postcode's district"),
                        query("page", "integer", "Page number, from 1"),
                        query("per_page", "integer", "Services per page, 1 to 100"),
                    ],
                    "responses": {
                        "200": {"description": f"{SCHEMA_BASE}service_list.json items"},
                        "400": {"description": "A parameter is not valid"},
                    },
                }
            },
            "/services/{id}": {
                "get": {
                    "summary": "One service, fully nested",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": f"{SCHEMA_BASE}service.json"},
                        "404": {"description": "No such published service"},
                    },
                }
            },
        },
    }
