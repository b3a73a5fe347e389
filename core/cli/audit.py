"""`python -m core audit`: the action log narrowed by project, person and days, as CSV or JSONL (owners only in
team mode). Without --output the file goes to standard output."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers
from core.errors import InvalidInput, NotFound
from core.front.actor import Actor, Store
from core.front.audit import AUDIT_FORMATS, AuditFilter, audit_file, save_audit_file
from core.front.projects import get_project


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{option} takes a day written YYYY-MM-DD (for example 2025-03-31), not '{value}'."
        ) from None


def _project_id(actor: Actor, ref: str | None) -> int | None:
    """The project by name or id; an id no project has any more still narrows the log (to a deleted project)."""
    if ref is None:
        return None
    try:
        return get_project(actor, ref).id
    except NotFound:
        if ref.strip().isdigit():
            return int(ref.strip())
        raise


def cmd_audit(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    flt = AuditFilter(
        username=args.user,
        project_id=_project_id(actor, args.project),
        since=_day(args.since, "--since"),
        until=_day(args.until, "--until"),
    )
    if args.output:
        count = save_audit_file(actor, flt, args.format, Path(args.output))
        print(f"Wrote {count} audit log entries to {args.output}")
        return 0
    sys.stdout.write(audit_file(actor, flt, args.format).data.decode("utf-8"))
    return 0


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("audit", help="the action log, narrowed by project, user and days, as CSV or JSONL")
    p.add_argument("--project", help="a project's name or id (also the id of a deleted project)")
    p.add_argument("--user", help="only what this username did")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (UTC, included)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="up to this day (UTC, included)")
    p.add_argument("--format", choices=AUDIT_FORMATS, default="csv", help="csv (formula-escaped) or jsonl")
    p.add_argument("--output", metavar="FILE", help="write the file here (readable by you only); default: stdout")
    p.set_defaults(handler=cmd_audit)
