"""Does curation pay, and how close do cheap trainers get to the synthetic-only targets (issue 21)? On the paper's
data, through the studio's own import, checks job, bulk reject, training jobs and stored evaluations.

Per task, one project with the 8 languages (synthetic `train_full` as TRAIN, human `test` as TEST), then:

1. **Curation** (`--trainer`, default the linear probe): the checks job (core/curation/flag_job.py) at its default
   threshold and scope, then models trained on the synthetic TRAIN samples under
   - none: every synthetic sample (pending ones included: nothing rejected);
   - label doubt only: the samples flagged `label_doubt` rejected;
   - default flags: every sample with any other flag of the checks job rejected (repeats, label conflicts, test
     contamination, wrong language, quality), as a user who rejects everything the checks flag would;
   - default flags + label doubt: both.
   Each row: mean macro-F1 over the languages on the human TEST samples with a 95% bootstrap interval (test
   samples resampled within each language), and the paired bootstrap of its difference to "none" (the same
   resamples for both models), so a user sees whether a step pays.
2. **Attempts** (`--attempts`): other trainer settings a user can pick on the Train page, on all synthetic
   samples or on the curated ones (`@default`, `@doubt`, `@both`), each with its score, interval and time.
3. **Languages held out**: every row's settings are chosen on en, de, id and he only (the mean over those four);
   the chosen row is then reported on th, sw, ro and sl, beside the default linear probe there. The paper's data
   has only these 8 languages: the held-out four are the only stand-in for "languages the team does not have".

Vectors come from the studio's embedding cache under --cache-home (its `embeddings/` and `models/` are linked
into each task's fresh studio home), so a second run embeds nothing.

    .venv/bin/python bench/bench_curation_effect.py ../shared/data/paper-multilingual [--tasks topic,intent]
        [--trainer linear] [--attempts "hybrid;hybrid:per_language_models=1;linear:c=10@both;linear~balance"]
        [--per-kind 30] [--languages de,sw] [--resamples 1000] [--cache-home ~/.distill-studio]

--per-kind N adds a row per flag kind that flags at least N synthetic samples, that kind alone rejected. An attempt
`trainer:param=value,...` takes the trainer's parameters (core/training/params.py); `~balance` is the snapshot's
class balance (no label more samples than the smallest of its language). --languages makes a smaller project (the
SetFit check: one task, two languages). Times: wall and CPU seconds of each job in this process (the machine's
load shows in wall time, not in CPU time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_training_quality import LANGUAGES, build_project, studio_home  # noqa: E402

TASKS = ("topic", "intent", "sentiment")
DEV_LANGUAGES = ("en", "de", "id", "he")  # settings are chosen on these
HELD_OUT = ("th", "sw", "ro", "sl")  # and reported on these
TARGETS = {"topic": 0.85, "intent": 0.95, "sentiment": 0.80}
CURATIONS = ("none", "doubt", "default", "both")
CURATION_WORDS = {
    "none": "none (all synthetic)",
    "doubt": "label doubt only",
    "default": "default flags rejected",
    "both": "default flags + label doubt",
}
DEFAULT_ATTEMPTS = (
    "linear:c=1",
    "linear:c=10",
    "linear~balance",
    "hybrid",
    "hybrid:per_language_models=1",
    "hybrid:embedding_weight=2",
    "hybrid:c=3",
    "hybrid@both",
)


@dataclass
class Outcome:
    """One trained model's predictions on the test samples (sample id order) and what it cost."""

    name: str
    predicted: np.ndarray  # label index per test sample; -1 where the model gave no usable label
    train_samples: int
    wall: float
    cpu: float
    languages: dict[str, float] = field(default_factory=dict)  # macro-F1 per language, as the studio stored it


@dataclass
class TestTable:
    truth: np.ndarray
    languages: np.ndarray
    classes: list[str]


def macro_f1(truth: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Macro-F1 over all k labels (a label with no sample and no prediction scores 0, as core.training.metrics)."""
    valid = predicted >= 0
    confusion = np.bincount(truth[valid] * k + predicted[valid], minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    support = np.bincount(truth, minlength=k).astype(float)  # unusable answers count as misses
    guessed = confusion.sum(axis=0).astype(float)
    denominator = support + guessed
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    return float(f1.mean())


def mean_f1(test: TestTable, predicted: np.ndarray, languages: tuple[str, ...], rows: dict[str, np.ndarray]) -> float:
    k = len(test.classes)
    return float(np.mean([macro_f1(test.truth[rows[c]], predicted[rows[c]], k) for c in languages]))


def resamples(test: TestTable, languages: tuple[str, ...], count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """`count` bootstrap draws of the test rows, each language resampled within itself (its size kept)."""
    rng = np.random.default_rng(seed)
    own = {c: np.flatnonzero(test.languages == c) for c in languages}
    return [{c: rng.choice(rows, len(rows)) for c, rows in own.items()} for _ in range(count)]


def interval(values: list[float]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def scored(test: TestTable, outcome: Outcome, draws: list[dict[str, np.ndarray]], langs: tuple[str, ...]):  # type: ignore[no-untyped-def]
    own = {c: np.flatnonzero(test.languages == c) for c in langs}
    point = mean_f1(test, outcome.predicted, langs, own)
    spread = [mean_f1(test, outcome.predicted, langs, d) for d in draws]
    return point, spread


# --- the studio's own steps ---------------------------------------------------------------------------------------


def run_checks(store, project) -> tuple[dict[str, set[int]], dict[str, int], float, float]:  # type: ignore[no-untyped-def]
    """The checks job with its defaults; the synthetic TRAIN samples each flag group names, the flag counts."""
    from core.curation.flag_job import DOUBT_KINDS, launch_checks
    from core.jobs.runner import run_job
    from core.store.samples import SampleFilter, iter_samples

    wall, cpu = time.monotonic(), time.process_time()
    job = launch_checks(store, project.id, threshold=None, scope=None, background=False)
    if run_job(store, job.id) != "done":
        raise SystemExit("The checks job failed: see its log in the studio home.")
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    counts: dict[str, int] = {}
    groups: dict[str, set[int]] = {"default": set(), "doubt": set()}
    flt = SampleFilter(splits=("train",), origins=("synthetic",), flags=("any",))
    for sample in iter_samples(store, project.id, flt):
        kinds = {f.kind for f in sample.flags}
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
            groups.setdefault(f"only {kind}", set()).add(sample.id)
        if kinds & set(DOUBT_KINDS):
            groups["doubt"].add(sample.id)
        if kinds - set(DOUBT_KINDS):
            groups["default"].add(sample.id)
    return groups, counts, wall, cpu


def set_curation(store, project, groups: dict[str, set[int]], curation: str) -> None:  # type: ignore[no-untyped-def]
    """Reject what `curation` rejects (bulk reject, as the Curate page does), and set the rest back to pending.
    `curation`: none, doubt, default, both, or "only KIND" (the samples with that flag kind alone)."""
    from core.curation.sample_actions import bulk_change

    rejected = {
        "none": set(),
        "doubt": groups["doubt"],
        "default": groups["default"],
        "both": groups["default"] | groups["doubt"],
    }.get(curation) or groups.get(curation, set())
    kept = (groups["default"] | groups["doubt"]) - rejected
    if kept:
        bulk_change(store, project.id, "reset", ids=sorted(kept))
    if rejected:
        bulk_change(store, project.id, "reject", ids=sorted(rejected))


def train(store, project, test_ids: list[int], classes: list[str], name: str, spec: str) -> Outcome:  # type: ignore[no-untyped-def]
    """Train `spec` (trainer[:param=value,...][~balance]) on the synthetic samples not rejected; read its stored
    evaluation back (the job scores the test split itself)."""
    from core.jobs.runner import run_job
    from core.store.evaluations import list_evaluations, load_predictions
    from core.training.launch import TrainingRequest, start_training
    from core.training.run_store import get_run_by_id
    from core.training.snapshot import SnapshotOptions

    trainer, params, balance = parse_spec(spec)
    options = SnapshotOptions(origins=("synthetic",), include_pending=True, balance=balance)
    wall, cpu = time.monotonic(), time.process_time()
    run, job = start_training(store, project.id, TrainingRequest(name, trainer, params, options))
    status = run_job(store, job.id)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    run = get_run_by_id(store, run.id)
    if status != "done":
        raise SystemExit(f"{name}: {run.status}: {run.message}")
    evaluation = next(e for e in list_evaluations(store, project.id) if e.training_run_id == run.id)
    index = {label: i for i, label in enumerate(classes)}
    by_id = {p.sample_id: p.predicted for p in load_predictions(store, evaluation.id)}
    predicted = np.array([index.get(by_id.get(i) or "", -1) for i in test_ids])
    languages = {c: s["macro_f1"] for c, s in ((run.metrics or {}).get("test") or {}).get("languages", {}).items()}
    return Outcome(name, predicted, int((run.metrics or {}).get("train_samples") or 0), wall, cpu, languages)


def parse_spec(spec: str) -> tuple[str, dict[str, object], bool]:
    """A spec to (trainer, parameters, balance): "hybrid:c=3,per_language_models=1~balance" -> ("hybrid",
    {"c": 3.0, "per_language_models": True}, True)."""
    spec, balance = spec.removesuffix("~balance"), spec.endswith("~balance")
    trainer, _, rest = spec.partition(":")
    params: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key == "per_language_models":
            params[key] = value in ("1", "true")
        else:
            params[key] = int(value) if value.lstrip("-").isdigit() and key != "c" else float(value)
    return trainer, params, balance


def load_test(store, project) -> tuple[list[int], TestTable]:  # type: ignore[no-untyped-def]
    from core.evaluation.model_scores import load_test_set

    test = load_test_set(store, project)
    order = np.argsort(test.sample_ids)
    classes = list(project.label_names)
    index = {label: i for i, label in enumerate(classes)}
    ids = [test.sample_ids[i] for i in order]
    truth = np.array([index[test.labels[i]] for i in order])
    return ids, TestTable(truth, np.array([test.languages[i] for i in order]), classes)


# --- tables -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the paper-multilingual folder")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--trainer", default="linear", help="the model of the curation table (a spec as below)")
    parser.add_argument(
        "--attempts",
        default=";".join(DEFAULT_ATTEMPTS),
        help="';'-separated trainer specs: trainer[:param=value,...][~balance][@none|doubt|default|both]",
    )
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument(
        "--per-kind", type=int, default=0, metavar="N", help="also reject each flag kind alone that flags >= N samples"
    )
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="the project's languages (a smaller run)")
    parser.add_argument(
        "--cache-home", type=Path, default=Path(os.environ.get("STUDIO_HOME") or Path.home() / ".distill-studio")
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"There is no benchmark data at {args.data} (pass the paper-multilingual folder).")
    from core.store import open_store

    attempts = [a.strip() for a in args.attempts.split(";") if a.strip()]
    languages = tuple(c.strip() for c in args.languages.split(",") if c.strip())
    summary: dict[str, list[tuple[str, dict[str, float], float, float]]] = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        home = studio_home(args.cache_home.expanduser().resolve())
        store = open_store()
        wall, cpu = time.monotonic(), time.process_time()
        project = build_project(store, args.data, task, human=False, languages=languages)
        print(
            f"\n=== {task}: imported in {time.monotonic() - wall:.0f} s, {time.process_time() - cpu:.0f} CPU-s",
            flush=True,
        )
        test_ids, test = load_test(store, project)
        groups, counts, check_wall, check_cpu = run_checks(store, project)
        flagged = ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"checks job: {check_wall:.0f} s, {check_cpu:.0f} CPU-s; synthetic TRAIN samples flagged: {flagged}")
        print(
            f"rejected by default flags: {len(groups['default']):,}; by label doubt: {len(groups['doubt']):,}; "
            f"both: {len(groups['default'] | groups['doubt']):,}",
            flush=True,
        )
        draws = resamples(test, languages, args.resamples)
        outcomes: dict[str, Outcome] = {}
        curations = [*CURATIONS]
        if args.per_kind:
            curations += [f"only {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1])]
            curations = [c for c in curations if not c.startswith("only ") or len(groups[c]) >= args.per_kind]
        for number, curation in enumerate(curations):
            set_curation(store, project, groups, curation)
            outcomes[curation] = train(store, project, test_ids, test.classes, f"curation-{number}", args.trainer)
        set_curation(store, project, groups, "none")
        points = {name: scored(test, o, draws, languages) for name, o in outcomes.items()}
        print(f"\n{task}: effect of curation, {args.trainer}, mean macro-F1 over {len(languages)} languages "
              f"(95% bootstrap, {args.resamples} resamples of the test samples within each language)")  # fmt: skip
        print(
            f"{'curation':<30} {'samples':>7} {'macro-F1':>8} {'95% interval':>15} {'vs none':>8} "
            f"{'95% interval':>17} {'P(>0)':>6} {'wall s':>6} {'CPU s':>6}"
        )
        base = np.array(points["none"][1])
        for name in curations:
            point, spread = points[name]
            diff = np.array(spread) - base
            low, high = interval(spread)
            d_low, d_high = interval(list(diff))
            o, words = outcomes[name], CURATION_WORDS.get(name, name)
            print(
                f"{words:<30} {o.train_samples:>7,} {point:8.3f} {f'[{low:.3f}, {high:.3f}]':>15} "
                f"{point - points['none'][0]:+8.3f} {f'[{d_low:+.3f}, {d_high:+.3f}]':>17} "
                f"{float((diff > 0).mean()):6.2f} {o.wall:6.0f} {o.cpu:6.0f}",
                flush=True,
            )
        rows: list[tuple[str, Outcome]] = [(f"{args.trainer}@{c}", outcomes[c]) for c in CURATIONS]
        for spec in attempts:
            spec, _, curation = spec.partition("@")
            curation = curation or "none"
            set_curation(store, project, groups, curation)
            name = f"{spec}@{curation}"
            rows.append((name, train(store, project, test_ids, test.classes, f"try-{len(rows)}", spec)))
            outcome = rows[-1][1]
            point, spread = scored(test, outcome, draws, languages)
            low, high = interval(spread)
            print(f"  tried {name:<40} {point:.3f} [{low:.3f}, {high:.3f}]  {outcome.wall:.0f} s, "
                  f"{outcome.cpu:.0f} CPU-s", flush=True)  # fmt: skip
        set_curation(store, project, groups, "none")
        print_attempts(task, test, rows, draws, languages)
        if set(HELD_OUT) & set(languages) and set(DEV_LANGUAGES) & set(languages):
            summary[task] = held_out_choice(test, rows, args.trainer, languages)
        store.dispose()
        shutil.rmtree(home)
    print("\nheld-out languages: settings chosen on en, de, id, he; reported on th, sw, ro, sl")
    for task, lines in summary.items():
        for line in lines:
            print(f"{task:<10} {line}")


def print_attempts(task: str, test: TestTable, rows: list[tuple[str, Outcome]], draws, languages) -> None:  # type: ignore[no-untyped-def]
    own = {c: np.flatnonzero(test.languages == c) for c in languages}
    dev_languages = tuple(c for c in DEV_LANGUAGES if c in languages)
    held_languages = tuple(c for c in HELD_OUT if c in languages)
    print(f"\n{task}: every model, macro-F1 per language on the human test samples (target {TARGETS.get(task)})")
    header = f"{'trainer@curation':<46}" + "".join(f"{c:>6}" for c in languages)
    print(header + f" {'mean':>6} {'95% interval':>15} {'dev 4':>6} {'held 4':>6} {'wall s':>6} {'CPU s':>6}")
    for name, o in rows:
        k = len(test.classes)
        per = [macro_f1(test.truth[own[c]], o.predicted[own[c]], k) for c in languages]
        low, high = interval([mean_f1(test, o.predicted, languages, d) for d in draws])
        dev = mean_f1(test, o.predicted, dev_languages, own) if dev_languages else float("nan")
        held = mean_f1(test, o.predicted, held_languages, own) if held_languages else float("nan")
        print(
            f"{name:<46}" + "".join(f"{v:6.3f}" for v in per) + f" {np.mean(per):6.3f} "
            f"{f'[{low:.3f}, {high:.3f}]':>15} {dev:6.3f} {held:6.3f} {o.wall:6.0f} {o.cpu:6.0f}"
        )
    sys.stdout.flush()


def held_out_choice(test: TestTable, rows: list[tuple[str, Outcome]], default: str, languages) -> list[str]:  # type: ignore[no-untyped-def]
    own = {c: np.flatnonzero(test.languages == c) for c in languages}
    dev_languages = tuple(c for c in DEV_LANGUAGES if c in languages)
    held_languages = tuple(c for c in HELD_OUT if c in languages)
    dev = {name: mean_f1(test, o.predicted, dev_languages, own) for name, o in rows}
    held = {name: mean_f1(test, o.predicted, held_languages, own) for name, o in rows}
    chosen = max(dev, key=lambda n: dev[n])
    base = f"{default}@none"
    oracle = max(held, key=lambda n: held[n])
    return [
        f"chosen on dev: {chosen:<36} dev {dev[chosen]:.3f}  held-out {held[chosen]:.3f}",
        f"default:       {base:<36} dev {dev[base]:.3f}  held-out {held[base]:.3f}",
        f"best on held-out (not a choice, for scale): {oracle} {held[oracle]:.3f}",
    ]


if __name__ == "__main__":
    main()
