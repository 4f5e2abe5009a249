"""Password storage and policy (ASVS 6.2, 11.4.2)."""

from __future__ import annotations

import string

from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from config import Config
from portal.auth.passwords import hash_password, password_problems, verify_password


def test_hashes_are_argon2id_and_verify(app):
    stored = hash_password("a long enough passphrase")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long enough passphrase")
    assert not verify_password(stored, "a long enough passphrasE")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_production_parameters_meet_owasp_minimum():
    # OWASP: argon2id with at least 19 MiB memory and 2 iterations.
    hasher = PasswordHasher(time_cost=Config.ARGON2_TIME_COST, memory_cost=Config.ARGON2_MEMORY_KIB)
    params = hasher.hash("x").split("$")[3]
    assert "m=65536" in params and "t=3" in params
    assert Config.ARGON2_MEMORY_KIB >= 19 * 1024 and Config.ARGON2_TIME_COST >= 2


def test_policy():
    assert password_problems("seven77")  # too short
    assert password_problems("password1")  # common
    assert password_problems("Qwertyuiop")  # common, whatever the case
    assert password_problems("someone@example.com", "someone@example.com")
    assert password_problems("x" * 129)
    assert password_problems("plum orchard lantern") == []
    assert password_problems("y" * 64) == []  # 64 characters are accepted
    assert password_problems("alllowercaseletters") == []  # no composition rules


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + " -_.!", min_size=12, max_size=128))
def test_any_long_uncommon_password_is_accepted(password):
    from portal.auth.passwords import _common_passwords

    if password.lower().strip() in _common_passwords():
        return
    assert password_problems(password) == []
