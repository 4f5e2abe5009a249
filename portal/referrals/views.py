"""Referral intake, the triage queue and triage, the INT lists and the practice's view."""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from portal import searches
from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role, User
from portal.auth.permissions import roles_required
from portal.cases.models import Contact, ContactMethod, ContactResult
from portal.db_types import london_today, utcnow
from portal.extensions import db, public_form_limit
from portal.form_fields import local_to_utc
from portal.matching import decisions
from portal.matching import pools as matching_pools
from portal.matching.models import MatchKind
from portal.paging import id_arg
from portal.referrals import intake, workflow
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
    OPEN_STATUSES,
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    Route,
    Urgency,
)
from portal.referrals.queue import (
    QueueFilters,
    QueueRow,
    navigators_with_caseload,
    queue_page,
    referral_with_people,
)
from portal.referrals.working_days import working_days_between
from portal.volunteers import buddying
from portal.web import render, wants_partial

bp = Blueprint("referrals", __name__)
log = logging.getLogger(__name__)

HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)


def status_counts(*where) -> dict[ReferralStatus, int]:
    """Referrals counted by current status (every status present, zero where none)."""
    rows = db.session.execute(
        sa.select(Referral.status, sa.func.count()).where(*where).group_by(Referral.status)
    )
    counts = dict.fromkeys(ReferralStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts


def _practices() -> list[Practice]:
    return list(db.session.scalars(sa.select(Practice).order_by(Practice.name)))


def _neighbourhoods() -> list[Neighbourhood]:
    return list(db.session.scalars(sa.select(Neighbourhood).order_by(Neighbourhood.name)))


def _age_in_working_days(referral: Referral | QueueRow, today: date) -> int:
    return working_days_between(referral.received_at.date(), today)


# --- the triage queue ---------------------------------------------------------------------


@bp.route("/hub", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def hub():
    """The hub's start page: referrals waiting for triage, oldest first, filtered with htmx.
    The filter form is posted, so a name searched for never goes into the address."""
    if request.method == "POST":
        return searches.show_results(
            "referrals.hub", QueueFilters.from_args(request.form).as_args()
        )
    filters = QueueFilters.from_args(searches.from_address(request.args))
    # The view is recorded before anything is read: a list that cannot be recorded is not shown.
    record_list_view("referrals", filters.status or "waiting")
    # Every practice and team, for the filters; each row's practice and team are found
    # among them, even for the htmx partial, rather than read again for each row.
    practices, neighbourhoods = _practices(), _neighbourhoods()
    page = queue_page(filters, request.args.get("page"), current_app.config["PAGE_SIZE"])
    today = date.today()
    return render(
        "referrals/hub.html",
        "referrals/partials/_hub_table.html",
        page=page,
        filters=filters,
        # Open statuses only: counting every closed referral too would read the whole table.
        counts=status_counts(Referral.status.in_(OPEN_STATUSES)),
        statuses=ReferralStatus,
        open_statuses=OPEN_STATUSES,
        practices=practices,
        practice_by_id={practice.id: practice for practice in practices},
        neighbourhoods=neighbourhoods,
        urgencies=Urgency,
        reasons=ReferralReason,
        age=lambda r: _age_in_working_days(r, today),
    )


# --- new referrals ------------------------------------------------------------------------


def _person(form) -> intake.PersonDetails:
    nhs = form.nhs_number.data
    return intake.PersonDetails(
        given_name=form.given_name.data,
        family_name=form.family_name.data,
        date_of_birth=form.date_of_birth.data,
        nhs_number=intake.normalise_nhs_number(nhs) if nhs else None,
        address=form.address.data,
        postcode=intake.normalise_postcode(form.postcode.data),
        phone=form.phone.data,
        email=form.email.data,
        preferred_contact=PreferredContact(form.preferred_contact.data),
        language=form.language.data,
        interpreter_needed=form.interpreter_needed.data,
        accessibility_needs=form.accessibility_needs.data,
        practice_id=form.practice_id.data,
    )


@bp.route("/referrals/new", methods=["GET", "POST"])
@roles_required(Role.PRACTICE_USER, *HUB_STAFF)
def new_referral():
    """The common referral form: a practice refers its patient; the hub keys in a phone call."""
    is_practice = current_user.role == Role.PRACTICE_USER
    allowed = [db.session.get(Practice, current_user.practice_id)] if is_practice else _practices()
    form = ReferralForm(
        nhs_number_required=is_practice,
        allowed_practices=allowed,
        from_practice=is_practice,
        data={
            "consent_recorded_by": current_user.full_name,
            "practice_id": current_user.practice_id if is_practice else None,
        },
    )
    if form.validate_on_submit():
        source = ReferralSource.PRACTICE if is_practice else ReferralSource(form.source.data)
        details = intake.ReferralDetails(
            source=source,
            reasons=[ReferralReason(r) for r in form.reasons.data],
            consent_given=form.consent.data,
            consent_recorded_by=form.consent_recorded_by.data,
            consent_share_with_gp=form.consent_share_with_gp.data,
            details=form.details.data,
            known_risks=form.known_risks.data,
            urgency=Urgency(form.urgency.data),
            referrer_name=form.referrer_name.data,
            referrer_role=form.referrer_role.data,
            practice_id=form.practice_id.data if source == ReferralSource.PRACTICE else None,
        )
        referral = intake.submit(_person(form), details, workflow.Actor.of(current_user))
        audit("created", "referral", referral.id)
        db.session.commit()
        flash(f"Referral {referral.reference} sent to the hub", "success")
        if is_practice:
            return redirect(url_for(".practice_referral", referral_id=referral.id))
        return redirect(url_for(".referral", referral_id=referral.id))
    status = 400 if form.is_submitted() else 200
    return render("referrals/new.html", form=form, is_practice=is_practice, status_code=status)


@bp.route("/refer-yourself", methods=["GET", "POST"])
@public_form_limit("self-referral")
def self_referral():
    """The public self-referral form: no login, nothing about anyone else ever shown."""
    form = SelfReferralForm(practices=_practices())
    if form.validate_on_submit():
        if form.website.data:
            # A bot filled in the hidden field: thank it, save nothing.
            log.info("self-referral honeypot filled; nothing saved")
            session.pop("self_referral_reference", None)
            return redirect(url_for(".self_referral_sent"))
        details = intake.ReferralDetails(
            source=ReferralSource.SELF,
            reasons=[ReferralReason(r) for r in form.reasons.data],
            consent_given=form.consent.data,
            consent_recorded_by="The person, on the online form",
            consent_share_with_gp=form.consent_share_with_gp.data,
            details=form.details.data,
            referrer_name=form.helper_name.data,
            referrer_role="Helping the person fill in the form" if form.helper_name.data else None,
        )
        referral = intake.submit(_person(form), details, workflow.SELF_REFERRAL_FORM)
        audit("created", "referral", referral.id)
        db.session.commit()
        session["self_referral_reference"] = referral.reference
        return redirect(url_for(".self_referral_sent"))
    status = 400 if form.is_submitted() else 200
    return render("referrals/self_referral.html", form=form, status_code=status)


@bp.route("/refer-yourself/sent")
def self_referral_sent():
    # Shown once: the reference lives in this browser's session, never in the address.
    reference = session.pop("self_referral_reference", None)
    return render("referrals/self_referral_sent.html", reference=reference)


# --- one referral, for the hub ------------------------------------------------------------


def _load(referral_id: int) -> Referral:
    referral = referral_with_people(referral_id)
    if referral is None:
        abort(404)
    return referral


def _forms(referral: Referral, **given):
    """The page's three forms: the one just posted (with its errors) and fresh others."""
    forms = {
        "attempt_form": given.get("attempt_form") or ContactAttemptForm(formdata=None),
        # A posted triage form already has its navigator list; only a fresh one needs it.
        "triage_form": given.get("triage_form")
        or TriageForm(formdata=None, navigators=navigators_with_caseload()),
        "close_form": given.get("close_form") or CloseForm(formdata=None),
    }
    for name in ("triage_form", "close_form"):
        if forms[name].version.data in (None, ""):
            forms[name].version.data = str(referral.version)
    # Chosen from the suggested navigators: the triage form starts with them picked.
    suggested = id_arg(request.args.get("navigator"))
    if "triage_form" not in given and suggested is not None:
        forms["triage_form"].navigator_id.data = suggested
    return forms


def _referral_page(
    referral: Referral,
    status_code: int = 200,
    conflict=None,
    page_error=None,
    saved_message=None,
    **forms,
):
    attempts = list(
        db.session.scalars(
            sa.select(Contact)
            .options(joinedload(Contact.author))
            .where(Contact.referral_id == referral.id)
            .order_by(Contact.occurred_at)
        )
    )
    return render(
        "referrals/referral.html",
        "referrals/partials/_referral_work.html",
        status_code=status_code,
        referral=referral,
        attempts=attempts,
        failed_attempts=workflow.failed_attempts_since_last_contact(referral),
        attempts_needed=workflow.attempts_needed(),
        earlier=intake.earlier_referrals(referral),
        age=_age_in_working_days(referral, date.today()),
        conflict=conflict,
        page_error=page_error,
        saved_message=saved_message,
        can_triage=referral.status in workflow.TRIAGE_STATUSES,
        can_attempt=referral.status in (*workflow.TRIAGE_STATUSES, ReferralStatus.TRIAGED),
        **_forms(referral, **forms),
    )


@bp.route("/referrals/<int:referral_id>")
@roles_required(*HUB_STAFF)
def referral(referral_id: int):
    record_view("referral", referral_id)
    return _referral_page(_load(referral_id))


def _changes_since(referral: Referral, version: int | None) -> list[ReferralEvent]:
    """What others saved after the page the user was looking at was drawn."""
    if version is None:
        return []
    return [e for e in referral.events if e.version is not None and e.version > version]


def _refused(referral: Referral, refusal: workflow.TransitionRefused, form_name: str, form):
    db.session.rollback()
    referral = _load(referral.id)
    if refusal.field and hasattr(form, refusal.field):
        getattr(form, refusal.field).errors = [refusal.message]
        return _referral_page(referral, 400, **{form_name: form})
    return _referral_page(referral, 409, page_error=refusal.message, **{form_name: form})


def _stale(referral_id: int, form_name: str, form):
    """Someone else saved first: say what they changed, keep what this user chose."""
    db.session.rollback()
    referral = _load(referral_id)
    form.form_errors = [
        "Someone else changed this referral while you were looking at it. "
        "Check what they did, then make your decision again."
    ]
    conflict = _changes_since(referral, form.version_number())
    form.version.data = str(referral.version)
    return _referral_page(referral, 409, conflict=conflict, **{form_name: form})


def _saved(referral: Referral, message: str):
    workflow.stamp_versions(referral)
    audit("changed", "referral", referral.id)
    db.session.commit()
    if wants_partial():
        # The partial carries the message itself; a flash would linger to the next page.
        return _referral_page(_load(referral.id), saved_message=message)
    flash(message, "success")
    return redirect(url_for(".referral", referral_id=referral.id))


@bp.post("/referrals/<int:referral_id>/attempts")
@roles_required(*HUB_STAFF)
def record_attempt(referral_id: int):
    referral = _load(referral_id)
    form = ContactAttemptForm()
    if not form.validate():
        return _referral_page(referral, 400, attempt_form=form)
    try:
        workflow.record_contact_attempt(
            referral,
            workflow.Actor.of(current_user),
            occurred_at=local_to_utc(form.occurred_at.data),
            method=ContactMethod(form.method.data),
            result=ContactResult(form.result.data),
            notes=form.notes.data,
        )
    except workflow.TransitionRefused as refusal:
        return _refused(referral, refusal, "attempt_form", form)
    return _saved(referral, f"Contact attempt recorded: {ContactResult(form.result.data).label}")


@bp.post("/referrals/<int:referral_id>/triage")
@roles_required(*HUB_STAFF)
def triage(referral_id: int):
    referral = _load(referral_id)
    form = TriageForm(navigators=navigators_with_caseload())
    if not form.validate():
        return _referral_page(referral, 400, triage_form=form)
    if form.version_number() != referral.version:
        return _stale(referral_id, "triage_form", form)
    navigator = db.session.get(User, form.navigator_id.data) if form.navigator_id.data else None
    if form.navigator_id.data and navigator is None:
        form.navigator_id.errors = ["Choose a navigator from the list"]
        return _referral_page(referral, 400, triage_form=form)
    ranking = (
        matching_pools.suggest_navigators(referral, london_today(), form.support_level.data)
        if navigator
        else None
    )
    try:
        workflow.triage(
            referral,
            workflow.Actor.of(current_user),
            route=Route(form.route.data),
            support_level=form.support_level.data,
            navigator=navigator,
            note=form.note.data,
        )
        workflow.stamp_versions(referral)
        if ranking is not None and referral.navigator_id == navigator.id:
            decisions.record(
                ranking,
                MatchKind.NAVIGATOR,
                referral.id,
                navigator.id,
                current_user.id,
                # The hidden field names the navigator suggested; another choice is the user's own.
                from_suggestions=request.form.get("from_suggestions") == str(navigator.id),
            )
    except workflow.TransitionRefused as refusal:
        return _refused(referral, refusal, "triage_form", form)
    except StaleDataError:
        return _stale(referral_id, "triage_form", form)
    response = _saved(referral, f"Triage decision recorded: {referral.route.label}")
    if referral.int_neighbourhood_id:
        # After the commit: the referral is on the INT's list even if the email fails.
        _tell_the_int(referral)
    return response


def _tell_the_int(referral: Referral) -> None:
    """An email to the INT's shared mailbox with a link, never the person's details."""
    from portal.mail import MailError, send_email

    team = db.session.get(Neighbourhood, referral.int_neighbourhood_id)
    if not team or not team.email:
        return
    link = url_for(".int_list", int=team.id, _external=True)
    try:
        send_email(
            to=team.email,
            subject=f"New referral for {team.name}: {referral.reference}",
            body=(
                f"The social prescribing hub has routed referral {referral.reference} to "
                f"{team.name}.\n\nSee it on your list in the portal:\n{link}\n"
            ),
        )
    except MailError:
        # The referral is on the INT's list whatever happens to the email.
        log.warning("could not email the INT about referral %s", referral.id)


@bp.post("/referrals/<int:referral_id>/close")
@roles_required(*HUB_STAFF)
def close(referral_id: int):
    referral = _load(referral_id)
    form = CloseForm()
    if not form.validate():
        return _referral_page(referral, 400, close_form=form)
    if form.version_number() != referral.version:
        return _stale(referral_id, "close_form", form)
    try:
        workflow.close(
            referral,
            workflow.Actor.of(current_user),
            ClosureReason(form.reason.data),
            form.summary.data,
        )
        # As when a navigator closes the case: a closed case needs no buddy.
        buddying.end_for_case(referral, current_user)
        workflow.stamp_versions(referral)
    except workflow.TransitionRefused as refusal:
        return _refused(referral, refusal, "close_form", form)
    except StaleDataError:
        return _stale(referral_id, "close_form", form)
    return _saved(referral, f"Referral closed: {referral.closure_reason.label}")


# --- editing ------------------------------------------------------------------------------

EDITABLE = {
    "address": "Address",
    "postcode": "Postcode",
    "phone": "Phone number",
    "email": "Email address",
    "preferred_contact": "How they would like to be contacted",
    "language": "Main language",
    "interpreter_needed": "Needs an interpreter",
    "accessibility_needs": "Accessibility or communication needs",
}
REFERRAL_EDITABLE = {"details": "Details", "known_risks": "Known risks", "urgency": "Urgency"}


def _shown(value) -> str | bool | None:
    if hasattr(value, "label"):
        return value.label
    return value


def _apply_edit(referral: Referral, form: EditReferralForm) -> dict[str, list]:
    changes: dict[str, list] = {}
    resident = referral.resident
    new_values = {
        "address": form.address.data,
        "postcode": intake.normalise_postcode(form.postcode.data),
        "phone": form.phone.data,
        "email": form.email.data,
        "preferred_contact": PreferredContact(form.preferred_contact.data),
        "language": form.language.data,
        "interpreter_needed": form.interpreter_needed.data,
        "accessibility_needs": form.accessibility_needs.data,
    }
    for name, value in new_values.items():
        if getattr(resident, name) != value:
            changes[EDITABLE[name]] = [_shown(getattr(resident, name)), _shown(value)]
            setattr(resident, name, value)
    for name, value in {
        "details": form.details.data,
        "known_risks": form.known_risks.data,
        "urgency": Urgency(form.urgency.data),
    }.items():
        if getattr(referral, name) != value:
            changes[REFERRAL_EDITABLE[name]] = [_shown(getattr(referral, name)), _shown(value)]
            setattr(referral, name, value)
    reasons = [ReferralReason(r) for r in form.reasons.data]
    if set(reasons) != set(referral.reason_codes):
        changes["Reasons"] = [
            ", ".join(r.label for r in referral.reason_codes),
            ", ".join(r.label for r in reasons),
        ]
        referral.reasons = [ReferralReasonLink(reason=r) for r in reasons]
    if changes:
        # The resident's details live on another row: touch the referral so its version moves.
        referral.updated_at = utcnow()
    return changes


# Free-text answers a clash can merge: where this user left the old value, take the new one.
TEXT_FIELDS_BY_LABEL = {
    label: name
    for name, label in {**EDITABLE, **REFERRAL_EDITABLE}.items()
    if name not in ("preferred_contact", "interpreter_needed", "urgency")
}


def _take_their_untouched_changes(form: EditReferralForm, conflict: list[ReferralEvent]) -> None:
    for event in conflict:
        for label, (before, after) in (event.changes or {}).items():
            name = TEXT_FIELDS_BY_LABEL.get(label)
            if name is None:
                continue
            field = form[name]
            if (field.data or None) == (before or None):
                field.data = after


@bp.route("/referrals/<int:referral_id>/edit", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def edit(referral_id: int):
    referral = _load(referral_id)
    if not referral.is_open:
        flash("This referral is closed, so its details can no longer be changed.")
        return redirect(url_for(".referral", referral_id=referral.id))
    resident = referral.resident
    data = {name: getattr(resident, name) for name in EDITABLE}
    data["preferred_contact"] = resident.preferred_contact.value
    data.update(
        details=referral.details,
        known_risks=referral.known_risks,
        urgency=referral.urgency.value,
        reasons=[r.value for r in referral.reason_codes],
        version=str(referral.version),
    )
    form = EditReferralForm(data=data)
    conflict = None
    status = 200
    if form.validate_on_submit():
        if form.version_number() == referral.version:
            try:
                changes = _apply_edit(referral, form)
                workflow.record_edit(referral, workflow.Actor.of(current_user), changes)
                workflow.stamp_versions(referral)
                audit("changed", "referral", referral.id)
                db.session.commit()
            except StaleDataError:
                pass
            else:
                flash("Referral details saved" if changes else "Nothing was changed", "success")
                return redirect(url_for(".referral", referral_id=referral.id))
        db.session.rollback()
        referral = _load(referral_id)
        conflict = _changes_since(referral, form.version_number())
        _take_their_untouched_changes(form, conflict)
        form.form_errors = [
            "Someone else saved changes to this referral after you opened it, so your "
            "changes were not saved. Their changes are shown below and are already in "
            "the form where you had not changed that answer; check your answers and save again."
        ]
        form.version.data = str(referral.version)
        status = 409
    elif form.is_submitted():
        status = 400
    return render(
        "referrals/edit.html",
        form=form,
        referral=referral,
        conflict=conflict,
        status_code=status,
    )


# --- INT lists ----------------------------------------------------------------------------


@bp.route("/int")
@roles_required(*HUB_STAFF)
def int_list():
    """Referrals routed to one Integrated Neighbourhood Team."""
    teams = _neighbourhoods()
    chosen = QueueFilters.from_args(request.args).int
    team = next((t for t in teams if t.id == chosen), teams[0] if teams else None)
    show_closed = request.args.get("show") == "all"
    page = None
    if team is not None:
        statuses = tuple(ReferralStatus) if show_closed else OPEN_STATUSES
        query = (
            sa.select(Referral)
            .options(
                joinedload(Referral.resident),
                joinedload(Referral.practice),
                joinedload(Referral.navigator),
            )
            .where(Referral.int_neighbourhood_id == team.id, Referral.status.in_(statuses))
            .order_by(Referral.int_sent_at.desc(), Referral.id.desc())
        )
        record_list_view("int_referrals", team.id)
        page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render(
        "referrals/int_list.html",
        "referrals/partials/_int_table.html",
        teams=teams,
        team=team,
        page=page,
        show_closed=show_closed,
    )


# --- the practice's view ------------------------------------------------------------------


@bp.route("/practice/referrals")
@roles_required(Role.PRACTICE_USER)
def practice_referrals():
    """A practice sees its own referrals and where each has got to; never case notes."""
    practice = db.session.get(Practice, current_user.practice_id)
    filters = QueueFilters.from_args(request.args)
    statuses = filters.statuses if filters.status else tuple(ReferralStatus)
    query = (
        sa.select(Referral)
        .options(joinedload(Referral.resident))
        .where(Referral.practice_id == current_user.practice_id, Referral.status.in_(statuses))
        .order_by(Referral.received_at.desc(), Referral.id.desc())
    )
    record_list_view("practice_referrals", current_user.practice_id)
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render(
        "referrals/practice_referrals.html",
        "referrals/partials/_practice_table.html",
        page=page,
        practice=practice,
        status=filters.status if filters.status != "all" else "",
        statuses=ReferralStatus,
        counts=status_counts(Referral.practice_id == current_user.practice_id),
        open_statuses=OPEN_STATUSES,
    )


# What a practice sees of a referral's history: milestones, not the hub's working notes.
PRACTICE_VISIBLE = (
    ReferralAction.RECEIVED,
    ReferralAction.TRIAGED,
    ReferralAction.SENT_TO_INT,
    ReferralAction.ASSIGNED,
    ReferralAction.ACTIVATED,
    ReferralAction.CLOSED,
    ReferralAction.INFORMATION_ADDED,
)


def _own_practice_referral(referral_id: int) -> Referral:
    referral = _load(referral_id)
    # Another practice's referral does not exist, as far as this user can tell.
    if referral.practice_id != current_user.practice_id:
        abort(404)
    return referral


def _practice_page(referral: Referral, form: AddInformationForm, status_code: int = 200):
    events = [e for e in referral.events if e.action in PRACTICE_VISIBLE]
    return render(
        "referrals/practice_referral.html",
        referral=referral,
        events=events,
        form=form,
        status_code=status_code,
    )


@bp.route("/practice/referrals/<int:referral_id>")
@roles_required(Role.PRACTICE_USER)
def practice_referral(referral_id: int):
    referral = _own_practice_referral(referral_id)
    record_view("referral", referral_id)
    return _practice_page(referral, AddInformationForm(formdata=None))


@bp.post("/practice/referrals/<int:referral_id>/information")
@roles_required(Role.PRACTICE_USER)
def add_information(referral_id: int):
    referral = _own_practice_referral(referral_id)
    form = AddInformationForm()
    if not form.validate():
        return _practice_page(referral, form, 400)
    try:
        workflow.add_information(referral, workflow.Actor.of(current_user), form.text.data)
    except workflow.TransitionRefused as refusal:
        db.session.rollback()
        # The box is not drawn on a closed referral, so the message stands above the page.
        form.form_errors = [refusal.message]
        return _practice_page(_own_practice_referral(referral_id), form, 409)
    workflow.stamp_versions(referral)
    audit("changed", "referral", referral.id)
    db.session.commit()
    flash("Your information has been added for the hub", "success")
    return redirect(url_for(".practice_referral", referral_id=referral.id))
