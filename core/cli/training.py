"""CLI subcommands of training (train, runs, predict).

train --project P --trainer linear|finetune|hybrid|setfit [--origin synthetic|human|all] [--include-pending]
      [--human-weight N]
      [--per-language N | --curve 10,50,100,...] --name NAME
runs --project P [--json] | runs show|zip|delete NAME
predict --project P --run NAME FILE [--out OUT]
rank --project P --run NAME [--languages CODES] [--background] [--json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json, table, worker_of
from core.errors import InvalidInput, NotFound
from core.front.actor import Actor, Store
from core.front.data import SAMPLE_ORIGINS, TABLE_FORMATS
from core.front.jobs import get_job, run_here
from core.front.projects import Project, get_project
from core.front.training import (
    TRAINER_KINDS,
    SnapshotOptions,
    TrainingRequest,
    TrainingRun,
    delete_run,
    get_run,
    language_scores,
    launch,
    list_runs,
    model_archive,
    parse_sizes,
    predict_file,
    rank_by_doubt,
    run_named,
    runs_named,
    runs_table,
)

ORIGIN_CHOICES = (*SAMPLE_ORIGINS, "all")
# shortcuts for the parameters people change most; any other goes through --param NAME=VALUE
PARAM_FLAGS = {
    "model": None,  # encoder (linear, hybrid) or base_model (finetune, setfit)
    "epochs": "epochs",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "max_length": "max_length",
    "validation": "validation_fraction",
    "c": "c",
}


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--param takes NAME=VALUE, e.g. --param epochs=3 (got '{item}').")
        params[name.strip().replace("-", "_")] = value.strip()
    for flag, name in PARAM_FLAGS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        params[name or ("base_model" if args.trainer in ("finetune", "setfit") else "encoder")] = value
    return params


def _request(args: argparse.Namespace) -> TrainingRequest:
    """The training run the options describe: its trainer, parameters, samples and learning-curve sizes."""
    options = SnapshotOptions(
        origins=SAMPLE_ORIGINS if args.origin == "all" else (args.origin,),
        include_pending=args.include_pending,
        languages=tuple(csv_list(args.languages)),
        labels=tuple(csv_list(args.labels)),
        per_language=args.per_language,
        per_cell=args.per_cell,
        balance=args.balance,
        seed=args.seed,
        human_weight=args.human_weight,
    )
    curve: tuple[int, ...] = ()
    if args.curve:
        curve = tuple(parse_sizes(args.curve))
    return TrainingRequest(
        name=args.name, trainer=args.trainer, params=_params(args), options=options, curve=curve, gpu=args.gpu
    )


def cmd_train(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    request = _request(args)
    launched = launch(actor, get_project(actor, args.project).id, request, background=args.background)
    run, job = launched.run, launched.job
    if args.background:
        print(f"Run '{run.name}': job #{job.id} started in the background ({worker_of(job)})")
        return 0
    run_here(actor, job.id, echo=not args.json)
    run = get_run(actor, run.id)
    if args.json:
        print_json(run.to_public())
    elif run.status == "done":
        print(f"Run '{run.name}' done: {run.message}")
        _print_languages(run)
        for note in (run.metrics or {}).get("notes", []):
            print(f"  note: {note}")
    if run.status != "done":
        message = run.message or get_job(actor, job.id).message
        print(f"error: training run '{run.name}' {run.status}: {message}", file=sys.stderr)
        return 1
    return 0


def _print_languages(run: TrainingRun) -> None:
    for row in language_scores(run):
        print(f"  {row['language']}: macro-F1 {row['macro_f1']:.3f} on {row['samples']:,} test samples")
    for point in run.curve:
        mean = point.get("test_mean_macro_f1")
        print(
            f"  curve {point['size']:>6,} per language: mean macro-F1 " + (f"{mean:.3f}" if mean is not None else "-")
        )


def _delete(args: argparse.Namespace, actor: Actor, project_ref: str | None) -> int:
    run = _run_to_delete(actor, args.name, project_ref)
    delete_run(actor, run)
    print(f"Deleted run '{run.name}' and its model files.")
    return 0


def _show(args: argparse.Namespace, actor: Actor, project: Project) -> int:
    run = run_named(actor, project.id, args.name)
    if args.json:
        print_json({**run.to_public(), "history": run.history})
        return 0
    print(f"Run '{run.name}' ({run.trainer}, {run.mode}): {run.status} — {run.message}")
    _print_languages(run)
    return 0


def _zip(args: argparse.Namespace, actor: Actor, project: Project) -> int:
    out = model_archive(actor, run_named(actor, project.id, args.name), Path(args.out) if args.out else None)
    print(out)
    return 0


def _list(args: argparse.Namespace, actor: Actor, project: Project) -> int:
    runs = list_runs(actor, project.id)
    if args.json:
        print_json([r.to_public() for r in runs])
        return 0
    if not runs:
        print(
            f"No training runs in '{project.name}' yet. Train one with: python -m core train --project ... --name ..."
        )
        return 0
    rows = runs_table(runs)
    header = ["name", "trainer", "status", "samples", "test macro-F1", "minutes", "created"]
    print(table([["" if r[h] is None else str(r[h]) for h in header] for r in rows], header))
    return 0


def cmd_runs(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project_ref = getattr(args, "sub_project", None) or args.project
    if args.runs_action == "delete":
        return _delete(args, actor, project_ref)
    if not project_ref:
        raise InvalidInput("Name the project: python -m core runs --project P")
    project = get_project(actor, project_ref)
    actions = {"show": _show, "zip": _zip}
    return actions.get(args.runs_action, _list)(args, actor, project)


def _run_to_delete(actor: Actor, name: str, project_ref: str | None) -> TrainingRun:
    if project_ref:
        return run_named(actor, get_project(actor, project_ref).id, name)
    found = runs_named(actor, name)
    if not found:
        raise NotFound(f"There is no training run called '{name}'.")
    if len(found) > 1:
        raise InvalidInput(f"Several projects have a run called '{name}': add --project P.")
    return found[0]


def _progress_line(fraction: float, message: str) -> None:
    """At most one line a second on stderr ("Labelled k of N texts (r texts/s)"), and the last one."""
    now = time.monotonic()
    if fraction >= 1.0 or now - _last_line[0] >= 1.0:
        _last_line[0] = now
        print(f"[{fraction:6.1%}] {message}", file=sys.stderr, flush=True)


_last_line = [0.0]


def cmd_rank(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    languages = tuple(csv_list(args.languages))
    job = rank_by_doubt(actor, project, args.run, languages=languages, background=args.background)
    if args.background:
        print(f"Ranking with run '{args.run}': job #{job.id} started in the background ({worker_of(job)})")
        return 0
    run_here(actor, job.id, echo=not args.json)
    job = get_job(actor, job.id)
    if job.status != "done":
        print(f"error: the ranking {job.status}: {job.message}", file=sys.stderr)
        return 1
    if args.json:
        print_json(job.result or {})
    else:
        print(job.message or "done")
    return 0


def cmd_predict(args: argparse.Namespace, store: Store) -> int:
    summary = predict_file(
        acting_user(args, store),
        args.project,
        args.run,
        Path(args.file),
        out=Path(args.out) if args.out else None,
        text_column=args.text_column,
        fmt=args.format,
        point=args.point,
        language_column=args.language_column,
        progress=None if args.json else _progress_line,
    )
    if args.json:
        print_json({**summary.__dict__, "out": str(summary.out)})
        return 0
    counts = ", ".join(f"{label} {n:,}" for label, n in summary.label_counts.items())
    print(f"Labelled {summary.labelled:,} of {summary.rows:,} rows with run '{args.run}' -> {summary.out}")
    if summary.labelled:
        print(f"  labels: {counts}; mean confidence {summary.mean_confidence:.2f}")
    if summary.skipped_empty:
        print(f"  {summary.skipped_empty:,} rows with an empty text were left without a label")
    for note in summary.notes:
        print(f"  note: {note}")
    return 0


def add_parsers(sub: Subparsers) -> None:
    """train, runs (with its actions delete, show and zip) and predict."""
    _add_train_parser(sub)
    _add_runs_parser(sub)
    _add_predict_parser(sub)


def _add_train_parser(sub: Subparsers) -> None:
    p = sub.add_parser("train", help="train a classifier on a snapshot of the project's samples (a job)")
    p.add_argument("--project", required=True)
    p.add_argument("--trainer", required=True, choices=TRAINER_KINDS)
    p.add_argument("--name", required=True, help="the run's name (unique in the project)")
    p.add_argument("--origin", choices=ORIGIN_CHOICES, default="all", help="which samples (default: all)")
    p.add_argument("--include-pending", action="store_true", help="also samples not reviewed yet (default: accepted)")
    p.add_argument(
        "--human-weight",
        type=int,
        default=1,
        metavar="N",
        help="a human sample counts as N synthetic ones (it is trained on N times; default 1)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--per-language", type=int, metavar="N", help="at most N samples per language, class-balanced")
    size.add_argument(
        "--curve", metavar="SIZES", help="a learning curve: train at each size per language, e.g. 10,50,100"
    )
    p.add_argument("--per-cell", type=int, metavar="N", help="at most N samples per language x label")
    p.add_argument(
        "--balance", action="store_true", help="no label gets more samples than the smallest of its language"
    )
    p.add_argument("--languages", help="comma-separated codes (default: all)")
    p.add_argument("--labels", help="comma-separated labels (default: all)")
    p.add_argument("--seed", type=int, default=0, help="which samples a budget picks")
    p.add_argument("--model", help="encoder (linear, hybrid) or model to fine-tune; default: the project's encoder")
    p.add_argument("--epochs", type=float, help="finetune: passes over the data")
    p.add_argument("--learning-rate", type=float, help="finetune: peak learning rate")
    p.add_argument("--batch-size", type=int, help="finetune: samples per step")
    p.add_argument("--max-length", type=int, help="finetune: longest input in tokens")
    p.add_argument("--validation", type=float, metavar="FRACTION", help="share held out for validation")
    p.add_argument("--c", type=float, help="linear, hybrid: inverse regularisation strength")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="any trainer parameter (repeatable)")
    p.add_argument("--background", action="store_true", help="run in a worker process instead of here")
    p.add_argument("--gpu", action="store_true", help="on a Ray cluster: train on a node with a GPU")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_train)


def _add_runs_parser(sub: Subparsers) -> None:
    p = sub.add_parser("runs", help="list training runs; show, zip or delete one")
    p.add_argument("--project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_runs, runs_action=None)
    runs_sub = p.add_subparsers(dest="runs_action", metavar="ACTION")
    q = runs_sub.add_parser("delete", help="delete a run and its model files")
    q.add_argument("name")
    q.add_argument("--project", dest="sub_project", help="needed when several projects have a run of that name")
    q = runs_sub.add_parser("show", help="a run's status, metrics and (with --json) loss history")
    q.add_argument("name")
    q.add_argument("--project", dest="sub_project")
    q.add_argument("--json", action="store_true")
    q = runs_sub.add_parser("zip", help="the run's model, snapshot and metadata as a zip file; prints its path")
    q.add_argument("name")
    q.add_argument("--project", dest="sub_project")
    q.add_argument("--out", help="zip file to write (default: a temporary folder)")


def _add_predict_parser(sub: Subparsers) -> None:
    p = sub.add_parser("predict", help="label a file with a trained run")
    p.add_argument("--project", required=True)
    p.add_argument("--run", required=True, help="the run's name")
    p.add_argument("file", help="CSV, TSV, JSONL or Parquet file")
    p.add_argument("--out", help="output file (default: FILE.predictions next to it)")
    p.add_argument("--text-column", help="column with the texts (default: 'text', or the only column)")
    p.add_argument("--format", choices=TABLE_FORMATS, help="input format (default: from the file name)")
    p.add_argument("--point", type=int, help="curve runs: the size whose model labels (default: the largest)")
    p.add_argument(
        "--language-column",
        help="column with each text's language, for per-language models (default: 'language' when there is one; "
        "otherwise the language is detected)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser(
        "rank",
        help="flag the unlabeled human TRAIN texts with a run's doubt about each, least sure first (a job)",
    )
    p.add_argument("--project", required=True)
    p.add_argument("--run", required=True, help="the finished run whose model judges the texts")
    p.add_argument("--languages", help="only these languages (comma-separated codes; default: all)")
    p.add_argument("--background", action="store_true", help="start the job and return")
    p.add_argument("--json", action="store_true", help="print the job's result as JSON")
    p.set_defaults(handler=cmd_rank)
