"""Expiry reminders: what is due, and one email per threshold that never repeats.

The dates are fixed: on 10 March 2025 a DBS issued on 9 May 2022 has 60 days left and a
12-month course completed on 9 April 2024 has 30.
"""

from __future__ import annotations

import socket
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.volunteers.compliance import Expiring
from portal.volunteers.models import (
    DbsLevel,
    LeftReason,
    ReminderSent,
    Volunteer,
    VolunteerStatus,
)
from portal.volunteers.reminders import (
    due_items,
    send_expiry_reminders,
    threshold_for,
    thresholds,
)
from tests.factories import make_training_module, make_training_record, make_volunteer

S = VolunteerStatus
TODAY = date(2025, 3, 10)
DBS_60_DAYS = date(2022, 5, 9)  # runs out 9 May 2025
COURSE_30_DAYS = date(2024, 4, 9)  # runs out 9 April 2025


def buddy(name: str, status: VolunteerStatus = S.ACTIVE, **kw) -> Volunteer:
    fields = {
        "role_buddy": True,
        "dbs_level": DbsLevel.ENHANCED,
        "dbs_certificate_number": "001234567890",
        "dbs_issue_date": date(2024, 6, 1),  # runs out in 2027
        "user_kw": {"full_name": name, "password": None},
        **kw,
    }
    if status == S.LEFT:
        fields.setdefault("left_reason", LeftReason.MOVED)
    return make_volunteer(status, **fields)


def rows() -> list[tuple]:
    return list(
        db.session.execute(
            sa.select(
                ReminderSent.volunteer_id,
                ReminderSent.subject,
                ReminderSent.expires_on,
                ReminderSent.threshold_days,
            ).order_by(ReminderSent.id)
        ).all()
    )


def send(app, day: date) -> int:
    with app.test_request_context():
        return send_expiry_reminders(day)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (365, None),
        (61, None),
        (60, 60),
        (45, 60),
        (31, 60),
        (30, 30),
        (8, 30),
        (7, 7),
        (1, 7),
        (0, 7),  # the last day it counts
        (-1, 0),
        (-400, 0),
    ],
)
def test_threshold_for(days_left, expected):
    assert threshold_for(days_left, [7, 30, 60]) == expected


def test_threshold_for_other_steps():
    assert threshold_for(14, [14]) == 14
    assert threshold_for(15, [14]) is None
    assert threshold_for(-1, []) == 0
    assert threshold_for(3, []) is None


def test_thresholds_come_from_the_config_smallest_first(app, monkeypatch):
    assert thresholds() == [7, 30, 60]
    monkeypatch.setitem(app.config, "EXPIRY_REMINDER_DAYS", (90, 14))
    assert thresholds() == [14, 90]


# --- what is due ----------------------------------------------------------------------------


def test_due_items_lists_dbs_and_training_for_active_and_paused_volunteers(app):
    course = make_training_module(name="First aid", valid_for_months=12)
    make_training_module(name="Induction", valid_for_months=None)
    alice = buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    make_training_record(alice, course, completed_on=COURSE_30_DAYS)
    buddy("Aaron Ash", dbs_issue_date=DBS_60_DAYS)  # same day as Alice: by name
    paused = buddy("Pat Paused", S.PAUSED, dbs_issue_date=date(2022, 3, 1))  # ran out 1 March
    make_training_record(paused, course, completed_on=date(2025, 1, 1))  # not due for a year
    buddy("Carl Current")  # nothing due
    for status in (S.APPLIED, S.VETTING, S.LEFT):
        lapsed = buddy(f"Not {status.value}", status, dbs_issue_date=date(2022, 3, 1))
        make_training_record(lapsed, course, completed_on=COURSE_30_DAYS)
    # A befriender needs no DBS, so theirs is nobody's concern.
    buddy("Bea Befriender", role_buddy=False, role_befriender=True, dbs_issue_date=DBS_60_DAYS)

    items = due_items(TODAY)

    assert [
        (d.volunteer.user.full_name, d.item, d.days_left, d.threshold, d.expired) for d in items
    ] == [
        ("Pat Paused", Expiring("dbs", "DBS check", date(2025, 3, 1)), -9, 0, True),
        (
            "Alice Able",
            Expiring(f"training:{course.id}", "First aid", date(2025, 4, 9)),
            30,
            30,
            False,
        ),
        ("Aaron Ash", Expiring("dbs", "DBS check", date(2025, 5, 9)), 60, 60, False),
        ("Alice Able", Expiring("dbs", "DBS check", date(2025, 5, 9)), 60, 60, False),
    ]


def test_nothing_is_due_more_than_the_largest_threshold_ahead(app):
    buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    assert due_items(TODAY - timedelta(days=1)) == []
    assert len(due_items(TODAY)) == 1


def test_an_inactive_course_is_not_due(app):
    course = make_training_module(name="Old course", valid_for_months=12, is_active=False)
    alice = buddy("Alice Able")
    make_training_record(alice, course, completed_on=COURSE_30_DAYS)
    assert due_items(TODAY) == []


# --- sending --------------------------------------------------------------------------------


def test_one_email_per_threshold_never_repeated(app, smtp_server):
    alice = buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    runs = [
        (TODAY, 1),  # 60 days left
        (TODAY, 0),  # the same day again
        (TODAY + timedelta(days=1), 0),  # 59 days: still the 60-day reminder
        (TODAY + timedelta(days=30), 1),  # 30 days left
        (TODAY + timedelta(days=40), 0),
        (TODAY + timedelta(days=53), 1),  # 7 days left
        (TODAY + timedelta(days=60), 0),  # the last day: still the 7-day reminder
        (TODAY + timedelta(days=61), 1),  # it has run out
        (TODAY + timedelta(days=62), 0),
        (TODAY + timedelta(days=200), 0),
    ]

    assert [send(app, day) for day, _ in runs] == [n for _, n in runs]

    assert rows() == [
        (alice.id, "dbs", date(2025, 5, 9), 60),
        (alice.id, "dbs", date(2025, 5, 9), 30),
        (alice.id, "dbs", date(2025, 5, 9), 7),
        (alice.id, "dbs", date(2025, 5, 9), 0),
    ]
    messages = smtp_server.messages
    assert [m["To"] for m in messages] == [alice.user.email] * 4
    assert [m["Subject"] for m in messages] == [
        "Your DBS check runs out on 9 May 2025",
        "Your DBS check runs out on 9 May 2025",
        "Your DBS check runs out on 9 May 2025",
        "Your DBS check has run out",
    ]
    bodies = [m.get_content() for m in messages]
    assert "Hello Alice Able," in bodies[0]
    for body, days in zip(bodies[:3], (60, 30, 7), strict=True):
        assert f"Your DBS check runs out on 9 May 2025, in {days} days." in body
    assert "Your DBS check ran out on 9 May 2025." in bodies[3]
    assert all("http://localhost/volunteering" in body for body in bodies)
    assert all(app.config["HUB_PHONE"] in body for body in bodies)


def test_each_thing_running_out_gets_its_own_email(app, smtp_server):
    course = make_training_module(name="First aid", valid_for_months=12)
    alice = buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    make_training_record(alice, course, completed_on=COURSE_30_DAYS)
    bob = buddy("Bob Brown", S.PAUSED, dbs_issue_date=DBS_60_DAYS)

    assert send(app, TODAY) == 3
    assert send(app, TODAY) == 0

    assert sorted((m["To"], m["Subject"]) for m in smtp_server.messages) == sorted(
        [
            (alice.user.email, "Your First aid runs out on 9 April 2025"),
            (alice.user.email, "Your DBS check runs out on 9 May 2025"),
            (bob.user.email, "Your DBS check runs out on 9 May 2025"),
        ]
    )
    assert sorted(rows()) == sorted(
        [
            (alice.id, f"training:{course.id}", date(2025, 4, 9), 30),
            (alice.id, "dbs", date(2025, 5, 9), 60),
            (bob.id, "dbs", date(2025, 5, 9), 60),
        ]
    )


def test_a_first_run_late_sends_only_the_current_reminder(app, smtp_server):
    buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    assert send(app, date(2025, 5, 4)) == 1  # 5 days left
    assert [r[3] for r in rows()] == [7]
    assert send(app, date(2025, 5, 9)) == 0


def test_a_renewed_check_is_reminded_afresh(app, smtp_server):
    alice = buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    assert send(app, TODAY) == 1
    alice.dbs_issue_date = date(2025, 3, 1)  # renewed: runs out 1 March 2028
    db.session.commit()
    assert send(app, TODAY) == 0
    assert send(app, date(2028, 1, 1)) == 1  # 60 days before the new date
    assert smtp_server.messages[-1]["Subject"] == "Your DBS check runs out on 1 March 2028"


def test_nobody_outside_active_and_paused_is_emailed(app, smtp_server):
    for status in (S.APPLIED, S.VETTING, S.LEFT):
        buddy(f"Not {status.value}", status, dbs_issue_date=DBS_60_DAYS)
    assert send(app, TODAY) == 0
    assert smtp_server.messages == []
    assert rows() == []


def test_a_mail_failure_leaves_nothing_recorded_so_the_next_run_retries(
    app, smtp_server, monkeypatch
):
    alice = buddy("Alice Able", dbs_issue_date=DBS_60_DAYS)
    real_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port())

    assert send(app, TODAY) == 0
    assert rows() == []
    assert smtp_server.messages == []

    monkeypatch.setitem(app.config, "MAIL_PORT", real_port)
    assert send(app, TODAY + timedelta(days=1)) == 1
    assert rows() == [(alice.id, "dbs", date(2025, 5, 9), 60)]
    assert [m["To"] for m in smtp_server.messages] == [alice.user.email]
