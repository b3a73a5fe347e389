"""CLI subcommands of review work (team mode): assign, rebalance, queue, judge, adjudicate, agreement, gold and
review-rules.

    python -m core assign --project P [--language --label --origin --status --flag ...] --annotators a,b --overlap K
    python -m core --as USER queue --project P [--limit N] [--json]
    python -m core --as USER judge --project P --sample ID (--accept | --reject | --label X | --edit TEXT)
    python -m core agreement --project P [--json]
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.data import _add_filters, _filter_from
from core.cli.output import print_json, short, table
from core.errors import InvalidInput
from core.front.actor import Store
from core.front.projects import get_project
from core.front.review import (
    MAX_OVERLAP,
    REVIEW_RULES,
    AgreementReport,
    Figure,
    add_annotators,
    adjudicate,
    adjudication_queue,
    agreement,
    assign,
    get_review_settings,
    judge,
    mark_gold,
    my_queue,
    remove_annotators,
    set_review_settings,
    undo_last_judgement,
    unmark_gold,
)


def _ids(value: str) -> list[int]:
    try:
        return [int(part) for part in csv_list(value)]
    except ValueError:
        raise InvalidInput(f"'{value}' is not a list of sample numbers (e.g. 12,15,40).") from None


def cmd_assign(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    result = assign(actor, project, csv_list(args.annotators), overlap=args.overlap, flt=_filter_from(args))
    if args.json:
        print_json({**asdict(result), "message": result.message})
    else:
        print(result.message)
    return 0


def cmd_rebalance(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.add:
        result = add_annotators(actor, project, csv_list(args.add))
    else:
        result = remove_annotators(actor, project, csv_list(args.remove))
    if args.json:
        print_json({**asdict(result), "message": result.message})
    else:
        print(result.message)
    return 0


def cmd_queue(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be 1 or more.")
    mine = my_queue(actor, project, args.limit)
    samples = [{"id": e.sample_id, "text": e.text, "label": e.label, "language": e.language} for e in mine.entries]
    if args.json:
        print_json({"open": mine.open, "done": mine.done, "samples": samples})
        return 0
    if not samples:
        print(f"Nothing to judge in {project.name}: your queue is empty ({mine.done:,} judged).")
        return 0
    rows = [[str(s["id"]), s["language"], s["label"] or "", short(str(s["text"]))] for s in samples]
    print(table(rows, ["id", "lang", "label", "text"]))
    print(f"{mine.open:,} to judge, {mine.done:,} judged.")
    return 0


def cmd_judge(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.undo:
        undone = undo_last_judgement(actor, project)
        if args.json:
            print_json(asdict(undone))
        else:
            print(undone.message)
        return 0
    if args.sample is None:
        raise InvalidInput("Say which sample with --sample ID.")
    if args.accept:
        decision, label, text = "accept", None, None
    elif args.reject:
        decision, label, text = "reject", None, None
    elif args.label is not None:
        decision, label, text = "label", args.label, None
    else:
        decision, label, text = "edit", None, args.edit
    done = judge(actor, project, args.sample, decision, label=label, text=text, seconds=args.seconds)
    if args.json:
        print_json({**asdict(done), "message": done.message})
    else:
        print(done.message)
    return 0


def cmd_adjudicate(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.sample is None:
        disputed = adjudication_queue(actor, project, args.limit)
        if args.json:
            print_json([asdict(item) for item in disputed])
            return 0
        if not disputed:
            print(f"No sample of {project.name} waits for a decision.")
        for item in disputed:
            print(f"#{item.sample_id} [{item.language}] label {item.label or '(none)'}: {short(item.text)}")
            for j in item.judgements:
                took = f"{j.seconds:.0f} s" if j.seconds is not None else "time not measured"
                said = "reject" if j.decision == "reject" else f"{j.decision} '{j.label}'"
                print(f"    {j.annotator}: {said} ({took}, {j.at:%Y-%m-%d %H:%M})")
        return 0
    if not (args.accept or args.reject or args.label):
        raise InvalidInput("Decide with --accept, --reject or --label X.")
    decision = "accept" if args.accept else "reject" if args.reject else "label"
    done = adjudicate(actor, project, args.sample, decision, label=args.label)
    if args.json:
        print_json({**asdict(done), "message": done.message})
    else:
        print(done.message)
    return 0


def _figure(figure: Figure) -> str:
    if figure.value is None:
        return f"—  (n={figure.n_items})"
    interval = f" [{figure.low:.2f}, {figure.high:.2f}]" if figure.low is not None and figure.high is not None else ""
    return f"{figure.value:.3f}{interval}  (n={figure.n_items})"


def _print_agreement(name: str, report: AgreementReport) -> None:
    print(f"Agreement in {name}: Krippendorff's alpha {_figure(report.overall.alpha)}")
    if report.overall.pairs:
        rows = [[f"{p.a} x {p.b}", _figure(p.kappa)] for p in report.overall.pairs]
        print(table(rows, ["pair", "Cohen's kappa [95% interval]  (items)"]))
    for title, groups in (("language", report.per_language), ("label", report.per_label)):
        rows = [[key, _figure(group.alpha)] for key, group in groups.items()]
        if rows:
            print(table(rows, [title, "alpha [95% interval]  (items)"]))
    people: list[list[Any]] = []
    for a in report.annotators:
        people.append(
            [
                a.annotator,
                a.judgements,
                f"{a.agreement_with_resolved:.0%} of {a.n_resolved}" if a.agreement_with_resolved is not None else "—",
                f"{a.judgements_per_hour:.0f}" if a.judgements_per_hour is not None else "—",
                f"{a.median_seconds:.1f}" if a.median_seconds is not None else "—",
                f"{a.gold_accuracy:.0%} of {a.n_gold}" if a.gold_accuracy is not None else "—",
            ]
        )
    if people:
        print(table(people, ["annotator", "judged", "agrees with decision", "per hour", "median s", "gold"]))


def cmd_agreement(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    report = agreement(actor, project, resamples=args.resamples)
    if args.json:
        print_json(report.to_public())
    else:
        _print_agreement(project.name, report)
    return 0


def cmd_gold(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.mark:
        print(mark_gold(actor, project, _ids(args.mark)).message)
    elif args.unmark:
        print(unmark_gold(actor, project, _ids(args.unmark)).message)
    else:
        rules = set_review_settings(actor, project, gold=args.on)
        print(f"Gold checks are {'on' if rules.gold else 'off'} in {project.name}.")
    return 0


def cmd_review_rules(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    project = get_project(actor, args.project)
    if args.overlap is None and args.rule is None:
        rules = get_review_settings(actor, project)
    else:
        rules = set_review_settings(actor, project, overlap=args.overlap, rule=args.rule)
    if args.json:
        print_json(asdict(rules))
    else:
        how = "unanimously" if rules.rule == "unanimous" else "by majority"
        print(
            f"{project.name}: {rules.overlap} judgement{'' if rules.overlap == 1 else 's'} per sample, decided {how}; "
            f"gold checks {'on' if rules.gold else 'off'}."
        )
    return 0


def _overlap(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None
    if not 1 <= number <= MAX_OVERLAP:
        raise argparse.ArgumentTypeError(f"the overlap must be between 1 and {MAX_OVERLAP}")
    return number


def _add_review_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("assign", help="hand samples out to annotators for review, each to K of them")
    p.add_argument("--project", required=True)
    _add_filters(p)
    p.add_argument("--annotators", required=True, help="usernames, comma-separated")
    p.add_argument("--overlap", type=_overlap, help=f"annotators per sample, 1..{MAX_OVERLAP} (default: the rules')")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_assign)

    p = sub.add_parser("rebalance", help="annotators join or leave a review: what is not yet judged moves")
    p.add_argument("--project", required=True)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--add", metavar="USERS", help="annotators who join (comma-separated)")
    who.add_argument("--remove", metavar="USERS", help="annotators who leave (comma-separated)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rebalance)

    p = sub.add_parser("queue", help="your review queue (act as an annotator with --as USER)")
    p.add_argument("--project", required=True)
    p.add_argument("--limit", type=int, help="only the first N samples (default: every open one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_queue)

    p = sub.add_parser("judge", help="judge a sample of your review queue, or undo your last judgement")
    p.add_argument("--project", required=True)
    p.add_argument("--sample", type=int, metavar="ID")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--accept", action="store_true", help="its label is right")
    what.add_argument("--reject", action="store_true", help="it is of no use")
    what.add_argument("--label", metavar="X", help="it belongs to the label X")
    what.add_argument("--edit", metavar="TEXT", help="its label is right once its text is this")
    what.add_argument("--undo", action="store_true", help="take back your last judgement in the project")
    p.add_argument("--seconds", type=float, help="how long the judgement took")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_judge)


def add_parsers(sub: Subparsers) -> None:
    """assign, rebalance, queue, judge, adjudicate, agreement, gold and review-rules."""
    _add_review_parsers(sub)
    p = sub.add_parser("adjudicate", help="samples the annotators disagree on: list them, or decide one")
    p.add_argument("--project", required=True)
    p.add_argument("--sample", type=int, metavar="ID", help="the sample to decide (without: list the queue)")
    decision = p.add_mutually_exclusive_group()
    decision.add_argument("--accept", action="store_true")
    decision.add_argument("--reject", action="store_true")
    decision.add_argument("--label", metavar="X")
    p.add_argument("--limit", type=int, help="list only the first N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_adjudicate)

    p = sub.add_parser("agreement", help="agreement between annotators: kappa per pair, alpha, per language")
    p.add_argument("--project", required=True)
    p.add_argument("--resamples", type=int, default=500, help="bootstrap resamples for the intervals (default 500)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_agreement)

    p = sub.add_parser("gold", help="mark human samples as gold checks; switch gold checks on or off")
    p.add_argument("--project", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--mark", metavar="IDS", help="mark these samples as gold (comma-separated numbers)")
    what.add_argument("--unmark", metavar="IDS", help="these samples are gold no more")
    what.add_argument("--on", action="store_true", default=None, help="mix gold checks into the queues")
    what.add_argument("--off", dest="on", action="store_false", help="stop mixing gold checks into the queues")
    p.set_defaults(handler=cmd_gold)

    p = sub.add_parser("review-rules", help="a project's review rules: overlap and how judgements decide")
    p.add_argument("--project", required=True)
    p.add_argument("--overlap", type=_overlap, help=f"judgements per sample, 1..{MAX_OVERLAP}")
    p.add_argument("--rule", choices=REVIEW_RULES, help="unanimous, or majority (of at least K judgements)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_review_rules)
