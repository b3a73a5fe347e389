"""CLI subcommand generate: labelled samples per label x language from an LLM (a job, resumable)."""

from __future__ import annotations

import argparse

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.llm_options import add_llm_options, llm_overrides
from core.cli.output import print_json, worker_of
from core.errors import InvalidInput
from core.front.actor import Actor, Store
from core.front.generation import (
    GenerationRun,
    GenerationSettings,
    Launched,
    change_run_params,
    get_run,
    launch_generation,
    resume_generation,
)
from core.front.jobs import run_here
from core.front.projects import Project, get_project


def _resumed_run(args: argparse.Namespace, actor: Actor, project: Project) -> Launched[GenerationRun]:
    """The run of --resume, with the answer length, timeouts and concurrency given this time, launched again."""
    run = get_run(actor, args.resume)
    if run.project_id != project.id:
        raise InvalidInput(f"Run #{run.id} belongs to another project.")
    changed = {**llm_overrides(args), **({"concurrency": args.concurrency} if args.concurrency else {})}
    if changed:  # a resume may change how long to wait, how long answers may be, how many requests at once
        change_run_params(actor, run, changed)
    return resume_generation(actor, run, background=args.background)


def _new_run(args: argparse.Namespace, actor: Actor, project: Project) -> Launched[GenerationRun]:
    """A new run of the options given, launched."""
    if not args.model or not args.per_cell:
        raise InvalidInput("generate needs --model and --per-cell (or --resume RUN).")
    settings = GenerationSettings(
        backend=args.backend,
        model=args.model,
        per_cell=args.per_cell,
        base_url=args.base_url,
        strategy=args.strategy,
        template=args.template,
        languages=csv_list(args.languages) or None,
        labels=csv_list(args.labels) or None,
        concurrency=args.concurrency or 8,
        temperature=args.temperature,
        seed=args.seed,
        json_output=args.json_output,
        per_request=args.per_request,
        recording=args.recording,
        gpu=args.gpu,
        **llm_overrides(args),
    )
    return launch_generation(actor, project, settings, background=args.background)


def _print_outcome(run: GenerationRun, job_id: int, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "run": run.id,
                "job": job_id,
                "status": run.status,
                "message": run.message,
                "prompt_tokens": run.prompt_tokens,
                "completion_tokens": run.completion_tokens,
                "cost": run.cost,
            }
        )
        return
    cost = f", cost ${run.cost:.4f}" if run.cost is not None else ""
    print(
        f"Run #{run.id} {run.status}: {run.message} (tokens {run.prompt_tokens:,} in / "
        f"{run.completion_tokens:,} out{cost})"
    )


def cmd_generate(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    launched = _resumed_run(args, actor, project) if args.resume else _new_run(args, actor, project)
    run, job = launched.run, launched.job
    if args.background:
        print(f"Run #{run.id}: job #{job.id} started in the background ({worker_of(job)})")
        return 0
    status = run_here(actor, job.id, echo=not args.json)
    run = get_run(actor, run.id)
    _print_outcome(run, job.id, as_json=args.json)
    return 0 if status == "done" and run.status in ("done", "incomplete") else 1


def add_parsers(sub: Subparsers) -> None:
    """generate."""
    p = sub.add_parser("generate", help="generate labelled samples per label x language with an LLM")
    p.add_argument("--project", required=True)
    p.add_argument(
        "--backend",
        choices=("openai", "local", "replay"),
        default="openai",
        help="openai: any OpenAI-compatible server (key from OPENAI_API_KEY or .streamlit/secrets.toml)",
    )
    p.add_argument("--model", help="model name (openai), hub id or folder (local), any name (replay)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default: OpenAI)")
    p.add_argument("--per-cell", type=int, help="samples wanted per label x language")
    p.add_argument("--template", help="prompt template NAME[@VERSION] (default: the strategy's built-in)")
    p.add_argument("--strategy", choices=("zero-shot", "demos", "diverse", "revise"), default="zero-shot")
    p.add_argument("--languages", help="comma-separated codes (default: all the project's)")
    p.add_argument("--labels", help="comma-separated labels (default: all)")
    p.add_argument(
        "--concurrency",
        type=int,
        help="requests at once (default 8; never more than the server serves at once, which the run finds out)",
    )
    p.add_argument("--resume", type=int, metavar="RUN", help="send only the requests of RUN that have no answer")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, help="fixes the run's seeds (default: new ones, so a new run asks anew)")
    p.add_argument("--json-output", action="store_true", help="ask the server for JSON output")
    p.add_argument("--per-request", type=int, default=10, help="samples asked for in one request")
    p.add_argument("--recording", help="replay: a recording file (default: the demo's)")
    add_llm_options(p, max_tokens_help="the longest answer, in tokens (default 1024)")
    p.add_argument("--background", action="store_true", help="run in a worker process instead of here")
    p.add_argument("--gpu", action="store_true", help="local backend on a Ray cluster: run on a node with a GPU")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_generate)
