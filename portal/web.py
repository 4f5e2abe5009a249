"""Web plumbing shared by every blueprint: full page or htmx partial, headers, errors."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    make_response,
    render_template,
    request,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from htmx_flask.requests import HtmxAwareRequest
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property

log = logging.getLogger(__name__)


def wants_partial() -> bool:
    """True for an htmx request that swaps part of a page.

    Boosted requests and history restores replace the whole page, so they get
    the full page like any other browser request.
    """
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(template: str, partial: str | None = None, status_code: int = 200, **context: Any):
    """Render the full page, or only its partial for a non-boosted htmx request.

    The partial is included by the full page, so both come from one piece of markup.
    """
    name = partial if partial and wants_partial() else template
    response = make_response(render_template(name, **context), status_code)
    response.vary.add("HX-Request")
    return response


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return False
    # Only plain ASCII, checked as given and once decoded: a proxy or a second redirect
    # that decodes `/%2F%2Fevil.example` or folds a look-alike slash must not leave the site.
    if not target.isascii():
        return False
    for form in (target, unquote(target)):
        if any(ch in form for ch in "\\\t\r\n") or not form.startswith("/"):
            return False
        if form.startswith("//"):
            return False
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return False
    return True


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _security_headers(response: Response) -> Response:
    nonce = g.get("csp_nonce") or csp_nonce()
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # Anything shown to a logged-in person may hold personal data, and so may a form
    # shown again with what someone sent (a self-referral): never cache either.
    personal = current_user.is_authenticated or request.method != "GET"
    if personal and not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _error_page(status: int, title: str, message: str):
    if request.path.startswith("/api/"):
        return {"error": title, "detail": message}, status
    return render(
        "errors/error.html",
        "errors/partials/_error.html",
        status_code=status,
        title=title,
        message=message,
        code=status,
    )


def _forget_user() -> None:
    """An error page must not ask the database who is logged in: it may be what failed.

    Flask-Login loads the user on first use, from the page's header; a failing load
    inside the error handler would turn a calm 503 into a bare 500.
    """
    g._login_user = current_app.login_manager.anonymous_user()


def _without_nul(values: ImmutableMultiDict) -> ImmutableMultiDict:
    if not any("\x00" in v for v in values.values()):
        return values
    return ImmutableMultiDict([(k, v.replace("\x00", "")) for k, v in values.items(multi=True)])


class PortalRequest(HtmxAwareRequest):
    """Form fields and query values with any NUL character dropped: nobody types one,
    and PostgreSQL cannot store one, so it would otherwise end in a server error."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self.__dict__["form"] = _without_nul(self.__dict__["form"])

    @cached_property
    def args(self) -> ImmutableMultiDict:
        return _without_nul(super().args)


def register_web(app: Flask) -> None:
    # htmx-flask's request (request.htmx), with NUL characters dropped.
    app.request_class = PortalRequest
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.errorhandler(400)
    def bad_request(exc):
        return _error_page(
            400,
            "Something was wrong with that request",
            "Go back, check what you entered and try again.",
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        view = app.view_functions.get(request.endpoint or "")
        if not current_user.is_authenticated and getattr(view, "allowed_roles", None):
            # The session ended (a timeout) while a form was open: log in again. What was
            # typed stays in this browser (static/js/drafts.js) and comes back on the form.
            from portal.extensions import login_manager

            flash(
                "For your security, you were logged out. Log in again: "
                "anything you typed but had not saved is kept on this device.",
                "info",
            )
            return login_manager.unauthorized()
        return _error_page(
            400,
            "Your form has expired",
            "For your security, forms time out. Go back, reload the page "
            "and try again. Nothing was saved.",
        )

    @app.errorhandler(403)
    def forbidden(exc):
        from portal.audit.service import record_event

        record_event("forbidden", "path", request.path[:64])
        return _error_page(
            403,
            "You do not have access to this page",
            "If you think you should, ask your hub administrator.",
        )

    @app.errorhandler(404)
    def not_found(exc):
        return _error_page(
            404, "Page not found", "If you typed the web address, check it is correct."
        )

    @app.errorhandler(405)
    def not_allowed(exc):
        return _error_page(
            405, "That action is not available here", "Go back and use the buttons on the page."
        )

    @app.errorhandler(413)
    def too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return _error_page(
            413,
            "That file or form is too large",
            f"The most we can take at once is {limit} MB. Split a large file into smaller "
            "ones and try again. Nothing was saved.",
        )

    @app.errorhandler(429)
    def too_many(exc):
        return _error_page(
            429, "Too many attempts", "For your security, please wait a few minutes and try again."
        )

    @app.teardown_appcontext
    def end_the_session_even_if_the_database_went_away(exc) -> None:
        """Registered after Flask-SQLAlchemy's own teardown, so it runs first.

        If the database drops the connection (a restart) between a request's last query
        and the closing ROLLBACK, that ROLLBACK raises after the answer is made, and the
        person would get a bare 500 instead of it. SQLAlchemy has already thrown the dead
        connection away; forgetting the session is all that is left to do.
        """
        from portal.extensions import db

        try:
            db.session.remove()
        except DBAPIError as error:
            log.warning("database connection lost at the end of a request: %s", error.orig)
            db.session.registry.clear()

    @app.errorhandler(OperationalError)
    def database_unavailable(exc):
        # One line for the operator; the person sees a calm page, never the error.
        log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        from portal.extensions import db

        db.session.rollback()
        _forget_user()
        title = "Sorry, the service is unavailable"
        message = (
            "We could not reach our records just now. Nothing was lost from before "
            "this moment. Please try again in a few minutes."
        )
        if request.path.startswith("/api/"):
            return {"error": title, "detail": message}, 503
        response = make_response(
            render_template("errors/unavailable.html", title=title, message=message), 503
        )
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(500)
    def server_error(exc):
        _forget_user()
        return _error_page(
            500,
            "Sorry, there is a problem with the service",
            "Please try again later. If it keeps happening, contact the hub.",
        )
