"""CLI subcommands of a project's samples: import (a file or a datasets folder), export, samples (list, count)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json, short, table
from core.errors import InvalidInput
from core.front.actor import Actor, Store
from core.front.data import (
    CLI_WORDS,
    EXPORT_FORMATS,
    IMPORT_STATUSES,
    SAMPLE_ORIGINS,
    SAMPLE_SPLITS,
    SAMPLE_STATUSES,
    TABLE_FORMATS,
    ColumnMapping,
    ImportPlan,
    ImportResult,
    SampleFilter,
    counts_by_language_label_status,
    execute_import,
    export_to_file,
    iter_samples,
    plan_import,
    read_table_file,
)
from core.front.projects import Project, get_project
from core.front.queues import iter_ranked

# --- import ----------------------------------------------------------------------------------------------------


def _mapping(args: argparse.Namespace) -> ColumnMapping:
    return ColumnMapping(
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


def _refuse(plan: ImportPlan) -> InvalidInput:
    """Why nothing was imported, and the way forward when the invalid rows may be skipped."""
    way_forward = (
        f"; or use --skip-invalid to import the {plan.to_import} valid rows and skip the {plan.invalid_count} named"
        if plan.can_skip_invalid
        else ""
    )
    return InvalidInput("Nothing was imported: " + "; ".join(p.describe() for p in plan.errors) + way_forward)


def _print_dry_run(plan: ImportPlan, *, skipping: bool, as_json: bool) -> None:
    if as_json:
        print_json(plan.summary())
        return
    skipped = plan.skipped_count + (plan.invalid_count if skipping else 0)
    print(f"Would import {plan.to_import} of {plan.total_rows} rows; would skip {skipped}.")
    for problem in [*(plan.errors if skipping else []), *plan.skipped, *plan.notes]:
        print(f"  - {problem.describe()}")


def _print_imported(result: ImportResult, project_name: str) -> None:
    print(f"Imported {result.imported} samples into '{project_name}'; skipped {result.skipped}.")
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


def cmd_import(args: argparse.Namespace, store: Store) -> int:
    if bool(args.language_column) == bool(args.language):
        raise InvalidInput("Give exactly one of --language-column C or --language L.")
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    frame = read_table_file(actor, Path(args.file), args.format)
    plan = plan_import(actor, project, frame, _mapping(args), source=Path(args.file).name, words=CLI_WORDS)
    skipping = not plan.ok and args.skip_invalid and plan.can_skip_invalid
    if not plan.ok and not skipping:
        raise _refuse(plan)
    if args.dry_run:
        _print_dry_run(plan, skipping=skipping, as_json=args.json)
        return 0
    result = execute_import(actor, project, plan, skip_invalid=bool(skipping))
    if args.json:
        print_json(result.to_dict())
    else:
        _print_imported(result, project.name)
    return 0


# --- export / samples ------------------------------------------------------------------------------------------


def _filter_from(args: argparse.Namespace) -> SampleFilter:
    def many(value: str | None) -> tuple[str, ...]:
        return tuple(csv_list(value))

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
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    count = export_to_file(actor, project, args.format, Path(args.out), _filter_from(args))
    print(f"Exported {count} samples to {args.out}")
    return 0


def _print_counts(actor: Actor, project: Project, flt: SampleFilter, *, as_json: bool) -> None:
    rows = counts_by_language_label_status(actor, project, flt)
    if as_json:
        print_json([{"language": r.language, "label": r.label, "status": r.status, "count": r.count} for r in rows])
        return
    print(
        table(
            [[r.language, r.label or "(none)", r.status, str(r.count)] for r in rows],
            ["language", "label", "status", "count"],
        )
    )


def cmd_samples(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    flt = _filter_from(args)
    if args.counts:
        _print_counts(actor, project, flt, as_json=args.json)
        return 0
    samples = []
    ordered = getattr(args, "order", "id") == "score"  # the queue "most doubtful first" / "least sure first"
    for sample in iter_ranked(actor, project, flt) if ordered else iter_samples(actor, project, flt):
        samples.append(sample)
        if args.limit and len(samples) >= args.limit:
            break
    if args.json:
        print_json([s.to_public() for s in samples])
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
            short(s.text),
        ]
        for s in samples
    ]
    print(table(rows, ["id", "lang", "label", "split", "origin", "status", "flags", "text"]))
    return 0


# --- parsers ---------------------------------------------------------------------------------------------------


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", help="language code(s), comma-separated")
    p.add_argument("--label", help="label(s), comma-separated")
    p.add_argument("--split", help=f"{' or '.join(SAMPLE_SPLITS)}")
    p.add_argument("--origin", help=f"{' or '.join(SAMPLE_ORIGINS)}")
    p.add_argument("--status", help=", ".join(SAMPLE_STATUSES))
    p.add_argument("--flag", help="flag kind(s); 'none' for samples without flags")
    p.add_argument("--search", help="text contains (case-insensitive)")


def _add_import_parser(sub: Subparsers) -> None:
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
    p.add_argument("--format", choices=TABLE_FORMATS, help="file format (default: from the file name)")
    p.add_argument("--dry-run", action="store_true", help="validate and report, store nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)


def add_parsers(sub: Subparsers) -> None:
    """import, export and samples."""
    _add_import_parser(sub)

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
    p.add_argument(
        "--order",
        choices=("id", "score"),
        default="id",
        help="id: in order of arrival (default); score: with --flag label_doubt or model_uncertain, the most "
        "doubtful (or least sure) first",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_samples)
