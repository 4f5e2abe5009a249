"""Every route by every role: the expected outcome comes from one table kept here.

A new route without an entry in ACCESS fails this test, so nobody adds a page
without deciding who may see it.
"""

from __future__ import annotations

import pytest

from portal.auth.models import Role

PUBLIC = "public"
ANY_ROLE = frozenset(Role)
A, C, N, V, ORG, P, M = (
    Role.ADMIN,
    Role.COORDINATOR,
    Role.NAVIGATOR,
    Role.VOLUNTEER,
    Role.ORGANISATION_MEMBER,
    Role.PRACTICE_USER,
    Role.COMMISSIONER,
)

ACCESS: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "pages.index": PUBLIC,
    "pages.accessibility": PUBLIC,
    "pages.privacy": PUBLIC,
    "pages.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.accept_invite": PUBLIC,
    "auth.request_reset": PUBLIC,
    "auth.reset_password": PUBLIC,
    "auth.home": ANY_ROLE,
    "auth.change_password": ANY_ROLE,
    "auth.mfa_setup": ANY_ROLE,
    "auth.mfa_recovery_codes": ANY_ROLE,
    "auth.mfa_turn_off": ANY_ROLE,
    "auth.users": frozenset({A}),
    "auth.invite": frozenset({A}),
    "auth.resend_invite": frozenset({A}),
    "auth.set_active": frozenset({A}),
    "auth.reset_mfa": frozenset({A}),
    "audit.trail": frozenset({A}),
    "audit.resident_trail": frozenset({A}),
    "audit.volunteer_trail": frozenset({A}),
    "audit.export_csv": frozenset({A}),
    "governance.subject_access": frozenset({A}),
    "governance.find_resident": frozenset({A}),
    "governance.find_volunteer": frozenset({A}),
    "governance.resident_json": frozenset({A}),
    "governance.resident_pdf": frozenset({A}),
    "governance.volunteer_json": frozenset({A}),
    "governance.volunteer_pdf": frozenset({A}),
    "referrals.hub": frozenset({A, C}),
    "referrals.practice_referrals": frozenset({P}),
    "referrals.practice_referral": frozenset({P}),
    "referrals.add_information": frozenset({P}),
    "referrals.new_referral": frozenset({P, A, C}),
    "referrals.self_referral": PUBLIC,
    "referrals.self_referral_sent": PUBLIC,
    "referrals.referral": frozenset({A, C}),
    "referrals.record_attempt": frozenset({A, C}),
    "referrals.triage": frozenset({A, C}),
    "referrals.close": frozenset({A, C}),
    "referrals.edit": frozenset({A, C}),
    "referrals.int_list": frozenset({A, C}),
    "cases.caseload": frozenset({N, C, A}),
    "cases.withdraw_consent": frozenset({N, C, A}),
    "cases.case": frozenset({N, C, A}),
    "cases.read_alerts": frozenset({N, C, A}),
    "cases.log_contact": frozenset({N, C, A}),
    "cases.edit_contact": frozenset({N, C, A}),
    "cases.add_goal": frozenset({N, C, A}),
    "cases.change_goal": frozenset({N, C, A}),
    "cases.record_measure": frozenset({N, C, A}),
    "cases.close": frozenset({N, C, A}),
    "cases.reopen": frozenset({C, A}),
    "cases.reassign": frozenset({C, A}),
    "cases.plan": frozenset({N, C, A}),
    "cases.plan_pdf": frozenset({N, C, A}),
    "alerts.inbox": frozenset({N, C, A}),
    "alerts.read": frozenset({N, C, A}),
    "cases.propose_buddy": frozenset({N, C, A}),
    "matching.buddies": frozenset({N, C, A}),
    "matching.activities": frozenset({N, C, A}),
    "matching.preferences": frozenset({N, C, A}),
    "matching.navigators": frozenset({C, A}),
    "matching.batch": frozenset({C, A}),
    "matching.weights": frozenset({A}),
    "matching.navigator_list": frozenset({C, A}),
    "matching.navigator_profile": frozenset({C, A}),
    "cases.end_buddy": frozenset({N, C, A}),
    "volunteers.me": frozenset({V}),
    "volunteers.profile": frozenset({V}),
    "volunteers.buddy": frozenset({V}),
    "volunteers.accept": frozenset({V}),
    "volunteers.decline": frozenset({V}),
    "volunteers.log_contact": frozenset({V}),
    "volunteers.hours": frozenset({V}),
    "volunteer_signup.sign_up": PUBLIC,
    "volunteer_signup.sent": PUBLIC,
    "volunteer_hub.board": frozenset({C, A}),
    "volunteer_hub.volunteer": frozenset({C, A}),
    "volunteer_hub.change_status": frozenset({C, A}),
    "volunteer_hub.references": frozenset({C, A}),
    "volunteer_hub.dbs": frozenset({C, A}),
    "volunteer_hub.record_training": frozenset({C, A}),
    "volunteer_hub.resend_link": frozenset({C, A}),
    "volunteer_hub.expiring": frozenset({C, A}),
    "volunteer_hub.supervision": frozenset({C, A}),
    "volunteer_hub.hours_csv": frozenset({C, A}),
    "volunteer_hub.training_modules": frozenset({A}),
    "volunteer_hub.new_training_module": frozenset({A}),
    "volunteer_hub.edit_training_module": frozenset({A}),
    "directory.my_organisation": frozenset({ORG}),
    "directory.profile": frozenset({ORG}),
    "directory.new_activity": frozenset({ORG}),
    "directory.edit_activity": frozenset({ORG, C, A}),
    "directory.change_activity_status": frozenset({ORG, C, A}),
    "directory.confirm_activity": frozenset({ORG, C, A}),
    "directory.incoming_referrals": frozenset({ORG}),
    "directory.incoming_referral": frozenset({ORG}),
    "directory.accept_referral": frozenset({ORG}),
    "directory.decline_referral": frozenset({ORG}),
    "directory.record_attendance": frozenset({ORG}),
    "directory.stop_referral": frozenset({ORG}),
    "directory_public.directory": PUBLIC,
    "directory_public.activity": PUBLIC,
    "directory_public.register": PUBLIC,
    "directory_public.registered": PUBLIC,
    "directory_hub.organisations_list": frozenset({C, A}),
    "directory_hub.organisation": frozenset({C, A}),
    "directory_hub.verify": frozenset({C, A}),
    "directory_hub.new_activity": frozenset({C, A}),
    "directory_hub.import_activities": frozenset({C, A}),
    "directory_hub.confirm_import": frozenset({C, A}),
    "directory_hub.import_template": frozenset({C, A}),
    "case_activities.refer": frozenset({N, C, A}),
    "case_activities.signpost": frozenset({N, C, A}),
    "case_activities.withdraw": frozenset({N, C, A}),
    "oruk.info": PUBLIC,
    "oruk.openapi": PUBLIC,
    "oruk.services": PUBLIC,
    "oruk.service": PUBLIC,
    "dashboard.overview": frozenset({A, C, M}),
    "dashboard.table_csv": frozenset({A, C, M}),
    "dashboard.evaluation_pack": frozenset({A, C, M}),
    "dashboard.hub": frozenset({A, C}),
    "dashboard.hub_table_csv": frozenset({A, C}),
    "reports.inbox": frozenset({P}),
    "reports.practice_report": frozenset({P, A, C}),
    "reports.mark_read": frozenset({P}),
    "reports.report_pdf": frozenset({P, A, C}),
    "reports.report_csv": frozenset({P, A, C}),
    "reports.report_json": frozenset({P, A, C}),
    "reports.admin_overview": frozenset({A}),
    "reports.admin_practice": frozenset({A}),
    "reports.admin_preview": frozenset({A}),
    "reports.admin_send_now": frozenset({A}),
    "reports.admin_resend": frozenset({A}),
}

DUMMY_VALUES = {
    "token": "not-a-real-token",
    "user_id": "999999",
    "referral_id": "999999",
    "contact_id": "999999",
    "goal_id": "999999",
    "scale": "ons4",
    "match_id": "999999",
    "volunteer_id": "999999",
    "module_id": "999999",
    "activity_id": "999999",
    "activity_uuid": "00000000-0000-4000-8000-000000000000",
    "organisation_id": "999999",
    "link_id": "999999",
    "import_id": "999999",
    "service_id": "00000000-0000-4000-8000-000000000000",
    "filename": "css/portal.css",
    "report_id": "999999",
    "key": "by_reason",
    "practice_id": "999999",
    "resident_id": "999999",
}


def _routes(app):
    """(endpoint, method, path) for every route and each of GET and POST it answers."""
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", DUMMY_VALUES[arg])
            path = path.replace(f"<int:{arg}>", DUMMY_VALUES[arg])
            path = path.replace(f"<path:{arg}>", DUMMY_VALUES[arg])
        for method in ("GET", "POST"):
            if method in rule.methods:
                yield rule.endpoint, method, path


def test_every_route_has_an_access_rule(app):
    missing = sorted({endpoint for endpoint, _, _ in _routes(app)} - set(ACCESS))
    assert missing == [], f"add these endpoints to ACCESS: {missing}"


def test_permission_decorator_matches_the_table(app):
    for endpoint, rule in ACCESS.items():
        declared = getattr(app.view_functions[endpoint], "allowed_roles", None)
        if rule == PUBLIC:
            assert declared is None, endpoint
        else:
            assert declared == rule, endpoint


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("who", ["anonymous", *[r.value for r in Role]])
def test_each_role_gets_the_expected_answer_on_every_route(app, make_user, who, htmx):
    """Every route, by GET and by POST where it takes both, as a page and as htmx."""
    client = app.test_client()
    if who != "anonymous":
        user = make_user(Role(who))
        assert (
            client.post(
                "/login", data={"email": user.email, "password": "correct horse battery staple"}
            ).status_code
            == 302
        )
    headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"} if htmx else {}
    for endpoint, method, path in _routes(app):
        if endpoint == "auth.logout":
            continue  # would end this client's session; tested in tests/auth
        rule = ACCESS[endpoint]
        response = client.open(path, method=method, headers=headers)
        status = response.status_code
        response.close()
        where = f"{who} {method} {path} htmx={htmx} -> {status}"
        if rule == PUBLIC:
            assert status < 500 and status != 403, where
        elif who == "anonymous" and htmx:
            # htmx is told to load the login page in full.
            assert status == 401 and "/login" in response.headers["HX-Redirect"], where
        elif who == "anonymous":
            assert status == 302 and "/login" in response.headers["Location"], where
        elif Role(who) in rule:
            assert status not in (401, 403, 500), where
            assert not (status == 302 and "/login" in response.headers.get("Location", "")), where
        else:
            assert status == 403, where


def test_htmx_partials_follow_the_same_rules(app, make_user):
    client = app.test_client()
    user = make_user(Role.NAVIGATOR)
    client.post("/login", data={"email": user.email, "password": "correct horse battery staple"})
    for path in ("/hub", "/admin/users", "/practice/referrals"):
        assert client.get(path, headers={"HX-Request": "true"}).status_code == 403
    anonymous = app.test_client()
    # htmx is told to load the login page in full, not to swap it into part of a page.
    response = anonymous.get(
        "/hub", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/hub?q=ab"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/hub?q%3Dab"


def test_a_403_is_audited(app, make_user, db):
    import sqlalchemy as sa

    from portal.audit.models import AuditEvent

    client = app.test_client()
    user = make_user(Role.VOLUNTEER)
    client.post("/login", data={"email": user.email, "password": "correct horse battery staple"})
    client.get("/hub")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "forbidden")).one()
    assert event.actor_id == user.id and event.object_id == "/hub"
