"""CLI subcommands of evaluation, registered by `core.cli.build_parser`.

evaluate --project P --run NAME [--point N] [--json]      a trained run (a job) or a baseline, on the test split
evaluate --project P --model M [--map A=B ...] [--name NAME] [--json]
                                                          a Hugging Face text-classification model (a job)
quickcheck FILE --text-column C --label-column C --prediction-column C (--language-column C | --language L)
           [--confidence-column C] [--project P] [--name NAME] [--json]
                                                          a file of predictions: its rows become test samples
baseline --project P --backend .. --model M --mode zero-shot|synthetic-icl|human-icl [--k K] --name NAME
         [--base-url URL] [--languages ..] [--concurrency C] [--temperature T] [--max-tokens N] [--seed S]
         [--recording FILE] [--resume] [--background] [--json]
evaluations --project P [--json]                          the newest evaluation of each run and baseline
compare --project P --runs A,B[,C] [--reference A] [--seed S] [--resamples N] [--json]
report --project P --runs A[,B] OUT [--seed S]           a self-contained HTML report
targeted --project P --language L --label TRUE --confused-as X --backend .. --model M --per-cell N [...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cli_llm_options import add_llm_options, llm_overrides
from core.errors import InvalidInput, NotFound, StudioError
from core.store import Store
from core.store.projects import get_project


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _csv(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


# --- evaluate --------------------------------------------------------------------------------------------------


def _evaluate_named(store: Store, project_id: int, name: str, point: int | None, quiet: bool) -> Any:
    """Evaluate a training run (as a job, in the foreground) or re-score a baseline's stored answers."""
    from core.evaluation.baseline_store import find_baseline
    from core.evaluation.baselines import evaluate_baseline
    from core.evaluation.evaluations import get_evaluation
    from core.jobs.queue import get_job, submit_job
    from core.jobs.runner import run_job
    from core.training.run_store import get_run

    try:
        get_run(store, project_id, name)
    except NotFound:
        baseline = find_baseline(store, project_id, name)
        if baseline is None:
            raise NotFound(
                f"This project has no training run or baseline called '{name}'. "
                "List them with: python -m core runs --project P, python -m core evaluations --project P"
            ) from None
        return evaluate_baseline(store, baseline.id)
    job = submit_job(store, "evaluate", {"run": name, "point": point}, project_id=project_id)
    status = run_job(store, job.id, echo=not quiet)
    done = get_job(store, job.id)
    if status != "done":
        raise StudioError(done.message)
    return get_evaluation(store, int((done.result or {})["evaluation_id"]))


def print_evaluation(evaluation: Any) -> None:
    from core.evaluation.metrics import OVERALL
    from core.language_names import language_name

    metrics = evaluation.metrics
    print(f"{evaluation.title} on {evaluation.test_size:,} human test samples (test set {evaluation.test_hash[:12]})")
    rows = [
        [f"{language_name(c)} ({c})", m["n"], f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}", m["unparsed"]]
        for c, m in ((c, metrics[c]) for c in evaluation.languages)
    ]
    overall = metrics[OVERALL]
    rows.append(["overall (pooled)", overall["n"], f"{overall['accuracy']:.3f}", f"{overall['macro_f1']:.3f}",
                 overall["unparsed"]])  # fmt: skip
    print(_table(rows, ["language", "n", "accuracy", "macro-F1", "unparsed"]))
    print(f"mean macro-F1 over languages: {evaluation.mean_macro_f1:.3f}")
    for code in [*evaluation.languages, OVERALL]:
        group = metrics[code]
        title = "overall (pooled)" if code == OVERALL else f"{language_name(code)} ({code})"
        print(f"\n{title}: per label")
        print(
            _table(
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
        print(_table(rows, ["true \\ predicted", *labels, *extra]))


def _evaluate_model(store: Store, project_id: int, args: argparse.Namespace) -> Any:
    """A Hugging Face model on the test split, as a job in the foreground (refused before it starts while a model
    label is unmapped)."""
    from core.evaluation.evaluations import get_evaluation
    from core.evaluation.label_matching import SAME, parse_label_map
    from core.evaluation.model_check import plan_model_check, submit_model_check
    from core.jobs.queue import get_job
    from core.jobs.runner import run_job

    chosen = parse_label_map(args.map or [])
    plan = plan_model_check(store, project_id, args.model, chosen, args.name)
    read = [row for row in plan.mapping.rows() if row["how"] != SAME]
    for row in read:
        _note(
            f"the model's label '{row['model label']}' is the project's '{row['project label']}' ({row['how']})", args
        )
    job = submit_model_check(store, project_id, args.model, chosen, args.name)
    status = run_job(store, job.id, echo=not args.json)
    done = get_job(store, job.id)
    if status != "done":
        raise StudioError(done.message)
    return get_evaluation(store, int((done.result or {})["evaluation_id"]))


def _note(message: str, args: argparse.Namespace) -> None:
    """A remark beside the result: on stderr under --json (stdout holds only the JSON)."""
    print(f"note: {message}", file=sys.stderr if args.json else sys.stdout)


def cmd_evaluate(args: argparse.Namespace, store: Store) -> int:
    project = get_project(store, args.project)
    if args.model is not None:
        if args.point is not None:
            raise InvalidInput("--point chooses a learning curve's point: it goes with --run, not --model.")
        evaluation = _evaluate_model(store, project.id, args)
    else:
        if args.map or args.name:
            raise InvalidInput("--map and --name go with --model (a Hugging Face model), not --run.")
        evaluation = _evaluate_named(store, project.id, args.run, args.point, quiet=args.json)
    if args.json:
        _print_json(evaluation.metrics)
    else:
        print_evaluation(evaluation)
    return 0


def cmd_quickcheck(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.quickcheck import PredictionColumns, check_predictions_file

    columns = PredictionColumns(
        text=args.text_column,
        label=args.label_column,
        prediction=args.prediction_column,
        language_column=args.language_column,
        language=args.language,
        confidence=args.confidence_column,
    )
    check = check_predictions_file(store, Path(args.file), columns, project=args.project, name=args.name)
    out = sys.stderr if args.json else sys.stdout
    print(check.summary(), file=out)
    for problem in check.problems():
        print(f"warning: {problem}", file=out)
    for note in check.notes:
        print(f"note: {note}", file=out)
    if args.json:
        _print_json(check.evaluation.metrics)
    else:
        print()
        print_evaluation(check.evaluation)
    return 0


def cmd_evaluations(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.evaluations import latest_evaluations

    project = get_project(store, args.project)
    rows = [e.summary() for e in latest_evaluations(store, project.id)]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print(f"Nothing evaluated in '{project.name}' yet: python -m core evaluate --project P --run NAME")
        return 0
    header = ["name", "source", "point", "test samples", "test set", "mean macro-F1", "unparsed", "created"]
    print(_table([["" if r[h] is None else r[h] for h in header] for r in rows], header))
    return 0


# --- baselines -------------------------------------------------------------------------------------------------


def cmd_baseline(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.baseline_store import get_baseline_by_id, set_baseline
    from core.evaluation.baselines import BaselineSettings, resume_baseline, start_baseline, submit_baseline
    from core.jobs.queue import get_job, start_worker
    from core.jobs.runner import run_job

    timeouts = {k: v for k, v in llm_overrides(args).items() if k != "max_tokens"}
    if args.resume:
        baseline = resume_baseline(store, args.project, args.name)
        if timeouts:  # a resume may wait longer than the first try did
            set_baseline(store, baseline.id, params={**baseline.params, **timeouts})
    else:
        if not args.model or not args.mode:
            raise InvalidInput("A new baseline needs --model and --mode (or --resume to finish one).")
        settings = BaselineSettings(
            name=args.name,
            backend=args.backend,
            model=args.model,
            mode=args.mode,
            k=args.k,
            base_url=args.base_url,
            languages=_csv(args.languages) or None,
            concurrency=args.concurrency,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            seed=args.seed,
            recording=args.recording,
            connect_timeout=timeouts.get("connect_timeout"),
            idle_timeout=timeouts.get("idle_timeout"),
            timeout=timeouts.get("timeout"),
        )
        baseline = start_baseline(store, args.project, settings)
    job = submit_baseline(store, baseline)
    if args.background:
        pid = start_worker(store, job.id)
        print(f"Baseline '{baseline.name}': job #{job.id} started in the background (worker process {pid})")
        return 0
    status = run_job(store, job.id, echo=not args.json)
    done, baseline = get_job(store, job.id), get_baseline_by_id(store, baseline.id)
    if args.json:
        _print_json({"baseline": baseline.to_public(), "job": job.id, "result": done.result})
    else:
        print(f"Baseline '{baseline.name}' {baseline.status}: {done.message}")
        for note in baseline.params.get("notes", []):
            print(f"  note: {note}")
    if status != "done":
        if not args.json:
            print(f"error: {done.message}", file=sys.stderr)
        return 1
    return 0


# --- compare / report ------------------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.comparison import compare_by_name

    names = _csv(args.runs)
    comparison = compare_by_name(
        store, args.project, names, reference=args.reference, resamples=args.resamples, seed=args.seed
    )
    if args.json:
        _print_json(comparison.to_dict())
        return 0
    print(
        f"macro-F1 with {comparison.result.confidence:.0%} paired bootstrap intervals "
        f"({comparison.result.resamples:,} resamples, seed {comparison.result.seed})"
    )
    table = comparison.table()
    print(_table([[row[h] for h in ["language", *comparison.names]] for row in table], ["language", *comparison.names]))
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
    print(_table(rows, ["language", "evaluation", "difference", "interval", "verdict"]))
    return 0


def cmd_report(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.comparison import comparability, compare
    from core.evaluation.evaluations import latest_evaluation
    from core.evaluation.report import render_report, write_report

    project = get_project(store, args.project)
    evaluations = [latest_evaluation(store, project.id, name) for name in _csv(args.runs)]
    if not evaluations:
        raise InvalidInput("Name the runs or baselines to report on: --runs A,B")
    comparison = None
    reason = comparability(evaluations) if len(evaluations) > 1 else None
    if len(evaluations) > 1 and reason is None:
        comparison = compare(store, evaluations, seed=args.seed)
    html = render_report(project.name, evaluations, comparison, generated_by=store.user)
    out = write_report(html, Path(args.out))
    print(f"Report written to {out}" + (f" (no comparison: {reason})" if reason and len(evaluations) > 1 else ""))
    return 0


# --- targeted generation ---------------------------------------------------------------------------------------


def cmd_targeted(args: argparse.Namespace, store: Store) -> int:
    from core.evaluation.targeted import TargetCell, start_targeted_run
    from core.generation.run_store import get_run
    from core.jobs.queue import get_job, start_worker, submit_job
    from core.jobs.runner import run_job

    cell = TargetCell(args.language, args.label, args.confused_as)
    run = start_targeted_run(
        store,
        args.project,
        cell,
        backend=args.backend,
        model=args.model,
        per_cell=args.per_cell,
        base_url=args.base_url,
        recording=args.recording,
        seed=args.seed,
        examples_k=args.k,
    )
    job = submit_job(store, "generate", {"run_id": run.id}, project_id=run.project_id)
    if args.background:
        pid = start_worker(store, job.id)
        print(f"Targeted run #{run.id}: job #{job.id} started in the background (worker process {pid})")
        return 0
    status = run_job(store, job.id, echo=not args.json)
    run = get_run(store, run.id)
    if args.json:
        _print_json({"run": run.id, "job": job.id, "status": run.status, "message": run.message})
    else:
        print(f"Targeted run #{run.id} {run.status}: {run.message or get_job(store, job.id).message}")
    return 0 if status == "done" and run.status in ("done", "incomplete") else 1


# --- parser ----------------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add the evaluation subcommands to the CLI's subparsers."""
    from core.evaluation.baseline_prompts import MODES
    from core.generation.engine import BACKENDS

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

    p = sub.add_parser("evaluations", help="the newest evaluation of each run and baseline")
    p.add_argument("--project", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluations)

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
