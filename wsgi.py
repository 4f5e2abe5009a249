"""The WSGI entry point: `gunicorn wsgi:app`, and the app `flask` finds."""

from config import ConfigError
from portal import create_app

try:
    app = create_app()
except ConfigError as exc:
    # One clear line, no traceback.
    raise SystemExit(f"Portal cannot start: {exc}") from None
