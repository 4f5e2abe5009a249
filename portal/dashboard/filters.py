"""The dashboard's filters: a date range and a practice or neighbourhood team, checked.

A commissioner tied to one neighbourhood team (User.neighbourhood_id) sees only its
practices; one with no team sees every practice. Hub staff see every practice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from portal.auth.models import Role, User
from portal.dashboard.kpis import Scope
from portal.extensions import db
from portal.form_fields import DateInputField
from portal.referrals.models import Neighbourhood, Practice

LONGEST_RANGE_YEARS = 5
# Dates outside these years cannot hold referrals, and far-off years would overflow
# the date arithmetic.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = DateInputField("From", description="For example, 1 4 2026")
    end = DateInputField("To", description="For example, 31 3 2027")
    area = SelectField("Practice or neighbourhood team", choices=[])


@dataclass(frozen=True)
class Area:
    value: str  # "" (all), "n<id>" (a team) or "p<id>" (a practice)
    label: str
    practice_ids: tuple[int, ...] | None


def visible_practices(user: User) -> list[sa.Row]:
    """(id, name, neighbourhood_id) of each practice this user may see, by name: rows, not
    objects, as every dashboard view reads them all."""
    query = sa.select(Practice.id, Practice.name, Practice.neighbourhood_id).order_by(Practice.name)
    if user.role == Role.COMMISSIONER and user.neighbourhood_id is not None:
        query = query.where(Practice.neighbourhood_id == user.neighbourhood_id)
    return list(db.session.execute(query))


def areas_for(user: User) -> list[Area]:
    """What this user may filter by: everything they can see, each team, each practice."""
    practices = visible_practices(user)
    ids = tuple(p.id for p in practices)
    limited = user.role == Role.COMMISSIONER and user.neighbourhood_id is not None
    teams = {p.neighbourhood_id for p in practices}
    names = dict(
        db.session.execute(
            sa.select(Neighbourhood.id, Neighbourhood.name).where(Neighbourhood.id.in_(teams))
        ).all()
    )
    areas = [
        Area(
            "",
            "All practices you can see" if limited else "All practices",
            ids if limited else None,
        )
    ]
    for team_id in sorted(teams, key=lambda t: names[t]):
        members = tuple(p.id for p in practices if p.neighbourhood_id == team_id)
        areas.append(Area(f"n{team_id}", names[team_id], members))
    areas += [Area(f"p{p.id}", p.name, (p.id,)) for p in practices]
    return areas


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def default_range(today: date) -> tuple[date, date]:
    """The last twelve whole months and this month so far."""
    start = (today.replace(day=1) - timedelta(days=365)).replace(day=1)
    return start, today


@dataclass
class Filters:
    form: FilterForm
    scope: Scope | None  # None when the filters are wrong
    area: Area | None
    forbidden: bool = False  # a practice or team this user may not see


def download_query(scope: Scope, area: Area) -> str:
    """The filters of these figures as the form sends them, for the download links: the
    same figures whatever else the address held, and on whatever day they are opened."""
    args = {"area": area.value}
    for name, day in (("start", scope.start), ("end", scope.end)):
        args |= {f"{name}[day]": day.day, f"{name}[month]": day.month, f"{name}[year]": day.year}
    return urlencode(args)


def read_filters(args, user: User, today: date) -> Filters:
    """The scope the request asks for, or the form with a message next to each wrong field."""
    areas = areas_for(user)
    form = FilterForm(formdata=args if args else None)
    form.area.choices = [SelectChoice(a.value, a.label) for a in areas]
    start_default, end_default = default_range(today)
    if not args:
        form.start.process(None, start_default)
        form.end.process(None, end_default)
        return Filters(form, Scope(start_default, end_default, areas[0].practice_ids), areas[0])
    chosen = next((a for a in areas if a.value == (form.area.data or "")), None)
    if chosen is None:
        # Asking for a practice outside one's own area is refused, not quietly widened.
        return Filters(form, None, None, forbidden=True)
    start = form.start.data if form.start.data is not None else start_default
    end = form.end.data if form.end.data is not None else end_default
    for field in (form.start, form.end):
        if field.parse_error:
            field.errors = [field.parse_error]
    for field, day in ((form.start, start), (form.end, end)):
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            field.errors = [f"Enter a year from {EARLIEST_YEAR} to {LATEST_YEAR}"]
    if form.start.errors or form.end.errors:
        return Filters(form, None, chosen)
    if end < start:
        form.end.errors = ["The end date must be the same as or after the start date"]
    elif end >= _years_after(start, LONGEST_RANGE_YEARS):
        form.end.errors = [f"Choose a range of {LONGEST_RANGE_YEARS} years or less"]
    if form.end.errors:
        return Filters(form, None, chosen)
    return Filters(form, Scope(start, end, chosen.practice_ids), chosen)
