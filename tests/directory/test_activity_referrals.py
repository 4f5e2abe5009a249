"""Referring a person to an activity, and the organisation's answers.

Monday 3 March 2025: a referral sent that day must be answered by Monday 17 March
(10 working days); the reminder is due from Thursday 13 March (2 working days left).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.directory import activity_referrals as ar
from portal.directory.activity_referrals import SharedDetails
from portal.directory.models import (
    Activity,
    ActivityAttendance,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
)
from portal.extensions import db
from portal.referrals.workflow import TransitionRefused
from portal.referrals.working_days import add_working_days
from tests.factories import (
    make_activity,
    make_organisation,
    make_referral,
    make_resident,
    make_user,
)

S = ActivityReferralStatus
TODAY = date(2025, 3, 3)
RESPOND_BY = date(2025, 3, 17)
SHARE_ALL = SharedDetails(phone=True, email=True, age=True, note="Meet at the door please")
SHARE_NONE = SharedDetails(phone=False, email=False, age=False, note=None)


def alerts(kind: AlertKind | None = None) -> list[Alert]:
    query = sa.select(Alert).order_by(Alert.id)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    return list(db.session.scalars(query))


def body(message) -> str:
    return message.get_content().replace("\r\n", "\n")


@pytest.fixture
def navigator(app):
    return make_user(Role.NAVIGATOR)


@pytest.fixture
def case(app, navigator):
    resident = make_resident(
        given_name="Alex",
        family_name="Jones",
        phone="07700 900123",
        email="alex@example.com",
        date_of_birth=date(1950, 3, 4),  # 74 on 3 March 2025, 75 the day after
    )
    return make_referral(resident, navigator_id=navigator.id)


@pytest.fixture
def organisation(app):
    return make_organisation(name="Walkers", email="office@walkers.org")


@pytest.fixture
def member(organisation):
    return make_user(
        Role.ORGANISATION_MEMBER, organisation_id=organisation.id, email="pat@walkers.org"
    )


@pytest.fixture
def activity(organisation):
    return make_activity(organisation, title="Walking group", capacity=10, spaces_available=3)


def refer(app, case, activity, by, shared=SHARE_NONE, today=TODAY) -> ActivityReferral:
    with app.test_request_context():
        link = ar.refer(case, activity, by, shared, today)
    db.session.commit()
    return link


def sent(app, case, activity, navigator, **kw) -> ActivityReferral:
    """A referral sent on TODAY, with its sent_at pinned to that day."""
    link = refer(app, case, activity, navigator, **kw)
    link.sent_at = datetime(2025, 3, 3, 10, tzinfo=UTC)
    db.session.commit()
    return link


def accepted(app, case, activity, navigator, member) -> ActivityReferral:
    link = sent(app, case, activity, navigator)
    ar.accept(link, member)
    db.session.commit()
    return link


# --- who can be referred ----------------------------------------------------------------------


def test_a_published_activity_with_spaces_is_referable(activity):
    assert ar.why_not_referable(activity) is None


@pytest.mark.parametrize(
    "status", [ActivityStatus.DRAFT, ActivityStatus.PAUSED, ActivityStatus.ARCHIVED]
)
def test_an_unpublished_activity_is_not_referable(organisation, status):
    activity = make_activity(organisation, status=status)
    assert "not open in the directory" in ar.why_not_referable(activity)


def test_an_unverified_organisations_activity_is_not_referable(app):
    activity = make_activity(make_organisation(verified=False))
    assert "not open in the directory" in ar.why_not_referable(activity)


def test_a_signpost_only_activity_is_not_referable(organisation):
    activity = make_activity(organisation, accepts_referrals=False)
    assert "signposted" in ar.why_not_referable(activity)


def test_a_full_activity_is_not_referable(organisation):
    assert "no spaces" in ar.why_not_referable(make_activity(organisation, spaces_available=0))
    # Unknown spaces is not full.
    assert ar.why_not_referable(make_activity(organisation, spaces_available=None)) is None


@pytest.mark.parametrize(
    "kw",
    [
        {"status": ActivityStatus.PAUSED},
        {"accepts_referrals": False},
        {"spaces_available": 0},
    ],
)
def test_refer_refuses_what_is_not_referable(app, case, organisation, navigator, kw):
    activity = make_activity(organisation, **kw)
    with pytest.raises(TransitionRefused) as refused:
        refer(app, case, activity, navigator)
    assert refused.value.message == ar.why_not_referable(activity)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityReferral)) == 0


# --- referring --------------------------------------------------------------------------------


def test_refer_copies_every_detail_the_person_agreed_to_share(app, case, activity, navigator):
    link = refer(app, case, activity, navigator, shared=SHARE_ALL)
    saved = db.session.get(ActivityReferral, link.id)
    assert saved.status == S.SENT
    assert saved.consent_confirmed
    assert saved.person_name == "Alex Jones"
    assert saved.shared_phone == "07700 900123"
    assert saved.shared_email == "alex@example.com"
    assert saved.shared_age == 74
    assert saved.shared_note == "Meet at the door please"
    assert saved.created_by_id == navigator.id
    assert saved.sent_at is not None
    assert saved.respond_by == RESPOND_BY


def test_refer_copies_only_the_ticked_details(app, case, activity, navigator):
    link = refer(app, case, activity, navigator, shared=SHARE_NONE)
    saved = db.session.get(ActivityReferral, link.id)
    assert saved.person_name == "Alex Jones"
    assert (saved.shared_phone, saved.shared_email, saved.shared_age, saved.shared_note) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("shared", "expected"),
    [
        (
            SharedDetails(phone=True, email=False, age=False, note=None),
            ("07700 900123", None, None),
        ),
        (
            SharedDetails(phone=False, email=True, age=False, note=None),
            (None, "alex@example.com", None),
        ),
        (SharedDetails(phone=False, email=False, age=True, note=None), (None, None, 74)),
    ],
)
def test_refer_copies_each_detail_on_its_own(app, case, activity, navigator, shared, expected):
    link = refer(app, case, activity, navigator, shared=shared)
    assert (link.shared_phone, link.shared_email, link.shared_age) == expected


def test_the_age_shared_turns_on_the_birthday(app, case, activity, navigator):
    link = refer(app, case, activity, navigator, shared=SHARE_ALL, today=date(2025, 3, 4))
    assert link.shared_age == 75


def test_the_age_is_none_when_the_birth_date_is_unknown(app, navigator, activity):
    case = make_referral(make_resident(date_of_birth=None), navigator_id=navigator.id)
    link = refer(app, case, activity, navigator, shared=SHARE_ALL)
    assert link.shared_age is None


@pytest.mark.parametrize(
    "today",
    [TODAY, date(2025, 3, 7), date(2025, 3, 8), date(2025, 12, 19), date(2025, 4, 14)],
)
def test_respond_by_is_ten_working_days(app, case, activity, navigator, today):
    link = refer(app, case, activity, navigator, today=today)
    assert app.config["ACTIVITY_RESPONSE_WORKING_DAYS"] == 10
    assert link.respond_by == add_working_days(today, 10)


def test_respond_by_skips_bank_holidays(app, case, activity, navigator):
    # Friday 19 December 2025: Christmas, Boxing Day and New Year's Day are not working days.
    link = refer(app, case, activity, navigator, today=date(2025, 12, 19))
    assert link.respond_by == date(2026, 1, 7)
    # Easter 2025: Good Friday 18 April and Easter Monday 21 April.
    other = make_activity(activity.organisation)
    assert refer(app, case, other, navigator, today=date(2025, 4, 14)).respond_by == date(
        2025, 4, 30
    )


@pytest.mark.parametrize("status", [S.SENT, S.ACCEPTED, S.ATTENDED])
def test_a_duplicate_open_referral_is_refused(app, case, activity, navigator, status):
    link = refer(app, case, activity, navigator)
    link.status = status
    db.session.commit()
    with pytest.raises(TransitionRefused) as refused:
        refer(app, case, activity, navigator)
    assert "already" in refused.value.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityReferral)) == 1


@pytest.mark.parametrize("status", [S.DECLINED, S.STOPPED, S.SIGNPOSTED])
def test_after_a_closed_referral_the_person_can_be_referred_again(
    app, case, activity, navigator, status
):
    first = refer(app, case, activity, navigator)
    first.status = status
    first.decline_reason = "No space" if status == S.DECLINED else None
    db.session.commit()
    second = refer(app, case, activity, navigator)
    assert second.id != first.id and second.status == S.SENT


def test_the_same_person_may_be_referred_to_two_activities(app, case, activity, navigator):
    refer(app, case, activity, navigator)
    other = make_activity(activity.organisation, title="Knit and natter")
    assert refer(app, case, other, navigator).activity_id == other.id


def test_another_person_may_be_referred_to_the_same_activity(app, activity, navigator, case):
    refer(app, case, activity, navigator)
    someone_else = make_referral(navigator_id=navigator.id)
    assert refer(app, someone_else, activity, navigator).referral_id == someone_else.id


# --- signposting ------------------------------------------------------------------------------


def test_signpost_records_the_link_without_details_or_deadline(app, case, organisation, navigator):
    activity = make_activity(organisation, accepts_referrals=False, spaces_available=0)
    link = ar.signpost(case, activity, navigator)
    db.session.commit()
    saved = db.session.get(ActivityReferral, link.id)
    assert saved.status == S.SIGNPOSTED
    assert saved.respond_by is None
    assert saved.shared_phone is None and saved.person_name is None
    assert saved.created_by_id == navigator.id


def test_signpost_twice_is_refused(app, case, activity, navigator):
    ar.signpost(case, activity, navigator)
    db.session.commit()
    with pytest.raises(TransitionRefused):
        ar.signpost(case, activity, navigator)


def test_signpost_to_an_activity_not_listed_is_refused(app, case, navigator):
    for activity in (
        make_activity(make_organisation(verified=False)),
        make_activity(status=ActivityStatus.DRAFT),
    ):
        with pytest.raises(TransitionRefused):
            ar.signpost(case, activity, navigator)


# --- accepting and declining ------------------------------------------------------------------


def test_accept_takes_a_place_and_tells_the_navigator(app, case, activity, navigator, member):
    link = sent(app, case, activity, navigator)
    ar.accept(link, member)
    db.session.commit()

    saved = db.session.get(ActivityReferral, link.id)
    assert saved.status == S.ACCEPTED
    assert saved.responded_by_id == member.id
    assert saved.responded_at is not None
    assert db.session.get(Activity, activity.id).spaces_available == 2
    (alert,) = alerts()
    assert alert.kind == AlertKind.ACTIVITY_RESPONSE
    assert alert.user_id == navigator.id
    assert alert.referral_id == case.id
    assert "Walkers accepted Alex Jones for Walking group" in alert.message


def test_accept_with_unknown_spaces_leaves_them_unknown(app, case, organisation, navigator, member):
    activity = make_activity(organisation, spaces_available=None)
    link = sent(app, case, activity, navigator)
    ar.accept(link, member)
    db.session.commit()
    assert db.session.get(Activity, activity.id).spaces_available is None


def test_without_a_navigator_the_person_who_referred_is_told(app, activity, member):
    referrer = make_user(Role.NAVIGATOR)
    case = make_referral(navigator_id=None)
    link = sent(app, case, activity, referrer)
    ar.accept(link, member)
    db.session.commit()
    assert [a.user_id for a in alerts()] == [referrer.id]


def test_decline_stores_the_reason_and_tells_the_navigator(app, case, activity, navigator, member):
    link = sent(app, case, activity, navigator)
    ar.decline(link, member, "The group is for carers only")
    db.session.commit()

    saved = db.session.get(ActivityReferral, link.id)
    assert saved.status == S.DECLINED
    assert saved.decline_reason == "The group is for carers only"
    assert saved.responded_by_id == member.id
    assert db.session.get(Activity, activity.id).spaces_available == 3  # no place taken
    (alert,) = alerts()
    assert alert.kind == AlertKind.ACTIVITY_DECLINED
    assert alert.user_id == navigator.id
    assert alert.message.endswith("The group is for carers only")


@pytest.mark.parametrize(
    ("first", "second"),
    [("accept", "accept"), ("accept", "decline"), ("decline", "accept"), ("decline", "decline")],
)
def test_answering_twice_is_refused(app, case, activity, navigator, member, first, second):
    link = sent(app, case, activity, navigator)
    answer = {
        "accept": lambda: ar.accept(link, member),
        "decline": lambda: ar.decline(link, member, "No"),
    }
    answer[first]()
    db.session.commit()
    spaces = db.session.get(Activity, activity.id).spaces_available
    with pytest.raises(TransitionRefused):
        answer[second]()
    assert db.session.get(Activity, activity.id).spaces_available == spaces
    assert len(alerts()) == 1


# --- attendance -------------------------------------------------------------------------------


def test_attendance_in_the_future_is_refused(app, case, activity, navigator, member):
    link = accepted(app, case, activity, navigator, member)
    with pytest.raises(TransitionRefused) as refused:
        ar.record_attendance(link, member, date(2025, 3, 11), True, today=date(2025, 3, 10))
    assert refused.value.field == "session_on"
    assert link.attendance == []


def test_attendance_before_the_referral_was_sent_is_refused(app, case, activity, navigator, member):
    link = accepted(app, case, activity, navigator, member)
    with pytest.raises(TransitionRefused) as refused:
        ar.record_attendance(link, member, date(2025, 3, 2), True, today=date(2025, 3, 10))
    assert refused.value.field == "session_on"
    assert "3 March 2025" in refused.value.message


def test_attendance_on_the_day_sent_and_on_today_are_allowed(
    app, case, activity, navigator, member
):
    link = accepted(app, case, activity, navigator, member)
    ar.record_attendance(link, member, date(2025, 3, 3), False, today=date(2025, 3, 10))
    ar.record_attendance(link, member, date(2025, 3, 10), False, today=date(2025, 3, 10))
    db.session.commit()
    assert [r.session_on for r in db.session.get(ActivityReferral, link.id).attendance] == [
        date(2025, 3, 10),
        date(2025, 3, 3),
    ]


def test_attendance_needs_an_accepted_referral(app, case, activity, navigator, member):
    link = sent(app, case, activity, navigator)
    with pytest.raises(TransitionRefused):
        ar.record_attendance(link, member, date(2025, 3, 5), True, today=date(2025, 3, 10))


def test_first_attendance_marks_attended_and_tells_the_navigator(
    app, case, activity, navigator, member
):
    link = accepted(app, case, activity, navigator, member)
    ar.record_attendance(link, member, date(2025, 3, 4), False, today=date(2025, 3, 10))
    db.session.commit()
    assert link.status == S.ACCEPTED
    assert len(alerts()) == 1  # only the acceptance

    ar.record_attendance(link, member, date(2025, 3, 6), True, today=date(2025, 3, 10))
    db.session.commit()
    assert db.session.get(ActivityReferral, link.id).status == S.ATTENDED
    went = alerts()[-1]
    assert went.kind == AlertKind.ACTIVITY_RESPONSE
    assert went.user_id == navigator.id
    assert "Alex Jones went to Walking group on 6 March 2025" in went.message

    # Later sessions are recorded without telling the navigator again.
    ar.record_attendance(link, member, date(2025, 3, 8), True, today=date(2025, 3, 10))
    db.session.commit()
    assert len(alerts()) == 2


def test_the_same_date_again_corrects_the_record(app, case, activity, navigator, member):
    link = accepted(app, case, activity, navigator, member)
    other = make_user(Role.ORGANISATION_MEMBER, organisation_id=activity.organisation_id)
    first = ar.record_attendance(link, member, date(2025, 3, 4), True, today=date(2025, 3, 10))
    db.session.commit()
    again = ar.record_attendance(link, other, date(2025, 3, 4), False, today=date(2025, 3, 10))
    db.session.commit()

    assert again.id == first.id
    rows = list(db.session.scalars(sa.select(ActivityAttendance)))
    assert len(rows) == 1
    assert rows[0].attended is False
    assert rows[0].recorded_by_id == other.id


def test_one_record_per_session_is_enforced_by_the_database(app, case, activity, navigator, member):
    link = accepted(app, case, activity, navigator, member)
    for _ in range(2):
        db.session.add(
            ActivityAttendance(
                activity_referral_id=link.id,
                session_on=date(2025, 3, 4),
                attended=True,
                recorded_by_id=member.id,
            )
        )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- stopping ---------------------------------------------------------------------------------


def test_the_organisation_stopping_frees_a_place_and_tells_the_navigator(
    app, case, activity, navigator, member
):
    link = accepted(app, case, activity, navigator, member)
    assert db.session.get(Activity, activity.id).spaces_available == 2
    ar.stop(link, member, "Moved away")
    db.session.commit()

    saved = db.session.get(ActivityReferral, link.id)
    assert saved.status == S.STOPPED
    assert saved.end_reason == "Moved away"
    assert saved.ended_at is not None
    assert db.session.get(Activity, activity.id).spaces_available == 3
    stopped = alerts()[-1]
    assert stopped.kind == AlertKind.ACTIVITY_RESPONSE
    assert stopped.user_id == navigator.id
    assert "Alex Jones has stopped going to Walking group" in stopped.message
    assert "Moved away" in stopped.message


def test_the_navigator_withdrawing_frees_a_place_without_an_alert(
    app, case, activity, navigator, member
):
    link = accepted(app, case, activity, navigator, member)
    ar.stop(link, navigator, "Found something closer")
    db.session.commit()
    assert db.session.get(Activity, activity.id).spaces_available == 3
    assert [a.kind for a in alerts()] == [AlertKind.ACTIVITY_RESPONSE]  # only the acceptance


def test_stopping_never_frees_more_places_than_the_capacity(
    app, case, organisation, navigator, member
):
    activity = make_activity(organisation, capacity=5, spaces_available=5)
    link = accepted(app, case, activity, navigator, member)
    assert db.session.get(Activity, activity.id).spaces_available == 4
    activity.spaces_available = 5  # the organisation updated the count since
    db.session.commit()
    ar.stop(link, member, "Ended")
    db.session.commit()
    assert db.session.get(Activity, activity.id).spaces_available == 5


def test_stopping_an_unanswered_referral_frees_no_place(app, case, activity, navigator):
    link = sent(app, case, activity, navigator)
    ar.stop(link, navigator, "Changed their mind")
    db.session.commit()
    assert db.session.get(ActivityReferral, link.id).status == S.STOPPED
    assert db.session.get(Activity, activity.id).spaces_available == 3


def test_stopping_after_attending_frees_a_place(app, case, activity, navigator, member):
    link = accepted(app, case, activity, navigator, member)
    ar.record_attendance(link, member, date(2025, 3, 4), True, today=date(2025, 3, 10))
    db.session.commit()
    ar.stop(link, member, "Finished the course")
    db.session.commit()
    assert db.session.get(Activity, activity.id).spaces_available == 3


@pytest.mark.parametrize("status", [S.DECLINED, S.STOPPED, S.SIGNPOSTED])
def test_stopping_what_is_not_open_is_refused(app, case, activity, navigator, status):
    link = sent(app, case, activity, navigator)
    link.status = status
    link.decline_reason = "No"
    db.session.commit()
    with pytest.raises(TransitionRefused):
        ar.stop(link, navigator, "Again")


# --- the deadline job -------------------------------------------------------------------------


def run_deadlines(app, today: date) -> tuple[int, int]:
    with app.test_request_context():
        return ar.send_deadline_reminders(today)


def test_reminders_and_lapse_each_happen_once(app, smtp_server, case, activity, navigator, member):
    link = sent(app, case, activity, navigator)
    assert link.respond_by == RESPOND_BY

    assert run_deadlines(app, date(2025, 3, 12)) == (0, 0)  # 3 working days left
    assert smtp_server.messages == []

    assert run_deadlines(app, date(2025, 3, 13)) == (1, 0)  # 2 working days left
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "office@walkers.org",
        "pat@walkers.org",
    ]
    reminder = smtp_server.messages[0]
    assert reminder["Subject"] == "Referrals waiting for your answer"
    assert "- Walking group: answer by 17 March 2025" in body(reminder)
    assert "Alex Jones" not in body(reminder)  # no personal details by email
    assert db.session.get(ActivityReferral, link.id).reminded_on == date(2025, 3, 13)
    assert alerts(AlertKind.ACTIVITY_NO_RESPONSE) == []

    for day in (date(2025, 3, 14), date(2025, 3, 17)):  # still due, already reminded
        assert run_deadlines(app, day) == (0, 0)
    assert len(smtp_server.messages) == 2

    assert run_deadlines(app, date(2025, 3, 18)) == (0, 1)  # the day after respond_by
    lapse = smtp_server.messages[2:]
    assert sorted(m["To"] for m in lapse) == ["office@walkers.org", "pat@walkers.org"]
    assert {m["Subject"] for m in lapse} == {"Referrals past their answer date"}
    (no_answer,) = alerts(AlertKind.ACTIVITY_NO_RESPONSE)
    assert no_answer.user_id == navigator.id
    assert no_answer.referral_id == case.id
    assert "17 March 2025" in no_answer.message
    assert db.session.get(ActivityReferral, link.id).lapse_notified_on == date(2025, 3, 18)

    for day in (date(2025, 3, 19), date(2025, 4, 30)):
        assert run_deadlines(app, day) == (0, 0)
    assert len(smtp_server.messages) == 4
    assert len(alerts(AlertKind.ACTIVITY_NO_RESPONSE)) == 1


def test_a_first_run_after_the_deadline_only_reports_the_lapse(
    app, smtp_server, case, activity, navigator, member
):
    sent(app, case, activity, navigator)
    assert run_deadlines(app, date(2025, 3, 20)) == (0, 1)
    assert {m["Subject"] for m in smtp_server.messages} == {"Referrals past their answer date"}
    assert run_deadlines(app, date(2025, 3, 21)) == (0, 0)


def test_each_organisation_gets_one_reminder_for_all_its_referrals(
    app, smtp_server, navigator, activity, member
):
    other_activity = make_activity(activity.organisation, title="Knit and natter")
    for target in (activity, other_activity):
        sent(app, make_referral(navigator_id=navigator.id), target, navigator)
    assert run_deadlines(app, date(2025, 3, 13)) == (2, 0)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "office@walkers.org",
        "pat@walkers.org",
    ]
    text = body(smtp_server.messages[0])
    assert "- Walking group: answer by 17 March 2025" in text
    assert "- Knit and natter: answer by 17 March 2025" in text


@pytest.mark.parametrize("answer", ["accept", "decline", "stop"])
def test_answered_referrals_are_never_reminded(
    app, smtp_server, case, activity, navigator, member, answer
):
    link = sent(app, case, activity, navigator)
    if answer == "accept":
        ar.accept(link, member)
    elif answer == "decline":
        ar.decline(link, member, "Full")
    else:
        ar.stop(link, navigator, "Withdrawn")
    db.session.commit()
    alerts_before = len(alerts())
    for day in (date(2025, 3, 13), date(2025, 3, 18), date(2025, 6, 1)):
        assert run_deadlines(app, day) == (0, 0)
    assert smtp_server.messages == []
    assert len(alerts()) == alerts_before
    saved = db.session.get(ActivityReferral, link.id)
    assert saved.reminded_on is None and saved.lapse_notified_on is None


def test_is_overdue(app, case, activity, navigator, member):
    link = sent(app, case, activity, navigator)
    assert not ar.is_overdue(link, RESPOND_BY)
    assert ar.is_overdue(link, RESPOND_BY + timedelta(days=1))
    ar.accept(link, member)
    assert not ar.is_overdue(link, RESPOND_BY + timedelta(days=1))


# --- what an organisation sees ----------------------------------------------------------------


def test_an_organisation_member_never_sees_another_organisations_referrals(
    app, navigator, activity
):
    other_org = make_organisation(name="Gardeners")
    other_activity = make_activity(other_org, title="Digging")
    ours = sent(app, make_referral(navigator_id=navigator.id), activity, navigator)
    theirs = sent(app, make_referral(navigator_id=navigator.id), other_activity, navigator)
    signposted = ar.signpost(make_referral(navigator_id=navigator.id), activity, navigator)
    db.session.commit()

    assert [link.id for link in ar.for_organisation(activity.organisation_id)] == [ours.id]
    assert [link.id for link in ar.for_organisation(other_org.id)] == [theirs.id]
    assert ar.for_organisation(activity.organisation_id, S.ACCEPTED) == []
    assert [link.id for link in ar.for_organisation(activity.organisation_id, S.SENT)] == [ours.id]

    assert ar.one_for_organisation(activity.organisation_id, ours.id).id == ours.id
    assert ar.one_for_organisation(activity.organisation_id, theirs.id) is None
    assert ar.one_for_organisation(other_org.id, ours.id) is None
    # Signposting is the navigator's record: the organisation never sees it.
    assert ar.one_for_organisation(activity.organisation_id, signposted.id) is None
    assert ar.one_for_organisation(activity.organisation_id, 999_999) is None


def test_waiting_referrals_come_first(app, navigator, activity, member):
    answered = sent(app, make_referral(navigator_id=navigator.id), activity, navigator)
    ar.accept(answered, member)
    db.session.commit()
    waiting = sent(app, make_referral(navigator_id=navigator.id), activity, navigator)
    assert [link.id for link in ar.for_organisation(activity.organisation_id)] == [
        waiting.id,
        answered.id,
    ]


def test_for_case_lists_referrals_and_signposts(app, case, activity, navigator):
    referred = sent(app, case, activity, navigator)
    other = make_activity(activity.organisation, title="Knit and natter")
    signposted = ar.signpost(case, other, navigator)
    db.session.commit()
    make_referral(navigator_id=navigator.id)  # someone else's case
    assert {link.id for link in ar.for_case(case.id)} == {referred.id, signposted.id}


def test_the_new_referral_email_has_no_personal_details(
    app, smtp_server, case, activity, navigator, member
):
    link = sent(app, case, activity, navigator, shared=SHARE_ALL)
    with app.test_request_context():
        ar.send_new_referral_email(link)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "office@walkers.org",
        "pat@walkers.org",
    ]
    text = body(smtp_server.messages[0])
    assert "17 March 2025" in text
    assert f"http://localhost/organisation/referrals/{link.id}" in text
    for detail in ("Alex", "Jones", "07700", "alex@example.com", "Meet at the door"):
        assert detail not in text


def test_the_withdrawn_email_has_no_personal_details(
    app, smtp_server, case, activity, navigator, member
):
    link = sent(app, case, activity, navigator, shared=SHARE_ALL)
    ar.stop(link, navigator, "Found something closer to home")
    db.session.commit()
    with app.test_request_context():
        ar.send_withdrawn_email(link)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "office@walkers.org",
        "pat@walkers.org",
    ]
    assert smtp_server.messages[0]["Subject"] == "A referral to Walking group was withdrawn"
    text = body(smtp_server.messages[0])
    assert f"http://localhost/organisation/referrals/{link.id}" in text
    for detail in ("Alex", "Jones", "07700", "alex@example.com", "closer to home"):
        assert detail not in text
