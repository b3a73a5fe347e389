"""What a username may be: short, lower-case letters, digits and . _ - (so that it reads well in the action log)."""

from __future__ import annotations

import re

from core.errors import InvalidInput

MAX_LENGTH = 64
_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")


def check_username(username: str) -> str:
    """The username, trimmed; raises InvalidInput with a plain message when it breaks a rule."""
    name = username.strip()
    if not name:
        raise InvalidInput("A username is needed.")
    if len(name) > MAX_LENGTH:
        raise InvalidInput(f"The username '{name}' is too long: use at most {MAX_LENGTH} characters.")
    if not _PATTERN.fullmatch(name):
        raise InvalidInput(
            f"The username '{name}' cannot be used: use lower-case letters, digits, dots, dashes and underscores, "
            "starting with a letter or a digit."
        )
    return name
