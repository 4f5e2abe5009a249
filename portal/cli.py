"""Operator commands: seed-demo, demo-logins, create-admin, check-db, run-scheduler, and jobs."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.engine import make_url

from portal.extensions import db


def _safe_url() -> str:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(
        hide_password=True
    )


def register_cli(app: Flask) -> None:
    @app.cli.command("check-db")
    def check_db() -> None:
        """Say in one line whether the database can be reached."""
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            click.echo(f"Cannot reach the database at {_safe_url()}: {reason}", err=True)
            sys.exit(1)
        click.echo(f"Database reachable: {_safe_url()}")

    @app.cli.command("is-empty")
    def is_empty() -> None:
        """Exit 0 when there are no users yet (so `make run` knows to load demo data)."""
        from portal.auth.models import User

        count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        sys.exit(0 if count == 0 else 1)

    @app.cli.command("seed-demo")
    @click.option("--quiet", is_flag=True, help="Do not print the demo logins.")
    def seed_demo(quiet: bool) -> None:
        """Fill an empty database with a fictional, deterministic hub and one login per role."""
        from portal.demo import DEMO_PASSWORD, DemoRefused, seed

        try:
            logins = seed()
        except DemoRefused as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        if not quiet:
            print_demo_logins(logins, DEMO_PASSWORD)
            print_demo_keys()

    @app.cli.command("demo-logins")
    def demo_logins() -> None:
        """Print the demo logins again."""
        from portal.demo import DEMO_PASSWORD
        from portal.demo import demo_logins as logins

        print_demo_logins(logins(), DEMO_PASSWORD)
        print_demo_keys()

    @app.cli.command("demo-code")
    def demo_code() -> None:
        """Print the current two-step login code of each demo admin and coordinator."""
        from portal.auth.mfa import current_code
        from portal.demo import demo_authenticator_keys

        keys = demo_authenticator_keys()
        if not keys:
            click.echo("No demo account here uses two-step login.", err=True)
            sys.exit(1)
        click.echo("Codes for the next 30 seconds or so:")
        for email, secret in keys:
            click.echo(f"  {email}  {current_code(secret)}")

    @app.cli.command("create-admin")
    @click.option("--email", prompt="Email address")
    @click.option("--name", prompt="Full name")
    @click.password_option("--password", prompt="Password")
    def create_admin(email: str, name: str, password: str) -> None:
        """Make a real administrator account."""
        from portal.auth.models import Role, User
        from portal.auth.passwords import hash_password, password_problems
        from portal.auth.service import find_user_by_email, normalise_email

        problems = password_problems(password, email)
        if problems:
            click.echo(problems[0] + ".", err=True)
            sys.exit(1)
        if find_user_by_email(email):
            click.echo("There is already an account with this email address.", err=True)
            sys.exit(1)
        db.session.add(
            User(
                email=normalise_email(email),
                full_name=name.strip(),
                role=Role.ADMIN,
                password_hash=hash_password(password),
            )
        )
        db.session.commit()
        click.echo(f"Administrator {normalise_email(email)} created.")

    @app.cli.command("send-expiry-reminders")
    def send_expiry_reminders() -> None:
        """Run the daily volunteer expiry reminders now (the scheduler runs them at 07:30)."""
        from portal.scheduler import send_volunteer_expiry_reminders, use_app

        use_app(current_app._get_current_object())
        send_volunteer_expiry_reminders()

    @app.cli.command("check-directory")
    def check_directory() -> None:
        """Run the daily directory jobs now: stale listings, and referral answer deadlines."""
        from portal.scheduler import (
            flag_stale_activities,
            send_activity_referral_reminders,
            use_app,
        )

        use_app(current_app._get_current_object())
        flag_stale_activities()
        send_activity_referral_reminders()

    @app.cli.command("send-outcome-reports")
    @click.option("--due-only", is_flag=True, help="Only retries, notices and stale sends.")
    def send_outcome_reports(due_only: bool) -> None:
        """Run the outcome report job now; safe beside the scheduler (nothing is sent twice)."""
        from portal.scheduler import retry_outcome_reports, send_outcome_reports, use_app

        use_app(current_app._get_current_object())
        if due_only:
            retry_outcome_reports()
        else:
            send_outcome_reports()
        from portal.jobs.models import JobRun

        job = "retry_outcome_reports" if due_only else "send_outcome_reports"
        run = db.session.get(JobRun, job)
        click.echo(run.last_result if run else "nothing recorded")

    @app.cli.command("refresh-dashboard-facts")
    @click.option("--rebuild", is_flag=True, help="Work out every referral, not only changed ones.")
    def refresh_dashboard_facts(rebuild: bool) -> None:
        """Bring the dashboards' per-referral facts up to date (the scheduler rebuilds them
        nightly; a dashboard view refreshes changed referrals itself)."""
        from portal.dashboard import facts

        if rebuild:
            click.echo(f"Worked out the facts of {facts.rebuild()} referrals.")
        else:
            click.echo(f"Worked out {facts.refresh()} changed referrals and volunteer months.")
        db.session.commit()

    @app.cli.command("import-postcodes")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def import_postcodes(path: Path) -> None:
        """Load postcode district centroids from an ONS Postcode Directory CSV or outcode table."""
        from portal.matching import postcodes

        if not path.exists():
            click.echo(f"There is no file at {path}", err=True)
            sys.exit(1)
        try:
            reading = postcodes.read_file(path)
        except postcodes.PostcodeFileRefused as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        if not reading.districts:
            click.echo(f"No usable rows in {path}: nothing was changed.", err=True)
            sys.exit(1)
        count = postcodes.store(reading, f"{reading.layout}: {path.name}")
        db.session.commit()
        click.echo(
            f"{count} postcode districts loaded from {reading.rows} rows "
            f"({reading.layout}); {reading.skipped} rows skipped "
            "(terminated, no position, or not a postcode)."
        )

    @app.cli.command("run-scheduler")
    def run_scheduler() -> None:
        """Run the scheduled jobs in this one process (never inside web workers)."""
        from portal.scheduler import run

        run(current_app._get_current_object())


def print_demo_keys() -> None:
    from portal.auth.mfa import grouped_key
    from portal.demo import demo_authenticator_keys

    keys = demo_authenticator_keys()
    if not keys:
        return
    click.echo("Admin and coordinator logins then ask for a code from an authenticator app.")
    click.echo("Add these keys to your app, or run `make demo-code` for the current codes:")
    for email, secret in keys:
        click.echo(f"  {email}  {grouped_key(secret)}")
    click.echo("")


def print_demo_logins(logins: list[tuple[str, str, str]], password: str) -> None:
    click.echo("")
    click.echo(f"Demo logins (every password is the same: {password})")
    width = max(len(role) for role, _, _ in logins)
    for role, email, name in logins:
        click.echo(f"  {role.ljust(width)}  {email}  ({name})")
    click.echo("")
