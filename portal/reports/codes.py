"""SNOMED CT codes a practice can file from a report.

From NHS England's social prescribing codes (SNOMED CT UK edition).
"""

from __future__ import annotations

from portal.referrals.models import ClosureReason

SNOMED = "http://snomed.info/sct"

REFERRAL_TO_SOCIAL_PRESCRIBING = ("871731000000106", "Referral to social prescribing service")
SOCIAL_PRESCRIBING_DECLINED = ("871711000000103", "Social prescribing declined")


def codes_for(closure_reason: ClosureReason | None) -> list[dict[str, str]]:
    """The codes for one person: always the referral; 'declined' when they said no."""
    codes = [REFERRAL_TO_SOCIAL_PRESCRIBING]
    if closure_reason == ClosureReason.DECLINED:
        codes.append(SOCIAL_PRESCRIBING_DECLINED)
    return [{"system": SNOMED, "code": code, "display": display} for code, display in codes]
