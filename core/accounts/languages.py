"""The languages an account can judge: what review work hands it (set by an owner, e.g. `users add NAME --role
annotator --languages sw,en` or `users set-languages NAME sw,en`)."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import InvalidInput, NotFound
from core.language_names import normalize_code
from core.store import account_languages
from core.store.database import Store


def parse_languages(codes: Iterable[str]) -> list[str]:
    """Language codes as the studio spells them ('SW', 'sw-KE' -> 'sw'), each once; refused when one is unknown."""
    found: list[str] = []
    for code in codes:
        if not code.strip():
            continue
        norm = normalize_code(code)
        if norm is None:
            raise InvalidInput(f"Unknown language code '{code.strip()}': use an ISO 639 code such as 'sw' (Swahili).")
        if norm not in found:
            found.append(norm)
    return found


def set_languages(store: Store, username: str, codes: Iterable[str]) -> list[str]:
    """Replace the languages the account can judge; returns them as stored."""
    languages = parse_languages(codes)
    if not account_languages.set_languages(store, username.strip(), languages):
        raise NotFound(f"There is no account named '{username.strip()}'.")
    return languages


def languages_of(store: Store) -> dict[str, list[str]]:
    """{username: the languages it can judge} of every account."""
    return account_languages.languages_of(store)
