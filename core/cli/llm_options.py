"""The command-line options of everything that asks an LLM (generate, baseline): answer length and timeouts."""

from __future__ import annotations

import argparse
from typing import Any


def llm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The answer length, timeouts and streaming given on the command line (those not given keep their value)."""
    given = {
        "max_tokens": args.max_tokens,
        "connect_timeout": args.connect_timeout,
        "idle_timeout": args.idle_timeout,
        "timeout": args.timeout,
    }
    changed: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    if "timeout" in changed:
        changed["timeout"] = changed["timeout"] or None  # 0: no limit
    if args.no_stream:
        changed["stream"] = False
    return changed


def add_llm_options(p: argparse.ArgumentParser, *, max_tokens_help: str | None) -> None:
    """--max-tokens (unless the command has its own) and the timeouts, shared by generate and baseline."""
    if max_tokens_help is not None:
        p.add_argument("--max-tokens", type=int, help=max_tokens_help)
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="the most seconds one answer may take in all (default: STUDIO_LLM_TIMEOUT, none; 0: no limit)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        metavar="S",
        help="the most seconds the server may stay silent: before its first token (reading the prompt, waiting for "
        "a free slot) or between tokens (default: STUDIO_LLM_IDLE_TIMEOUT, 300)",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        metavar="S",
        help="seconds to connect to the server (default: STUDIO_LLM_CONNECT_TIMEOUT, 10)",
    )
    p.add_argument(
        "--no-stream", action="store_true", help="ask for whole answers (for a server whose streaming fails)"
    )
