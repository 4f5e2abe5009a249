"""Reading the person and the candidates from the database, as the plain data ranking takes.

Thousands of volunteers and activities are read as rows, not ORM objects, so a panel
stays quick. Whether a volunteer is cleared to buddy is still decided by the one
`compliance` function the rest of the portal uses.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from portal.auth.models import User
from portal.cases.models import Goal, GoalStatus
from portal.directory.models import (
    OPEN_ACTIVITY_REFERRAL,
    Activity,
    ActivityReferral,
    ActivityStatus,
    Frequency,
    Organisation,
    postcode_district,
)
from portal.directory.schedule import time_of_day
from portal.extensions import db
from portal.matching import activities, batch, buddies, navigators, weights
from portal.matching.activities import ActivityCandidate
from portal.matching.batch import Pairing
from portal.matching.buddies import BuddyCandidate
from portal.matching.engine import Context, Ranking, rank
from portal.matching.models import PostcodeDistrict
from portal.matching.navigators import NavigatorCandidate
from portal.matching.people import Goal as PersonGoal
from portal.matching.people import Person, activity_slots, slot_mask, stems
from portal.referrals.models import OPEN_STATUSES, Practice, Referral, Resident, Urgency
from portal.referrals.queue import navigators_with_caseload
from portal.volunteers.buddying import CASE_STATUSES as BUDDY_CASE_STATUSES
from portal.volunteers.buddying import CURRENT, active_modules, current_counts
from portal.volunteers.compliance import buddy_role, compliance
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerRole,
    VolunteerStatus,
)


def centroids() -> dict[str, tuple[float, float]]:
    rows = db.session.execute(
        sa.select(PostcodeDistrict.outcode, PostcodeDistrict.latitude, PostcodeDistrict.longitude)
    )
    return {outcode: (lat, lon) for outcode, lat, lon in rows}


def person_for(referral: Referral, today: date) -> Person:
    """What matching weighs about the person on this referral."""
    goals = db.session.scalars(
        sa.select(Goal.description)
        .where(Goal.referral_id == referral.id, Goal.status == GoalStatus.OPEN)
        .order_by(Goal.set_on, Goal.id)
    ).all()
    previous = db.session.scalars(
        sa.select(Referral.navigator_id).where(
            Referral.resident_id == referral.resident_id,
            Referral.id != referral.id,
            Referral.navigator_id.is_not(None),
        )
    ).all()
    matches = db.session.execute(
        sa.select(BuddyMatch.volunteer_id, BuddyMatch.status).where(
            BuddyMatch.referral_id == referral.id
        )
    ).all()
    buddies_asked = [v for v, status in matches if status in CURRENT]
    declined = [v for v, status in matches if status == BuddyMatchStatus.DECLINED]
    referred = db.session.scalars(
        sa.select(ActivityReferral.activity_id).where(
            ActivityReferral.referral_id == referral.id,
            ActivityReferral.status.in_(OPEN_ACTIVITY_REFERRAL),
        )
    ).all()
    return _person(referral, today, goals, previous, buddies_asked, referred, declined)


def _person(
    referral: Referral,
    today: date,
    goals: Iterable[str],
    previous_navigators: Iterable[int],
    buddies_asked: Iterable[int] = (),
    referred: Iterable[int] = (),
    declined: Iterable[int] = (),
) -> Person:
    resident = referral.resident
    practice = referral.practice or resident.practice
    return Person(
        name=resident.given_name,
        district=postcode_district(resident.postcode),
        has_postcode=bool(resident.postcode),
        language=resident.language or "English",
        age=resident.age_on(today),
        reasons=frozenset(r.value for r in referral.reason_codes),
        goals=tuple(PersonGoal(g, stems(g)) for g in goals),
        interests=frozenset(referral.interests or []),
        availability=slot_mask(referral.availability or []),
        access_needs=frozenset(referral.access_needs or []),
        preferred_gender=referral.preferred_buddy_gender,
        neighbourhood_id=practice.neighbourhood_id if practice else None,
        neighbourhood_name=practice.neighbourhood.name if practice else None,
        previous_navigator_ids=frozenset(previous_navigators) - {referral.navigator_id},
        support_level=referral.support_level,
        current_navigator_id=referral.navigator_id,
        referred_activity_ids=frozenset(referred),
        current_buddy_ids=frozenset(buddies_asked),
        declined_buddy_ids=frozenset(declined),
    )


def waiting_for_buddy(today: date) -> list[tuple[Referral, Person]]:
    """Cases being worked whose person would like a buddy and has none asked or active.

    In the order the hub works them: urgent first, then longest waiting.
    """
    has_buddy = (
        sa.select(BuddyMatch.id)
        .where(BuddyMatch.referral_id == Referral.id, BuddyMatch.status.in_(CURRENT))
        .exists()
    )
    referrals = (
        db.session.scalars(
            sa.select(Referral)
            .options(
                joinedload(Referral.resident)
                .joinedload(Resident.practice)
                .joinedload(Practice.neighbourhood),
                joinedload(Referral.practice).joinedload(Practice.neighbourhood),
                selectinload(Referral.reasons),
            )
            .where(
                Referral.status.in_(BUDDY_CASE_STATUSES),
                Referral.wants_buddy.is_(True),
                ~has_buddy,
            )
            .order_by(Referral.urgency != Urgency.URGENT, Referral.received_at, Referral.id)
        )
        .unique()
        .all()
    )
    ids = [r.id for r in referrals]
    goals: dict[int, list[str]] = defaultdict(list)
    previous: dict[int, set[int]] = defaultdict(set)
    declined: dict[int, set[int]] = defaultdict(set)
    if ids:
        for referral_id, text in db.session.execute(
            sa.select(Goal.referral_id, Goal.description)
            .where(Goal.referral_id.in_(ids), Goal.status == GoalStatus.OPEN)
            .order_by(Goal.set_on, Goal.id)
        ):
            goals[referral_id].append(text)
        for referral_id, volunteer_id in db.session.execute(
            sa.select(BuddyMatch.referral_id, BuddyMatch.volunteer_id).where(
                BuddyMatch.referral_id.in_(ids), BuddyMatch.status == BuddyMatchStatus.DECLINED
            )
        ):
            declined[referral_id].add(volunteer_id)
        others = sa.orm.aliased(Referral)
        for referral_id, navigator_id in db.session.execute(
            sa.select(Referral.id, others.navigator_id)
            .join(others, others.resident_id == Referral.resident_id)
            .where(Referral.id.in_(ids), others.id != Referral.id, others.navigator_id.is_not(None))
        ):
            previous[referral_id].add(navigator_id)
    return [
        (r, _person(r, today, goals[r.id], previous[r.id], declined=declined[r.id]))
        for r in referrals
    ]


# --- buddies --------------------------------------------------------------------------------


@dataclass
class _Record:
    module_id: int
    completed_on: date


@dataclass(frozen=True)
class _ModuleFacts:
    """A training module as plain data: `compliance` asks each one thousands of times."""

    id: int
    name: str
    valid_for_months: int | None
    is_active: bool
    roles: frozenset[VolunteerRole]

    @classmethod
    def of(cls, module: TrainingModule) -> _ModuleFacts:
        return cls(
            module.id,
            module.name,
            module.valid_for_months,
            module.is_active,
            frozenset(r for r in VolunteerRole if module.required_for(r)),
        )

    def required_for(self, role: VolunteerRole) -> bool:
        return role in self.roles


@dataclass
class _VolunteerFacts:
    """The fields `compliance` reads, without loading a whole Volunteer for each of thousands."""

    status: VolunteerStatus
    role_buddy: bool
    role_befriender: bool
    dbs_level: DbsLevel | None
    dbs_issue_date: date | None
    dbs_update_service: bool
    dbs_checked_at: datetime | None
    training_records: list[_Record]
    role_navigator: bool = False

    @property
    def roles(self) -> list[VolunteerRole]:
        role = buddy_role(self)
        return [role] if role else []


def _load_buddy_pool(today: date) -> list[BuddyCandidate]:
    """Every buddy and telephone befriender who has not left, with why any is not cleared."""
    v = Volunteer
    rows = db.session.execute(
        sa.select(
            v.id,
            User.full_name,
            v.status,
            v.role_buddy,
            v.role_befriender,
            v.postcode,
            v.gender,
            v.languages,
            v.interests,
            v.availability,
            v.max_buddies,
            v.dbs_level,
            v.dbs_issue_date,
            v.dbs_update_service,
            v.dbs_checked_at,
        )
        .join(User, User.id == v.user_id)
        .where(
            sa.or_(v.role_buddy.is_(True), v.role_befriender.is_(True)),
            v.status != VolunteerStatus.LEFT,
        )
    ).all()
    records: dict[int, list[_Record]] = defaultdict(list)
    latest = db.session.execute(
        sa.select(
            TrainingRecord.volunteer_id,
            TrainingRecord.module_id,
            sa.func.max(TrainingRecord.completed_on),
        ).group_by(TrainingRecord.volunteer_id, TrainingRecord.module_id)
    )
    for volunteer_id, module_id, completed_on in latest:
        records[volunteer_id].append(_Record(module_id, completed_on))
    taken = current_counts()
    modules = [_ModuleFacts.of(m) for m in active_modules()]
    pool = []
    for row in rows:
        facts = _VolunteerFacts(
            row.status,
            row.role_buddy,
            row.role_befriender,
            row.dbs_level,
            row.dbs_issue_date,
            row.dbs_update_service,
            row.dbs_checked_at,
            records.get(row.id, []),
        )
        checked = compliance(facts, modules, today, roles=facts.roles)
        pool.append(
            BuddyCandidate(
                id=row.id,
                name=row.full_name,
                district=postcode_district(row.postcode),
                gender=row.gender,
                languages=frozenset(lang.strip().lower() for lang in row.languages or []),
                interests=frozenset(row.interests or []),
                availability=slot_mask(row.availability or []),
                taken=taken.get(row.id, 0),
                capacity=row.max_buddies,
                by_phone=not row.role_buddy,
                problems=tuple(checked.reasons),
            )
        )
    return pool


# --- activities ---------------------------------------------------------------------------


def _load_activity_pool() -> list[ActivityCandidate]:
    """Every published or paused activity: paused ones are there to say why not."""
    a = Activity
    rows = db.session.execute(
        sa.select(
            a.id,
            a.uuid,
            a.title,
            Organisation.name.label("organisation"),
            Organisation.verified_at,
            a.status,
            a.accepts_referrals,
            a.spaces_available,
            a.step_free,
            a.hearing_loop,
            a.accessible_toilet,
            a.transport_offered,
            a.min_age,
            a.max_age,
            a.categories,
            a.search_text,
            a.postcode_district,
            a.online,
            a.days,
            a.start_time,
            a.frequency,
            a.cost_pence,
        )
        .join(Organisation, Organisation.id == a.organisation_id)
        .where(a.status.in_((ActivityStatus.PUBLISHED, ActivityStatus.PAUSED)))
    ).all()
    pool = []
    for row in rows:
        closed_because = None
        if row.status != ActivityStatus.PUBLISHED:
            closed_because = "Paused by the organisation"
        elif row.verified_at is None:
            closed_because = "The organisation is not verified yet"
        by_arrangement = row.frequency == Frequency.BY_ARRANGEMENT
        pool.append(
            ActivityCandidate(
                id=row.id,
                uuid=row.uuid,
                title=row.title,
                organisation=row.organisation,
                open=closed_because is None,
                closed_because=closed_because,
                accepts_referrals=row.accepts_referrals,
                spaces_available=row.spaces_available,
                access=frozenset(
                    key
                    for key in (
                        "step_free",
                        "hearing_loop",
                        "accessible_toilet",
                        "transport_offered",
                    )
                    if getattr(row, key)
                ),
                min_age=row.min_age,
                max_age=row.max_age,
                categories=frozenset(row.categories or []),
                text=row.search_text or "",
                district=row.postcode_district,
                online=row.online,
                slots=0
                if by_arrangement
                else activity_slots(row.days, time_of_day(row.start_time)),
                by_arrangement=by_arrangement,
                free=not row.cost_pence,
            )
        )
    return pool


# --- navigators ---------------------------------------------------------------------------


def navigator_pool() -> list[NavigatorCandidate]:
    rows = navigators_with_caseload(OPEN_STATUSES, with_team=True)
    return [
        NavigatorCandidate(
            id=user.id,
            name=user.full_name,
            open_cases=count,
            capacity=user.caseload_capacity,
            is_volunteer=user.is_volunteer_navigator,
            neighbourhood_id=user.neighbourhood_id,
            neighbourhood_name=user.neighbourhood.name if user.neighbourhood else None,
            languages=frozenset(lang.strip().lower() for lang in user.languages or []),
        )
        for user, count in rows
    ]


# --- the pools, kept between requests while nothing they depend on changes -------------------

# Reading and checking thousands of volunteers takes most of a second; ranking them takes
# milliseconds. So each worker keeps the pools, and a one-statement fingerprint of every
# table they are read from decides whether a kept pool is still the truth. Every ORM
# update bumps a row's version, new rows change the counts, and the time limit bounds
# anything the fingerprint cannot see (a renamed user). Proposing and referring check
# the rules again on the live rows, so even a kept pool can never let a rule be broken.
POOL_SECONDS = 300
_kept: dict[str, tuple[tuple, float, list]] = {}


def _fingerprint(*columns) -> tuple:
    """The row count and the sum of each column: any insert, delete or ORM update moves one."""
    parts = []
    for column in columns:
        parts += [
            sa.select(sa.func.count()).select_from(column.table).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(column), 0)).scalar_subquery(),
        ]
    # Several apps (and databases) can share a process: tests do.
    database = (id(current_app._get_current_object()), str(db.engine.url))
    return (database, *db.session.execute(sa.select(*parts)).one())


def _kept_or_load(name: str, key: tuple, load) -> list:
    now = time.monotonic()
    kept = _kept.get(name)
    if kept is not None and kept[0] == key and now - kept[1] < POOL_SECONDS:
        return kept[2]
    pool = load()
    _kept[name] = (key, now, pool)
    return pool


def forget_pools() -> None:
    """Drop every kept pool (tests, and after bulk changes made outside the ORM)."""
    _kept.clear()


def buddy_pool(today: date) -> list[BuddyCandidate]:
    """Every buddy and telephone befriender who has not left, with why any is not cleared."""
    modules = tuple(
        (m.id, m.valid_for_months, m.is_active, m.required_for_buddy, m.required_for_befriender)
        for m in active_modules()
    )
    key = (
        today,
        current_app.config["DBS_RENEWAL_YEARS"],
        modules,
        _fingerprint(
            Volunteer.id,
            Volunteer.version,
            TrainingRecord.id,
            BuddyMatch.id,
            BuddyMatch.version,
            User.id,
        ),
    )
    return _kept_or_load("buddies", key, lambda: _load_buddy_pool(today))


def activity_pool() -> list[ActivityCandidate]:
    """Every published or paused activity: paused ones are there to say why not."""
    key = _fingerprint(Activity.id, Activity.version, Organisation.id)
    verified = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Organisation)
        .where(Organisation.verified_at.is_not(None))
    )
    return _kept_or_load("activities", (key, verified), _load_activity_pool)


# --- the three suggestions ------------------------------------------------------------------


def suggest_buddies(referral: Referral, today: date) -> Ranking:
    return rank(
        buddies.KIND,
        person_for(referral, today),
        buddy_pool(today),
        weights.current(),
        Context(centroids()),
    )


def suggest_activities(referral: Referral, today: date) -> Ranking:
    return rank(
        activities.KIND,
        person_for(referral, today),
        activity_pool(),
        weights.current(),
        Context(centroids()),
    )


def suggest_navigators(
    referral: Referral, today: date, support_level: int | None = None
) -> Ranking:
    """At triage the level is still being chosen: the caller may say which one it will be."""
    person = person_for(referral, today)
    if support_level is not None:
        person = replace(person, support_level=support_level)
    return rank(navigators.KIND, person, navigator_pool(), weights.current(), Context(centroids()))


def batch_for_buddies(today: date) -> tuple[list[tuple[Referral, Pairing]], BatchInputs]:
    """Everyone waiting for a buddy, each with the buddy the greedy pass gives them."""
    waiting = waiting_for_buddy(today)
    inputs = BatchInputs(buddy_pool(today), weights.current(), Context(centroids()))
    pairings = batch.assign(
        [(r.id, person) for r, person in waiting], inputs.pool, inputs.weights, inputs.context
    )
    return [(r, p) for (r, _), p in zip(waiting, pairings, strict=True)], inputs


@dataclass
class BatchInputs:
    pool: list[BuddyCandidate]
    weights: dict[str, float]
    context: Context
