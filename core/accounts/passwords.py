"""Passwords: argon2 hashes (argon2-cffi's defaults), never the password itself, and plain rules for a new one."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 1000

_HASHER = PasswordHasher()


def check_new_password(password: str) -> None:
    """A password someone chooses: long enough, not absurdly long; raises InvalidInput with a plain message."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"The password is too short: use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"The password is too long: use at most {MAX_LENGTH} characters.")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (a damaged hash matches nothing)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker settings than today's (rehash it after a successful check)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
