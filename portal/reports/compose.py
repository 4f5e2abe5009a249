"""What an outcome report says about each person: the PRSB 'message back to GP' content.

`summaries()` turns queued changes into one plain dict per person (the JSON structure
documented in the README). Everything else (the letter, the inbox page, the CSV, the
JSON download) is rendered from these dicts, so every format says the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from portal.cases.models import Goal, GoalStatus
from portal.directory.models import Activity, ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import ClosureReason, Referral, Route
from portal.reports.codes import codes_for
from portal.reports.models import QueuedOutcome, ReportEvent
from portal.reports.periods import london_date
from portal.volunteers.models import BuddyMatch, BuddyMatchStatus

SCHEMA_VERSION = 1

TAKEN_UP = {
    ActivityReferralStatus.ACCEPTED,
    ActivityReferralStatus.ATTENDED,
    ActivityReferralStatus.STOPPED,
}
BUDDY_TAKEN_UP = {BuddyMatchStatus.ACTIVE, BuddyMatchStatus.ENDED}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _latest_per_referral(queued: Iterable[QueuedOutcome]) -> dict[int, QueuedOutcome]:
    """One section per person: a case accepted and closed in one period is told as closed."""
    latest: dict[int, QueuedOutcome] = {}
    for item in sorted(queued, key=lambda q: (q.queued_at, q.id)):
        before = latest.get(item.referral_id)
        if before is None or item.event == ReportEvent.CLOSED or before.event != ReportEvent.CLOSED:
            latest[item.referral_id] = item
    return latest


def summaries(queued: Iterable[QueuedOutcome]) -> list[dict]:
    latest = _latest_per_referral(queued)
    if not latest:
        return []
    ids = list(latest)
    referrals = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Referral)
            .options(
                joinedload(Referral.resident),
                joinedload(Referral.navigator),
                joinedload(Referral.int_neighbourhood),
                selectinload(Referral.reasons),
            )
            .where(Referral.id.in_(ids))
        )
    }
    goals = _grouped(sa.select(Goal).where(Goal.referral_id.in_(ids)).order_by(Goal.id))
    measures = _grouped(
        sa.select(MeasureResponse)
        .where(MeasureResponse.referral_id.in_(ids), MeasureResponse.declined.is_(False))
        .order_by(MeasureResponse.recorded_at, MeasureResponse.id)
    )
    activities = _grouped(
        sa.select(ActivityReferral)
        .options(joinedload(ActivityReferral.activity).joinedload(Activity.organisation))
        .where(ActivityReferral.referral_id.in_(ids))
        .order_by(ActivityReferral.id)
    )
    buddies = _grouped(
        sa.select(BuddyMatch).where(BuddyMatch.referral_id.in_(ids)).order_by(BuddyMatch.id)
    )
    hub = {
        "name": current_app.config["HUB_NAME"],
        "phone": current_app.config["HUB_PHONE"],
        "email": current_app.config["HUB_EMAIL"],
    }
    out = []
    for referral_id, item in latest.items():
        referral = referrals[referral_id]
        out.append(
            person_summary(
                referral,
                item,
                hub,
                goals.get(referral_id, []),
                measures.get(referral_id, []),
                activities.get(referral_id, []),
                buddies.get(referral_id, []),
            )
        )
    out.sort(
        key=lambda s: (
            s["patient"]["family_name"].lower(),
            s["patient"]["given_name"].lower(),
            s["reference"],
        )
    )
    return out


def _grouped(query) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in db.session.scalars(query):
        grouped[row.referral_id].append(row)
    return grouped


# What a practice is told about someone who did not agree to details going to their GP.
_MINIMUM_KEYS = (
    "schema_version",
    "reference",
    "event",
    "event_label",
    "event_date",
    "shared_in_full",
    "patient",
    "codes",
    "outcome",
    "hub",
)
_MINIMUM_OUTCOME_KEYS = ("status", "reason", "reason_label")


def minimal_summary(summary: dict) -> dict:
    """A summary cut back to the coded minimum, as for a person who did not agree to more."""
    cut = {key: summary[key] for key in _MINIMUM_KEYS if key in summary}
    cut["shared_in_full"] = False
    cut["outcome"] = {k: summary.get("outcome", {}).get(k) for k in _MINIMUM_OUTCOME_KEYS}
    return cut


def person_summary(
    referral: Referral,
    item: QueuedOutcome,
    hub: dict,
    goals: list[Goal],
    measures: list[MeasureResponse],
    activities: list[ActivityReferral],
    buddies: list[BuddyMatch],
) -> dict:
    person = referral.resident
    closed = item.event == ReportEvent.CLOSED
    reason = referral.closure_reason if closed else None
    summary: dict = {
        "schema_version": SCHEMA_VERSION,
        "reference": referral.reference,
        "event": item.event.value,
        "event_label": item.event.label,
        "event_date": london_date(item.queued_at).isoformat(),
        "shared_in_full": bool(referral.consent_share_with_gp),
        "patient": {
            "nhs_number": person.nhs_number,
            "given_name": person.given_name,
            "family_name": person.family_name,
            "date_of_birth": _iso(person.date_of_birth),
        },
        "codes": codes_for(reason),
        "outcome": {
            "status": "closed" if closed else "accepted",
            "reason": reason.value if reason else None,
            "reason_label": reason.label if reason else None,
        },
        "hub": hub,
    }
    if not referral.consent_share_with_gp:
        # The person did not agree to details going to their GP: the coded minimum only.
        return summary
    summary["referral"] = {
        "received_on": london_date(referral.received_at).isoformat(),
        "source": referral.source.label,
        "referrer": referral.referrer_name,
        "reasons": [link.reason.label for link in referral.reasons],
    }
    summary["what_matters"] = [
        {"goal": g.description, "status": g.status.label}
        for g in goals
        if g.status != GoalStatus.DROPPED or closed
    ]
    summary["support"] = _support(referral, activities, buddies, reason)
    summary["wellbeing"] = _wellbeing(measures)
    summary["outcome"]["summary"] = referral.outcome_summary if closed else None
    summary["outcome"]["closed_on"] = (
        london_date(referral.closed_at).isoformat() if closed and referral.closed_at else None
    )
    summary["navigator"] = {"name": referral.navigator.full_name if referral.navigator else None}
    return summary


def _support(
    referral: Referral,
    activities: list[ActivityReferral],
    buddies: list[BuddyMatch],
    reason: ClosureReason | None,
) -> dict:
    onward = []
    if referral.route in (Route.INT, Route.BOTH):
        team = (
            referral.int_neighbourhood.name if referral.int_neighbourhood else "the practice's team"
        )
        onward.append(f"Integrated Neighbourhood Team: {team}")
    if reason == ClosureReason.REFERRED_ON:
        onward.append("Referred on to another service (see the summary)")
    return {
        "route": referral.route.label if referral.route else None,
        "level": referral.support_level,
        "activities": [
            {
                "activity": a.activity.title,
                "organisation": a.activity.organisation.name,
                "status": a.status.label,
                "taken_up": a.status in TAKEN_UP,
            }
            for a in activities
            if a.status != ActivityReferralStatus.SUGGESTED
        ],
        # The volunteer is not named: the practice needs the support, not who gave it.
        "buddy": [
            {
                "status": b.status.label,
                "taken_up": b.status in BUDDY_TAKEN_UP,
                "from": _iso(london_date(b.responded_at)) if b.responded_at else None,
                "to": _iso(london_date(b.ended_at)) if b.ended_at else None,
            }
            for b in buddies
            if b.status != BuddyMatchStatus.DECLINED
        ],
        "onward_referrals": onward,
    }


def _wellbeing(measures: list[MeasureResponse]) -> list[dict]:
    """For each scale, the first baseline and the last closing sitting, and the change."""
    out = []
    for scale in Scale:
        taken = [m for m in measures if m.scale == scale and m.answers]
        baseline = next((m for m in taken if m.stage == Stage.BASELINE), None)
        closing = next((m for m in reversed(taken) if m.stage == Stage.CLOSING), None)
        if baseline is None and closing is None:
            continue
        entry: dict = {
            "scale": scale.value,
            "scale_label": scale.label,
            "baseline_on": _iso(london_date(baseline.recorded_at)) if baseline else None,
            "closing_on": _iso(london_date(closing.recorded_at)) if closing else None,
            "results": [],
        }
        if baseline and closing:
            for c in scales.change(scale, baseline.answers, closing.answers):
                entry["results"].append(
                    {
                        "measure": c.name,
                        "baseline": c.before.value,
                        "closing": c.after.value,
                        "change": c.difference,
                        "direction": c.direction,
                    }
                )
        else:
            only = baseline or closing
            for r in scales.results(scale, only.answers):
                entry["results"].append(
                    {
                        "measure": r.name,
                        "baseline": r.value if baseline else None,
                        "closing": r.value if closing else None,
                        "change": None,
                        "direction": None,
                    }
                )
        out.append(entry)
    return out
