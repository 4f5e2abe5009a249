"""Known-answer tests for the dashboard KPIs: small hand-made datasets, sums done by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.auth.models import Role
from portal.dashboard import kpis
from portal.dashboard.kpis import PracticeRate, Scope, Spread, WellbeingChange
from portal.directory.models import ActivityReferral, ActivityReferralStatus
from portal.extensions import db
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
)
from tests.factories import (
    make_activity,
    make_contact,
    make_neighbourhood,
    make_organisation,
    make_practice,
    make_referral,
    make_user,
)

JULY = Scope(date(2026, 7, 1), date(2026, 7, 31))
YEAR_2026 = Scope(date(2026, 1, 1), date(2026, 12, 31))
EMPTY = Scope(date(2030, 1, 1), date(2030, 12, 31))


def utc(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


# --- suppression -------------------------------------------------------------------------


def test_suppress_small_counts():
    assert kpis.suppress(0) == "0"
    assert [kpis.suppress(n) for n in (1, 2, 3, 4)] == ["<5"] * 4
    assert kpis.suppress(5) == "5"
    assert kpis.suppress(123) == "123"
    assert kpis.suppress(None) == "no data"


def test_suppressed_rows_only_touch_count_positions():
    rows = [("Alpha", 0, 3, "x"), ("Beta", 5, None, "y")]
    assert kpis.suppressed_rows(rows, (1, 2)) == [
        ("Alpha", "0", "<5", "x"),
        ("Beta", "5", "no data", "y"),
    ]
    assert kpis.suppressed_rows([], (1,)) == []


# --- scope and referrals_received --------------------------------------------------------


def test_referrals_received_scope_boundaries(app):
    p1 = make_practice(name="P1")
    p2 = make_practice(name="P2")
    # 22:59 UTC on 30 June is 23:59 BST on 30 June: June.
    make_referral(practice=p1, received_at=utc(2026, 6, 30, 22, 59))
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: July, not June.
    make_referral(practice=p1, received_at=utc(2026, 6, 30, 23, 30))
    # 22:59 UTC on 31 July is 23:59 BST on the last day: inside (end is inclusive).
    make_referral(practice=p1, received_at=utc(2026, 7, 31, 22, 59))
    # 23:00 UTC on 31 July is midnight BST on 1 August: outside July.
    make_referral(practice=p1, received_at=utc(2026, 7, 31, 23, 0))
    make_referral(practice=p2, received_at=utc(2026, 7, 15))
    # A self-referral, no practice.
    make_referral(source=ReferralSource.SELF, received_at=utc(2026, 7, 10))

    assert kpis.referrals_received(Scope(date(2026, 6, 1), date(2026, 6, 30))) == 1
    # July: 00:30 BST 1 July + 23:59 BST 31 July + P2 + self = 4
    assert kpis.referrals_received(JULY) == 4
    # Single-day scopes: 1 July holds just the 00:30 one; 1 August the midnight one.
    assert kpis.referrals_received(Scope(date(2026, 7, 1), date(2026, 7, 1))) == 1
    assert kpis.referrals_received(Scope(date(2026, 8, 1), date(2026, 8, 1))) == 1
    # Practice filter: P1 has 2 in July; P2 1; both 3 (the self-referral has no practice).
    assert kpis.referrals_received(Scope(JULY.start, JULY.end, (p1.id,))) == 2
    assert kpis.referrals_received(Scope(JULY.start, JULY.end, (p2.id,))) == 1
    assert kpis.referrals_received(Scope(JULY.start, JULY.end, (p1.id, p2.id))) == 3
    assert kpis.referrals_received(Scope(JULY.start, JULY.end, ())) == 0
    assert kpis.referrals_received(EMPTY) == 0


def test_referrals_received_winter_boundary_is_utc_midnight(app):
    p = make_practice()
    # GMT in January: London midnight is UTC midnight.
    make_referral(practice=p, received_at=utc(2026, 1, 31, 23, 59))
    make_referral(practice=p, received_at=utc(2026, 2, 1, 0, 0))
    assert kpis.referrals_received(Scope(date(2026, 1, 1), date(2026, 1, 31))) == 1
    assert kpis.referrals_received(Scope(date(2026, 2, 1), date(2026, 2, 28))) == 1


# --- by source, reason, neighbourhood, month ---------------------------------------------


def test_referrals_by_source(app):
    p = make_practice()
    for day in (2, 3, 4):
        make_referral(practice=p, received_at=utc(2026, 7, day))
    make_referral(source=ReferralSource.SELF, received_at=utc(2026, 7, 5))
    # A professional referral in June: outside July.
    make_referral(source=ReferralSource.PROFESSIONAL, received_at=utc(2026, 6, 5))

    # 3 from the practice, 1 self; sorted by code ("practice" < "self").
    assert kpis.referrals_by_source(JULY) == [("GP practice", 3), ("Self-referral", 1)]
    assert kpis.referrals_by_source(Scope(JULY.start, JULY.end, (p.id,))) == [("GP practice", 3)]
    assert kpis.referrals_by_source(EMPTY) == []


def test_referrals_by_reason_counts_each_reason_and_lists_all(app):
    p = make_practice()
    R = ReferralReason
    make_referral(practice=p, received_at=utc(2026, 7, 2), reasons=(R.LONELINESS, R.MONEY))
    make_referral(practice=p, received_at=utc(2026, 7, 3), reasons=(R.LONELINESS,))
    make_referral(practice=p, received_at=utc(2026, 6, 3), reasons=(R.HOUSING,))  # June

    # Loneliness 1 + 1 = 2, money 1; housing only in June, so 0; every reason listed.
    expected = {reason.label: 0 for reason in ReferralReason}
    expected[R.LONELINESS.label] = 2
    expected[R.MONEY.label] = 1
    result = kpis.referrals_by_reason(JULY)
    assert result == [(reason.label, expected[reason.label]) for reason in ReferralReason]
    assert sum(n for _, n in result) == 3  # more than the 2 referrals

    assert kpis.referrals_by_reason(EMPTY) == [(reason.label, 0) for reason in ReferralReason]


def _neighbourhood_dataset():
    alder = make_neighbourhood(name="Alder")
    birch = make_neighbourhood(name="Birch")
    cedar = make_neighbourhood(name="Cedar")
    a1 = make_practice(neighbourhood=alder)
    a2 = make_practice(neighbourhood=alder)
    b1 = make_practice(neighbourhood=birch)
    make_practice(neighbourhood=cedar)  # no referrals at all
    make_referral(practice=a1, received_at=utc(2026, 7, 2))
    make_referral(practice=a1, received_at=utc(2026, 7, 3))
    make_referral(practice=a2, received_at=utc(2026, 7, 4))
    make_referral(practice=b1, received_at=utc(2026, 7, 5))
    make_referral(practice=b1, received_at=utc(2026, 6, 5))  # June
    make_referral(source=ReferralSource.SELF, received_at=utc(2026, 7, 6))  # no team
    return a1


def test_referrals_by_neighbourhood(app):
    a1 = _neighbourhood_dataset()
    # July: Alder 2 + 1 = 3, Birch 1 (the June one is out), Cedar 0.
    assert kpis.referrals_by_neighbourhood(JULY) == [("Alder", 3), ("Birch", 1), ("Cedar", 0)]
    # No scope: every referral ever, Birch 1 + 1 = 2.
    assert kpis.referrals_by_neighbourhood() == [("Alder", 3), ("Birch", 2), ("Cedar", 0)]
    # Only practice a1: Alder 2, and only its team is listed (another team's 0 would be false).
    assert kpis.referrals_by_neighbourhood(Scope(JULY.start, JULY.end, (a1.id,))) == [
        ("Alder", 2),
    ]
    assert kpis.referrals_by_neighbourhood(EMPTY) == [("Alder", 0), ("Birch", 0), ("Cedar", 0)]


def test_referrals_by_neighbourhood_lists_team_without_practices(app):
    """Every team is listed, with 0 where it had none: that includes a team with no practices."""
    _neighbourhood_dataset()
    make_neighbourhood(name="Damson")
    assert kpis.referrals_by_neighbourhood(JULY) == [
        ("Alder", 3),
        ("Birch", 1),
        ("Cedar", 0),
        ("Damson", 0),
    ]


def test_referrals_by_month_lists_every_month(app):
    p = make_practice()
    make_referral(practice=p, received_at=utc(2026, 5, 10))
    make_referral(practice=p, received_at=utc(2026, 5, 20))
    make_referral(practice=p, received_at=utc(2026, 7, 15))
    make_referral(practice=p, received_at=utc(2026, 8, 15))  # after the range

    # May 2, June 0, July 1.
    assert kpis.referrals_by_month(Scope(date(2026, 5, 1), date(2026, 7, 31))) == [
        ("2026-05", 2),
        ("2026-06", 0),
        ("2026-07", 1),
    ]
    # A range starting and ending mid-month: 15 May to 2 July drops 10 May and 15 July.
    assert kpis.referrals_by_month(Scope(date(2026, 5, 15), date(2026, 7, 2))) == [
        ("2026-05", 1),
        ("2026-06", 0),
        ("2026-07", 0),
    ]
    # Across a year end, nothing in it.
    assert kpis.referrals_by_month(Scope(date(2026, 11, 1), date(2027, 2, 28))) == [
        ("2026-11", 0),
        ("2026-12", 0),
        ("2027-01", 0),
        ("2027-02", 0),
    ]


def test_referrals_by_month_uses_london_month(app):
    p = make_practice()
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: a July referral.
    make_referral(practice=p, received_at=utc(2026, 6, 30, 23, 30))
    summer = Scope(date(2026, 6, 1), date(2026, 7, 31))
    assert kpis.referrals_received(JULY) == 1
    assert kpis.referrals_by_month(summer) == [("2026-06", 0), ("2026-07", 1)]
    # The July-only breakdown must add up to the July total.
    assert kpis.referrals_by_month(JULY) == [("2026-07", 1)]


def test_referrals_by_month_early_hours_utc_and_uk_agree(app):
    p = make_practice()
    # 00:30 UTC on 1 July is 01:30 BST on 1 July: July by either clock.
    make_referral(practice=p, received_at=utc(2026, 7, 1, 0, 30))
    summer = Scope(date(2026, 6, 1), date(2026, 7, 31))
    assert kpis.referrals_by_month(summer) == [("2026-06", 0), ("2026-07", 1)]


def test_referrals_per_1000(app):
    n = make_neighbourhood()
    a = make_practice(neighbourhood=n, name="A practice", list_size=6000)
    b = make_practice(neighbourhood=n, name="B practice", list_size=None)
    c = make_practice(neighbourhood=n, name="C practice", list_size=8000)
    d = make_practice(neighbourhood=n, name="D practice", list_size=1000)
    for day in (2, 3, 4):
        make_referral(practice=a, received_at=utc(2026, 7, day))
    make_referral(practice=a, received_at=utc(2026, 6, 4))  # June: not counted
    make_referral(practice=b, received_at=utc(2026, 7, 2))
    make_referral(practice=b, received_at=utc(2026, 7, 3))
    make_referral(practice=d, received_at=utc(2026, 7, 3))
    make_referral(source=ReferralSource.SELF, received_at=utc(2026, 7, 3))

    rates = kpis.referrals_per_1000(Scope(JULY.start, JULY.end, (a.id, b.id, c.id)))
    # D is outside the practices asked for, so not listed.
    assert rates == [
        PracticeRate("A practice", 3, 6000),
        PracticeRate("B practice", 2, None),
        PracticeRate("C practice", 0, 8000),
    ]
    # A: 1000 * 3 / 6000 = 0.5; B: list size unknown; C: 0 / 8000 = 0.
    assert [r.per_1000 for r in rates] == [0.5, None, 0.0]

    everyone = kpis.referrals_per_1000(JULY)
    assert [(r.practice, r.referrals) for r in everyone] == [
        ("A practice", 3),
        ("B practice", 2),
        ("C practice", 0),
        ("D practice", 1),
    ]
    # D: 1000 * 1 / 1000 = 1.0
    assert everyone[3].per_1000 == 1.0


# --- conversion --------------------------------------------------------------------------


def test_conversion(app):
    navigator = make_user(Role.NAVIGATOR)
    p = make_practice()

    def referral(day, **kw):
        return make_referral(practice=p, received_at=utc(2026, 7, day, 9), **kw)

    # r1: reached, assigned 3 July, successful contact 5 July, closed goals met.
    r1 = referral(
        1,
        first_contact_at=utc(2026, 7, 2),
        assigned_at=utc(2026, 7, 3),
        status=ReferralStatus.CLOSED,
        closed_at=utc(2026, 7, 20),
        closure_reason=ClosureReason.GOALS_MET,
    )
    make_contact(r1, navigator, occurred_at=utc(2026, 7, 5))
    # r2: reached, assigned, but the only contact after assignment failed.
    r2 = referral(2, first_contact_at=utc(2026, 7, 3), assigned_at=utc(2026, 7, 4))
    make_contact(r2, navigator, occurred_at=utc(2026, 7, 6), successful=False)
    # r3: successful contact on 8 July, before assignment on 10 July: not engaged.
    r3 = referral(3, first_contact_at=utc(2026, 7, 8), assigned_at=utc(2026, 7, 10))
    make_contact(r3, navigator, occurred_at=utc(2026, 7, 8))
    # r4: never reached; closed unable to contact.
    referral(
        4,
        status=ReferralStatus.CLOSED,
        closed_at=utc(2026, 7, 30),
        closure_reason=ClosureReason.UNABLE_TO_CONTACT,
    )
    # r5: reached, successful contact, never assigned: not engaged.
    r5 = referral(5, first_contact_at=utc(2026, 7, 6))
    make_contact(r5, navigator, occurred_at=utc(2026, 7, 6))
    # r6: successful contact at the very moment of assignment: engaged.
    r6 = referral(6, first_contact_at=utc(2026, 7, 7), assigned_at=utc(2026, 7, 8, 10))
    make_contact(r6, navigator, occurred_at=utc(2026, 7, 8, 10))
    # June: everything, but outside the scope.
    r7 = make_referral(
        practice=p,
        received_at=utc(2026, 6, 10),
        first_contact_at=utc(2026, 6, 11),
        assigned_at=utc(2026, 6, 12),
        status=ReferralStatus.CLOSED,
        closed_at=utc(2026, 6, 30),
        closure_reason=ClosureReason.GOALS_MET,
    )
    make_contact(r7, navigator, occurred_at=utc(2026, 6, 13))

    # referred r1..r6 = 6; contacted r1, r2, r3, r5, r6 = 5; engaged r1, r6 = 2; goals met r1.
    assert kpis.conversion(JULY) == kpis.Conversion(6, 5, 2, 1)
    assert kpis.conversion(Scope(date(2026, 6, 1), date(2026, 6, 30))) == kpis.Conversion(
        1, 1, 1, 1
    )
    assert kpis.conversion(EMPTY) == kpis.Conversion(0, 0, 0, 0)


# --- working-day spreads -----------------------------------------------------------------


def test_time_to_first_contact(app):
    p = make_practice()

    def reached(received: datetime, contacted: datetime | None):
        make_referral(practice=p, received_at=received, first_contact_at=contacted)

    # GMT dates, so the UTC date is the UK date.
    reached(utc(2026, 1, 5, 9), utc(2026, 1, 7, 10))  # Mon -> Wed: 2
    reached(utc(2026, 1, 9, 9), utc(2026, 1, 12, 10))  # Fri -> Mon, over a weekend: 1
    # Thu 24 Dec -> Tue 29 Dec: 25 (Christmas), 26-27 weekend, 28 (Boxing Day observed): 1
    reached(utc(2026, 12, 24, 9), utc(2026, 12, 29, 10))
    reached(utc(2026, 2, 3, 9), utc(2026, 2, 3, 15))  # same day: 0
    reached(utc(2026, 1, 5, 9), utc(2026, 1, 19, 10))  # Mon -> Mon a fortnight later: 10
    reached(utc(2026, 3, 2, 9), None)  # not reached: left out
    reached(utc(2025, 12, 1, 9), utc(2026, 1, 20, 9))  # received in 2025: left out

    # Values 0, 1, 1, 2, 10 (5 people). Median: rank 2.5 -> the 3rd -> 1.
    # 90th percentile: rank 4.5 -> the 5th -> 10.
    assert kpis.time_to_first_contact(YEAR_2026) == Spread(5, 1.0, 10.0)
    assert kpis.time_to_first_contact(EMPTY) == Spread(0, None, None)


def test_time_to_first_contact_counts_uk_dates(app):
    p = make_practice()
    # 23:30 UTC Tue 30 June is 00:30 BST Wed 1 July; reached 11:00 BST the same Wednesday.
    make_referral(
        practice=p, received_at=utc(2026, 6, 30, 23, 30), first_contact_at=utc(2026, 7, 1, 10)
    )
    # Same UK day: 0 working days.
    assert kpis.time_to_first_contact(JULY) == Spread(1, 0.0, 0.0)


def test_time_to_triage(app):
    p = make_practice()
    make_referral(practice=p, received_at=utc(2026, 1, 5, 9), triaged_at=utc(2026, 1, 6, 9))
    make_referral(practice=p, received_at=utc(2026, 1, 9, 9), triaged_at=utc(2026, 1, 16, 9))
    # Thu 24 Dec -> Wed 30 Dec: 29 and 30 are the only working days: 2
    make_referral(practice=p, received_at=utc(2026, 12, 24, 9), triaged_at=utc(2026, 12, 30, 9))
    make_referral(practice=p, received_at=utc(2026, 1, 12, 9))  # not triaged

    # Mon 5 -> Tue 6 Jan: 1; Fri 9 -> Fri 16 Jan: 5; Christmas: 2. Values 1, 2, 5.
    # Median: rank 1.5 -> 2nd -> 2; 90th percentile: rank 2.7 -> 3rd -> 5.
    assert kpis.time_to_triage(YEAR_2026) == Spread(3, 2.0, 5.0)
    # Only January: values 1, 5. Median rank 1 -> 1; 90th: rank 1.8 -> 5.
    assert kpis.time_to_triage(Scope(date(2026, 1, 1), date(2026, 1, 31))) == Spread(2, 1.0, 5.0)
    assert kpis.time_to_triage(EMPTY) == Spread(0, None, None)


# --- wellbeing ---------------------------------------------------------------------------


def _measure(referral, recorder, scale, stage, score, at, declined=False):
    if declined:
        answers = None
    elif scale == Scale.UCLA3:
        answers = [1, 1, 1]
    else:
        answers = [3] * 7
    return _save(
        MeasureResponse(
            referral_id=referral.id,
            scale=scale,
            stage=stage,
            answers=answers,
            score=None if declined else score,
            declined=declined,
            recorded_by_id=recorder.id,
            recorded_at=at,
        )
    )


def test_wellbeing_change(app):
    nav = make_user(Role.NAVIGATOR)
    p = make_practice()
    U, S = Scale.UCLA3, Scale.SWEMWBS
    B, R, C = Stage.BASELINE, Stage.REVIEW, Stage.CLOSING

    # r1: first baseline 7 (the later 9 ignored), last closing 4 (the earlier 5 ignored): -3.
    r1 = make_referral(practice=p, received_at=utc(2026, 7, 1))
    _measure(r1, nav, U, B, 7, utc(2026, 7, 2))
    _measure(r1, nav, U, B, 9, utc(2026, 7, 3))
    _measure(r1, nav, U, C, 5, utc(2026, 8, 1))
    _measure(r1, nav, U, C, 4, utc(2026, 8, 10))
    _measure(r1, nav, S, B, 20.0, utc(2026, 7, 2))
    _measure(r1, nav, S, C, 23.5, utc(2026, 8, 10))
    # r2: the first baseline was declined, so 6; the last closing was declined, so 6: 0.
    r2 = make_referral(practice=p, received_at=utc(2026, 7, 2))
    _measure(r2, nav, U, B, None, utc(2026, 7, 2), declined=True)
    _measure(r2, nav, U, B, 6, utc(2026, 7, 9))
    _measure(r2, nav, U, C, 6, utc(2026, 8, 1))
    _measure(r2, nav, U, C, None, utc(2026, 8, 5), declined=True)
    # r3: baseline 3, a review 9 (ignored), closing 5: +2 (worse on UCLA-3).
    r3 = make_referral(practice=p, received_at=utc(2026, 7, 3))
    _measure(r3, nav, U, B, 3, utc(2026, 7, 4))
    _measure(r3, nav, U, R, 9, utc(2026, 7, 20))
    _measure(r3, nav, U, C, 5, utc(2026, 8, 4))
    _measure(r3, nav, S, B, 25.0, utc(2026, 7, 4))
    _measure(r3, nav, S, C, 24.0, utc(2026, 8, 4))
    # r4: baseline only: not counted.
    r4 = make_referral(practice=p, received_at=utc(2026, 7, 4))
    _measure(r4, nav, U, B, 9, utc(2026, 7, 5))
    _measure(r4, nav, S, B, 14.0, utc(2026, 7, 5))
    # r5: referred in June: outside the scope.
    r5 = make_referral(practice=p, received_at=utc(2026, 6, 4))
    _measure(r5, nav, U, B, 9, utc(2026, 6, 5))
    _measure(r5, nav, U, C, 3, utc(2026, 7, 5))

    # UCLA-3: changes -3, 0, +2; mean -1/3 = -0.33; improved (lower) only r1: 1 of 3.
    ucla = kpis.wellbeing_change(JULY, U)
    assert ucla == WellbeingChange(U, 3, -0.33, 1)
    assert ucla.share_improved == 0.333
    # SWEMWBS: r1 +3.5, r3 -1.0; mean 2.5 / 2 = 1.25; improved (higher) r1: 1 of 2.
    swemwbs = kpis.wellbeing_change(JULY, S)
    assert swemwbs == WellbeingChange(S, 2, 1.25, 1)
    assert swemwbs.share_improved == 0.5
    # June: r5 alone, 9 -> 3: -6, improved.
    june = Scope(date(2026, 6, 1), date(2026, 6, 30))
    assert kpis.wellbeing_change(june, U) == WellbeingChange(U, 1, -6.0, 1)


def test_wellbeing_change_empty_range(app):
    for scale in (Scale.UCLA3, Scale.SWEMWBS):
        change = kpis.wellbeing_change(EMPTY, scale)
        assert change == WellbeingChange(scale, 0, None, 0)
        assert change.share_improved is None


def test_wellbeing_change_refuses_ons4(app):
    with pytest.raises(ValueError, match="ONS4"):
        kpis.wellbeing_change(JULY, Scale.ONS4)


# --- activity uptake ---------------------------------------------------------------------


def test_activity_uptake(app):
    nav = make_user(Role.NAVIGATOR)
    p = make_practice()
    alpha = make_organisation(name="Alpha Org")
    beta = make_organisation(name="Beta Org")
    choir = make_activity(alpha, title="Choir")
    walking = make_activity(alpha, title="Walking")
    art = make_activity(beta, title="Art")
    july = make_referral(practice=p, received_at=utc(2026, 7, 2))
    june = make_referral(practice=p, received_at=utc(2026, 6, 2))

    def send(referral, activity, status, **kw):
        _save(
            ActivityReferral(
                referral_id=referral.id,
                activity_id=activity.id,
                status=status,
                created_by_id=nav.id,
                **kw,
            )
        )

    St = ActivityReferralStatus
    for status in (St.SENT, St.ACCEPTED, St.ATTENDED, St.STOPPED, St.SUGGESTED):
        send(july, choir, status)
    send(july, choir, St.DECLINED, decline_reason="Full")
    send(july, walking, St.SUGGESTED)  # only a suggestion: Walking not listed
    send(july, art, St.ATTENDED)
    send(june, art, St.ATTENDED)  # June: outside

    # Choir: sent, accepted, attended, stopped, declined = 5 (suggestion left out);
    # taken up: accepted, attended, stopped = 3. Art: 1 sent, 1 taken up.
    assert kpis.activity_uptake(JULY) == [("Alpha Org", 5, 3), ("Beta Org", 1, 1)]
    assert kpis.activity_uptake(EMPTY) == []
