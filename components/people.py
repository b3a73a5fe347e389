"""People as the pages name them: an account's display name with its username, a login as it is."""

from __future__ import annotations

from collections.abc import Callable

from components.studio_state import current_actor
from core.front.accounts import display_names


def namer() -> Callable[[str], str]:
    """Names people for one drawing of a page (the accounts are read once): "Anna Kowalski (anna)" for an account
    whose display name differs from its username, the name as given otherwise (a login in personal mode)."""
    names = display_names(current_actor())

    def person(username: str) -> str:
        shown = names.get(username)
        return f"{shown} ({username})" if shown and shown != username else username

    return person


def person(username: str) -> str:
    """One person's name (reads the accounts: use `namer()` for a table)."""
    return namer()(username)
