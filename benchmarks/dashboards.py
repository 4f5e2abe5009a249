"""Benchmark: the commissioner dashboard (GET /dashboard) and the hub dashboard
(GET /dashboard/hub) over three years of a busy hub's data.

Builds a fresh database in a temporary folder (SQLite by default, PostgreSQL with
--postgres or when DATABASE_URL is set), creates the schema with the migrations and
bulk-loads 100,000 referrals with their reasons, 1,000,000 contacts (some logged by
volunteer buddies), 5,000 volunteers with their DBS checks, training and hours,
200,000 wellbeing measure responses, a directory of activities with referrals to them,
and three years of outcome reports to the practices. It logs in as a commissioner and
as a hub coordinator through the test client and times whole GET requests (routing,
queries, rendering).

The SQL statement count of each page is measured at a small size first and again at
full size. At full size every statement of one request is run again on its own a few
times (execute and fetch) and listed slowest first, with its median time, the rows it
returns and the portal function that sent it; --explain adds each slow statement's plan.

Performance is reported, never asserted: the script exits non-zero only on errors (a
load that fails, a page that fails), not on slow figures. A page that does not exist
yet (404) is reported as missing.

    .venv/bin/python benchmarks/dashboards.py                # SQLite
    .venv/bin/python benchmarks/dashboards.py --postgres     # a throwaway PostgreSQL server
    DATABASE_URL=postgresql://... .venv/bin/python benchmarks/dashboards.py
    .venv/bin/python benchmarks/dashboards.py --explain --profile 20   # where the time goes
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import shutil
import statistics
import sys
import time
import traceback
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sqlalchemy as sa
from caseload import (
    _TMP,
    CASE_STATUSES,
    CONTACT_COLUMNS,
    COORDINATOR_EMAIL,
    PASSWORD,
    ROOT,
    Planner,
    Result,
    Statements,
    choose_backend,
    insert_rows,
    make_app,
    print_plans,
    profile,
    timed,
)
from flask import Flask
from matching import (
    ACTIVITY_KINDS,
    PLACES,
    REASONS,
    TRAINING,
    VOLUNTEER_STATUSES,
    _months_ago,
    _postcode,
    _weighted,
)
from reports import bulk

from portal.alerts.models import Alert
from portal.auth.models import Role, User
from portal.auth.passwords import hash_password
from portal.cases.models import Contact
from portal.dashboard import facts
from portal.dashboard.filters import LONGEST_RANGE_YEARS, _years_after
from portal.db_types import london_today, utcnow
from portal.directory.models import (
    CATEGORY_BITS,
    Activity,
    ActivityCategory,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
    day_bit,
    postcode_district,
    searchable_text,
)
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Practice,
    Referral,
    ReferralReasonLink,
    ReferralStatus,
    ReportFrequency,
    Resident,
)
from portal.referrals.working_days import add_working_days
from portal.reports.models import (
    DeliveryStatus,
    OutcomeReport,
    QueuedOutcome,
    ReportAttempt,
    ReportEvent,
)
from portal.reports.periods import london_date, london_midnight
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    HoursKind,
    LeftReason,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)
from portal.volunteers.profile import INTERESTS, SLOTS
from portal.volunteers.time_given import BUDDY_METHODS

SEED = 20261123
COMMISSIONER_EMAIL = "commissioner@bench.invalid"
TARGET_MS = 300
ORGANISATIONS = 150
VERIFIED = 135
ACTIVITIES = 2_000
VOLUNTEER_USER_BASE = 10_000  # volunteers' user ids start after it; staff come before
DBS_RENEWAL_MONTHS = 36
FIGURES = 'class="portal-dashboard-table"'  # on the commissioner dashboard when it has figures

S = ReferralStatus
V = VolunteerStatus
A = ActivityReferralStatus
C = ClosureReason
ENGAGED = (C.GOALS_MET, C.CONNECTED)  # closures most likely to have a closing measure
LEFT_REASONS = tuple(r for r in LeftReason if r != LeftReason.DISMISSED)
HOURS_KINDS = (
    (HoursKind.TRAINING, 12, (60, 240)),
    (HoursKind.TRAVEL, 30, (15, 90)),
    (HoursKind.ADMIN, 20, (15, 60)),
    (HoursKind.SUPERVISION, 15, (30, 120)),
    (HoursKind.EVENT, 15, (60, 240)),
    (HoursKind.OTHER, 8, (15, 120)),
)
# What became of activity referrals, by the case's status.
ACTIVITY_OUTCOMES = {
    S.ASSIGNED: ((A.SUGGESTED, 60), (A.SENT, 40)),
    "recent": ((A.SUGGESTED, 30), (A.SENT, 70)),  # an active case, made in the last 2 weeks
    S.ACTIVE: (
        (A.SUGGESTED, 5),
        (A.SENT, 10),
        (A.ACCEPTED, 25),
        (A.ATTENDED, 30),
        (A.DECLINED, 15),
        (A.STOPPED, 10),
        (A.SIGNPOSTED, 5),
    ),
    S.CLOSED: (
        (A.SUGGESTED, 5),
        (A.SENT, 5),
        (A.ACCEPTED, 10),
        (A.ATTENDED, 35),
        (A.DECLINED, 15),
        (A.STOPPED, 20),
        (A.SIGNPOSTED, 10),
    ),
}
ORGANISATION_WORDS = ("Community Trust", "Neighbours", "Age Well", "Together", "Friends")
DECLINES = ("The group is full", "Not suitable for the person's needs", "No reply from the person")


# --- planning and loading ------------------------------------------------------------------


@functools.cache
def _respond_by(sent: date) -> date:
    return add_working_days(sent, 10)


@dataclass
class Seeder:
    """caseload.Planner's referrals, residents, contacts and alerts, plus everything else
    the dashboards count, loaded in the same two phases (a small sample, then the rest)."""

    planner: Planner
    volunteers: int
    measures: int
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    today: date = field(default_factory=london_today)
    modules: list[tuple[int, int | None, bool, bool, bool]] = field(default_factory=list)
    activity_ids: list[int] = field(default_factory=list)  # published, taking referrals
    small_volunteers: set[int] = field(default_factory=set)  # volunteer ids
    volunteer_rows: list[dict] = field(default_factory=list)
    # Active buddies with room: [True] for small-phase cases, [False] for the others.
    buddy_pool: dict[bool, list[dict]] = field(default_factory=dict)
    # Rows planned for each referral or volunteer: extras[kind][owner id] = [row, ...].
    extras: dict[str, dict[int, list]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    reports: list[dict] = field(default_factory=list)
    attempts: dict[int, list[dict]] = field(default_factory=dict)  # by report id
    held_back: list[dict] = field(default_factory=list)  # queued outcomes loaded with "rest"
    loaded: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)

    @property
    def now(self) -> datetime:
        return self.planner.now

    # --- reference data ---------------------------------------------------------------------

    def reference_data(self) -> None:
        p, rng = self.planner, self.rng
        p.reference_data()  # neighbourhoods, practices, navigators and the coordinator
        with db.engine.begin() as conn:
            for pid in p.practices:
                conn.execute(
                    sa.update(Practice)
                    .where(Practice.id == pid)
                    .values(
                        list_size=rng.randint(2_500, 16_000),
                        # A few have no secure mailbox: their reports stay in the inbox.
                        report_mailbox=None if pid % 6 == 0 else f"y{pid:05d}.reports@nhs.invalid",
                        report_frequency=(
                            ReportFrequency.MONTHLY if pid % 7 == 0 else ReportFrequency.WEEKLY
                        ),
                    )
                )
            for n, uid in enumerate([p.navigator_id, *p.others]):
                conn.execute(
                    sa.update(User)
                    .where(User.id == uid)
                    .values(
                        caseload_capacity=220 if uid == p.navigator_id else rng.randint(170, 260),
                        neighbourhood_id=n % 6 + 1,
                    )
                )
            conn.execute(
                sa.insert(User),
                [
                    {
                        "email": COMMISSIONER_EMAIL,
                        "full_name": "Bench Commissioner",
                        "role": Role.COMMISSIONER,
                        "password_hash": hash_password(PASSWORD),
                        "session_token": uuid.uuid4().hex,
                        "created_at": self.now - timedelta(days=3 * 365),
                    }
                ],
            )
        bulk(
            TrainingModule.__table__,
            [
                {
                    "id": i,
                    "name": name,
                    "valid_for_months": months,
                    "required_for_buddy": buddy,
                    "required_for_navigator": navigator,
                    "required_for_befriender": befriender,
                    "is_active": True,
                }
                for i, (name, months, buddy, navigator, befriender) in enumerate(TRAINING, 1)
            ],
        )
        self.modules = [(i, t[1], *t[2:]) for i, t in enumerate(TRAINING, 1)]
        self._directory()

    def _directory(self) -> None:
        """Organisations and activities, with the derived columns the app would set."""
        rng, now = self.rng, self.now
        created = now - timedelta(days=4 * 365)
        organisations = [
            {
                "id": i,
                "name": f"{rng.choice(PLACES)} {rng.choice(ORGANISATION_WORDS)} {i}",
                "email": f"hello{i}@org.invalid",
                "postcode": _postcode(rng),
                "verified_at": created + timedelta(days=rng.randrange(60))
                if i <= VERIFIED
                else None,
                "created_at": created,
            }
            for i in range(1, ORGANISATIONS + 1)
        ]
        activities = []
        for i in range(1, ACTIVITIES + 1):
            kind, categories = rng.choice(ACTIVITY_KINDS)
            place = rng.choice(PLACES)
            days = sorted(rng.sample(range(7), rng.choice((1, 1, 1, 2))))
            start = clock(rng.choice((9, 10, 11, 13, 14, 18)), rng.choice((0, 30)))
            postcode = _postcode(rng)
            status = _weighted(
                rng,
                (
                    (ActivityStatus.PUBLISHED, 85),
                    (ActivityStatus.PAUSED, 5),
                    (ActivityStatus.DRAFT, 5),
                    (ActivityStatus.ARCHIVED, 5),
                ),
            )
            title = f"{place} {kind}"
            description = f"A friendly {kind} in {place}. Everyone welcome."
            venue = f"{place} Community Centre"
            activities.append(
                {
                    "id": i,
                    "organisation_id": rng.randint(1, ORGANISATIONS),
                    "title": title,
                    "description": description,
                    "categories": list(categories),
                    "frequency": rng.choice(tuple(Frequency)),
                    "days": days,
                    "start_time": start,
                    "end_time": clock(start.hour + 2, start.minute),
                    "venue_name": venue,
                    "postcode": postcode,
                    "online": rng.random() < 0.08,
                    "cost_pence": rng.choice((None, None, 0, 200, 350)),
                    "step_free": rng.random() < 0.6,
                    "hearing_loop": rng.random() < 0.2,
                    "accessible_toilet": rng.random() < 0.5,
                    "capacity": rng.choice((None, 12, 20, 30)),
                    "spaces_available": rng.choice((None, 0, 3, 8)),
                    "accepts_referrals": rng.random() < 0.85,
                    "status": status,
                    "last_confirmed_on": _months_ago(self.today, 0, 14, rng),
                    "days_mask": sum(day_bit(d) for d in days),
                    "categories_mask": sum(CATEGORY_BITS[c] for c in set(categories)),
                    "postcode_district": postcode_district(postcode),
                    "search_text": searchable_text(
                        title,
                        description,
                        venue,
                        " ".join(ActivityCategory(c).label for c in categories),
                    ),
                    "created_at": created,
                    "updated_at": created,
                }
            )
        bulk(Organisation.__table__, organisations)
        bulk(Activity.__table__, activities)
        self.activity_ids = [
            a["id"]
            for a in activities
            if a["status"] == ActivityStatus.PUBLISHED and a["accepts_referrals"]
        ]
        self.loaded.update(organisations=len(organisations), activities=len(activities))

    # --- planning ---------------------------------------------------------------------------

    def plan(self, small: int) -> None:
        p = self.planner
        p.plan()
        share = small / p.referrals
        self._plan_volunteers(max(50, round(self.volunteers * share)))
        for row in p.rows:
            self._plan_referral_extras(row)
        self._trim_measures()
        self._plan_reports()

    def _plan_volunteers(self, small: int) -> None:
        rng, today, now = self.rng, self.today, self.now
        self.small_volunteers = set(range(1, small + 1))
        self.buddy_pool = {True: [], False: []}
        for vid in range(1, self.volunteers + 1):
            status = _weighted(rng, VOLUNTEER_STATUSES)
            if status in (V.APPLIED, V.VETTING):
                applied = now - timedelta(days=rng.uniform(2, 120))
            else:
                applied = now - timedelta(days=rng.uniform(60, 4 * 365))
            joined = None
            if status not in (V.APPLIED, V.VETTING):
                joined = london_date(applied) + timedelta(days=rng.randint(20, 60))
            changed = None
            if status in (V.PAUSED, V.LEFT):
                changed = datetime.combine(
                    joined + (today - joined) * rng.uniform(0.3, 0.99), clock(11), now.tzinfo
                )
            buddy = rng.random() < 0.72
            navigator = rng.random() < 0.03
            befriender = rng.random() < 0.45 or not (buddy or navigator)
            roles = (buddy, navigator, befriender)
            row = {
                "id": vid,
                "user_id": VOLUNTEER_USER_BASE + vid,
                "status": status,
                "left_reason": rng.choice(LEFT_REASONS) if status == V.LEFT else None,
                "status_note": "Needs a break for a few months" if status == V.PAUSED else None,
                "status_changed_at": changed,
                "role_buddy": buddy,
                "role_navigator": navigator,
                "role_befriender": befriender,
                "postcode": _postcode(rng),
                "gender": rng.choice(("Woman", "Woman", "Man", None)),
                "languages": ["English"],
                "interests": rng.sample(INTERESTS, 3),
                "availability": rng.sample(SLOTS, 4),
                "max_buddies": rng.choice((1, 2, 2, 3)),
                "privacy_consent_at": applied,
                "references_requested_on": london_date(applied) + timedelta(days=3),
                "referee_1_name": "A Referee",
                "referee_1_received_on": joined,
                "applied_at": applied,
                "joined_on": joined,
                **self._dbs(status),
            }
            self.volunteer_rows.append(row)
            self.extras["training"][vid] = self._training(vid, roles, joined)
            self.extras["hours"][vid] = self._hours(row)
            if status == V.ACTIVE and buddy:
                slot = {"id": vid, "user_id": row["user_id"], "room": row["max_buddies"]}
                self.buddy_pool[vid in self.small_volunteers].append(slot)
        # Small-phase cases take small-phase buddies; the others may take anyone.
        self.buddy_pool[False] += self.buddy_pool[True]

    def _dbs(self, status: VolunteerStatus) -> dict:
        """A check for most; a few lapsed and some due for renewal in the next two months."""
        rng, today = self.rng, self.today
        if status == V.APPLIED or (status == V.VETTING and rng.random() < 0.5):
            return dict.fromkeys(
                (
                    "dbs_level",
                    "dbs_certificate_number",
                    "dbs_issue_date",
                    "dbs_update_service",
                    "dbs_checked_at",
                )
            ) | {"dbs_update_service": False}
        update_service = rng.random() < 0.3
        roll = rng.random()
        if update_service:
            issued = _months_ago(today, 1, 70, rng)
        elif roll < 0.06:
            issued = _months_ago(today, DBS_RENEWAL_MONTHS + 0.5, 50, rng)  # lapsed
        elif roll < 0.16:
            self.loaded["volunteers with DBS renewal due within 60 days"] += 1
            issued = today - timedelta(days=round(DBS_RENEWAL_MONTHS * 30.44) - rng.randint(1, 60))
        else:
            issued = _months_ago(today, 1, DBS_RENEWAL_MONTHS - 2.5, rng)
        return {
            "dbs_level": DbsLevel.STANDARD if rng.random() < 0.05 else DbsLevel.ENHANCED,
            "dbs_certificate_number": f"{rng.randrange(10**11, 10**12)}",
            "dbs_issue_date": issued,
            "dbs_update_service": update_service,
            "dbs_checked_at": datetime.combine(issued, clock(10), self.now.tzinfo)
            + timedelta(days=5),
        }

    def _training(self, vid: int, roles: tuple[bool, ...], joined: date | None) -> list[dict]:
        """Required modules done, most in date, about 8% expiring within 60 days."""
        rng, today = self.rng, self.today
        rows = []
        for module_id, months, *needed in self.modules:
            required = any(held and need for held, need in zip(roles, needed, strict=True))
            done = (rng.random() > 0.02) if required and joined else rng.random() < 0.15
            if not done:
                continue
            roll = rng.random()
            if months is None:
                completed = _months_ago(today, 1, 40, rng)
            elif roll < 0.08:
                self.loaded["training records expiring within 60 days"] += 1
                completed = today - timedelta(days=round(months * 30.44) - rng.randint(1, 60))
            elif roll < 0.11:
                completed = _months_ago(today, months + 0.5, months + 8, rng)  # lapsed
            else:
                completed = _months_ago(today, 0.5, months - 2.5, rng)
            rows.append(
                {
                    "volunteer_id": vid,
                    "module_id": module_id,
                    "completed_on": completed,
                    "trainer": "Hub training team",
                    "created_at": datetime.combine(completed, clock(12), self.now.tzinfo),
                }
            )
        return rows

    def _hours(self, volunteer: dict) -> list[dict]:
        """Other time given, about every three weeks from joining to pausing or leaving."""
        rng = self.rng
        joined = volunteer["joined_on"]
        if joined is None:
            return []
        changed = volunteer["status_changed_at"]
        end = london_date(changed) if changed else self.today
        rows, day = [], joined + timedelta(days=rng.randint(0, 14))
        while day <= end:
            kind, _, (low, high) = _weighted(rng, [((k, w, r), w) for k, w, r in HOURS_KINDS])
            rows.append(
                {
                    "volunteer_id": volunteer["id"],
                    "worked_on": day,
                    "kind": kind,
                    "minutes": rng.randint(low, high),
                    "created_at": datetime.combine(day, clock(17), self.now.tzinfo),
                }
            )
            day += timedelta(days=max(1, round(rng.expovariate(1 / 22))))
        return rows

    def _plan_referral_extras(self, row: dict) -> None:
        rng = self.rng
        rid = row["id"]
        k = rng.choice((1, 1, 1, 2, 2, 3))
        reasons = set()
        while len(reasons) < k:
            reasons.add(_weighted(rng, REASONS))
        self.extras["reasons"][rid] = [{"referral_id": rid, "reason": r} for r in reasons]
        if row["navigator_id"] is None:
            return
        status, reason = row["status"], row["closure_reason"]
        if reason == C.UNABLE_TO_CONTACT:
            return
        self._plan_buddy(row)
        if status != S.ASSIGNED:
            self._plan_measures(row)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            self._plan_activity_referral(row)

    def _plan_buddy(self, row: dict) -> None:
        rng = self.rng
        candidates = self.buddy_pool[row["id"] in self.planner.small_ids]
        if not candidates:
            return
        status, assigned = row["status"], row["assigned_at"]
        roll = rng.random()
        if status == S.ACTIVE and roll < 0.3:
            kind = BuddyMatchStatus.ACTIVE
        elif status == S.CLOSED and roll < 0.15:
            kind = BuddyMatchStatus.ENDED
        elif status in CASE_STATUSES and roll < 0.36:
            kind = rng.choice((BuddyMatchStatus.PROPOSED, BuddyMatchStatus.DECLINED))
        else:
            return
        if kind == BuddyMatchStatus.ACTIVE:
            with_room = [v for v in rng.sample(candidates, min(20, len(candidates))) if v["room"]]
            if not with_room:
                return
            volunteer = with_room[0]
            volunteer["room"] -= 1
        else:
            volunteer = rng.choice(candidates)
        end = row["closed_at"] or self.now
        proposed = self.planner._after(assigned, 3, 20)
        responded = (
            None if kind == BuddyMatchStatus.PROPOSED else self.planner._after(proposed, 1, 5)
        )
        ended = None
        if kind == BuddyMatchStatus.ENDED:
            ended = responded + (end - responded) * rng.uniform(0.6, 1.0)
        self.extras["buddies"][row["id"]].append(
            {
                "referral_id": row["id"],
                "volunteer_id": volunteer["id"],
                "user_id": volunteer["user_id"],  # not a column: who logs the contacts
                "status": kind,
                "proposed_by_id": row["navigator_id"],
                "proposed_at": proposed,
                "responded_at": responded,
                "ended_at": ended,
                "end_reason": "Support came to an end" if ended else None,
                "decline_reason": "Too far away for me"
                if kind == BuddyMatchStatus.DECLINED
                else None,
                "ended_by_id": row["navigator_id"] if ended else None,
            }
        )

    def _plan_measures(self, row: dict) -> None:
        """Baseline sittings for most, a review on longer cases, closing ones for most cases
        that ended well. Answers drift the right way between baseline and closing."""
        rng, p = self.rng, self.planner
        assigned, closed = row["assigned_at"], row["closed_at"]
        end = closed or self.now
        out = self.extras["measures"][row["id"]]
        low = rng.random() < 0.6  # starts with low wellbeing
        sittings = [(Stage.BASELINE, p._after(assigned, 1, 14), 0.8)]
        if (end - assigned).days > 90:
            sittings.append((Stage.REVIEW, p._after(assigned, 60, 120), 0.35))
        if closed is not None:
            chance = 0.7 if row["closure_reason"] in ENGAGED else 0.3
            sittings.append((Stage.CLOSING, closed - timedelta(days=rng.uniform(0, 3)), chance))
        for stage, at, chance in sittings:
            better = {Stage.BASELINE: 0, Stage.REVIEW: 1, Stage.CLOSING: 2}[stage]
            for scale in (Scale.ONS4, Scale.SWEMWBS, Scale.UCLA3):
                if rng.random() >= chance:
                    continue
                declined = rng.random() < 0.05
                answers = None if declined else self._answers(scale, low, better)
                out.append(
                    {
                        "referral_id": row["id"],
                        "scale": scale,
                        "stage": stage,
                        "answers": answers,
                        "score": None if declined else scales.score(scale, answers),
                        "declined": declined,
                        "recorded_by_id": row["navigator_id"],
                        "recorded_at": at + timedelta(minutes=rng.randint(0, 20)),
                    }
                )

    def _answers(self, scale: Scale, low: bool, better: int) -> list[int]:
        rng = self.rng

        def item(lo: int, hi: int, good_high: bool) -> int:
            shift = better * rng.choice((0, 0, 1, 1, 2)) * (1 if good_high else -1)
            base = rng.randint(lo, hi)
            if low:
                base = lo + (base - lo) // 2 if good_high else hi - (hi - base) // 2
            return max(lo, min(hi, base + shift))

        if scale == Scale.ONS4:  # satisfied, worthwhile, happy (high good); anxious (low good)
            return [item(0, 10, True), item(0, 10, True), item(0, 10, True), item(0, 10, False)]
        if scale == Scale.SWEMWBS:
            return [item(1, 5, True) for _ in range(7)]
        return [item(1, 3, False) for _ in range(3)]

    def _trim_measures(self) -> None:
        """Exactly --measures responses: keep a random subset of those planned."""
        measures = self.extras["measures"]
        planned = [(rid, n) for rid, rows in measures.items() for n in range(len(rows))]
        if len(planned) <= self.measures:
            return
        keep = set(self.rng.sample(planned, self.measures))
        for rid in list(measures):
            measures[rid] = [m for n, m in enumerate(measures[rid]) if (rid, n) in keep]

    def _plan_activity_referral(self, row: dict) -> None:
        rng, p = self.rng, self.planner
        status = row["status"]
        created = p._after(row["assigned_at"], 1, 90)
        if status == S.ACTIVE and self.now - created < timedelta(days=14):
            outcome = _weighted(rng, ACTIVITY_OUTCOMES["recent"])
        else:
            outcome = _weighted(rng, ACTIVITY_OUTCOMES[status])
        # A few popular activities get most referrals.
        activity = self.activity_ids[
            min(int(rng.paretovariate(1.2)) - 1, len(self.activity_ids) - 1)
        ]
        if rng.random() < 0.5:
            activity = rng.choice(self.activity_ids)
        sent = None
        if outcome not in (A.SUGGESTED, A.SIGNPOSTED):
            sent = p._after(created, 0, 2)
        responded = None
        if outcome in (A.ACCEPTED, A.DECLINED, A.ATTENDED, A.STOPPED):
            responded = p._after(sent, 1, 12)
        ended = p._after(responded, 20, 120) if outcome == A.STOPPED else None
        self.extras["activity_referrals"][row["id"]].append(
            {
                "referral_id": row["id"],
                "activity_id": activity,
                "status": outcome,
                "decline_reason": rng.choice(DECLINES) if outcome == A.DECLINED else None,
                "respond_by": _respond_by(london_date(sent)) if sent else None,
                "consent_confirmed": sent is not None,
                "person_name": "Shared first name" if sent else None,
                "created_by_id": row["navigator_id"],
                "created_at": created,
                "sent_at": sent,
                "responded_at": responded,
                "ended_at": ended,
                "end_reason": "Stopped going" if ended else None,
            }
        )

    def _plan_reports(self) -> None:
        """Each practice's scheduled outcome reports for three years, with the closed
        referrals each carried, and the queued outcomes that fed them."""
        p = self.planner
        with db.engine.connect() as conn:
            practices = {
                pid: (frequency, mailbox)
                for pid, frequency, mailbox in conn.execute(
                    sa.select(Practice.id, Practice.report_frequency, Practice.report_mailbox)
                )
            }
        closed = defaultdict(list)  # (practice, London date) -> referrals closed that day
        for row in p.rows:
            if row["closed_at"] is not None and row["practice_id"] is not None:
                closed[row["practice_id"], london_date(row["closed_at"])].append(row)
        first = self.today - timedelta(days=3 * 365)
        report_id = 0
        latest_end = {}
        for pid, (frequency, mailbox) in sorted(practices.items()):
            for start, end in _periods(frequency, first, self.today):
                people = [
                    r
                    for d in range((end - start).days + 1)
                    for r in closed.get((pid, start + timedelta(days=d)), ())
                ]
                report_id += 1
                self._report(report_id, pid, start, end, mailbox, people)
                latest_end[pid] = end
                for r in people:
                    self.extras["queued"][r["id"]].append(
                        {
                            "referral_id": r["id"],
                            "practice_id": pid,
                            "event": ReportEvent.CLOSED,
                            "queued_at": r["closed_at"],
                            "report_id": report_id,
                        }
                    )
        # Closures since each practice's last report are still waiting.
        for (pid, day), rows in closed.items():
            if day > latest_end[pid]:
                for r in rows:
                    self.extras["queued"][r["id"]].append(
                        {
                            "referral_id": r["id"],
                            "practice_id": pid,
                            "event": ReportEvent.CLOSED,
                            "queued_at": r["closed_at"],
                            "report_id": None,
                        }
                    )

    def _report(
        self, rid: int, pid: int, start: date, end: date, mailbox: str | None, people: list
    ) -> None:
        rng, now = self.rng, self.now
        claimed = london_midnight(end + timedelta(days=1)) + timedelta(hours=6)
        claimed = min(claimed, now - timedelta(minutes=5))
        recent = now - claimed < timedelta(days=3)
        attempts: list[tuple[DeliveryStatus, datetime, str | None]] = []
        roll = rng.random()  # drawn every time, so the rows do not depend on the hour of the run
        if not people:
            status = DeliveryStatus.EMPTY
        elif mailbox is None:
            status = DeliveryStatus.INBOX_ONLY
        elif recent and roll < 0.3:
            status = DeliveryStatus.RETRYING
            attempts = [
                (status, claimed + timedelta(minutes=15 * n), "SMTP timeout")
                for n in range(rng.randint(1, 3))
            ]
        elif roll < 0.02:
            status = DeliveryStatus.FAILED
            attempts = [
                (DeliveryStatus.RETRYING, claimed + timedelta(minutes=15 * n), "Mailbox full")
                for n in range(4)
            ]
            attempts.append((status, claimed + timedelta(hours=2), "Mailbox full"))
        else:
            status = DeliveryStatus.SENT
            attempts = [(status, claimed + timedelta(seconds=rng.randint(2, 30)), None)]
        sent_at = attempts[-1][1] if status == DeliveryStatus.SENT else None
        self.reports.append(
            {
                "id": rid,
                "claim_key": f"scheduled:{pid}:{start.isoformat()}:{end.isoformat()}",
                "practice_id": pid,
                "period_start": start,
                "period_end": end,
                "referral_ids": [r["id"] for r in people],
                "summaries": [
                    {
                        "reference": r["reference"],
                        "closure_reason": r["closure_reason"].value,
                        "summary": r["outcome_summary"],
                    }
                    for r in people
                ],
                "status": status,
                "attempts": len(attempts),
                "last_error": attempts[-1][2] if attempts else None,
                "claimed_at": claimed,
                "attempt_started_at": attempts[-1][1] if attempts else None,
                "next_attempt_at": claimed + timedelta(hours=1)
                if status == DeliveryStatus.RETRYING
                else None,
                "sent_at": sent_at,
                "sent_to": mailbox if sent_at else None,
                "message_id": f"<report-{rid}@bench.invalid>" if attempts else None,
                "read_at": claimed + timedelta(days=rng.uniform(0, 5))
                if status in (DeliveryStatus.SENT, DeliveryStatus.INBOX_ONLY) and rng.random() < 0.7
                else None,
            }
        )
        self.attempts[rid] = [
            {
                "report_id": rid,
                "at": at,
                "outcome": outcome,
                "sent_to": mailbox,
                "error": error,
                "by": "scheduler",
            }
            for outcome, at, error in attempts
        ]

    # --- loading ----------------------------------------------------------------------------

    def _timed_bulk(self, name: str, table: sa.Table, rows: list[dict]) -> None:
        start = time.perf_counter()
        bulk(table, rows)
        self.seconds[name] += time.perf_counter() - start
        self.loaded[name] += len(rows)

    def load(self, phase: str) -> None:
        """The small sample ("small") or everything else ("rest")."""
        p = self.planner
        small = phase == "small"
        rows = [r for r in p.rows if (r["id"] in p.small_ids) == small]
        ids = [r["id"] for r in rows]
        extras = self.extras

        def of(kind: str) -> list[dict]:
            return [x for rid in ids for x in extras[kind].get(rid, ())]

        resident_ids = sorted({r["resident_id"] for r in rows})
        residents = [p.residents.pop(i) for i in resident_ids if i in p.residents]
        self._timed_bulk("residents", Resident.__table__, residents)
        self._timed_bulk("referrals", Referral.__table__, rows)
        self._timed_bulk("referral_reasons", ReferralReasonLink.__table__, of("reasons"))

        volunteers = [v for v in self.volunteer_rows if (v["id"] in self.small_volunteers) == small]
        self._timed_bulk(
            "volunteer users",
            User.__table__,
            [
                {
                    "id": v["user_id"],
                    "email": f"volunteer{v['id']}@bench.invalid",
                    "full_name": f"Volunteer {v['id']}",
                    "role": Role.VOLUNTEER,
                    "is_active": v["status"] != V.LEFT,
                    "session_token": uuid.uuid4().hex,
                    "created_at": v["applied_at"],
                }
                for v in volunteers
            ],
        )
        self._timed_bulk("volunteers", Volunteer.__table__, volunteers)
        vids = [v["id"] for v in volunteers]
        self._timed_bulk(
            "training_records",
            TrainingRecord.__table__,
            [t for vid in vids for t in extras["training"][vid]],
        )
        hours = sorted(
            (h for vid in vids for h in extras["hours"][vid]), key=lambda h: h["worked_on"]
        )
        self._timed_bulk("volunteer_hours", VolunteerHours.__table__, hours)
        matches = of("buddies")
        self._timed_bulk(
            "buddy_matches",
            BuddyMatch.__table__,
            [{k: v for k, v in m.items() if k != "user_id"} for m in matches],
        )

        contacts = []
        for row in rows:
            contacts.extend(self._contacts_of(row, extras["buddies"].get(row["id"], ())))
        contacts.sort(key=lambda c: c[2])  # by occurred_at, as they were logged
        start = time.perf_counter()
        insert_rows(Contact.__table__, CONTACT_COLUMNS, contacts)
        self.seconds["contacts"] += time.perf_counter() - start
        self.loaded["contacts"] += len(contacts)
        self.loaded["contacts by volunteers"] += sum(
            1 for c in contacts if c[1] > VOLUNTEER_USER_BASE
        )
        del contacts

        alerts = [a for row in rows for a in p._alerts_of(row)]
        alerts.sort(key=lambda a: a["created_at"])
        self._timed_bulk("alerts", Alert.__table__, alerts)
        measures = sorted(of("measures"), key=lambda m: m["recorded_at"])
        self._timed_bulk("measure_responses", MeasureResponse.__table__, measures)
        links = sorted(of("activity_referrals"), key=lambda a: a["created_at"])
        self._timed_bulk("activity_referrals", ActivityReferral.__table__, links)

        # The last four weeks of reports come in the small phase.
        recent = self.today - timedelta(days=28)
        reports = [r for r in self.reports if (r["period_end"] >= recent) == small]
        self._timed_bulk("outcome_reports", OutcomeReport.__table__, reports)
        self._timed_bulk(
            "report_attempts",
            ReportAttempt.__table__,
            [a for r in reports for a in self.attempts[r["id"]]],
        )
        queued = of("queued")
        if small:
            # A small-phase referral's outcome that an older report carried waits for it.
            ready = {None, *(r["id"] for r in reports)}
            self.held_back = [q for q in queued if q["report_id"] not in ready]
            queued = [q for q in queued if q["report_id"] in ready]
        else:
            queued += self.held_back
        self._timed_bulk("queued_outcomes", QueuedOutcome.__table__, queued)

    def _contacts_of(self, row: dict, matches) -> list[tuple]:
        """The planner's contacts; while a buddy match was active, most face-to-face or phone
        contacts on the case are the buddy's."""
        contacts = self.planner._contacts_of(row)
        live = [
            m for m in matches if m["status"] in (BuddyMatchStatus.ACTIVE, BuddyMatchStatus.ENDED)
        ]
        if not live:
            return contacts
        m = live[0]
        end = m["ended_at"] or self.now
        out = []
        for c in contacts:
            if (
                c[1] == row["navigator_id"]
                and m["responded_at"] <= c[2] <= end
                and c[3] in BUDDY_METHODS
                and self.rng.random() < 0.6
            ):
                c = (c[0], m["user_id"], *c[2:])
            out.append(c)
        return out


def _table(name: str) -> sa.Table:
    return db.metadata.tables[name]


def _periods(frequency: ReportFrequency, first: date, today: date):
    """Whole weeks (Monday to Sunday) or calendar months from `first` to before today."""
    if frequency == ReportFrequency.MONTHLY:
        start = first.replace(day=1)
        while True:
            nxt = (start + timedelta(days=32)).replace(day=1)
            if nxt > today:
                return
            yield start, nxt - timedelta(days=1)
            start = nxt
    start = first - timedelta(days=first.weekday())
    while start + timedelta(days=7) <= today:
        yield start, start + timedelta(days=6)
        start += timedelta(days=7)


EXPLICIT_IDS = (
    "neighbourhoods",
    "practices",
    "users",
    "residents",
    "referrals",
    "training_modules",
    "organisations",
    "activities",
    "volunteers",
    "outcome_reports",
)


def analyze() -> None:
    """Sequences past the explicit ids (PostgreSQL), fresh statistics, a fresh pool."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in EXPLICIT_IDS:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        postgres = conn.dialect.name == "postgresql"
        conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    db.engine.dispose()  # SQLite reads the statistics when a connection opens


STALE_AT_ONCE = 100


def time_refresh(count: int) -> float:
    """Milliseconds a dashboard view spends bringing `count` changed referrals up to date."""
    ids = random.Random(SEED).sample(list(db.session.scalars(sa.select(Referral.id))), count)
    facts.mark_stale(db.session.connection(), ids)
    db.session.commit()
    start = time.perf_counter()
    facts.refresh()
    db.session.commit()
    return 1000 * (time.perf_counter() - start)


# --- measuring -----------------------------------------------------------------------------


def _origin() -> str:
    """The innermost function in portal/ that sent the statement being executed."""
    frame = sys._getframe(2)
    portal = str(ROOT / "portal")
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(portal):
            where = Path(name).relative_to(ROOT / "portal")
            return f"{where}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


@dataclass
class TracedStatements(Statements):
    """caseload.Statements, also noting which portal function sent each logged statement."""

    origins: list[str] = field(default_factory=list)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        super()._before(conn, cursor, statement, parameters, context, executemany)
        if self.log is not None:
            self.origins.append(_origin())

    def reset(self, keep_log: bool = False) -> None:
        super().reset(keep_log)
        self.origins = []


class StatementTime(NamedTuple):
    ms: float  # median of the runs: execute and fetch every row
    rows: int | None  # rows returned (None: not a SELECT, timed once in the request)
    origin: str  # the portal function that sent it
    statement: str
    parameters: object


class PageMissing(Exception):
    pass


@dataclass
class Page:
    key: str  # the name in the output lines
    role: str  # "commissioner" or "coordinator"
    path: str
    marker: str  # text the page must contain
    small: Result | None = None
    full: Result | None = None
    missing: str | None = None
    error: str | None = None
    received: str = ""
    slowest: list[StatementTime] = field(default_factory=list)


def _received(html: str) -> str:
    """The "Referrals received" headline, as the page shows it ("?" if it has none)."""
    at = html.find("Referrals received</dt>")
    marker = 'portal-headlines__value">'
    at = html.find(marker, at) if at >= 0 else -1
    if at < 0:
        return "?"
    return html[at + len(marker) : html.find("<", at + len(marker))]


def measure(
    client, stmts: Statements, page: Page, n: int, warmup: int, budget_s: float = 0
) -> Result:
    """n timed requests after the warm-up; fewer (but at least 10) if they take more than
    budget_s seconds in all, so that a page taking seconds does not take the run hours."""
    for i in range(max(warmup, 1)):
        response = client.get(page.path)
        if response.status_code == 404 and i == 0:
            raise PageMissing(f"GET {page.path} answered 404")
        if response.status_code != 200:
            raise RuntimeError(f"GET {page.path} answered {response.status_code}")
    html = response.get_data(as_text=True)
    if page.marker not in html:
        raise RuntimeError(f"GET {page.path} did not contain {page.marker!r}")
    page.received = _received(html)
    times, counts, sql_seconds = [], set(), 0.0
    gc.collect()
    started = time.perf_counter()
    for i in range(n):
        if budget_s and i >= 10 and time.perf_counter() - started > budget_s:
            break
        stmts.reset()
        start = time.perf_counter()
        response = client.get(page.path)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {page.path} answered {response.status_code}")
        counts.add(stmts.count)
        sql_seconds += stmts.seconds
    if len(counts) != 1:
        print(f"# note: {page.key} statement count varied between requests: {sorted(counts)}")
    return Result(
        page.key, page.path, times, max(counts), sql_seconds / len(times) * 1000, page.received
    )


def statement_times(app: Flask, client, stmts: TracedStatements, page: Page, runs: int) -> None:
    """Every statement one request sends, each run again `runs` times on its own (execute
    and fetch every row, straight through the DB-API driver) and timed: the median.

    Timing the request's own cursor.execute would leave out the fetching, which on SQLite
    is where a GROUP BY or a sort hands over its rows."""
    stmts.reset(keep_log=True)
    client.get(page.path)
    log, origins = stmts.log or [], stmts.origins
    stmts.reset()
    timed_rows = []
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            for (statement, parameters, elapsed), origin in zip(log, origins, strict=True):
                if not statement.lstrip().upper().startswith("SELECT"):
                    timed_rows.append(
                        StatementTime(elapsed * 1000, None, origin, statement, parameters)
                    )
                    continue
                samples = []
                for _ in range(runs):
                    cursor = raw.cursor()
                    start = time.perf_counter()
                    cursor.execute(statement, parameters)
                    fetched = cursor.fetchall()
                    samples.append(time.perf_counter() - start)
                    cursor.close()
                ms = statistics.median(samples) * 1000
                timed_rows.append(StatementTime(ms, len(fetched), origin, statement, parameters))
            raw.rollback()
        finally:
            raw.close()
    page.slowest = sorted(timed_rows, key=lambda r: r.ms, reverse=True)


def print_statements(page: Page, backend: str, runs: int) -> None:
    total = sum(r.ms for r in page.slowest) or 1.0
    p50 = f"{page.full.pct(50):.1f} ms" if page.full else "?"
    print(
        f"\n# statements of GET {page.path} as {page.role} ({backend}), slowest first: each "
        f"run {runs} times on its own, median; {total:.1f} ms in all (the request's p50: {p50})"
    )
    for r in page.slowest:
        one_line = " ".join(r.statement.split())
        rows = "-" if r.rows is None else r.rows
        print(
            f"{r.ms:8.2f} ms {100 * r.ms / total:3.0f}% {rows:>6} rows  {r.origin}  |  "
            f"{one_line[:150]}"
        )


def explain(app: Flask, page: Page, min_ms: float, top: int) -> None:
    """The plan of each slow SELECT, with its real parameters."""
    chosen = [r for r in page.slowest if r.ms >= min_ms][:top]
    if not chosen:
        return
    print(f"\n# EXPLAIN for GET {page.path}: the {len(chosen)} statements over {min_ms:g} ms")
    print_plans(
        app,
        [
            (
                f"{ms:.2f} ms, {rows} rows  {origin}\n{statement.strip()}\n-- parameters: {params}",
                statement,
                params,
            )
            for ms, rows, origin, statement, params in chosen
        ],
    )


def login(app: Flask, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login as {email} failed: {response.status_code}")
    if client.get("/dashboard").status_code != 200:
        raise RuntimeError(f"{email} cannot open /dashboard")
    return client


def longest_range_path(today: date) -> str:
    """The commissioner dashboard for the longest range the filters allow, every practice."""
    start = _years_after(today, -LONGEST_RANGE_YEARS) + timedelta(days=1)
    query = {}
    for name, day in (("start", start), ("end", today)):
        query.update(
            {f"{name}[day]": day.day, f"{name}[month]": day.month, f"{name}[year]": day.year}
        )
    query["area"] = ""
    return "/dashboard?" + urlencode(query)


def counts(app: Flask) -> dict[str, int]:
    tables = (
        "referrals",
        "referral_reasons",
        "residents",
        "contacts",
        "alerts",
        "volunteers",
        "training_records",
        "volunteer_hours",
        "buddy_matches",
        "measure_responses",
        "organisations",
        "activities",
        "activity_referrals",
        "outcome_reports",
        "report_attempts",
        "queued_outcomes",
    )
    with app.app_context():
        return {
            t: db.session.scalar(sa.select(sa.func.count()).select_from(_table(t))) for t in tables
        }


def breakdowns(app: Flask, today: date) -> list[str]:
    """How the loaded rows are spread: the mixes the dashboards count."""
    with app.app_context():

        def grouped(column, *where) -> str:
            rows = db.session.execute(
                sa.select(column, sa.func.count()).where(*where).group_by(column).order_by(column)
            ).all()
            return ", ".join(f"{getattr(k, 'value', k)} {n}" for k, n in rows)

        year_ago = london_midnight(today - timedelta(days=365))
        return [
            "referrals by status: " + grouped(Referral.status),
            "referrals by source: " + grouped(Referral.source),
            "closure reasons: "
            + grouped(Referral.closure_reason, Referral.closure_reason.is_not(None)),
            "referrals received in the last 12 months: "
            + str(
                db.session.scalar(
                    sa.select(sa.func.count()).where(Referral.received_at >= year_ago)
                )
            ),
            "volunteers by status: " + grouped(Volunteer.status),
            "measure responses by scale: " + grouped(MeasureResponse.scale),
            "measure responses by stage: " + grouped(MeasureResponse.stage),
            "measure responses declined: "
            + str(
                db.session.scalar(
                    sa.select(sa.func.count()).where(MeasureResponse.declined.is_(True))
                )
            ),
            "activity referrals by status: " + grouped(ActivityReferral.status),
            "activity referrals sent and past respond_by: "
            + str(
                db.session.scalar(
                    sa.select(sa.func.count()).where(
                        ActivityReferral.status == A.SENT, ActivityReferral.respond_by < today
                    )
                )
            ),
            "buddy matches by status: " + grouped(BuddyMatch.status),
            "outcome reports by status: " + grouped(OutcomeReport.status),
        ]


# --- the run -------------------------------------------------------------------------------


def run(args: argparse.Namespace, backend) -> bool:
    """Loads, measures and prints; False if a page failed."""
    timings: dict[str, float] = {}
    name = backend.name
    with timed("migrate", timings):
        app = make_app(backend.url)
    stmts = TracedStatements()
    today = london_today()
    with app.app_context():
        stmts.attach(db.engine)
        planner = Planner(
            now=utcnow(),
            referrals=args.referrals,
            contacts=args.contacts,
            open_cases=min(200, args.referrals // 50),  # the planner's own navigator's cases
            other_navigators=args.navigators - 1,
            small=args.small,
        )
        seeder = Seeder(planner, volunteers=args.volunteers, measures=args.measures, today=today)
        seeder.reference_data()
        with timed("plan", timings):
            seeder.plan(args.small)
        with timed("load_small", timings):
            seeder.load("small")
        with timed("facts_small", timings):
            rebuilt = facts.rebuild()
            db.session.commit()
        with timed("analyze_small", timings):
            analyze()
    small_counts = counts(app)

    pages = [
        Page("commissioner_dashboard", "commissioner", "/dashboard", FIGURES),
        Page(
            "commissioner_dashboard_5y",
            "commissioner",
            longest_range_path(today),
            FIGURES,
        ),
        Page("hub_dashboard", "coordinator", args.hub_path, "<h1"),
    ]
    clients = {
        "commissioner": login(app, COMMISSIONER_EMAIL),
        "coordinator": login(app, COORDINATOR_EMAIL),
    }
    gc.collect()
    gc.freeze()
    for page in pages:
        try:
            page.small = measure(clients[page.role], stmts, page, args.small_requests, 2)
        except PageMissing as missing:
            page.missing = str(missing)
        except Exception:  # reported; the run goes on to the other pages
            page.error = traceback.format_exc()
            print(f"# ERROR at the small size, {page.key}:\n{page.error}", file=sys.stderr)
    gc.unfreeze()

    with app.app_context():
        with timed("load_full", timings):
            seeder.load("rest")
        # The bulk load bypasses the ORM, so nothing was marked: work every referral out.
        with timed("facts_full", timings):
            rebuilt = facts.rebuild()
            db.session.commit()
        with timed("analyze_full", timings):
            analyze()
        refresh_ms = time_refresh(STALE_AT_ONCE)
    loaded, load_seconds = seeder.loaded, seeder.seconds
    del seeder, planner  # millions of planned rows need not sit in memory while timing
    gc.collect()
    full_counts = counts(app)
    mixes = breakdowns(app, today)

    for page in pages:
        if page.missing or page.error:
            continue
        try:
            page.full = measure(
                clients[page.role], stmts, page, args.requests, args.warmup, args.page_seconds
            )
            statement_times(app, clients[page.role], stmts, page, args.statement_runs)
        except PageMissing as missing:
            page.missing = str(missing)
        except Exception:  # reported; the run goes on to the other pages
            page.error = traceback.format_exc()
            print(f"# ERROR at full size, {page.key}:\n{page.error}", file=sys.stderr)

    # --- the report ---
    print(f"\n# dashboards benchmark ({name})")
    print(f"dashboards_backend: {name}")
    print(f"dashboards_load_average: {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
    print("dashboards_rows: " + ", ".join(f"{t} {n}" for t, n in full_counts.items()))
    print("dashboards_rows_small: " + ", ".join(f"{t} {n}" for t, n in small_counts.items()))
    print(f"dashboards_contacts_by_volunteers: {loaded['contacts by volunteers']}")
    for line in mixes:
        print(f"dashboards_mix: {line}")
    load_s = sum(timings[k] for k in ("load_small", "load_full", "analyze_small", "analyze_full"))
    print(f"dashboards_migrate_s: {timings['migrate']:.1f} s")
    print(f"dashboards_plan_s: {timings['plan']:.1f} s")
    print(f"dashboards_load_s: {load_s:.1f} s (including ANALYZE)")
    facts_s = timings["facts_small"] + timings["facts_full"]
    print(f"dashboards_facts_rebuild_s: {facts_s:.1f} s ({rebuilt} referrals' facts worked out)")
    print(
        f"dashboards_facts_refresh_ms: {refresh_ms:.1f} ms "
        f"({STALE_AT_ONCE} changed referrals worked out again, as a page view would)"
    )
    print(
        "dashboards_load_s_by_table: "
        + ", ".join(f"{t} {s:.1f}" for t, s in load_seconds.most_common())
    )
    failed = False
    for page in pages:
        key = page.key
        if page.missing:
            print(f"{key}_p95_ms: n/a ({name}): {page.missing}, not timed")
            print(f"{key}_statements: n/a (small) n/a (full)")
            continue
        if page.error or page.full is None:
            failed = True
            print(f"{key}_p95_ms: ERROR ({name}): see the traceback above")
            small = page.small.statements if page.small else "n/a"
            print(f"{key}_statements: {small} (small) n/a (full)")
            continue
        full, small = page.full, page.small
        print(f"{key}_p95_ms: {full.pct(95):.1f} ms ({name})")
        print(f"{key}_statements: {small.statements} (small) {full.statements} (full)")
        print(
            f"# {key}: p50 {full.pct(50):.1f} ms, max {max(full.times_ms):.1f} ms, sql "
            f"{full.sql_ms:.1f} ms a request, {len(full.times_ms)} requests; at the small size "
            f"p50 {small.pct(50):.1f} ms, p95 {small.pct(95):.1f} ms; "
            f"received shown: {page.received or '-'}; GET {page.path} as {page.role}"
        )
        if small.statements != full.statements:
            print(
                f"# WARNING: {key} sends {small.statements} statements at the small size but "
                f"{full.statements} at full size: something is loaded per row"
            )
        verdict = "within" if full.pct(95) < TARGET_MS else "OVER"
        print(f"# {key}: p95 {full.pct(95):.1f} ms is {verdict} the {TARGET_MS} ms target")
    for page in pages:
        if page.slowest:
            print_statements(page, name, args.statement_runs)
    if args.explain:
        for page in pages:
            if page.slowest:
                explain(app, page, args.explain_ms, args.explain_top)
    if args.profile:
        for page in pages:
            if page.full is not None:
                profile(clients[page.role], page.path, args.profile)
    with app.app_context():
        db.engine.dispose()
    return not failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--volunteers", type=int, default=5_000)
    parser.add_argument("--measures", type=int, default=200_000, help="measure responses")
    parser.add_argument(
        "--navigators", type=int, default=26, help="navigators (caseload.Planner's)"
    )
    parser.add_argument(
        "--small", type=int, default=2_000, help="referrals in the first measurement"
    )
    parser.add_argument("--requests", type=int, default=40, help="timed requests of each page")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=120,
        help="stop timing a page after this long (at least 10 requests); 0: no limit",
    )
    parser.add_argument("--small-requests", type=int, default=10)
    parser.add_argument(
        "--statement-runs",
        type=int,
        default=5,
        help="times each statement of one request is run again on its own (the median is shown)",
    )
    parser.add_argument("--hub-path", default="/dashboard/hub", help="the hub dashboard's path")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/pg_server.py); "
        "DATABASE_URL set means a throwaway database on that server instead",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    parser.add_argument(
        "--explain", action="store_true", help="print the plan of each slow statement"
    )
    parser.add_argument(
        "--explain-ms", type=float, default=2.0, help="explain statements slower than this"
    )
    parser.add_argument("--explain-top", type=int, default=8, help="at most this many a page")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile N requests of each page"
    )
    args = parser.parse_args(argv)
    if not 0 < args.small < args.referrals:
        parser.error("--small must be between 0 and --referrals")
    if args.navigators < 2:
        parser.error("--navigators must be at least 2")

    started = time.perf_counter()
    backend = None
    try:
        backend = choose_backend(args)
        ok = run(args, backend)
    finally:
        if backend is not None:
            backend.cleanup()
        shutil.rmtree(_TMP, ignore_errors=True)
    print(f"dashboards_benchmark_s: {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
