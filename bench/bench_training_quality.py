"""Training quality on the paper's data (issue 6's protocol), through the studio's own import, snapshot and jobs.

Protocol: per task, one project with the 8 languages; train on the synthetic `train_full` files only (all rows,
uncurated: pending samples included); test on the human `test` files; macro-F1 per language, then the mean over
the languages. With --human, the same trainers on human `train_human_parsed` samples at the same size per language
(the mean synthetic size of that task; Slovene sentiment has no human file: n/a, and that row's mean is over
the other 7 languages). With --curve, one learning curve
(synthetic and human) at the listed sizes per language.

    .venv/bin/python bench/bench_training_quality.py ../shared/data/paper-multilingual \\
        [--tasks topic,intent,sentiment] [--trainers linear,hybrid,chars,finetune,hybrid-lang] [--human] \\
        [--curve topic:linear:10,50,100,200,500] [--param hybrid.c=10] [--cache-home ~/.distill-studio]

Embeddings are cached under the cache home (`embeddings/`, `models/`), so only the first run pays for them
(about 75,000 texts for everything above). Each task trains in a fresh temporary studio home otherwise.
`finetune` trains the project's encoder with the studio's defaults (on a CPU the lowest half of the layers frozen,
blended with a linear probe): about 13 minutes for topic on 2 cores. Its rows are followed by the same run's two
parts scored apart: the fine-tuned model alone, and the probe alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LANGUAGES = ("en", "de", "th", "he", "id", "sw", "ro", "sl")
TASKS = ("topic", "intent", "sentiment")
REFERENCE = {  # issue 6: mean macro-F1 over these 8 languages, synthetic train -> human test
    "char TF-IDF + LR": {"topic": 0.60, "intent": 0.91, "sentiment": 0.62},
    "e5-small embeddings + LR": {"topic": 0.78, "intent": 0.90, "sentiment": 0.77},
    "both concatenated + LR": {"topic": 0.78, "intent": 0.93, "sentiment": 0.76},
    "e5-small fine-tuned (2 epochs)": {"topic": 0.82},
}
# bench names -> (trainer, parameters); "chars" is the hybrid without its embedding block (the TF-IDF baseline)
TRAINERS = {
    "linear": ("linear", {}),
    "hybrid": ("hybrid", {}),
    "chars": ("hybrid", {"embedding_weight": 0.0}),
    "finetune": ("finetune", {}),
    "linear-lang": ("linear", {"per_language_models": True}),  # one classifier per language
    "hybrid-lang": ("hybrid", {"per_language_models": True}),
    "chars-lang": ("hybrid", {"embedding_weight": 0.0, "per_language_models": True}),
}


def studio_home(cache_home: Path) -> Path:
    """A fresh data folder that shares the cache home's embeddings and models (so embeddings are paid once)."""
    home = Path(tempfile.mkdtemp(prefix="bench-training-"))
    for shared in ("embeddings", "models"):
        (cache_home / shared).mkdir(parents=True, exist_ok=True)
        (home / shared).symlink_to(cache_home / shared, target_is_directory=True)
    os.environ["STUDIO_HOME"] = str(home)
    os.environ["STUDIO_DEMO"] = "0"
    os.environ.pop("STUDIO_DATABASE_URL", None)
    from core.settings import reset_settings

    reset_settings()
    return home


def task_labels(folder: Path) -> list[str]:
    import pandas as pd

    frame = pd.read_csv(folder / "en-test.csv", dtype=str, keep_default_na=False)
    order = frame.drop_duplicates("intent").sort_values("label", key=lambda s: s.astype(int))
    return order["intent"].tolist()


def build_project(store, data: Path, task: str, human: bool, languages: tuple[str, ...] = LANGUAGES):  # type: ignore[no-untyped-def]
    from core.io.importer import ColumnMapping, import_file
    from core.store.projects import create_project, parse_spec

    folder = data / task
    spec = parse_spec(
        name=task, labels=[{"name": n} for n in task_labels(folder)], languages=[{"code": c} for c in languages]
    )
    project = create_project(store, spec)
    files = [("train_full", "synthetic", "train"), ("test", "human", "test")]
    if human:
        files.append(("train_human_parsed", "human", "train"))
    for suffix, origin, split in files:
        for language in languages:
            path = folder / f"{language}-{suffix}.csv"
            if not path.exists():
                continue
            mapping = ColumnMapping(
                text_column="text", label_column="intent", language=language, split=split, origin=origin
            )
            import_file(store, project.id, path, mapping)
    return project


def train_once(store, project, name: str, trainer: str, params: dict, options) -> dict:  # type: ignore[no-untyped-def]
    from core.jobs.runner import run_job
    from core.training.launch import TrainingRequest, start_training
    from core.training.run_store import get_run_by_id

    started = time.monotonic()
    run, job = start_training(store, project.id, TrainingRequest(name, trainer, params, options))
    status = run_job(store, job.id)
    run = get_run_by_id(store, run.id)
    if status != "done":
        raise SystemExit(f"{name}: {run.status}: {run.message}")
    test = (run.metrics or {}).get("test") or {}
    fit = (run.metrics or {}).get("fit") or {}
    trained = trained_languages(run.snapshot)  # a language with no training file is n/a, not a zero-shot score
    scores = {lang: s["macro_f1"] for lang, s in test.get("languages", {}).items() if lang in trained}
    return {
        "parts": blend_parts(store, project, name, trained) if trainer == "finetune" else {},
        "languages": scores,
        "mean": mean(scores.values()),
        "train_samples": run.metrics.get("train_samples"),
        "per_language": per_language_size(run.snapshot),
        "fit_minutes": fit.get("seconds", 0) / 60,
        "job_minutes": (time.monotonic() - started) / 60,
    }


def blend_parts(store, project, run_name: str, trained: set[str]) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Test scores of a blended fine-tuning run's two parts: the fine-tuned model alone and the probe alone."""
    from core.evaluation.model_scores import load_test_set
    from core.training.metrics import macro_f1
    from core.training.predict import open_model

    trainer = open_model(store, project.id, run_name).trainer
    if getattr(trainer, "partner", None) is None:
        return {}
    test = load_test_set(store, project)
    parts = {
        "alone": trainer.tuned_proba(test.texts),
        f"{trainer.partner.kind} part": trainer.partner.predict_proba(test.texts),
    }
    found = {}
    for part, proba in parts.items():
        predicted = [trainer.classes[i] for i in proba.argmax(axis=1)]
        scores = {}
        for lang in sorted(trained):
            rows = [i for i, code in enumerate(test.languages) if code == lang]
            scores[lang] = macro_f1([test.labels[i] for i in rows], [predicted[i] for i in rows], trainer.classes)
        found[part] = {"languages": scores, "mean": mean(scores.values()), "fit_minutes": 0.0, "job_minutes": 0.0}
    return found


def language_totals(snapshot: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for cell in snapshot.get("cells", []):
        totals[cell["language"]] = totals.get(cell["language"], 0) + cell["selected"]
    return totals


def trained_languages(snapshot: dict) -> set[str]:
    return {language for language, n in language_totals(snapshot).items() if n}


def per_language_size(snapshot: dict) -> int:
    """The mean number of samples per language that had any (from the run's snapshot summary)."""
    used = [n for n in language_totals(snapshot).values() if n]
    return round(mean(used)) if used else 0


def overrides(values: list[str]) -> dict[str, dict[str, str]]:
    """--param hybrid.c=10 -> {"hybrid": {"c": "10"}}"""
    found: dict[str, dict[str, str]] = {}
    for item in values:
        key, _, value = item.partition("=")
        bench_name, _, param = key.partition(".")
        found.setdefault(bench_name, {})[param] = value
    return found


def synthetic_size(store, project) -> int:  # type: ignore[no-untyped-def]
    from core.store.samples import SampleFilter, count_by_language_label_status

    counts: dict[str, int] = {}
    flt = SampleFilter(origins=("synthetic",), splits=("train",))
    for row in count_by_language_label_status(store, project.id, flt):
        counts[row.language] = counts.get(row.language, 0) + row.count
    return round(mean(counts.values()))


def print_table(title: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{title}")
    header = ["trainer", *LANGUAGES, "mean", "fit min", "job min"]
    print(" | ".join(f"{h:>8}" if i else f"{h:<28}" for i, h in enumerate(header)))
    for name, result in rows:
        cells = [f"{name:<28}"]
        cells += [
            f"{result['languages'][lang]:8.3f}" if lang in result["languages"] else f"{'n/a':>8}" for lang in LANGUAGES
        ]
        cells += [f"{result['mean']:8.3f}", f"{result['fit_minutes']:8.1f}", f"{result['job_minutes']:8.1f}"]
        print(" | ".join(cells))
    sys.stdout.flush()


def run_curve(store, project, spec: str, extra: dict) -> None:  # type: ignore[no-untyped-def]
    from core.jobs.runner import run_job
    from core.training.launch import TrainingRequest, start_training
    from core.training.run_store import get_run_by_id
    from core.training.snapshot import SnapshotOptions

    _task, bench_name, sizes = spec.split(":")
    trainer, params = TRAINERS[bench_name]
    print(f"\nlearning curve ({project.name}, {bench_name}): mean macro-F1 over the languages per size")
    for origin in ("synthetic", "human"):
        options = SnapshotOptions(origins=(origin,), include_pending=True)
        request = TrainingRequest(
            f"curve-{origin}", trainer, {**params, **extra.get(bench_name, {})}, options,
            tuple(int(s) for s in sizes.split(",")),
        )  # fmt: skip
        run, job = start_training(store, project.id, request)
        run_job(store, job.id)
        run = get_run_by_id(store, run.id)
        points = ", ".join(f"{p['size']}: {p['test_mean_macro_f1']:.3f}" for p in run.curve)
        print(f"  {origin:<9} {points}")
        for note in run.metrics.get("notes", []):
            if "capped" in note or "skipped" in note:
                print(f"    ({note})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the paper-multilingual folder")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--trainers", default="chars,linear,hybrid")
    parser.add_argument("--human", action="store_true", help="also train on human data at the same sizes")
    parser.add_argument("--curve", action="append", default=[], metavar="TASK:TRAINER:SIZES")
    parser.add_argument("--param", action="append", default=[], metavar="TRAINER.NAME=VALUE")
    parser.add_argument(
        "--cache-home", type=Path, default=Path(os.environ.get("STUDIO_HOME") or Path.home() / ".distill-studio")
    )
    parser.add_argument("--keep", action="store_true", help="keep each task's studio home (its runs) and print it")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"There is no benchmark data at {args.data} (pass the paper-multilingual folder).")
    from core.store import open_store
    from core.training.snapshot import SnapshotOptions

    extra = overrides(args.param)
    names = [n.strip() for n in args.trainers.split(",") if n.strip()]
    curves = {spec.split(":")[0]: spec for spec in args.curve}
    summary: dict[str, dict[str, float]] = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        home = studio_home(args.cache_home.expanduser().resolve())
        store = open_store()
        started = time.monotonic()
        project = build_project(store, args.data, task, args.human or task in curves)
        print(f"\n=== {task}: imported in {time.monotonic() - started:.0f} s", flush=True)
        rows = []
        for name in names:
            trainer, params = TRAINERS[name]
            params = {**params, **extra.get(name, {})}
            synthetic = SnapshotOptions(origins=("synthetic",), include_pending=True)
            result = train_once(store, project, f"{name}-synthetic", trainer, params, synthetic)
            rows.append((f"{name} (synthetic)", result))
            summary.setdefault(f"{name} (synthetic)", {})[task] = result["mean"]
            for part, scores in result["parts"].items():  # the same run's fine-tuned model and probe, apart
                rows.append((f"  {name}: {part}", scores))
                summary.setdefault(f"  {name}: {part}", {})[task] = scores["mean"]
            if args.human:
                size = synthetic_size(store, project)
                human = SnapshotOptions(origins=("human",), per_language=size)
                result = train_once(store, project, f"{name}-human", trainer, params, human)
                rows.append((f"{name} (human, ~{result['per_language']}/lang)", result))
                summary.setdefault(f"{name} (human)", {})[task] = result["mean"]
            print_table(f"{task}: macro-F1 per language on the human test split", rows)
        if task in curves:
            run_curve(store, project, curves[task], extra)
        store.dispose()
        if args.keep:
            print(f"(kept {task}'s studio home: {home})")
        else:
            shutil.rmtree(home)  # the task's database and models; the shared caches are only linked from it
    print("\nmean macro-F1 over the languages (8; human sentiment 7: there is no Slovene human file)")
    print(f"{'':<44}" + "".join(f"{t:>11}" for t in TASKS))
    for name, scores in [*((f"reference: {k}", v) for k, v in REFERENCE.items()), *summary.items()]:
        print(f"{name:<44}" + "".join(f"{scores[t]:11.3f}" if t in scores else f"{'-':>11}" for t in TASKS))


if __name__ == "__main__":
    main()
