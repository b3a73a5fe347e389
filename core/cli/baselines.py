"""CLI subcommand baseline: the LLM itself as the classifier of the test split (a resumable job)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.llm_options import add_llm_options, llm_overrides
from core.cli.output import print_json, worker_of
from core.errors import InvalidInput
from core.front.actor import Actor, Store
from core.front.evaluation import (
    MODES,
    BaselineRun,
    BaselineSettings,
    Launched,
    get_baseline,
    resume_baseline,
    start_baseline,
)
from core.front.generation import BACKENDS
from core.front.jobs import get_job, run_here
from core.front.projects import get_project


def _new_baseline(args: argparse.Namespace, actor: Actor, timeouts: dict[str, Any]) -> Launched[BaselineRun]:
    """A new baseline of the options given, launched."""
    if not args.model or not args.mode:
        raise InvalidInput("A new baseline needs --model and --mode (or --resume to finish one).")
    settings = BaselineSettings(
        name=args.name,
        backend=args.backend,
        model=args.model,
        mode=args.mode,
        k=args.k,
        base_url=args.base_url,
        languages=csv_list(args.languages) or None,
        concurrency=args.concurrency,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        recording=args.recording,
        connect_timeout=timeouts.get("connect_timeout"),
        idle_timeout=timeouts.get("idle_timeout"),
        timeout=timeouts.get("timeout"),
    )
    return start_baseline(actor, get_project(actor, args.project).id, settings, background=args.background)


def _resumed_baseline(args: argparse.Namespace, actor: Actor, timeouts: dict[str, Any]) -> Launched[BaselineRun]:
    """The baseline of --resume launched again (a resume may wait longer than the first try did)."""
    project_id = get_project(actor, args.project).id
    return resume_baseline(actor, project_id, args.name, params=timeouts, background=args.background)


def cmd_baseline(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    timeouts = {k: v for k, v in llm_overrides(args).items() if k != "max_tokens"}
    launched = _resumed_baseline(args, actor, timeouts) if args.resume else _new_baseline(args, actor, timeouts)
    baseline, job = launched.run, launched.job
    if args.background:
        print(f"Baseline '{baseline.name}': job #{job.id} started in the background ({worker_of(job)})")
        return 0
    status = run_here(actor, job.id, echo=not args.json)
    done, baseline = get_job(actor, job.id), get_baseline(actor, baseline.id)
    if args.json:
        print_json({"baseline": baseline.to_public(), "job": job.id, "result": done.result})
    else:
        print(f"Baseline '{baseline.name}' {baseline.status}: {done.message}")
        for note in baseline.params.get("notes", []):
            print(f"  note: {note}")
    if status != "done":
        if not args.json:
            print(f"error: {done.message}", file=sys.stderr)
        return 1
    return 0


def add_parsers(sub: Subparsers) -> None:
    """baseline."""
    p = sub.add_parser("baseline", help="the LLM itself as the classifier of the test split (a resumable job)")
    p.add_argument("--project", required=True)
    p.add_argument("--name", required=True, help="the baseline's name (unique in the project)")
    p.add_argument("--backend", choices=BACKENDS, default="openai")
    p.add_argument("--model", help="model name (openai), hub id or folder (local), any name (replay)")
    p.add_argument("--mode", choices=MODES, help="zero-shot, or k synthetic / human TRAIN examples per label")
    p.add_argument("--k", type=int, default=0, help="examples per label (icl modes)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default: OpenAI)")
    p.add_argument("--languages", help="comma-separated codes (default: every language of the test split)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=64, help="longest answer (a label needs few)")
    p.add_argument("--seed", type=int, help="fixes the examples and the requests' seeds")
    p.add_argument("--recording", help="replay: a recording file")
    p.add_argument("--resume", action="store_true", help="send only the requests of baseline NAME without an answer")
    add_llm_options(p, max_tokens_help=None)
    p.add_argument("--background", action="store_true", help="run in a worker process instead of here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_baseline)
