from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal.audit.service import record_event
from portal.auth import mfa, service
from portal.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    InviteForm,
    LoginForm,
    ResetRequestForm,
    SetPasswordForm,
    SetupCodeForm,
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

SEEN_AT_PRECISION_S = 60


# Built once: this runs on every request, and building the statement each time cost
# about as much as running it.
_USER_BY_TOKEN = sa.select(User).where(User.session_token == sa.bindparam("token"))


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    user = db.session.execute(_USER_BY_TOKEN, {"token": session_token}).scalar()
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
    # Written at most once a minute: rewriting the session cookie on every request costs
    # each page its serialising and signing, and a Set-Cookie header. The idle timeout can
    # then end a session up to a minute early, never late.
    if now - session.get("seen_at", 0) > SEEN_AT_PRECISION_S:
        session["seen_at"] = now
    return None


# What an account that must use two-step login, but has not set it up, may still reach.
_BEFORE_SETUP = frozenset({"auth.mfa_setup", "auth.logout", "static"})


@bp.before_app_request
def require_two_step_setup():
    """An admin or coordinator sets up two-step login before seeing anything else."""
    if not current_user.is_authenticated or request.endpoint in _BEFORE_SETUP:
        return None
    if not mfa.must_enrol(current_user):
        return None
    target = url_for("auth.mfa_setup")
    if getattr(request, "htmx", None):
        response = current_app.make_response(("", 204))
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _login_key() -> str:
    return "login:" + service.normalise_email(request.form.get("email", ""))


def _failed_login(response) -> bool:
    """A refused login counts towards the limit; a fault of ours (5xx) does not."""
    return response.status_code != 302 and response.status_code < 500


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
            target = request.args.get("next")
            if user.mfa_enabled:
                return _ask_for_code(user, target)
            service.start_session(user)
            return redirect(target if is_safe_next(target) else start_page_url(user))
        failed = True
    return render("auth/login.html", form=form, failed=failed)


_PENDING = "mfa_pending"


def _ask_for_code(user: User, target: str | None):
    """The password was right: remember who, briefly, and ask for the second step.

    Nobody is logged in yet. The session token is kept so a password change or an
    administrator's reset in the meantime cancels the half-finished login.
    """
    session.clear()
    session[_PENDING] = {
        "user": user.id,
        "token": user.session_token,
        "at": utcnow().timestamp(),
        "next": target if is_safe_next(target) else None,
    }
    db.session.commit()  # the password hash may have been upgraded
    return redirect(url_for("auth.login_code"))


def _pending_user() -> User | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    waited = utcnow().timestamp() - pending.get("at", 0)
    if waited > current_app.config["MFA_PENDING_MINUTES"] * 60:
        session.pop(_PENDING, None)
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.is_active or not user.mfa_enabled:
        return None
    if user.session_token != pending.get("token"):
        return None
    return user


def _code_key() -> str:
    pending = session.get(_PENDING)
    who = pending.get("user") if isinstance(pending, dict) else None
    return f"login-code:{who}"


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["MFA_RATE_LIMIT"],
    key_func=_code_key,
    methods=["POST"],
    deduct_when=_failed_login,
)
def login_code():
    if current_user.is_authenticated:
        return redirect(start_page_url(current_user))
    user = _pending_user()
    if user is None:
        flash("Log in again to continue.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        used_recovery = mfa.looks_like_recovery_code(form.code.data)
        if mfa.verify_second_step(user, form.code.data):
            target = session[_PENDING].get("next")
            service.start_session(user)
            if used_recovery:
                left = mfa.recovery_codes_left(user)
                flash(
                    f"You logged in with a recovery code. You have {left} left. "
                    "Make new ones from 'Two-step login' if you are running low.",
                    "warning",
                )
            return redirect(target if is_safe_next(target) else start_page_url(user))
        db.session.rollback()
        record_event("mfa_failed", "user", user.id, actor_id=user.id, actor_role=str(user.role))
        form.code.errors.append("The code is not right. Check your app and try the newest code")
    return render("auth/login_code.html", form=form)


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


@bp.route("/account/two-step-login", methods=["GET", "POST"])
@login_required_any_role
def mfa_setup():
    """Set up two-step login: start, scan the QR code, type a code back, keep the codes."""
    user = current_user._get_current_object()
    form = SetupCodeForm()
    if request.method == "POST" and request.form.get("action") == "start":
        if not user.mfa_enabled:
            mfa.start_setup(user)
        return redirect(url_for("auth.mfa_setup"))
    if not user.mfa_enabled and user.totp_secret and form.validate_on_submit():
        codes = mfa.finish_setup(user, form.code.data)
        if codes is not None:
            return render("auth/mfa_codes.html", codes=codes, first_time=True)
        form.code.errors.append("The code is not right. Check the key and try the newest code")
    elif request.method == "POST" and user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"))
    return _two_step_page(user, form)


def _two_step_page(user: User, form: SetupCodeForm, status_code: int = 200, off_error=None):
    return render(
        "auth/mfa.html",
        status_code=status_code,
        form=form,
        off_error=off_error,
        user=user,
        required=mfa.required_for(user),
        codes_left=mfa.recovery_codes_left(user) if user.mfa_enabled else None,
        uri=mfa.setup_uri(user) if user.totp_secret and not user.mfa_enabled else None,
        qr_svg=mfa.qr_svg,
        grouped_key=mfa.grouped_key,
    )


@bp.route("/account/two-step-login/recovery-codes", methods=["POST"])
@login_required_any_role
def mfa_recovery_codes():
    user = current_user._get_current_object()
    form = SetupCodeForm()
    if not user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"))
    if form.validate_on_submit():
        codes = mfa.new_recovery_codes(user, form.code.data)
        if codes is not None:
            return render("auth/mfa_codes.html", codes=codes, first_time=False)
        form.code.errors.append("The code is not right. Try the newest code from your app")
    return _two_step_page(user, form, status_code=400)


@bp.route("/account/two-step-login/off", methods=["POST"])
@login_required_any_role
def mfa_turn_off():
    """Someone who chose two-step login may stop; a role that requires it may not."""
    user = current_user._get_current_object()
    if not user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"))
    if mfa.required_for(user):
        abort(403)
    form = SetupCodeForm()
    if form.validate_on_submit() and mfa.check_code(user, form.code.data):
        mfa.switch_off(user, by=user)
        service.start_session(user)
        flash("Two-step login is off.", "success")
        return redirect(url_for("auth.mfa_setup"))
    return _two_step_page(
        user,
        SetupCodeForm(formdata=None),
        status_code=400,
        off_error="The code is not right. Try the newest code from your app",
    )


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
    # Each row names the person's practice or organisation: read with the page, not one by one.
    query = (
        sa.select(User)
        .options(joinedload(User.practice), joinedload(User.organisation))
        .order_by(User.role, User.full_name)
    )
    if role in {r.value for r in Role}:
        query = query.where(User.role == role)
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render(
        "auth/users.html",
        "auth/partials/_users_table.html",
        page=page,
        roles=Role,
        role=role,
        mfa_required_roles=current_app.config["MFA_REQUIRED_ROLES"],
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


@bp.route("/admin/users/<int:user_id>/two-step-login/reset", methods=["POST"])
@roles_required(Role.ADMIN)
def reset_mfa(user_id: int):
    """For someone who has lost their phone and their recovery codes."""
    user = _get_user_or_404(user_id)
    if user.id == current_user.id:
        flash("Ask another administrator to reset your own two-step login.", "warning")
        return redirect(url_for("auth.users"))
    if user.mfa_enabled or user.totp_secret:
        mfa.switch_off(user, by=current_user)
        flash(
            f"Two-step login for {user.full_name} is reset. They set it up again at their "
            "next login, and have been logged out everywhere.",
            "success",
        )
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
