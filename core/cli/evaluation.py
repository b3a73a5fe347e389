"""CLI subcommands of evaluation: evaluate, quickcheck, evaluations (baseline, compare, report and targeted live in
`baselines`, `comparison` and `targeted` beside this module).

evaluate --project P --run NAME [--point N] [--json]      a trained run (a job) or a baseline, on the test split
evaluate --project P --model M [--map A=B ...] [--name NAME] [--json]
                                                          a Hugging Face text-classification model (a job)
quickcheck FILE --text-column C --label-column C --prediction-column C (--language-column C | --language L)
           [--confidence-column C] [--project P] [--name NAME] [--json]
                                                          a file of predictions: its rows become test samples
evaluations --project P [--json]                          the newest evaluation of each run and baseline
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers
from core.cli.output import print_json, table
from core.errors import InvalidInput, NotFound, StudioError
from core.front.actor import Actor, Store
from core.front.evaluation import (
    OVERALL,
    SAME,
    Evaluation,
    PredictionColumns,
    check_model,
    check_predictions_file,
    evaluate_run,
    find_baseline,
    get_evaluation,
    latest_evaluations,
    parse_label_map,
    plan_model_check,
    rescore_baseline,
)
from core.front.jobs import get_job, run_here
from core.front.projects import get_project
from core.front.training import run_named
from core.language_names import language_name

# --- evaluate --------------------------------------------------------------------------------------------------


def _evaluate_named(actor: Actor, project_id: int, name: str, point: int | None, quiet: bool) -> Evaluation:
    """Evaluate a training run (as a job, in the foreground) or re-score a baseline's stored answers."""
    try:
        run_named(actor, project_id, name)
    except NotFound:
        baseline = find_baseline(actor, project_id, name)
        if baseline is None:
            raise NotFound(
                f"This project has no training run or baseline called '{name}'. "
                "List them with: python -m core runs --project P, python -m core evaluations --project P"
            ) from None
        return rescore_baseline(actor, baseline.id)
    job = evaluate_run(actor, project_id, name, point=point, background=False).job
    status = run_here(actor, job.id, echo=not quiet)
    done = get_job(actor, job.id)
    if status != "done":
        raise StudioError(done.message)
    return get_evaluation(actor, int((done.result or {})["evaluation_id"]))


def print_evaluation(evaluation: Evaluation) -> None:
    metrics = evaluation.metrics
    print(f"{evaluation.title} on {evaluation.test_size:,} human test samples (test set {evaluation.test_hash[:12]})")
    rows = [
        [f"{language_name(c)} ({c})", m["n"], f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}", m["unparsed"]]
        for c, m in ((c, metrics[c]) for c in evaluation.languages)
    ]
    overall = metrics[OVERALL]
    rows.append(["overall (pooled)", overall["n"], f"{overall['accuracy']:.3f}", f"{overall['macro_f1']:.3f}",
                 overall["unparsed"]])  # fmt: skip
    print(table(rows, ["language", "n", "accuracy", "macro-F1", "unparsed"]))
    print(f"mean macro-F1 over languages: {evaluation.mean_macro_f1:.3f}")
    for code in [*evaluation.languages, OVERALL]:
        title = "overall (pooled)" if code == OVERALL else f"{language_name(code)} ({code})"
        _print_group(title, metrics[code])


def _print_group(title: str, group: Mapping[str, Any]) -> None:
    """One language's (or the pooled) scores per label and its confusion matrix."""
    print(f"\n{title}: per label")
    print(
        table(
            [
                [label, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", s["support"]]
                for label, s in group["per_label"].items()
            ],
            ["label", "precision", "recall", "F1", "support"],
        )
    )
    print(f"{title}: confusion (rows: true, columns: predicted)")
    labels = group["labels"]
    extra = ["(no label)"] if group["unparsed"] else []
    rows = [
        [label, *row, *([group["unparsed_by_label"].get(label, 0)] if extra else [])]
        for label, row in zip(labels, group["confusion"], strict=True)
    ]
    print(table(rows, ["true \\ predicted", *labels, *extra]))


def _evaluate_model(actor: Actor, project_id: int, args: argparse.Namespace) -> Evaluation:
    """A Hugging Face model on the test split, as a job in the foreground (refused before it starts while a model
    label is unmapped)."""
    chosen = parse_label_map(args.map or [])
    plan = plan_model_check(actor, project_id, args.model, chosen, args.name)
    read = [row for row in plan.mapping.rows() if row["how"] != SAME]
    for row in read:
        _note(
            f"the model's label '{row['model label']}' is the project's '{row['project label']}' ({row['how']})", args
        )
    job = check_model(actor, project_id, args.model, chosen, args.name, background=False).job
    status = run_here(actor, job.id, echo=not args.json)
    done = get_job(actor, job.id)
    if status != "done":
        raise StudioError(done.message)
    return get_evaluation(actor, int((done.result or {})["evaluation_id"]))


def _note(message: str, args: argparse.Namespace) -> None:
    """A remark beside the result: on stderr under --json (stdout holds only the JSON)."""
    print(f"note: {message}", file=sys.stderr if args.json else sys.stdout)


def cmd_evaluate(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.model is not None:
        if args.point is not None:
            raise InvalidInput("--point chooses a learning curve's point: it goes with --run, not --model.")
        evaluation = _evaluate_model(actor, project.id, args)
    else:
        if args.map or args.name:
            raise InvalidInput("--map and --name go with --model (a Hugging Face model), not --run.")
        evaluation = _evaluate_named(actor, project.id, args.run, args.point, quiet=args.json)
    if args.json:
        print_json(evaluation.metrics)
    else:
        print_evaluation(evaluation)
    return 0


def cmd_quickcheck(args: argparse.Namespace, store: Store) -> int:
    columns = PredictionColumns(
        text=args.text_column,
        label=args.label_column,
        prediction=args.prediction_column,
        language_column=args.language_column,
        language=args.language,
        confidence=args.confidence_column,
    )
    check = check_predictions_file(
        acting_user(args, store), Path(args.file), columns, project=args.project, name=args.name
    )
    out = sys.stderr if args.json else sys.stdout
    print(check.summary(), file=out)
    for problem in check.problems():
        print(f"warning: {problem}", file=out)
    for note in check.notes:
        print(f"note: {note}", file=out)
    if args.json:
        print_json(check.evaluation.metrics)
    else:
        print()
        print_evaluation(check.evaluation)
    return 0


def cmd_evaluations(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    rows = [e.summary() for e in latest_evaluations(actor, project.id)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"Nothing evaluated in '{project.name}' yet: python -m core evaluate --project P --run NAME")
        return 0
    header = ["name", "source", "point", "test samples", "test set", "mean macro-F1", "unparsed", "created"]
    print(table([["" if r[h] is None else r[h] for h in header] for r in rows], header))
    return 0


# --- parser ----------------------------------------------------------------------------------------------------


def add_parsers(sub: Subparsers) -> None:
    """evaluate, quickcheck and evaluations."""
    _add_evaluate_parser(sub)
    _add_quickcheck_parser(sub)
    p = sub.add_parser("evaluations", help="the newest evaluation of each run and baseline")
    p.add_argument("--project", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluations)


def _add_evaluate_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "evaluate", help="score a training run, a baseline or a Hugging Face model on the human test split"
    )
    p.add_argument("--project", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="a training run's or a baseline's name")
    what.add_argument(
        "--model", help="a Hugging Face text-classification model: a folder on this machine or a downloaded hub id"
    )
    p.add_argument("--point", type=int, help="curve runs: the size to evaluate (default: the largest)")
    p.add_argument(
        "--map",
        action="append",
        metavar="MODEL_LABEL=PROJECT_LABEL",
        help="--model: the project label a model label stands for (repeat it; needed for labels that match none)",
    )
    p.add_argument("--name", help="--model: the evaluation's name (default: the model's name)")
    p.add_argument("--json", action="store_true", help="{language | overall: scores} as JSON")
    p.set_defaults(handler=cmd_evaluate)


def _add_quickcheck_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "quickcheck", help="per-language scores of any classifier from a file of its predictions (one step)"
    )
    p.add_argument("file", help="CSV, TSV, JSONL or Parquet: text, true label, predicted label (and language)")
    p.add_argument("--text-column", required=True)
    p.add_argument("--label-column", required=True, help="the true label")
    p.add_argument("--prediction-column", required=True, help="the classifier's label")
    language = p.add_mutually_exclusive_group(required=True)
    language.add_argument("--language-column", help="the column of each text's language code")
    language.add_argument("--language", help="the one language of the whole file (a code, e.g. sw)")
    p.add_argument("--confidence-column", help="the classifier's confidence, 0 to 1 (optional)")
    p.add_argument(
        "--project", help="the project whose test samples the rows become (default: one named after the file)"
    )
    p.add_argument("--name", help="the evaluation's name (default: the file's name)")
    p.add_argument("--json", action="store_true", help="the scores as `evaluate --json` prints them")
    p.set_defaults(handler=cmd_quickcheck)
