from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.auth import service
from portal.auth.forms import (
    ChangePasswordForm,
    InviteForm,
    LoginForm,
    ResetRequestForm,
    SetPasswordForm,
)
from portal.auth.models import Role, User
from portal.auth.permissions import START_PAGES, login_required_any_role, roles_required
from portal.db_types import utcnow
from portal.directory.models import Organisation
from portal.extensions import db, limiter, login_manager
from portal.mail import MailError
from portal.referrals.models import Practice
from portal.web import is_safe_next, render

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    user = db.session.scalar(sa.select(User).where(User.session_token == session_token))
    return user if user is not None and user.is_active else None


@login_manager.unauthorized_handler
def send_to_login():
    """To the login page, and back to this page afterwards (its path only, never a host).

    An htmx request is told to load the login page in full, rather than swapping the
    login form into part of the page the person was typing in.
    """
    if not session.get("_flashes"):
        flash("Log in to see this page.", "info")
    if getattr(request, "htmx", None):
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = current.path + (f"?{current.query}" if current.query else "")
        response = current_app.make_response(("", 401))
        response.headers["HX-Redirect"] = url_for(
            "auth.login", next=back if is_safe_next(back) else None
        )
        return response
    back = request.full_path if request.method == "GET" else None
    return redirect(url_for("auth.login", next=back.rstrip("?") if back else None))


def start_page_url(user: User) -> str:
    return url_for(START_PAGES[user.role])


@bp.before_app_request
def enforce_session_timeouts():
    """Idle and absolute timeouts (ASVS 7.3): an old session is ended, not extended."""
    if not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    cfg = current_app.config
    idle = now - session.get("seen_at", 0) > cfg["SESSION_IDLE_MINUTES"] * 60
    too_old = now - session.get("auth_at", 0) > cfg["SESSION_ABSOLUTE_HOURS"] * 3600
    if idle or too_old:
        service.end_session(current_user._get_current_object())
        flash("For your security, you were logged out. Please log in again.", "info")
        return login_manager.unauthorized()
    session["seen_at"] = now
    return None


def _login_key() -> str:
    return "login:" + service.normalise_email(request.form.get("email", ""))


def _failed_login(response) -> bool:
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=_login_key,
    methods=["POST"],
    deduct_when=_failed_login,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"],
    key_func=lambda: "login-address:" + (get_remote_address() or ""),
    methods=["POST"],
    deduct_when=_failed_login,
)
def login():
    if current_user.is_authenticated:
        return redirect(start_page_url(current_user))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            service.start_session(user)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else start_page_url(user))
        failed = True
    return render("auth/login.html", form=form, failed=failed)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        service.end_session(current_user._get_current_object())
    flash("You have logged out.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/home")
@login_required_any_role
def home():
    return redirect(start_page_url(current_user))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required_any_role
def change_password():
    form = ChangePasswordForm()
    form.email_for_check = current_user.email
    if form.validate_on_submit():
        from portal.auth.passwords import verify_password

        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append("Your current password is not right")
        else:
            user = current_user._get_current_object()
            service.set_password(user, form.password.data)
            # This session carries on with the new token; every other one has ended.
            service.start_session(user)
            flash(
                "Your password has been changed. You have been logged out everywhere else.",
                "success",
            )
            return redirect(start_page_url(user))
    return render("auth/change_password.html", form=form)


def _token_page(purpose: str, token: str, template: str, done_message: str):
    try:
        user = service.read_token(token, purpose)
    except service.TokenError as exc:
        return render(
            "auth/link_problem.html", status_code=400, expired=exc.expired, purpose=purpose
        )
    form = SetPasswordForm()
    form.email_for_check = user.email
    if form.validate_on_submit():
        service.set_password(user, form.password.data)
        flash(done_message, "success")
        return redirect(url_for("auth.login"))
    return render(template, form=form, user=user)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    return _token_page(
        service.INVITE,
        token,
        "auth/accept_invite.html",
        "Your password is set. You can now log in.",
    )


@bp.route("/password-reset", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def request_reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        try:
            service.request_password_reset(form.email.data)
        except MailError:
            current_app.logger.warning("password reset email could not be sent")
        return render("auth/reset_sent.html")
    return render("auth/reset_request.html", form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _token_page(
        service.RESET,
        token,
        "auth/reset_password.html",
        "Your password has been changed. You can now log in.",
    )


# --- Administration of accounts -------------------------------------------------------------


def _invite_choices(form: InviteForm) -> None:
    practices = db.session.execute(sa.select(Practice.id, Practice.name).order_by(Practice.name))
    orgs = db.session.execute(
        sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    )
    form.practice_id.choices = [SelectChoice("", "Not a practice user")] + [
        SelectChoice(str(i), n) for i, n in practices
    ]
    form.organisation_id.choices = [SelectChoice("", "Not an organisation member")] + [
        SelectChoice(str(i), n) for i, n in orgs
    ]


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    role = request.args.get("role", "")
    query = sa.select(User).order_by(User.role, User.full_name)
    if role in {r.value for r in Role}:
        query = query.where(User.role == role)
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render(
        "auth/users.html", "auth/partials/_users_table.html", page=page, roles=Role, role=role
    )


@bp.route("/admin/users/invite", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def invite():
    form = InviteForm()
    _invite_choices(form)
    if form.validate_on_submit():
        if service.find_user_by_email(form.email.data):
            form.email.errors.append("There is already an account with this email address")
        else:
            try:
                user = service.invite_user(
                    email=form.email.data,
                    full_name=form.full_name.data,
                    role=Role(form.role.data),
                    invited_by=current_user,
                    practice_id=form.practice_id.data,
                    organisation_id=form.organisation_id.data,
                )
                flash(f"Invitation sent to {user.email}.", "success")
            except MailError:
                flash(
                    "The account was created but the invitation email could not be sent. "
                    "Use 'Send invitation again' once email is working.",
                    "warning",
                )
            return redirect(url_for("auth.users"))
    return render("auth/invite.html", form=form)


def _get_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/admin/users/<int:user_id>/resend", methods=["POST"])
@roles_required(Role.ADMIN)
def resend_invite(user_id: int):
    user = _get_user_or_404(user_id)
    try:
        service.send_invitation(user, current_user)
        flash(f"Invitation sent again to {user.email}.", "success")
    except MailError:
        flash("The invitation email could not be sent. Check the mail settings.", "warning")
    return redirect(url_for("auth.users"))


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    user = _get_user_or_404(user_id)
    if user.id == current_user.id:
        flash("You cannot disable your own account.", "warning")
        return redirect(url_for("auth.users"))
    active = request.form.get("active") == "1"
    service.set_active(user, active)
    flash(f"{user.full_name} is now {'enabled' if active else 'disabled'}.", "success")
    return redirect(url_for("auth.users"))
