"""What an outcome report says about each person: full content with consent, the coded
minimum without it, one section per person, in family-name order."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.auth.models import Role
from portal.cases.models import GoalStatus
from portal.db_types import utcnow
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Referral,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Route,
)
from portal.referrals.workflow import Actor
from portal.reports.codes import SNOMED
from portal.reports.compose import summaries
from portal.reports.models import QueuedOutcome, ReportEvent
from portal.reports.periods import london_date
from portal.reports.queue import queue_outcome
from portal.volunteers.models import BuddyMatchStatus
from tests.factories import (
    make_activity,
    make_buddy_match,
    make_compliant_volunteer,
    make_goal,
    make_neighbourhood,
    make_organisation,
    make_practice,
    make_referral,
    make_resident,
)

S = ReferralStatus
REFERRAL_CODE = {
    "system": SNOMED,
    "code": "871731000000106",
    "display": "Referral to social prescribing service",
}
DECLINED_CODE = {
    "system": SNOMED,
    "code": "871711000000103",
    "display": "Social prescribing declined",
}
FULL_ONLY = ("referral", "what_matters", "support", "wellbeing", "navigator")


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def settle() -> None:
    for obj in list(db.session.identity_map.values()):
        if sa.inspect(obj).expired:
            db.session.refresh(obj)
        if isinstance(obj, Referral):
            obj.events  # noqa: B018 - loads the relationship


def commit() -> None:
    db.session.commit()
    settle()


def open_case(navigator, status: ReferralStatus = S.ACTIVE, **kw) -> Referral:
    """A case with `navigator` since 10 days ago, received 20 days ago."""
    referral = make_referral(
        status=status,
        **{
            "received_at": ago(days=20),
            "first_contact_at": ago(days=19),
            "route": Route.SOCIAL_NAVIGATION,
            "support_level": 2,
            "triaged_at": ago(days=19),
            "navigator_id": navigator.id if navigator else None,
            "assigned_at": ago(days=10),
            **kw,
        },
    )
    settle()
    return referral


def close(referral, hub, reason=ClosureReason.MOVED_AWAY, summary=None) -> None:
    workflow.close(referral, hub, reason, summary)
    commit()


def queued(*referrals) -> list[QueuedOutcome]:
    query = sa.select(QueuedOutcome).order_by(QueuedOutcome.id)
    if referrals:
        query = query.where(QueuedOutcome.referral_id.in_([r.id for r in referrals]))
    return list(db.session.scalars(query))


def one(items):
    (item,) = items
    return item


def measure(referral, by, scale, stage, answers, days_ago, **kw) -> MeasureResponse:
    response = MeasureResponse(
        referral_id=referral.id,
        scale=scale,
        stage=stage,
        answers=answers,
        declined=answers is None,
        recorded_by_id=by.id,
        recorded_at=ago(days=days_ago),
        **kw,
    )
    db.session.add(response)
    db.session.commit()
    return response


def activity_referral(referral, by, status, title, organisation=None, **kw) -> ActivityReferral:
    organisation = organisation or make_organisation(name=f"{title} organisers")
    activity = make_activity(organisation, title=title)
    row = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=status,
        created_by_id=by.id,
        **kw,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


@pytest.fixture
def nadia(make_user):
    return make_user(Role.NAVIGATOR, full_name="Nadia Navigator")


# --- the full content ----------------------------------------------------------------------


def test_a_closed_case_shared_in_full_says_everything(app, nadia, hub):
    practice = make_practice()
    resident = make_resident(
        given_name="Ada",
        family_name="Lovelace",
        date_of_birth=date(1941, 12, 10),
        practice_id=practice.id,
    )
    referral = open_case(
        nadia,
        resident=resident,
        practice=practice,
        reasons=(ReferralReason.LONELINESS, ReferralReason.BEREAVEMENT),
        referrer_name="Dr Patel",
    )
    make_goal(referral, nadia, description="Join a walking group")
    make_goal(
        referral,
        nadia,
        description="Visit my sister",
        status=GoalStatus.ACHIEVED,
        closed_on=date.today(),
    )
    make_goal(
        referral,
        nadia,
        description="Learn to drive",
        status=GoalStatus.DROPPED,
        closed_on=date.today(),
    )
    activity_referral(referral, nadia, ActivityReferralStatus.SUGGESTED, "Knit and natter")
    activity_referral(referral, nadia, ActivityReferralStatus.ATTENDED, "Walking football")
    activity_referral(referral, nadia, ActivityReferralStatus.SENT, "Men's shed")
    activity_referral(
        referral, nadia, ActivityReferralStatus.DECLINED, "Chess club", decline_reason="Full"
    )
    measure(referral, nadia, Scale.UCLA3, Stage.BASELINE, [3, 3, 2], days_ago=15)
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, [1, 2, 1], days_ago=1)
    summary_text = "Joined a choir.\nSees her sister every week."
    close(referral, hub, ClosureReason.GOALS_MET, summary_text)

    rows = queued(referral)
    assert [q.event for q in rows] == [ReportEvent.CLOSED]
    person = one(summaries(rows))

    assert person["schema_version"] == 1
    assert person["reference"] == referral.reference
    assert person["event"] == "closed"
    assert person["event_label"] == "Support ended"
    assert person["event_date"] == london_date(rows[0].queued_at).isoformat()
    assert person["shared_in_full"] is True
    assert person["patient"] == {
        "nhs_number": resident.nhs_number,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1941-12-10",
    }
    assert person["codes"] == [REFERRAL_CODE]
    assert person["hub"] == {
        "name": app.config["HUB_NAME"],
        "phone": app.config["HUB_PHONE"],
        "email": app.config["HUB_EMAIL"],
    }
    assert person["referral"] == {
        "received_on": london_date(referral.received_at).isoformat(),
        "source": "GP practice",
        "referrer": "Dr Patel",
        "reasons": person["referral"]["reasons"],
    }
    # The reasons' labels, each once (the order is not promised).
    assert sorted(person["referral"]["reasons"]) == [
        "Bereavement",
        "Loneliness or social isolation",
    ]
    # A closed case tells every goal, even one no longer relevant.
    assert person["what_matters"] == [
        {"goal": "Join a walking group", "status": "Open"},
        {"goal": "Visit my sister", "status": "Achieved"},
        {"goal": "Learn to drive", "status": "No longer relevant"},
    ]
    support = person["support"]
    assert support["route"] == "Social navigation"
    assert support["level"] == 2
    # Suggestions the person never heard about are left out.
    assert support["activities"] == [
        {
            "activity": "Walking football",
            "organisation": "Walking football organisers",
            "status": "Attended",
            "taken_up": True,
        },
        {
            "activity": "Men's shed",
            "organisation": "Men's shed organisers",
            "status": "Sent to organisation",
            "taken_up": False,
        },
        {
            "activity": "Chess club",
            "organisation": "Chess club organisers",
            "status": "Declined",
            "taken_up": False,
        },
    ]
    assert support["buddy"] == []
    assert support["onward_referrals"] == []
    (ucla,) = person["wellbeing"]
    assert ucla["scale"] == "ucla3"
    assert ucla["scale_label"] == "UCLA 3-item loneliness scale"
    assert ucla["baseline_on"] == london_date(ago(days=15)).isoformat()
    assert ucla["closing_on"] == london_date(ago(days=1)).isoformat()
    assert ucla["results"] == [
        {
            "measure": "Loneliness (UCLA-3 score)",
            "baseline": 8.0,
            "closing": 4.0,
            "change": -4.0,
            "direction": "better",
        }
    ]
    assert person["outcome"] == {
        "status": "closed",
        "reason": "goals_met",
        "reason_label": "Goals met",
        "summary": summary_text,
        "closed_on": london_date(referral.closed_at).isoformat(),
    }
    assert person["navigator"] == {"name": "Nadia Navigator"}
    # Every format is rendered from this: it must be plain JSON.
    assert json.loads(json.dumps(person)) == person


@pytest.mark.parametrize(
    ("status", "taken_up"),
    [
        (ActivityReferralStatus.SENT, False),
        (ActivityReferralStatus.ACCEPTED, True),
        (ActivityReferralStatus.ATTENDED, True),
        (ActivityReferralStatus.STOPPED, True),
        (ActivityReferralStatus.SIGNPOSTED, False),
    ],
)
def test_an_activity_counts_as_taken_up_once_accepted(nadia, hub, status, taken_up):
    referral = open_case(nadia)
    activity_referral(referral, nadia, status, "Gardening")
    close(referral, hub)
    (entry,) = one(summaries(queued(referral)))["support"]["activities"]
    assert (entry["status"], entry["taken_up"]) == (status.label, taken_up)


def test_a_buddy_is_reported_without_naming_the_volunteer(nadia, hub):
    referral = open_case(nadia)
    vera = make_compliant_volunteer(
        user_kw={"full_name": "Vera Volunteerson", "email": "vera.v@example.com"}
    )
    other = make_compliant_volunteer(user_kw={"full_name": "Otto Otherbuddy"})
    third = make_compliant_volunteer(user_kw={"full_name": "Theo Thirdbuddy"})
    ended = make_buddy_match(
        referral,
        vera,
        nadia,
        status=BuddyMatchStatus.ENDED,
        responded_at=ago(days=30),
        ended_at=ago(days=3),
        end_reason="Vera Volunteerson moved away",
    )
    make_buddy_match(
        referral,
        other,
        nadia,
        status=BuddyMatchStatus.DECLINED,
        decline_reason="Too far for Otto",
        responded_at=ago(days=2),
    )
    make_buddy_match(referral, third, nadia, status=BuddyMatchStatus.PROPOSED, responded_at=None)
    close(referral, hub)

    person = one(summaries(queued(referral)))

    assert person["support"]["buddy"] == [
        {
            "status": "Ended",
            "taken_up": True,
            "from": london_date(ended.responded_at).isoformat(),
            "to": london_date(ended.ended_at).isoformat(),
        },
        {"status": "Proposed", "taken_up": False, "from": None, "to": None},
    ]
    text = json.dumps(person)
    for secret in ("Vera", "Volunteerson", "vera.v@example.com", "Otto", "Theo", "moved away"):
        assert secret not in text


def test_an_active_buddy_is_taken_up(nadia, hub):
    referral = open_case(nadia)
    match = make_buddy_match(referral, make_compliant_volunteer(), nadia)
    close(referral, hub)
    assert one(summaries(queued(referral)))["support"]["buddy"] == [
        {
            "status": "Active",
            "taken_up": True,
            "from": london_date(match.responded_at).isoformat(),
            "to": None,
        }
    ]


def test_an_int_referral_closed_as_referred_on_lists_both_onward_referrals(hub):
    team = make_neighbourhood(name="North Coventry INT")
    practice = make_practice(neighbourhood=team)
    referral = open_case(
        None,
        status=S.TRIAGED,
        practice=practice,
        route=Route.INT,
        int_neighbourhood_id=team.id,
        assigned_at=None,
    )
    close(referral, hub, ClosureReason.REFERRED_ON)

    person = one(summaries(queued(referral)))

    assert person["support"]["route"] == "Integrated Neighbourhood Team"
    assert person["support"]["onward_referrals"] == [
        "Integrated Neighbourhood Team: North Coventry INT",
        "Referred on to another service (see the summary)",
    ]
    assert person["navigator"] == {"name": None}
    assert person["outcome"]["reason"] == "referred_on"


def test_an_int_referral_accepted_through_triage_names_the_practices_team(hub):
    team = make_neighbourhood(name="South Coventry INT")
    practice = make_practice(neighbourhood=team)
    referral = make_referral(
        practice=practice,
        status=S.CONTACTING,
        received_at=ago(days=3),
        first_contact_at=ago(days=2),
    )
    settle()
    workflow.triage(referral, hub, route=Route.INT, support_level=2)
    commit()

    rows = queued(referral)
    assert [q.event for q in rows] == [ReportEvent.ACCEPTED]
    person = one(summaries(rows))
    assert person["support"]["onward_referrals"] == [
        "Integrated Neighbourhood Team: South Coventry INT"
    ]


def test_a_both_route_without_a_team_still_says_int(nadia, hub):
    referral = open_case(nadia, route=Route.BOTH)
    close(referral, hub, ClosureReason.MOVED_AWAY)
    assert one(summaries(queued(referral)))["support"]["onward_referrals"] == [
        "Integrated Neighbourhood Team: the practice's team"
    ]


def test_referred_on_without_int_is_one_onward_referral(nadia, hub):
    referral = open_case(nadia)
    close(referral, hub, ClosureReason.REFERRED_ON, "To the falls clinic")
    person = one(summaries(queued(referral)))
    assert person["support"]["onward_referrals"] == [
        "Referred on to another service (see the summary)"
    ]
    assert person["outcome"]["summary"] == "To the falls clinic"


# --- wellbeing -----------------------------------------------------------------------------


def test_wellbeing_takes_the_first_baseline_and_the_last_closing(nadia, hub):
    referral = open_case(nadia)
    measure(referral, nadia, Scale.UCLA3, Stage.BASELINE, [3, 3, 3], days_ago=18)
    measure(referral, nadia, Scale.UCLA3, Stage.BASELINE, [1, 1, 1], days_ago=17)
    measure(referral, nadia, Scale.UCLA3, Stage.REVIEW, [1, 1, 1], days_ago=9)
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, [2, 2, 2], days_ago=4)
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, [3, 3, 2], days_ago=2)
    # Declined sittings are not results.
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, None, days_ago=1)
    # SWEMWBS both times; raw 21 -> 19.25 and raw 28 -> 25.03 (the published table).
    measure(referral, nadia, Scale.SWEMWBS, Stage.BASELINE, [3] * 7, days_ago=18)
    measure(referral, nadia, Scale.SWEMWBS, Stage.CLOSING, [4] * 7, days_ago=2)
    # ONS4 at baseline only.
    measure(referral, nadia, Scale.ONS4, Stage.BASELINE, [4, 5, 6, 7], days_ago=18)
    close(referral, hub)

    wellbeing = one(summaries(queued(referral)))["wellbeing"]

    assert [w["scale"] for w in wellbeing] == ["ons4", "swemwbs", "ucla3"]
    ons4, swemwbs, ucla3 = wellbeing
    assert ons4["baseline_on"] == london_date(ago(days=18)).isoformat()
    assert ons4["closing_on"] is None
    assert ons4["results"] == [
        {"measure": name, "baseline": value, "closing": None, "change": None, "direction": None}
        for name, value in [
            ("Life satisfaction", 4.0),
            ("Worthwhile", 5.0),
            ("Happiness", 6.0),
            ("Anxiety", 7.0),
        ]
    ]
    assert swemwbs["results"] == [
        {
            "measure": "Mental wellbeing (SWEMWBS metric score)",
            "baseline": 19.25,
            "closing": 25.03,
            "change": 5.78,
            "direction": "better",
        }
    ]
    assert ucla3["baseline_on"] == london_date(ago(days=18)).isoformat()
    assert ucla3["closing_on"] == london_date(ago(days=2)).isoformat()
    assert ucla3["results"] == [
        {
            "measure": "Loneliness (UCLA-3 score)",
            "baseline": 9.0,
            "closing": 8.0,
            "change": -1.0,
            "direction": "better",
        }
    ]


def test_a_closing_measure_alone_has_no_change(nadia, hub):
    referral = open_case(nadia)
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, [2, 2, 2], days_ago=1)
    close(referral, hub)
    (ucla3,) = one(summaries(queued(referral)))["wellbeing"]
    assert ucla3["baseline_on"] is None
    assert ucla3["results"] == [
        {
            "measure": "Loneliness (UCLA-3 score)",
            "baseline": None,
            "closing": 6.0,
            "change": None,
            "direction": None,
        }
    ]


def test_no_measures_no_wellbeing(nadia, hub):
    referral = open_case(nadia)
    measure(referral, nadia, Scale.UCLA3, Stage.BASELINE, None, days_ago=3)
    close(referral, hub)
    assert one(summaries(queued(referral)))["wellbeing"] == []


# --- the coded minimum ---------------------------------------------------------------------


def test_without_consent_to_share_only_the_coded_minimum_is_sent(app, nadia, hub):
    practice = make_practice()
    resident = make_resident(
        given_name="Grace", family_name="Hopper", date_of_birth=date(1936, 12, 9)
    )
    referral = open_case(
        nadia,
        resident=resident,
        practice=practice,
        consent_share_with_gp=False,
        referrer_name="Dr Secret",
        reasons=(ReferralReason.HOUSING,),
    )
    make_goal(referral, nadia, description="Find somewhere quieter to live")
    activity_referral(referral, nadia, ActivityReferralStatus.ATTENDED, "Tenants forum")
    make_buddy_match(referral, make_compliant_volunteer(), nadia)
    measure(referral, nadia, Scale.UCLA3, Stage.BASELINE, [3, 3, 2], days_ago=15)
    measure(referral, nadia, Scale.UCLA3, Stage.CLOSING, [1, 2, 1], days_ago=1)
    close(referral, hub, ClosureReason.DECLINED, "Private reasons about the landlord")

    rows = queued(referral)
    person = one(summaries(rows))

    for key in FULL_ONLY:
        assert key not in person
    assert "summary" not in person["outcome"]
    assert "closed_on" not in person["outcome"]
    assert person["shared_in_full"] is False
    assert person["patient"] == {
        "nhs_number": resident.nhs_number,
        "given_name": "Grace",
        "family_name": "Hopper",
        "date_of_birth": "1936-12-09",
    }
    assert person["codes"] == [REFERRAL_CODE, DECLINED_CODE]
    assert person["event"] == "closed"
    assert person["event_date"] == london_date(rows[0].queued_at).isoformat()
    assert person["reference"] == referral.reference
    assert person["outcome"] == {
        "status": "closed",
        "reason": "declined",
        "reason_label": "Person declined further support",
    }
    text = json.dumps(person)
    for secret in (
        "landlord",
        "Dr Secret",
        "Housing",
        "quieter",
        "Tenants forum",
        "Nadia",
        "UCLA",
    ):
        assert secret not in text


def test_without_consent_an_acceptance_is_coded_too(hub):
    practice = make_practice()
    referral = make_referral(
        practice=practice,
        status=S.CONTACTING,
        received_at=ago(days=3),
        first_contact_at=ago(days=2),
        consent_share_with_gp=False,
    )
    settle()
    workflow.triage(referral, hub, route=Route.INT, support_level=1)
    commit()
    person = one(summaries(queued(referral)))
    assert person["event"] == "accepted"
    assert person["codes"] == [REFERRAL_CODE]
    assert person["outcome"] == {"status": "accepted", "reason": None, "reason_label": None}
    for key in FULL_ONLY:
        assert key not in person


# --- the codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(ClosureReason))
def test_the_declined_code_is_only_for_a_declined_closure(nadia, reason):
    referral = open_case(nadia)
    referral.status = S.CLOSED
    referral.closed_at = utcnow()
    referral.closure_reason = reason
    referral.outcome_summary = "Summary"
    db.session.commit()
    assert queue_outcome(referral) is not None
    db.session.commit()

    person = one(summaries(queued(referral)))

    expected = (
        [REFERRAL_CODE, DECLINED_CODE] if reason == ClosureReason.DECLINED else [REFERRAL_CODE]
    )
    assert person["codes"] == expected
    assert person["outcome"]["reason"] == reason.value
    assert person["outcome"]["reason_label"] == reason.label


def test_an_acceptance_of_a_case_later_declined_carries_no_declined_code(nadia):
    """The acceptance row says what happened then; the closure is for its own report."""
    referral = open_case(nadia)
    queue_outcome(referral, ReportEvent.ACCEPTED)
    db.session.commit()
    referral.status = S.CLOSED
    referral.closed_at = utcnow()
    referral.closure_reason = ClosureReason.DECLINED
    referral.outcome_summary = "Changed their mind"
    db.session.commit()
    accepted = [q for q in queued(referral) if q.event == ReportEvent.ACCEPTED]

    person = one(summaries(accepted))

    assert person["event"] == "accepted"
    assert person["codes"] == [REFERRAL_CODE]
    assert person["outcome"]["summary"] is None
    assert person["outcome"]["closed_on"] is None


# --- one section per person ----------------------------------------------------------------


def test_accepted_and_closed_in_one_batch_is_one_closed_section(nadia, hub):
    practice = make_practice()
    referral = make_referral(
        practice=practice,
        status=S.CONTACTING,
        received_at=ago(days=3),
        first_contact_at=ago(days=2),
    )
    settle()
    workflow.triage(referral, hub, route=Route.SOCIAL_NAVIGATION, support_level=2, navigator=nadia)
    commit()
    close(referral, hub, ClosureReason.DECLINED, "Felt better")

    rows = queued(referral)
    assert [q.event for q in rows] == [ReportEvent.ACCEPTED, ReportEvent.CLOSED]

    for given in (rows, list(reversed(rows))):
        person = one(summaries(given))
        assert person["event"] == "closed"
        assert person["event_label"] == "Support ended"
        assert person["codes"] == [REFERRAL_CODE, DECLINED_CODE]
        assert person["outcome"]["summary"] == "Felt better"


def test_a_closure_queued_before_an_acceptance_still_wins(nadia):
    referral = open_case(nadia)
    referral.status = S.CLOSED
    referral.closed_at = utcnow()
    referral.closure_reason = ClosureReason.MOVED_AWAY
    db.session.commit()
    now = utcnow()
    db.session.add_all(
        [
            QueuedOutcome(
                referral_id=referral.id,
                practice_id=referral.practice_id,
                event=ReportEvent.CLOSED,
                queued_at=now - timedelta(hours=2),
            ),
            QueuedOutcome(
                referral_id=referral.id,
                practice_id=referral.practice_id,
                event=ReportEvent.ACCEPTED,
                queued_at=now - timedelta(hours=1),
            ),
        ]
    )
    db.session.commit()
    assert one(summaries(queued(referral)))["event"] == "closed"


def test_two_acceptances_make_one_section(nadia):
    referral = open_case(nadia)
    queue_outcome(referral, ReportEvent.ACCEPTED)
    queue_outcome(referral, ReportEvent.ACCEPTED)
    db.session.commit()
    assert len(queued(referral)) == 2
    assert one(summaries(queued(referral)))["event"] == "accepted"


def test_a_closed_twice_case_is_told_once(nadia, hub):
    referral = open_case(nadia)
    close(referral, hub, ClosureReason.MOVED_AWAY)
    # A second closure row for the same case, later (as after a reopen and close).
    db.session.add(
        QueuedOutcome(
            referral_id=referral.id,
            practice_id=referral.practice_id,
            event=ReportEvent.CLOSED,
            queued_at=utcnow() + timedelta(minutes=1),
        )
    )
    db.session.commit()
    people = summaries(queued(referral))
    assert len(people) == 1
    assert people[0]["event_date"] == london_date(queued(referral)[-1].queued_at).isoformat()


def test_people_are_sorted_by_family_name_then_given_name(nadia, hub):
    practice = make_practice()
    names = [("Zed", "Adams"), ("bob", "baker"), ("Amy", "Baker"), ("Carl", "able"), ("Dee", "Zu")]
    for given_name, family_name in names:
        resident = make_resident(given_name=given_name, family_name=family_name)
        referral = open_case(nadia, resident=resident, practice=practice)
        close(referral, hub)

    people = summaries(queued())

    assert [(p["patient"]["given_name"], p["patient"]["family_name"]) for p in people] == [
        ("Carl", "able"),
        ("Zed", "Adams"),
        ("Amy", "Baker"),
        ("bob", "baker"),
        ("Dee", "Zu"),
    ]


def test_nothing_queued_makes_no_summaries(app):
    assert summaries([]) == []


# --- who is told ---------------------------------------------------------------------------


def test_a_referral_with_no_practice_queues_nothing(nadia, hub):
    resident = make_resident(practice_id=None)
    referral = open_case(nadia, resident=resident, source=ReferralSource.SELF)
    assert referral.practice_id is None

    assert queue_outcome(referral) is None
    assert queue_outcome(referral, ReportEvent.ACCEPTED) is None
    close(referral, hub)

    assert referral.status == S.CLOSED
    assert queued() == []


def test_a_self_referral_is_told_to_the_persons_own_practice(nadia, hub):
    practice = make_practice()
    resident = make_resident(practice_id=practice.id)
    referral = open_case(nadia, resident=resident, source=ReferralSource.SELF)
    close(referral, hub)

    row = one(queued(referral))
    assert row.practice_id == practice.id
    person = one(summaries([row]))
    assert person["referral"]["source"] == "Self-referral"
    assert person["referral"]["referrer"] is None


def test_an_accepted_case_leaves_out_dropped_goals_and_the_outcome(nadia):
    referral = open_case(nadia)
    make_goal(referral, nadia, description="Keep this")
    make_goal(
        referral,
        nadia,
        description="Drop this",
        status=GoalStatus.DROPPED,
        closed_on=date.today(),
    )
    queue_outcome(referral, ReportEvent.ACCEPTED)
    db.session.commit()

    person = one(summaries(queued(referral)))

    assert person["event"] == "accepted"
    assert person["event_label"] == "Accepted for support"
    assert person["what_matters"] == [{"goal": "Keep this", "status": "Open"}]
    assert person["outcome"] == {
        "status": "accepted",
        "reason": None,
        "reason_label": None,
        "summary": None,
        "closed_on": None,
    }
    assert person["navigator"] == {"name": nadia.full_name}


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        # Half past eleven at night UTC in summer is already the next day in London.
        (datetime(2026, 7, 5, 23, 30, tzinfo=UTC), "2026-07-06"),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "2026-11-22"),
    ],
)
def test_dates_are_london_dates(nadia, moment, day):
    referral = open_case(nadia, received_at=moment - timedelta(days=20))
    referral.status = S.CLOSED
    referral.closed_at = moment
    referral.closure_reason = ClosureReason.MOVED_AWAY
    db.session.add(
        QueuedOutcome(
            referral_id=referral.id,
            practice_id=referral.practice_id,
            event=ReportEvent.CLOSED,
            queued_at=moment,
        )
    )
    db.session.commit()

    person = one(summaries(queued(referral)))

    assert person["event_date"] == day
    assert person["outcome"]["closed_on"] == day
    received = date.fromisoformat(day) - timedelta(days=20)
    assert person["referral"]["received_on"] == received.isoformat()
