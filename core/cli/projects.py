"""CLI subcommands of projects: init (a project or the demo) and projects (the list)."""

from __future__ import annotations

import argparse

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json, table
from core.errors import InvalidInput
from core.front.actor import Store
from core.front.data import count_samples
from core.front.projects import create_demo_project, create_project, list_projects, parse_spec


def cmd_init(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    if args.demo:
        project = create_demo_project(actor)
        print(f"Demo project ready: {project.name} ({len(project.languages)} languages, {len(project.labels)} labels)")
        return 0
    if not args.project or not args.labels or not args.languages:
        raise InvalidInput("init needs --project, --labels and --languages (or --demo).")
    spec = parse_spec(
        name=args.project,
        task=args.task or "",
        labels=[{"name": n} for n in csv_list(args.labels)],
        languages=[{"code": c} for c in csv_list(args.languages)],
        encoder=args.encoder,
    )
    project = create_project(actor, spec)
    print(
        f"Created project '{project.name}' (id {project.id}): labels {', '.join(project.label_names)}; "
        f"languages {', '.join(project.language_codes)}"
    )
    return 0


def cmd_projects(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    projects = list_projects(actor)
    if args.json:
        print_json([{**p.model_dump(mode="json"), "samples": count_samples(actor, p)} for p in projects])
        return 0
    if not projects:
        print("No projects yet. Create one with: python -m core init --project NAME --labels a,b --languages en,sw")
        return 0
    rows = [
        [str(p.id), p.name, ",".join(p.label_names), ",".join(p.language_codes), str(count_samples(actor, p))]
        for p in projects
    ]
    print(table(rows, ["id", "name", "labels", "languages", "samples"]))
    return 0


def add_parsers(sub: Subparsers) -> None:
    """init and projects."""
    p = sub.add_parser("init", help="create a project (or the demo project)")
    p.add_argument("--project", help="project name")
    p.add_argument("--labels", help="comma-separated label names")
    p.add_argument("--languages", help="comma-separated ISO 639 codes, e.g. en,sw")
    p.add_argument("--task", help="task description for the generator and the team")
    p.add_argument("--encoder", help="model for embeddings (default from STUDIO_DEFAULT_ENCODER)")
    p.add_argument("--demo", action="store_true", help="create the demo project")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("projects", help="list projects")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_projects)
