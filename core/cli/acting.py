"""Who the command acts as: `--as USER` (before the subcommand), else STUDIO_USER or the OS login. In team mode
that must be an active account, and its role decides what the command may do."""

from __future__ import annotations

import argparse

from core.front.accounts import actor_as
from core.front.actor import Actor, Store


def acting_user(args: argparse.Namespace, store: Store) -> Actor:
    """The actor for this run of the CLI (the store was opened in that user's name)."""
    return actor_as(store, getattr(args, "as_user", None) or store.user)
