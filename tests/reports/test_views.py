"""Outcome reports in the portal: the practice inbox, the report in every format, admin controls."""

from __future__ import annotations

import html
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal import scheduler
from portal.audit.models import AuditEvent
from portal.auth.models import Role
from portal.db_types import utcnow
from portal.extensions import db as _db
from portal.jobs.status import JOB_IDS
from portal.referrals import workflow
from portal.referrals.models import (
    ClosureReason,
    Practice,
    ReferralStatus,
    ReportFrequency,
    Route,
)
from portal.referrals.workflow import Actor
from portal.reports import delivery
from portal.reports.models import DeliveryStatus, OutcomeReport, QueuedOutcome
from portal.reports.periods import Period, london_date
from portal.reports.render import CSV_HEADER
from tests.factories import PASSWORD, make_practice, make_referral, make_resident, make_user
from tests.statements import statements_of

S = DeliveryStatus
MAILBOX = "gp.reports@nhs.net"


# --- helpers -------------------------------------------------------------------------------


def ago(**kw):
    return utcnow() - timedelta(**kw)


def signed_in(app, user):
    """A browser of its own, logged in as `user`."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def text(page: str) -> str:
    """Page text with tags and spacing flattened."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def closed_case(practice, navigator, hub, *, given="Alex", family="Jones", **close):
    """A supported case of `practice`, closed through the workflow so its outcome is queued."""
    referral = make_referral(
        practice=practice,
        resident=make_resident(nhs_number=None, given_name=given, family_name=family),
        status=ReferralStatus.ACTIVE,
        received_at=ago(days=20),
        first_contact_at=ago(days=19),
        route=Route.SOCIAL_NAVIGATION,
        support_level=2,
        triaged_at=ago(days=19),
        navigator_id=navigator.id,
        assigned_at=ago(days=10),
    )
    workflow.close(
        referral,
        hub,
        close.get("reason", ClosureReason.MOVED_AWAY),
        close.get("summary"),
    )
    _db.session.commit()
    return referral


def claim(practice, days: int = 7, made=None) -> OutcomeReport:
    """Claim a report for `practice` over the `days` up to today; each `days` is its own key."""
    today = london_date(utcnow())
    report = delivery.claim(
        practice, Period(today - timedelta(days=days), today), now=utcnow() + timedelta(seconds=1)
    )
    assert report is not None
    if made is not None:
        report.claimed_at = made
        _db.session.commit()
    return report


def report_with(practice, navigator, hub, days: int = 7, made=None, **case) -> OutcomeReport:
    closed_case(practice, navigator, hub, **case)
    report = claim(practice, days, made)
    assert report.status == S.CLAIMED and report.people == 1
    return report


def audits(db, action: str, report: OutcomeReport) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == action,
                AuditEvent.object_type == "outcome_report",
                AuditEvent.object_id == str(report.id),
            )
        )
    )


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def fresh(db, obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def report_links(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/reports/(\d+)"', page)]


def flashes(browser, response) -> str:
    assert response.status_code == 302
    return text(browser.get(response.headers["Location"]).get_data(as_text=True))


@pytest.fixture
def hub(coordinator) -> Actor:
    return Actor.of(coordinator)


@pytest.fixture
def own_practice(db, practice_user) -> Practice:
    return db.session.get(Practice, practice_user.practice_id)


@pytest.fixture
def own_report(own_practice, navigator, hub) -> OutcomeReport:
    return report_with(own_practice, navigator, hub, given="Olive", family="Ours")


@pytest.fixture
def other_report(navigator, hub) -> OutcomeReport:
    return report_with(make_practice(), navigator, hub, given="Theo", family="Theirs")


def download_paths(report: OutcomeReport) -> list[str]:
    return [f"/reports/{report.id}/{name}" for name in ("letter.pdf", "codes.csv", "summary.json")]


# --- the practice inbox --------------------------------------------------------------------


def test_inbox_lists_own_reports_newest_first_with_new_for_unread(
    app, db, practice_user, own_practice, navigator, hub
):
    older = report_with(own_practice, navigator, hub, days=14, made=ago(days=8), given="Old")
    newer = report_with(own_practice, navigator, hub, days=7, made=ago(days=1), given="New")
    empty = claim(own_practice, days=3)
    assert empty.status == S.EMPTY
    theirs = report_with(make_practice(), navigator, hub, days=7, given="Theirs")
    older.read_at, older.read_by_id = ago(days=2), practice_user.id
    db.session.commit()

    page = signed_in(app, practice_user).get("/reports").get_data(as_text=True)

    assert report_links(page) == [newer.id, older.id]
    assert empty.id not in report_links(page) and theirs.id not in report_links(page)
    rows = {
        int(m.group(1)): row
        for row in page.split('<tr class="nhsuk-table__row" role="row">')[1:]
        if (m := re.search(r'href="/reports/(\d+)"', row))
    }
    assert ">New<" in rows[newer.id]
    assert ">New<" not in rows[older.id]
    assert "1 new." in text(page)


def test_inbox_with_no_reports_says_so(app, practice_user, own_practice, db):
    own_practice.report_mailbox = MAILBOX
    db.session.commit()
    page = text(signed_in(app, practice_user).get("/reports").get_data(as_text=True))
    assert "No reports yet" in page
    assert MAILBOX in page


def test_the_inbox_sends_as_many_statements_for_many_reports_as_for_one(
    app, db, practice_user, own_practice, navigator, hub
):
    """Each row is drawn from what the list read, not read again after the view's audit."""
    report_with(own_practice, navigator, hub, days=21, given="First")
    browser = signed_in(app, practice_user)
    one_report = statements_of(app, browser, "/reports")
    for days in (14, 7, 3):
        report_with(own_practice, navigator, hub, days=days, given=f"Case{days}")

    assert statements_of(app, browser, "/reports") == one_report
    assert len(report_links(browser.get("/reports").get_data(as_text=True))) == 4


def test_a_practice_never_sees_another_practices_report(app, db, practice_user, other_report):
    browser = signed_in(app, practice_user)
    for path in (f"/reports/{other_report.id}", *download_paths(other_report)):
        assert browser.get(path).status_code == 404, path
    assert browser.post(f"/reports/{other_report.id}/read").status_code == 404
    assert fresh(db, other_report).read_at is None
    # Nothing about it was recorded as seen or exported.
    assert not audits(db, "viewed", other_report)
    assert not audits(db, "exported", other_report)


def test_a_report_with_nothing_in_it_is_not_found(app, db, practice_user, own_practice):
    empty = claim(own_practice)
    assert empty.status == S.EMPTY
    browser = signed_in(app, practice_user)
    for path in (f"/reports/{empty.id}", *download_paths(empty)):
        assert browser.get(path).status_code == 404, path


def test_a_report_that_does_not_exist_is_not_found(app, practice_user):
    assert signed_in(app, practice_user).get("/reports/999999").status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR])
def test_hub_staff_can_open_any_practices_report(app, db, role, other_report):
    browser = signed_in(app, make_user(role))
    page = browser.get(f"/reports/{other_report.id}")
    assert page.status_code == 200
    assert "Theo Theirs" in text(page.get_data(as_text=True))
    for path in download_paths(other_report):
        assert browser.get(path).status_code == 200, path
    # Only the practice marks its reports as read.
    assert browser.post(f"/reports/{other_report.id}/read").status_code == 403
    assert fresh(db, other_report).read_at is None


@pytest.mark.parametrize(
    "role", [Role.NAVIGATOR, Role.VOLUNTEER, Role.COMMISSIONER, Role.ORGANISATION_MEMBER]
)
def test_other_roles_are_refused(app, role, other_report):
    browser = signed_in(app, make_user(role))
    for path in (f"/reports/{other_report.id}", *download_paths(other_report), "/reports"):
        assert browser.get(path).status_code == 403, path
    assert browser.post(f"/reports/{other_report.id}/read").status_code == 403
    assert browser.get("/admin/reports").status_code == 403


def test_practice_users_cannot_use_the_admin_pages(app, practice_user, own_practice):
    browser = signed_in(app, practice_user)
    assert browser.get("/admin/reports").status_code == 403
    assert browser.get(f"/admin/reports/practices/{own_practice.id}").status_code == 403
    assert browser.post(f"/admin/reports/practices/{own_practice.id}/send").status_code == 403


def test_logged_out_visitors_are_sent_to_log_in(client, own_report):
    response = client.get(f"/reports/{own_report.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- the report, in every format -----------------------------------------------------------


def test_opening_a_report_is_audited(app, db, practice_user, own_report):
    page = signed_in(app, practice_user).get(f"/reports/{own_report.id}")
    assert page.status_code == 200
    body = text(page.get_data(as_text=True))
    assert "Olive Ours" in body
    assert "Mark as read" in body
    (event,) = audits(db, "viewed", own_report)
    assert event.actor_id == practice_user.id
    assert not audits(db, "exported", own_report)


def test_downloads_are_audited_and_readable(app, db, practice_user, own_report, own_practice):
    browser = signed_in(app, practice_user)

    pdf = browser.get(f"/reports/{own_report.id}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert ".pdf" in pdf.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(pdf.data))
    assert len(reader.pages) >= 1
    letter = " ".join(p.extract_text() for p in reader.pages)
    assert "Ours" in letter
    assert len(audits(db, "exported", own_report)) == 1

    codes = browser.get(f"/reports/{own_report.id}/codes.csv")
    assert codes.status_code == 200
    assert codes.mimetype == "text/csv"
    lines = codes.get_data(as_text=True).splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) >= 2
    assert all(line.startswith(own_practice.ods_code) for line in lines[1:])
    assert len(audits(db, "exported", own_report)) == 2

    summary = browser.get(f"/reports/{own_report.id}/summary.json")
    assert summary.status_code == 200
    assert summary.mimetype == "application/json"
    document = json.loads(summary.get_data(as_text=True))
    assert document["practice"]["ods_code"] == own_practice.ods_code
    assert [p["patient"]["family_name"] for p in document["people"]] == ["Ours"]
    assert len(audits(db, "exported", own_report)) == 3
    # Downloading is not viewing.
    assert not audits(db, "viewed", own_report)


def test_html_in_a_name_and_summary_is_escaped(
    app, db, practice_user, own_practice, navigator, hub
):
    report = report_with(
        own_practice,
        navigator,
        hub,
        given="<script>alert(1)</script>",
        family="<b>Bold</b>",
        reason=ClosureReason.DECLINED,
        summary='<img src=x onerror="alert(2)">',
    )
    page = signed_in(app, practice_user).get(f"/reports/{report.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "<b>Bold</b>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=" in page


# --- marking as read -----------------------------------------------------------------------


def test_mark_as_read_without_htmx_redirects(app, db, practice_user, own_report):
    browser = signed_in(app, practice_user)
    response = browser.post(f"/reports/{own_report.id}/read", data={"read": "yes"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/reports/{own_report.id}")
    report = fresh(db, own_report)
    assert report.read_at is not None
    assert report.read_by_id == practice_user.id
    assert report.read_by.id == practice_user.id
    assert "Marked as read." in text(browser.get(response.headers["Location"]).data.decode())


def test_mark_as_read_back_to_the_inbox(app, db, practice_user, own_report):
    browser = signed_in(app, practice_user)
    response = browser.post(f"/reports/{own_report.id}/read", data={"back": "inbox"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reports")
    assert fresh(db, own_report).read_at is not None


def test_mark_as_read_with_htmx_returns_the_partial(app, db, practice_user, own_report):
    browser = signed_in(app, practice_user)
    response = browser.post(
        f"/reports/{own_report.id}/read", data={"read": "yes"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Mark as not read" in body
    assert "<html" not in body
    assert practice_user.full_name in text(body)
    assert fresh(db, own_report).read_by_id == practice_user.id

    response = browser.post(
        f"/reports/{own_report.id}/read", data={"read": "no"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Mark as read" in body and "Mark as not read" not in body
    report = fresh(db, own_report)
    assert report.read_at is None and report.read_by_id is None


def test_a_boosted_request_gets_the_redirect(app, db, practice_user, own_report):
    response = signed_in(app, practice_user).post(
        f"/reports/{own_report.id}/read",
        data={"read": "yes"},
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    assert response.status_code == 302
    assert fresh(db, own_report).read_at is not None


def test_mark_as_not_read_clears_it(app, db, practice_user, own_report):
    own_report.read_at, own_report.read_by_id = ago(hours=1), practice_user.id
    db.session.commit()
    browser = signed_in(app, practice_user)
    response = browser.post(f"/reports/{own_report.id}/read", data={"read": "no"})
    assert response.status_code == 302
    report = fresh(db, own_report)
    assert report.read_at is None and report.read_by_id is None
    assert "Marked as not read." in text(browser.get(response.headers["Location"]).data.decode())


def test_marking_as_read_is_audited(app, db, practice_user, own_report):
    signed_in(app, practice_user).post(f"/reports/{own_report.id}/read")
    assert len(audits(db, "updated", own_report)) == 1


def test_navigation_counts_new_reports(app, db, practice_user, own_report):
    browser = signed_in(app, practice_user)
    page = text(browser.get("/reports").get_data(as_text=True))
    assert "Outcome reports (1 new)" in page

    browser.post(f"/reports/{own_report.id}/read")
    page = text(browser.get("/reports").get_data(as_text=True))
    assert "Outcome reports (1 new)" not in page
    assert "new)" not in page
    assert "Outcome reports" in page


def test_admin_navigation_links_to_outcome_reports(app, admin):
    page = signed_in(app, admin).get("/admin/reports").get_data(as_text=True)
    assert re.search(r'href="/admin/reports"[^>]*>(<strong[^>]*>)?\s*Outcome reports\s*<', page)


# --- the admin overview --------------------------------------------------------------------


def _warning(page: str) -> str:
    start = page.index("Practices that cannot get reports by email")
    return text(page[start : page.index("</div>", start)]).replace(" : ", ": ")


def test_overview_lists_practices_and_warns_about_mailboxes(app, db, admin):
    fine = make_practice(name="Fine Surgery", report_mailbox=MAILBOX)
    none = make_practice(name="Nomail Surgery", report_mailbox=None)
    broken = make_practice(name="Broken Surgery", report_mailbox="not-an-email")

    page = signed_in(app, admin).get("/admin/reports").get_data(as_text=True)

    body = text(page)
    for practice in (fine, none, broken):
        assert f"{practice.name} ({practice.ods_code})" in body
    warning = _warning(page)
    assert "Nomail Surgery: The practice has no report mailbox" in warning
    assert "Broken Surgery: The report mailbox “not-an-email” is not a valid email address" in (
        warning
    )
    assert "Fine Surgery" not in warning


def test_overview_lists_failed_reports_with_a_send_again_button(
    app, db, admin, navigator, hub, smtp_server
):
    practice = make_practice(name="Broken Surgery", report_mailbox="not-an-email")
    report = report_with(practice, navigator, hub)
    assert delivery.deliver(report.id, now=utcnow() + timedelta(seconds=2)) == S.FAILED
    report = fresh(db, report)
    assert "not a valid email address" in report.last_error

    page = signed_in(app, admin).get("/admin/reports").get_data(as_text=True)

    assert "Reports that were not delivered" in page
    failed = page[page.index("Reports that were not delivered") : page.index("<h2>Practices")]
    assert html.escape(report.last_error, quote=False) in failed or report.last_error in text(
        failed
    )
    assert f'action="/admin/reports/{report.id}/resend"' in failed
    assert "Send again" in failed
    assert "Failed" in text(failed)


def test_overview_has_no_failed_section_when_all_is_well(app, admin, own_report):
    page = signed_in(app, admin).get("/admin/reports").get_data(as_text=True)
    assert "Reports that were not delivered" not in page


@pytest.fixture
def no_job_table(app, db):
    """The scheduler's job table absent for the test, whatever other tests left behind."""
    from portal.scheduler import JOB_TABLE

    db.session.commit()
    kept = f"{JOB_TABLE}_kept_{uuid.uuid4().hex[:8]}"
    had = sa.inspect(db.engine).has_table(JOB_TABLE)
    if had:
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {JOB_TABLE} RENAME TO {kept}"))
    yield JOB_TABLE
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {JOB_TABLE}"))
        if had:
            conn.execute(sa.text(f"ALTER TABLE {kept} RENAME TO {JOB_TABLE}"))


def test_overview_shows_the_scheduled_jobs(app, db, admin, no_job_table):
    browser = signed_in(app, admin)
    page = browser.get("/admin/reports").get_data(as_text=True)
    assert "Scheduled jobs" in page
    assert "The scheduler has not run yet" in page
    jobs = page[page.index("<h2>Scheduled jobs") :]
    for job_id in JOB_IDS:
        description = (getattr(scheduler, job_id).__doc__ or "").strip().split("\n")[0]
        assert html.escape(description) in jobs or description in text(jobs), job_id
    assert text(jobs).count("Not scheduled") == len(JOB_IDS)
    assert text(jobs).count("Never") == len(JOB_IDS)

    # Once the scheduler has stored its jobs, the warning goes and the next runs show.
    table = sa.Table(
        no_job_table,
        sa.MetaData(),
        sa.Column("id", sa.String(191), primary_key=True),
        sa.Column("next_run_time", sa.Float, index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    db.session.commit()
    with db.engine.begin() as conn:
        table.create(conn)
        conn.execute(
            table.insert(),
            [
                {"id": "send_outcome_reports", "next_run_time": 1_900_000_000.0, "job_state": b""},
                {"id": "retry_outcome_reports", "next_run_time": None, "job_state": b""},
            ],
        )
    page = browser.get("/admin/reports").get_data(as_text=True)
    assert "The scheduler has not run yet" not in page
    jobs = text(page[page.index("<h2>Scheduled jobs") :])
    assert jobs.count("Not scheduled") == len(JOB_IDS) - 1


# --- a practice's settings -----------------------------------------------------------------


def settings(browser, practice, **data):
    form = {"report_mailbox": MAILBOX, "report_frequency": "weekly", **data}
    return browser.post(
        f"/admin/reports/practices/{practice.id}",
        data={k: v for k, v in form.items() if v is not None},
    )


@pytest.mark.parametrize("typed", ["not-an-email", "a@@b.com"])
def test_an_invalid_mailbox_is_refused_and_kept_in_the_form(app, db, admin, typed):
    practice = make_practice(report_mailbox=MAILBOX)
    response = settings(
        signed_in(app, admin), practice, report_mailbox=typed, report_frequency="monthly"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = "Enter the report mailbox in the correct format, like gp.reports@nhs.net"
    assert message in text(page)
    # The message is beside the mailbox field, and what was typed is still in it.
    error_at = page.index('id="report_mailbox-error"')
    assert message in text(page[error_at : page.index("<input", error_at)])
    field = re.search(r'<input[^>]*id="report_mailbox"[^>]*>', page, re.S).group(0)
    assert f'value="{html.escape(typed)}"' in field
    assert "nhsuk-input--error" in field
    assert "report_mailbox-error" in field
    assert page.index('id="report_mailbox-error"') < page.index('id="report_mailbox"')
    saved = fresh(db, practice)
    assert saved.report_mailbox == MAILBOX
    assert saved.report_frequency == ReportFrequency.WEEKLY
    assert count(db, AuditEvent, AuditEvent.object_type == "practice_report_settings") == 0


def test_valid_settings_are_saved(app, db, admin):
    practice = make_practice(report_mailbox=None)
    browser = signed_in(app, admin)
    response = settings(
        browser, practice, report_mailbox=MAILBOX, report_frequency="monthly", notify_on_close="y"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/reports/practices/{practice.id}")
    saved = fresh(db, practice)
    assert saved.report_mailbox == MAILBOX
    assert saved.report_frequency == ReportFrequency.MONTHLY
    assert saved.notify_on_close is True
    assert f"Report settings for {practice.name} saved." in flashes(browser, response)

    # An unticked box turns the notices off again.
    response = settings(browser, practice, report_frequency="daily")
    assert response.status_code == 302
    saved = fresh(db, practice)
    assert saved.notify_on_close is False
    assert saved.report_frequency == ReportFrequency.DAILY
    assert count(db, AuditEvent, AuditEvent.object_type == "practice_report_settings") == 2


def test_an_empty_mailbox_is_saved_as_none(app, db, admin):
    practice = make_practice(report_mailbox=MAILBOX)
    response = settings(signed_in(app, admin), practice, report_mailbox="")
    assert response.status_code == 302
    assert fresh(db, practice).report_mailbox is None


def test_a_missing_frequency_is_refused(app, db, admin):
    practice = make_practice(report_mailbox=None, report_frequency=ReportFrequency.WEEKLY)
    response = settings(
        signed_in(app, admin), practice, report_mailbox=MAILBOX, report_frequency=None
    )
    assert response.status_code == 422
    assert "Choose how often reports are sent" in text(response.get_data(as_text=True))
    saved = fresh(db, practice)
    assert saved.report_mailbox is None
    assert saved.report_frequency == ReportFrequency.WEEKLY


def test_the_settings_page_shows_the_current_settings(app, db, admin):
    practice = make_practice(report_mailbox=MAILBOX, report_frequency=ReportFrequency.MONTHLY)
    page = signed_in(app, admin).get(f"/admin/reports/practices/{practice.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert re.search(r'<input[^>]*id="report_mailbox"[^>]*value="' + re.escape(MAILBOX), body)
    assert re.search(r'<input[^>]*value="monthly"[^>]*checked', body)


def test_an_unknown_practice_is_not_found(app, admin):
    assert signed_in(app, admin).get("/admin/reports/practices/999999").status_code == 404


# --- preview and sending by hand -----------------------------------------------------------


def test_preview_shows_who_is_waiting_and_claims_nothing(app, db, admin, navigator, hub):
    practice = make_practice()
    closed_case(practice, navigator, hub, given="Wanda", family="Waiting")
    page = signed_in(app, admin).get(f"/admin/reports/practices/{practice.id}/preview")
    assert page.status_code == 200
    body = text(page.get_data(as_text=True))
    assert "This is a preview" in body
    assert "Wanda Waiting" in body
    assert count(db, OutcomeReport) == 0
    assert count(db, QueuedOutcome, QueuedOutcome.report_id.is_(None)) == 1


def test_preview_with_nothing_waiting_says_so(app, db, admin):
    practice = make_practice()
    page = signed_in(app, admin).get(f"/admin/reports/practices/{practice.id}/preview")
    assert page.status_code == 200
    assert "Nothing is waiting to be reported" in text(page.get_data(as_text=True))
    assert count(db, OutcomeReport) == 0


def test_send_now_emails_the_practice(app, db, admin, navigator, hub, smtp_server):
    practice = make_practice(report_mailbox=MAILBOX)
    closed_case(practice, navigator, hub, given="Sam", family="Sent")
    browser = signed_in(app, admin)
    response = browser.post(f"/admin/reports/practices/{practice.id}/send")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/reports/practices/{practice.id}")

    assert len(smtp_server.messages) == 1
    (message,) = smtp_server.messages
    assert message["To"] == MAILBOX
    report = db.session.scalars(sa.select(OutcomeReport)).one()
    assert report.status == S.SENT
    assert report.sent_to == MAILBOX
    assert report.people == 1
    assert count(db, QueuedOutcome, QueuedOutcome.report_id.is_(None)) == 0
    assert f"The report about 1 person was sent to {MAILBOX}." in flashes(browser, response)
    assert len(audits(db, "exported", report)) == 1


def test_send_now_with_nothing_waiting_is_refused(app, db, admin, smtp_server):
    practice = make_practice(report_mailbox=MAILBOX)
    browser = signed_in(app, admin)
    response = browser.post(f"/admin/reports/practices/{practice.id}/send")
    page = flashes(browser, response)
    assert f"Nothing is waiting to be reported to {practice.name}." in page
    assert count(db, OutcomeReport) == 0
    assert smtp_server.messages == []


def test_a_failed_report_is_sent_again_once_the_mailbox_is_fixed(
    app, db, admin, navigator, hub, smtp_server
):
    practice = make_practice(report_mailbox="not-an-email")
    report = report_with(practice, navigator, hub)
    assert delivery.deliver(report.id, now=utcnow() + timedelta(seconds=2)) == S.FAILED
    told_admins = len(smtp_server.messages)

    browser = signed_in(app, admin)
    assert settings(browser, practice, report_mailbox=MAILBOX).status_code == 302
    response = browser.post(f"/admin/reports/{report.id}/resend", data={"back": "overview"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/reports")

    report = fresh(db, report)
    assert report.status == S.SENT
    assert report.sent_to == MAILBOX
    sent = smtp_server.messages[told_admins:]
    assert [m["To"] for m in sent] == [MAILBOX]
    assert f"was sent to {MAILBOX}" in flashes(browser, response)
    # The overview no longer lists it as failed.
    assert "Reports that were not delivered" not in browser.get("/admin/reports").get_data(
        as_text=True
    )


def test_resending_a_report_that_is_waiting_is_refused(app, db, admin, own_report):
    browser = signed_in(app, admin)
    response = browser.post(f"/admin/reports/{own_report.id}/resend")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/admin/reports/practices/{own_report.practice_id}"
    )
    assert "This report cannot be sent again now." in flashes(browser, response)
    assert fresh(db, own_report).status == S.CLAIMED


def test_html_in_a_stored_mailbox_is_escaped_on_the_admin_pages(app, db, admin):
    practice = make_practice(report_mailbox="<script>alert(3)</script>")
    browser = signed_in(app, admin)
    for path in ("/admin/reports", f"/admin/reports/practices/{practice.id}"):
        page = browser.get(path).get_data(as_text=True)
        assert "<script>alert(3)</script>" not in page, path
        assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page, path
