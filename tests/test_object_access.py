"""Object-level access: another user of the same role never reaches someone else's record.

tests/test_access.py decides which *roles* may use each route. This file checks the
*objects*: for every route whose URL carries an object id, user B of the owner's role
asks for user A's object by GET, by POST and by htmx, and is refused (404 or 403) with
nothing changed in the database, no email sent and nothing recorded as seen. User A,
asking for the same address, gets a success, so no refusal here passes by accident.

"Owner" means the person or body the portal ties the object to: a navigator's case
(referral.navigator_id), a volunteer's buddy match, an organisation's activities and the
referrals sent to them, a GP practice's referrals and outcome reports. Coordinators and
admins work across the whole hub by design, so routes only they can reach have no "other
user of the same role" to refuse: they are listed in EXEMPT, each with its reason.

A new route with an `<int:...>` argument fails `test_every_object_route_is_in_the_table`
until it is added to OBJECT_ROUTES (with a factory) or to EXEMPT (with a reason).

Field-level checks at the end: a volunteer buddy never sees the resident's NHS number or
the reasons they were referred, on any page they can reach. A commissioner's 403 on every
person-level page is already tested in tests/dashboard/test_views.py
(test_a_commissioner_is_refused_every_person_level_page_and_export and
test_a_commissioner_can_change_nothing_about_a_person), so it is not repeated here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa
from flask import url_for

from portal.alerts.models import Alert, AlertKind
from portal.audit.models import AuditEvent
from portal.auth.models import Role, User
from portal.cases.models import Contact, Goal
from portal.db_types import london_today, utcnow
from portal.directory import activity_referrals
from portal.directory.models import Activity, ActivityReferral, Frequency, Organisation
from portal.extensions import db
from portal.form_fields import utc_to_local_input
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Practice,
    Referral,
    ReferralReason,
    ReferralStatus,
    Route,
)
from portal.reports import delivery
from portal.reports.models import OutcomeReport
from portal.reports.periods import Period, london_date
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    HoursKind,
    Volunteer,
    VolunteerHours,
)
from tests.directory.test_org_views import activity_form
from tests.factories import (
    PASSWORD,
    make_activity,
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_goal,
    make_organisation,
    make_referral,
    make_resident,
    make_training_module,
    make_training_record,
    make_user,
    valid_nhs_number,
)

# Every page rendered here is also checked against the NHS.UK macros without the cache.
pytestmark = pytest.mark.usefixtures("components_match_their_macros")

A, C, N, V, ORG, P = (
    Role.ADMIN,
    Role.COORDINATOR,
    Role.NAVIGATOR,
    Role.VOLUNTEER,
    Role.ORGANISATION_MEMBER,
    Role.PRACTICE_USER,
)
HUB_STAFF = frozenset({A, C})
HTMX = {"HX-Request": "true"}
REFUSED = (403, 404)
# The owner's resident: a name that must never reach the intruder.
SECRET_GIVEN, SECRET_FAMILY = "Ottoline", "Quarrender"
# Tables a refused request may still write to: the audit trail (a 403 is audited, see
# test_access.test_a_403_is_audited) and the rate limiter's counters. Everything else
# must be byte-for-byte the same after the intruder's requests.
MAY_CHANGE_ON_REFUSAL = {"audit_events", "rate_limit_counters"}


# --- browsers ---------------------------------------------------------------------------------


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Browser:
    """One person's browser, with CSRF protection on as in production.

    POSTs carry a real token (the form field, or the X-CSRFToken header as htmx sends
    it), so a refusal comes from the ownership check and not from CSRF: a CSRF failure
    is a 400, which the assertions here would not accept anyway.
    """

    def __init__(self, app, user: User):
        self.user = user
        self.client = app.test_client()
        token = _csrf_token(self.client.get("/login").text)
        response = self.client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, "test login failed"
        # Logging in starts a new session, so the token is taken again afterwards.
        self.token = _csrf_token(self.client.get("/account/password").text)

    def get(self, url: str, htmx: bool = False):
        return self.client.get(url, headers=HTMX if htmx else {})

    def post(self, url: str, data: dict | None = None, htmx: bool = False):
        if htmx:
            headers = {**HTMX, "X-CSRFToken": self.token}
            return self.client.post(url, data=dict(data or {}), headers=headers)
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token})


# --- what the database holds ------------------------------------------------------------------


def row_of(model, key) -> dict:
    """The object's row as the database has it now (read outside the test's session)."""
    table = model.__table__
    (pk,) = table.primary_key.columns
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.select(table).where(pk == key)).mappings().one())


def database() -> dict[str, list]:
    """Every row of every table a refused request must not touch."""
    with db.engine.connect() as conn:
        return {
            table.name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
            for table in db.metadata.sorted_tables
            if table.name not in MAY_CHANGE_ON_REFUSAL
        }


def audit_actions(actor: User) -> list[str]:
    with db.engine.connect() as conn:
        return list(
            conn.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.actor_id == actor.id)
                .order_by(AuditEvent.id)
            )
        )


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def volunteer_of(user: User) -> Volunteer:
    return db.session.scalar(sa.select(Volunteer).where(Volunteer.user_id == user.id))


# --- objects owned by someone -----------------------------------------------------------------


def when(hours_ago: float) -> str:
    """A time as a person types it into the datetime-local box (UK wall clock)."""
    return utc_to_local_input(utcnow() - timedelta(hours=hours_ago))


def a_case(navigator: User, secret: bool = True, **kw) -> Referral:
    """An open case being supported by `navigator`."""
    now = utcnow()
    resident = kw.pop("resident", None) or (
        make_resident(given_name=SECRET_GIVEN, family_name=SECRET_FAMILY, phone="07700 900 321")
        if secret
        else make_resident()
    )
    fields = {
        "resident": resident,
        "status": ReferralStatus.ACTIVE,
        "navigator_id": navigator.id,
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 1,
        "received_at": now - timedelta(days=10),
        "triaged_at": now - timedelta(days=10) + timedelta(hours=2),
        "assigned_at": now - timedelta(days=10) + timedelta(hours=3),
        "first_contact_at": now - timedelta(days=9),
        **kw,
    }
    return make_referral(**fields)


def a_listed_activity(organisation=None, **kw) -> Activity:
    """A published activity of a verified organisation, fresh, taking referrals."""
    fields = {
        "title": "Tuesday walk",
        "description": "A walk round the park.",
        "categories": ["physical_activity"],
        "frequency": Frequency.WEEKLY,
        "days": [1],
        "start_time": time(10, 0),
        "end_time": time(11, 0),
        "venue_name": "Park gates",
        "postcode": "CV3 6PT",
        "last_confirmed_on": london_today(),
        **kw,
    }
    return make_activity(organisation or make_organisation(), **fields)


def a_sent_referral(activity: Activity, navigator: User | None = None) -> ActivityReferral:
    """The owner's resident referred to `activity`, through the domain function."""
    navigator = navigator or make_user(N)
    link = activity_referrals.refer(
        a_case(navigator),
        activity,
        navigator,
        activity_referrals.SharedDetails(phone=True, email=False, age=True, note="Likes tea"),
        london_today(),
    )
    db.session.commit()
    return link


def an_accepted_referral(activity: Activity, member: User) -> ActivityReferral:
    link = a_sent_referral(activity)
    activity_referrals.accept(link, member)
    db.session.commit()
    return link


def a_match(volunteer_user: User, status=BuddyMatchStatus.ACTIVE) -> BuddyMatch:
    navigator = make_user(N)
    extra = {"responded_at": None} if status == BuddyMatchStatus.PROPOSED else {}
    return make_buddy_match(
        a_case(navigator), volunteer_of(volunteer_user), navigator, status=status, **extra
    )


def a_report(practice_user: User) -> OutcomeReport:
    """An outcome report for the user's practice, made the way the scheduler makes one."""
    practice = db.session.get(Practice, practice_user.practice_id)
    referral = a_case(make_user(N), practice=practice)
    workflow.close(referral, workflow.Actor.of(make_user(C)), ClosureReason.MOVED_AWAY, None)
    db.session.commit()
    today = london_date(utcnow())
    report = delivery.claim(
        practice, Period(today - timedelta(days=7), today), now=utcnow() + timedelta(seconds=1)
    )
    assert report is not None and report.people == 1
    return report


def contact_form(**changes) -> dict:
    return {
        "occurred_at": when(1),
        "method": "phone",
        "result": "spoke",
        "duration_minutes": "25",
        "notes": "Talked about the walking group",
        **changes,
    }


def date_typed(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}[day]": str(day.day),
        f"{name}[month]": str(day.month),
        f"{name}[year]": str(day.year),
    }


# --- the table --------------------------------------------------------------------------------


@dataclass
class Scene:
    """User A's object, ready to be asked for."""

    ids: dict  # url_for values that name the owner's object
    row: tuple  # (model, primary key): the row that must not change
    secret: str = SECRET_GIVEN  # shown to the owner, never to the intruder
    data: dict = field(default_factory=dict)  # a valid form: the owner's own POST succeeds
    view: tuple | None = None  # (endpoint, ids): the owner's page for a POST-only route
    mixed: dict | None = None  # the intruder's own parent id with the owner's child id
    owner_sees_secret: bool = True  # False for downloads (PDF, CSV, JSON)


@dataclass(frozen=True)
class ObjectRoute:
    owner: Role
    make: Callable[[User, User], Scene]  # (owner, intruder) -> the owner's object
    methods: tuple[str, ...]


# Navigator-owned: a case (referral) and everything on it.


def _case(owner, intruder):
    referral = a_case(owner)
    return Scene({"referral_id": referral.id}, (Referral, referral.id))


def _case_post(data: dict) -> Callable[[User, User], Scene]:
    def make(owner, intruder):
        referral = a_case(owner)
        return Scene(
            {"referral_id": referral.id},
            (Referral, referral.id),
            data=data,
            view=("cases.case", {"referral_id": referral.id}),
        )

    return make


def _read_alerts(owner, intruder):
    referral = a_case(owner)
    for user in (owner, intruder):  # the intruder once had an alert on this case too
        db.session.add(
            Alert(
                user_id=user.id, referral_id=referral.id, kind=AlertKind.CASE_ASSIGNED, message="x"
            )
        )
    db.session.commit()
    theirs = db.session.scalar(sa.select(Alert).where(Alert.user_id == intruder.id))
    return Scene(
        {"referral_id": referral.id},
        (Alert, theirs.id),
        view=("cases.case", {"referral_id": referral.id}),
    )


def _edit_contact(owner, intruder):
    referral = a_case(owner)
    contact = make_contact(referral, owner, days_ago=0, notes="Owner's note")
    return Scene(
        {"referral_id": referral.id, "contact_id": contact.id},
        (Contact, contact.id),
        data=contact_form(notes="Corrected note", version=str(contact.version)),
        mixed={"referral_id": a_case(intruder, secret=False).id, "contact_id": contact.id},
    )


def _change_goal(owner, intruder):
    referral = a_case(owner)
    goal = make_goal(referral, owner)
    return Scene(
        {"referral_id": referral.id, "goal_id": goal.id},
        (Goal, goal.id),
        data={"status": "achieved", "version": str(goal.version)},
        view=("cases.case", {"referral_id": referral.id}),
        mixed={"referral_id": a_case(intruder, secret=False).id, "goal_id": goal.id},
    )


def _record_measure(owner, intruder):
    referral = a_case(owner)
    return Scene(
        {"referral_id": referral.id, "scale": "ucla3"},
        (Referral, referral.id),
        data={"stage": "baseline", "item_0": "2", "item_1": "2", "item_2": "2"},
    )


def _close(owner, intruder):
    referral = a_case(owner)
    return Scene(
        {"referral_id": referral.id},
        (Referral, referral.id),
        data={
            "reason": ClosureReason.MOVED_AWAY.value,
            "summary": "Moved to be near family",
            "version": str(referral.version),
            "closing_measures_declined": "y",
        },
    )


def _plan_pdf(owner, intruder):
    scene = _case(owner, intruder)
    scene.owner_sees_secret = False
    return scene


def _propose_buddy(owner, intruder):
    referral = a_case(owner)
    volunteer = make_compliant_volunteer()
    return Scene(
        {"referral_id": referral.id},
        (Referral, referral.id),
        data={"volunteer_id": str(volunteer.id)},
    )


def _end_buddy(owner, intruder):
    referral = a_case(owner)
    match = make_buddy_match(referral, make_compliant_volunteer(), owner)
    return Scene(
        {"referral_id": referral.id, "match_id": match.id},
        (BuddyMatch, match.id),
        data={"reason": "Harold would rather go alone"},
        view=("cases.case", {"referral_id": referral.id}),
        mixed={"referral_id": a_case(intruder, secret=False).id, "match_id": match.id},
    )


def _preferences(owner, intruder):
    referral = a_case(owner)
    return Scene(
        {"referral_id": referral.id},
        (Referral, referral.id),
        data={
            "version": str(referral.version),
            "wants_buddy": "y",
            "preferred_buddy_gender": "",
            "availability": ["mon_morning"],
            "interests": ["walking"],
        },
    )


def _refer(owner, intruder):
    referral = a_case(owner)
    activity = a_listed_activity()
    return Scene(
        {"referral_id": referral.id, "activity_id": activity.id},
        (Referral, referral.id),
        data={"consent": "y", "share_phone": "y"},
    )


def _signpost(owner, intruder):
    scene = _refer(owner, intruder)
    scene.data = {}
    scene.view = ("cases.case", {"referral_id": scene.ids["referral_id"]})
    return scene


def _withdraw(owner, intruder):
    activity = a_listed_activity()
    link = a_sent_referral(activity, owner)
    return Scene(
        {"referral_id": link.referral_id, "link_id": link.id},
        (ActivityReferral, link.id),
        data={"reason": "She found another group"},
        view=("cases.case", {"referral_id": link.referral_id}),
        mixed={"referral_id": a_case(intruder, secret=False).id, "link_id": link.id},
    )


# Volunteer-owned: a buddy match (proposed to them, or active).


def _buddy(status: BuddyMatchStatus, data: dict | None = None, post_only: bool = True):
    def make(owner, intruder):
        match = a_match(owner, status)
        return Scene(
            {"match_id": match.id},
            (BuddyMatch, match.id),
            data=data or {},
            view=("volunteers.buddy", {"match_id": match.id}) if post_only else None,
        )

    return make


# Organisation-owned: its activities, and the referrals sent to them.


def _activity(data: Callable[[Activity], dict], **kw):
    def make(owner, intruder):
        organisation = db.session.get(Organisation, owner.organisation_id)
        activity = a_listed_activity(organisation, title="Quarrender walk", **kw)
        return Scene(
            {"activity_id": activity.id},
            (Activity, activity.id),
            secret="Quarrender walk",
            data=data(activity),
            view=("directory.edit_activity", {"activity_id": activity.id}),
        )

    return make


def _incoming(accepted: bool, data: Callable[[ActivityReferral], dict] | None = None):
    def make(owner, intruder):
        activity = a_listed_activity(db.session.get(Organisation, owner.organisation_id))
        link = an_accepted_referral(activity, owner) if accepted else a_sent_referral(activity)
        return Scene(
            {"link_id": link.id},
            (ActivityReferral, link.id),
            data=data(link) if data else {},
            view=("directory.incoming_referral", {"link_id": link.id}) if data else None,
        )

    return make


# Practice-owned: its referrals and its outcome reports.


def _practice_referral(data: dict | None = None):
    def make(owner, intruder):
        referral = make_referral(
            practice=db.session.get(Practice, owner.practice_id),
            resident=make_resident(given_name=SECRET_GIVEN, family_name=SECRET_FAMILY),
        )
        return Scene(
            {"referral_id": referral.id},
            (Referral, referral.id),
            data=data or {},
            view=("referrals.practice_referral", {"referral_id": referral.id}) if data else None,
        )

    return make


def _report(download: bool = False, post: bool = False):
    def make(owner, intruder):
        report = a_report(owner)
        return Scene(
            {"report_id": report.id},
            (OutcomeReport, report.id),
            view=("reports.practice_report", {"report_id": report.id}) if post else None,
            owner_sees_secret=not download,
        )

    return make


GET, POST, BOTH = ("GET",), ("POST",), ("GET", "POST")

# Routes whose POST reads and changes nothing: "Why not someone else?" is posted so that the
# name typed stays out of the address (portal/searches.py).
POSTED_LOOKUPS = frozenset({"matching.buddies", "matching.activities"})

OBJECT_ROUTES: dict[str, ObjectRoute] = {
    # A navigator's case. Coordinators and admins may open any case (work.may_work_on).
    "cases.case": ObjectRoute(N, _case, GET),
    "cases.read_alerts": ObjectRoute(N, _read_alerts, POST),
    "cases.log_contact": ObjectRoute(N, _case_post(contact_form()), POST),
    "cases.edit_contact": ObjectRoute(N, _edit_contact, BOTH),
    "cases.add_goal": ObjectRoute(N, _case_post({"description": "Join the choir"}), POST),
    "cases.change_goal": ObjectRoute(N, _change_goal, POST),
    "cases.record_measure": ObjectRoute(N, _record_measure, BOTH),
    "cases.close": ObjectRoute(N, _close, BOTH),
    "cases.withdraw_consent": ObjectRoute(
        N, _case_post({"note": "Rang the hub to say no more sharing"}), BOTH
    ),
    "cases.plan": ObjectRoute(N, _case, GET),
    "cases.plan_pdf": ObjectRoute(N, _plan_pdf, GET),
    "cases.propose_buddy": ObjectRoute(N, _propose_buddy, BOTH),
    "cases.end_buddy": ObjectRoute(N, _end_buddy, POST),
    "matching.buddies": ObjectRoute(N, _case, BOTH),
    "matching.activities": ObjectRoute(N, _case, BOTH),
    "matching.preferences": ObjectRoute(N, _preferences, BOTH),
    "case_activities.refer": ObjectRoute(N, _refer, BOTH),
    "case_activities.signpost": ObjectRoute(N, _signpost, POST),
    "case_activities.withdraw": ObjectRoute(N, _withdraw, POST),
    # A volunteer's buddy matches.
    "volunteers.buddy": ObjectRoute(V, _buddy(BuddyMatchStatus.ACTIVE, post_only=False), GET),
    "volunteers.accept": ObjectRoute(V, _buddy(BuddyMatchStatus.PROPOSED), POST),
    "volunteers.decline": ObjectRoute(
        V, _buddy(BuddyMatchStatus.PROPOSED, {"reason": "I am away all summer"}), POST
    ),
    "volunteers.log_contact": ObjectRoute(
        V,
        _buddy(
            BuddyMatchStatus.ACTIVE,
            {
                "occurred_at": when(2),
                "method": "home_visit",
                "duration_minutes": "60",
                "notes": "We walked to the park",
            },
        ),
        POST,
    ),
    # An organisation's activities (hub staff may edit any) and the referrals sent to it.
    "directory.edit_activity": ObjectRoute(
        ORG, _activity(lambda a: activity_form(version=str(a.version))), BOTH
    ),
    "directory.change_activity_status": ObjectRoute(
        ORG, _activity(lambda a: {"status": "paused", "version": str(a.version)}), POST
    ),
    "directory.confirm_activity": ObjectRoute(
        ORG, _activity(lambda a: {}, last_confirmed_on=london_today() - timedelta(days=200)), POST
    ),
    "directory.incoming_referral": ObjectRoute(ORG, _incoming(accepted=False), GET),
    "directory.accept_referral": ObjectRoute(
        ORG, _incoming(False, lambda link: {"version": str(link.version)}), POST
    ),
    "directory.decline_referral": ObjectRoute(
        ORG,
        _incoming(False, lambda link: {"reason": "No room", "version": str(link.version)}),
        POST,
    ),
    "directory.record_attendance": ObjectRoute(
        ORG,
        _incoming(
            True, lambda link: {**date_typed("session_on", london_today()), "attended": "yes"}
        ),
        POST,
    ),
    "directory.stop_referral": ObjectRoute(
        ORG, _incoming(True, lambda link: {"reason": "Moved away"}), POST
    ),
    # A GP practice's referrals and outcome reports (hub staff read any report).
    "referrals.practice_referral": ObjectRoute(P, _practice_referral(), GET),
    "referrals.add_information": ObjectRoute(
        P, _practice_referral({"text": "New phone number: 07700 900 999"}), POST
    ),
    "reports.practice_report": ObjectRoute(P, _report(), GET),
    "reports.mark_read": ObjectRoute(P, _report(post=True), POST),
    "reports.report_pdf": ObjectRoute(P, _report(download=True), GET),
    "reports.report_csv": ObjectRoute(P, _report(download=True), GET),
    "reports.report_json": ObjectRoute(P, _report(download=True), GET),
}

# Routes with an object id that only hub staff (coordinators, admins) or admins can reach.
# Hub staff work on every record in the hub by design, so there is no "other user of the
# same role" to refuse; test_access.py checks every other role gets 403 on them.
EXEMPT: dict[str, str] = {
    "auth.resend_invite": "admin only: admins manage every user account",
    "auth.set_active": "admin only: admins manage every user account",
    "auth.reset_mfa": "admin only: admins reset anyone's lost two-step login",
    "audit.resident_trail": "admin only: who looked at any resident's records",
    "audit.volunteer_trail": "admin only: who looked at any volunteer's records",
    "audit.export_csv": "admin only: the audit trail about anyone, as CSV",
    "governance.resident_json": "admin only: subject access export for any resident",
    "governance.resident_pdf": "admin only: subject access export for any resident",
    "governance.volunteer_json": "admin only: subject access export for any volunteer",
    "governance.volunteer_pdf": "admin only: subject access export for any volunteer",
    "referrals.referral": "hub staff only: the triage page for any incoming referral",
    "referrals.record_attempt": "hub staff only: contact attempts at triage, any referral",
    "referrals.triage": "hub staff only: triage decides any referral's route",
    "referrals.close": "hub staff only: closing a referral at triage",
    "referrals.edit": "hub staff only: correcting any referral's details",
    "cases.reopen": "hub staff only: reopening any closed case",
    "cases.reassign": "hub staff only: handing any case to another navigator",
    "matching.navigators": "hub staff only: navigator suggestions at triage, any referral",
    "matching.navigator_profile": "hub staff only: any navigator's matching profile",
    "volunteer_hub.volunteer": "hub staff only: any volunteer's record",
    "volunteer_hub.change_status": "hub staff only: any volunteer's status",
    "volunteer_hub.references": "hub staff only: any volunteer's references",
    "volunteer_hub.dbs": "hub staff only: any volunteer's DBS check",
    "volunteer_hub.record_training": "hub staff only: training records for any volunteer",
    "volunteer_hub.resend_link": "hub staff only: any volunteer's login link",
    "volunteer_hub.edit_training_module": "admin only: the hub-wide list of courses",
    "directory_hub.organisation": "hub staff only: any organisation's record",
    "directory_hub.verify": "hub staff only: verifying any organisation",
    "directory_hub.new_activity": "hub staff only: adding an activity for any organisation",
    "directory_hub.confirm_import": "hub staff only: any CSV import of activities",
    "reports.admin_practice": "admin only: any practice's report settings",
    "reports.admin_preview": "admin only: previewing any practice's next report",
    "reports.admin_send_now": "admin only: sending any practice's report now",
    "reports.admin_resend": "admin only: resending any report",
}


# Pages and actions on these routes are not a view or change of a person's record, so the
# owner's request need not leave an audit row (every other route's must).
NOT_A_PERSONS_RECORD: dict[str, str] = {
    "directory.edit_activity": "an activity listing: public information, not a person",
    "cases.read_alerts": "marks the user's own alerts read; the record is unchanged",
}


def _id_rules(app) -> dict[str, object]:
    """Endpoint -> rule, for every rule whose URL takes an integer id."""
    return {r.endpoint: r for r in app.url_map.iter_rules() if "<int:" in r.rule}


def test_every_object_route_is_in_the_table(app):
    rules = _id_rules(app)
    missing = sorted(set(rules) - set(OBJECT_ROUTES) - set(EXEMPT))
    assert missing == [], (
        f"add to OBJECT_ROUTES (with a factory) or EXEMPT (with a reason): {missing}"
    )
    stale = sorted((set(OBJECT_ROUTES) | set(EXEMPT)) - set(rules))
    assert stale == [], f"no such route with an id any more: {stale}"
    assert set(OBJECT_ROUTES).isdisjoint(EXEMPT)
    for endpoint, reason in EXEMPT.items():
        roles = app.view_functions[endpoint].allowed_roles
        # The exemption holds only while nobody outside the hub's staff can reach it.
        assert roles <= HUB_STAFF, f"{endpoint} is reachable by {sorted(roles)}: not exempt"
        assert reason.strip(), endpoint
    for endpoint, route in OBJECT_ROUTES.items():
        assert route.owner in app.view_functions[endpoint].allowed_roles, endpoint
        # Every method the route answers is tried, so none is left unchecked.
        assert set(route.methods) == set(rules[endpoint].methods) - {"HEAD", "OPTIONS"}, endpoint


# --- the test ---------------------------------------------------------------------------------


def _person(role: Role) -> User:
    # Volunteers are compliant so the owner's own accept succeeds; practice users and
    # organisation members each get a practice or organisation of their own.
    return make_compliant_volunteer().user if role == V else make_user(role)


def _url(app, endpoint: str, ids: dict) -> str:
    with app.test_request_context():
        return url_for(endpoint, **ids)


@pytest.mark.parametrize("endpoint", sorted(OBJECT_ROUTES))
def test_another_user_of_the_same_role_is_refused_and_nothing_changes(
    app, csrf_app, smtp_server, endpoint
):
    route = OBJECT_ROUTES[endpoint]
    owner, intruder = _person(route.owner), _person(route.owner)
    scene = route.make(owner, intruder)
    url = _url(app, endpoint, scene.ids)
    urls = [url] + ([_url(app, endpoint, scene.mixed)] if scene.mixed else [])
    model, key = scene.row
    owner_browser, intruder_browser = Browser(app, owner), Browser(app, intruder)
    row_before, everything_before = row_of(model, key), database()
    audited_before = len(audit_actions(intruder))

    answers = {}
    for target in urls:
        for htmx in (False, True):
            if "GET" in route.methods:
                answers[("GET", target, htmx)] = intruder_browser.get(target, htmx)
            if "POST" in route.methods:
                answers[("POST", target, htmx)] = intruder_browser.post(target, scene.data, htmx)

    for (method, target, htmx), response in answers.items():
        where = f"{intruder.role.value} {method} {target} htmx={htmx} -> {response.status_code}"
        assert response.status_code in REFUSED, where
        assert scene.secret not in response.get_data(as_text=True), where
    assert row_of(model, key) == row_before
    assert database() == everything_before
    assert smtp_server.messages == []
    # A refusal may leave a "forbidden" trail; never "viewed", "exported" or "changed".
    assert set(audit_actions(intruder)[audited_before:]) <= {"forbidden"}

    # The same address works for the owner: the refusals above are about who asks.
    endpoint_view, view_ids = scene.view or (endpoint, scene.ids)
    audited = len(audit_actions(owner))
    shown = owner_browser.get(_url(app, endpoint_view, view_ids))
    assert shown.status_code == 200, f"owner GET {endpoint_view} -> {shown.status_code}"
    # Every view of the record is in the audit log, with who looked (issue 10).
    if endpoint_view not in NOT_A_PERSONS_RECORD:
        assert len(audit_actions(owner)) > audited, f"owner GET {endpoint_view} wrote no audit row"
    if scene.owner_sees_secret:
        assert scene.secret in text_of(shown.get_data(as_text=True))
    else:
        assert len(shown.data) > 0
    if "POST" in route.methods:
        audited = len(audit_actions(owner))
        done = owner_browser.post(url, scene.data)
        assert done.status_code in (200, 302), f"owner POST {url} -> {done.status_code}"
        # ...and so is every change.
        if endpoint not in NOT_A_PERSONS_RECORD:
            assert len(audit_actions(owner)) > audited, f"owner POST {url} wrote no audit row"
        # The form the intruder sent does something when the owner sends it (a look-up,
        # posted only to keep the name typed out of the address, changes nothing).
        if endpoint not in POSTED_LOOKUPS:
            assert database() != everything_before, f"owner POST {url} changed nothing"


# --- ids in a form rather than the URL --------------------------------------------------------


def test_an_alert_named_in_the_form_is_marked_read_only_for_its_own_user(app, csrf_app):
    owner, intruder = make_user(N), make_user(N)
    referral = a_case(owner)
    alert = Alert(
        user_id=owner.id,
        referral_id=referral.id,
        kind=AlertKind.CASE_ASSIGNED,
        message="Ottoline's case is yours",
    )
    db.session.add(alert)
    db.session.commit()
    before = row_of(Alert, alert.id)

    for htmx in (False, True):
        response = Browser(app, intruder).post("/alerts/read", {"alert_id": str(alert.id)}, htmx)
        assert response.status_code == 302
    assert row_of(Alert, alert.id) == before

    # Still unread, so still in the owner's inbox.
    assert "Ottoline's case is yours" in text_of(Browser(app, owner).get("/alerts").text)


# --- records whose owner is implied by the login (no id in the URL) ---------------------------


def test_a_volunteer_sees_only_their_own_hours_and_training(app, csrf_app):
    mine, theirs = make_compliant_volunteer(), make_compliant_volunteer()
    # An optional course: listed only for a volunteer who has a record of it.
    module = make_training_module(name="Dementia friends", required_for_buddy=False)
    done_on = london_today() - timedelta(days=123)
    make_training_record(theirs, module, completed_on=done_on, trainer="Trainer Quarrender")
    db.session.add(
        VolunteerHours(
            volunteer_id=theirs.id,
            worked_on=london_today() - timedelta(days=3),
            kind=HoursKind.TRAINING,
            minutes=95,
            notes="Ottoline's hours note",
        )
    )
    db.session.commit()
    shown_date = app.jinja_env.filters["date"](done_on)
    pages = ("/volunteering", "/volunteering/hours", "/volunteering/profile")

    for path in pages:
        for htmx in (False, True):
            page = text_of(Browser(app, mine.user).get(path, htmx).text)
            assert "Ottoline's hours note" not in page, path
            assert shown_date not in page and "Dementia friends" not in page, path
    # The other volunteer sees both, so the check above is not empty.
    owner = Browser(app, theirs.user)
    assert "Ottoline's hours note" in text_of(owner.get("/volunteering/hours").text)
    start_page = text_of(owner.get("/volunteering").text)
    assert "Dementia friends" in start_page and shown_date in start_page


# --- field level: what a volunteer buddy never sees -------------------------------------------

NHS, NHS_2 = valid_nhs_number(7311), valid_nhs_number(7312)
NHS_LABEL = "NHS number"
REASONS = (
    ReferralReason.BEREAVEMENT,
    ReferralReason.MONEY,
    ReferralReason.CARER_SUPPORT,
    ReferralReason.LOW_MOOD,
    ReferralReason.LONG_TERM_CONDITION,
)
CASE_NOTES = {
    "details": "Widowed in March; rent arrears; GP worried about self-neglect",
    "known_risks": "Son can be aggressive to visitors",
    "triage_note": "Triage: bereavement counselling declined",
}
NEVER_SHOWN_TO_A_BUDDY = (
    *(n for number in (NHS, NHS_2) for n in (number, f"{number[:3]} {number[3:6]} {number[6:]}")),
    NHS_LABEL,
    *(r.label for r in REASONS),
    *CASE_NOTES.values(),
)


def _buddy_case(navigator: User, given: str, nhs_number: str | None) -> Referral:
    resident = make_resident(given_name=given, family_name=SECRET_FAMILY, nhs_number=nhs_number)
    return a_case(navigator, resident=resident, reasons=REASONS, **CASE_NOTES)


def _volunteer_get_routes(app, values: dict[str, list]) -> list[tuple[str, bool]]:
    """(path, is public) for every page a volunteer may open, arguments filled from values."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        roles = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
        if roles is None and rule.arguments:
            continue  # public pages taking a token or an activity's uuid: no resident on them
        if roles is not None and V not in roles:
            continue
        unknown = set(rule.arguments) - set(values)
        assert not unknown, f"teach this test how to fill {unknown} in {rule.rule}"
        combos = [{}]
        for arg in rule.arguments:
            combos = [{**c, arg: v} for c in combos for v in values[arg]]
        paths += [(_url(app, rule.endpoint, c), roles is None) for c in combos]
    return sorted(paths)


def test_a_volunteer_buddy_never_sees_the_nhs_number_or_why_the_person_was_referred(
    app, csrf_app, smtp_server
):
    navigator = make_user(N)
    vic = make_compliant_volunteer()
    harold = _buddy_case(navigator, "Harold", NHS)
    make_goal(harold, navigator, description="Walk to the park on his own")
    active = make_buddy_match(harold, vic, navigator)
    # A proposal made the way a navigator makes one, so the email it sends is checked too.
    maureen = _buddy_case(navigator, "Maureen", NHS_2)
    proposed = Browser(app, navigator).post(
        f"/cases/{maureen.id}/buddies/new", {"volunteer_id": str(vic.id)}
    )
    assert proposed.status_code == 302
    proposal = db.session.scalar(
        sa.select(BuddyMatch).where(BuddyMatch.status == BuddyMatchStatus.PROPOSED)
    )
    assert proposal is not None and proposal.volunteer_id == vic.id
    seen: dict[str, str] = {
        f"email to {m['To']}": m.get_body(("plain", "html")).get_content()
        for m in smtp_server.messages
    }
    assert seen, "the proposal sent no email"

    browser = Browser(app, vic.user)
    paths = _volunteer_get_routes(app, {"match_id": [active.id, proposal.id]})
    assert (f"/volunteering/buddies/{active.id}", False) in paths
    public: set[str] = set()
    for path, is_public in paths:
        for htmx in (False, True):
            response = browser.get(path, htmx)
            assert response.status_code < 500, path
            seen[f"GET {path} htmx={htmx}"] = response.get_data(as_text=True)
            if is_public:
                public.add(f"GET {path} htmx={htmx}")
    # Forms that come back with an error draw the person's page again.
    bad_contact = {"occurred_at": when(2), "method": "home_visit", "duration_minutes": "-5"}
    for htmx in (False, True):
        response = browser.post(f"/volunteering/buddies/{active.id}/contacts", bad_contact, htmx)
        assert response.status_code == 400
        seen[f"POST contact htmx={htmx}"] = response.text
        response = browser.post(
            f"/volunteering/buddies/{proposal.id}/decline", {"reason": "x" * 501}, htmx
        )
        assert response.status_code == 400
        seen[f"POST decline htmx={htmx}"] = response.text
    # Saying yes, and the page it leads to.
    accepted = browser.post(f"/volunteering/buddies/{proposal.id}/accept")
    assert accepted.status_code == 302
    seen["after accepting"] = browser.get(accepted.headers["Location"]).text

    # Not vacuous: the buddy does see the person's first name and the open goal.
    assert "Harold" in seen[f"GET /volunteering/buddies/{active.id} htmx=False"]
    assert (
        "Walk to the park on his own" in seen[f"GET /volunteering/buddies/{active.id} htmx=False"]
    )
    assert "Maureen" in seen["after accepting"]
    leaks = {
        where: [
            s
            for s in NEVER_SHOWN_TO_A_BUDDY
            # The public self-referral form and privacy notice ask for or explain an NHS
            # number: the label is expected there, the numbers themselves never are.
            if (s in page or s in text_of(page)) and not (where in public and s == NHS_LABEL)
        ]
        for where, page in seen.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
