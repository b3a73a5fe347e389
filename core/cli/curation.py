"""CLI subcommands of curation: flag (every check, as a job in the foreground) and curate (bulk decisions, undo)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json
from core.errors import InvalidInput
from core.front.actor import Actor, Store
from core.front.curation import BulkResult, bulk_change, launch_checks, undo_last_bulk
from core.front.data import SampleFilter
from core.front.jobs import get_job, run_here
from core.front.projects import Project, get_project


def cmd_flag(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    job = launch_checks(actor, project, threshold=args.threshold, scope=args.scope, background=False)
    status = run_here(actor, job.id, echo=not args.json)
    done = get_job(actor, job.id)
    if args.json:
        print_json(done.result or {"status": status, "message": done.message})
    else:
        print(done.message)
    return 0 if status == "done" else 1


def _sample_ids(value: str) -> list[int]:
    try:
        return [int(part) for part in csv_list(value)]
    except ValueError:
        raise InvalidInput(f"'{value}' is not a list of sample numbers (e.g. 12,15,40).") from None


def _labels_by_id(pairs: list[str]) -> dict[int, str]:
    """['12=weather', ...] -> {12: 'weather', ...}"""
    assignments: dict[int, str] = {}
    for pair in pairs:
        sample_id, sep, label = pair.partition("=")
        if not sep or not sample_id.strip().isdigit() or not label.strip():
            raise InvalidInput(f"'{pair}' is not of the form ID=LABEL (e.g. 12=weather).")
        assignments[int(sample_id)] = label.strip()
    return assignments


def _bulk_change(args: argparse.Namespace, actor: Actor, project: Project) -> BulkResult:
    """The one bulk decision the options ask for."""
    if args.accept_unflagged:
        flt = SampleFilter(statuses=("pending",), flags=("none",))
        return bulk_change(actor, project, "accept", flt=flt)
    if args.accept is not None:
        return bulk_change(actor, project, "accept", ids=_sample_ids(args.accept))
    if args.reject is not None:
        return bulk_change(actor, project, "reject", ids=_sample_ids(args.reject))
    return bulk_change(actor, project, "relabel", labels_by_id=_labels_by_id(args.relabel))


def cmd_curate(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.undo:
        print(undo_last_bulk(actor, project).message)
        return 0
    result = _bulk_change(args, actor, project)
    if args.json:
        print_json({**asdict(result), "message": result.message})
    else:
        print(result.message)
    return 0


def add_parsers(sub: Subparsers) -> None:
    """flag and curate."""
    p = sub.add_parser(
        "flag",
        help="run every check: repeats, label conflicts, test leaks, wrong language, length, label names in the text",
    )
    p.add_argument("--project", required=True)
    p.add_argument(
        "--threshold",
        type=float,
        help="cosine similarity for near duplicates (default: the project's saved choice for its encoder, else 0.97)",
    )
    p.add_argument(
        "--scope",
        choices=("cell", "project"),
        help="compare within a label x language (cell, the default) or across the whole project",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_flag)

    p = sub.add_parser("curate", help="accept, reject or relabel samples in bulk; undo the last bulk action")
    p.add_argument("--project", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--accept-unflagged", action="store_true", help="accept every pending sample without flags")
    what.add_argument("--accept", metavar="IDS", help="accept these samples (comma-separated numbers)")
    what.add_argument("--reject", metavar="IDS", help="reject these samples (comma-separated numbers)")
    what.add_argument("--relabel", metavar="ID=LABEL", nargs="+", help="give samples another label (accepts them)")
    what.add_argument("--undo", action="store_true", help="undo the last bulk action of the project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_curate)
