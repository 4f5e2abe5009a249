"""The people of the load test, as locust users: one class per role.

Each user behaves as a person in a browser would: it logs in through the login form (with
the CSRF token from the page), opens pages, reads the forms on them and posts what a
person would type, with htmx's headers where the page sends the form through htmx. Think
times come between pages, and between opening a form and sending it.

Every write carries a unique marker (`LT-<run>-<n>`) in its free text. The `Ledger` keeps
the marker of every write sent and of every write the portal answered with its success
response, so that the database can be checked afterwards: each success saved exactly
once, with the right author and on the right record.

Nothing here retries a request (`max_retries = 0`): a write is sent once.
"""

from __future__ import annotations

import functools
import html
import itertools
import random
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import gevent.event
import nhs_number
from locust import FastHttpUser, between, task
from locust.exception import StopUser

from benchmarks.pages import CSRF_FIELD

LONDON = ZoneInfo("Europe/London")
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}

# --- the working set the seeding hands over -------------------------------------------------


@dataclass
class Account:
    """A login one simulated person uses; nobody else uses it during the run."""

    role: str  # navigator, volunteer, practice
    email: str
    full_name: str
    user_id: int
    practice_id: int | None = None  # practice users
    matches: dict[int, datetime] = field(default_factory=dict)  # volunteers: active match, start
    joined_on: date | None = None  # volunteers: no time can be logged before this day
    logged: dict[date, int] = field(default_factory=dict)  # volunteers: minutes this run, by UK day


@dataclass
class KnownPerson:
    """Someone a practice has referred before and may refer again."""

    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str


@dataclass
class WorkingSet:
    password: str
    accounts: dict[str, list[Account]]
    search_terms: list[str]  # what the public types into the directory's search box
    categories: list[str]  # the directory's category filter values
    known_people: dict[int, list[KnownPerson]]  # by practice id
    taken_nhs_numbers: set[str]  # every NHS number in the database before the run


# --- what the run records -------------------------------------------------------------------


@dataclass
class Write:
    kind: str  # navigator_contact, buddy_contact, volunteer_hours, referral
    marker: str
    email: str  # who sent it
    target: int  # the case (contacts), the practice (referrals) or the volunteer's user (hours)
    page: str  # the request's name in the figures
    saved: bool = False  # the portal answered with its success response
    answer: str = ""  # what came back otherwise


class Ledger:
    """Every write sent, by marker, and whether the portal said it was saved."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.pattern = re.compile(rf"LT-{re.escape(run_id)}-\d{{6}}")
        self._numbers = itertools.count(1)
        self.writes: dict[str, Write] = {}

    def new(self, kind: str, email: str, target: int, page: str) -> str:
        marker = f"LT-{self.run_id}-{next(self._numbers):06d}"
        self.writes[marker] = Write(kind, marker, email, target, page)
        return marker

    def saved(self, marker: str) -> None:
        self.writes[marker].saved = True

    def refused(self, marker: str, answer: str) -> None:
        self.writes[marker].answer = answer


class RequestLog:
    """Every request's time (successes) or failure message, by page name."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, Counter] = defaultdict(Counter)

    def on_request(self, request_type, name, response_time, response_length, exception=None, **kw):
        if exception is None:
            self.times[name].append(response_time)
        else:
            self.failures[name][_message(exception)] += 1

    def names(self) -> list[str]:
        return sorted(set(self.times) | set(self.failures))

    def count(self, name: str) -> int:
        return len(self.times.get(name, ())) + sum(self.failures.get(name, Counter()).values())

    def total(self) -> int:
        return sum(self.count(n) for n in self.names())

    def failed(self) -> int:
        return sum(sum(c.values()) for c in self.failures.values())


def _message(exception: BaseException) -> str:
    text = str(exception).strip()
    if type(exception).__name__ == "CatchResponseError":
        return text
    return f"{type(exception).__name__}: {text}"[:200]


@dataclass
class Shared:
    """What every simulated person shares: the working set, the ledger, the accounts left."""

    working_set: WorkingSet
    ledger: Ledger
    rng: random.Random
    free: dict[str, deque] = field(default_factory=dict)
    problems: Counter = field(default_factory=Counter)  # client-side trouble, by message
    # Set when the time is up: each person stops at their next pause or next task, never
    # in the middle of a request (see run.py).
    stopping: gevent.event.Event = field(default_factory=gevent.event.Event)

    def __post_init__(self) -> None:
        self.free = {role: deque(accounts) for role, accounts in self.working_set.accounts.items()}

    def take(self, role: str) -> Account:
        if not self.free.get(role):
            self.problems[f"no {role} account left for another {role}"] += 1
            raise StopUser()
        return self.free[role].popleft()

    def new_nhs_number(self) -> str:
        """A valid NHS number in the 999 test range that nobody in the database has."""
        taken = self.working_set.taken_nhs_numbers
        while True:
            stem = f"999{self.rng.randrange(1_000_000):06d}"
            check = nhs_number.calculate_checksum(stem)
            if check is None or check == 10 or f"{stem}{check}" in taken:
                continue
            number = f"{stem}{check}"
            taken.add(number)
            return number


# --- reading forms as a browser does ---------------------------------------------------------


class Form:
    """A form's action and the name/value pairs a browser would send for it unchanged."""

    def __init__(self, action: str, attrs: dict[str, str]):
        self.action = action
        self.attrs = attrs
        self.pairs: list[tuple[str, str]] = []
        self.options: dict[str, list[str]] = defaultdict(list)  # radios, checkboxes, selects

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.pairs if n == name), None)

    def set(self, name: str, value: str | list[str] | None) -> None:
        """Replace the field's values (a list for checkboxes; None to leave it out)."""
        values = [] if value is None else value if isinstance(value, list) else [value]
        self.pairs = [(n, v) for n, v in self.pairs if n != name]
        self.pairs.extend((name, v) for v in values)

    def body(self) -> str:
        return urlencode(self.pairs)


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[str], list[str], bool] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a)
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is None:
            return
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                form.options[name].append(a.get("value", "on"))
                if "checked" in a:
                    form.pairs.append((name, a.get("value", "on")))
            else:
                form.pairs.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = (name, [])
        elif tag == "select" and name:
            self._select = (name, [], [], "multiple" in a)
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select[1].append(value)
            if "selected" in a:
                self._select[2].append(value)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None and self._form is not None:
            name, parts = self._textarea
            self._form.pairs.append((name, "".join(parts).removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options, selected, multiple = self._select
            self._form.options[name] = options
            chosen = selected if multiple else (selected[-1:] or options[:1])
            self._form.pairs.extend((name, v) for v in chosen)
            self._select = None
        elif tag == "form":
            self._form = None


def find_form(page: str, action: str) -> Form | None:
    reader = _FormReader()
    reader.feed(page)
    return next((f for f in reader.forms if f.action == action), None)


def local_input(moment: datetime) -> str:
    """A UTC time as a `datetime-local` box shows it: London wall clock, to the minute."""
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def _path(location: str) -> str:
    return urlsplit(location).path if location else ""


# --- the people --------------------------------------------------------------------------------


def step(weight: int):
    """A locust task that does not start once the time is up."""

    def wrap(function):
        @functools.wraps(function)
        def run(self):
            if self.shared.stopping.is_set():
                raise StopUser()
            return function(self)

        return task(weight)(run)

    return wrap


@dataclass
class Answer:
    status: int
    text: str
    location: str  # the path a redirect points to


class Person(FastHttpUser):
    """What every role shares: logging in, opening pages, sending forms, checking answers."""

    abstract = True
    shared: Shared  # set by run.py before the run
    role = ""  # which accounts this role takes; "" for the public, who do not log in
    home = ""  # where the portal sends this role after logging in
    home_marker = ""
    max_retries = 0  # a write is sent once, never again behind the script's back
    network_timeout = 180.0
    connection_timeout = 30.0
    wait_time = between(1, 5)  # run.py sets the think time it was given

    def on_start(self) -> None:
        # The production config marks cookies Secure. Browsers send Secure cookies to
        # http://127.0.0.1 (a secure context), and so does this client; the server is
        # unchanged. (geventhttpclient 2.6 undoes locust's own workaround for this.)
        self.client.cookiejar.set_policy(
            DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        )
        self.rng = random.Random(self.shared.rng.random())
        self.account: Account | None = self.shared.take(self.role) if self.role else None
        self.logged_in = False
        if self.account is not None:
            self.login()

    # --- requests ---

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        form: Form | None = None,
        htmx: bool = False,
        expect: int = 200,
        marker: str | None = None,
        to: re.Pattern | None = None,
    ) -> Answer | None:
        """One request, judged: the expected status (and, for a redirect, where it points),
        and `marker` in the page. None when the answer is not what a person expects."""
        headers = {}
        if htmx:
            headers |= {"HX-Request": "true", "HX-Current-URL": f"{self.host}{path}"}
        if form is not None:
            headers |= FORM_TYPE
            token = form.get("csrf_token")
            if htmx and token:
                headers["X-CSRFToken"] = token  # what hx-headers on <body> adds
        with self.client.request(
            method,
            path,
            name=name,
            data=form.body() if form is not None else None,
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            location = _path(response.headers.get("Location") or "") if status else ""
            if status == 0:
                error = getattr(response, "error", None) or "no answer"
                response.failure(f"no answer: {type(error).__name__}: {error}"[:200])
                return None
            if status != expect:
                if status in (302, 303) and location == "/login":
                    self.logged_in = False
                    response.failure(f"{status} to /login (the session ended)")
                else:
                    response.failure(f"{status}" + (f" to {location}" if location else ""))
                return None
            if to is not None and not to.fullmatch(location):
                response.failure(f"{status} to {location or 'nowhere'}")
                return None
            text = response.text or ""
            if marker and marker not in text:
                response.failure(f"{status} without {marker!r}")
                return None
            response.success()
            return Answer(status, text, location)

    def page(self, path: str, name: str, marker: str, htmx: bool = False) -> str | None:
        answer = self.call("GET", path, name, marker=marker, htmx=htmx)
        return answer.text if answer else None

    def no_form(self, name: str, action: str) -> None:
        self.shared.problems[f"{name}: the page had no form for {action}"] += 1

    def login(self) -> bool:
        """GET /login, then POST it with the CSRF token from the page (as pages.Visitor does)."""
        assert self.account is not None
        page = self.page("/login", "GET /login", 'name="csrf_token"')
        if page is None:
            return False
        token = CSRF_FIELD.search(page)
        form = Form("/login", {})
        form.pairs = [
            ("csrf_token", html.unescape(token.group(1)) if token else ""),
            ("email", self.account.email),
            ("password", self.shared.working_set.password),
        ]
        answer = self.call(
            "POST",
            "/login",
            "POST /login",
            form=form,
            expect=302,
            to=re.compile(re.escape(self.home)),
        )
        if answer is None:
            return False
        self.logged_in = True
        self.page(self.home, f"GET {self.home}", self.home_marker)
        return True

    def ready(self) -> bool:
        """Logged in, or logged in again after the session ended (which counts as an error)."""
        return self.logged_in or self.login()

    def think(self) -> None:
        """A person reading the page or filling in the form; they stop here when the time
        is up. (Not locust's `wait()`: its stop can kill a user whose pause has just ended,
        in the request that follows.)"""
        if self.shared.stopping.wait(timeout=self.wait_time()):
            raise StopUser()


class Navigator(Person):
    """Looks through the caseload, opens cases and logs contacts (through htmx)."""

    weight = 3
    role = "navigator"
    home = "/caseload"
    home_marker = 'id="caseload-table"'

    NOTES = (
        "Talked about the walking group and how the first visit went.",
        "Checked in after the GP appointment; feeling a bit brighter.",
        "Agreed to try the lunch club next week; will ring the organiser.",
        "Discussed the benefits check and booked the money advice session.",
        "No answer; will try again later in the week.",
        "Spoke with their daughter, who will help with transport.",
    )
    SORTS = ("due", "last_contact", "name", "assigned", "level")

    def on_start(self) -> None:
        self.cases: list[int] = []
        super().on_start()
        self.caseload()

    def remember(self, page: str) -> None:
        found = {int(i) for i in re.findall(r'href="/cases/(\d+)"', page)}
        self.cases = sorted(set(self.cases) | found)

    def caseload(self) -> None:
        page = self.page("/caseload", "GET /caseload", self.home_marker)
        if page:
            self.remember(page)

    @step(3)
    def browse_caseload(self) -> None:
        if not self.ready():
            return
        self.caseload()
        if self.rng.random() < 0.5:
            self.think()
            query = {"q": "", "status": "", "sort": self.rng.choice(self.SORTS)}
            if self.rng.random() < 0.3:
                query["overdue"] = "1"
            page = self.page(
                "/caseload?" + urlencode(query),
                "GET /caseload?<filters> (htmx)",
                self.home_marker,
                htmx=True,
            )
            if page:
                self.remember(page)

    def open_case(self) -> tuple[int, str] | None:
        if not self.cases:
            self.caseload()
        if not self.cases:
            return None
        case_id = self.rng.choice(self.cases)
        page = self.page(f"/cases/{case_id}", "GET /cases/<id>", 'id="case-header"')
        return (case_id, page) if page else None

    @step(3)
    def read_case(self) -> None:
        if self.ready():
            self.open_case()

    @step(3)
    def log_contact(self) -> None:
        if not self.ready():
            return
        opened = self.open_case()
        if opened is None:
            return
        case_id, page = opened
        action = f"/cases/{case_id}/contacts"
        name = "POST /cases/<id>/contacts (htmx)"
        form = find_form(page, action)
        if form is None:
            self.no_form("GET /cases/<id>", action)
            return
        self.think()
        rng = self.rng
        method, result = rng.choices(
            (
                ("phone", "spoke"),
                ("phone", "no_answer"),
                ("phone", "left_message"),
                ("home_visit", "spoke"),
                ("video", "spoke"),
                ("text", "message_sent"),
            ),
            weights=(45, 15, 10, 15, 5, 10),
        )[0]
        marker = self.shared.ledger.new("navigator_contact", self.account.email, case_id, name)
        note = rng.choice(self.NOTES) if result == "spoke" else "Tried to reach them."
        form.set("method", method)
        form.set("result", result)
        form.set("duration_minutes", str(rng.randint(10, 60)) if result == "spoke" else "")
        form.set("notes", f"{note} [{marker}]")
        if rng.random() < 0.01:
            form.set("concern_raised", "y")
            form.set("safeguarding_note", "Seemed confused and had no food in the house.")
        answer = self.call("POST", action, name, form=form, htmx=True, marker=marker, expect=200)
        if answer is None:
            self.shared.ledger.refused(marker, "not a success answer (see the page's errors)")
        elif "Contact logged" in answer.text:
            self.shared.ledger.saved(marker)
        else:
            self.shared.ledger.refused(marker, "200 without 'Contact logged'")
            self.shared.problems[f"{name}: 200 with the marker but no 'Contact logged'"] += 1


class Volunteer(Person):
    """Opens their page and the people they buddy, logs contacts and other hours."""

    weight = 2
    role = "volunteer"
    home = "/volunteering"
    home_marker = "My volunteering"

    NOTES = (
        "We went for a short walk to the park and had a cup of tea.",
        "Phoned for a chat; they enjoyed the choir on Tuesday.",
        "Went with them to the lunch club for the first time.",
        "Helped set up video calls with their grandson.",
    )
    HOURS_NOTES = ("Buddy training session", "Volunteer team meeting", "Travel to visits")
    # What one volunteer gives in a day, at most. Without it, the run's two dozen contacts
    # for a match that began today all land on today, and the portal rightly refuses those
    # past 24 hours: refusals that are the portal working, counted as its errors.
    DAY_MINUTES = 6 * 60

    def has_room(self, day: date, minutes: int) -> bool:
        return self.account.logged.get(day, 0) + minutes <= self.DAY_MINUTES

    def count_logged(self, day: date, minutes: int) -> None:
        self.account.logged[day] = self.account.logged.get(day, 0) + minutes

    def pick_match(self) -> int:
        return self.rng.choice(sorted(self.account.matches))

    @step(2)
    def my_page(self) -> None:
        if self.ready():
            self.page("/volunteering", "GET /volunteering", self.home_marker)

    @step(2)
    def buddy_page(self) -> None:
        if self.ready():
            match_id = self.pick_match()
            self.page(
                f"/volunteering/buddies/{match_id}",
                "GET /volunteering/buddies/<id>",
                'id="log-contact"',
            )

    @step(3)
    def log_contact(self) -> None:
        if not self.ready():
            return
        rng, match_id = self.rng, self.pick_match()
        page = self.page(
            f"/volunteering/buddies/{match_id}",
            "GET /volunteering/buddies/<id>",
            'id="log-contact"',
        )
        action = f"/volunteering/buddies/{match_id}/contacts"
        name = "POST /volunteering/buddies/<id>/contacts"
        form = find_form(page, action) if page else None
        if page and form is None:
            self.no_form("GET /volunteering/buddies/<id>", action)
        if form is None:
            return
        self.think()
        # Logged over the last two weeks of the match, never before it started: a person
        # catches up on a few contacts, and no day gets more than 24 hours.
        now = datetime.now(UTC)
        earliest = max(self.account.matches[match_id], now - timedelta(days=14))
        span = max((now - timedelta(minutes=10) - earliest).total_seconds(), 0)
        minutes = rng.choice((20, 30, 45, 60, 90))
        for _ in range(5):
            when = earliest + timedelta(seconds=rng.uniform(0, span))
            day = when.astimezone(LONDON).date()
            if self.has_room(day, minutes):
                break
        else:
            return  # no day in reach has room left: this time they only looked
        marker = self.shared.ledger.new("buddy_contact", self.account.email, match_id, name)
        form.set("occurred_at", local_input(when))
        if form.options.get("method"):
            form.set("method", rng.choice(form.options["method"]))
        form.set("duration_minutes", str(minutes))
        form.set("notes", f"{rng.choice(self.NOTES)} [{marker}]")
        if rng.random() < 0.3:
            form.set("next_meeting_at", local_input(now + timedelta(days=rng.randint(2, 10))))
        if rng.random() < 0.01:
            form.set("concern", "y")
            form.set("concern_note", "They said they had not eaten properly for days.")
        target = re.compile(rf"/volunteering/buddies/{match_id}")
        answer = self.call("POST", action, name, form=form, expect=302, to=target)
        if answer is None:
            self.shared.ledger.refused(marker, "not a success answer (see the page's errors)")
            return
        self.shared.ledger.saved(marker)
        self.count_logged(day, minutes)
        self.page(answer.location, "GET /volunteering/buddies/<id> (after saving)", "Contact saved")

    @step(1)
    def log_hours(self) -> None:
        if not self.ready():
            return
        rng = self.rng
        page = self.page("/volunteering/hours", "GET /volunteering/hours", "Log hours")
        name = "POST /volunteering/hours"
        form = find_form(page, "/volunteering/hours") if page else None
        if page and form is None:
            self.no_form("GET /volunteering/hours", "/volunteering/hours")
        if form is None:
            return
        self.think()
        today = datetime.now(LONDON).date()
        first = max(self.account.joined_on or today, today - timedelta(days=14))
        hours, minutes = rng.choice(((0, 30), (0, 45), (1, 0), (1, 30), (2, 0)))
        for _ in range(5):
            day = first + timedelta(days=rng.randint(0, max((today - first).days, 0)))
            if self.has_room(day, 60 * hours + minutes):
                break
        else:
            return
        marker = self.shared.ledger.new("volunteer_hours", self.account.email, 0, name)
        form.set("worked_on[day]", str(day.day))
        form.set("worked_on[month]", str(day.month))
        form.set("worked_on[year]", str(day.year))
        if form.options.get("kind"):
            form.set("kind", rng.choice(form.options["kind"]))
        form.set("hours", str(hours))
        form.set("minutes", str(minutes))
        form.set("notes", f"{rng.choice(self.HOURS_NOTES)} [{marker}]")
        answer = self.call(
            "POST",
            "/volunteering/hours",
            name,
            form=form,
            expect=302,
            to=re.compile("/volunteering/hours"),
        )
        if answer is None:
            self.shared.ledger.refused(marker, "not a success answer (see the page's errors)")
            return
        self.shared.ledger.saved(marker)
        self.count_logged(day, 60 * hours + minutes)
        self.page(answer.location, "GET /volunteering/hours (after saving)", "Hours saved")


class Public(Person):
    """Searches the directory (typing into the search box sends htmx requests) and opens
    activities. Nobody logs in."""

    weight = 4
    ACTIVITY = re.compile(r'href="/directory/activities/([0-9a-f-]{36})')

    def on_start(self) -> None:
        self.found: list[str] = []
        super().on_start()

    def remember(self, page: str) -> None:
        found = self.ACTIVITY.findall(page)
        if found:
            self.found = list(dict.fromkeys(found))

    @step(4)
    def search(self) -> None:
        rng = self.rng
        terms = self.shared.working_set.search_terms
        query = {"q": rng.choice(terms)}
        if rng.random() < 0.2:
            query["district"] = f"CV{rng.randint(1, 8)}"
        if rng.random() < 0.6:
            # Typing: htmx asks for the results as the person types (after a pause).
            page = self.page(
                "/directory?" + urlencode(query),
                "GET /directory?q= (htmx)",
                'id="directory-results"',
                htmx=True,
            )
        else:
            page = self.page(
                "/directory?" + urlencode(query), "GET /directory?q=", 'id="directory-results"'
            )
        if page:
            self.remember(page)

    @step(1)
    def browse(self) -> None:
        rng = self.rng
        page = self.page("/directory", "GET /directory", 'id="directory-results"')
        if page:
            self.remember(page)
            self.think()
            query = {"category": rng.choice(self.shared.working_set.categories)}
            if rng.random() < 0.5:
                query["cost"] = "free"
            page = self.page(
                "/directory?" + urlencode(query),
                "GET /directory?<filters> (htmx)",
                'id="directory-results"',
                htmx=True,
            )
            if page:
                self.remember(page)

    @step(3)
    def open_activity(self) -> None:
        if not self.found:
            self.search()
        if self.found:
            self.page(
                f"/directory/activities/{self.rng.choice(self.found)}",
                "GET /directory/activities/<uuid>",
                "Details last checked",
            )


class Practice(Person):
    """A GP practice: looks at its referrals and refers patients."""

    weight = 1
    role = "practice"
    home = "/practice/referrals"
    home_marker = 'id="practice-table"'

    GIVEN = ("Margaret", "Arthur", "Joan", "Harjit", "Wiesława", "Patrick", "Sandra", "Tunde")
    FAMILY = ("Walsh", "Kaur", "Nowak", "Okafor", "Hughes", "Bennett", "Ahmed", "Doyle")
    STREETS = (
        "Holyhead Road",
        "Foleshill Road",
        "Earlsdon Avenue",
        "Binley Road",
        "Far Gosford St",
    )
    DETAILS = (
        "Lives alone since her husband died and has stopped going out.",
        "Struggling with heating bills and worried about debt.",
        "Cares for his wife with dementia and has no time for himself.",
        "Would like to be more active after a knee operation.",
    )
    ROLES = ("GP", "Practice nurse", "Care coordinator", "Social prescribing link worker")

    def on_start(self) -> None:
        self.referrals: list[int] = []
        super().on_start()

    def remember(self, page: str) -> None:
        found = {int(i) for i in re.findall(r'href="/practice/referrals/(\d+)"', page)}
        self.referrals = sorted(set(self.referrals) | found)

    @step(3)
    def our_referrals(self) -> None:
        if not self.ready():
            return
        page = self.page("/practice/referrals", "GET /practice/referrals", self.home_marker)
        if page:
            self.remember(page)
        if page and self.rng.random() < 0.3:
            self.think()
            status = self.rng.choice(("active", "closed", "all"))
            page = self.page(
                f"/practice/referrals?status={status}",
                "GET /practice/referrals?status= (htmx)",
                self.home_marker,
                htmx=True,
            )
            if page:
                self.remember(page)

    @step(2)
    def open_referral(self) -> None:
        if not self.ready():
            return
        if not self.referrals:
            self.our_referrals()
        if self.referrals:
            self.page(
                f"/practice/referrals/{self.rng.choice(self.referrals)}",
                "GET /practice/referrals/<id>",
                "<h2>Progress</h2>",
            )

    @step(2)
    def refer(self) -> None:
        if not self.ready():
            return
        rng, account = self.rng, self.account
        page = self.page("/referrals/new", "GET /referrals/new", 'action="/referrals/new"')
        name = "POST /referrals/new"
        form = find_form(page, "/referrals/new") if page else None
        if page and form is None:
            self.no_form("GET /referrals/new", "/referrals/new")
        if form is None:
            return
        self.think()
        known = self.shared.working_set.known_people.get(account.practice_id) or []
        if known and rng.random() < 0.1:
            person = rng.choice(known)  # referred before: the practice refers them again
        else:
            born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 70))
            person = KnownPerson(
                self.shared.new_nhs_number(),
                rng.choice(self.GIVEN),
                rng.choice(self.FAMILY),
                born,
                f"CV{rng.randint(1, 8)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
                f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            )
        marker = self.shared.ledger.new("referral", account.email, account.practice_id, name)
        form.set("nhs_number", person.nhs_number)
        form.set("given_name", person.given_name)
        form.set("family_name", person.family_name)
        form.set("date_of_birth[day]", str(person.date_of_birth.day))
        form.set("date_of_birth[month]", str(person.date_of_birth.month))
        form.set("date_of_birth[year]", str(person.date_of_birth.year))
        form.set("address", f"{rng.randint(1, 200)} {rng.choice(self.STREETS)}, Coventry")
        form.set("postcode", person.postcode)
        form.set("phone", f"07700 900{rng.randrange(1000):03d}")
        reasons = form.options.get("reasons") or []
        form.set("reasons", rng.sample(reasons, min(len(reasons), rng.randint(1, 3))))
        form.set("details", f"{rng.choice(self.DETAILS)} [{marker}]")
        if rng.random() < 0.1:
            form.set("urgency", "urgent")
        form.set("referrer_name", account.full_name)
        form.set("referrer_role", rng.choice(self.ROLES))
        form.set("consent", "y")
        answer = self.call(
            "POST",
            "/referrals/new",
            name,
            form=form,
            expect=302,
            to=re.compile(r"/practice/referrals/\d+"),
        )
        if answer is None:
            self.shared.ledger.refused(marker, "not a success answer (see the page's errors)")
            return
        self.shared.ledger.saved(marker)
        self.referrals.append(int(answer.location.rsplit("/", 1)[1]))
        self.page(
            answer.location, "GET /practice/referrals/<id> (after referring)", "sent to the hub"
        )


ROLES = (Navigator, Volunteer, Public, Practice)
