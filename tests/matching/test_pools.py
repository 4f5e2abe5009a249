"""Reading the person and the candidates from the database, and the three suggestions end to end."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.cases.models import GoalStatus
from portal.db_types import utcnow
from portal.directory.models import (
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
)
from portal.extensions import db
from portal.matching import decisions, pools, postcodes, weights
from portal.matching.engine import Exclusion, Suggestion
from portal.matching.models import MatchDecision, MatchKind
from portal.matching.people import slot_mask
from portal.referrals.models import (
    ClosureReason,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Route,
    Urgency,
)
from portal.volunteers.buddying import active_modules
from portal.volunteers.compliance import buddy_role, compliance
from portal.volunteers.models import BuddyMatchStatus, DbsLevel, LeftReason, VolunteerStatus
from tests.factories import (
    PASSWORD,
    make_activity,
    make_buddy_match,
    make_compliant_volunteer,
    make_goal,
    make_neighbourhood,
    make_organisation,
    make_practice,
    make_referral,
    make_resident,
    make_training_module,
    make_training_record,
    make_user,
    make_volunteer,
)
from tests.statements import statements_of

RS = ReferralStatus
M = BuddyMatchStatus
AR = ActivityReferralStatus
TODAY = date.today()


def ago(**kw):
    return utcnow() - timedelta(**kw)


@pytest.fixture
def navigator(app):
    return make_user(Role.NAVIGATOR, full_name="Nina Navigator")


def case(navigator=None, status: ReferralStatus = RS.ACTIVE, **kw):
    """A referral in the given status, with what that status needs."""
    fields: dict = {}
    if status in (RS.ASSIGNED, RS.ACTIVE, RS.CLOSED):
        fields.update(route=Route.SOCIAL_NAVIGATION, support_level=1, triaged_at=ago(days=20))
        if navigator is not None:
            fields.update(navigator_id=navigator.id, assigned_at=ago(days=19))
    if status == RS.CLOSED:
        fields.update(closed_at=ago(days=1), closure_reason=ClosureReason.GOALS_MET)
    return make_referral(status=status, **{**fields, **kw})


def volunteer(name: str, compliant: bool = True, **kw):
    make = make_compliant_volunteer if compliant else make_volunteer
    return make(user_kw={"full_name": name}, **kw)


def by_name(pool) -> dict:
    return {c.name: c for c in pool}


def activity_referral(referral, activity, by, status: ActivityReferralStatus):
    row = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=status,
        created_by_id=by.id,
        decline_reason="No room" if status == AR.DECLINED else None,
    )
    db.session.add(row)
    db.session.commit()
    return row


# --- the person -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(1950, 6, 15), date(2025, 6, 15), 75),  # birthday today
        (date(1950, 6, 16), date(2025, 6, 15), 74),  # birthday tomorrow
        (date(1950, 12, 31), date(2025, 1, 1), 74),
        (date(2000, 2, 29), date(2025, 2, 28), 24),
        (date(2000, 2, 29), date(2025, 3, 1), 25),
        (None, date(2025, 6, 15), None),
    ],
)
def test_person_age_from_date_of_birth(app, born, today, age):
    referral = make_referral(resident=make_resident(date_of_birth=born))
    assert pools.person_for(referral, today).age == age


def test_person_for_reads_what_the_referral_says(app, navigator):
    team = make_neighbourhood(name="North team")
    resident = make_resident(given_name="Ann", postcode="cv2 4ab", language="Polish")
    referral = case(
        navigator,
        resident=resident,
        practice=make_practice(team),
        reasons=(ReferralReason.LONELINESS, ReferralReason.PHYSICAL_ACTIVITY),
        interests=["music"],
        availability=["mon_morning", "thu_evening"],
        access_needs=["step_free"],
        preferred_buddy_gender="Woman",
        support_level=2,
    )
    p = pools.person_for(referral, TODAY)
    assert p.name == "Ann"
    assert p.district == "CV2"
    assert p.has_postcode
    assert p.language == "Polish"
    assert p.reasons == {"loneliness", "physical_activity"}
    assert p.interests == {"music"}
    # Physical activity implies walking and football, on top of what was recorded.
    assert p.wanted_interests == {"music", "walking", "football"}
    assert p.availability == slot_mask(["mon_morning", "thu_evening"])
    assert p.access_needs == {"step_free"}
    assert p.preferred_gender == "Woman"
    assert p.support_level == 2
    assert p.neighbourhood_id == team.id
    assert p.neighbourhood_name == "North team"
    assert p.current_navigator_id == navigator.id


def test_a_person_without_a_postcode_or_language(app):
    resident = make_resident(postcode=None, language="")
    p = pools.person_for(make_referral(resident=resident, reasons=()), TODAY)
    assert p.district is None and not p.has_postcode
    assert p.language == "English"
    assert p.reasons == frozenset()
    assert p.availability == 0


def test_neighbourhood_comes_from_the_residents_practice_on_a_self_referral(app):
    home_team = make_neighbourhood(name="Home team")
    resident = make_resident(practice_id=make_practice(home_team).id)
    referral = make_referral(resident=resident, source=ReferralSource.SELF)
    assert referral.practice_id is None
    p = pools.person_for(referral, TODAY)
    assert (p.neighbourhood_id, p.neighbourhood_name) == (home_team.id, "Home team")


def test_the_referrals_practice_wins_over_the_residents(app):
    referral_team, home_team = make_neighbourhood(), make_neighbourhood()
    resident = make_resident(practice_id=make_practice(home_team).id)
    referral = make_referral(resident=resident, practice=make_practice(referral_team))
    assert pools.person_for(referral, TODAY).neighbourhood_id == referral_team.id


def test_no_practice_at_all_means_no_neighbourhood(app):
    referral = make_referral(source=ReferralSource.SELF)
    p = pools.person_for(referral, TODAY)
    assert p.neighbourhood_id is None and p.neighbourhood_name is None


def test_previous_navigators_come_from_the_residents_other_referrals(app):
    earlier, also, current, stranger = (make_user(Role.NAVIGATOR) for _ in range(4))
    resident = make_resident()
    case(earlier, status=RS.CLOSED, resident=resident)
    case(also, status=RS.ACTIVE, resident=resident)
    case(current, status=RS.CLOSED, resident=resident)  # the current one, also before
    make_referral(resident=resident)  # never had a navigator
    case(stranger, status=RS.ACTIVE)  # someone else's referral
    referral = case(current, resident=resident)
    p = pools.person_for(referral, TODAY)
    assert p.previous_navigator_ids == {earlier.id, also.id}
    assert p.current_navigator_id == current.id


def test_only_open_goals_of_this_referral_count(app, navigator):
    referral = case(navigator)
    make_goal(referral, navigator, description="Get back to gardening")
    make_goal(
        referral,
        navigator,
        description="Walk to the shop",
        status=GoalStatus.ACHIEVED,
        closed_on=TODAY,
    )
    make_goal(case(navigator), navigator, description="Learn the piano")
    p = pools.person_for(referral, TODAY)
    assert [g.text for g in p.goals] == ["Get back to gardening"]
    assert p.goals[0].stems == {"garden"}
    assert p.wanted_interests == {"gardening"}


def test_current_buddies_are_those_proposed_or_active(app, navigator):
    referral = case(navigator)
    proposed, active, declined, ended = (volunteer(f"V{n}") for n in range(4))
    make_buddy_match(referral, proposed, navigator, status=M.PROPOSED, responded_at=None)
    make_buddy_match(referral, active, navigator, status=M.ACTIVE)
    make_buddy_match(
        referral, declined, navigator, status=M.DECLINED, decline_reason="Too far for me"
    )
    make_buddy_match(referral, ended, navigator, status=M.ENDED, ended_at=ago(days=2))
    make_buddy_match(case(navigator), ended, navigator, status=M.ACTIVE)  # another person's
    p = pools.person_for(referral, TODAY)
    assert p.current_buddy_ids == {proposed.id, active.id}


def test_open_activity_referrals_are_those_sent_accepted_or_attended(app, navigator):
    referral = case(navigator)
    org = make_organisation()
    sent, accepted, attended, declined, stopped, suggested = (make_activity(org) for _ in range(6))
    for activity, status in (
        (sent, AR.SENT),
        (accepted, AR.ACCEPTED),
        (attended, AR.ATTENDED),
        (declined, AR.DECLINED),
        (stopped, AR.STOPPED),
        (suggested, AR.SUGGESTED),
    ):
        activity_referral(referral, activity, navigator, status)
    activity_referral(case(navigator), declined, navigator, AR.SENT)  # another person's
    p = pools.person_for(referral, TODAY)
    assert p.referred_activity_ids == {sent.id, accepted.id, attended.id}


# --- buddies ------------------------------------------------------------------------------------


def compliance_reasons(v) -> list[str]:
    """What the rest of the portal says stops this volunteer buddying."""
    db.session.refresh(v)
    return compliance(v, active_modules(), TODAY, roles=[buddy_role(v)]).reasons


def test_buddy_pool_reads_each_volunteer(app):
    v = volunteer(
        "Zofia Nowak",
        postcode="CV1 2AB",
        gender="Female",
        languages=[" Polish ", "GERMAN"],
        interests=["gardening", "music"],
        availability=["mon_morning", "sun_evening"],
        max_buddies=3,
    )
    [candidate] = pools.buddy_pool(TODAY)
    assert candidate.id == v.id
    assert candidate.name == "Zofia Nowak"
    assert candidate.district == "CV1"
    assert candidate.gender == "Female"
    assert candidate.languages == {"polish", "german"}
    assert candidate.interests == {"gardening", "music"}
    assert candidate.availability == slot_mask(["mon_morning", "sun_evening"])
    assert (candidate.taken, candidate.capacity) == (0, 3)
    assert candidate.by_phone is False
    assert candidate.problems == ()


@pytest.mark.parametrize(
    "kw",
    [
        {},  # applied: no DBS, no training
        {"status": VolunteerStatus.PAUSED},
        {
            "status": VolunteerStatus.VETTING,
            "dbs_level": DbsLevel.BASIC,
            "dbs_issue_date": TODAY - timedelta(days=30),
        },
    ],
    ids=["nothing-done", "paused", "vetting-basic"],
)
def test_problems_come_from_the_portals_compliance_rules(app, kw):
    make_training_module(name="Safeguarding")
    v = volunteer("Una", compliant=False, **kw)
    [candidate] = pools.buddy_pool(TODAY)
    assert candidate.problems
    assert list(candidate.problems) == compliance_reasons(v)


def test_a_paused_but_otherwise_compliant_volunteer_has_only_that_problem(app):
    v = volunteer("Pat", status=VolunteerStatus.PAUSED)
    [candidate] = pools.buddy_pool(TODAY)
    assert candidate.problems == ("Their status is paused, not active",)
    assert list(candidate.problems) == compliance_reasons(v)


def test_out_of_date_training_is_a_problem_unless_done_again(app):
    module = make_training_module(name="Safeguarding", valid_for_months=12)
    stale = volunteer("Stale")
    renewed = volunteer("Renewed")
    for v in (stale, renewed):
        db.session.execute(
            sa.text("DELETE FROM training_records WHERE volunteer_id = :v AND module_id = :m"),
            {"v": v.id, "m": module.id},
        )
        make_training_record(v, module, completed_on=TODAY - timedelta(days=500))
    make_training_record(renewed, module, completed_on=TODAY - timedelta(days=10))
    pool = by_name(pools.buddy_pool(TODAY))
    expires = TODAY - timedelta(days=500)
    assert pool["Stale"].problems == (
        f"Training out of date: Safeguarding ran out on "
        f"{_day(expires.replace(year=expires.year + 1))}",
    )
    assert list(pool["Stale"].problems) == compliance_reasons(stale)
    assert pool["Renewed"].problems == ()


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def test_a_dbs_check_kept_up_on_the_update_service_counts(app):
    old = TODAY - timedelta(days=4 * 365)
    on_service = volunteer(
        "On service", dbs_issue_date=old, dbs_update_service=True, dbs_checked_at=ago(days=30)
    )
    lapsed = volunteer("Lapsed", dbs_issue_date=old)
    pool = by_name(pools.buddy_pool(TODAY))
    assert pool["On service"].problems == ()
    assert list(pool["Lapsed"].problems) == compliance_reasons(lapsed)
    assert pool["Lapsed"].problems[0].startswith("Their DBS check ran out on ")
    assert compliance_reasons(on_service) == []


def test_a_telephone_befriender_needs_no_dbs_and_never_travels(app):
    volunteer(
        "Phone Phil",
        compliant=False,
        role_buddy=False,
        role_befriender=True,
        postcode="CV37 6AA",
    )
    [candidate] = pools.buddy_pool(TODAY)
    assert candidate.by_phone is True
    assert candidate.problems == ()


def test_volunteers_who_left_or_do_not_buddy_are_not_in_the_pool(app):
    volunteer("Still here")
    volunteer("Gone", status=VolunteerStatus.LEFT, left_reason=LeftReason.MOVED)
    volunteer("Navigator only", role_buddy=False, role_navigator=True)
    assert [c.name for c in pools.buddy_pool(TODAY)] == ["Still here"]


def test_taken_counts_current_matches_only(app, navigator):
    v = volunteer("Busy", max_buddies=4)
    make_buddy_match(case(navigator), v, navigator, status=M.PROPOSED, responded_at=None)
    make_buddy_match(case(navigator), v, navigator, status=M.ACTIVE)
    make_buddy_match(case(navigator), v, navigator, status=M.DECLINED, decline_reason="No")
    make_buddy_match(case(navigator), v, navigator, status=M.ENDED, ended_at=ago(days=1))
    [candidate] = pools.buddy_pool(TODAY)
    assert (candidate.taken, candidate.capacity) == (2, 4)


# --- activities ---------------------------------------------------------------------------------


def test_activity_pool_reads_each_activity(app):
    org = make_organisation(name="Riverside Trust")
    a = make_activity(
        org,
        title="Walking group",
        description="A gentle walk, then tea",
        categories=["physical_activity", "social_connection"],
        postcode="cv3 6pt",
        days=[0, 3],
        start_time=time(10, 30),
        cost_pence=250,
        min_age=50,
        max_age=90,
        spaces_available=4,
        step_free=True,
        hearing_loop=True,
    )
    [candidate] = pools.activity_pool()
    assert candidate.id == a.id and candidate.uuid == a.uuid
    assert (candidate.title, candidate.organisation) == ("Walking group", "Riverside Trust")
    assert candidate.open and candidate.closed_because is None
    assert candidate.accepts_referrals
    assert candidate.spaces_available == 4
    assert candidate.access == {"step_free", "hearing_loop"}
    assert (candidate.min_age, candidate.max_age) == (50, 90)
    assert candidate.categories == {"physical_activity", "social_connection"}
    assert "walking group a gentle walk then tea" in candidate.text
    assert candidate.district == "CV3"
    assert candidate.online is False
    assert candidate.slots == slot_mask(["mon_morning", "thu_morning"])
    assert candidate.by_arrangement is False
    assert candidate.free is False


@pytest.mark.parametrize(
    ("kw", "slots", "by_arrangement"),
    [
        ({"days": [2], "start_time": time(14, 0)}, ["wed_afternoon"], False),
        ({"days": [5], "start_time": time(18, 0)}, ["sat_evening"], False),
        ({"days": [6]}, ["sun_morning", "sun_afternoon", "sun_evening"], False),  # no time
        ({"days": [], "start_time": time(9, 0)}, [], False),
        ({"days": [1], "frequency": Frequency.BY_ARRANGEMENT}, [], True),
    ],
)
def test_activity_times(app, kw, slots, by_arrangement):
    make_activity(**kw)
    [candidate] = pools.activity_pool()
    assert candidate.slots == slot_mask(slots)
    assert candidate.by_arrangement is by_arrangement


@pytest.mark.parametrize(("cost", "free"), [(None, True), (0, True), (1, False)])
def test_free_activities(app, cost, free):
    make_activity(cost_pence=cost)
    assert pools.activity_pool()[0].free is free


def test_paused_and_unverified_activities_are_there_to_say_why_not_drafts_are_not(app):
    verified, unverified = make_organisation(), make_organisation(verified=False)
    make_activity(verified, title="Open")
    make_activity(verified, title="Paused", status=ActivityStatus.PAUSED)
    make_activity(unverified, title="Unverified")
    make_activity(unverified, title="Paused unverified", status=ActivityStatus.PAUSED)
    make_activity(verified, title="Draft", status=ActivityStatus.DRAFT)
    make_activity(verified, title="Archived", status=ActivityStatus.ARCHIVED)
    pool = {a.title: (a.open, a.closed_because) for a in pools.activity_pool()}
    assert pool == {
        "Open": (True, None),
        "Paused": (False, "Paused by the organisation"),
        "Unverified": (False, "The organisation is not verified yet"),
        "Paused unverified": (False, "Paused by the organisation"),
    }


def test_online_activity(app):
    make_activity(online=True, accepts_referrals=False)
    [candidate] = pools.activity_pool()
    assert candidate.online and candidate.district is None
    assert candidate.accepts_referrals is False


# --- navigators ---------------------------------------------------------------------------------


def test_navigator_pool(app):
    team = make_neighbourhood(name="East")
    staff = make_user(
        Role.NAVIGATOR,
        full_name="Sam Staff",
        caseload_capacity=10,
        neighbourhood_id=team.id,
        languages=[" Urdu", "Punjabi "],
    )
    helper = make_user(Role.NAVIGATOR, full_name="Val Volunteer", is_volunteer_navigator=True)
    make_user(Role.NAVIGATOR, full_name="Ina Inactive", is_active=False)
    make_user(Role.COORDINATOR, full_name="Cora Coordinator")
    for status in (RS.ASSIGNED, RS.ACTIVE, RS.ACTIVE, RS.CLOSED):
        case(staff, status=status)
    case(helper, status=RS.ASSIGNED)
    pool = by_name(pools.navigator_pool())
    assert set(pool) == {"Sam Staff", "Val Volunteer"}
    sam, val = pool["Sam Staff"], pool["Val Volunteer"]
    assert (sam.id, sam.open_cases, sam.capacity, sam.is_volunteer) == (staff.id, 3, 10, False)
    assert (sam.neighbourhood_id, sam.neighbourhood_name) == (team.id, "East")
    assert sam.languages == {"urdu", "punjabi"}
    assert (val.open_cases, val.capacity, val.is_volunteer) == (1, None, True)
    assert val.neighbourhood_id is None and val.neighbourhood_name is None


def test_the_navigator_list_reads_every_team_with_the_navigators(app, coordinator, client):
    """Each navigator's team comes with the navigator, not one statement per team."""
    make_user(Role.NAVIGATOR, full_name="Nav 0", neighbourhood_id=make_neighbourhood(name="T0").id)
    client.post("/login", data={"email": coordinator.email, "password": PASSWORD})
    one_team = statements_of(app, client, "/admin/navigators")
    for n in range(1, 5):
        team = make_neighbourhood(name=f"Team {n}")
        make_user(Role.NAVIGATOR, full_name=f"Nav {n}", neighbourhood_id=team.id)

    assert statements_of(app, client, "/admin/navigators") == one_team
    listing = client.get("/admin/navigators").text
    assert all(f"Team {n}" in listing for n in range(1, 5))


# --- waiting for a buddy --------------------------------------------------------------------------


def test_waiting_for_buddy_urgent_first_then_longest_waiting(app, navigator):
    def waiting(name, days, urgency=Urgency.ROUTINE, status=RS.ACTIVE, wants=True):
        return case(
            navigator,
            status=status,
            resident=make_resident(given_name=name),
            received_at=ago(days=days),
            urgency=urgency,
            wants_buddy=wants,
        )

    waiting("Routine old", 30)
    waiting("Urgent new", 2, Urgency.URGENT, status=RS.ASSIGNED)
    waiting("Routine new", 5)
    waiting("Urgent old", 40, Urgency.URGENT)
    waiting("Not wanted", 50, wants=False)
    waiting("Not yet assigned", 50, status=RS.TRIAGED)
    waiting("Closed", 50, status=RS.CLOSED)
    proposed = waiting("Proposed", 50)
    active = waiting("Active match", 50)
    declined = waiting("Declined before", 10)
    ended = waiting("Ended before", 20)
    v = volunteer("Vic", max_buddies=10)
    make_buddy_match(proposed, v, navigator, status=M.PROPOSED, responded_at=None)
    make_buddy_match(active, v, navigator, status=M.ACTIVE)
    make_buddy_match(declined, v, navigator, status=M.DECLINED, decline_reason="No")
    make_buddy_match(ended, v, navigator, status=M.ENDED, ended_at=ago(days=3))

    found = pools.waiting_for_buddy(TODAY)
    assert [p.name for _, p in found] == [
        "Urgent old",
        "Urgent new",
        "Routine old",
        "Ended before",
        "Declined before",
        "Routine new",
    ]
    assert all(r.resident.given_name == p.name for r, p in found)


def test_waiting_for_buddy_reads_goals_and_previous_navigators(app, navigator):
    before = make_user(Role.NAVIGATOR)
    resident = make_resident(given_name="Ann")
    case(before, status=RS.CLOSED, resident=resident)
    referral = case(navigator, resident=resident, wants_buddy=True, interests=["music"])
    make_goal(referral, navigator, description="Walk to the park")
    make_goal(
        referral, navigator, description="Learn to cook", status=GoalStatus.DROPPED, closed_on=TODAY
    )
    [(found, p)] = pools.waiting_for_buddy(TODAY)
    assert found.id == referral.id
    assert [g.text for g in p.goals] == ["Walk to the park"]
    assert p.previous_navigator_ids == {before.id}
    assert p.wanted_interests == {"music", "walking"}
    # The same person as the suggestion panel reads.
    assert p == pools.person_for(referral, TODAY)


# --- the suggestions end to end -----------------------------------------------------------------


@pytest.fixture
def ann(app, navigator):
    postcodes.load_demo_area()
    db.session.commit()
    resident = make_resident(given_name="Ann", postcode="CV1 1AA", language="Polish")
    return case(navigator, resident=resident, wants_buddy=True, interests=["gardening"])


def test_suggest_buddies_end_to_end(ann, navigator):
    other = case(navigator)
    zofia = volunteer(
        "Zofia", postcode="CV1 2AB", languages=["Polish"], interests=["gardening"], max_buddies=2
    )
    make_buddy_match(other, zofia, navigator)  # 1 of 2
    fred = volunteer("Fred", postcode="CV37 6AA")
    volunteer("Una", compliant=False, postcode="CV1 3AB")
    full = volunteer("Fiona", postcode="CV1 4AB", max_buddies=1)
    make_buddy_match(other, full, navigator)
    volunteer("Len", status=VolunteerStatus.LEFT, left_reason=LeftReason.MOVED, postcode="CV1 5AB")

    ranking = pools.suggest_buddies(ann, TODAY)
    assert ranking.pool_size == 4
    assert [s.candidate.name for s in ranking.suggestions] == ["Zofia", "Fred"]
    assert {e.candidate.name: e.refusals[0].key for e in ranking.excluded} == {
        "Una": "compliance",
        "Fiona": "capacity",
    }
    reasons = [r.text for r in ranking.top(1)[0].reasons]
    assert "Speaks Polish" in reasons
    assert "In the same postcode district (CV1)" in reasons
    assert "Shares Ann's interest in gardening" in reasons
    assert ranking.find(fred.id).score < ranking.find(zofia.id).score

    # The admin's weights are the ones used: with only load counted, Fred (free) comes first.
    admin = make_user(Role.ADMIN)
    weights.save({**dict.fromkeys(weights.FACTOR_KEYS, 0.0), "load": 1.0}, admin.id)
    db.session.commit()
    ranking = pools.suggest_buddies(ann, TODAY)
    assert [(s.candidate.name, s.score) for s in ranking.suggestions] == [
        ("Fred", 100.0),
        ("Zofia", 50.0),
    ]


def test_suggest_buddies_leaves_distance_out_when_no_districts_are_loaded(app, navigator):
    referral = case(navigator, resident=make_resident(given_name="Bo", postcode="CV1 1AA"))
    volunteer("Near", postcode="CV1 2AB")
    ranking = pools.suggest_buddies(referral, TODAY)
    assert "Distance is not counted: CV1 is not a postcode district the portal knows." in (
        ranking.notes
    )


def test_suggest_activities_end_to_end(ann, navigator):
    verified, unverified = make_organisation(), make_organisation(verified=False)
    garden = make_activity(
        verified, title="Community garden", categories=["nature"], postcode="CV1 2AA"
    )
    far = make_activity(verified, title="Far garden", categories=["nature"], postcode="CV37 6AA")
    make_activity(verified, title="Paused", status=ActivityStatus.PAUSED, postcode="CV1 1AA")
    make_activity(unverified, title="Unverified", postcode="CV1 1AA")
    make_activity(verified, title="Draft", status=ActivityStatus.DRAFT, postcode="CV1 1AA")
    sent = make_activity(verified, title="Already sent", categories=["nature"])
    declined = make_activity(verified, title="Declined before", postcode="CV1 1AA")
    activity_referral(ann, sent, navigator, AR.SENT)
    activity_referral(ann, declined, navigator, AR.DECLINED)

    ranking = pools.suggest_activities(ann, TODAY)
    assert ranking.pool_size == 6
    assert [s.candidate.title for s in ranking.suggestions] == [
        "Community garden",
        "Declined before",
        "Far garden",
    ]
    assert {e.candidate.title: e.why_not for e in ranking.excluded} == {
        "Paused": ["Paused by the organisation"],
        "Unverified": ["The organisation is not verified yet"],
        "Already sent": ["Ann is already referred to it"],
    }
    assert garden.id != far.id
    assert "Nature and gardening matches 'gardening'" in [
        r.text for r in ranking.find(garden.id).reasons
    ]


def test_suggest_navigators_with_the_level_being_chosen(app):
    team = make_neighbourhood(name="West")
    before = make_user(Role.NAVIGATOR, full_name="Before", caseload_capacity=10)
    helper = make_user(
        Role.NAVIGATOR, full_name="Helper", is_volunteer_navigator=True, neighbourhood_id=team.id
    )
    make_user(Role.NAVIGATOR, full_name="Stranger", caseload_capacity=10)
    resident = make_resident(given_name="Ann")
    case(before, status=RS.CLOSED, resident=resident)
    referral = make_referral(resident=resident, practice=make_practice(team))

    at_triage = pools.suggest_navigators(referral, TODAY)
    assert {s.candidate.name for s in at_triage.suggestions} == {"Before", "Helper", "Stranger"}
    assert at_triage.suggestions[-1].candidate.name == "Stranger"

    level_two = pools.suggest_navigators(referral, TODAY, support_level=2)
    assert [s.candidate.name for s in level_two.suggestions] == ["Before", "Stranger"]
    assert isinstance(level_two.find(helper.id), Exclusion)
    assert level_two.find(helper.id).why_not == [
        "Volunteer navigators support level 1 only; Ann needs level 2"
    ]
    assert "Supported Ann before" in [r.text for r in level_two.find(before.id).reasons]


def test_batch_for_buddies_end_to_end(app, navigator):
    postcodes.load_demo_area()
    db.session.commit()
    first = case(
        navigator,
        resident=make_resident(given_name="First"),
        urgency=Urgency.URGENT,
        received_at=ago(days=1),
        wants_buddy=True,
    )
    second = case(
        navigator,
        resident=make_resident(given_name="Second"),
        received_at=ago(days=30),
        wants_buddy=True,
    )
    only = volunteer("Only", postcode="CV1 2AB", max_buddies=1)
    rows, inputs = pools.batch_for_buddies(TODAY)
    assert [(r.id, p.buddy.id if p.buddy else None) for r, p in rows] == [
        (first.id, only.id),
        (second.id, None),
    ]
    assert rows[0][1].referral_id == first.id
    assert rows[1][1].message == (
        "No one matches, because of the only buddy: 1 already has as many people as they can take."
    )
    assert [c.id for c in inputs.pool] == [only.id]
    assert inputs.weights == weights.DEFAULTS
    assert "CV1" in inputs.context.centroids


# --- decisions -----------------------------------------------------------------------------------


def test_record_keeps_the_rank_score_reasons_and_the_top(ann, navigator):
    zofia = volunteer("Zofia", postcode="CV1 2AB", languages=["Polish"])
    fred = volunteer("Fred", postcode="CV37 6AA")
    una = volunteer("Una", compliant=False)
    ranking = pools.suggest_buddies(ann, TODAY)
    top = ranking.suggestions[0]
    assert top.candidate.id == zofia.id

    chosen = ranking.find(fred.id)
    assert isinstance(chosen, Suggestion)
    decisions.record(ranking, MatchKind.BUDDY, ann.id, fred.id, navigator.id, True)
    decisions.record(ranking, MatchKind.BUDDY, ann.id, una.id, navigator.id, False)
    decisions.record(
        ranking, MatchKind.BUDDY, ann.id, 9999, navigator.id, False, name=lambda: "X" * 300
    )
    db.session.commit()
    db.session.expire_all()

    rows = db.session.scalars(sa.select(MatchDecision).order_by(MatchDecision.id)).all()
    picked, excluded, unknown = rows
    assert (picked.kind, picked.referral_id, picked.candidate_id) == (
        MatchKind.BUDDY,
        ann.id,
        fred.id,
    )
    assert picked.candidate_name == "Fred"
    assert (picked.rank, picked.score) == (2, chosen.score)
    assert picked.reasons == [r.text for r in chosen.reasons]
    assert picked.reasons  # something was said
    assert (picked.top_candidate_id, picked.top_score) == (zofia.id, top.score)
    assert picked.eligible_count == 2
    assert picked.from_suggestions is True
    assert picked.chosen_by_id == navigator.id
    assert picked.chosen_at is not None

    # Chosen though the ranking excluded them: no rank, no score, the name kept.
    assert (excluded.candidate_name, excluded.rank, excluded.score, excluded.reasons) == (
        "Una",
        None,
        None,
        [],
    )
    assert excluded.top_candidate_id == zofia.id
    assert excluded.from_suggestions is False

    # Not in the ranking at all: the caller names them, cut to fit.
    assert unknown.candidate_name == "X" * 200
    assert unknown.rank is None


def test_record_when_no_one_could_be_suggested(app, navigator):
    referral = case(navigator)
    ranking = pools.suggest_buddies(referral, TODAY)
    assert ranking.suggestions == []
    decision = decisions.record(
        ranking, MatchKind.BUDDY, referral.id, 5, navigator.id, False, name="Someone"
    )
    db.session.commit()
    assert (decision.candidate_name, decision.top_candidate_id, decision.top_score) == (
        "Someone",
        None,
        None,
    )
    assert decision.eligible_count == 0
