"""Who acts, and on which store: the first argument of every front-door function."""

from __future__ import annotations

from dataclasses import dataclass

from core.store.database import Store as Store

__all__ = ["Actor", "Store"]


@dataclass(frozen=True)
class Actor:
    store: Store
    user: str  # the person acting (today the OS login or STUDIO_USER; a signed-in account in team mode)

    @classmethod
    def of(cls, store: Store) -> Actor:
        """The store's own user acting on it (personal mode)."""
        return cls(store=store, user=store.user)
