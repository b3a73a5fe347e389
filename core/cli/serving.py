"""`python -m core serve-check --address ADDR`: whether the studio may serve on ADDR (`./studio run` asks first).

It refuses a network address while no account exists (see core.serving), unless STUDIO_ALLOW_OPEN=1.
"""

from __future__ import annotations

import argparse
import sys

from core.cli.arguments import Subparsers
from core.front.accounts import bind_problem
from core.front.actor import Store


def cmd_serve_check(args: argparse.Namespace, store: Store) -> int:
    problem = bind_problem(args.address, store)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("serve-check", help="whether the studio may serve on an address (used by ./studio run)")
    p.add_argument("--address", default="", help="the address the server listens on (empty: every address)")
    p.set_defaults(handler=cmd_serve_check)
