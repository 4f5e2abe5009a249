"""Every column about a person is either exported or left out on purpose, with a reason.

A column added to a person's table, or a new table hanging off a resident, a referral or a
volunteer, fails here until the export decides about it in portal/governance/subject_access.py.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import sqlalchemy as sa

from portal.auth.models import User
from portal.extensions import db
from portal.governance import subject_access as sar

KINDS = ["resident", "volunteer"]


def columns(model) -> set[str]:
    return set(sa.inspect(model).columns.keys())


def shown(kind: str) -> dict[type, set[str]]:
    found: dict[type, set[str]] = defaultdict(set)
    for section in sar.SECTIONS[kind]:
        for model, names in section.sources.items():
            found[model] |= set(names)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_every_column_of_every_exported_model_is_decided(app, kind):
    left_out = sar.LEFT_OUT[kind]
    exported = shown(kind)
    assert set(exported) == set(left_out), "each exported model needs a LEFT_OUT entry"
    for model, names in exported.items():
        undecided = columns(model) - names - set(left_out[model])
        assert not undecided, (
            f"{kind} export: {model.__name__} columns {sorted(undecided)} are neither "
            "shown in a section nor in LEFT_OUT with a reason"
        )
        assert not names & set(left_out[model]), f"{model.__name__}: both shown and left out"
        stale = (names | set(left_out[model])) - columns(model)
        assert not stale, f"{model.__name__}: no such columns {sorted(stale)}"
        assert all(why.strip() for why in left_out[model].values())


@pytest.mark.parametrize("kind", KINDS)
def test_each_section_names_where_its_readable_keys_come_from(app, kind):
    for section in sar.SECTIONS[kind]:
        assert len(set(section.keys)) == len(section.keys), section.key
        assert set(section.shown_as.values()) <= set(section.keys), section.key
        for mapping in section.also.values():
            assert set(mapping.values()) <= set(section.keys), section.key
        assert all(label.strip() for _, label in section.columns), section.key


def test_the_account_secrets_are_never_exported(app):
    account = next(s for s in sar.VOLUNTEER_SECTIONS if s.model is User)
    secrets = {"password_hash", "session_token", "totp_secret", "last_totp_step"} & columns(User)
    assert "password_hash" in secrets and "session_token" in secrets
    assert not secrets & account.sources[User]
    assert secrets <= set(sar.LEFT_OUT["volunteer"][User])


def _person_tables() -> set[str]:
    """Tables that hang off a resident or a volunteer, however many steps away."""
    tables = {t.name: t for t in db.metadata.sorted_tables}
    found = {"residents", "volunteers"}
    while True:
        more = {
            name
            for name, table in tables.items()
            if name not in found and any(fk.column.table.name in found for fk in table.foreign_keys)
        }
        if not more:
            return found
        found |= more


def test_every_table_about_a_person_is_exported_or_left_out_with_a_reason(app):
    exported = {m.__table__.name for kind in KINDS for m in shown(kind)}
    person_tables = _person_tables()
    undecided = person_tables - exported - set(sar.TABLES_LEFT_OUT)
    assert not undecided, f"decide about {sorted(undecided)} in subject_access.TABLES_LEFT_OUT"
    tables = {t.name for t in db.metadata.sorted_tables}
    assert set(sar.TABLES_LEFT_OUT) <= tables, "TABLES_LEFT_OUT names a table that is gone"


def test_every_reference_to_a_login_account_is_followed_or_left_out(app):
    references = {
        f"{table.name}.{fk.parent.name}"
        for table in db.metadata.sorted_tables
        if table.name not in sar.TABLES_LEFT_OUT
        for fk in table.foreign_keys
        if fk.column.table.name == "users"
    }
    decided = set(sar.ACCOUNT_LINKS) | set(sar.ACCOUNT_LINKS_NOT_FOLLOWED)
    assert not references - decided, (
        f"decide about {sorted(references - decided)}: ACCOUNT_LINKS (the volunteer export "
        "finds their records by it) or ACCOUNT_LINKS_NOT_FOLLOWED (and why)"
    )
    assert not decided - references, f"no such references: {sorted(decided - references)}"
    volunteer_tables = {m.__table__.name for m in shown("volunteer")}
    for reference, section_key in sar.ACCOUNT_LINKS.items():
        assert reference.split(".")[0] in volunteer_tables
        assert section_key in {s.key for s in sar.VOLUNTEER_SECTIONS}
