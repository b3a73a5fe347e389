"""What the command modules share to declare their subcommands: the handler's shape and list options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from core.front.actor import Store

Handler: TypeAlias = Callable[[argparse.Namespace, Store], int]
"""A subcommand's work: its parsed options and the open store in, the exit code out."""

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What `ArgumentParser.add_subparsers` returns: each command module adds its subcommands to it."""


def csv_list(value: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']; nothing given -> []."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
