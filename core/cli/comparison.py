"""CLI subcommands that put evaluations side by side: compare (paired bootstrap intervals) and report (HTML)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json, table
from core.errors import InvalidInput
from core.front.actor import Store
from core.front.evaluation import (
    Comparison,
    comparability,
    compare,
    compare_by_name,
    latest_evaluation,
    report_html,
    write_report,
)
from core.front.projects import get_project


def _print_comparison(comparison: Comparison) -> None:
    print(
        f"macro-F1 with {comparison.result.confidence:.0%} paired bootstrap intervals "
        f"({comparison.result.resamples:,} resamples, seed {comparison.result.seed})"
    )
    columns = ["language", *comparison.names]
    print(table([[row[h] for h in columns] for row in comparison.table()], columns))
    print(f"\nagainst '{comparison.reference}':")
    rows = [
        [
            d["language"],
            d["evaluation"],
            f"{d['difference']:+.3f}",
            f"[{d['low']:+.3f}, {d['high']:+.3f}]",
            d["verdict"],
        ]
        for d in comparison.difference_rows()
    ]
    print(table(rows, ["language", "evaluation", "difference", "interval", "verdict"]))


def cmd_compare(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    names = csv_list(args.runs)
    comparison = compare_by_name(
        actor, project, names, reference=args.reference, resamples=args.resamples, seed=args.seed
    )
    if args.json:
        print_json(comparison.to_dict())
    else:
        _print_comparison(comparison)
    return 0


def cmd_report(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    evaluations = [latest_evaluation(actor, project, name) for name in csv_list(args.runs)]
    if not evaluations:
        raise InvalidInput("Name the runs or baselines to report on: --runs A,B")
    comparison = None
    reason = comparability(evaluations) if len(evaluations) > 1 else None
    if len(evaluations) > 1 and reason is None:
        comparison = compare(actor, [evaluation.id for evaluation in evaluations], seed=args.seed)
    html = report_html(actor, project, evaluations, comparison)
    out = write_report(actor, html, Path(args.out))
    print(f"Report written to {out}" + (f" (no comparison: {reason})" if reason and len(evaluations) > 1 else ""))
    return 0


def add_parsers(sub: Subparsers) -> None:
    """compare and report."""
    p = sub.add_parser("compare", help="runs and baselines side by side, with paired bootstrap intervals")
    p.add_argument("--project", required=True)
    p.add_argument("--runs", required=True, help="comma-separated names of evaluated runs or baselines")
    p.add_argument("--reference", help="the one the others are compared with (default: the first)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("report", help="a self-contained HTML evaluation report to share")
    p.add_argument("--project", required=True)
    p.add_argument("--runs", required=True, help="comma-separated names of evaluated runs or baselines")
    p.add_argument("out", help="the HTML file to write")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_report)
