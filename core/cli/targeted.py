"""CLI subcommand targeted: generate samples for a weak cell, a label that is clearly not another (a job)."""

from __future__ import annotations

import argparse

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers
from core.cli.output import print_json, worker_of
from core.front.actor import Store
from core.front.evaluation import TargetCell, generate_for_cell
from core.front.generation import BACKENDS, get_run
from core.front.jobs import get_job, run_here
from core.front.projects import get_project


def cmd_targeted(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    cell = TargetCell(args.language, args.label, args.confused_as)
    launched = generate_for_cell(
        actor,
        project.id,
        cell,
        backend=args.backend,
        model=args.model,
        per_cell=args.per_cell,
        base_url=args.base_url,
        recording=args.recording,
        seed=args.seed,
        examples_k=args.k,
        background=args.background,
    )
    run, job = launched.run, launched.job
    if args.background:
        print(f"Targeted run #{run.id}: job #{job.id} started in the background ({worker_of(job)})")
        return 0
    status = run_here(actor, job.id, echo=not args.json)
    run = get_run(actor, run.id)
    if args.json:
        print_json({"run": run.id, "job": job.id, "status": run.status, "message": run.message})
    else:
        print(f"Targeted run #{run.id} {run.status}: {run.message or get_job(actor, job.id).message}")
    return 0 if status == "done" and run.status in ("done", "incomplete") else 1


def add_parsers(sub: Subparsers) -> None:
    """targeted."""
    p = sub.add_parser("targeted", help="generate samples for a weak cell: a label that is clearly not another")
    p.add_argument("--project", required=True)
    p.add_argument("--language", required=True)
    p.add_argument("--label", required=True, help="the true label of the weak cell")
    p.add_argument("--confused-as", required=True, help="the label it is mistaken for")
    p.add_argument("--backend", choices=BACKENDS, default="openai")
    p.add_argument("--model", required=True)
    p.add_argument("--base-url")
    p.add_argument("--per-cell", type=int, default=20)
    p.add_argument("--k", type=int, default=5, help="train examples of each label shown")
    p.add_argument("--seed", type=int)
    p.add_argument("--recording", help="replay: a recording file")
    p.add_argument("--background", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_targeted)
