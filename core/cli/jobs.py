"""CLI subcommand jobs: list jobs; cancel, run or show one; start a small test job; reap the dead ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers
from core.cli.output import print_json, short, table, worker_of
from core.errors import StudioError
from core.front.actor import Actor, Store
from core.front.jobs import (
    Job,
    cancel_job,
    cluster_nodes,
    executor_name,
    get_job,
    launch_wait,
    list_jobs,
    reap_dead_workers,
    run_here,
    runs_on,
)
from core.front.projects import get_project


def _cancel(args: argparse.Namespace, store: Store) -> int:
    job = cancel_job(acting_user(args, store), args.id)
    print(f"Job #{job.id}: {job.status}" + (" (cancel requested)" if job.active else ""))
    return 0


def _run(args: argparse.Namespace, store: Store) -> int:
    status = run_here(acting_user(args, store), args.id, echo=True)
    print(f"Job #{args.id}: {status}")
    return 0 if status in ("done", "cancelled") else 1


def _show(args: argparse.Namespace, store: Store) -> int:
    job = get_job(acting_user(args, store), args.id)
    if args.json:
        print_json(job.to_public())
        return 0
    print(f"Job #{job.id} {job.kind}: {job.status} {job.progress:.0%} — {job.message}")
    log = Path(job.log_path)
    if log.exists():
        print("".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-20:]), end="")
    return 0


def _wait(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project_id = get_project(actor, args.project).id if args.project else None
    job = launch_wait(actor, args.seconds, args.steps, project_id=project_id, background=args.background)
    if args.background:
        print(f"Job #{job.id} started in the background ({worker_of(job)})")
        return 0
    status = run_here(actor, job.id, echo=True)
    print(f"Job #{job.id}: {status}")
    return 0 if status == "done" else 1


def _reap(args: argparse.Namespace, store: Store) -> int:
    reaped = reap_dead_workers(acting_user(args, store))
    if args.json:
        print_json(reaped)
    elif reaped:
        print("Marked failed (their worker had stopped): " + ", ".join(f"job #{i}" for i in reaped))
    else:
        print("No job had lost its worker.")
    return 0


def _nodes(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    nodes = cluster_nodes(actor)
    if args.json:
        print_json({"executor": executor_name(actor), "nodes": [node.to_public() for node in nodes]})
        return 0

    def amounts(values: dict[str, float] | None) -> str:
        return "?" if values is None else ", ".join(f"{name} {amount:g}" for name, amount in sorted(values.items()))

    rows = [
        [
            n.node_id[:12] + (" (head)" if n.head else ""),
            n.address,
            "alive" if n.alive else "stopped",
            amounts(n.free) if n.alive else "",
            amounts(n.total),
        ]
        for n in nodes
    ]
    print(f"Jobs run {'on the Ray cluster' if executor_name(actor) == 'ray' else 'on this machine'}.")
    print(table(rows, ["node", "address", "state", "free", "total"]))
    return 0


def _node_resources(actor: Actor, jobs: list[Job]) -> dict[str, dict[str, object]]:
    """The total and free resources of each Ray node the listed jobs ran on (empty when none did, or the cluster
    cannot be reached: the list is still printed)."""
    if not any(j.executor == "ray" for j in jobs):
        return {}
    try:
        nodes = cluster_nodes(actor)
    except StudioError:
        return {}
    return {n.node_id: {"alive": n.alive, "total": n.total, "free": n.free} for n in nodes}


def _list(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project_id = get_project(actor, args.project).id if args.project else None
    jobs = list_jobs(actor, project_id)
    if args.json:
        print_json([{**j.to_public(), "node_resources": _node_resources(actor, jobs).get(j.node or "")} for j in jobs])
        return 0
    if not jobs:
        print("No jobs.")
        return 0
    rows = [
        [
            str(j.id),
            j.kind,
            j.status,
            f"{j.progress:.0%}",
            short(j.message, 60),
            f"{j.created_at:%Y-%m-%d %H:%M}",
            runs_on(j),
        ]
        for j in jobs
    ]
    print(table(rows, ["id", "kind", "status", "progress", "message", "created", "runs on"]))
    return 0


def cmd_jobs(args: argparse.Namespace, store: Store) -> int:
    actions = {"cancel": _cancel, "run": _run, "show": _show, "wait": _wait, "reap": _reap, "nodes": _nodes}
    return actions.get(args.jobs_action, _list)(args, store)


def add_parsers(sub: Subparsers) -> None:
    """jobs and its actions cancel, run, show, wait, reap and nodes."""
    p = sub.add_parser("jobs", help="list jobs; cancel, run or show one; start a test job")
    p.add_argument("--project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs, jobs_action=None)
    jobs_sub = p.add_subparsers(dest="jobs_action", metavar="ACTION")
    for name, text in (
        ("cancel", "ask a job to stop"),
        ("run", "run a queued job here, in the foreground"),
        ("show", "a job's status and the end of its log"),
    ):
        q = jobs_sub.add_parser(name, help=text)
        q.add_argument("id", type=int)
        q.add_argument("--json", action="store_true")
    q = jobs_sub.add_parser("nodes", help="the machines jobs run on (a Ray cluster's nodes, with free CPUs/GPUs)")
    q.add_argument("--json", action="store_true")
    q = jobs_sub.add_parser("reap", help="mark failed the jobs whose worker has stopped, and settle their runs")
    q.add_argument("--json", action="store_true")
    q = jobs_sub.add_parser("wait", help="a small test job that waits, reporting progress")
    q.add_argument("--seconds", type=float, default=3.0)
    q.add_argument("--steps", type=int, default=6)
    q.add_argument("--project")
    q.add_argument("--background", action="store_true", help="run in a worker process instead of here")
