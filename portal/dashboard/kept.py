"""The commissioner dashboard's figures, kept by each worker until what they are worked out
from changes.

Working the figures out reads the month facts and a dozen small tables: tens of
milliseconds for a year. They are aggregate counts, with small numbers suppressed, so
nobody can be identified from them and keeping them in memory holds nothing personal.
Each set of figures is kept under its scope and the figures' version
(`facts.figures_version`), which changes in the same transaction as anything they are
read from: a refresh of the facts, or a change to a practice, team, organisation, outcome
report or a volunteer's status. A time limit bounds anything the version cannot see, such
as a change written straight into the database by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app

from portal.dashboard.facts import figures_version
from portal.dashboard.figures import Figures
from portal.dashboard.kpis import Scope
from portal.extensions import db

# Enough for every area of a few years of common date ranges; past it, start again.
MOST_KEPT = 256
_kept: dict[tuple, tuple[float, Figures]] = {}


def figures_for(scope: Scope, work_out: Callable[[], Figures]) -> Figures:
    """The kept figures for this scope if they are still the truth, else `work_out()`'s."""
    seconds = current_app.config["DASHBOARD_FIGURES_SECONDS"]
    if not seconds:
        return work_out()
    # Several apps (and databases) can share a process: tests do.
    database = (id(current_app._get_current_object()), str(db.engine.url))
    key = (database, scope, figures_version())
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is not None and now - kept[0] < seconds:
        return kept[1]
    figures = work_out()
    if len(_kept) >= MOST_KEPT:
        _kept.clear()
    _kept[key] = (now, figures)
    return figures


def forget_figures() -> None:
    """Drop every kept set of figures (tests, and after changes made outside the portal)."""
    _kept.clear()
