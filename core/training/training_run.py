"""Carrying out a training run inside its job: snapshot, fit, test-split evaluation, an atomic run folder.

A single run trains once; a curve run trains once per size. Progress, loss points and cancel checks go through
the job; the loss history is written to the run's row every few seconds (for the page's live curve).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.evaluation.model_scores import (
    TestPredictions,
    TestSet,
    load_test_set,
    macro_f1_by_language,
    predict_test,
    scores_of,
)
from core.jobs.context import JobContext
from core.store.projects import Project, get_project
from core.store.training_runs import TrainingRun, update_run
from core.training import artifacts
from core.training.curve import parse_sizes, plan_curve
from core.training.params import TrainerParams, saved_params
from core.training.selection import validation_split
from core.training.snapshot import (
    Candidate,
    Snapshot,
    SnapshotOptions,
    check_trainable,
    load_candidates,
    save_snapshot,
    snapshot_from,
)
from core.training.trainers import make_trainer
from core.training.trainers.base import LossPoint, Monitor, Validation

HISTORY_WRITE_SECONDS = 2.0


@dataclass(frozen=True)
class RunResult:
    outcome: dict[str, Any]  # what run.json and the run's row record
    predictions: TestPredictions | None  # the final model's on the test split (a curve: its largest point's)
    point: int | None  # the curve point they are of (None: a single run)


class HistoryWriter:
    """Collects loss points and writes them to the run's row at most every few seconds."""

    def __init__(self, ctx: JobContext, run_id: int) -> None:
        self.ctx, self.run_id = ctx, run_id
        self.points: list[dict[str, Any]] = []
        self._written = 0.0

    def add(self, point: LossPoint, curve_size: int | None = None) -> None:
        entry = point.to_dict()
        if curve_size is not None:
            entry["point"] = curve_size
        self.points.append(entry)
        if time.monotonic() - self._written >= HISTORY_WRITE_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._written = time.monotonic()
        update_run(self.ctx.store, self.run_id, history=list(self.points))


def _monitor(
    ctx: JobContext, history: HistoryWriter, start: float, end: float, prefix: str, size: int | None
) -> Monitor:
    return Monitor(
        progress=lambda f, m: ctx.progress(start + (end - start) * max(0.0, min(1.0, f)), prefix + m),
        loss=lambda point: history.add(point, size),
        check_cancel=ctx.check_cancel,
    )


def train_point(
    params: TrainerParams,
    snapshot: Snapshot,
    test: TestSet,
    folder: Path,
    monitor: Monitor,
    evaluation_progress: Callable[[float, str], None],
    human_weight: int = 1,
) -> tuple[dict[str, Any], TestPredictions | None]:
    """Fit on the snapshot (less its validation part; each human sample `human_weight` times), score on the test
    split, save snapshot and model."""
    keys = [(item.language, item.label) for item in snapshot.items]
    train_at, held_at = validation_split(keys, params.validation_fraction, params.seed)
    items = snapshot.items
    humans = sum(items[i].origin == "human" for i in train_at)
    if human_weight > 1 and humans:
        train_at = [i for i in train_at for _ in range(human_weight if items[i].origin == "human" else 1)]
    validation = (
        Validation(
            [items[i].text for i in held_at], [items[i].label for i in held_at], [items[i].language for i in held_at]
        )
        if held_at
        else None
    )
    trainer = make_trainer(params)
    report = trainer.fit(
        [items[i].text for i in train_at],
        [items[i].label for i in train_at],
        monitor,
        validation,
        languages=[items[i].language for i in train_at],
    )
    monitor.check_cancel()
    started = time.monotonic()
    predictions = predict_test(trainer, test, evaluation_progress)
    folder.mkdir(parents=True, exist_ok=True)
    save_snapshot(snapshot, folder)
    (folder / artifacts.MODEL_DIR).mkdir()
    trainer.save(folder / artifacts.MODEL_DIR)
    notes = list(report.notes)
    if human_weight > 1 and humans:
        notes.append(f"Each of the {humans:,} human samples was counted {human_weight} times.")
    outcome: dict[str, Any] = {
        "classes": list(trainer.classes),
        "train_samples": len(train_at),
        "validation_samples": len(held_at),
        "fit": report.to_dict(),
        "validation": report.validation,
        "validation_languages": report.validation_languages,
        "test": scores_of(predictions),
        "evaluation_seconds": time.monotonic() - started,
        "notes": notes,
    }
    return outcome, predictions


def execute_run(ctx: JobContext, run: TrainingRun) -> RunResult:
    store = ctx.store
    project = get_project(store, run.project_id)
    options = SnapshotOptions.from_dict(run.options)
    params = saved_params(run.trainer, run.params)
    ctx.progress(0.0, "Reading the samples", force=True)
    candidates = load_candidates(store, project, options)
    test = load_test_set(store, project)
    history = HistoryWriter(ctx, run.id)
    with artifacts.building(run.folder) as work:
        if run.mode == "curve":
            outcome, predictions = _curve(ctx, run, project, options, params, candidates, test, history, work)
            point = outcome["curve"][-1]["size"]
        else:
            snapshot = snapshot_from(candidates, project, options)
            check_trainable(snapshot.summary)
            update_run(store, run.id, snapshot=snapshot.summary.to_dict())
            ctx.log(f"snapshot: {snapshot.summary.total} samples, labels {snapshot.summary.labels}")
            monitor = _monitor(ctx, history, 0.0, 0.95, "", None)
            evaluation = _monitor(ctx, history, 0.95, 1.0, "Test split: ", None).progress
            outcome, predictions = train_point(
                params, snapshot, test, work, monitor, evaluation, human_weight=options.human_weight
            )
            outcome["snapshot"] = snapshot.summary.to_dict()
            point = None
        history.flush()
        artifacts.write_run_file(work, _run_file(run, params, outcome, history.points))
    return RunResult(outcome, predictions, point)


def _curve(
    ctx: JobContext,
    run: TrainingRun,
    project: Project,
    options: SnapshotOptions,
    params: TrainerParams,
    candidates: list[Candidate],
    test: TestSet,
    history: HistoryWriter,
    work: Path,
) -> tuple[dict[str, Any], TestPredictions | None]:
    sizes = parse_sizes(run.options.get("curve") or [])
    plan = plan_curve(candidates, project, options, sizes)
    if not plan.points:
        raise InvalidInput("No curve point could be trained: no samples match these options.")
    for point in plan.points:
        check_trainable(point.snapshot.summary)
    summary = plan.points[-1].snapshot.summary.to_dict()
    update_run(ctx.store, run.id, snapshot={**summary, "notes": summary["notes"] + plan.notes})
    weights = [max(1, p.snapshot.summary.total) for p in plan.points]
    done, curve, predictions = 0.0, [], None
    last: dict[str, Any] = {}
    for index, point in enumerate(plan.points):
        share = weights[index] / sum(weights)
        prefix = f"Point {index + 1}/{len(plan.points)} ({point.size:,} per language): "
        monitor = _monitor(ctx, history, done, done + 0.95 * share, prefix, point.size)
        evaluation = _monitor(ctx, history, done + 0.95 * share, done + share, prefix + "test split: ", None).progress
        folder = artifacts.point_folder(work, point.size)
        last, predictions = train_point(
            params, point.snapshot, test, folder, monitor, evaluation, human_weight=options.human_weight
        )
        done += share
        curve.append(
            {
                "size": point.size,
                "train_samples": last["train_samples"],
                "per_language": point.snapshot.summary.by_language(),
                "capped": point.capped,
                "test_mean_macro_f1": (last["test"] or {}).get("mean_macro_f1"),
                "test_macro_f1": macro_f1_by_language(last["test"]),
                "validation": last["validation"],
                "seconds": last["fit"]["seconds"],
            }
        )
        ctx.log(f"curve point {point.size}: {curve[-1]['test_mean_macro_f1']}")
        update_run(ctx.store, run.id, curve=list(curve))
    return {**last, "curve": curve, "curve_notes": plan.notes, "snapshot": summary}, predictions


def _run_file(run: TrainingRun, params: TrainerParams, outcome: dict[str, Any], history: list[dict[str, Any]]) -> dict:
    return {
        "format": "distill-studio-run/1",
        "name": run.name,
        "project_id": run.project_id,
        "trainer": run.trainer,
        "mode": run.mode,
        "params": asdict(params),
        "options": run.options,
        "outcome": outcome,
        "history": history,
        "created_by": run.created_by,
        "created_at": run.created_at.isoformat(),
    }
