"""The working set the load test runs against, and the logins the simulated people use.

The data comes from the other benchmarks' seeder (dashboards.py's `Seeder` over
caseload.py's `Planner`, as pages.py loads it), at a working-set size: by default 20,000
referrals with 200,000 contacts, 26 navigators with 30 to 60 open cases each, 1,000
volunteers (a few hundred of them buddying someone now), 30 practices and 2,000
activities. On top of that this module:

- gives every navigator, and every active volunteer with an active buddy match, a password
  hashed with the production argon2 settings (the server runs the production config, so a
  login costs what it costs in a deployment, and nothing is rehashed during the run);
- adds one practice user for each practice;
- collects what the simulated people need: the accounts, the words the public search for,
  people a practice has referred before, and every NHS number already taken.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict

import sqlalchemy as sa
from flask import Flask

from benchmarks.load.users import Account, KnownPerson, WorkingSet

# Words in activity titles that nobody would search for on their own.
_STOP_WORDS = {"and", "the", "for", "with", "club", "group", "session", "course"}
# What people also type: nothing listed matches these.
_MISSES = ("zumba", "pottery", "salsa dancing", "swimming")


def seed(app: Flask, *, referrals: int, navigators: int, volunteers: int, password: str):
    """Loads the data and makes the logins. Returns (WorkingSet, row counts, seconds)."""
    import caseload
    import dashboards
    from caseload import Planner

    from benchmarks.pages import settle
    from portal.db_types import london_today, utcnow
    from portal.extensions import db

    timings: dict[str, float] = {}
    with app.app_context():
        # A navigator's caseload is about the average of everyone's (5.4% of referrals are
        # open cases, shared among the navigators).
        open_cases = max(5, round(0.054 * referrals / navigators))
        planner = Planner(
            now=utcnow(),
            referrals=referrals,
            contacts=10 * referrals,
            open_cases=open_cases,
            other_navigators=navigators - 1,
            small=max(50, referrals // 10),
        )
        seeder = dashboards.Seeder(
            planner, volunteers=volunteers, measures=2 * referrals, today=london_today()
        )
        with caseload.timed("plan", timings):
            seeder.reference_data()
            seeder.plan(planner.small)
        with caseload.timed("load", timings):
            seeder.load("small")
            seeder.load("rest")
        settle(timings)  # the dashboard facts, the sequences past the loaded ids, ANALYZE
        del seeder, planner
        started = time.perf_counter()
        working_set = _logins_and_facts(password)
        timings["logins"] = time.perf_counter() - started
        counts = dashboards.counts(app)
        db.session.remove()
        db.engine.dispose()  # the server has the database to itself from here
    return working_set, counts, timings


def _production_hash(password: str) -> str:
    """The password hashed as the production config hashes it."""
    from flask import current_app

    from config import ProductionConfig
    from portal.auth.passwords import hash_password

    saved = {k: current_app.config[k] for k in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB")}
    current_app.config.update(
        ARGON2_TIME_COST=ProductionConfig.ARGON2_TIME_COST,
        ARGON2_MEMORY_KIB=ProductionConfig.ARGON2_MEMORY_KIB,
    )
    try:
        return hash_password(password)
    finally:
        current_app.config.update(saved)


def _logins_and_facts(password: str) -> WorkingSet:
    from caseload import FAMILY, GIVEN

    from portal.auth.models import Role, User
    from portal.directory.models import Activity, ActivityCategory, ActivityStatus
    from portal.extensions import db
    from portal.referrals.models import Practice, Referral, ReferralStatus, Resident
    from portal.volunteers.models import BuddyMatch, BuddyMatchStatus, Volunteer, VolunteerStatus

    hashed = _production_hash(password)
    S = ReferralStatus

    # Navigators with open cases.
    navigator_ids = db.session.scalars(
        sa.select(Referral.navigator_id)
        .where(Referral.status.in_((S.ASSIGNED, S.ACTIVE)), Referral.navigator_id.is_not(None))
        .group_by(Referral.navigator_id)
        .order_by(Referral.navigator_id)
    ).all()
    navigators = db.session.scalars(
        sa.select(User).where(User.id.in_(navigator_ids), User.role == Role.NAVIGATOR)
    ).all()

    # Active volunteers who buddy someone whose case is active.
    rows = db.session.execute(
        sa.select(Volunteer, User, BuddyMatch.id, BuddyMatch.responded_at, BuddyMatch.proposed_at)
        .join(User, User.id == Volunteer.user_id)
        .join(BuddyMatch, BuddyMatch.volunteer_id == Volunteer.id)
        .join(Referral, Referral.id == BuddyMatch.referral_id)
        .where(
            Volunteer.status == VolunteerStatus.ACTIVE,
            User.is_active.is_(True),
            BuddyMatch.status == BuddyMatchStatus.ACTIVE,
            Referral.status == S.ACTIVE,
        )
        .order_by(Volunteer.id, BuddyMatch.id)
    ).all()
    buddies: dict[int, Account] = {}
    for volunteer, user, match_id, responded_at, proposed_at in rows:
        account = buddies.get(volunteer.id)
        if account is None:
            account = buddies[volunteer.id] = Account(
                "volunteer",
                user.email,
                user.full_name,
                user.id,
                joined_on=volunteer.joined_portal_on,
            )
        account.matches[match_id] = responded_at or proposed_at

    # One practice user for each practice.
    practices = db.session.scalars(sa.select(Practice).order_by(Practice.id)).all()
    practice_users = [
        User(
            email=f"practice{p.id}@load.invalid",
            full_name=f"{GIVEN[i % len(GIVEN)]} {FAMILY[(3 * i) % len(FAMILY)]}",
            role=Role.PRACTICE_USER,
            practice_id=p.id,
        )
        for i, p in enumerate(practices)
    ]
    db.session.add_all(practice_users)

    for user in [*navigators, *practice_users]:
        user.password_hash = hashed
    volunteer_user_ids = [a.user_id for a in buddies.values()]
    db.session.flush()
    db.session.execute(
        sa.update(User).where(User.id.in_(volunteer_user_ids)).values(password_hash=hashed)
    )
    db.session.commit()

    accounts = {
        "navigator": [
            Account("navigator", u.email, u.full_name, u.id)
            for u in sorted(navigators, key=lambda u: u.id)
        ],
        "volunteer": list(buddies.values()),
        "practice": [
            Account("practice", u.email, u.full_name, u.id, practice_id=u.practice_id)
            for u in practice_users
        ],
    }

    # What the public type: words and pairs of words from listed activities' titles, the
    # first letters of a word (the search matches word prefixes), and a few misses.
    titles = db.session.scalars(
        sa.select(Activity.title).where(Activity.status == ActivityStatus.PUBLISHED)
    ).all()
    words: set[str] = set()
    for title in titles:
        found = [w for w in re.findall(r"[a-z']+", title.lower()) if len(w) > 2]
        words.update(w for w in found if w not in _STOP_WORDS)
        words.update(" ".join(pair) for pair in itertools.pairwise(found))
    prefixes = {w[:4] for w in words if " " not in w and len(w) > 5}
    terms = sorted(words | prefixes | set(_MISSES))

    # People each practice referred before (the practice may refer them again).
    known: dict[int, list[KnownPerson]] = defaultdict(list)
    people = db.session.execute(
        sa.select(
            Referral.practice_id,
            Resident.nhs_number,
            Resident.given_name,
            Resident.family_name,
            Resident.date_of_birth,
            Resident.postcode,
        )
        .join(Resident, Resident.id == Referral.resident_id)
        .where(
            Referral.practice_id.is_not(None),
            Resident.nhs_number.is_not(None),
            Resident.date_of_birth.is_not(None),
            Resident.postcode.is_not(None),
            Resident.practice_id == Referral.practice_id,
        )
        .distinct()
        .order_by(Referral.practice_id, Resident.nhs_number)
    ).all()
    for practice_id, *person in people:
        if len(known[practice_id]) < 200:
            known[practice_id].append(KnownPerson(*person))
    taken = set(
        db.session.scalars(
            sa.select(Resident.nhs_number).where(Resident.nhs_number.is_not(None))
        ).all()
    )
    return WorkingSet(
        password=password,
        accounts=accounts,
        search_terms=terms,
        categories=[c.value for c in ActivityCategory],
        known_people=dict(known),
        taken_nhs_numbers=taken,
    )
