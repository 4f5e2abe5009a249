"""Closing a supported case from the referral page ends its buddy match, as from the case."""

from __future__ import annotations

from portal.referrals.models import ReferralStatus
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus
from tests.cases.test_case_views import case_for, fresh, signed_in
from tests.factories import make_buddy_match, make_compliant_volunteer


def test_closing_from_the_referral_page_ends_the_buddy_match(app, db, navigator, coordinator):
    referral = case_for(navigator, status=ReferralStatus.ACTIVE)
    match = make_buddy_match(
        referral, make_compliant_volunteer(), coordinator, status=BuddyMatchStatus.ACTIVE
    )
    browser = signed_in(app, coordinator)

    response = browser.post(
        f"/referrals/{referral.id}/close",
        data={
            "reason": "moved_away",
            "summary": "Moved to be near family",
            "version": str(referral.version),
        },
    )

    assert response.status_code in (200, 302)
    assert fresh(db, referral).status == ReferralStatus.CLOSED
    assert db.session.get(BuddyMatch, match.id).status == BuddyMatchStatus.ENDED
