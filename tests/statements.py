"""How many SQL statements a request sends: for the tests that a page's queries do not grow
with its rows."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db


def statements_sent(app, client, path: str) -> list[str]:
    """The statements sent while `client` gets `path`, which must answer 200."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return sent


def statements_of(app, client, path: str) -> int:
    """How many statements `client` getting `path` sends."""
    return len(statements_sent(app, client, path))
