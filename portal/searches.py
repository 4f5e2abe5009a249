"""A name typed into a list's search box never goes into a page address.

Addresses end up in browser history, server and proxy logs and Referer headers, and the
people searched for here are residents and volunteers. A list's filter form is posted;
the typed text is kept in the person's own session under a short random key, and the
address the list is shown at carries only that key (`search=...`). Typing the same text
again reuses its key, and only the last few searches are kept, so the session stays small.
A key that is not in this person's session finds nothing of theirs: the list shows
unsearched, as a fresh search box would.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from flask import session

SESSION_KEY = "searches"
KEPT = 10
MAX_LENGTH = 100
# The session is a cookie, and browsers drop cookies over 4 KB (which would log the person
# out): ten long searches in a script the JSON writes as \u escapes could pass that, so the
# oldest go first once the kept words would take more than this much JSON.
BUDGET = 1200


def remember(text: str) -> str:
    """The key for this search text, kept in the session."""
    kept: dict[str, str] = dict(session.get(SESSION_KEY) or {})
    for key, value in kept.items():
        if value == text:
            return key
    key = secrets.token_urlsafe(6)
    kept[key] = text
    while len(kept) > 1 and (len(kept) > KEPT or len(json.dumps(kept)) > BUDGET):
        kept.pop(next(iter(kept)))
    session[SESSION_KEY] = kept
    return key


def recall(key: str | None) -> str:
    if not key:
        return ""
    return (session.get(SESSION_KEY) or {}).get(key, "")


def from_address(args: Mapping) -> dict:
    """The query string as a list's filters read it: `q` is what the address's key stands
    for; a `q` written into the address itself is ignored."""
    out = {key: value for key, value in args.items() if key not in ("q", "search")}
    out["q"] = recall(args.get("search"))
    return out


def for_address(filter_args: dict[str, str]) -> dict[str, str]:
    """A list's filters as address arguments: the search text swapped for its key."""
    out = dict(filter_args)
    text = out.pop("q", "")
    if text:
        out["search"] = remember(text[:MAX_LENGTH])
    return out


def show_results(endpoint: str, filter_args: dict[str, str]):
    """The answer to a posted filter form: the list's own address, with the search's key
    (303, so a reload does not post again; htmx follows it and pushes that address)."""
    from flask import redirect, url_for

    return redirect(url_for(endpoint, **for_address(filter_args)), 303)
