"""Known-answer tests for the rest of the commissioner KPIs and the tables built from them.

Small hand-made datasets; every expected number is worked out by hand in a comment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from portal.auth.models import Role
from portal.dashboard import figures, kpis
from portal.dashboard.figures import Headline, Table
from portal.dashboard.kpis import ItemChange, ReportTimeliness, Scope, VolunteerMonth
from portal.directory.models import (
    ActivityCategory,
    ActivityReferral,
    ActivityReferralStatus,
)
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import ClosureReason, ReferralSource, ReferralStatus
from portal.reports.models import DeliveryStatus, OutcomeReport, ReportKind
from portal.volunteers.models import HoursKind, LeftReason, VolunteerHours, VolunteerStatus
from tests.factories import (
    make_activity,
    make_contact,
    make_organisation,
    make_practice,
    make_referral,
    make_user,
    make_volunteer,
)

JULY = Scope(date(2026, 7, 1), date(2026, 7, 31))
JUNE = Scope(date(2026, 6, 1), date(2026, 6, 30))
EMPTY = Scope(date(2030, 1, 1), date(2030, 12, 31))

ITEMS = [item for item, _ in kpis.ONS4_ITEMS]


def utc(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


# --- ONS4 --------------------------------------------------------------------------------


def _ons4(referral, recorder, stage, answers, at, declined=False):
    return _save(
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.ONS4,
            stage=stage,
            answers=None if declined else answers,
            score=None,  # ONS4 is never summed
            declined=declined,
            recorded_by_id=recorder.id,
            recorded_at=at,
        )
    )


def _ons4_dataset():
    nav = make_user(Role.NAVIGATOR)
    p = make_practice(name="P")
    q = make_practice(name="Q")
    B, R, C = Stage.BASELINE, Stage.REVIEW, Stage.CLOSING

    # r1: first baseline [4,5,6,8] (the later [9,9,9,0] ignored); last closing [7,6,5,2]
    # (the earlier [6,5,8,3] ignored). Changes: +3, +1, -1, -6.
    r1 = make_referral(practice=p, received_at=utc(2026, 7, 2))
    _ons4(r1, nav, B, [4, 5, 6, 8], utc(2026, 7, 3))
    _ons4(r1, nav, B, [9, 9, 9, 0], utc(2026, 7, 4))
    _ons4(r1, nav, C, [6, 5, 8, 3], utc(2026, 8, 1))
    _ons4(r1, nav, C, [7, 6, 5, 2], utc(2026, 8, 10))
    # r2: the first baseline and the last closing were declined, so [5,5,5,5] and
    # [5,7,7,6] count. Changes: 0, +2, +2, +1.
    r2 = make_referral(practice=p, received_at=utc(2026, 7, 3))
    _ons4(r2, nav, B, None, utc(2026, 7, 3), declined=True)
    _ons4(r2, nav, B, [5, 5, 5, 5], utc(2026, 7, 5))
    _ons4(r2, nav, C, [5, 7, 7, 6], utc(2026, 8, 1))
    _ons4(r2, nav, C, None, utc(2026, 8, 9), declined=True)
    # r3 (practice Q): baseline [2,3,4,1], a review (ignored), closing [4,3,4,1].
    # Changes: +2, 0, 0, 0.
    r3 = make_referral(practice=q, received_at=utc(2026, 7, 4))
    _ons4(r3, nav, B, [2, 3, 4, 1], utc(2026, 7, 5))
    _ons4(r3, nav, R, [9, 9, 9, 9], utc(2026, 7, 20))
    _ons4(r3, nav, C, [4, 3, 4, 1], utc(2026, 8, 5))
    # r4: baseline only; r5: closing only; r6: only declined sittings. None counted.
    r4 = make_referral(practice=p, received_at=utc(2026, 7, 5))
    _ons4(r4, nav, B, [1, 1, 1, 1], utc(2026, 7, 6))
    r5 = make_referral(practice=p, received_at=utc(2026, 7, 6))
    _ons4(r5, nav, C, [1, 1, 1, 1], utc(2026, 8, 6))
    r6 = make_referral(practice=p, received_at=utc(2026, 7, 7))
    _ons4(r6, nav, B, None, utc(2026, 7, 8), declined=True)
    _ons4(r6, nav, C, None, utc(2026, 8, 8), declined=True)
    # r7: referred in June. Changes +10, +10, +10, -10.
    r7 = make_referral(practice=p, received_at=utc(2026, 6, 10))
    _ons4(r7, nav, B, [0, 0, 0, 10], utc(2026, 6, 11))
    _ons4(r7, nav, C, [10, 10, 10, 0], utc(2026, 7, 11))
    # r8: 23:30 UTC on 31 July is 00:30 BST on 1 August: outside July.
    r8 = make_referral(practice=p, received_at=utc(2026, 7, 31, 23, 30))
    _ons4(r8, nav, B, [0, 0, 0, 0], utc(2026, 8, 1))
    _ons4(r8, nav, C, [5, 5, 5, 5], utc(2026, 8, 20))
    return p, q


def test_ons4_change(app):
    _ons4_dataset()

    # July: r1, r2, r3 = 3 people.
    # Life satisfaction: +3, 0, +2 -> 5/3 = 1.67; higher is better: r1, r3 = 2.
    # Worthwhile: +1, +2, 0 -> 3/3 = 1.0; improved r1, r2 = 2.
    # Happiness: -1, +2, 0 -> 1/3 = 0.33; improved r2 = 1.
    # Anxiety: -6, +1, 0 -> -5/3 = -1.67; lower is better: only r1 = 1.
    result = kpis.ons4_change(JULY)
    assert result == [
        ItemChange("Life satisfaction", 3, 1.67, 2),
        ItemChange("Feeling things are worthwhile", 3, 1.0, 2),
        ItemChange("Happiness yesterday", 3, 0.33, 1),
        ItemChange("Anxiety yesterday", 3, -1.67, 1),
    ]
    # 2 of 3 = 0.667, 1 of 3 = 0.333
    assert [c.share_improved for c in result] == [0.667, 0.667, 0.333, 0.333]


def test_ons4_change_scope_practices_and_dates(app):
    p, q = _ons4_dataset()

    # Practice Q alone: r3, changes +2, 0, 0, 0; only life satisfaction improved.
    only_q = kpis.ons4_change(Scope(JULY.start, JULY.end, (q.id,)))
    assert only_q == [
        ItemChange(ITEMS[0], 1, 2.0, 1),
        ItemChange(ITEMS[1], 1, 0.0, 0),
        ItemChange(ITEMS[2], 1, 0.0, 0),
        ItemChange(ITEMS[3], 1, 0.0, 0),
    ]
    # Practice P in July: r1 and r2. Life (3 + 0)/2 = 1.5, 1 improved; worthwhile
    # (1 + 2)/2 = 1.5, 2; happiness (-1 + 2)/2 = 0.5, 1; anxiety (-6 + 1)/2 = -2.5, 1.
    assert kpis.ons4_change(Scope(JULY.start, JULY.end, (p.id,))) == [
        ItemChange(ITEMS[0], 2, 1.5, 1),
        ItemChange(ITEMS[1], 2, 1.5, 2),
        ItemChange(ITEMS[2], 2, 0.5, 1),
        ItemChange(ITEMS[3], 2, -2.5, 1),
    ]
    # June: r7 alone, +10 on the first three and -10 anxiety: all four improved.
    assert kpis.ons4_change(JUNE) == [
        ItemChange(ITEMS[0], 1, 10.0, 1),
        ItemChange(ITEMS[1], 1, 10.0, 1),
        ItemChange(ITEMS[2], 1, 10.0, 1),
        ItemChange(ITEMS[3], 1, -10.0, 1),
    ]
    # 1 August (UK) holds r8: 0 -> 5 on each, so anxiety got worse (+5).
    august = kpis.ons4_change(Scope(date(2026, 8, 1), date(2026, 8, 31)))
    assert august == [
        ItemChange(ITEMS[0], 1, 5.0, 1),
        ItemChange(ITEMS[1], 1, 5.0, 1),
        ItemChange(ITEMS[2], 1, 5.0, 1),
        ItemChange(ITEMS[3], 1, 5.0, 0),
    ]


def test_ons4_change_empty_range(app):
    _ons4_dataset()
    result = kpis.ons4_change(EMPTY)
    assert result == [ItemChange(item, 0, None, 0) for item in ITEMS]
    assert [c.share_improved for c in result] == [None] * 4


# --- activity uptake by organisation and by category --------------------------------------


def _uptake_dataset():
    nav = make_user(Role.NAVIGATOR)
    p = make_practice()
    q = make_practice()
    alpha = make_organisation(name="Alpha Org")
    beta = make_organisation(name="Beta Org")
    choir = make_activity(alpha, title="Choir", categories=["arts", "social_connection"])
    art = make_activity(alpha, title="Art", categories=["arts"])
    walk = make_activity(beta, title="Walk", categories=["physical_activity", "nature"])
    bare = make_activity(beta, title="Drop-in", categories=[])
    july = make_referral(practice=p, received_at=utc(2026, 7, 2))
    july_q = make_referral(practice=q, received_at=utc(2026, 7, 8))
    june = make_referral(practice=p, received_at=utc(2026, 6, 2))

    St = ActivityReferralStatus

    def send(referral, activity, status):
        _save(
            ActivityReferral(
                referral_id=referral.id,
                activity_id=activity.id,
                status=status,
                created_by_id=nav.id,
                decline_reason="Full" if status == St.DECLINED else None,
            )
        )

    for status in (St.SENT, St.ACCEPTED, St.DECLINED, St.SUGGESTED):
        send(july, choir, status)
    send(july, art, St.ATTENDED)
    for status in (St.ATTENDED, St.STOPPED, St.SIGNPOSTED, St.SUGGESTED):
        send(july, walk, status)
    send(july, bare, St.ACCEPTED)
    send(july_q, walk, St.SENT)
    send(june, art, St.ATTENDED)  # referred in June: outside July
    return p, q


def test_activity_uptake_by_organisation(app):
    p, q = _uptake_dataset()
    # Alpha: choir sent, accepted, declined (suggestion left out) + art attended = 4;
    #   taken up: accepted + attended = 2.
    # Beta: walk attended, stopped, signposted (suggestion left out) + drop-in accepted
    #   + Q's walk sent = 5; taken up: attended, stopped, accepted = 3.
    assert kpis.activity_uptake(JULY) == [("Alpha Org", 4, 2), ("Beta Org", 5, 3)]
    # Practice Q alone: one walk sent, not taken up.
    assert kpis.activity_uptake(Scope(JULY.start, JULY.end, (q.id,))) == [("Beta Org", 1, 0)]
    # Practice P alone: Beta loses Q's referral: 4, still 3 taken up.
    assert kpis.activity_uptake(Scope(JULY.start, JULY.end, (p.id,))) == [
        ("Alpha Org", 4, 2),
        ("Beta Org", 4, 3),
    ]
    # June: the art referral, attended.
    assert kpis.activity_uptake(JUNE) == [("Alpha Org", 1, 1)]


def test_activity_uptake_by_category(app):
    _, q = _uptake_dataset()
    expected = {c.label: (0, 0) for c in ActivityCategory}
    # Choir (arts + social connection): 3 referrals, 1 taken up (accepted).
    # Art (arts): 1 referral, 1 taken up. Walk (physical + nature): P's 3 + Q's 1 = 4,
    # taken up 2 (attended, stopped). The drop-in has no category: counted nowhere.
    expected[ActivityCategory.SOCIAL_CONNECTION.label] = (3, 1)
    expected[ActivityCategory.ARTS.label] = (3 + 1, 1 + 1)
    expected[ActivityCategory.PHYSICAL_ACTIVITY.label] = (4, 2)
    expected[ActivityCategory.NATURE.label] = (4, 2)
    result = kpis.activity_uptake_by_category(JULY)
    assert result == [(c.label, *expected[c.label]) for c in ActivityCategory]
    # 3 + 4 + 4 + 4 = 15 category counts from 9 referrals (8 with a category).
    assert sum(n for _, n, _ in result) == 15

    only_q = {
        label: (n, t)
        for label, n, t in kpis.activity_uptake_by_category(Scope(JULY.start, JULY.end, (q.id,)))
    }
    assert only_q[ActivityCategory.PHYSICAL_ACTIVITY.label] == (1, 0)
    assert only_q[ActivityCategory.NATURE.label] == (1, 0)
    assert sum(n for n, _ in only_q.values()) == 2

    # Nothing in range: every category still listed, with zeros.
    assert kpis.activity_uptake_by_category(EMPTY) == [(c.label, 0, 0) for c in ActivityCategory]


# --- volunteer time ----------------------------------------------------------------------


def _hours(volunteer, day: date, minutes: int, kind=HoursKind.TRAINING):
    _save(VolunteerHours(volunteer_id=volunteer.id, worked_on=day, kind=kind, minutes=minutes))


def _volunteer_time_dataset():
    nav = make_user(Role.NAVIGATOR)
    v1, v2, v3 = make_volunteer(), make_volunteer(), make_volunteer()
    u1, u2, u3 = v1.user, v2.user, v3.user
    p = make_practice()
    r = make_referral(practice=p, received_at=utc(2026, 5, 1))

    def contact(author, at, minutes):
        make_contact(r, author, occurred_at=at, duration_minutes=minutes)

    # June: u1 30 (15 June) + u1 18 (22:30 UTC 30 June = 23:30 BST 30 June) + u2 20
    # (23:30 UTC 31 May = 00:30 BST 1 June).
    contact(u1, utc(2026, 6, 15), 30)
    contact(u1, utc(2026, 6, 30, 22, 30), 18)
    contact(u2, utc(2026, 5, 31, 23, 30), 20)
    # July: u1 45 (23:30 UTC 30 June = 00:30 BST 1 July) + u1 30 hours on 1 July
    # + u2 75 hours on 31 July.
    contact(u1, utc(2026, 6, 30, 23, 30), 45)
    _hours(v1, date(2026, 7, 1), 30)
    _hours(v2, date(2026, 7, 31), 75, HoursKind.TRAVEL)
    # A navigator's contact is not volunteer time.
    contact(nav, utc(2026, 7, 10), 60)
    # August: nothing.
    # September: u3 60 (23:30 UTC 31 August = 00:30 BST 1 September) + u3 120 hours.
    contact(u3, utc(2026, 8, 31, 23, 30), 60)
    _hours(v3, date(2026, 9, 1), 120, HoursKind.EVENT)
    # Outside the range: hours on 31 May; a contact at 23:00 UTC on 30 September,
    # which is midnight BST on 1 October.
    _hours(v3, date(2026, 5, 31), 100)
    contact(u3, utc(2026, 9, 30, 23, 0), 60)
    return p


def test_volunteer_time_by_month(app):
    p = _volunteer_time_dataset()
    summer = Scope(date(2026, 6, 1), date(2026, 9, 30))
    # June: 30 + 18 + 20 = 68 min = 1.13 h -> 1.1; u1 and u2 = 2 volunteers.
    # July: 45 + 30 + 75 = 150 min = 2.5 h; u1 (contact and hours, once) and u2 = 2.
    # August: 0. September: 60 + 120 = 180 min = 3.0 h; u3 once across both sources.
    expected = [
        VolunteerMonth("2026-06", 1.1, 2),
        VolunteerMonth("2026-07", 2.5, 2),
        VolunteerMonth("2026-08", 0.0, 0),
        VolunteerMonth("2026-09", 3.0, 1),
    ]
    assert kpis.volunteer_time_by_month(summer) == expected
    # Volunteers serve the whole hub: a practice filter does not narrow the figures.
    other = make_practice()
    assert kpis.volunteer_time_by_month(Scope(summer.start, summer.end, (other.id,))) == expected
    assert kpis.volunteer_time_by_month(Scope(summer.start, summer.end, (p.id,))) == expected


def test_volunteer_time_by_month_partial_months_and_empty(app):
    _volunteer_time_dataset()
    # From 20 June: only the 22:30 UTC 30 June contact (18 min = 0.3 h, u1) is June's.
    assert kpis.volunteer_time_by_month(Scope(date(2026, 6, 20), date(2026, 7, 31))) == [
        VolunteerMonth("2026-06", 0.3, 1),
        VolunteerMonth("2026-07", 2.5, 2),
    ]
    # Up to 30 June only: the 23:30 UTC 30 June contact is 1 July in London, so out.
    assert kpis.volunteer_time_by_month(JUNE) == [VolunteerMonth("2026-06", 1.1, 2)]
    # A single day, 1 September: u3's contact (00:30 BST) and hours, 60 + 120 = 180 min.
    assert kpis.volunteer_time_by_month(Scope(date(2026, 9, 1), date(2026, 9, 1))) == [
        VolunteerMonth("2026-09", 3.0, 1)
    ]
    assert kpis.volunteer_time_by_month(Scope(date(2026, 11, 1), date(2027, 1, 31))) == [
        VolunteerMonth("2026-11", 0.0, 0),
        VolunteerMonth("2026-12", 0.0, 0),
        VolunteerMonth("2027-01", 0.0, 0),
    ]


# --- active volunteers -------------------------------------------------------------------


def test_active_volunteers(app):
    assert kpis.active_volunteers() == 0
    make_volunteer()
    make_volunteer()
    make_volunteer(status=VolunteerStatus.PAUSED)
    make_volunteer(status=VolunteerStatus.APPLIED)
    make_volunteer(status=VolunteerStatus.VETTING)
    make_volunteer(status=VolunteerStatus.LEFT, left_reason=LeftReason.MOVED)
    # Only the two active ones.
    assert kpis.active_volunteers() == 2


# --- outcome reports on time -------------------------------------------------------------

_claims = iter(range(1, 10_000))


def _report(practice, period_end, status, sent_at=None, kind=ReportKind.SCHEDULED, start=None):
    return _save(
        OutcomeReport(
            claim_key=f"test:{next(_claims)}",
            kind=kind,
            practice_id=practice.id,
            period_start=start or period_end.replace(day=1),
            period_end=period_end,
            status=status,
            sent_at=sent_at,
        )
    )


def _reports_dataset():
    p1 = make_practice(name="P1", report_mailbox="p1@nhs.net")
    p2 = make_practice(name="P2", report_mailbox="p2@nhs.net")
    p3 = make_practice(name="P3")  # no mailbox
    S = DeliveryStatus
    # June periods.
    # 1. Due 1 July, sent 07:00 BST that day: on time.
    _report(p1, date(2026, 6, 30), S.SENT, utc(2026, 7, 1, 6))
    # 2. Due 1 July, sent 22:30 UTC = 23:30 BST still 1 July: on time.
    _report(p2, date(2026, 6, 30), S.SENT, utc(2026, 7, 1, 22, 30))
    # 3. Due 30 June, sent 23:30 UTC 30 June = 00:30 BST 1 July: late.
    _report(p1, date(2026, 6, 29), S.SENT, utc(2026, 6, 30, 23, 30), start=date(2026, 6, 29))
    # 4. Due 15 June, sent 20 June: late.
    _report(p2, date(2026, 6, 14), S.SENT, utc(2026, 6, 20))
    # 5-8. Not sent: failed, retrying, claimed, being sent.
    _report(p1, date(2026, 6, 7), S.FAILED)
    _report(p2, date(2026, 6, 21), S.RETRYING)
    _report(p1, date(2026, 6, 28), S.CLAIMED)
    _report(p2, date(2026, 6, 27), S.SENDING)
    # 9. No mailbox: portal inbox only.
    _report(p3, date(2026, 6, 30), S.INBOX_ONLY)
    # Not counted: nothing to report; reports sent by hand; notices.
    _report(p1, date(2026, 6, 15), S.EMPTY)
    _report(p1, date(2026, 6, 16), S.SENT, utc(2026, 7, 20), kind=ReportKind.MANUAL)
    _report(p2, date(2026, 6, 17), S.FAILED, kind=ReportKind.NOTICE)
    # July: due 1 August, sent 1 August: on time.
    _report(p1, date(2026, 7, 31), S.SENT, utc(2026, 8, 1, 10))
    # Period ended in May: outside.
    _report(p1, date(2026, 5, 31), S.SENT, utc(2026, 6, 1, 6))
    return p1, p2, p3


def test_reports_on_time(app):
    p1, p2, p3 = _reports_dataset()
    summer = Scope(date(2026, 6, 1), date(2026, 8, 31))
    # June: due 9 (1-9); on time 1, 2; late 3, 4; not sent 5-8; inbox only 9.
    # July: 1 due, on time. August: nothing, still listed.
    assert kpis.reports_on_time(summer) == [
        ReportTimeliness("2026-06", 9, 2, 2, 4, 1),
        ReportTimeliness("2026-07", 1, 1, 0, 0, 0),
        ReportTimeliness("2026-08", 0, 0, 0, 0, 0),
    ]
    # P1 only: June 1 (on time), 3 (late), 5 and 7 (not sent); July the one on time.
    assert kpis.reports_on_time(Scope(summer.start, summer.end, (p1.id,))) == [
        ReportTimeliness("2026-06", 4, 1, 1, 2, 0),
        ReportTimeliness("2026-07", 1, 1, 0, 0, 0),
        ReportTimeliness("2026-08", 0, 0, 0, 0, 0),
    ]
    # P2 and P3: 2 on time, 4 late, 6 and 8 not sent, 9 inbox only.
    assert kpis.reports_on_time(Scope(summer.start, summer.end, (p2.id, p3.id))) == [
        ReportTimeliness("2026-06", 5, 1, 1, 2, 1),
        ReportTimeliness("2026-07", 0, 0, 0, 0, 0),
        ReportTimeliness("2026-08", 0, 0, 0, 0, 0),
    ]
    assert kpis.reports_on_time(EMPTY)[0] == ReportTimeliness("2030-01", 0, 0, 0, 0, 0)
    assert len(kpis.reports_on_time(EMPTY)) == 12


def test_reports_on_time_uk_day_of_sending(app):
    p = make_practice(report_mailbox="p@nhs.net")
    S = DeliveryStatus
    # Summer: period ends Tue 30 June, due Wed 1 July.
    # 22:59 UTC 1 July = 23:59 BST 1 July: on time.
    _report(p, date(2026, 6, 30), S.SENT, utc(2026, 7, 1, 22, 59))
    # 23:30 UTC 1 July = 00:30 BST 2 July: late, although the UTC date is 1 July.
    _report(p, date(2026, 6, 30), S.SENT, utc(2026, 7, 1, 23, 30), start=date(2026, 6, 30))
    # Winter: period ends 31 January, due 1 February. 23:30 UTC 1 February is 23:30 GMT
    # the same day: on time. 00:30 UTC 2 February: late.
    _report(p, date(2026, 1, 31), S.SENT, utc(2026, 2, 1, 23, 30))
    _report(p, date(2026, 1, 31), S.SENT, utc(2026, 2, 2, 0, 30), start=date(2026, 1, 31))
    # Sent before the due day (on the period's last day): on time.
    _report(p, date(2026, 1, 15), S.SENT, utc(2026, 1, 15, 18), start=date(2026, 1, 15))

    assert kpis.reports_on_time(JUNE) == [ReportTimeliness("2026-06", 2, 1, 1, 0, 0)]
    assert kpis.reports_on_time(Scope(date(2026, 1, 1), date(2026, 1, 31))) == [
        ReportTimeliness("2026-01", 3, 2, 1, 0, 0)
    ]


# --- commissioner tables: suppression ----------------------------------------------------


def _ucla(referral, recorder, stage, score, at):
    return _save(
        MeasureResponse(
            referral_id=referral.id,
            scale=Scale.UCLA3,
            stage=stage,
            answers=[1, 1, 1],
            score=score,
            recorded_by_id=recorder.id,
            recorded_at=at,
        )
    )


def _tables_dataset():
    nav = make_user(Role.NAVIGATOR)
    ash = make_practice(name="Ash", list_size=3000)
    beech = make_practice(name="Beech", list_size=None)
    cherry = make_practice(name="Cherry", list_size=5000)
    make_practice(name="Damson", list_size=4000)
    people = []
    for i in range(3):
        people.append(make_referral(practice=ash, received_at=utc(2026, 7, 1 + i)))
    for i in range(5):
        people.append(make_referral(practice=beech, received_at=utc(2026, 7, 5 + i)))
    for i in range(6):
        people.append(make_referral(practice=cherry, received_at=utc(2026, 7, 10 + i)))
    # UCLA-3 for five people: changes -2, -1, 0, +1, -3.
    for referral, (before, after) in zip(
        people[:5], [(7, 5), (6, 5), (5, 5), (4, 5), (9, 6)], strict=True
    ):
        _ucla(referral, nav, Stage.BASELINE, before, utc(2026, 7, 20))
        _ucla(referral, nav, Stage.CLOSING, after, utc(2026, 8, 20))
    # ONS4 for two people.
    for referral in people[5:7]:
        _ons4(referral, nav, Stage.BASELINE, [5, 5, 5, 5], utc(2026, 7, 20))
        _ons4(referral, nav, Stage.CLOSING, [6, 6, 6, 4], utc(2026, 8, 20))
    return ash


def _table(tables: list[Table], key: str) -> Table:
    return next(t for t in tables if t.key == key)


def test_commissioner_tables_suppress_small_numbers(app):
    _tables_dataset()
    tables = figures.commissioner_tables(JULY)

    # Ash: 3 referrals -> "<5", and the rate would give the count away: not shown.
    # Beech: 5, no list size. Cherry: 1000 * 6 / 5000 = 1.20. Damson: 0 / 4000 = 0.00.
    assert _table(tables, "per_1000").rows == [
        ("Ash", "<5", "not shown"),
        ("Beech", "5", "list size not known"),
        ("Cherry", "6", "1.20"),
        ("Damson", "0", "0.00"),
    ]
    # 3 + 5 + 6 = 14 in July.
    assert _table(tables, "by_month").rows == [("2026-07", "14")]

    wellbeing = _table(tables, "wellbeing").rows
    # SWEMWBS: nobody measured twice.
    assert wellbeing[0] == (Scale.SWEMWBS.label, "no data", "no data", "no data")
    # UCLA-3: 5 people; mean (-2 - 1 + 0 + 1 - 3) / 5 = -1.00; lower is better for 3 of 5.
    assert wellbeing[1] == (Scale.UCLA3.label, "5", "-1.00", "60%")
    # ONS4: 2 people, fewer than 5: count suppressed, figures not shown.
    assert wellbeing[2:] == [(f"ONS4: {item}", "<5", "not shown", "not shown") for item in ITEMS]

    # Every table's definition is the KPI's docstring as one paragraph.
    assert _table(tables, "per_1000").definition.startswith("For each practice in the scope:")
    assert "\n" not in _table(tables, "per_1000").definition


def test_commissioner_tables_wellbeing_five_people_shown_four_not(app):
    nav = make_user(Role.NAVIGATOR)
    p = make_practice()
    for i in range(4):
        r = make_referral(practice=p, received_at=utc(2026, 7, 1 + i))
        _ucla(r, nav, Stage.BASELINE, 6, utc(2026, 7, 20))
        _ucla(r, nav, Stage.CLOSING, 5, utc(2026, 8, 20))
    rows = _table(figures.commissioner_tables(JULY), "wellbeing").rows
    assert rows[1] == (Scale.UCLA3.label, "<5", "not shown", "not shown")
    # A fifth person, 6 -> 8 (worse): mean (4 * -1 + 2) / 5 = -0.40; 4 of 5 improved = 80%.
    r = make_referral(practice=p, received_at=utc(2026, 7, 9))
    _ucla(r, nav, Stage.BASELINE, 6, utc(2026, 7, 20))
    _ucla(r, nav, Stage.CLOSING, 8, utc(2026, 8, 20))
    rows = _table(figures.commissioner_tables(JULY), "wellbeing").rows
    assert rows[1] == (Scale.UCLA3.label, "5", "-0.40", "80%")


def test_commissioner_tables_activity_and_volunteer_rows(app):
    _uptake_dataset()
    tables = figures.commissioner_tables(JULY)
    # By organisation: Alpha 4 referrals, 2 taken up; Beta 5 and 3: "<5" below five.
    assert _table(tables, "activity_organisations").rows == [
        ("Alpha Org", "<5", "<5"),
        ("Beta Org", "5", "<5"),
    ]
    categories = dict((label, (n, t)) for label, n, t in _table(tables, "activity_categories").rows)
    assert categories[ActivityCategory.ARTS.label] == ("<5", "<5")
    assert categories[ActivityCategory.LEARNING.label] == ("0", "0")
    # No volunteer time: hours "0.0" and 0 volunteers.
    assert _table(tables, "volunteer_time").rows == [("2026-07", "0.0", "0")]


# --- headlines ---------------------------------------------------------------------------


def test_headlines(app):
    p = make_practice()

    def referral(day, contacted_day=None, contacted_hour=10, **kw):
        contacted = utc(2026, 7, contacted_day, contacted_hour) if contacted_day else None
        return make_referral(
            practice=p, received_at=utc(2026, 7, day, 9), first_contact_at=contacted, **kw
        )

    # Working days to first contact (July 2026 has no bank holidays):
    referral(1, 1, 15)  # Wed -> same day: 0
    referral(2, 3)  # Thu -> Fri: 1
    referral(3, 6)  # Fri -> Mon: 1
    referral(6, 8)  # Mon -> Wed: 2
    referral(
        7,
        10,  # Tue -> Fri: 3
        status=ReferralStatus.CLOSED,
        closed_at=utc(2026, 7, 30),
        closure_reason=ClosureReason.GOALS_MET,
    )
    referral(8)  # never reached
    volunteer = make_volunteer()
    _hours(volunteer, date(2026, 7, 14), 1200)  # 20 hours

    # 6 referred; 5 reached = 83%; goals met 1 (< 5): not shown.
    # Values 0, 1, 1, 2, 3: median rank 2.5 -> 3rd = 1; 90th rank 4.5 -> 5th = 3.
    # 1 active volunteer: "<5".
    assert figures.headlines(JULY) == [
        Headline("Referrals received", "6"),
        Headline("Reached by the hub", "83%", "of referrals received"),
        Headline("Closed with goals met", "not shown", "of referrals received"),
        Headline("Working days to first contact", "1", "median; 9 in 10 within 3"),
        Headline("Volunteer hours", "20", "given in these dates"),
        Headline("Active volunteers", "<5", "today"),
    ]


def test_headlines_small_and_empty(app):
    p = make_practice()
    for day in (1, 2, 3):
        make_referral(
            practice=p, received_at=utc(2026, 7, day, 9), first_contact_at=utc(2026, 7, day, 15)
        )
    # 3 referred, all reached: the share would give the count away; 3 timings < 5: no data.
    assert figures.headlines(JULY) == [
        Headline("Referrals received", "<5"),
        Headline("Reached by the hub", "not shown", "of referrals received"),
        Headline("Closed with goals met", "not shown", "of referrals received"),
        Headline("Working days to first contact", "no data", "median"),
        Headline("Volunteer hours", "0", "given in these dates"),
        Headline("Active volunteers", "0", "today"),
    ]
    assert figures.headlines(EMPTY)[0] == Headline("Referrals received", "0")


def test_headlines_self_referrals_count(app):
    # Self-referrals have no practice; an unfiltered scope still counts them.
    for day in range(1, 6):
        make_referral(
            source=ReferralSource.SELF,
            received_at=utc(2026, 7, day, 9),
            first_contact_at=utc(2026, 7, day, 10),
        )
    heads = figures.headlines(JULY)
    # 5 referred, 5 reached: 100%.
    assert heads[0] == Headline("Referrals received", "5")
    assert heads[1] == Headline("Reached by the hub", "100%", "of referrals received")


# --- chart rows and month labels ---------------------------------------------------------


def test_chart_rows():
    table = Table(
        "t",
        "Caption",
        ("Label", "Count", "Other"),
        [("a", "<5", "x"), ("b", "no data", "x"), ("c", "12", "x"), ("d", "0", "x"), ("e", "2.5")],
    )
    # "<5" stands in as 1 (drawn as nothing, labelled "<5"); "no data" becomes None.
    assert figures.chart_rows(table) == [
        ("a", 1.0),
        ("b", None),
        ("c", 12.0),
        ("d", 0.0),
        ("e", 2.5),
    ]


def test_chart_rows_feed_charts_that_hide_small_counts(app):
    _tables_dataset()
    tables = figures.commissioner_tables(JULY)
    charts = figures.charts_for(tables)
    # Only tables with a chart get one.
    assert set(charts) == {t.key for t in tables if t.chart is not None}
    assert "per_1000" not in charts
    # By month is a line chart with "Jul 2026" on its axis; the 14 referrals drawn.
    line = charts["by_month"]
    assert [(label, shown, axis) for _, _, label, shown, axis in line.points] == [
        ("Jul 2026", "14", "Jul 2026")
    ]


def test_month_label():
    assert figures.month_label("2026-03") == "Mar 2026"
    assert figures.month_label("2027-12") == "Dec 2027"
    # Anything that is not a YYYY-MM month is left as it is.
    assert figures.month_label("GP practice") == "GP practice"
    assert figures.month_label("2026-13") == "2026-13"
    assert figures.month_label("") == ""


def test_definition_is_one_paragraph():
    text = figures.definition(kpis.active_volunteers)
    assert text == "Volunteers whose status is active today: vetted, trained and available."
