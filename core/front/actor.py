"""Who acts, and on which store: the first argument of every front-door function."""

from __future__ import annotations

from dataclasses import dataclass

from core.store.database import Store as Store

ROLES = ("owner", "lead", "annotator", "viewer")  # most to least allowed


@dataclass(frozen=True)
class Actor:
    store: Store
    user: str  # the person acting (the OS login or STUDIO_USER in personal mode; a signed-in account in team mode)
    role: str = "owner"  # personal mode: the one person using the studio may do everything
    team: bool = False  # team mode: at least one account exists, so roles and memberships apply

    def __post_init__(self) -> None:
        # What the actor changes is recorded as theirs: the store they act on carries their name.
        if self.store.user != self.user:
            object.__setattr__(self, "store", self.store.acting_as(self.user))

    @classmethod
    def of(cls, store: Store) -> Actor:
        """The store's own user acting on it (personal mode)."""
        return cls(store=store, user=store.user)
