"""Suggestion panels, the buddy batch, what the person would like, and the admin's weights."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields.choices import SelectChoice

from portal import searches
from portal.audit.service import audit, record_list_view, record_view
from portal.auth.models import Role, User
from portal.auth.permissions import roles_required
from portal.cases import work
from portal.db_types import london_today
from portal.extensions import db
from portal.matching import decisions, pools
from portal.matching import weights as matching_weights
from portal.matching.batch import explain
from portal.matching.engine import Exclusion, Ranking
from portal.matching.forms import NavigatorProfileForm, PreferencesForm, weights_form
from portal.matching.models import MatchDecision, MatchKind
from portal.paging import Page, id_arg
from portal.referrals.models import Neighbourhood, Referral
from portal.referrals.queue import referral_with_people
from portal.referrals.workflow import TransitionRefused
from portal.volunteers import buddying
from portal.volunteers.models import Volunteer
from portal.web import render, wants_partial

bp = Blueprint("matching", __name__)

CASE_WORKERS = (Role.NAVIGATOR, Role.COORDINATOR, Role.ADMIN)
HUB_STAFF = (Role.COORDINATOR, Role.ADMIN)
SHOW_CHOICES = (5, 20, 50)
BATCH_PAGE = 25


_case = work.case_or_404


def _show() -> int:
    try:
        wanted = int(request.values.get("show", SHOW_CHOICES[0]))
    except ValueError:
        wanted = SHOW_CHOICES[0]
    return max((n for n in SHOW_CHOICES if n <= wanted), default=SHOW_CHOICES[0])


def _panel(referral: Referral, kind: str, ranking: Ranking, endpoint: str, **extra):
    # "Why not someone else?" is posted, so the name typed never goes into an address; the
    # "show more" link carries its key instead (portal/searches.py).
    if request.method == "POST":
        who = (request.form.get("who") or "").strip()[:100]
    else:
        who = searches.recall(request.args.get("search"))
    show = _show()
    # Suggestions are worked out from the person's record: looking at them is a view of it.
    record_view(f"{kind}_suggestions", referral.id)
    return render(
        "matching/suggestions.html",
        "matching/partials/_suggestions.html",
        referral=referral,
        person=referral.resident,
        kind=kind,
        ranking=ranking,
        top=ranking.top(show),
        show=show,
        more=next((n for n in SHOW_CHOICES if n > show), None),
        who=who,
        search_key=searches.remember(who) if who else None,
        found=ranking.look_up(who) if who else None,
        panel_url=url_for(endpoint, referral_id=referral.id),
        heading_level=3 if wants_partial() else 2,
        is_exclusion=lambda item: isinstance(item, Exclusion),
        can_act=referral.status in work.CASE_STATUSES,
        **extra,
    )


@bp.route("/cases/<int:referral_id>/suggestions/buddies", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def buddies(referral_id: int):
    referral = _case(referral_id)
    ranking = pools.suggest_buddies(referral, london_today())
    return _panel(referral, "buddy", ranking, ".buddies")


@bp.route("/cases/<int:referral_id>/suggestions/activities", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def activities(referral_id: int):
    referral = _case(referral_id)
    ranking = pools.suggest_activities(referral, london_today())
    return _panel(referral, "activity", ranking, ".activities")


@bp.route("/referrals/<int:referral_id>/suggestions/navigators", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def navigators(referral_id: int):
    referral = referral_with_people(referral_id)
    if referral is None:
        abort(404)
    level = request.values.get("support_level")
    level = int(level) if level in ("1", "2", "3") else None
    ranking = pools.suggest_navigators(referral, london_today(), level)
    return _panel(
        referral,
        "navigator",
        ranking,
        ".navigators",
        at_triage=referral.navigator_id is None and referral.triaged_at is None,
        level=level,
    )


# --- what the person would like ---------------------------------------------------------------


@bp.route("/cases/<int:referral_id>/preferences", methods=["GET", "POST"])
@roles_required(*CASE_WORKERS)
def preferences(referral_id: int):
    referral = _case(referral_id)
    if referral.status not in work.CASE_STATUSES:
        flash("This case is not open, so what the person would like cannot be changed.", "error")
        return redirect(url_for("cases.case", referral_id=referral_id))
    if request.method == "GET":
        record_view("case", referral_id)
        form = PreferencesForm(obj=referral, formdata=None)
        form.preferred_buddy_gender.data = referral.preferred_buddy_gender or ""
        form.version.data = str(referral.version)
        return render("matching/preferences.html", referral=referral, form=form)
    form = PreferencesForm()
    if not form.validate():
        return render("matching/preferences.html", status_code=400, referral=referral, form=form)
    if form.version_number() != referral.version:
        return _preferences_conflict(referral_id, form)
    referral.wants_buddy = form.wants_buddy.data
    referral.preferred_buddy_gender = form.preferred_buddy_gender.data or None
    referral.availability = list(form.availability.data or [])
    referral.interests = list(form.interests.data or [])
    referral.access_needs = list(form.access_needs.data or [])
    audit("changed", "case", referral_id)
    try:
        db.session.commit()
    except StaleDataError:
        return _preferences_conflict(referral_id, form)
    flash("What the person would like is saved. Suggestions now take it into account.", "success")
    return redirect(url_for("cases.case", referral_id=referral_id, _anchor="preferences"))


def _preferences_conflict(referral_id: int, form: PreferencesForm):
    """Someone saved this case first: keep what this person chose, show what is saved now,
    and let them save again on purpose."""
    db.session.rollback()
    referral = _case(referral_id)
    form.form_errors = [
        "Someone else changed this case while you were looking at it. What is saved now is "
        "shown below; check it, then save your choices again."
    ]
    form.version.data = str(referral.version)
    return render(
        "matching/preferences.html", status_code=409, referral=referral, form=form, saved=referral
    )


# --- the buddy batch ----------------------------------------------------------------------


@bp.route("/matching/buddies", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def batch():
    today = london_today()
    if request.method == "POST":
        return _propose_batch(today)
    rows, inputs = pools.batch_for_buddies(today)
    record_list_view("buddy_batch", None)
    page_number = id_arg(request.args.get("page")) or 1
    start = (page_number - 1) * BATCH_PAGE
    page = Page(rows[start : start + BATCH_PAGE], page_number, BATCH_PAGE, len(rows))
    shown = []
    for referral, pairing in page.items:
        shown.append((referral, pairing, explain(pairing, inputs.weights, inputs.context)))
    paired = sum(1 for _, p in rows if p.buddy is not None)
    return render(
        "matching/batch.html",
        "matching/partials/_batch_table.html",
        page=page,
        shown=shown,
        waiting=len(rows),
        paired=paired,
    )


def _propose_batch(today):
    """Ask each buddy ticked on the page; a pairing that no longer holds is skipped and named."""
    asked, refused = [], []
    pairs = []
    for value in request.form.getlist("pair"):
        referral_id, _, volunteer_id = value.partition(":")
        if referral_id.isdigit() and volunteer_id.isdigit():
            pairs.append((int(referral_id), int(volunteer_id)))
    if not pairs:
        flash("Tick at least one pairing to ask the buddy.", "error")
        return redirect(url_for(".batch"))
    for referral_id, volunteer_id in pairs[:BATCH_PAGE]:
        referral = referral_with_people(referral_id)
        volunteer = db.session.get(Volunteer, volunteer_id)
        if referral is None or volunteer is None:
            refused.append("A pairing on the page no longer exists: refresh the list.")
            continue
        ranking = pools.suggest_buddies(referral, today)
        # The page may be old: only someone still waiting is asked for.
        if not referral.wants_buddy or ranking.person.current_buddy_ids:
            refused.append(
                f"{referral.reference}: no longer waiting for a buddy, so nobody was asked."
            )
            continue
        try:
            buddying.propose(referral, volunteer, current_user, today)
            db.session.flush()
        except TransitionRefused as refusal:
            db.session.rollback()
            refused.append(f"{referral.reference}: {refusal.message}")
            continue
        decisions.record(ranking, MatchKind.BUDDY, referral_id, volunteer_id, current_user.id, True)
        audit("created", "buddy_match", referral_id)
        db.session.commit()
        buddying.tell_volunteer_of_proposal(volunteer)
        asked.append(volunteer.user.full_name)
    if asked:
        flash(f"{len(asked)} {'buddy' if len(asked) == 1 else 'buddies'} asked.", "success")
    for message in refused:
        flash(message, "error")
    return redirect(url_for(".batch"))


# --- the admin's weights and navigators' details ---------------------------------------------


@bp.route("/admin/matching", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def weights():
    factors = matching_weights.FACTORS
    if request.method == "GET":
        form = weights_form(factors, matching_weights.current())
        return _weights_page(form)
    form = weights_form(factors, {}, formdata=request.form)
    values, bad = {}, False
    if not form.validate():
        bad = True
    for factor in factors:
        try:
            values[factor.key] = matching_weights.parse_weight(
                factor, getattr(form, factor.key).data
            )
        except matching_weights.WeightRefused as refusal:
            getattr(form, factor.key).errors = [refusal.message]
            bad = True
    if bad:
        return _weights_page(form, 400)
    matching_weights.save(values, current_user.id)
    audit("changed", "matching_weights", None)
    db.session.commit()
    flash("The matching weights are saved. Every suggestion from now on uses them.", "success")
    return redirect(url_for(".weights"))


def _weights_page(form, status_code: int = 200):
    by_kind = db.session.execute(
        sa.select(
            MatchDecision.kind,
            sa.func.count(),
            sa.func.count().filter(MatchDecision.rank == 1),
            sa.func.count().filter(MatchDecision.from_suggestions.is_(True)),
        ).group_by(MatchDecision.kind)
    ).all()
    return render(
        "matching/weights.html",
        status_code=status_code,
        form=form,
        factors=matching_weights.FACTORS,
        decisions=[(kind, total, top, suggested) for kind, total, top, suggested in by_kind],
    )


@bp.route("/admin/navigators")
@roles_required(*HUB_STAFF)
def navigator_list():
    return render("matching/navigators.html", navigators=pools.navigator_pool())


@bp.route("/admin/navigators/<int:user_id>", methods=["GET", "POST"])
@roles_required(*HUB_STAFF)
def navigator_profile(user_id: int):
    navigator = db.session.get(User, user_id)
    if navigator is None or navigator.role != Role.NAVIGATOR:
        abort(404)
    teams = db.session.scalars(sa.select(Neighbourhood).order_by(Neighbourhood.name)).all()
    form = NavigatorProfileForm(formdata=request.form if request.method == "POST" else None)
    form.neighbourhood_id.choices = [SelectChoice("", "Not recorded")] + [
        SelectChoice(str(t.id), t.name) for t in teams
    ]
    if request.method == "GET":
        form.caseload_capacity.data = navigator.caseload_capacity
        form.neighbourhood_id.data = str(navigator.neighbourhood_id or "")
        form.languages.data = ", ".join(navigator.languages or [])
    elif form.validate():
        navigator.caseload_capacity = form.caseload_capacity.data
        navigator.neighbourhood_id = (
            int(form.neighbourhood_id.data) if form.neighbourhood_id.data else None
        )
        navigator.languages = _languages(form.languages.data)
        audit("changed", "user", navigator.id)
        db.session.commit()
        flash(f"{navigator.full_name}'s matching details are saved.", "success")
        return redirect(url_for(".navigator_list"))
    status_code = 400 if form.errors else 200
    return render(
        "matching/navigator_profile.html", status_code=status_code, navigator=navigator, form=form
    )


def _languages(text: str | None) -> list[str]:
    seen: dict[str, str] = {}
    for part in (text or "").split(","):
        name = " ".join(part.split())
        if name and name.lower() != "english":
            seen.setdefault(name.lower(), name[:40].capitalize() if name.islower() else name[:40])
    return list(seen.values())
