"""The export itself: everything about the person, nothing about anyone else, in JSON and PDF."""

from __future__ import annotations

import json
import re

import pytest

from portal.governance import subject_access as sar
from tests.governance.conftest import (
    ACTIVITY,
    BUDDY_NOTE,
    CONTACT_NOTE,
    GOAL,
    HOURS_NOTE,
    OTHER_NOTE,
    SECOND_NOTE,
)
from tests.hostile import (
    REPRESENTATIVE,
    assert_inert,
    assert_json_has,
    assert_pdf_shows,
    hostile_params,
    pdf_text,
)

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")


def as_document(record: dict) -> dict:
    return json.loads(sar.as_json(record))


def squashed(text: str) -> str:
    return "".join(text.split())


def test_a_residents_export_holds_each_kind_of_record(world):
    doc = as_document(sar.resident_record(world.resident.id, produced_by="Ada Admin (Admin)"))

    assert doc["schema_version"] == 1 and doc["kind"] == "resident"
    assert doc["export"]["produced_by"] == "Ada Admin (Admin)"
    assert ISO_MOMENT.match(doc["export"]["produced_at"])
    person = doc["person"]
    assert (person["given_name"], person["family_name"]) == ("Zebedee", "Quartermaine")
    assert person["nhs_number"] == world.resident.nhs_number
    assert person["date_of_birth"] == "1950-01-01"
    assert person["preferred_contact"] == {"value": "phone", "label": "Phone call"}

    referrals = {r["reference"]: r for r in doc["referrals"]}
    assert set(referrals) == {"SP-ZQ1111", "SP-ZQ2222"}
    first = referrals["SP-ZQ1111"]
    assert first["reasons"] == [
        {"value": "loneliness", "label": "Loneliness or social isolation"},
        {"value": "bereavement", "label": "Bereavement"},
    ]
    assert first["details"] == "Lost his wife last spring"
    assert first["status"] == {"value": "closed", "label": "Closed"}
    assert first["closure_reason"]["value"] == "goals_met"
    assert first["outcome_summary"] == "Goes to the walking group every week"
    assert first["route"] == {"value": "social_navigation", "label": "Social navigation"}
    assert first["support_level"] == 2
    assert first["navigator"] == "Nadia Navigator (Navigator)"
    assert first["consent_given"] is True and first["consent_recorded_by"] == "Test referrer"
    assert ISO_MOMENT.match(first["closed_at"])

    preferences = {p["referral"]: p for p in doc["matching_preferences"]}["SP-ZQ1111"]
    assert preferences["availability"] == [{"value": "tue_morning", "label": "Tuesday morning"}]
    assert preferences["access_needs"] == [{"value": "step_free", "label": "Step-free access"}]
    assert preferences["interests"] == ["gardening"] and preferences["wants_buddy"] is True

    history = [(h["referral"], h["action"]["value"]) for h in doc["referral_history"]]
    assert ("SP-ZQ1111", "closed") in history

    notes = {c["notes"]: c for c in doc["contacts"]}
    assert {CONTACT_NOTE, SECOND_NOTE, BUDDY_NOTE} <= set(notes)
    assert notes[SECOND_NOTE]["method"] == {"value": "venue", "label": "Meeting at a venue"}
    assert notes[CONTACT_NOTE]["author"] == "Nadia Navigator (Navigator)"
    assert notes[CONTACT_NOTE]["duration_minutes"] == 20

    goals = {g["description"]: g for g in doc["goals"]}
    assert goals[GOAL]["status"]["value"] == "open"
    assert ISO_DATE.match(goals["Sort out the boiler"]["closed_on"])

    measures = {m["scale"]["value"]: m for m in doc["measures"]}
    assert measures["ons4"]["answers"] == [4, 5, 3, 7]
    assert measures["ucla3"]["score"] == 8.0
    (loneliness,) = measures["ucla3"]["results"]
    assert (loneliness["name"], loneliness["value"]) == ("Loneliness (UCLA-3 score)", 8.0)
    assert measures["ons4"]["results"][0]["name"] == "Life satisfaction"

    (link,) = doc["activity_referrals"]
    assert link["activity"].startswith(ACTIVITY) and link["status"]["value"] == "accepted"
    assert link["shared_phone"] == "07700 900123"
    (attended,) = doc["activity_attendance"]
    assert attended["attended"] is True and attended["activity"].startswith(ACTIVITY)

    (match,) = doc["buddy_matches"]
    assert match["referral"] == "SP-ZQ2222" and match["buddy"] == "Bertram"
    assert match["status"]["value"] == "active"

    alerts = {a["message"]: a for a in doc["alerts"]}
    assert alerts["Case SP-ZQ1111 was assigned to you"]["sent_to"] == (
        "Nadia Navigator (Navigator)"
    )
    assert alerts["Would you buddy Zebedee (SP-ZQ2222)?"]["kind"]["value"] == "buddy_response"

    (decision,) = doc["match_decisions"]
    assert (decision["chosen"], decision["rank"]) == ("Bertram", 1)
    assert decision["reasons"] == ["Both enjoy gardening"]

    (report,) = doc["outcome_reports"]
    assert report["referrals"] == ["SP-ZQ1111"]
    assert [s["reference"] for s in report["about_you"]] == ["SP-ZQ1111"]
    assert {q["referral"] for q in doc["queued_outcomes"]} == {"SP-ZQ1111"}

    viewed = [a for a in doc["audit_trail"] if a["action"] == "Viewed"]
    assert viewed and viewed[0]["actor"] == "Nadia Navigator"
    assert viewed[0]["record"] == "Case SP-ZQ1111"
    assert doc["not_included"] and all(set(n) == {"what", "why"} for n in doc["not_included"])


def test_another_residents_data_never_appears(world):
    raw = sar.as_json(sar.resident_record(world.resident.id))
    html = sar.render_html(sar.resident_record(world.resident.id))
    for text in (raw, html):
        for theirs in ("Olwen", "Otherperson", "SP-OO3333", OTHER_NOTE, world.other.nhs_number):
            assert theirs not in text


def test_every_row_has_exactly_its_sections_keys(world):
    """Each object carries the keys its section documents, in order, so the JSON is stable."""
    for kind, record in (
        ("resident", sar.resident_record(world.resident.id)),
        ("volunteer", sar.volunteer_record(world.volunteer.id)),
    ):
        for section in sar.SECTIONS[kind]:
            rows = [record[section.key]] if section.one else record[section.key]
            assert rows, f"{kind}: the fixture should fill {section.key}"
            for row in rows:
                assert tuple(row) == section.keys, section.key


def test_a_volunteers_export_holds_their_records_and_no_residents(world):
    record = sar.volunteer_record(world.volunteer.id, produced_by="Ada Admin (Admin)")
    raw = sar.as_json(record)
    doc = json.loads(raw)

    assert doc["kind"] == "volunteer"
    assert doc["account"]["full_name"] == "Bertram Buddyman"
    assert doc["account"]["role"] == {"value": "volunteer", "label": "Volunteer"}
    assert doc["volunteer"]["postcode"] == "CV1 2AB"
    assert doc["volunteer"]["dbs_level"]["value"] == "enhanced"
    (hours,) = doc["hours"]
    assert (hours["minutes"], hours["notes"], hours["kind"]["value"]) == (
        90,
        HOURS_NOTE,
        "training",
    )
    courses = {t["course"]: t for t in doc["training"]}
    assert courses["Safeguarding adults"]["trainer"] == "Tess Trainer"
    assert ISO_DATE.match(courses["Safeguarding adults"]["valid_until"])
    (logged,) = doc["contacts_logged"]
    assert logged["duration_minutes"] == 75 and logged["method"]["value"] == "accompanied"
    assert len(doc["buddy_matches"]) == 2
    assert {m["status"]["value"] for m in doc["buddy_matches"]} == {"active"}
    (reminder,) = doc["reminders"]
    assert reminder["subject"] == {"value": "dbs", "label": "DBS check"}

    # Nothing that names or identifies a person they support, and nothing that opens the account.
    html = sar.render_html(record)
    user = world.volunteer.user
    for text in (raw, html):
        for resident_data in (
            "Zebedee",
            "Quartermaine",
            "Olwen",
            "SP-ZQ",
            "SP-OO",
            BUDDY_NOTE,
            world.resident.nhs_number,
        ):
            assert resident_data not in text
        for secret in (user.password_hash, user.session_token):
            assert secret not in text
    assert "password_hash" not in raw and "session_token" not in raw and "totp" not in raw


def test_the_pdf_is_readable_and_says_who_and_when(world, app):
    record = sar.resident_record(world.resident.id, produced_by="Ada Admin (Administrator)")
    data = sar.render_pdf(record)
    assert data[:5] == b"%PDF-"
    text = squashed(pdf_text(data))
    for shown in (
        "Zebedee Quartermaine",
        "SP-ZQ1111",
        "SP-ZQ2222",
        CONTACT_NOTE,
        GOAL,
        ACTIVITY,
        "Ada Admin (Administrator)",
        "Who looked at or changed your records",
        "Wellbeing questionnaires",
        "Loneliness or social isolation",
    ):
        assert squashed(shown) in text, shown


def test_the_volunteer_pdf_holds_their_hours_and_training(world):
    text = squashed(pdf_text(sar.render_pdf(sar.volunteer_record(world.volunteer.id))))
    for shown in ("Bertram Buddyman", HOURS_NOTE, "Safeguarding adults", "Hours you logged"):
        assert squashed(shown) in text, shown
    assert "Quartermaine" not in text


def test_a_person_with_nothing_but_a_referral_exports_empty_sections(app):
    from tests.factories import make_referral

    referral = make_referral()
    doc = as_document(sar.resident_record(referral.resident_id))
    assert [r["reference"] for r in doc["referrals"]] == [referral.reference]
    assert doc["contacts"] == [] and doc["outcome_reports"] == []
    assert "None recorded." in sar.render_html(sar.resident_record(referral.resident_id))


def test_an_unknown_person_is_refused(app):
    with pytest.raises(sar.PersonNotFound):
        sar.resident_record(999_999)
    with pytest.raises(sar.PersonNotFound):
        sar.volunteer_record(999_999)


@pytest.mark.parametrize("value", hostile_params(REPRESENTATIVE))
def test_hostile_text_is_inert_in_the_pdf_and_exact_in_the_json(world, value):
    from tests.factories import make_contact, make_goal

    make_contact(world.first, world.navigator, notes=value)
    make_goal(world.second, world.navigator, description=value)
    record = sar.resident_record(world.resident.id)
    assert_json_has(sar.as_json(record), value, "subject access JSON")
    assert_inert(sar.render_html(record), value, "subject access PDF html")
    assert_pdf_shows(sar.render_pdf(record), value, "subject access PDF")
