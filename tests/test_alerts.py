"""Alerts inside the portal: raising them, counting the unread, marking them read."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.alerts import service
from portal.alerts.models import Alert, AlertKind
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db
from tests.factories import make_referral
from tests.statements import statements_of


def ago(**kw) -> datetime:
    return utcnow() - timedelta(**kw)


def saved_alerts(user=None) -> list[Alert]:
    query = sa.select(Alert).order_by(Alert.id)
    if user is not None:
        query = query.where(Alert.user_id == user.id)
    return list(db.session.scalars(query))


def raise_alert(
    user,
    referral=None,
    *,
    read=False,
    created=None,
    kind=AlertKind.CASE_ASSIGNED,
    message="Something happened",
) -> Alert:
    alert = service.notify(user.id, referral, kind, message)
    if created is not None:
        alert.created_at = created
    if read:
        alert.read_at = utcnow()
    db.session.commit()
    return alert


# --- raising ------------------------------------------------------------------------------


def test_notify_saves_one_unread_alert_for_the_person(navigator):
    referral = make_referral()
    started = utcnow()

    alert = service.notify(navigator.id, referral, AlertKind.CASE_REOPENED, "Case back")
    db.session.commit()

    (stored,) = saved_alerts()
    assert stored.id == alert.id
    assert stored.user_id == navigator.id
    assert stored.referral_id == referral.id
    assert stored.kind == AlertKind.CASE_REOPENED
    assert stored.message == "Case back"
    assert stored.read_at is None
    assert started <= stored.created_at <= utcnow()


def test_notify_without_a_case(navigator):
    service.notify(navigator.id, None, AlertKind.BUDDY_CONCERN, "A buddy needs a call")
    db.session.commit()
    (stored,) = saved_alerts()
    assert stored.referral_id is None


def test_a_long_message_is_cut_to_fit(navigator):
    service.notify(navigator.id, None, AlertKind.ACTIVITY_DECLINED, "x" * 400)
    db.session.commit()
    (stored,) = saved_alerts()
    assert stored.message == "x" * 300


def test_notify_coordinators_tells_every_active_coordinator(make_user):
    first = make_user(Role.COORDINATOR)
    second = make_user(Role.COORDINATOR)
    make_user(Role.COORDINATOR, is_active=False)
    make_user(Role.ADMIN)
    make_user(Role.NAVIGATOR)
    referral = make_referral()

    made = service.notify_coordinators(referral, AlertKind.CONCERN_RAISED, "Concern")
    db.session.commit()

    assert sorted(a.user_id for a in made) == sorted([first.id, second.id])
    stored = saved_alerts()
    assert sorted(a.user_id for a in stored) == sorted([first.id, second.id])
    assert {(a.kind, a.referral_id, a.message) for a in stored} == {
        (AlertKind.CONCERN_RAISED, referral.id, "Concern")
    }


def test_notify_coordinators_with_none_active_tells_nobody(make_user):
    make_user(Role.COORDINATOR, is_active=False)
    assert service.notify_coordinators(None, AlertKind.CONCERN_RAISED, "Concern") == []
    db.session.commit()
    assert saved_alerts() == []


# --- counting and listing -----------------------------------------------------------------


def test_unread_count_counts_only_this_persons_unread_alerts(navigator, coordinator):
    referral = make_referral()
    raise_alert(navigator, referral)
    raise_alert(navigator)
    raise_alert(navigator, referral, read=True)
    raise_alert(coordinator, referral)

    assert service.unread_count(navigator.id) == 2
    assert service.unread_count(coordinator.id) == 1


def test_unread_count_is_zero_with_no_alerts(navigator):
    assert service.unread_count(navigator.id) == 0


def test_unread_for_case_lists_this_persons_unread_alerts_oldest_first(navigator, coordinator):
    referral = make_referral()
    elsewhere = make_referral()
    newer = raise_alert(navigator, referral, created=ago(hours=1))
    older = raise_alert(navigator, referral, created=ago(hours=5))
    raise_alert(navigator, referral, read=True, created=ago(hours=3))
    raise_alert(navigator, elsewhere)
    raise_alert(navigator)
    raise_alert(coordinator, referral)

    listed = service.unread_for_case(navigator.id, referral.id)

    assert [a.id for a in listed] == [older.id, newer.id]
    assert service.unread_for_case(coordinator.id, elsewhere.id) == []


# --- marking read -------------------------------------------------------------------------


def test_mark_read_for_one_case(navigator, coordinator):
    referral = make_referral()
    elsewhere = make_referral()
    raise_alert(navigator, referral)
    raise_alert(navigator, referral)
    other_case = raise_alert(navigator, elsewhere)
    theirs = raise_alert(coordinator, referral)
    started = utcnow()

    assert service.mark_read(navigator.id, referral_id=referral.id) == 2
    db.session.commit()
    db.session.expire_all()

    assert service.unread_count(navigator.id) == 1
    assert service.unread_for_case(navigator.id, referral.id) == []
    for alert in saved_alerts(navigator):
        if alert.referral_id == referral.id:
            assert started <= alert.read_at <= utcnow()
    assert db.session.get(Alert, other_case.id).read_at is None
    assert db.session.get(Alert, theirs.id).read_at is None


def test_mark_read_for_one_alert(navigator):
    first = raise_alert(navigator)
    second = raise_alert(navigator)

    assert service.mark_read(navigator.id, alert_id=first.id) == 1
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(Alert, first.id).read_at is not None
    assert db.session.get(Alert, second.id).read_at is None


def test_nobody_marks_someone_elses_alert_read(navigator, coordinator):
    theirs = raise_alert(coordinator)
    assert service.mark_read(navigator.id, alert_id=theirs.id) == 0
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Alert, theirs.id).read_at is None


def test_mark_read_for_everything_and_again(navigator, coordinator):
    referral = make_referral()
    raise_alert(navigator, referral)
    raise_alert(navigator)
    already = raise_alert(navigator, read=True)
    read_at = db.session.get(Alert, already.id).read_at
    raise_alert(coordinator)

    assert service.mark_read(navigator.id) == 2
    db.session.commit()
    assert service.mark_read(navigator.id) == 0
    db.session.commit()
    db.session.expire_all()

    assert service.unread_count(navigator.id) == 0
    assert service.unread_count(coordinator.id) == 1
    assert db.session.get(Alert, already.id).read_at == read_at


# --- the inbox ----------------------------------------------------------------------------


def test_the_inbox_sends_as_many_statements_for_many_alerts_as_for_one(
    app, navigator, logged_in_navigator
):
    """Each alert, and the case it names, is drawn from what the inbox read, not read again
    after the view's audit: more alerts must not mean more queries."""
    first = make_referral()
    raise_alert(navigator, first, created=ago(hours=9), message="First alert text")
    logged_in_navigator.get("/alerts")
    one_alert = statements_of(app, logged_in_navigator, "/alerts")

    references = [first.reference]
    messages = ["First alert text"]
    for n, kind in enumerate(
        (AlertKind.CASE_REOPENED, AlertKind.CONCERN_RAISED, AlertKind.ACTIVITY_DECLINED)
    ):
        referral = make_referral()
        raise_alert(
            navigator, referral, kind=kind, created=ago(hours=8 - n), message=f"Alert text {n}"
        )
        references.append(referral.reference)
        messages.append(f"Alert text {n}")
    raise_alert(
        navigator, kind=AlertKind.BUDDY_CONCERN, created=ago(hours=1), message="No case alert"
    )
    messages.append("No case alert")
    many_alerts = statements_of(app, logged_in_navigator, "/alerts")

    assert many_alerts == one_alert
    page = logged_in_navigator.get("/alerts").text
    for text in (*references, *messages, "Case reopened", "Safeguarding concern raised"):
        assert text in page
