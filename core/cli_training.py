"""CLI subcommands of the training issue (train, runs, predict), registered by `core.cli.build_parser`."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the training subcommands to the CLI's subparsers (being built; see issue 6)."""
    del sub  # filled in by the training work


__all__ = ["register", "argparse"]
