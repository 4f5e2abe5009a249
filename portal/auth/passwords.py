"""Password hashing (argon2id) and the password policy (ASVS 6.2: length, not composition)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

MIN_LENGTH = 8
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 128


@cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    # argon2-cffi's PasswordHasher is argon2id by default.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher() -> PasswordHasher:
    return _hasher(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


# A fixed hash to verify against when the account does not exist, so an unknown
# email takes as long as a wrong password.
_DUMMY_PASSWORD = "not-a-real-password-for-timing"  # noqa: S105


def verify_password(stored_hash: str | None, password: str) -> bool:
    h = hasher()
    if not stored_hash:
        h.verify(hash_password(_DUMMY_PASSWORD), _DUMMY_PASSWORD)
        return False
    try:
        return h.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, email: str | None = None) -> list[str]:
    """Why a new password is refused, in words for the person; empty when it is fine."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            f"Password must be {MIN_LENGTH} characters or more "
            f"({RECOMMENDED_LENGTH} or more is better: try three or four random words)"
        )
    elif len(password) > MAX_LENGTH:
        problems.append(f"Password must be {MAX_LENGTH} characters or fewer")
    lowered = password.lower()
    if lowered in _common_passwords() or lowered.strip() in _common_passwords():
        problems.append("That password is too common and easy to guess. Choose another")
    elif email and lowered == email.lower():
        problems.append("Password must not be your email address")
    return problems
