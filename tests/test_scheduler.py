"""The scheduler process: which jobs it registers, and the volunteer reminder job run as it runs."""

from __future__ import annotations

from datetime import date, timedelta

from portal import scheduler
from portal.volunteers.models import DbsLevel
from tests import factories


def test_jobs_have_fixed_ids_and_the_london_clock(app):
    built = scheduler.build_scheduler(app)
    jobs = {job.id: job for job in built.get_jobs()}
    assert {"purge_rate_limit_counters", "send_volunteer_expiry_reminders"} <= set(jobs)
    assert str(built.timezone) == "Europe/London"
    assert str(jobs["send_volunteer_expiry_reminders"].trigger) == "cron[hour='7', minute='30']"
    assert str(jobs["flag_stale_activities"].trigger) == "cron[hour='7', minute='40']"
    assert str(jobs["send_activity_referral_reminders"].trigger) == "cron[hour='7', minute='50']"
    assert str(jobs["rebuild_dashboard_facts"].trigger) == "cron[hour='2', minute='30']"


def _volunteer_whose_dbs_runs_out_in_five_days():
    years = 3
    issued = date.today() + timedelta(days=5)
    issued = issued.replace(year=issued.year - years)
    return factories.make_compliant_volunteer(dbs_level=DbsLevel.ENHANCED, dbs_issue_date=issued)


def test_reminder_job_emails_links_to_the_public_address_once(app, smtp_server):
    app.config["PORTAL_URL"] = "https://portal.example.org"
    volunteer = _volunteer_whose_dbs_runs_out_in_five_days()
    scheduler.use_app(app)

    scheduler.send_volunteer_expiry_reminders()
    scheduler.send_volunteer_expiry_reminders()

    dbs_mails = [m for m in smtp_server.messages if "DBS check" in m["Subject"]]
    assert [m["To"] for m in dbs_mails] == [volunteer.user.email]
    assert "https://portal.example.org/volunteering" in dbs_mails[0].get_body().get_content()


def test_cli_runs_the_same_job(app, smtp_server):
    volunteer = _volunteer_whose_dbs_runs_out_in_five_days()
    result = app.test_cli_runner().invoke(args=["send-expiry-reminders"])
    assert result.exit_code == 0, result.output
    assert volunteer.user.email in [m["To"] for m in smtp_server.messages]


def test_directory_jobs_email_the_organisation_with_public_links_once(app, smtp_server):
    app.config["PORTAL_URL"] = "https://portal.example.org"
    organisation = factories.make_organisation(email="hello@group.example.org")
    factories.make_activity(
        organisation, title="Old listing", last_confirmed_on=date.today() - timedelta(days=400)
    )
    scheduler.use_app(app)

    result = app.test_cli_runner().invoke(args=["check-directory"])
    assert result.exit_code == 0, result.output
    scheduler.flag_stale_activities()

    stale_mails = [m for m in smtp_server.messages if "activity listings" in m["Subject"]]
    assert [m["To"] for m in stale_mails] == ["hello@group.example.org"]
    body = stale_mails[0].get_body().get_content()
    assert "Old listing" in body
    assert "https://portal.example.org/organisation" in body
