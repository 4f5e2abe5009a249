"""Benchmark: matching buddies, activities and navigators to people, one at a time and in a batch.

Builds a fresh database (SQLite by default; --postgres starts a throwaway PostgreSQL
server; DATABASE_URL set uses a throwaway database on that server), creates the schema
with the migrations, loads the demo area's postcode district centroids and seeds:

- 6 neighbourhood teams, 30 practices, one coordinator and 50 navigators with teams,
  languages and caseload capacities (4 of them volunteer navigators);
- 150 organisations (135 verified) and 2,000 activities, added through the ORM so the
  derived columns (search_text, postcode_district, days_mask...) are filled as in use;
- 1,000 cases waiting for a buddy (active, with a navigator, wants_buddy, availability,
  interests, access needs, goals), 800 other open cases and 1,500 closed ones;
- volunteers in steps of 500, 1,000, 2,000 and 5,000. Most are active buddies or telephone
  befrienders with an enhanced DBS check in date and the mandatory training done; some
  are paused, applied, vetting or left, or have a lapsed DBS check or training, so the
  hard rules exclude them. About a third of the active ones already buddy someone.

At each step it times, in process, `pools.suggest_buddies(referral, today)` and
`ranking.top(5)` for many waiting referrals, and `pools.batch_for_buddies(today)` for
the 1,000 waiting. At 5,000 volunteers it also times the activity and navigator
suggestions, then starts the app under gunicorn on 127.0.0.1 (a free port), logs in
as the coordinator and times the buddy, activity and navigator panels (GET with
`HX-Request: true`) end to end.

Performance is reported, never asserted: the script fails only on errors.

    .venv/bin/python benchmarks/matching.py               # SQLite
    .venv/bin/python benchmarks/matching.py --postgres    # throwaway PostgreSQL
    .venv/bin/python benchmarks/matching.py --profile     # where the time goes
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import http.cookiejar
import io
import math
import os
import pstats
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sqlalchemy as sa
from caseload import (
    _TMP,
    FAMILY,
    GIVEN,
    PASSWORD,
    ROOT,
    STREETS,
    Statements,
    choose_backend,
    insert_dicts,
    login,
    make_app,
)
from flask import Flask

from portal import create_app
from portal.auth.models import Role, User
from portal.auth.passwords import hash_password
from portal.cases.models import Goal, GoalStatus
from portal.db_types import london_today, utcnow
from portal.directory.models import (
    Activity,
    ActivityCategory,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.directory.search import ACCESS_FEATURES
from portal.extensions import db
from portal.matching import activities, batch, buddies, navigators, pools, weights
from portal.matching.engine import Context, rank
from portal.matching.postcodes import load_demo_area
from portal.referrals.models import (
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    Resident,
    Route,
    Urgency,
)
from portal.referrals.queue import referral_with_people
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    LeftReason,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerStatus,
)
from portal.volunteers.profile import INTERESTS, SLOTS

SEED = 20261207
COORDINATOR_EMAIL = "coordinator@bench.invalid"
STEPS = (500, 1_000, 2_000, 5_000)
TARGET_ONE_MS = 50
TARGET_PANEL_MS = 150
TARGET_BATCH_S = 10
NEIGHBOURHOODS = 6
PRACTICES = 30
ORGANISATIONS = 150
VERIFIED = 135
USER_BASE = 1_000  # volunteers' user ids start after it; staff come before

S = ReferralStatus
V = VolunteerStatus
# Where people live: mostly the city's districts, some the county's, a few with no postcode
# or one outside the districts the portal knows (distance is then not counted).
DISTRICTS = (
    ("CV1", 10),
    ("CV2", 16),
    ("CV3", 14),
    ("CV4", 8),
    ("CV5", 10),
    ("CV6", 16),
    ("CV7", 4),
    ("CV8", 4),
    ("CV10", 2),
    ("CV11", 3),
    ("CV12", 2),
    ("CV21", 2),
    ("CV31", 2),
    ("CV32", 2),
    ("CV34", 1),
    (None, 3),
    ("LE10", 1),
)
INWARD = "ABDEFGHJLNPQRSTUWXYZ"
OTHER_LANGUAGES = ("Punjabi", "Polish", "Urdu", "Gujarati", "Ukrainian", "Romanian", "Bengali")
RESIDENT_LANGUAGES = (
    ("English", 84),
    ("Punjabi", 4),
    ("Polish", 3),
    ("Urdu", 3),
    ("Gujarati", 2),
    ("Ukrainian", 2),
    ("Romanian", 1),
    ("Bengali", 1),
)
VOLUNTEER_STATUSES = (
    (V.ACTIVE, 78),
    (V.PAUSED, 7),
    (V.APPLIED, 5),
    (V.VETTING, 4),
    (V.LEFT, 6),
)
R = ReferralReason
REASONS = (
    (R.LONELINESS, 40),
    (R.LOW_MOOD, 15),
    (R.BEREAVEMENT, 8),
    (R.CARER_SUPPORT, 6),
    (R.MONEY, 8),
    (R.HOUSING, 4),
    (R.PHYSICAL_ACTIVITY, 7),
    (R.LONG_TERM_CONDITION, 6),
    (R.DIGITAL_INCLUSION, 4),
    (R.OTHER, 2),
)
GOALS = (
    "Get back to gardening",
    "Join a walking group",
    "Meet people nearby in the afternoons",
    "Learn to video call my grandchildren on a tablet",
    "Sing in a choir again",
    "Sort out my benefits and bills",
    "Feel confident going out on my own",
    "Try chair yoga for my back",
    "Go to a lunch club once a week",
    "Find other carers to talk to",
    "Take up painting",
    "Talk to someone about losing my husband",
    "Get out of the house more",
    "Play cards and board games with others",
)
# (what it is, its directory categories)
ACTIVITY_KINDS = (
    ("walking group", ("physical_activity", "social_connection")),
    ("lunch club", ("social_connection",)),
    ("knit and natter", ("arts", "social_connection")),
    ("community choir", ("arts",)),
    ("men's shed", ("social_connection", "learning")),
    ("gardening club", ("nature",)),
    ("art class", ("arts",)),
    ("coffee morning", ("social_connection",)),
    ("chair yoga", ("physical_activity", "mental_wellbeing")),
    ("digital drop-in", ("digital_skills",)),
    ("money advice session", ("money_advice",)),
    ("carers' café", ("carers", "social_connection")),
    ("book club", ("learning", "social_connection")),
    ("dance class", ("physical_activity", "arts")),
    ("bereavement group", ("mental_wellbeing",)),
    ("tai chi", ("physical_activity",)),
    ("allotment volunteers", ("nature", "volunteering")),
    ("history society", ("learning",)),
    ("bingo afternoon", ("social_connection",)),
    ("faith and friendship group", ("faith_culture", "social_connection")),
    ("walking football", ("physical_activity",)),
    ("mindfulness course", ("mental_wellbeing",)),
)
PLACES = (
    "Foleshill",
    "Tile Hill",
    "Earlsdon",
    "Stoke",
    "Radford",
    "Wood End",
    "Hillfields",
    "Canley",
    "Bell Green",
    "Binley",
    "Kenilworth",
    "Bedworth",
)
# As the demo's hub has them: (name, valid for months, buddy, navigator, befriender).
TRAINING = (
    ("Induction", None, True, True, True),
    ("Safeguarding adults", 36, True, True, True),
    ("Information governance and data protection", 12, True, True, True),
    ("Befriending skills", 36, True, False, True),
    ("Lone working", 24, True, True, False),
    ("Dementia Friends", None, False, False, False),
)


def _weighted(rng: random.Random, mix):
    values, weights_ = zip(*mix, strict=True)
    return rng.choices(values, weights=weights_)[0]


def _postcode(rng: random.Random) -> str | None:
    district = _weighted(rng, DISTRICTS)
    if district is None:
        return None
    return f"{district} {rng.randrange(1, 10)}{rng.choice(INWARD)}{rng.choice(INWARD)}"


def _months_ago(today: date, low: float, high: float, rng: random.Random) -> date:
    return today - timedelta(days=round(rng.uniform(low, high) * 30.44))


# --- loading ----------------------------------------------------------------------------------


def bulk(table: sa.Table, rows: list[dict]) -> None:
    insert_dicts(table, rows)


def settle() -> None:
    """Sequences past the explicit ids (PostgreSQL), fresh statistics, a fresh pool."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in (
                "neighbourhoods",
                "practices",
                "users",
                "volunteers",
                "residents",
                "referrals",
            ):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        postgres = conn.dialect.name == "postgresql"
        conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    db.engine.dispose()


@dataclass
class Seeder:
    """Plans and loads every row from a fixed seed; volunteers come in steps."""

    today: date
    now: datetime
    navigators: int
    activities: int
    waiting: int
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    coordinator_id: int = 1
    navigator_ids: list[int] = field(default_factory=list)
    volunteer_navigator_ids: list[int] = field(default_factory=list)
    modules: list[tuple[int, int | None, bool, bool, bool]] = field(default_factory=list)
    open_activity_ids: list[int] = field(default_factory=list)
    waiting_ids: list[int] = field(default_factory=list)
    closed_ids: list[int] = field(default_factory=list)
    next_resident: int = 1
    next_referral: int = 1
    volunteers: int = 0
    counts: Counter = field(default_factory=Counter)

    # --- staff, places and the directory ------------------------------------------------------

    def reference_data(self) -> None:
        rng = self.rng
        created = self.now - timedelta(days=3 * 365)
        bulk(
            Neighbourhood.__table__,
            [
                {"id": i, "name": f"Neighbourhood {i} INT", "email": f"int{i}@nhs.invalid"}
                for i in range(1, NEIGHBOURHOODS + 1)
            ],
        )
        bulk(
            Practice.__table__,
            [
                {
                    "id": i,
                    "ods_code": f"Y{i:05d}",
                    "name": f"Practice {i:02d} Medical Centre",
                    "neighbourhood_id": (i - 1) % NEIGHBOURHOODS + 1,
                    "address": f"{i} High Street",
                    "postcode": f"CV{i % 6 + 1} {i % 9 + 1}AA",
                    "report_frequency": "weekly",
                    "notify_on_close": False,
                    "list_size": 6000 + 300 * i,
                }
                for i in range(1, PRACTICES + 1)
            ],
        )
        load_demo_area()
        modules = [
            TrainingModule(
                name=name,
                valid_for_months=months,
                required_for_buddy=buddy,
                required_for_navigator=navigator,
                required_for_befriender=befriender,
            )
            for name, months, buddy, navigator, befriender in TRAINING
        ]
        db.session.add_all(modules)
        db.session.commit()
        self.modules = [
            (
                m.id,
                m.valid_for_months,
                m.required_for_buddy,
                m.required_for_navigator,
                m.required_for_befriender,
            )
            for m in modules
        ]

        def user(uid: int, email: str, name: str, role: Role, **extra) -> dict:
            row = {
                "id": uid,
                "email": email,
                "full_name": name,
                "role": role,
                "password_hash": None,
                "is_active": True,
                "session_token": uuid.uuid4().hex,
                "is_volunteer_navigator": False,
                "caseload_capacity": None,
                "neighbourhood_id": None,
                "languages": [],
                "created_at": created,
            }
            row.update(extra)
            return row

        users = [
            user(
                1,
                COORDINATOR_EMAIL,
                "Bench Coordinator",
                Role.COORDINATOR,
                password_hash=hash_password(PASSWORD),
            )
        ]
        for n in range(self.navigators):
            uid = 2 + n
            volunteer = n < 4
            users.append(
                user(
                    uid,
                    f"navigator{n + 1}@bench.invalid",
                    f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                    Role.NAVIGATOR,
                    is_volunteer_navigator=volunteer,
                    caseload_capacity=(
                        rng.randint(8, 15)
                        if volunteer
                        else None
                        if n % 17 == 5
                        else rng.randint(55, 110)
                    ),
                    neighbourhood_id=None if n % 11 == 7 else n % NEIGHBOURHOODS + 1,
                    languages=[rng.choice(OTHER_LANGUAGES)] if rng.random() < 0.3 else [],
                )
            )
            (self.volunteer_navigator_ids if volunteer else self.navigator_ids).append(uid)
        bulk(User.__table__, users)
        self.counts["navigators"] = self.navigators

    def directory(self) -> None:
        rng = self.rng
        organisations = [
            Organisation(
                name=f"{rng.choice(PLACES)} Community Trust {n}",
                description="Local activities for local people.",
                email=f"hello{n}@org.invalid",
                verified_at=self.now - timedelta(days=rng.randint(10, 900))
                if n < VERIFIED
                else None,
            )
            for n in range(ORGANISATIONS)
        ]
        db.session.add_all(organisations)
        db.session.flush()
        pending = []
        for n in range(self.activities):
            kind, categories = rng.choice(ACTIVITY_KINDS)
            place = rng.choice(PLACES)
            online = rng.random() < 0.08
            arranged = rng.random() < 0.04
            frequency = (
                Frequency.BY_ARRANGEMENT
                if arranged
                else rng.choice(
                    (Frequency.WEEKLY,) * 6 + (Frequency.FORTNIGHTLY, Frequency.MONTHLY)
                )
            )
            start = None if arranged else clock(rng.choice((9, 10, 11, 13, 14, 18, 19)), 30)
            spaces = rng.choice((None, None, None, 0, 2, 5, 12))
            ages = rng.random()  # a few are for over-50s, over-65s or young adults
            min_age, max_age = None, None
            if ages < 0.08:
                min_age = 50
            elif ages < 0.12:
                min_age = 65
            elif ages < 0.16:
                min_age, max_age = 18, 30
            status = _weighted(
                rng,
                (
                    (ActivityStatus.PUBLISHED, 88),
                    (ActivityStatus.PAUSED, 6),
                    (ActivityStatus.DRAFT, 4),
                    (ActivityStatus.ARCHIVED, 2),
                ),
            )
            pending.append(
                Activity(
                    organisation=organisations[n % ORGANISATIONS],
                    title=f"{place} {kind}",
                    description=f"A friendly {kind} in {place}. Everyone welcome; "
                    "come along for a cup of tea and a chat.",
                    categories=list(categories)
                    + ([rng.choice(list(ActivityCategory)).value] if rng.random() < 0.2 else []),
                    frequency=frequency,
                    days=[] if arranged else sorted(rng.sample(range(7), rng.randint(1, 2))),
                    starts_on=self.today - timedelta(days=rng.randint(0, 600)),
                    monthly_week=rng.choice((1, 2, 3, -1))
                    if frequency == Frequency.MONTHLY
                    else None,
                    start_time=start,
                    end_time=clock(start.hour + 1, start.minute) if start else None,
                    venue_name=None if online else f"{place} Community Centre",
                    postcode=None if online else _postcode(rng) or f"CV{rng.randint(1, 6)} 1AB",
                    online=online,
                    cost_pence=rng.choice((None, None, None, 200, 350)),
                    min_age=min_age,
                    max_age=max_age,
                    step_free=rng.random() < 0.65,
                    hearing_loop=rng.random() < 0.3,
                    accessible_toilet=rng.random() < 0.5,
                    transport_offered=rng.random() < 0.1,
                    accepts_referrals=rng.random() < 0.82,
                    capacity=None if spaces is None else spaces + rng.randint(5, 20),
                    spaces_available=spaces,
                    status=status,
                    last_confirmed_on=self.today - timedelta(days=rng.randint(0, 300)),
                )
            )
            if len(pending) == 500:
                db.session.add_all(pending)
                db.session.flush()
                self._note_open(pending, organisations)
                pending = []
        db.session.add_all(pending)
        db.session.flush()
        self._note_open(pending, organisations)
        db.session.commit()
        self.counts["activities"] = self.activities

    def _note_open(self, pending: list[Activity], organisations: list[Organisation]) -> None:
        verified = {o.id for o in organisations[:VERIFIED]}
        self.open_activity_ids += [
            a.id
            for a in pending
            if a.status == ActivityStatus.PUBLISHED
            and a.organisation_id in verified
            and a.accepts_referrals
        ]

    # --- people and their cases -----------------------------------------------------------------

    def _resident(self) -> dict:
        rng = self.rng
        rid = self.next_resident
        self.next_resident += 1
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        language = _weighted(rng, RESIDENT_LANGUAGES)
        return {
            "id": rid,
            "nhs_number": None,
            "given_name": given,
            "family_name": family,
            "date_of_birth": date(1932, 1, 1) + timedelta(days=rng.randrange(365 * 70)),
            "address": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}, Coventry",
            "postcode": _postcode(rng),
            "phone": f"07700 9{rng.randrange(100_000):05d}",
            "email": None,
            "preferred_contact": PreferredContact.PHONE,
            "language": language,
            "interpreter_needed": language != "English" and rng.random() < 0.5,
            "gender": rng.choice(("Woman", "Man", "Woman", None)),
            "practice_id": rng.randint(1, PRACTICES) if rng.random() < 0.97 else None,
            "created_at": self.now - timedelta(days=3 * 365),
        }

    def _navigator(self, level: int | None) -> int:
        if level == 1 and self.rng.random() < 0.15:
            return self.rng.choice(self.volunteer_navigator_ids)
        return self.rng.choice(self.navigator_ids)

    def _referral(
        self, resident: dict, status: ReferralStatus, wants_buddy: bool, days_ago: float
    ) -> dict:
        rng = self.rng
        ref_id = self.next_referral
        self.next_referral += 1
        received = self.now - timedelta(days=days_ago, seconds=rng.randrange(86_400))
        source = _weighted(
            rng,
            (
                (ReferralSource.PRACTICE, 70),
                (ReferralSource.SELF, 20),
                (ReferralSource.PROFESSIONAL, 10),
            ),
        )
        practice_id = (
            resident["practice_id"] or rng.randint(1, PRACTICES)
            if source == ReferralSource.PRACTICE
            else None
        )
        level = rng.choice((1, 2, 2, 3))
        triaged = received + timedelta(days=rng.uniform(1, 8))
        assigned = triaged + timedelta(days=rng.uniform(0.1, 3))
        closed = status == S.CLOSED
        closed_at = assigned + timedelta(days=rng.uniform(20, 200)) if closed else None
        wants = wants_buddy and not closed
        row = {
            "id": ref_id,
            "reference": f"SP-M{ref_id:06d}",
            "resident_id": resident["id"],
            "source": source,
            "practice_id": practice_id,
            "referrer_name": None if source == ReferralSource.SELF else "Dr A Referrer",
            "referrer_role": None if source == ReferralSource.SELF else "GP",
            "details": "Lives alone since a bereavement; would like to meet people nearby.",
            "urgency": Urgency.URGENT if rng.random() < 0.1 else Urgency.ROUTINE,
            "consent_given": True,
            "consent_share_with_gp": True,
            "consent_recorded_by": "The person" if source == ReferralSource.SELF else "GP",
            "consent_recorded_at": received,
            "status": status,
            "route": Route.SOCIAL_NAVIGATION,
            "support_level": level,
            "navigator_id": self._navigator(level),
            "preferred_buddy_gender": rng.choice(("Woman", "Man")) if rng.random() < 0.25 else None,
            "availability": sorted(rng.sample(SLOTS, rng.randint(3, 9)), key=SLOTS.index)
            if not closed and rng.random() < 0.85
            else [],
            "interests": sorted(rng.sample(INTERESTS, rng.randint(1, 3)))
            if rng.random() < 0.75
            else [],
            "access_needs": sorted(rng.sample(list(ACCESS_FEATURES), rng.randint(1, 2)))
            if rng.random() < 0.2
            else [],
            "wants_buddy": wants,
            "received_at": received,
            "first_contact_at": received + timedelta(hours=rng.uniform(2, 48)),
            "triaged_at": triaged,
            "assigned_at": assigned,
            "next_contact_on": None if closed else self.today + timedelta(days=rng.randint(-5, 20)),
            "closed_at": closed_at,
            "closure_reason": rng.choice((ClosureReason.GOALS_MET, ClosureReason.CONNECTED))
            if closed
            else None,
            "outcome_summary": "Closed after support." if closed else None,
            "updated_at": closed_at or assigned,
            "version": 1,
        }
        return row

    def _extras(self, referrals: list[dict]) -> tuple[list[dict], list[dict]]:
        """Each referral's coded reasons and, for open cases, its goals."""
        rng = self.rng
        reasons, goals = [], []
        for row in referrals:
            chosen = {_weighted(rng, REASONS) for _ in range(rng.randint(1, 3))}
            reasons += [{"referral_id": row["id"], "reason": r} for r in sorted(chosen)]
            if row["status"] == S.CLOSED or rng.random() < 0.15:
                continue
            for text in rng.sample(GOALS, rng.randint(1, 3)):
                goals.append(
                    {
                        "referral_id": row["id"],
                        "description": text,
                        "status": GoalStatus.OPEN,
                        "set_on": row["assigned_at"].date(),
                        "created_by_id": row["navigator_id"],
                        "created_at": row["assigned_at"],
                        "version": 1,
                    }
                )
        return reasons, goals

    def cases(self) -> None:
        """The waiting cases, other open cases, and closed ones (some for the same people)."""
        rng = self.rng
        residents, referrals = [], []
        waiting_people = []
        for _ in range(self.waiting):
            resident = self._resident()
            residents.append(resident)
            waiting_people.append(resident)
            row = self._referral(resident, S.ACTIVE, True, rng.uniform(14, 300))
            referrals.append(row)
            self.waiting_ids.append(row["id"])
        for _ in range(800):
            resident = self._resident()
            residents.append(resident)
            status = S.ACTIVE if rng.random() < 0.8 else S.ASSIGNED
            referrals.append(self._referral(resident, status, False, rng.uniform(3, 300)))
        for n in range(1_500):
            if n < self.waiting // 4:  # someone supported before: continuity counts
                resident = waiting_people[n * 4 % len(waiting_people)]
            else:
                resident = self._resident()
                residents.append(resident)
            row = self._referral(resident, S.CLOSED, False, rng.uniform(400, 1_100))
            referrals.append(row)
            self.closed_ids.append(row["id"])
        reasons, goals = self._extras(referrals)
        # Open referrals to activities, which those activities then cannot be suggested again.
        sent = []
        for referral_id in rng.sample(self.waiting_ids, len(self.waiting_ids) * 3 // 10):
            for activity_id in rng.sample(self.open_activity_ids, rng.randint(1, 2)):
                at = self.now - timedelta(days=rng.uniform(1, 40))
                sent.append(
                    {
                        "referral_id": referral_id,
                        "activity_id": activity_id,
                        "status": rng.choice(
                            (
                                ActivityReferralStatus.SENT,
                                ActivityReferralStatus.ACCEPTED,
                                ActivityReferralStatus.ATTENDED,
                            )
                        ),
                        "consent_confirmed": True,
                        "person_name": "A person",
                        "created_by_id": rng.choice(self.navigator_ids),
                        "created_at": at,
                        "sent_at": at,
                        "respond_by": (at + timedelta(days=14)).date(),
                        "version": 1,
                    }
                )
        bulk(Resident.__table__, residents)
        bulk(Referral.__table__, referrals)
        bulk(ReferralReasonLink.__table__, reasons)
        bulk(Goal.__table__, goals)
        bulk(ActivityReferral.__table__, sent)
        self.counts.update(
            residents=len(residents),
            referrals=len(referrals),
            goals=len(goals),
            activity_referrals=len(sent),
        )

    # --- volunteers, their training and their buddies ----------------------------------------

    def _dbs(self, status: VolunteerStatus) -> dict:
        rng, today = self.rng, self.today
        none = {
            "dbs_level": None,
            "dbs_certificate_number": None,
            "dbs_issue_date": None,
            "dbs_update_service": False,
            "dbs_checked_at": None,
        }
        if status == V.APPLIED or (status == V.VETTING and rng.random() < 0.5):
            return none
        roll = rng.random()
        if roll < 0.03:
            return none  # no check recorded: fine for a befriender, not for a buddy
        level = DbsLevel.STANDARD if roll < 0.06 else DbsLevel.ENHANCED
        update_service = rng.random() < 0.3
        lapsed = rng.random() < 0.06 and not update_service
        issued = _months_ago(today, 37, 50, rng) if lapsed else _months_ago(today, 1, 35, rng)
        if update_service:
            issued = _months_ago(today, 1, 70, rng)
        checked = (
            datetime.combine(_months_ago(today, 0, 11, rng), clock(10), tzinfo=self.now.tzinfo)
            if update_service
            else None
        )
        return {
            "dbs_level": level,
            "dbs_certificate_number": f"{rng.randrange(10**11, 10**12)}",
            "dbs_issue_date": issued,
            "dbs_update_service": update_service,
            "dbs_checked_at": checked,
        }

    def _training(self, volunteer_id: int, roles: tuple[bool, bool, bool], started: bool) -> list:
        rng, today = self.rng, self.today
        rows = []
        for module_id, months, *needed in self.modules:
            required = any(held and need for held, need in zip(roles, needed, strict=True))
            if not started:
                done = module_id == self.modules[0][0] and rng.random() < 0.5
            elif required:
                done = rng.random() > 0.01  # a few still to do one
            else:
                done = rng.random() < 0.3
            if not done:
                continue
            if months is None:
                completed = _months_ago(today, 4, 40, rng)
            elif rng.random() < 0.03:
                completed = _months_ago(today, months + 0.5, months + 8, rng)  # lapsed
            else:
                completed = _months_ago(today, 0, months - 0.5, rng)
            dates = [completed]
            if months is not None and rng.random() < 0.25:  # renewed: the old record stays
                dates.append(completed - timedelta(days=round(months * 30.44)))
            for day in dates:
                rows.append(
                    {
                        "volunteer_id": volunteer_id,
                        "module_id": module_id,
                        "completed_on": day,
                        "trainer": "Hub training team",
                        "created_at": datetime.combine(day, clock(12), tzinfo=self.now.tzinfo),
                    }
                )
        return rows

    def add_volunteers(self, upto: int) -> None:
        """Volunteers self.volunteers + 1 to `upto`, with their training, and the people
        the active ones already buddy (each a case of its own with a current match)."""
        rng = self.rng
        users, volunteers, records = [], [], []
        residents, referrals, matches = [], [], []
        for vid in range(self.volunteers + 1, upto + 1):
            status = _weighted(rng, VOLUNTEER_STATUSES)
            started = status in (V.ACTIVE, V.PAUSED, V.LEFT)
            buddy = rng.random() < 0.72
            navigator = rng.random() < 0.08
            befriender = rng.random() < 0.33 or not (buddy or navigator)
            applied_days = {
                V.APPLIED: (1, 30),
                V.VETTING: (15, 90),
                V.ACTIVE: (120, 1_500),
                V.PAUSED: (200, 1_500),
                V.LEFT: (300, 1_500),
            }[status]
            applied_at = self.now - timedelta(days=rng.randint(*applied_days))
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            languages = ["English"]
            if rng.random() < 0.16:
                languages.append(rng.choice(OTHER_LANGUAGES))
            max_buddies = rng.randint(1, 3)
            users.append(
                {
                    "id": USER_BASE + vid,
                    "email": f"volunteer{vid}@bench.invalid",
                    "full_name": f"{given} {family}",
                    "role": Role.VOLUNTEER,
                    "password_hash": None,
                    "is_active": status != V.LEFT,
                    "session_token": uuid.uuid4().hex,
                    "is_volunteer_navigator": False,
                    "caseload_capacity": None,
                    "neighbourhood_id": None,
                    "languages": [],
                    "created_at": applied_at,
                }
            )
            volunteers.append(
                {
                    "id": vid,
                    "user_id": USER_BASE + vid,
                    "status": status,
                    "left_reason": rng.choice(list(LeftReason)) if status == V.LEFT else None,
                    "status_changed_at": applied_at + timedelta(days=rng.randint(60, 100))
                    if status in (V.PAUSED, V.LEFT)
                    else None,
                    "role_buddy": buddy,
                    "role_navigator": navigator,
                    "role_befriender": befriender,
                    "postcode": _postcode(rng),
                    "gender": rng.choice(("Female", "Female", "Male", "Female", "Male", None)),
                    "languages": languages,
                    "interests": sorted(rng.sample(INTERESTS, rng.randint(1, 4)))
                    if rng.random() < 0.95
                    else [],
                    "availability": sorted(rng.sample(SLOTS, rng.randint(2, 8)), key=SLOTS.index)
                    if rng.random() < 0.95
                    else [],
                    "transport": rng.choice(("Car", "Public transport", "On foot or by bike")),
                    "max_buddies": max_buddies,
                    "privacy_consent_at": applied_at,
                    "applied_at": applied_at,
                    "joined_on": (applied_at + timedelta(days=rng.randint(20, 60))).date()
                    if started
                    else None,
                    "version": 1,
                    **self._dbs(status),
                }
            )
            records += self._training(vid, (buddy, navigator, befriender), started)
            if status == V.ACTIVE and (buddy or befriender) and rng.random() < 0.35:
                for _ in range(min(rng.choice((1, 1, 1, 2, 3)), max_buddies)):
                    resident = self._resident()
                    residents.append(resident)
                    row = self._referral(resident, S.ACTIVE, True, rng.uniform(30, 400))
                    referrals.append(row)
                    active = rng.random() < 0.85
                    proposed = row["assigned_at"] + timedelta(days=rng.uniform(5, 20))
                    matches.append(
                        {
                            "referral_id": row["id"],
                            "volunteer_id": vid,
                            "status": BuddyMatchStatus.ACTIVE
                            if active
                            else BuddyMatchStatus.PROPOSED,
                            "proposed_by_id": row["navigator_id"],
                            "proposed_at": proposed,
                            "responded_at": proposed + timedelta(days=2) if active else None,
                            "ended_at": None,
                            "end_reason": None,
                            "decline_reason": None,
                            "version": 1,
                        }
                    )
        # Buddying that has ended, on closed cases: history the pool's count must skip.
        past = []
        starters = [v["id"] for v in volunteers if v["joined_on"] is not None]
        for referral_id in rng.sample(self.closed_ids, min(len(starters) // 8, 300)):
            proposed = self.now - timedelta(days=rng.uniform(400, 900))
            past.append(
                {
                    "referral_id": referral_id,
                    "volunteer_id": rng.choice(starters),
                    "status": BuddyMatchStatus.ENDED,
                    "proposed_by_id": rng.choice(self.navigator_ids),
                    "proposed_at": proposed,
                    "responded_at": proposed + timedelta(days=2),
                    "ended_at": proposed + timedelta(days=rng.uniform(60, 300)),
                    "end_reason": "Support came to a natural end",
                    "decline_reason": None,
                    "version": 1,
                }
            )
        # Some waiting people were offered a buddy who said no: not to be suggested again.
        for referral_id in rng.sample(self.waiting_ids, min(len(starters) // 20, 250)):
            proposed = self.now - timedelta(days=rng.uniform(3, 40))
            past.append(
                {
                    "referral_id": referral_id,
                    "volunteer_id": rng.choice(starters),
                    "status": BuddyMatchStatus.DECLINED,
                    "proposed_by_id": rng.choice(self.navigator_ids),
                    "proposed_at": proposed,
                    "responded_at": proposed + timedelta(days=1),
                    "ended_at": None,
                    "end_reason": None,
                    "decline_reason": "Cannot take anyone else on at the moment",
                    "version": 1,
                }
            )
        reasons, goals = self._extras(referrals)
        bulk(User.__table__, users)
        bulk(Volunteer.__table__, volunteers)
        bulk(TrainingRecord.__table__, records)
        bulk(Resident.__table__, residents)
        bulk(Referral.__table__, referrals)
        bulk(ReferralReasonLink.__table__, reasons)
        bulk(Goal.__table__, goals)
        bulk(BuddyMatch.__table__, matches + past)
        self.volunteers = upto
        self.counts.update(
            training_records=len(records),
            residents=len(residents),
            referrals=len(referrals),
            goals=len(goals),
            current_matches=len(matches),
            past_matches=len(past),
        )


# --- timing in process ------------------------------------------------------------------------


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Timed:
    times_ms: list[float] = field(default_factory=list)
    statements: set[int] = field(default_factory=set)
    sql_ms: list[float] = field(default_factory=list)

    def line(self) -> str:
        sql = f", sql {sum(self.sql_ms) / len(self.sql_ms):.1f} ms" if self.sql_ms else ""
        counts = ""
        if self.statements:
            low, high = min(self.statements), max(self.statements)
            counts = f", {low} statements" if low == high else f", {low}-{high} statements"
        return f"p50 {pct(self.times_ms, 50):.1f} ms, max {max(self.times_ms):.1f} ms{sql}{counts}"


def time_suggestions(
    stmts: Statements,
    ids: list[int],
    today: date,
    suggest: Callable,
) -> Timed:
    """`suggest(referral, today)` and `.top(5)` for each referral, as the panel calls them."""
    for referral_id in ids[:3]:  # warm up
        suggest(referral_with_people(referral_id), today).top(5)
        db.session.remove()
    out = Timed()
    gc.collect()
    for referral_id in ids:
        referral = referral_with_people(referral_id)
        stmts.reset()
        started = time.perf_counter()
        ranking = suggest(referral, today)
        top = ranking.top(5)
        out.times_ms.append((time.perf_counter() - started) * 1000)
        out.statements.add(stmts.count)
        out.sql_ms.append(stmts.seconds * 1000)
        if not top and not ranking.no_one_message:
            raise RuntimeError(f"referral {referral_id}: no suggestions and no reason why")
        db.session.remove()
    return out


@dataclass
class Parts:
    """The same work as one suggestion, piece by piece, and the ranking alone."""

    person: list[float] = field(default_factory=list)
    pool: list[float] = field(default_factory=list)
    weights_and_centroids: list[float] = field(default_factory=list)
    rank_top5: list[float] = field(default_factory=list)
    # rank() and top(5) for every referral over one pool loaded beforehand.
    rank_only: list[float] = field(default_factory=list)
    pool_size: int = 0
    eligible: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"person_for p50 {pct(self.person, 50):.1f} ms, "
            f"pool p50 {pct(self.pool, 50):.1f} ms, "
            f"weights+centroids p50 {pct(self.weights_and_centroids, 50):.1f} ms, "
            f"rank+top(5) p50 {pct(self.rank_top5, 50):.1f} ms "
            f"({len(self.pool)} referrals; pool of {self.pool_size}, "
            f"{sum(self.eligible) / len(self.eligible):.0f} eligible on average)"
        )


def time_parts(
    ids: list[int], n_split: int, today: date, kind, load_pool: Callable[[], list]
) -> Parts:
    """Each piece of a suggestion for the first `n_split` referrals; then rank() and top(5)
    alone for every referral, over one pool loaded beforehand."""
    out = Parts()
    gc.collect()
    for referral_id in ids[:n_split]:
        referral = referral_with_people(referral_id)
        t0 = time.perf_counter()
        person = pools.person_for(referral, today)
        t1 = time.perf_counter()
        pool = load_pool()
        t2 = time.perf_counter()
        chosen = weights.current()
        context = Context(pools.centroids())
        t3 = time.perf_counter()
        ranking = rank(kind, person, pool, chosen, context)
        ranking.top(5)
        t4 = time.perf_counter()
        out.person.append((t1 - t0) * 1000)
        out.pool.append((t2 - t1) * 1000)
        out.weights_and_centroids.append((t3 - t2) * 1000)
        out.rank_top5.append((t4 - t3) * 1000)
        out.pool_size = len(pool)
        out.eligible.append(len(ranking.suggestions))
        db.session.remove()
    pool = load_pool()
    chosen = weights.current()
    centroids = pools.centroids()
    people = [pools.person_for(referral_with_people(i), today) for i in ids]
    db.session.remove()
    gc.collect()
    for person in people:
        started = time.perf_counter()
        rank(kind, person, pool, chosen, Context(centroids)).top(5)
        out.rank_only.append((time.perf_counter() - started) * 1000)
    return out


@dataclass
class Step:
    volunteers: int
    pool: int = 0
    cleared: int = 0
    with_room: int = 0
    one: Timed = field(default_factory=Timed)
    parts: Parts = field(default_factory=Parts)
    batch_s: float = 0.0
    waiting: int = 0
    paired: int = 0
    buddies_used: int = 0


def measure_step(app: Flask, stmts: Statements, seeder: Seeder, n_one: int, n_split: int) -> Step:
    step = Step(seeder.volunteers)
    today = seeder.today
    ids = random.Random(SEED + seeder.volunteers).sample(seeder.waiting_ids, n_one)
    with app.app_context():
        pool = pools.buddy_pool(today)
        step.pool = len(pool)
        step.cleared = sum(1 for c in pool if not c.problems)
        step.with_room = sum(1 for c in pool if not c.problems and c.taken < c.capacity)
        db.session.remove()
        step.one = time_suggestions(stmts, ids, today, pools.suggest_buddies)
        step.parts = time_parts(ids, n_split, today, buddies.KIND, lambda: pools.buddy_pool(today))
        gc.collect()
        started = time.perf_counter()
        rows, _inputs = pools.batch_for_buddies(today)
        step.batch_s = time.perf_counter() - started
        step.waiting = len(rows)
        step.paired = sum(1 for _, p in rows if p.buddy is not None)
        step.buddies_used = len({p.buddy.id for _, p in rows if p.buddy is not None})
        db.session.remove()
    if step.waiting != seeder.waiting:
        raise RuntimeError(f"{step.waiting} referrals wait for a buddy, not {seeder.waiting}")
    return step


def batch_parts(app: Flask, today: date) -> dict[str, float]:
    """The batch's pieces timed one by one: the two loads, then the greedy pass alone."""
    with app.app_context():
        started = time.perf_counter()
        waiting = pools.waiting_for_buddy(today)
        waiting_s = time.perf_counter() - started
        started = time.perf_counter()
        pool = pools.buddy_pool(today)
        chosen = weights.current()
        context = Context(pools.centroids())
        pool_s = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        batch.assign([(r.id, person) for r, person in waiting], pool, chosen, context)
        assign_s = time.perf_counter() - started
        db.session.remove()
    return {"waiting_for_buddy": waiting_s, "buddy_pool": pool_s, "assign": assign_s}


def profile(app: Flask, seeder: Seeder, n: int) -> None:
    today = seeder.today
    ids = seeder.waiting_ids[:n]
    with app.app_context():
        for label, call in (
            (f"{n} x suggest_buddies + top(5)", None),
            ("one batch_for_buddies", pools.batch_for_buddies),
        ):
            profiler = cProfile.Profile()
            if call is None:
                referrals = [referral_with_people(i) for i in ids]
                profiler.enable()
                for referral in referrals:
                    pools.suggest_buddies(referral, today).top(5)
                profiler.disable()
            else:
                profiler.enable()
                call(today)
                profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(18)
            print(f"\n# cProfile of {label}, by own time")
            print(out.getvalue())
            db.session.remove()


# --- through the web server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The app on 127.0.0.1: gunicorn in its own process, or werkzeug in a thread."""

    def __init__(self, url: str, kind: str, workers: int):
        self.url, self.kind, self.workers = url, kind, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = _TMP / "server.log"
        self.werkzeug = None

    @property
    def description(self) -> str:
        if self.kind == "gunicorn":
            return f"gunicorn, {self.workers} sync workers, {self.base}"
        return f"werkzeug make_server in a thread, {self.base}"

    def start(self) -> None:
        if self.kind == "gunicorn":
            factory = (
                f"portal:create_app('test', overrides={{'SQLALCHEMY_DATABASE_URI': {self.url!r}}})"
            )
            with self.log_path.open("w") as log:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "--bind",
                        f"127.0.0.1:{self.port}",
                        "--workers",
                        str(self.workers),
                        "--timeout",
                        "600",
                        "--chdir",
                        str(ROOT),
                        factory,
                    ],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        else:
            from werkzeug.serving import make_server

            app = create_app("test", overrides={"SQLALCHEMY_DATABASE_URI": self.url})
            self.werkzeug = make_server("127.0.0.1", self.port, app, threaded=False)
            threading.Thread(target=self.werkzeug.serve_forever, daemon=True).start()
        # The master listens at once; the request waits until a worker has booted.
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.base + "/login", timeout=60) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:  # refused, reset or timed out: not up yet
                pass
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not answer: {self.log_path.read_text()[-2000:]}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.werkzeug is not None:
            self.werkzeug.shutdown()


class Browser:
    """A cookie jar and urllib: what a browser does, without the browser."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def login(self, email: str) -> None:
        data = urlencode({"email": email, "password": PASSWORD}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=30) as response:
            if response.status != 200 or response.url.rstrip("/").endswith("/login"):
                raise RuntimeError(f"login as {email} through the server failed")

    def get(self, path: str, marker: str, headers: dict | None = None) -> float:
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        started = time.perf_counter()
        with self.opener.open(request, timeout=600) as response:
            body = response.read()
            status = response.status
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200 or marker.encode() not in body:
            raise RuntimeError(f"GET {path} answered {status} without {marker!r}")
        return elapsed


PANELS = {
    "buddies": ("/cases/{}/suggestions/buddies", 'id="buddy-suggestions"'),
    "activities": ("/cases/{}/suggestions/activities", 'id="activity-suggestions"'),
    "navigators": ("/referrals/{}/suggestions/navigators", 'id="navigator-suggestions"'),
}
HTMX = {"HX-Request": "true"}


def panel_statements(app: Flask, stmts: Statements, referral_id: int) -> dict[str, tuple]:
    """Statements per panel request, counted in process through the test client."""
    client = login(app, COORDINATOR_EMAIL)
    out = {}
    for name, (path, marker) in PANELS.items():
        url = path.format(referral_id)
        client.get(url, headers=HTMX)
        stmts.reset()
        started = time.perf_counter()
        response = client.get(url, headers=HTMX)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or marker not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {url} answered {response.status_code} in process")
        out[name] = (stmts.count, stmts.seconds * 1000, elapsed)
    return out


def time_panels(server: Server, ids: list[int], nav_ids: list[int], batch_page: bool):
    browser = Browser(server.base)
    browser.login(COORDINATOR_EMAIL)
    for referral_id in ids[: 2 * server.workers + 2]:  # every worker renders each panel once
        for path, marker in PANELS.values():
            browser.get(path.format(referral_id), marker, HTMX)
    times: dict[str, list[float]] = {name: [] for name in PANELS}
    for referral_id in ids:
        for name in ("buddies", "activities"):
            path, marker = PANELS[name]
            times[name].append(browser.get(path.format(referral_id), marker, HTMX))
    for referral_id in nav_ids:
        path, marker = PANELS["navigators"]
        times["navigators"].append(browser.get(path.format(referral_id), marker, HTMX))
    page_ms = None
    if batch_page:
        page_ms = browser.get("/matching/buddies", "People waiting for a buddy")
    return times, page_ms


# --- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, backend) -> None:
    started = time.perf_counter()
    app = make_app(backend.url)
    stmts = Statements()
    today = london_today()
    seeder = Seeder(
        today=today,
        now=utcnow(),
        navigators=args.navigators,
        activities=args.activities,
        waiting=args.waiting,
    )
    load_s = Counter()
    with app.app_context():
        stmts.attach(db.engine)
        t = time.perf_counter()
        seeder.reference_data()
        seeder.directory()
        seeder.cases()
        settle()
        load_s["staff, directory and cases"] += time.perf_counter() - t
    print(f"match_backend: {backend.name}")
    print(f"match_load_average: {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
    print(
        f"match_seeded: {seeder.navigators} navigators, {seeder.activities} activities "
        f"({len(seeder.open_activity_ids)} open and taking referrals), {seeder.waiting} cases "
        f"waiting for a buddy, {seeder.counts['referrals']} referrals in all"
    )
    sys.stdout.flush()

    steps: list[Step] = []
    for size in args.steps:
        with app.app_context():
            t = time.perf_counter()
            seeder.add_volunteers(size)
            settle()
            load_s["volunteers"] += time.perf_counter() - t
        gc.collect()
        gc.freeze()  # the planned rows are not the app's: keep the collector off them
        full = size == args.steps[-1]
        step = measure_step(
            app,
            stmts,
            seeder,
            args.one if full else args.growth_one,
            args.split if full else max(args.split // 2, 1),
        )
        gc.unfreeze()
        steps.append(step)
        print(
            f"match_one_p95_ms_at_{size}: {pct(step.one.times_ms, 95):.1f} ms "
            f"({step.one.line()}; pool {step.pool}, cleared {step.cleared}, with room "
            f"{step.with_room}); batch {step.batch_s:.2f} s, {step.paired} of {step.waiting} "
            "paired"
        )
        sys.stdout.flush()
    last = steps[-1]

    # Activities and navigators, and the batch's parts, at full size.
    ids = random.Random(SEED).sample(seeder.waiting_ids, args.one)
    with app.app_context():
        acts = time_suggestions(stmts, ids, today, pools.suggest_activities)
        act_parts = time_parts(ids, args.split, today, activities.KIND, pools.activity_pool)
        navs = time_suggestions(stmts, ids, today, pools.suggest_navigators)
        nav_parts = time_parts(ids, args.split, today, navigators.KIND, pools.navigator_pool)
        counted = {
            "volunteers": db.session.scalar(sa.select(sa.func.count()).select_from(Volunteer)),
            "training_records": db.session.scalar(
                sa.select(sa.func.count()).select_from(TrainingRecord)
            ),
            "buddy_matches": db.session.scalar(sa.select(sa.func.count()).select_from(BuddyMatch)),
            "referrals": db.session.scalar(sa.select(sa.func.count()).select_from(Referral)),
            "activities": db.session.scalar(sa.select(sa.func.count()).select_from(Activity)),
        }
        db.session.remove()
    parts_s = batch_parts(app, today)
    statements = panel_statements(app, stmts, ids[0])
    with app.app_context():
        db.engine.dispose()

    server = Server(backend.url, args.server, args.workers)
    try:
        server.start()
        panel_ids = ids[: args.panel_requests]
        times, page_ms = time_panels(
            server, panel_ids, panel_ids[: max(args.panel_requests // 2, 1)], args.batch_page
        )
    finally:
        server.stop()

    if args.profile:
        profile(app, seeder, 20)

    one_p95 = pct(last.one.times_ms, 95)
    panel_p95 = {name: pct(samples, 95) for name, samples in times.items()}
    panel = max(panel_p95["buddies"], panel_p95["activities"])
    print(
        f"match_rows: {counted['volunteers']} volunteers ({last.pool} buddies and befrienders "
        f"not left, {last.cleared} cleared, {last.with_room} with room), "
        f"{counted['training_records']} training records, {counted['buddy_matches']} buddy "
        f"matches, {counted['referrals']} referrals, {counted['activities']} activities"
    )
    print(
        "match_load_s: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in load_s.items())
    )
    print(f"match_one_referrals: {len(last.one.times_ms)} different waiting referrals")
    print(f"match_one_p95_ms: {one_p95:.1f} ms")
    print(f"match_one_detail: {last.one.line()}")
    print(f"match_one_parts: {last.parts.line()}")
    # The first request after a change reads the pools afresh; later ones use the kept pool.
    with app.app_context():
        for name, load in (
            ("buddy", lambda: pools.buddy_pool(today)),
            ("activity", pools.activity_pool),
        ):
            cold = []
            for _ in range(5):
                pools.forget_pools()
                t = time.perf_counter()
                load()
                cold.append((time.perf_counter() - t) * 1000)
            print(
                f"match_{name}_pool_cold_ms: p50 {pct(cold, 50):.0f} ms, max {max(cold):.0f} ms "
                "(read afresh, as on the first request after a change; later requests keep it)"
            )
    for label, parts in (("", last.parts), ("activities_", act_parts), ("navigators_", nav_parts)):
        if label:
            print(f"match_{label}parts: {parts.line()}")
        print(
            f"match_{label}rank_only_p95_ms: {pct(parts.rank_only, 95):.1f} ms "
            f"(p50 {pct(parts.rank_only, 50):.1f} ms; rank() and top(5) over a pool loaded "
            f"once, {len(parts.rank_only)} referrals)"
        )
        if label == "":
            print(f"match_activities_p95_ms: {pct(acts.times_ms, 95):.1f} ms ({acts.line()})")
        elif label == "activities_":
            print(f"match_navigators_p95_ms: {pct(navs.times_ms, 95):.1f} ms ({navs.line()})")
    print(f"match_server: {server.description}")
    for name, samples in times.items():
        count, sql_ms, in_process_ms = statements[name]
        print(
            f"match_panel_{name}_p95_ms: {panel_p95[name]:.1f} ms (p50 {pct(samples, 50):.1f} ms, "
            f"{len(samples)} requests; {count} SQL statements, sql {sql_ms:.1f} ms, "
            f"{in_process_ms:.1f} ms in process through the test client)"
        )
    print(f"match_panel_p95_ms: {panel:.1f} ms")
    print(f"match_batch_1000_s: {last.batch_s:.2f} s")
    print(
        f"match_batch_parts: waiting_for_buddy {parts_s['waiting_for_buddy']:.2f} s, "
        f"buddy_pool {parts_s['buddy_pool']:.2f} s, batch.assign (the greedy pass) "
        f"{parts_s['assign']:.2f} s, each timed alone; "
        f"{last.paired} of {last.waiting} paired with {last.buddies_used} different buddies"
    )
    if page_ms is not None:
        print(f"match_batch_page_s: {page_ms / 1000:.2f} s (GET /matching/buddies, one request)")
    print("# growth with the number of volunteers (in process)")
    print(
        "# volunteers | pool | cleared | with room | match_one p50 | match_one p95 "
        f"| rank only p95 | pool load p50 | batch of {seeder.waiting} | paired"
    )
    for step in steps:
        print(
            f"# {step.volunteers:>10} | {step.pool:>4} | {step.cleared:>7} | {step.with_room:>9} "
            f"| {pct(step.one.times_ms, 50):>8.1f} ms | {pct(step.one.times_ms, 95):>8.1f} ms "
            f"| {pct(step.parts.rank_only, 95):>8.1f} ms | {pct(step.parts.pool, 50):>8.1f} ms "
            f"| {step.batch_s:>7.2f} s | {step.paired:>6}"
        )
    for label, value, target, unit in (
        ("match_one_p95_ms", one_p95, TARGET_ONE_MS, "ms"),
        ("match_panel_p95_ms", panel, TARGET_PANEL_MS, "ms"),
        ("match_batch_1000_s", last.batch_s, TARGET_BATCH_S, "s"),
    ):
        verdict = "within" if value < target else "OVER"
        print(f"# {label} {value:.1f} {unit} is {verdict} the {target} {unit} target")
    print(f"match_load_average_at_end: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"match_benchmark_s: {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=STEPS,
        help="volunteer counts to measure at, the last the full size (default 500,1000,2000,5000)",
    )
    parser.add_argument("--activities", type=int, default=2_000)
    parser.add_argument("--navigators", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=1_000, help="cases waiting for a buddy")
    parser.add_argument("--one", type=int, default=60, help="referrals timed at full size")
    parser.add_argument("--growth-one", type=int, default=30, help="referrals timed per step")
    parser.add_argument(
        "--split",
        type=int,
        default=20,
        help="referrals timed piece by piece at full size (half that per smaller step)",
    )
    parser.add_argument("--panel-requests", type=int, default=40, help="requests per panel")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--batch-page", action="store_true", help="also time one GET /matching/buddies"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the suggestions and batch")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    args = parser.parse_args(argv)
    if list(args.steps) != sorted(args.steps):
        parser.error("--steps must grow")
    if not 0 < args.one <= args.waiting or not 0 < args.growth_one <= args.waiting:
        parser.error("--one and --growth-one must be between 1 and --waiting")
    backend = None
    try:
        backend = choose_backend(args)
        run(args, backend)
    finally:
        if backend is not None:
            backend.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
