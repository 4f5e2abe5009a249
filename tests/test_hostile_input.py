"""Hostile input through every form and API input that keeps free text (QUALITY.md, Security 8).

FORMS is the coverage table: one row per form that keeps free text, with its address, the
free-text fields, and every page, htmx fragment, JSON answer and email that shows what was
saved (`Show`: who looks, where, and which fields it shows). For each row the strings of
`tests/hostile.py` are dealt out over the free-text fields, a different string in each
field, as many posts as it takes for every string to go through the form (rows where each
post needs a record of its own, such as a referral to close, take the CORE strings). Then:

- the post is accepted and the database holds each string exactly as typed (SQL fragments
  included: stored as text, never run);
- every output shows it inert: escaped, no element, attribute, script or htmx trigger made
  from it, template syntax not evaluated.

Per row, three edges: 10,000 characters in every field is refused with a message naming the
limit; text at each field's limit is kept whole; a NUL character is refused or dropped, not
a server error. Below the table: search boxes and query parameters, CSV exports (formulas
neutralised), PDFs, the outcome report in every format, the activity CSV import, web
addresses, and new lines typed into names that end up in email headers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from wtforms.validators import Length

from portal.auth.forms import InviteForm
from portal.auth.models import Role, User
from portal.cases.forms import (
    CloseCaseForm,
    ContactForm,
    GoalForm,
    ReopenForm,
    WithdrawConsentForm,
)
from portal.cases.models import Contact, Goal
from portal.db_types import london_today, utcnow
from portal.directory.forms import (
    ActivityForm,
    DeclineReferralForm,
    OrganisationProfileForm,
    ReferToActivityForm,
    RegisterOrganisationForm,
    StopReferralForm,
    WithdrawReferralForm,
)
from portal.directory.models import (
    Activity,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from portal.form_fields import utc_to_local_input
from portal.matching.forms import NavigatorProfileForm
from portal.matching.views import _languages as navigator_languages
from portal.referrals.forms import (
    AddInformationForm,
    CloseForm,
    ContactAttemptForm,
    EditReferralForm,
    ReferralForm,
    SelfReferralForm,
    TriageForm,
)
from portal.referrals.models import (
    ClosureReason,
    Practice,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralStatus,
    Resident,
    Route,
)
from portal.volunteers.forms import (
    BuddyContactForm,
    DeclineForm,
    EndMatchForm,
    HoursForm,
    ProfileForm,
    SignUpForm,
    StatusForm,
    TrainingModuleForm,
    TrainingRecordForm,
    language_list,
)
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    HoursKind,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
)
from portal.volunteers.profile import TRANSPORT
from tests.factories import (
    PASSWORD,
    make_activity,
    make_buddy_match,
    make_compliant_volunteer,
    make_contact,
    make_organisation,
    make_practice,
    make_referral,
    make_resident,
    make_training_module,
    make_user,
    make_volunteer,
    valid_nhs_number,
)
from tests.hostile import (
    ATTRIBUTE,
    CORE,
    EMOJI,
    FORMULAS,
    HEADER_INJECTION,
    HOSTILE,
    HTMX_ELEMENT,
    JAVASCRIPT_URL,
    NUL,
    REPRESENTATIVE,
    RIGHT_TO_LEFT,
    SCRIPT,
    SQL_DROP,
    SQL_OR,
    TEMPLATE,
    VERY_LONG,
    as_lists,
    assert_csv_shows,
    assert_email_inert,
    assert_inert,
    assert_json_has,
    assert_no_live_markup,
    assert_pdf_shows,
    csv_rows,
    email_text,
    label,
    page_text,
    parse,
)

# Every page rendered here is also checked against the NHS.UK macros without the cache.
pytestmark = pytest.mark.usefixtures("components_match_their_macros")

HTMX = {"HX-Request": "true"}


# --- the machinery every row uses -----------------------------------------------------------------


class Scene:
    """The people and records one row needs, and a logged-in browser for each person.

    `ctx` holds users under their role names and records by id; every address in a row is
    a format string filled from it (plus whatever was made for one value: see Form.each).
    """

    def __init__(self, app):
        self.app = app
        self.ctx: dict = {}
        self._browsers: dict = {}
        self._addresses = iter(range(1, 10_000))

    def browser(self, who: str):
        if who not in self._browsers:
            browser = self.app.test_client()
            if who != "public":
                user = self.ctx[who]
                answer = browser.post("/login", data={"email": user.email, "password": PASSWORD})
                assert answer.status_code == 302, f"{who} could not log in"
            self._browsers[who] = browser
        return self._browsers[who]

    def address(self) -> dict:
        """A different address for each public post: the public forms count posts per address."""
        n = next(self._addresses)
        return {"REMOTE_ADDR": f"198.51.{n // 250}.{n % 250 + 1}"}


@dataclass(frozen=True)
class Show:
    """Somewhere a saved value is shown: `viewer` (a key of the scene) opens `url`.

    `fields`: the fields whose values this output shows (None: all the form's free text).
    Every output is checked for live markup whatever it shows.
    """

    viewer: str
    url: str
    fields: tuple[str, ...] | None = None
    htmx: bool = False
    kind: str = "html"  # html or json
    shown: bool = True  # False: a list that pages; checked for live markup only
    whole: bool = True  # False: a long value is cut short here (an alert's first 300 characters)

    def __str__(self) -> str:
        return f"{self.viewer} {self.url}{' (htmx)' if self.htmx else ''}"


def as_typed(value: str) -> str:
    return value


def alone(value: str) -> list[str]:
    return [value]


@dataclass(frozen=True)
class Form:
    """One form that keeps free text: a row of the coverage table.

    The hostile strings are dealt out over the free-text fields, a different one in each
    field, as many posts as it takes for every string to go through the form.
    """

    id: str
    by: str  # who posts it: a key of the scene
    url: str
    form_class: type
    fields: tuple[str, ...]  # the free-text fields
    shows: tuple[Show, ...]  # where the saved values are shown
    setup: Callable[[Scene], None]
    data: Callable[[dict], dict]  # a valid post, free-text fields aside
    stored: Callable[[dict], list]  # what the database holds after a post, field by field
    each: Callable[[Scene, int], dict] | None = None  # records made for each post
    created: Callable[[object, dict], dict] | None = None  # ids the post made
    accepted: int = 302
    refused: int = 400  # a form with errors comes back with this status
    htmx_post: bool = False  # the first post goes as htmx (its answer is a fragment to check)
    public: bool = False
    emailed: tuple[str, ...] = ()  # fields whose values each post's email shows
    check_each: bool = False  # each post replaces the last: check the outputs after each
    strings: tuple[str, ...] = tuple(HOSTILE)
    saved_as: Callable[[str], object] = as_typed
    shown_as: Callable[[str], list[str]] = alone

    def __str__(self) -> str:
        return self.id

    def batches(self) -> list[dict[str, str]]:
        """Each post's values: every string in some field, a different string per field."""
        strings, width = list(self.strings), len(self.fields)
        posts = -(-len(strings) // width)
        return [
            {name: strings[(p * width + i) % len(strings)] for i, name in enumerate(self.fields)}
            for p in range(posts)
        ]


def field_limit(form: Form, name: str) -> int:
    """The most characters the form says the field takes (from its Length validator)."""
    unbound = getattr(form.form_class, name)
    for validator in unbound.kwargs.get("validators", ()):
        if isinstance(validator, Length) and validator.max and validator.max > 0:
            return validator.max
    raise AssertionError(f"{form.id}: {name} has no length limit")


def _context(scene: Scene, form: Form, n: int) -> dict:
    here = dict(scene.ctx)
    if form.each is not None:
        here.update(form.each(scene, n))
    return here


def _post(scene: Scene, form: Form, here: dict, values: dict[str, str], htmx: bool = False):
    data = {**form.data(here), **values}
    return scene.browser(form.by).post(
        form.url.format(**here),
        data=data,
        headers=HTMX if htmx else {},
        environ_base=scene.address() if form.public else {},
    )


def _look(scene: Scene, show: Show, url: str):
    answer = scene.browser(show.viewer).get(url, headers=HTMX if show.htmx else {})
    assert answer.status_code == 200, f"{show}: {answer.status_code}"
    return answer


def check_shown(
    scene: Scene, form: Form, posted: list[tuple[dict, dict[str, str]]], cut: int | None = None
) -> None:
    """Open every output once per address, and check every value it should show.

    `cut`: where an output shows only the start of a long value, check that start.
    """
    for show in form.shows:
        by_url: dict[str, dict[str, str]] = {}
        for here, values in posted:
            wanted = by_url.setdefault(show.url.format(**here), {})
            for name in form.fields if show.fields is None else show.fields:
                if name not in form.fields:
                    continue
                for expected in form.shown_as(values[name]):
                    if cut is not None and not show.whole:
                        expected = expected[:cut]
                    wanted.setdefault(expected, name)
        for url, wanted in by_url.items():
            answer = _look(scene, show, url)
            where = f"{form.id}: {show.viewer} {url}{' (htmx)' if show.htmx else ''}"
            check_output(answer, show, wanted, where)


def check_output(answer, show: Show, values: dict[str, str], where: str) -> None:
    """`values`: each value the output should show, with the field it was typed into."""
    if show.kind == "html":
        assert answer.mimetype == "text/html", where
        if show.htmx:
            assert "<html" not in answer.text, f"{where}: a whole page for an htmx request"
        page = parse(answer.text)
        assert_no_live_markup(page, where)
        for value, name in values.items():
            assert_inert(page, value, f"{where} {name}", shown=show.shown)
    elif show.kind == "json":
        assert answer.mimetype == "application/json", where
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", where
        for value, name in values.items():
            assert_json_has(answer.get_data(as_text=True), value, f"{where} {name}")
    else:  # pragma: no cover - a typing slip in a table
        raise AssertionError(show.kind)


def submit(
    scene: Scene, form: Form, here: dict, values: dict[str, str], *, mailbox=None, htmx=False
):
    """Post the values and check each was saved exactly as typed."""
    before = len(mailbox.messages) if mailbox is not None else 0
    answer = _post(scene, form, here, values, htmx=htmx)
    where = f"{form.id} {sorted({label(v) for v in values.values()})}"
    accepted = 200 if htmx else form.accepted
    assert answer.status_code == accepted, (
        f"{where}: {answer.status_code} {answer.text[:3000] if answer.status_code != 302 else ''}"
    )
    if htmx:
        assert "<html" not in answer.text, where
        page = parse(answer.text)
        for value in dict.fromkeys(values.values()):
            for expected in form.shown_as(value):
                assert_inert(page, expected, f"{where} the fragment sent back")
    if form.created is not None:
        here.update(form.created(answer, here))
    db.session.expire_all()
    saved = form.stored(here)
    wanted = [form.saved_as(values[name]) for name in form.fields]
    assert saved == wanted, f"{where}: saved as {saved!r}, typed {wanted!r}"
    if form.emailed:
        sent = mailbox.messages[before:]
        assert sent, f"{where}: no email was sent"
        for name in form.emailed:
            for expected in form.shown_as(values[name]):
                assert any(emailed(m, expected) for m in sent), f"{where}: {name} is in no email"
        for message in sent:
            assert_email_inert(message, None, where)
    return answer


def emailed(message, value: str) -> bool:
    text = " ".join(email_text(message).split()) + " " + " ".join(str(message["Subject"]).split())
    return " ".join(value.split()) in text


def run(scene: Scene, form: Form, mailbox=None) -> list[tuple[dict, dict[str, str]]]:
    form.setup(scene)
    posted = []
    for n, values in enumerate(form.batches()):
        here = _context(scene, form, n)
        submit(scene, form, here, values, mailbox=mailbox, htmx=form.htmx_post and n == 0)
        posted.append((here, values))
        if form.check_each:
            check_shown(scene, form, [(here, values)])
    if not form.check_each:
        check_shown(scene, form, posted)
    return posted


def last(model, *where):
    return db.session.scalar(sa.select(model).where(*where).order_by(model.id.desc()).limit(1))


def location_id(pattern: str, key: str):
    """`created`: the new record's id, read from the address the answer redirects to."""

    def read(answer, here) -> dict:
        match = re.search(pattern, answer.headers.get("Location", ""))
        assert match, f"no {key} id in {answer.headers.get('Location')!r}"
        return {key: int(match.group(1))}

    return read


def ago(**kw) -> str:
    return utc_to_local_input(utcnow() - timedelta(**kw))


def typed_date(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}[day]": str(day.day),
        f"{name}[month]": str(day.month),
        f"{name}[year]": str(day.year),
    }


def person(**kw) -> Resident:
    return make_resident(**{"nhs_number": None, "phone": "07700 900 001", **kw})


def case(navigator_id: int, **kw) -> Referral:
    """An open case of the navigator: assigned, reached, with its practice."""
    now = utcnow()
    fields = {
        "resident": person(),
        "status": ReferralStatus.ACTIVE,
        "navigator_id": navigator_id,
        "route": Route.SOCIAL_NAVIGATION,
        "support_level": 1,
        "received_at": now - timedelta(days=20),
        "first_contact_at": now - timedelta(days=19),
        "triaged_at": now - timedelta(days=19),
        "assigned_at": now - timedelta(days=18),
        **kw,
    }
    return make_referral(**fields)


def listed_activity(organisation=None, **kw) -> Activity:
    """A published activity of a verified organisation: in the directory, open to referrals."""
    fields = {
        "description": "A walk round the park.",
        "categories": ["physical_activity"],
        "frequency": Frequency.WEEKLY,
        "days": [1],
        "start_time": time(10, 0),
        "end_time": time(11, 0),
        "venue_name": "Park gates",
        "postcode": "CV3 6PT",
        "last_confirmed_on": london_today(),
        **kw,
    }
    return make_activity(organisation or make_organisation(email="hello@friends.example"), **fields)


def people(scene: Scene, *roles: Role) -> None:
    for role in roles:
        scene.ctx[role.value] = make_user(role)


# --- the referral forms ---------------------------------------------------------------------------

PERSON_TEXT = ("given_name", "family_name", "address", "language", "accessibility_needs")
REFERRAL_TEXT = ("details", "known_risks")
REFERRER_TEXT = ("referrer_name", "referrer_role", "consent_recorded_by")


def referral_post(here: dict, source: str = "practice") -> dict:
    n = here["n"]
    return {
        "source": source,
        "nhs_number": valid_nhs_number(70_000 + n) if source == "practice" else "",
        "date_of_birth[day]": "15",
        "date_of_birth[month]": "3",
        "date_of_birth[year]": "1948",
        "postcode": "cv1 2ab",
        "phone": "07700 900 982",
        "email": "",
        "preferred_contact": "phone",
        "interpreter_needed": "y",
        "practice_id": str(here["practice"]),
        "reasons": ["loneliness", "low_mood"],
        "urgency": "routine",
        "consent": "y",
        "consent_share_with_gp": "y",
    }


def referral_text(here: dict) -> list:
    referral = db.session.get(Referral, here["referral"])
    person_ = referral.resident
    return [
        *(getattr(person_, f) for f in PERSON_TEXT),
        *(getattr(referral, f) for f in (*REFERRAL_TEXT, *REFERRER_TEXT)),
    ]


def _practice_scene(scene: Scene) -> None:
    practice = make_practice()
    scene.ctx["practice"] = practice.id
    scene.ctx["practice_user"] = make_user(Role.PRACTICE_USER, practice_id=practice.id)
    people(scene, Role.COORDINATOR)


def _numbered(scene: Scene, n: int) -> dict:
    return {"n": n}


NAMES = ("given_name", "family_name")
EDITABLE_TEXT = ("address", "language", "accessibility_needs", *REFERRAL_TEXT)
REFERRAL_SHOWS_TO_THE_HUB = (
    Show("coordinator", "/hub", NAMES),
    Show("coordinator", "/hub", NAMES, htmx=True),
    Show("coordinator", "/referrals/{referral}"),
    Show("coordinator", "/referrals/{referral}/edit", EDITABLE_TEXT),
)


def _open_referral(scene: Scene) -> None:
    _practice_scene(scene)
    referral = make_referral(
        practice=db.session.get(Practice, scene.ctx["practice"]),
        resident=person(address="1 High Street"),
        received_at=utcnow() - timedelta(days=3),
    )
    scene.ctx["referral"] = referral.id


def _open_referral_with_admin(scene: Scene) -> None:
    _open_referral(scene)
    people(scene, Role.ADMIN)


def _fresh_referral(scene: Scene, n: int) -> dict:
    referral = make_referral(
        practice=db.session.get(Practice, scene.ctx["practice"]),
        resident=person(),
        received_at=utcnow() - timedelta(days=3),
    )
    return {"referral": referral.id}


def _version(here: dict) -> str:
    return str(db.session.get(Referral, here["referral"]).version)


def _edit_post(here: dict) -> dict:
    return {
        "postcode": "cv1 2ab",
        "phone": "07700 900 982",
        "email": "",
        "preferred_contact": "phone",
        "reasons": ["loneliness"],
        "urgency": "routine",
        "version": _version(here),
    }


def _events(here: dict, action) -> list:
    return [
        e.note
        for e in db.session.scalars(
            sa.select(ReferralEvent)
            .where(ReferralEvent.referral_id == here["referral"], ReferralEvent.action == action)
            .order_by(ReferralEvent.id.desc())
            .limit(1)
        )
    ]


REFERRAL_FORMS = [
    Form(
        id="practice-referral",
        by="practice_user",
        url="/referrals/new",
        form_class=ReferralForm,
        fields=(*PERSON_TEXT, *REFERRAL_TEXT, *REFERRER_TEXT),
        shows=(
            Show("practice_user", "/practice/referrals", NAMES),
            Show("practice_user", "/practice/referrals", NAMES, htmx=True),
            Show("practice_user", "/practice/referrals/{referral}", (*NAMES, "referrer_name")),
            *REFERRAL_SHOWS_TO_THE_HUB,
        ),
        setup=_practice_scene,
        each=_numbered,
        data=referral_post,
        created=location_id(r"/practice/referrals/(\d+)", "referral"),
        stored=referral_text,
    ),
    Form(
        id="hub-referral",
        by="coordinator",
        url="/referrals/new",
        form_class=ReferralForm,
        fields=(*PERSON_TEXT, *REFERRAL_TEXT, *REFERRER_TEXT),
        shows=(Show("coordinator", "/hub", NAMES), Show("coordinator", "/referrals/{referral}")),
        setup=_practice_scene,
        each=_numbered,
        data=lambda here: referral_post(here, source="professional"),
        created=location_id(r"/referrals/(\d+)$", "referral"),
        stored=referral_text,
    ),
    Form(
        id="self-referral",
        by="public",
        url="/refer-yourself",
        form_class=SelfReferralForm,
        fields=(*PERSON_TEXT, "details", "helper_name"),
        shows=REFERRAL_SHOWS_TO_THE_HUB,
        setup=_practice_scene,
        each=_numbered,
        data=lambda here: {
            **referral_post(here, source="self"),
            "practice_id": "",
            "website": "",
        },
        created=lambda answer, here: {"referral": last(Referral).id},
        stored=lambda here: [
            *(getattr(db.session.get(Referral, here["referral"]).resident, f) for f in PERSON_TEXT),
            db.session.get(Referral, here["referral"]).details,
            db.session.get(Referral, here["referral"]).referrer_name,
        ],
        public=True,
    ),
    Form(
        id="referral-edit",
        by="coordinator",
        url="/referrals/{referral}/edit",
        form_class=EditReferralForm,
        fields=("address", "language", "accessibility_needs", *REFERRAL_TEXT),
        shows=(
            Show("coordinator", "/referrals/{referral}"),
            Show("coordinator", "/referrals/{referral}", htmx=True),
        ),
        setup=_open_referral,
        data=_edit_post,
        stored=lambda here: [
            *(
                getattr(db.session.get(Referral, here["referral"]).resident, f)
                for f in ("address", "language", "accessibility_needs")
            ),
            *(getattr(db.session.get(Referral, here["referral"]), f) for f in REFERRAL_TEXT),
        ],
    ),
    Form(
        id="contact-attempt",
        by="coordinator",
        url="/referrals/{referral}/attempts",
        form_class=ContactAttemptForm,
        fields=("notes",),
        shows=(
            Show("coordinator", "/referrals/{referral}"),
            Show("coordinator", "/referrals/{referral}", htmx=True),
        ),
        setup=_open_referral,
        data=lambda here: {"occurred_at": ago(hours=1), "method": "phone", "result": "no_answer"},
        stored=lambda here: [last(Contact, Contact.referral_id == here["referral"]).notes],
        htmx_post=True,
    ),
    Form(
        id="triage-note",
        by="coordinator",
        url="/referrals/{referral}/triage",
        form_class=TriageForm,
        fields=("note",),
        shows=(Show("coordinator", "/referrals/{referral}"),),
        strings=tuple(CORE),
        setup=_practice_scene,
        each=_fresh_referral,
        data=lambda here: {
            "route": "not_appropriate",
            "navigator_id": "",
            "version": _version(here),
        },
        stored=lambda here: [db.session.get(Referral, here["referral"]).triage_note],
    ),
    Form(
        id="referral-close",
        by="coordinator",
        url="/referrals/{referral}/close",
        form_class=CloseForm,
        fields=("summary",),
        shows=(Show("coordinator", "/referrals/{referral}"),),
        strings=tuple(CORE),
        setup=_practice_scene,
        each=_fresh_referral,
        data=lambda here: {"reason": "declined", "version": _version(here)},
        stored=lambda here: [db.session.get(Referral, here["referral"]).outcome_summary],
    ),
    Form(
        id="practice-information",
        by="practice_user",
        url="/practice/referrals/{referral}/information",
        form_class=AddInformationForm,
        fields=("text",),
        shows=(
            Show("practice_user", "/practice/referrals/{referral}"),
            Show("coordinator", "/referrals/{referral}"),
        ),
        setup=_open_referral,
        data=lambda here: {},
        stored=lambda here: _events(here, ReferralAction.INFORMATION_ADDED),
    ),
]


# --- case work ------------------------------------------------------------------------------------


def _navigator_case(scene: Scene) -> None:
    people(scene, Role.NAVIGATOR, Role.COORDINATOR)
    scene.ctx["referral"] = case(scene.ctx["navigator"].id).id


def _fresh_case(scene: Scene, n: int) -> dict:
    referral = case(scene.ctx["navigator"].id)
    return {"referral": referral.id}


def _contacts_to_edit(scene: Scene) -> None:
    _navigator_case(scene)
    referral = db.session.get(Referral, scene.ctx["referral"])
    scene.ctx["contacts"] = [
        make_contact(
            referral,
            scene.ctx["navigator"],
            days_ago=0,
            notes="Rang",
            occurred_at=utcnow() - timedelta(hours=2 + n),
        ).id
        for n in range(len(HOSTILE))
    ]


def _contact_to_edit(scene: Scene, n: int) -> dict:
    contact = db.session.get(Contact, scene.ctx["contacts"][n])
    return {"contact": contact.id}


def _closed_case(scene: Scene, n: int) -> dict:
    referral = case(
        scene.ctx["navigator"].id,
        status=ReferralStatus.CLOSED,
        closure_reason=ClosureReason.GOALS_MET,
        closed_at=utcnow() - timedelta(days=1),
        outcome_summary="Done",
    )
    return {"referral": referral.id}


def _buddy_scene(scene: Scene) -> None:
    _navigator_case(scene)
    volunteer = make_compliant_volunteer(user_kw={"full_name": "Vic Volunteer"})
    scene.ctx["volunteer"] = volunteer.user
    scene.ctx["volunteer_id"] = volunteer.id
    referral = db.session.get(Referral, scene.ctx["referral"])
    scene.ctx["match"] = make_buddy_match(referral, volunteer, scene.ctx["navigator"]).id


def _match_to_end(scene: Scene, n: int) -> dict:
    """Another match on the same case, so one case page shows every reason given."""
    volunteer = db.session.get(Volunteer, scene.ctx["volunteer_id"])
    referral = db.session.get(Referral, scene.ctx["referral"])
    return {"match": make_buddy_match(referral, volunteer, scene.ctx["navigator"]).id}


def _proposal(scene: Scene, n: int) -> dict:
    volunteer = db.session.get(Volunteer, scene.ctx["volunteer_id"])
    referral = db.session.get(Referral, scene.ctx["referral"])
    match = make_buddy_match(
        referral,
        volunteer,
        scene.ctx["navigator"],
        status=BuddyMatchStatus.PROPOSED,
        responded_at=None,
    )
    return {"match": match.id}


def _contact_post(here: dict) -> dict:
    return {
        "occurred_at": ago(hours=1),
        "method": "phone",
        "result": "spoke",
        "duration_minutes": "20",
        "concern_raised": "y",
    }


CASE_FORMS = [
    Form(
        id="case-contact",
        by="navigator",
        url="/cases/{referral}/contacts",
        form_class=ContactForm,
        fields=("notes", "safeguarding_note"),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("coordinator", "/cases/{referral}"),
            Show("coordinator", "/alerts", (), whole=False),
        ),
        setup=_navigator_case,
        data=_contact_post,
        stored=lambda here: [
            getattr(last(Contact, Contact.referral_id == here["referral"]), f)
            for f in ("notes", "safeguarding_note")
        ],
        htmx_post=True,
    ),
    Form(
        id="case-contact-edit",
        by="navigator",
        url="/cases/{referral}/contacts/{contact}/edit",
        form_class=ContactForm,
        fields=("notes", "safeguarding_note"),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/cases/{referral}/contacts/{contact}/edit"),
            Show("navigator", "/cases/{referral}/contacts/{contact}/edit", htmx=True),
        ),
        strings=tuple(CORE),
        setup=_contacts_to_edit,
        each=_contact_to_edit,
        data=lambda here: {
            **_contact_post(here),
            "occurred_at": utc_to_local_input(db.session.get(Contact, here["contact"]).occurred_at),
            "version": str(db.session.get(Contact, here["contact"]).version),
        },
        stored=lambda here: [
            getattr(db.session.get(Contact, here["contact"]), f)
            for f in ("notes", "safeguarding_note")
        ],
    ),
    Form(
        id="case-goal",
        by="navigator",
        url="/cases/{referral}/goals",
        form_class=GoalForm,
        fields=("description",),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/cases/{referral}/plan"),
            Show("volunteer", "/volunteering/buddies/{match}"),
        ),
        setup=_buddy_scene,
        data=lambda here: {},
        stored=lambda here: [last(Goal, Goal.referral_id == here["referral"]).description],
        htmx_post=True,
    ),
    Form(
        id="case-close",
        by="navigator",
        url="/cases/{referral}/close",
        form_class=CloseCaseForm,
        fields=("summary",),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("coordinator", "/referrals/{referral}"),
        ),
        strings=tuple(CORE),
        setup=lambda scene: people(scene, Role.NAVIGATOR, Role.COORDINATOR),
        each=_fresh_case,
        data=lambda here: {
            "reason": "goals_met",
            "closing_measures_declined": "y",
            "version": _version(here),
        },
        stored=lambda here: [db.session.get(Referral, here["referral"]).outcome_summary],
    ),
    Form(
        id="case-consent-withdrawn",
        by="navigator",
        url="/cases/{referral}/consent/withdraw",
        form_class=WithdrawConsentForm,
        fields=("note",),
        shows=(Show("coordinator", "/referrals/{referral}"),),
        strings=tuple(CORE),
        setup=lambda scene: people(scene, Role.NAVIGATOR, Role.COORDINATOR),
        each=_fresh_case,
        data=lambda here: {},
        stored=lambda here: [
            last(
                ReferralEvent,
                ReferralEvent.referral_id == here["referral"],
                ReferralEvent.action == ReferralAction.CONSENT_WITHDRAWN,
            ).note
        ],
    ),
    Form(
        id="case-reopen",
        by="coordinator",
        url="/cases/{referral}/reopen",
        form_class=ReopenForm,
        fields=("reason",),
        shows=(
            Show("coordinator", "/cases/{referral}"),
            Show("navigator", "/alerts", whole=False),
        ),
        strings=tuple(CORE),
        setup=lambda scene: people(scene, Role.NAVIGATOR, Role.COORDINATOR),
        each=_closed_case,
        data=lambda here: {"version": _version(here)},
        stored=lambda here: [_events(here, ReferralAction.REOPENED)[0].split(" (was: ")[0]],
    ),
    Form(
        id="buddy-match-end",
        by="navigator",
        url="/cases/{referral}/buddies/{match}/end",
        form_class=EndMatchForm,
        fields=("reason",),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("coordinator", "/volunteers/{volunteer_id}"),
        ),
        setup=_buddy_scene,
        each=_match_to_end,
        data=lambda here: {},
        stored=lambda here: [db.session.get(BuddyMatch, here["match"]).end_reason],
    ),
]


# --- volunteering ---------------------------------------------------------------------------------


def _signup_post(here: dict) -> dict:
    n = here["n"]
    return {
        "email": f"applicant{n}@example.com",
        "phone": "07700 900 982",
        "postcode": "cv1 2ab",
        "languages": "English",
        "availability": ["mon_morning"],
        "transport": TRANSPORT[1],
        "roles": ["buddy"],
        "referee_1_contact": "01632 960 002",
        "referee_2_contact": "07700 900 123",
        "consent": "y",
        "website": "",
    }


def _applicant(here: dict) -> Volunteer:
    return db.session.scalar(
        sa.select(Volunteer)
        .join(User, User.id == Volunteer.user_id)
        .where(User.email == f"applicant{here['n']}@example.com")
    )


def _me_volunteer(scene: Scene) -> None:
    people(scene, Role.COORDINATOR, Role.ADMIN)
    volunteer = make_compliant_volunteer()
    scene.ctx["volunteer"] = volunteer.user
    scene.ctx["volunteer_id"] = volunteer.id


def _fresh_volunteer(scene: Scene, n: int) -> dict:
    volunteer = make_compliant_volunteer()
    return {"volunteer_id": volunteer.id}


def _training_scene(scene: Scene) -> None:
    _me_volunteer(scene)
    scene.ctx["module"] = make_training_module(name="Safeguarding", required_for_buddy=False).id


def _status_note(here: dict) -> list:
    return [db.session.get(Volunteer, here["volunteer_id"]).status_note]


VOLUNTEER_FORMS = [
    Form(
        id="volunteer-sign-up",
        by="public",
        url="/volunteer",
        form_class=SignUpForm,
        fields=("full_name", "referee_1_name", "referee_2_name", "motivation"),
        shows=(
            Show("coordinator", "/volunteers", ("full_name",)),
            Show("coordinator", "/volunteers", ("full_name",), htmx=True),
            Show("coordinator", "/volunteers/{volunteer_id}"),
        ),
        setup=lambda scene: people(scene, Role.COORDINATOR),
        each=_numbered,
        data=_signup_post,
        created=lambda answer, here: {"volunteer_id": _applicant(here).id},
        stored=lambda here: [
            _applicant(here).user.full_name,
            _applicant(here).referee_1_name,
            _applicant(here).referee_2_name,
            _applicant(here).motivation,
        ],
        public=True,
        emailed=("full_name",),
    ),
    Form(
        id="volunteer-profile",
        by="volunteer",
        url="/volunteering/profile",
        form_class=ProfileForm,
        fields=("languages",),
        shows=(
            Show("volunteer", "/volunteering/profile"),
            Show("coordinator", "/volunteers/{volunteer_id}"),
        ),
        strings=tuple(as_lists(HOSTILE)),  # several languages a post, as the form asks
        setup=_me_volunteer,
        data=lambda here: {
            "phone": "07700 900 982",
            "postcode": "cv1 2ab",
            "availability": ["mon_morning"],
            "transport": TRANSPORT[1],
        },
        stored=lambda here: [db.session.get(Volunteer, here["volunteer_id"]).languages],
        saved_as=language_list,
        shown_as=language_list,
        check_each=True,
    ),
    Form(
        id="volunteer-hours",
        by="volunteer",
        url="/volunteering/hours",
        form_class=HoursForm,
        fields=("notes",),
        shows=(Show("volunteer", "/volunteering/hours"),),
        setup=_me_volunteer,
        data=lambda here: {
            **typed_date("worked_on", london_today()),
            "kind": "training",
            "hours": "0",
            "minutes": "10",
        },
        stored=lambda here: [last(VolunteerHours).notes],
    ),
    Form(
        id="buddy-contact",
        by="volunteer",
        url="/volunteering/buddies/{match}/contacts",
        form_class=BuddyContactForm,
        fields=("notes", "concern_note"),
        shows=(
            Show("volunteer", "/volunteering/buddies/{match}", ("notes",)),
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/alerts", ("concern_note",), whole=False),
            Show("coordinator", "/alerts", ("concern_note",), whole=False),
        ),
        setup=_buddy_scene,
        data=lambda here: {
            "occurred_at": ago(hours=2),
            "method": "phone",
            "duration_minutes": "15",
            "concern": "y",
        },
        stored=lambda here: [
            getattr(last(Contact, Contact.referral_id == here["referral"]), f)
            for f in ("notes", "safeguarding_note")
        ],
    ),
    Form(
        id="buddy-decline",
        by="volunteer",
        url="/volunteering/buddies/{match}/decline",
        form_class=DeclineForm,
        fields=("reason",),
        shows=(
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/alerts", whole=False),
            Show("coordinator", "/volunteers/{volunteer_id}"),
        ),
        setup=_buddy_scene,
        each=_proposal,
        data=lambda here: {},
        stored=lambda here: [db.session.get(BuddyMatch, here["match"]).decline_reason],
    ),
    Form(
        id="volunteer-status-note",
        by="coordinator",
        url="/volunteers/{volunteer_id}/status",
        form_class=StatusForm,
        fields=("note",),
        shows=(Show("coordinator", "/volunteers/{volunteer_id}"),),
        strings=tuple(CORE),
        setup=lambda scene: people(scene, Role.COORDINATOR),
        each=_fresh_volunteer,
        data=lambda here: {"status": "paused"},
        stored=_status_note,
    ),
    Form(
        id="volunteer-training-record",
        by="coordinator",
        url="/volunteers/{volunteer_id}/training",
        form_class=TrainingRecordForm,
        fields=("trainer", "notes"),
        shows=(Show("coordinator", "/volunteers/{volunteer_id}"),),
        setup=_training_scene,
        data=lambda here: {
            "module_id": str(here["module"]),
            **typed_date("completed_on", london_today() - timedelta(days=3)),
        },
        stored=lambda here: [
            getattr(last(TrainingRecord, TrainingRecord.module_id == here["module"]), f)
            for f in ("trainer", "notes")
        ],
    ),
    Form(
        id="training-course",
        by="admin",
        url="/admin/training/new",
        form_class=TrainingModuleForm,
        fields=("name", "description"),
        shows=(
            Show("admin", "/admin/training", ("name",)),
            Show("coordinator", "/volunteers/{volunteer_id}", ("name",)),
        ),
        setup=_me_volunteer,
        data=lambda here: {"valid_for_months": "12", "required_for": ["buddy"], "is_active": "y"},
        stored=lambda here: [getattr(last(TrainingModule), f) for f in ("name", "description")],
    ),
]


# --- the directory --------------------------------------------------------------------------------

ORGANISATION_TEXT = ("name", "description", "address")
ACTIVITY_TEXT = (
    "title",
    "description",
    "schedule_note",
    "venue_name",
    "venue_address",
    "eligibility",
    "contact_name",
)


def _registration_post(here: dict) -> dict:
    n = here["n"]
    return {
        "charity_number": "",
        "company_number": "",
        "email": f"hello{n}@organisation.example",
        "phone": "",
        "web_address": "",
        "postcode": "CV3 6PT",
        "contact_email": f"contact{n}@organisation.example",
        "agree": "y",
        "website": "",
    }


def _registered(here: dict) -> Organisation:
    return db.session.scalar(
        sa.select(Organisation).where(
            Organisation.email == f"hello{here['n']}@organisation.example"
        )
    )


def _member_scene(scene: Scene) -> None:
    people(scene, Role.COORDINATOR, Role.NAVIGATOR)
    organisation = make_organisation(email="hello@friends.example")
    scene.ctx["organisation"] = organisation.id
    scene.ctx["organisation_member"] = make_user(
        Role.ORGANISATION_MEMBER, organisation_id=organisation.id
    )
    activity = listed_activity(organisation, title="Tuesday walk")
    scene.ctx["activity"] = activity.id
    scene.ctx["activity_uuid"] = activity.uuid
    scene.ctx["referral"] = case(scene.ctx["navigator"].id).id


def _activity_post(here: dict) -> dict:
    return {
        "categories": ["physical_activity", "social_connection"],
        "frequency": "weekly",
        "days": ["1"],
        "monthly_week": "",
        "start_time": "10:00",
        "end_time": "11:30",
        "online": "no",
        "postcode": "cv3 6pt",
        "cost": "3.50",
        "access": ["step_free"],
        "capacity": "12",
        "spaces_available": "5",
        "accepts_referrals": "yes",
        "contact_email": "",
        "contact_phone": "",
        "version": "",
    }


def _published(answer, here) -> dict:
    """The new activity, published (as its organisation would), so the public sees it."""
    activity = last(Activity)
    activity.status = ActivityStatus.PUBLISHED
    activity.last_confirmed_on = london_today()
    db.session.commit()
    return {"activity": activity.id, "activity_uuid": activity.uuid}


def _activity_text(here: dict) -> list:
    activity = db.session.get(Activity, here["activity"])
    return [getattr(activity, f) for f in ACTIVITY_TEXT]


ACTIVITY_SHOWS = (
    Show("organisation_member", "/organisation", ("title",)),
    Show("organisation_member", "/activities/{activity}/edit"),
    Show("public", "/directory", ("title", "description"), shown=False),
    Show("public", "/directory", ("title", "description"), htmx=True, shown=False),
    Show("public", "/directory/activities/{activity_uuid}"),
    Show("navigator", "/directory/activities/{activity_uuid}?case={referral}"),
    Show("navigator", "/cases/{referral}/activities/{activity}/refer", ("title",)),
    Show(
        "public",
        "/api/oruk/services/{activity_uuid}",
        ("title", "description", "schedule_note", "venue_name", "contact_name"),
        kind="json",
    ),
)


def _activity_to_edit(scene: Scene, n: int) -> dict:
    organisation = db.session.get(Organisation, scene.ctx["organisation"])
    activity = listed_activity(organisation, title=f"Activity {n}")
    return {"activity": activity.id, "activity_uuid": activity.uuid}


def _link(scene: Scene, n: int, status=ActivityReferralStatus.SENT) -> dict:
    organisation = db.session.get(Organisation, scene.ctx["organisation"])
    activity = listed_activity(organisation, title=f"Activity {n}")
    referral = db.session.get(Referral, scene.ctx["referral"])
    link = ActivityReferral(
        referral_id=referral.id,
        activity_id=activity.id,
        status=status,
        created_by_id=scene.ctx["navigator"].id,
        person_name=referral.resident.full_name,
        respond_by=london_today() + timedelta(days=10),
        responded_at=utcnow() if status != ActivityReferralStatus.SENT else None,
    )
    db.session.add(link)
    db.session.commit()
    return {"link": link.id, "activity": activity.id}


DIRECTORY_FORMS = [
    Form(
        id="organisation-registration",
        by="public",
        url="/organisations/register",
        form_class=RegisterOrganisationForm,
        fields=(*ORGANISATION_TEXT, "contact_name"),
        shows=(
            Show("coordinator", "/organisations", ("name",)),
            Show("coordinator", "/organisations/{organisation}"),
            Show("admin", "/admin/users?role=organisation_member", ("contact_name",)),
        ),
        setup=lambda scene: people(scene, Role.COORDINATOR, Role.ADMIN),
        each=_numbered,
        data=_registration_post,
        stored=lambda here: [
            *(getattr(_registered(here), f) for f in ORGANISATION_TEXT),
            _registered(here).contact_name,
        ],
        created=lambda answer, here: {"organisation": _registered(here).id},
        public=True,
        emailed=("name", "contact_name"),
    ),
    Form(
        id="organisation-profile",
        by="organisation_member",
        url="/organisation/profile",
        form_class=OrganisationProfileForm,
        fields=ORGANISATION_TEXT,
        shows=(
            Show("organisation_member", "/organisation", ("name",)),
            Show("organisation_member", "/organisation/profile"),
            Show("coordinator", "/organisations/{organisation}"),
            Show("public", "/directory/activities/{activity_uuid}", ("name",)),
            Show(
                "public", "/api/oruk/services/{activity_uuid}", ("name", "description"), kind="json"
            ),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        data=lambda here: {
            "charity_number": "",
            "company_number": "",
            "email": "hello@friends.example",
            "phone": "",
            "web_address": "",
            "postcode": "CV3 6PT",
            "version": "",
        },
        stored=lambda here: [
            getattr(db.session.get(Organisation, here["organisation"]), f)
            for f in ORGANISATION_TEXT
        ],
        check_each=True,
    ),
    Form(
        id="activity-new-by-member",
        by="organisation_member",
        url="/organisation/activities/new",
        form_class=ActivityForm,
        fields=ACTIVITY_TEXT,
        shows=ACTIVITY_SHOWS,
        setup=_member_scene,
        data=_activity_post,
        created=_published,
        stored=_activity_text,
    ),
    Form(
        id="activity-new-by-hub",
        by="coordinator",
        url="/organisations/{organisation}/activities/new",
        form_class=ActivityForm,
        fields=ACTIVITY_TEXT,
        shows=(Show("coordinator", "/organisations/{organisation}", ("title",)),),
        setup=_member_scene,
        data=_activity_post,
        created=_published,
        stored=_activity_text,
    ),
    Form(
        id="activity-edit",
        by="organisation_member",
        url="/activities/{activity}/edit",
        form_class=ActivityForm,
        fields=ACTIVITY_TEXT,
        shows=(
            Show("organisation_member", "/organisation", ("title",)),
            Show("public", "/directory/activities/{activity_uuid}"),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        each=_activity_to_edit,
        data=lambda here: {
            **_activity_post(here),
            "version": str(db.session.get(Activity, here["activity"]).version),
        },
        stored=_activity_text,
    ),
    Form(
        id="activity-referral-message",
        by="navigator",
        url="/cases/{referral}/activities/{activity}/refer",
        form_class=ReferToActivityForm,
        fields=("note",),
        shows=(
            Show("organisation_member", "/organisation/referrals/{link}"),
            Show("navigator", "/cases/{referral}", ()),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        each=lambda scene, n: _activity_to_edit(scene, n),
        data=lambda here: {"consent": "y", "share_phone": "y"},
        created=lambda answer, here: {"link": last(ActivityReferral).id},
        stored=lambda here: [db.session.get(ActivityReferral, here["link"]).shared_note],
    ),
    Form(
        id="activity-referral-decline",
        by="organisation_member",
        url="/organisation/referrals/{link}/decline",
        form_class=DeclineReferralForm,
        fields=("reason",),
        shows=(
            Show("organisation_member", "/organisation/referrals/{link}"),
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/alerts", whole=False),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        each=_link,
        data=lambda here: {"version": ""},
        stored=lambda here: [db.session.get(ActivityReferral, here["link"]).decline_reason],
    ),
    Form(
        id="activity-referral-stop",
        by="organisation_member",
        url="/organisation/referrals/{link}/stop",
        form_class=StopReferralForm,
        fields=("reason",),
        shows=(
            Show("organisation_member", "/organisation/referrals/{link}"),
            Show("navigator", "/cases/{referral}"),
            Show("navigator", "/alerts", whole=False),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        each=lambda scene, n: _link(scene, n, ActivityReferralStatus.ACCEPTED),
        data=lambda here: {"version": ""},
        stored=lambda here: [db.session.get(ActivityReferral, here["link"]).end_reason],
    ),
    Form(
        id="activity-referral-withdraw",
        by="navigator",
        url="/cases/{referral}/activity-referrals/{link}/withdraw",
        form_class=WithdrawReferralForm,
        fields=("reason",),
        shows=(
            Show("organisation_member", "/organisation/referrals/{link}"),
            Show("navigator", "/cases/{referral}"),
        ),
        strings=tuple(CORE),
        setup=_member_scene,
        each=_link,
        data=lambda here: {},
        stored=lambda here: [
            db.session.get(ActivityReferral, here["link"]).end_reason.removeprefix("Withdrawn: ")
        ],
        refused=302,  # a small form on the case page: refused back to the case
    ),
]


# --- accounts and matching ------------------------------------------------------------------------


def _invited(here: dict) -> User:
    return db.session.scalar(sa.select(User).where(User.email == f"invited{here['n']}@example.com"))


def _navigator_profile_scene(scene: Scene) -> None:
    people(scene, Role.ADMIN)
    scene.ctx["navigator_id"] = make_user(Role.NAVIGATOR).id


ACCOUNT_FORMS = [
    Form(
        id="user-invite",
        by="admin",
        url="/admin/users/invite",
        form_class=InviteForm,
        fields=("full_name",),
        shows=(
            Show("admin", "/admin/users?role=navigator"),
            Show("admin", "/admin/users?role=navigator", htmx=True),
            Show("coordinator", "/caseload"),
            Show("coordinator", "/referrals/{referral}"),
        ),
        setup=_open_referral_with_admin,
        each=_numbered,
        data=lambda here: {
            "email": f"invited{here['n']}@example.com",
            "role": "navigator",
            "practice_id": "",
            "organisation_id": "",
        },
        stored=lambda here: [_invited(here).full_name],
        emailed=("full_name",),
        refused=200,  # the invitation form answers a mistake with 200 (tests/auth pin it)
    ),
    Form(
        id="navigator-languages",
        by="admin",
        url="/admin/navigators/{navigator_id}",
        form_class=NavigatorProfileForm,
        fields=("languages",),
        shows=(
            Show("admin", "/admin/navigators", shown=False),  # shown capitalised
            Show("admin", "/admin/navigators/{navigator_id}"),
        ),
        strings=tuple(as_lists(HOSTILE)),
        setup=_navigator_profile_scene,
        data=lambda here: {"caseload_capacity": "20", "neighbourhood_id": ""},
        stored=lambda here: [db.session.get(User, here["navigator_id"]).languages],
        saved_as=navigator_languages,
        shown_as=navigator_languages,
        check_each=True,
    ),
]

FORMS = [*REFERRAL_FORMS, *CASE_FORMS, *VOLUNTEER_FORMS, *DIRECTORY_FORMS, *ACCOUNT_FORMS]


FORM_PARAMS = [pytest.param(f, id=f.id) for f in FORMS]


def coverage_table() -> str:
    """The table this file covers, as text: each form, its fields, and where they are shown."""
    lines = []
    for form in FORMS:
        lines.append(f"{form.id}: POST {form.url} [{', '.join(form.fields)}]")
        lines.extend(
            f"    -> {show} [{', '.join(show.fields or form.fields)}]" for show in form.shows
        )
    return "\n".join(lines)


def rows_holding(value: str) -> list[str]:
    """Every table that holds `value` in one of its text columns."""
    found = []
    db.session.expire_all()
    for table in db.metadata.sorted_tables:
        columns = [
            c
            for c in table.columns
            if isinstance(c.type, sa.String | sa.Text) and not isinstance(c.type, sa.Enum)
        ]
        if columns:
            where = sa.or_(*(c == value for c in columns))
            if db.session.scalar(sa.select(sa.func.count()).select_from(table).where(where)):
                found.append(table.name)
    return found


def error_beside(page: str, field_id: str) -> str | None:
    """The message the NHS.UK error pattern shows beside a field, as text."""
    match = re.search(
        rf'id="{re.escape(field_id)}-error"[^>]*>\s*'
        r'<span class="nhsuk-u-visually-hidden">Error:\s*</span>(.*?)</span>',
        page,
        re.S,
    )
    return " ".join(unescape(match.group(1)).split()) if match else None


# --- the tests over the table ---------------------------------------------------------------------


def test_every_form_in_the_table_names_real_fields_and_limits():
    for form in FORMS:
        for name in form.fields:
            assert field_limit(form, name) >= max(len(s) for s in form.strings), (form.id, name)
        for show in form.shows:
            if show.fields:
                assert set(show.fields) & set(form.fields), (form.id, str(show))
    assert len(FORMS) == len({f.id for f in FORMS})
    assert coverage_table()


@pytest.mark.parametrize("form", FORM_PARAMS)
def test_hostile_text_is_saved_as_typed_and_shown_inert(app, smtp_server, form):
    run(Scene(app), form, mailbox=smtp_server)


def check_over_long_is_refused(scene: Scene, form: Form, mailbox, n: int) -> None:
    """10,000 characters in every field: refused with a message naming each field's limit."""
    here = _context(scene, form, n)
    answer = _post(scene, form, here, dict.fromkeys(form.fields, VERY_LONG))

    assert answer.status_code == form.refused, f"answered {answer.status_code}"
    if form.refused == 302:
        # Refused by going back to the page it was posted from, with a message at the top.
        page = scene.browser(form.by).get(answer.headers["Location"]).text
        for name in form.fields:
            limit = field_limit(form, name)
            assert f"{limit:,} characters" in page_text(page), f"no message about {name}'s limit"
    else:
        page = answer.text
        assert_no_live_markup(page, form.id)
        for name in form.fields:
            message = error_beside(page, name)
            assert message, f"no message beside {name}"
            limit = field_limit(form, name)
            assert f"{limit:,}" in message or str(limit) in message, (name, message)
    assert rows_holding(VERY_LONG) == [], "the over-long text was saved"
    assert mailbox.messages == [], "a refused form sent email"


def at_limit(limit: int, n: int) -> str:
    """Text exactly `limit` characters long that starts with markup and ends with a letter."""
    head = f"{n} <b>bold</b> {{{{7*7}}}} "
    return (head + "ab" * limit)[:limit]


def check_at_the_limit_is_kept(scene: Scene, form: Form, mailbox, n: int) -> None:
    """The longest answer each field allows is saved whole and its pages still draw.

    The form's limit has to be the database's too, and every later step that copies the
    text (an alert, a history entry, a referral to an activity) has to have room for it.
    """
    here = _context(scene, form, n)
    values = {name: at_limit(field_limit(form, name), k) for k, name in enumerate(form.fields)}
    submit(scene, form, here, values, mailbox=mailbox)
    pages = tuple(s for s in form.shows if s.shown and not s.htmx)[:1]
    check_shown(scene, replace(form, shows=pages), [(here, values)], cut=100)


def check_nul_is_refused_or_dropped(scene: Scene, form: Form, mailbox, n: int) -> None:
    """PostgreSQL text cannot hold NUL (0x00): refuse it beside the field, or drop it."""
    here = _context(scene, form, n)
    answer = _post(scene, form, here, dict.fromkeys(form.fields, NUL))

    assert answer.status_code in (form.accepted, form.refused), f"answered {answer.status_code}"
    if answer.status_code == form.refused and form.refused != form.accepted:
        assert any(error_beside(answer.text, name) for name in form.fields), "no message"
        return
    if form.created is not None:
        here.update(form.created(answer, here))
    db.session.expire_all()
    for saved in form.stored(here):
        assert saved in (form.saved_as(NUL), form.saved_as(NUL.replace("\x00", ""))), saved


EDGES = (
    ("10,000 characters", check_over_long_is_refused),
    ("at each field's limit", check_at_the_limit_is_kept),
    ("a NUL character", check_nul_is_refused_or_dropped),
)


@pytest.mark.parametrize("form", FORM_PARAMS)
def test_over_long_text_text_at_the_limit_and_nul_never_end_in_a_server_error(
    app, smtp_server, form
):
    """Three edges per form, each reported on its own so one failure hides none of the others."""
    scene = Scene(app)
    form.setup(scene)
    problems = []
    for n, (edge, check) in enumerate(EDGES):
        try:
            check(scene, form, smtp_server, n)
        except Exception as error:
            problems.append(f"{form.id}, {edge}: {type(error).__name__}: {str(error)[:600]}")
    assert not problems, "\n".join(problems)


# --- search boxes and query parameters ------------------------------------------------------------

# Every hostile kind at once, for parameters that only choose from a list: nothing to find.
COMPOSITE = " ".join([SCRIPT, ATTRIBUTE, TEMPLATE, HTMX_ELEMENT, SQL_OR, JAVASCRIPT_URL])
# Searched for on their own, after COMPOSITE: whole-query SQL, Unicode, length, LIKE wildcards.
SEARCHED_FOR = [SQL_OR, SQL_DROP, EMOJI, RIGHT_TO_LEFT, VERY_LONG, "%", "_"]
NOBODY = "Alma"  # the record each list holds; no hostile search may find it


def _lists_scene(scene: Scene) -> None:
    people(
        scene,
        Role.COORDINATOR,
        Role.NAVIGATOR,
        Role.ADMIN,
        Role.COMMISSIONER,
    )
    practice = make_practice()
    scene.ctx["practice_user"] = make_user(Role.PRACTICE_USER, practice_id=practice.id)
    organisation = make_organisation(name="Friends Park", email="hello@friends.example")
    scene.ctx["organisation_member"] = make_user(
        Role.ORGANISATION_MEMBER, organisation_id=organisation.id
    )
    make_referral(practice=practice, resident=person(given_name=NOBODY, family_name="Brook"))
    scene.ctx["referral"] = case(
        scene.ctx["navigator"].id,
        resident=person(given_name=NOBODY, family_name="Rowe"),
        wants_buddy=True,
    ).id
    make_volunteer(user_kw={"full_name": f"{NOBODY} Volunteer"})
    listed_activity(organisation, title=f"{NOBODY} walk", description="A walk")


# Search boxes: (who, address, parameters). "like" searches match text as typed (a "%" is a
# percent sign, not a wildcard); "words" searches match whole words, so a query of
# punctuation alone is no query at all.
SEARCHES = [
    (
        "coordinator",
        "/hub",
        ("q", "status", "practice", "int", "urgency", "reason", "page"),
        "like",
    ),
    ("coordinator", "/caseload", ("q", "status", "sort", "navigator", "overdue", "page"), "like"),
    ("navigator", "/caseload", ("q", "status", "sort", "page"), "like"),
    ("coordinator", "/volunteers", ("q", "status", "role", "page"), "like"),
    (
        "public",
        "/directory",
        ("q", "district", "category", "day", "time", "cost", "access", "where", "page", "case"),
        "words",
    ),
    ("navigator", "/directory", ("q", "case", "referrals"), "words"),
    ("public", "/api/oruk/services", ("text",), "words"),
]

# Other query parameters and path parts: (who, address, parameters).
PARAMETERS = [
    ("coordinator", "/matching/buddies", ("page",)),
    ("navigator", "/cases/{referral}/suggestions/buddies", ("search", "show")),
    ("navigator", "/cases/{referral}/suggestions/activities", ("search", "show")),
    ("public", "/api/oruk/services", ("search", "postcode", "taxonomy_id", "page", "per_page")),
    ("admin", "/admin/users", ("role", "page")),
    ("admin", "/admin/audit", ("actor", "action", "type", "from", "to", "page")),
    ("admin", "/admin/audit/events.csv", ("actor", "action", "type", "from", "to")),
    ("coordinator", "/int", ("int", "show")),
    ("practice_user", "/practice/referrals", ("status", "page")),
    ("organisation_member", "/organisation/referrals", ("status",)),
    ("coordinator", "/volunteers/supervision", ("from", "to")),
    ("coordinator", "/volunteers/hours.csv", ("from", "to")),
    ("coordinator", "/referrals/{referral}", ("navigator",)),
    ("navigator", "/cases/{referral}/measures/wemwbs", ("stage",)),
    (
        "commissioner",
        "/dashboard",
        ("area", "start[day]", "start[month]", "start[year]", "end[day]", "end[month]"),
    ),
    ("public", "/login", ("next",)),
    ("public", "/directory/activities/{nothing}", ()),
    ("public", "/api/oruk/services/{nothing}", ()),
]


# Lists whose filter form is posted, so that a name searched for stays out of the address
# (portal/searches.py).
POSTED_SEARCHES = {"/hub", "/caseload", "/volunteers"}


def ask(scene: Scene, who: str, address: str, names, value: str, headers=None):
    """GET (or, for a posted search, POST and follow) with every parameter set to `value`;
    the answer is no error and shows it inert."""
    url = address.format(nothing=value[:60].replace("/", ""), **scene.ctx)
    browser = scene.browser(who)
    where = f"{who} {address} {names} {headers or ''} [{label(value)}]"
    if address in POSTED_SEARCHES:
        answer = browser.post(
            url, data=dict.fromkeys(names, value), headers=headers, follow_redirects=True
        )
        assert [r.status_code for r in answer.history] == [303], where
        # Every hostile filter value is dropped and the search is only its key.
        shown_at = parse_qs(urlsplit(answer.request.full_path).query)
        assert set(shown_at) <= {"search"}, f"{where}: {shown_at}"
        assert all(re.fullmatch(r"[\w-]{8}", key) for key in shown_at.get("search", [])), where
    else:
        answer = browser.get(url, query_string=dict.fromkeys(names, value), headers=headers)
    # 403: the dashboard refuses an area the viewer may not see, a made-up one included.
    assert answer.status_code in (200, 302, 400, 403, 404, 422), f"{where}: {answer.status_code}"
    body = answer.get_data(as_text=True)
    if answer.mimetype == "text/html":
        assert_inert(body, value, where, shown=False)
    elif answer.mimetype == "application/json":
        assert "<" not in body and ">" not in body, where
    return answer, body, where


@pytest.mark.parametrize(
    ("who", "address", "names", "search"),
    [pytest.param(*q, id=f"{q[0]}-{q[1]}") for q in SEARCHES],
)
def test_hostile_searches_find_nothing_and_are_answered_inert(app, who, address, names, search):
    """SQL fragments and LIKE wildcards are searched for as text: they match no record."""
    scene = Scene(app)
    _lists_scene(scene)
    for value in [COMPOSITE, *SEARCHED_FOR]:
        for headers in ({}, HTMX) if value == COMPOSITE else ({},):
            answer, body, where = ask(scene, who, address, names, value, headers)
            finds_nothing = search == "like" or re.search(r"[^\W_]", value)
            if finds_nothing and answer.status_code == 200:
                assert NOBODY not in body, f"{where}: the search found a record it should not"


# Forms that look a person up and keep nothing: (who, address, field, other fields).
LOOKUPS = [
    ("admin", "/admin/audit", "person", {}),
    ("admin", "/admin/audit", "user", {}),
    ("admin", "/admin/subject-access/resident", "identifier", {}),
    ("admin", "/admin/subject-access/volunteer", "email", {}),
    ("navigator", "/account/two-step-login/recovery-codes", "code", {}),
    ("navigator", "/account/two-step-login/off", "code", {}),
    ("navigator", "/cases/{referral}/suggestions/buddies", "who", {"show": "5"}),
    ("navigator", "/cases/{referral}/suggestions/activities", "who", {"show": "5"}),
]


@pytest.mark.parametrize(
    ("who", "address", "field", "others"),
    [pytest.param(*q, id=f"{q[1]}-{q[2]}") for q in LOOKUPS],
)
def test_hostile_lookups_find_nobody_and_are_answered_inert(app, who, address, field, others):
    """A typed reference, NHS number, email or code that is hostile finds no one, saves
    nothing and comes back, if at all, as text."""
    from portal.auth import mfa

    scene = Scene(app)
    _lists_scene(scene)
    if address.startswith("/account/"):
        scene.browser(who)  # logged in first: an enrolled account would be asked for a code
        user = scene.ctx[who]
        mfa.start_setup(user)
        mfa.finish_setup(user, mfa.current_code(user.totp_secret))
    for value in [*HOSTILE, VERY_LONG]:
        for headers in ({}, HTMX):
            answer = scene.browser(who).post(
                address.format(**scene.ctx), data={field: value, **others}, headers=headers
            )
            where = f"{who} POST {address} {field} {headers or ''} [{label(value)}]"
            assert answer.status_code in (200, 302, 303, 400), f"{where}: {answer.status_code}"
            assert answer.status_code not in (302, 303) or "audit/" not in answer.headers.get(
                "Location", ""
            ), f"{where}: the hostile value found someone"
            if answer.mimetype == "text/html":
                assert_inert(answer.get_data(as_text=True), value, where, shown=False)


def test_hostile_query_parameters_and_paths_are_answered_inert(app):
    scene = Scene(app)
    _lists_scene(scene)
    problems = []
    for who, address, names in PARAMETERS:
        for value in (COMPOSITE, VERY_LONG):
            try:
                ask(scene, who, address, names, value)
            except AssertionError as error:
                problems.append(str(error)[:400])
    assert not problems, "\n".join(problems)


# --- CSV exports ----------------------------------------------------------------------------------


def _hours_seed(scene: Scene, strings) -> dict:
    people(scene, Role.COORDINATOR)
    for value in strings:
        volunteer = make_volunteer(user_kw={"full_name": value})
        db.session.add(
            VolunteerHours(
                volunteer_id=volunteer.id,
                worked_on=london_today(),
                kind=HoursKind.TRAINING,
                minutes=30,
            )
        )
    db.session.commit()
    return {}


def _caseload_seed(scene: Scene, strings) -> dict:
    people(scene, Role.COORDINATOR)
    for value in strings:
        make_user(Role.NAVIGATOR, full_name=value, caseload_capacity=3)
    return {}


def _report_seed(scene: Scene, strings) -> dict:
    from portal.referrals import workflow
    from tests.reports.test_views import claim

    people(scene, Role.NAVIGATOR, Role.COORDINATOR)
    practice = make_practice()
    scene.ctx["practice_user"] = make_user(Role.PRACTICE_USER, practice_id=practice.id)
    hub = workflow.Actor.of(scene.ctx["coordinator"])
    half = -(-len(strings) // 2)
    for given, family in zip(strings[:half], strings[half:] + strings[:1], strict=False):
        referral = case(
            scene.ctx["navigator"].id,
            practice=practice,
            resident=person(given_name=given, family_name=family),
        )
        workflow.close(referral, hub, ClosureReason.MOVED_AWAY, given)
    db.session.commit()
    return {"report": claim(practice).id}


# (what, who, address, records made with a hostile string in the exported text)
EXPORTS = [
    ("volunteer-hours", "coordinator", "/volunteers/hours.csv", _hours_seed),
    ("hub-caseloads", "coordinator", "/dashboard/hub/caseloads.csv", _caseload_seed),
    ("report-codes", "practice_user", "/reports/{report}/codes.csv", _report_seed),
]


@pytest.mark.parametrize(
    ("who", "address", "seed"), [pytest.param(*e[1:], id=e[0]) for e in EXPORTS]
)
def test_csv_exports_neutralise_formulas_and_keep_every_other_value_as_typed(
    app, who, address, seed
):
    scene = Scene(app)
    made = seed(scene, HOSTILE)
    answer = scene.browser(who).get(address.format(**made))
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    body = answer.get_data(as_text=True)
    for value in HOSTILE:
        assert_csv_shows(body, value, address)
    for formula in FORMULAS:
        assert f"'{formula}" in [c for row in csv_rows(body) for c in row], formula


def test_dashboard_csv_page_and_evaluation_pdf_show_organisation_names_inert(app):
    from tests.dashboard.test_views import filters, utc

    scene = Scene(app)
    people(scene, Role.COMMISSIONER)
    names = [*FORMULAS, SCRIPT, ATTRIBUTE]
    practice = make_practice()
    for value in names:
        activity = make_activity(make_organisation(name=value))
        for day in range(6):
            referral = make_referral(practice=practice, received_at=utc(2026, 3, 2 + day))
            db.session.add(
                ActivityReferral(
                    referral_id=referral.id,
                    activity_id=activity.id,
                    status=ActivityReferralStatus.SENT,
                    created_by_id=scene.ctx["commissioner"].id,
                )
            )
    db.session.commit()
    browser = scene.browser("commissioner")

    answer = browser.get("/dashboard/activity_organisations.csv", query_string=filters())
    page = browser.get("/dashboard", query_string=filters())
    part = browser.get("/dashboard", query_string=filters(), headers=HTMX)
    pack = browser.get("/dashboard/evaluation.pdf", query_string=filters())

    assert answer.status_code == page.status_code == part.status_code == pack.status_code == 200
    for value in names:
        assert_csv_shows(answer.get_data(as_text=True), value, "activity_organisations.csv")
        assert_inert(page.text, value, "/dashboard")
        assert_inert(part.text, value, "/dashboard (htmx)")
        assert_pdf_shows(pack.data, value, "evaluation.pdf")


# --- PDFs, and the outcome report in every format -------------------------------------------------


def test_the_persons_plan_shows_hostile_goals_inert_on_the_page_and_in_the_pdf(app):
    """Goals typed on the case, and the activity the person was referred to, in their plan."""
    scene = Scene(app)
    people(scene, Role.NAVIGATOR)
    referral = case(scene.ctx["navigator"].id, resident=person(given_name=SCRIPT))
    activity = listed_activity(
        make_organisation(name=ATTRIBUTE, email="hello@friends.example"), title=TEMPLATE
    )
    browser = scene.browser("navigator")
    for value in REPRESENTATIVE:
        answer = browser.post(f"/cases/{referral.id}/goals", data={"description": value})
        assert answer.status_code == 302, label(value)
    referred = browser.post(
        f"/cases/{referral.id}/activities/{activity.id}/refer", data={"consent": "y"}
    )
    assert referred.status_code == 302

    page = browser.get(f"/cases/{referral.id}/plan")
    pdf = browser.get(f"/cases/{referral.id}/plan.pdf")

    assert page.status_code == pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    for value in REPRESENTATIVE:
        assert_inert(page.text, value, "plan")
        assert_pdf_shows(pdf.data, value, "plan.pdf")


def test_the_outcome_report_shows_hostile_text_inert_in_every_format_and_its_email(
    app, smtp_server
):
    """Names typed into the referral form, the GP summary typed when closing the case, and
    the goal, reach the practice as the letter (page and PDF), CSV, JSON and email."""
    from portal.reports.models import OutcomeReport

    scene = Scene(app)
    people(scene, Role.NAVIGATOR, Role.ADMIN)
    practice = make_practice(report_mailbox="gp.reports@nhs.net")
    scene.ctx["practice_user"] = make_user(Role.PRACTICE_USER, practice_id=practice.id)
    navigator = scene.browser("navigator")
    half = len(REPRESENTATIVE) // 2
    for first, second in zip(REPRESENTATIVE[:half], REPRESENTATIVE[half:], strict=True):
        referral = case(
            scene.ctx["navigator"].id,
            practice=practice,
            referrer_name=first,
            resident=person(given_name=first, family_name=second),
        )
        answer = navigator.post(f"/cases/{referral.id}/goals", data={"description": first})
        assert answer.status_code == 302
        answer = navigator.post(
            f"/cases/{referral.id}/close",
            data={
                "reason": "goals_met",
                "closing_measures_declined": "y",
                "summary": second,
                "version": str(db.session.get(Referral, referral.id).version),
            },
        )
        assert answer.status_code == 302, label(second)

    sent = scene.browser("admin").post(f"/admin/reports/practices/{practice.id}/send")
    assert sent.status_code == 302
    db.session.expire_all()
    report = last(OutcomeReport)
    (message,) = [m for m in smtp_server.messages if m["To"] == "gp.reports@nhs.net"]
    assert_email_inert(message, None, "report email")
    attached = {
        p.get_filename().rsplit(".", 1)[1]: p.get_content() for p in message.iter_attachments()
    }

    practice_user = scene.browser("practice_user")
    page = practice_user.get(f"/reports/{report.id}")
    pdf = practice_user.get(f"/reports/{report.id}/letter.pdf")
    codes = practice_user.get(f"/reports/{report.id}/codes.csv")
    summary = practice_user.get(f"/reports/{report.id}/summary.json")
    assert {page.status_code, pdf.status_code, codes.status_code, summary.status_code} == {200}
    assert summary.mimetype == "application/json"
    for value in REPRESENTATIVE:
        assert_inert(page.text, value, "report page")
        for data, where in ((pdf.data, "letter.pdf"), (attached["pdf"], "attached PDF")):
            assert_pdf_shows(data, value, where)
        for text, where in (
            (codes.get_data(as_text=True), "codes.csv"),
            (
                attached["csv"].decode() if isinstance(attached["csv"], bytes) else attached["csv"],
                "attached CSV",
            ),
        ):
            assert_csv_shows(text, value, where)
        for raw, where in (
            (summary.get_data(as_text=True), "summary.json"),
            (
                attached["json"].decode()
                if isinstance(attached["json"], bytes)
                else attached["json"],
                "attached JSON",
            ),
        ):
            assert_json_has(raw, value, where)


def test_a_person_with_the_longest_names_the_referral_form_allows_can_be_referred_on(app):
    """A referral to an activity copies the person's full name: given and family names at the
    referral form's limits (100 characters each) must fit where it is copied to."""
    scene = Scene(app)
    people(scene, Role.NAVIGATOR)
    given = at_limit(field_limit(REFERRAL_FORMS[0], "given_name"), 1)
    family = at_limit(field_limit(REFERRAL_FORMS[0], "family_name"), 2)
    referral = case(
        scene.ctx["navigator"].id, resident=person(given_name=given, family_name=family)
    )
    activity = listed_activity(title="Tuesday walk")

    answer = scene.browser("navigator").post(
        f"/cases/{referral.id}/activities/{activity.id}/refer", data={"consent": "y"}
    )

    assert answer.status_code == 302
    db.session.expire_all()
    assert last(ActivityReferral).person_name == f"{given} {family}"


WEB_ADDRESSES = [
    (JAVASCRIPT_URL, False),
    ("JaVaScRiPt:alert(1)", False),
    ("data:text/html,<script>alert(1)</script>", False),
    ('https://friends.example/"><script>alert(1)</script>', False),
    ("https://friends.example/'onmouseover='alert(1)", True),
]


def test_an_organisations_web_address_is_a_web_address_and_shown_inert(app):
    """The one free-text field that names a link: only http(s) addresses are kept."""
    scene = Scene(app)
    _member_scene(scene)
    organisation_id = scene.ctx["organisation"]
    member = scene.browser("organisation_member")
    for address, kept in WEB_ADDRESSES:
        answer = member.post(
            "/organisation/profile",
            data={
                "name": "Friends Park",
                "description": "Walks",
                "address": "1 Park Lane",
                "charity_number": "",
                "company_number": "",
                "email": "hello@friends.example",
                "phone": "",
                "web_address": address,
                "postcode": "CV3 6PT",
            },
        )
        assert answer.status_code == (302 if kept else 400), label(address)
        db.session.expire_all()
        website = db.session.get(Organisation, organisation_id).website
        assert (website == address) is kept, label(address)
        if not kept:
            assert "Enter a web address starting with https://" in page_text(answer.text)
            assert_inert(answer.text, address, "the profile form sent back")
            continue
        hub_page = scene.browser("coordinator").get(f"/organisations/{organisation_id}").text
        assert_inert(hub_page, address, "the organisation's page")
        api = scene.browser("public").get(f"/api/oruk/services/{scene.ctx['activity_uuid']}")
        assert api.mimetype == "application/json"
        assert_json_has(api.get_data(as_text=True), address, "ORUK service")


# --- the activity CSV import ----------------------------------------------------------------------


def _import_file(rows: list[dict]) -> bytes:
    from portal.directory import csv_import

    template = next(iter(csv_rows(csv_import.template_csv())[1:]))
    example = dict(zip(csv_import.ALL_COLUMNS, template, strict=True))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(csv_import.ALL_COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({**example, "status": "published", **row})
    return out.getvalue().encode()


def _upload(browser, organisation_id: int, content: bytes):
    return browser.post(
        "/activities/import",
        data={"organisation": str(organisation_id), "file": (io.BytesIO(content), "hostile.csv")},
        content_type="multipart/form-data",
    )


def _import_scene(scene: Scene) -> int:
    people(scene, Role.COORDINATOR)
    return make_organisation(email="hello@friends.example").id


IMPORTED_TEXT = (
    "title",
    "description",
    "schedule_note",
    "venue_name",
    "venue_address",
    "eligibility",
    "contact_name",
)


def test_imported_activities_keep_hostile_text_as_typed_and_show_it_inert(app):
    scene = Scene(app)
    organisation_id = _import_scene(scene)
    browser = scene.browser("coordinator")
    rows = [
        {name: HOSTILE[(n + k) % len(HOSTILE)] for k, name in enumerate(IMPORTED_TEXT)}
        for n in range(len(HOSTILE))
    ]

    preview = _upload(browser, organisation_id, _import_file(rows))

    assert preview.status_code == 200, preview.text[:2000]
    for row in rows[:10]:
        assert_inert(preview.text, row["title"], "import preview")
    held = re.search(r'action="(/activities/import/\d+/confirm)"', preview.text)
    assert held, "no confirm button"
    confirmed = browser.post(held.group(1))
    assert confirmed.status_code == 302
    db.session.expire_all()
    for row in rows:
        activity = db.session.scalar(sa.select(Activity).where(Activity.title == row["title"]))
        assert activity is not None, label(row["title"])
        assert [getattr(activity, name) for name in IMPORTED_TEXT] == [
            row[n] for n in IMPORTED_TEXT
        ]
    organisation_page = browser.get(f"/organisations/{organisation_id}").text
    for row in rows:
        assert_inert(organisation_page, row["title"], "organisation page")
    for row in rows[: len(CORE)]:
        activity = db.session.scalar(sa.select(Activity).where(Activity.title == row["title"]))
        detail = scene.browser("public").get(f"/directory/activities/{activity.uuid}")
        for name in ("title", "description", "venue_name"):
            assert_inert(detail.text, row[name], f"directory page {name}")


@pytest.mark.parametrize(
    "value", [pytest.param(VERY_LONG, id="very-long"), pytest.param(NUL, id="nul")]
)
def test_an_import_with_an_over_long_or_nul_value_is_refused_row_by_row(app, value):
    scene = Scene(app)
    organisation_id = _import_scene(scene)
    browser = scene.browser("coordinator")

    answer = _upload(browser, organisation_id, _import_file([{"title": value}]))

    assert answer.status_code in (200, 400), answer.status_code
    assert_no_live_markup(answer.text, "import")
    db.session.expire_all()
    if answer.status_code == 400:
        problems = page_text(answer.text)
        assert "Problems, by row" in problems, "no table of problems"
        assert "160 characters or fewer" in problems or "title" in problems, problems[-800:]
        assert rows_holding(value) == []
    else:
        held = re.search(r'action="(/activities/import/\d+/confirm)"', answer.text)
        confirmed = browser.post(held.group(1))
        assert confirmed.status_code == 302
        db.session.expire_all()
        titles = db.session.scalars(sa.select(Activity.title)).all()
        assert titles in ([value], [value.replace("\x00", "")]), titles


# --- email headers --------------------------------------------------------------------------------


def _registration(scene: Scene) -> None:
    answer = scene.browser("public").post(
        "/organisations/register",
        data={
            **_registration_post({"n": 1}),
            "name": HEADER_INJECTION,
            "description": "Walks",
            "address": "1 Park Lane",
            "contact_name": HEADER_INJECTION,
        },
        environ_base=scene.address(),
    )
    assert answer.status_code in (302, 400), answer.status_code


def _verification(scene: Scene) -> None:
    people(scene, Role.COORDINATOR)
    organisation = make_organisation(verified=False, email="hello@friends.example")
    make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    scene.ctx["member"] = make_user(Role.ORGANISATION_MEMBER, organisation_id=organisation.id)
    answer = scene.browser("member").post(
        "/organisation/profile",
        data={
            "name": HEADER_INJECTION,
            "description": "Walks",
            "address": "1 Park Lane",
            "charity_number": "",
            "company_number": "",
            "email": "hello@friends.example",
            "phone": "",
            "web_address": "",
            "postcode": "CV3 6PT",
        },
    )
    assert answer.status_code in (302, 400), answer.status_code
    if answer.status_code == 302:
        verified = scene.browser("coordinator").post(f"/organisations/{organisation.id}/verify")
        assert verified.status_code == 302


def _activity_referral(scene: Scene, withdraw: bool = False) -> None:
    _member_scene(scene)
    answer = scene.browser("organisation_member").post(
        "/organisation/activities/new",
        data={
            **_activity_post({}),
            **{name: "Walks" for name in ACTIVITY_TEXT},
            "title": HEADER_INJECTION,
        },
    )
    assert answer.status_code in (302, 400), answer.status_code
    if answer.status_code != 302:
        return
    activity = _published(answer, {})["activity"]
    navigator = scene.browser("navigator")
    referred = navigator.post(
        f"/cases/{scene.ctx['referral']}/activities/{activity}/refer", data={"consent": "y"}
    )
    assert referred.status_code == 302
    if withdraw:
        link = last(ActivityReferral)
        withdrawn = navigator.post(
            f"/cases/{scene.ctx['referral']}/activity-referrals/{link.id}/withdraw",
            data={"reason": "Moved away"},
        )
        assert withdrawn.status_code == 302


EMAILS = [
    ("organisation-registration", _registration),
    ("organisation-verification", _verification),
    ("activity-referral", _activity_referral),
    ("activity-referral-withdrawn", lambda scene: _activity_referral(scene, withdraw=True)),
]


@pytest.mark.parametrize("journey", [pytest.param(j, id=i) for i, j in EMAILS])
def test_a_new_line_typed_into_a_name_never_becomes_an_email_header(app, smtp_server, journey):
    """Organisation names and activity titles go into email subjects: a typed CR LF must be
    refused by the form or kept out of the headers, never end the request in an error."""
    scene = Scene(app)
    journey(scene)
    for message in smtp_server.messages:
        assert_email_inert(message, None, "email")
        assert not [r for r in message.get_all("To", []) if "evil.example" in r]
