"""CLI subcommands of training (train, runs, predict), registered by `core.cli.build_parser`.

train --project P --trainer linear|finetune|hybrid [--origin synthetic|human|all] [--include-pending]
      [--per-language N | --curve 10,50,100,...] --name NAME
runs --project P [--json] | runs delete NAME
predict --project P --run NAME FILE [--out OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.store import Store
from core.store.projects import get_project
from core.store.schema import SAMPLE_ORIGINS
from core.training.params import TRAINER_KINDS

ORIGIN_CHOICES = (*SAMPLE_ORIGINS, "all")
# shortcuts for the parameters people change most; any other goes through --param NAME=VALUE
PARAM_FLAGS = {
    "model": None,  # encoder (linear, hybrid) or base_model (finetune)
    "epochs": "epochs",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "max_length": "max_length",
    "validation": "validation_fraction",
    "c": "c",
}


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


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
        params[name or ("base_model" if args.trainer == "finetune" else "encoder")] = value
    return params


def cmd_train(args: argparse.Namespace, store: Store) -> int:
    from core.jobs.queue import get_job, start_worker
    from core.jobs.runner import run_job
    from core.training.launch import TrainingRequest, start_training
    from core.training.run_store import get_run_by_id
    from core.training.snapshot import SnapshotOptions

    options = SnapshotOptions(
        origins=SAMPLE_ORIGINS if args.origin == "all" else (args.origin,),
        include_pending=args.include_pending,
        languages=_csv(args.languages),
        labels=_csv(args.labels),
        per_language=args.per_language,
        per_cell=args.per_cell,
        balance=args.balance,
        seed=args.seed,
    )
    curve = ()
    if args.curve:
        from core.training.curve import parse_sizes

        curve = tuple(parse_sizes(args.curve))
    request = TrainingRequest(name=args.name, trainer=args.trainer, params=_params(args), options=options, curve=curve)
    run, job = start_training(store, args.project, request)
    if args.background:
        pid = start_worker(store, job.id)
        print(f"Run '{run.name}': job #{job.id} started in the background (worker process {pid})")
        return 0
    run_job(store, job.id, echo=not args.json)
    run = get_run_by_id(store, run.id)
    if args.json:
        _print_json(run.to_public())
    elif run.status == "done":
        print(f"Run '{run.name}' done: {run.message}")
        _print_languages(run)
        for note in (run.metrics or {}).get("notes", []):
            print(f"  note: {note}")
    if run.status != "done":
        message = run.message or get_job(store, job.id).message
        print(f"error: training run '{run.name}' {run.status}: {message}", file=sys.stderr)
        return 1
    return 0


def _print_languages(run: Any) -> None:
    from core.training.run_views import language_scores

    for row in language_scores(run):
        print(f"  {row['language']}: macro-F1 {row['macro_f1']:.3f} on {row['samples']:,} test samples")
    for point in run.curve:
        mean = point.get("test_mean_macro_f1")
        print(
            f"  curve {point['size']:>6,} per language: mean macro-F1 " + (f"{mean:.3f}" if mean is not None else "-")
        )


def cmd_runs(args: argparse.Namespace, store: Store) -> int:
    from core.training.run_store import get_run, list_runs

    action = args.runs_action
    project_ref = getattr(args, "sub_project", None) or args.project
    if action == "delete":
        run = _run_to_delete(store, args.name, project_ref)
        from core.training.run_store import delete_run

        delete_run(store, run)
        print(f"Deleted run '{run.name}' and its model files.")
        return 0
    if not project_ref:
        raise InvalidInput("Name the project: python -m core runs --project P")
    project = get_project(store, project_ref)
    if action == "show":
        run = get_run(store, project.id, args.name)
        if args.json:
            _print_json({**run.to_public(), "history": run.history})
            return 0
        print(f"Run '{run.name}' ({run.trainer}, {run.mode}): {run.status} — {run.message}")
        _print_languages(run)
        return 0
    if action == "zip":
        from core.training.run_views import zip_run

        out = zip_run(get_run(store, project.id, args.name), Path(args.out) if args.out else None)
        print(out)
        return 0
    runs = list_runs(store, project.id)
    if args.json:
        _print_json([r.to_public() for r in runs])
        return 0
    if not runs:
        print(
            f"No training runs in '{project.name}' yet. Train one with: python -m core train --project ... --name ..."
        )
        return 0
    from core.cli import _table
    from core.training.run_views import runs_table

    rows = runs_table(runs)
    header = ["name", "trainer", "status", "samples", "test macro-F1", "minutes", "created"]
    print(_table([["" if r[h] is None else str(r[h]) for h in header] for r in rows], header))
    return 0


def _run_to_delete(store: Store, name: str, project_ref: str | None) -> Any:
    from core.errors import NotFound
    from core.training.run_store import get_run, runs_named

    if project_ref:
        return get_run(store, get_project(store, project_ref).id, name)
    found = runs_named(store, name)
    if not found:
        raise NotFound(f"There is no training run called '{name}'.")
    if len(found) > 1:
        raise InvalidInput(f"Several projects have a run called '{name}': add --project P.")
    return found[0]


def cmd_predict(args: argparse.Namespace, store: Store) -> int:
    from core.training.predict import predict_file

    summary = predict_file(
        store,
        args.project,
        args.run,
        Path(args.file),
        out=Path(args.out) if args.out else None,
        text_column=args.text_column,
        fmt=args.format,
        point=args.point,
        language_column=args.language_column,
    )
    if args.json:
        _print_json({**summary.__dict__, "out": str(summary.out)})
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


def register(sub: Any) -> None:
    """Add the training subcommands to the CLI's subparsers."""
    from core.io.table_files import FORMATS

    p = sub.add_parser("train", help="train a classifier on a snapshot of the project's samples (a job)")
    p.add_argument("--project", required=True)
    p.add_argument("--trainer", required=True, choices=TRAINER_KINDS)
    p.add_argument("--name", required=True, help="the run's name (unique in the project)")
    p.add_argument("--origin", choices=ORIGIN_CHOICES, default="all", help="which samples (default: all)")
    p.add_argument("--include-pending", action="store_true", help="also samples not reviewed yet (default: accepted)")
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
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_train)

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

    p = sub.add_parser("predict", help="label a file with a trained run")
    p.add_argument("--project", required=True)
    p.add_argument("--run", required=True, help="the run's name")
    p.add_argument("file", help="CSV, TSV, JSONL or Parquet file")
    p.add_argument("--out", help="output file (default: FILE.predictions next to it)")
    p.add_argument("--text-column", help="column with the texts (default: 'text', or the only column)")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the file name)")
    p.add_argument("--point", type=int, help="curve runs: the size whose model labels (default: the largest)")
    p.add_argument(
        "--language-column",
        help="column with each text's language, for per-language models (default: 'language' when there is one; "
        "otherwise the language is detected)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_predict)
