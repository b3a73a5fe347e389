"""CLI subcommands of the evaluation issue (evaluate, baseline), registered by `core.cli.build_parser`."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the evaluation subcommands to the CLI's subparsers (being built; see issue 7)."""
    del sub
