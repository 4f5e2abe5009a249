"""Configuration classes, read from the environment.

PORTAL_ENV picks the class: development (the default), test or production.
Every setting a deployment may change is listed in the README's table.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line a person can act on."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {value!r}.") from exc


def database_url(raw: str | None) -> str:
    """The SQLAlchemy URL: SQLite in instance/ unless DATABASE_URL says otherwise.

    postgres:// and postgresql:// URLs are pointed at the psycopg 3 driver.
    """
    if not raw:
        return f"sqlite:///{INSTANCE_DIR / 'portal.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Sessions: signed cookies, so any worker on any host can serve any request.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    SESSION_COOKIE_NAME = "portal_session"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_DURATION = timedelta(days=1)
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_ABSOLUTE_HOURS)
    # The cookie is sent again only when the session changes (seen_at, at most once a
    # minute: auth/views.py), not on every answer; the timeouts are checked on the server.
    SESSION_REFRESH_EACH_REQUEST = False

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which has its own timeouts
    # The NHS.UK macros' HTML, kept per process for the same params (portal/component_cache.py);
    # off only to compare with the macros as the package ships them.
    NHSUK_COMPONENT_CACHE = True
    # The commissioner dashboard's figures are kept by each worker until what they are read
    # from changes, and at most this long (portal/dashboard/kept.py); 0 works them out on
    # every view.
    DASHBOARD_FIGURES_SECONDS = _int("DASHBOARD_FIGURES_SECONDS", 300)
    WTF_CSRF_HEADERS = ["X-CSRFToken"]

    # Rate limits are counted in the database so every worker on every host shares them.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "portal-db://")
    RATELIMIT_HEADERS_ENABLED = True
    # When the database itself is down, the request already gets the 503 page; a failed
    # counter write after it must not turn that into a bare 500.
    RATELIMIT_SWALLOW_ERRORS = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "5 per 15 minutes")
    LOGIN_RATE_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_PER_ADDRESS", "50 per hour")

    # Roles that must use two-step login (an authenticator app code after the password).
    MFA_REQUIRED_ROLES = tuple(
        r.strip()
        for r in os.environ.get("MFA_REQUIRED_ROLES", "admin,coordinator").split(",")
        if r.strip()
    )
    # How long the code page waits after a right password before asking for it again.
    MFA_PENDING_MINUTES = _int("MFA_PENDING_MINUTES", 5)
    MFA_RATE_LIMIT = os.environ.get("MFA_RATE_LIMIT", "5 per 15 minutes")

    # Retention, in months, per kind of record. A closed case is anonymised this long after
    # its person's last referral closed (the NHS Records Management Code of Practice 2023
    # keeps adult social care records 8 years after care ends); figures are kept.
    # A former volunteer (and an applicant who was not taken on) is anonymised this long
    # after they left: six years, as personnel records are commonly kept, which covers the
    # limitation period for claims. Their hours and contacts still count in the figures.
    RETENTION_MONTHS = {
        "closed_case": _int("RETENTION_CLOSED_CASE_MONTHS", 96),
        "former_volunteer": _int("RETENTION_FORMER_VOLUNTEER_MONTHS", 72),
    }

    # Invitation and password-reset links.
    INVITE_VALID_HOURS = _int("INVITE_VALID_HOURS", 72)
    RESET_VALID_MINUTES = _int("RESET_VALID_MINUTES", 60)
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = _int("ARGON2_MEMORY_KIB", 65536)

    # Mail: "smtp" sends through MAIL_SERVER; "console" prints messages to the log (development).
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_STARTTLS = _bool("MAIL_USE_STARTTLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "hub@social-prescribing.invalid")
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 10)

    HUB_NAME = os.environ.get("HUB_NAME", "Social prescribing hub")
    # Where people reach the portal: links in emails sent by scheduled jobs start with it.
    PORTAL_URL = os.environ.get("PORTAL_URL", "http://127.0.0.1:5000")
    HUB_PHONE = os.environ.get("HUB_PHONE", "024 7600 0000")
    # Where practices write back about a report; shown in every report.
    HUB_EMAIL = os.environ.get("HUB_EMAIL", "hub@social-prescribing.invalid")
    # GP outcome reports: the morning run (London time), and how hard a failed send is retried.
    REPORT_RUN_HOUR = _int("REPORT_RUN_HOUR", 7)
    REPORT_MAX_ATTEMPTS = _int("REPORT_MAX_ATTEMPTS", 5)
    # The wait after the first failure; each later wait is three times the one before.
    REPORT_RETRY_MINUTES = _int("REPORT_RETRY_MINUTES", 5)
    # A send still "in progress" after this long was cut short (the process died): retry it.
    REPORT_STALE_MINUTES = _int("REPORT_STALE_MINUTES", 15)
    PAGE_SIZE = 25
    # Failed attempts to reach a person before triage may close as "unable to contact".
    TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT = _int("TRIAGE_ATTEMPTS_BEFORE_UNABLE_TO_CONTACT", 3)
    # Public forms (self-referral, volunteer sign-up): submissions per address.
    PUBLIC_FORM_RATE_LIMIT = os.environ.get("PUBLIC_FORM_RATE_LIMIT", "5 per hour")
    # A case is flagged overdue after this many days without a successful contact.
    CASE_CONTACT_OVERDUE_DAYS = _int("CASE_CONTACT_OVERDUE_DAYS", 14)
    # A newly assigned case is due its first contact this many days after assignment.
    CASE_FIRST_CONTACT_DAYS = _int("CASE_FIRST_CONTACT_DAYS", 5)
    # How long the author of a contact may still correct it.
    CONTACT_EDIT_HOURS = _int("CONTACT_EDIT_HOURS", 24)
    # A DBS certificate is renewed (or rechecked on the Update Service) after this many years.
    DBS_RENEWAL_YEARS = _int("DBS_RENEWAL_YEARS", 3)
    # Days before a DBS check or training runs out that the volunteer is reminded.
    EXPIRY_REMINDER_DAYS = tuple(
        int(d) for d in os.environ.get("EXPIRY_REMINDER_DAYS", "60,30,7").split(",")
    )
    # An active buddy with no logged contact for this many days is shown to coordinators.
    BUDDY_QUIET_DAYS = _int("BUDDY_QUIET_DAYS", 14)
    # An activity not confirmed by its organisation for this many months "may be out of date".
    ACTIVITY_FRESHNESS_MONTHS = _int("ACTIVITY_FRESHNESS_MONTHS", 6)
    # An organisation answers an activity referral within this many working days...
    ACTIVITY_RESPONSE_WORKING_DAYS = _int("ACTIVITY_RESPONSE_WORKING_DAYS", 10)
    # ...and is reminded when this many working days are left.
    ACTIVITY_REMINDER_WORKING_DAYS = _int("ACTIVITY_REMINDER_WORKING_DAYS", 2)
    # The town and county given in directory addresses that do not name their own.
    DIRECTORY_TOWN = os.environ.get("DIRECTORY_TOWN", "Coventry")
    DIRECTORY_COUNTY = os.environ.get("DIRECTORY_COUNTY", "West Midlands")
    # The largest CSV of activities a coordinator can import at once.
    ACTIVITY_IMPORT_MAX_ROWS = _int("ACTIVITY_IMPORT_MAX_ROWS", 2000)
    # No request body (a form or an uploaded CSV) may be larger than this.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)

    @classmethod
    def validate(cls) -> None:
        """Raise ConfigError for a setting this environment cannot run without."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # A fixed key is fine on a developer's machine; production refuses to start without one.
    SECRET_KEY = os.environ.get("SECRET_KEY") or "development-only-not-secret"
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = (
        database_url(os.environ.get("TEST_DATABASE_URL"))
        if os.environ.get("TEST_DATABASE_URL")
        else "sqlite://"
    )
    # Tests that check CSRF switch it back on; the rest post forms without a token.
    WTF_CSRF_ENABLED = False
    # Like CSRF: the two-step login tests (tests/auth/test_mfa.py and the browser journey)
    # require it for admins and coordinators; the rest log in with a password only.
    MFA_REQUIRED_ROLES = ()
    RATELIMIT_STORAGE_URI = "portal-db://"
    # Cheap hashing keeps the suite fast; test_passwords checks the production parameters.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    MAIL_BACKEND = "smtp"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def validate(cls) -> None:
        if not os.environ.get("SECRET_KEY"):
            raise ConfigError(
                "SECRET_KEY is not set: production refuses to start without it "
                '(generate one with: python -c "import secrets; print(secrets.token_hex(32))").'
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> type[Config]:
    name = name or os.environ.get("PORTAL_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError as exc:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.") from exc
