"""The admin's list of accounts."""

from __future__ import annotations

from portal.auth.models import Role
from tests.factories import make_organisation, make_practice, make_user
from tests.statements import statements_of


def test_the_list_names_each_persons_practice_or_organisation_in_one_read(app, logged_in_admin):
    """Practices and organisations come with the page's accounts, not one statement each."""
    make_user(Role.PRACTICE_USER, practice_id=make_practice(name="Practice 0").id)
    one_each = statements_of(app, logged_in_admin, "/admin/users")
    for n in range(1, 4):
        make_user(Role.PRACTICE_USER, practice_id=make_practice(name=f"Practice {n}").id)
        make_user(
            Role.ORGANISATION_MEMBER,
            organisation_id=make_organisation(name=f"Organisation {n}").id,
        )

    assert statements_of(app, logged_in_admin, "/admin/users") == one_each
    page = logged_in_admin.get("/admin/users").text
    for n in range(4):
        assert f"Practice {n}" in page
    for n in range(1, 4):
        assert f"Organisation {n}" in page
