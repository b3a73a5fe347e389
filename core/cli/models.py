"""CLI subcommands of models: models (provision, list) and embed (fill a project's embedding cache, a job)."""

from __future__ import annotations

import argparse
import sys

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers
from core.cli.output import print_json, table, worker_of
from core.front.actor import Actor, Store
from core.front.jobs import run_here
from core.front.projects import get_project
from core.front.settings import EMBEDDING_ENGINES as ENGINES
from core.front.settings import launch_embedding, provision_model, provisioned_models


def _provision(actor: Actor, spec: str) -> int:
    """Make a model available offline, progress on stderr; its folder last on stdout."""

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:6.1%}] {message}", file=sys.stderr, flush=True)

    folder = provision_model(actor, spec, progress=progress)
    print(f"{spec}: {folder.size_bytes / 1e6:,.0f} MB", file=sys.stderr)
    print(folder.path)
    return 0


def cmd_models(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    if args.models_action == "provision":
        return _provision(actor, args.spec)
    models = provisioned_models(actor)
    if args.json:
        print_json([{"spec": m.spec, "path": str(m.path), "size_bytes": m.size_bytes, "kind": m.kind} for m in models])
        return 0
    if not models:
        print(
            "No model provisioned yet. Provision the bundled encoder with: "
            "python -m core models provision bundled:multilingual-e5-small"
        )
        return 0
    print(
        table(
            [[m.spec, m.kind, f"{m.size_bytes / 1e6:,.0f} MB", str(m.path)] for m in models],
            ["model", "kind", "size", "path"],
        )
    )
    return 0


def cmd_embed(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    job = launch_embedding(
        actor,
        project,
        model=args.model,
        background=args.background,
        engine=None if args.engine == "auto" else args.engine,
    )
    if args.background:
        print(f"Job #{job.id} started in the background ({worker_of(job)})")
        return 0
    status = run_here(actor, job.id, echo=True)
    print(f"Job #{job.id}: {status}")
    return 0 if status == "done" else 1


def add_parsers(sub: Subparsers) -> None:
    """models (with its actions provision and list) and embed."""
    p = sub.add_parser("models", help="provision or list models (the bundled offline encoder, hub ids, folders)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models, models_action="list")
    models_sub = p.add_subparsers(dest="models_action", metavar="ACTION")
    q = models_sub.add_parser("provision", help="make a model available offline; prints its folder last")
    q.add_argument("spec", help="bundled:multilingual-e5-small, a hub id, or a folder")
    q = models_sub.add_parser("list", help="what is provisioned, its size and path")
    q.add_argument("--json", action="store_true")

    p = sub.add_parser("embed", help="embed every sample of a project with its encoder (fills the cache)")
    p.add_argument("--project", required=True)
    p.add_argument("--model", help="another encoder than the project's")
    p.add_argument(
        "--engine",
        choices=["auto", *ENGINES],
        default="auto",
        help="the embedding engine (default auto: STUDIO_EMBEDDING_ENGINE, else onnx for the bundled encoder and "
        "sentence-transformers for others); each engine has its own cache",
    )
    p.add_argument("--background", action="store_true", help="run in a worker process instead of here")
    p.set_defaults(handler=cmd_embed)
