"""Role start pages show real records, scoped to the user, with NHS numbers masked."""

from __future__ import annotations

from datetime import date

from portal.auth.models import Role
from portal.referrals.models import ReferralStatus
from portal.referrals.working_days import working_days_between
from tests.factories import make_contact, make_practice, make_referral, make_resident


def test_practice_user_sees_only_their_own_practice(client, make_user, login):
    mine, theirs = make_practice(), make_practice()
    own = make_referral(practice=mine, resident=make_resident(given_name="Alma"))
    make_referral(practice=theirs, resident=make_resident(given_name="Zed"))
    login(make_user(Role.PRACTICE_USER, practice_id=mine.id))
    page = client.get("/practice/referrals").data.decode()
    assert own.reference in page and "Alma" in page
    assert "Zed" not in page


def test_lists_mask_nhs_numbers(client, make_user, login):
    resident = make_resident()
    make_referral(resident=resident)
    login(make_user(Role.COORDINATOR))
    page = client.get("/hub").data.decode()
    number = resident.nhs_number
    assert number not in page
    assert f"{number[:3]} {number[3:6]} {number[6:]}" not in page
    assert f"*** *** {number[6:]}" in page


def test_hub_lists_waiting_referrals_oldest_first(client, make_user, login):
    from datetime import timedelta

    from portal.db_types import utcnow

    newer = make_referral(received_at=utcnow() - timedelta(days=1))
    older = make_referral(received_at=utcnow() - timedelta(days=20))
    done = make_referral(status=ReferralStatus.TRIAGED)
    login(make_user(Role.COORDINATOR))
    page = client.get("/hub").data.decode()
    assert page.index(older.reference) < page.index(newer.reference)
    assert done.reference not in page
    filtered = client.get("/hub?status=triaged", headers={"HX-Request": "true"}).data.decode()
    assert done.reference in filtered and older.reference not in filtered


def test_free_text_is_rendered_inert(client, make_user, login):
    make_referral(
        resident=make_resident(
            given_name="<script>alert(1)</script>", family_name='" onmouseover="x'
        )
    )
    login(make_user(Role.COORDINATOR))
    page = client.get("/hub").data.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '" onmouseover="x' not in page


def test_navigator_caseload_is_their_own_and_flags_overdue(client, make_user, login):
    navigator, colleague = make_user(Role.NAVIGATOR), make_user(Role.NAVIGATOR)
    recent = make_referral(
        status=ReferralStatus.ACTIVE,
        navigator_id=navigator.id,
        resident=make_resident(given_name="Recent"),
    )
    stale = make_referral(
        status=ReferralStatus.ACTIVE,
        navigator_id=navigator.id,
        resident=make_resident(given_name="Stale"),
    )
    make_referral(
        status=ReferralStatus.ACTIVE,
        navigator_id=colleague.id,
        resident=make_resident(given_name="Colleagues"),
    )
    make_contact(recent, navigator, days_ago=2)
    make_contact(stale, navigator, days_ago=20)
    make_contact(stale, navigator, days_ago=1, successful=False)  # an attempt is not contact
    login(navigator)
    page = client.get("/caseload").data.decode()
    assert "Recent" in page and "Stale" in page and "Colleagues" not in page
    stale_row = page[page.index("Stale") :]
    stale_row = stale_row[: stale_row.index("</tr>")]
    recent_row = page[page.index("Recent") :]
    recent_row = recent_row[: recent_row.index("</tr>")]
    assert "Contact overdue" in stale_row and "20 days ago" in stale_row
    assert "Contact overdue" not in recent_row


def test_commissioner_sees_small_counts_suppressed(client, make_user, login):
    for _ in range(3):
        make_referral(status=ReferralStatus.RECEIVED)
    login(make_user(Role.COMMISSIONER))
    page = client.get("/dashboard").data.decode()
    assert "&lt;5" in page


def test_working_days_skip_weekends_and_bank_holidays():
    # Friday 19 December 2025 to Monday 29 December 2025: 22, 23, 24 are working days;
    # 25 and 26 December are bank holidays; 29 is a working day.
    assert working_days_between(date(2025, 12, 19), date(2025, 12, 29)) == 4
    assert working_days_between(date(2026, 5, 1), date(2026, 5, 4)) == 0  # early May bank holiday
    assert working_days_between(date(2026, 5, 4), date(2026, 5, 4)) == 0
    assert working_days_between(date(2026, 5, 5), date(2026, 5, 1)) == 0
