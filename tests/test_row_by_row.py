"""No page reads its rows' related records one at a time (an "N+1").

Each role logs in to the demo hub and follows the links on every page it can reach, as a
person clicking through would. For each page, the statements it sends are grouped by
their text: a text sent three times or more with different values is a lazy load or a
query in a loop, so a page with more rows would send more of them. The test names each
such page and the statement.

The same statement sent again with the same values (a check repeated before each figure,
say) costs no more on a bigger page and is not counted here.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.mfa import current_code
from portal.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_authenticator_keys, seed
from portal.extensions import db

LINK = re.compile(r'href="([^"#]+)"')
# Not pages: files, and the log out form's target.
NOT_PAGES = re.compile(r"^/static/|/logout$|\.(pdf|csv|json)$")
PER_PATTERN = 2  # pages of one shape (ids differ) visited per role
MOST_PAGES = 250  # per role, a bound in case links lead on for ever
REPEATS = 3


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path.split("?")[0])


def _logged_in(app, email: str, keys: dict[str, str]):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    if response.status_code == 302 and urlsplit(response.location).path == "/login/code":
        response = client.post("/login/code", data={"code": current_code(keys[email])})
    assert response.status_code == 302, email
    return client, urlsplit(response.location).path


def _links(page: str, here: str) -> list[str]:
    found = []
    for href in LINK.findall(page):
        target = urlsplit(urljoin(f"http://localhost{here}", html.unescape(href)))
        if target.netloc != "localhost" or NOT_PAGES.search(target.path):
            continue
        found.append(target.path + (f"?{target.query}" if target.query else ""))
    return found


@pytest.fixture
def statements(app):
    """Every statement sent one at a time, with its values, while the test runs."""
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not executemany:  # a batch of rows written at once is one round trip
            sent.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(engine, "before_cursor_execute", record)


def test_no_page_reads_its_rows_one_by_one(app, statements):
    seed()
    keys = dict(demo_authenticator_keys())
    sent = statements
    visited: dict[str, int] = {}
    row_by_row: dict[str, str] = {}
    for _, email, _ in DEMO_ACCOUNTS:
        client, start = _logged_in(app, email, keys)
        seen: set[str] = set()
        shapes: dict[str, int] = defaultdict(int)
        queue = [start]
        while queue and len(seen) < MOST_PAGES:
            path = queue.pop(0)
            if path in seen or shapes[_shape(path)] >= PER_PATTERN:
                continue
            seen.add(path)
            shapes[_shape(path)] += 1
            sent.clear()
            response = client.get(path)
            values_by_text: dict[str, set] = defaultdict(set)
            for statement, values in sent:
                values_by_text[statement].add(repr(values))
            for statement, values in values_by_text.items():
                if len(values) >= REPEATS:
                    row_by_row[f"{email} GET {path}"] = statement[:200]
            if response.status_code == 200 and response.mimetype == "text/html":
                queue.extend(_links(response.get_data(as_text=True), path))
        visited[email] = len(seen)

    assert row_by_row == {}
    # The crawl really went round the hub: each role reached several pages.
    assert all(n >= 3 for n in visited.values()), visited
    assert sum(visited.values()) >= 100, visited
