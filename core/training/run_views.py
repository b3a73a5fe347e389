"""Runs shaped for a table, a plotly loss curve, a learning-curve chart and a download (page- and CLI-friendly)."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StudioError
from core.store.training_runs import TrainingRun
from core.training import artifacts

if TYPE_CHECKING:
    from core.jobs.queue import Job


def runs_table(runs: list[TrainingRun]) -> list[dict[str, Any]]:
    """One row per run: name, trainer, status, samples, test mean macro-F1, time, who and when."""
    rows = []
    for run in runs:
        snapshot_total = (run.snapshot or {}).get("total")
        rows.append(
            {
                "name": run.name,
                "trainer": run.trainer + (" (curve)" if run.mode == "curve" else ""),
                "status": run.status,
                "samples": snapshot_total,
                "test macro-F1": round(run.test_macro_f1, 4) if run.test_macro_f1 is not None else None,
                "minutes": round(run.seconds / 60, 1) if run.seconds is not None else None,
                "created": f"{run.created_at:%Y-%m-%d %H:%M}",
                "by": run.created_by,
                "message": run.message,
            }
        )
    return rows


def live_status(run: TrainingRun, job: Job | None) -> tuple[str, str]:
    """A run's status and progress as they are now: while the run is active its job says how far it is (a job
    ended under an active run means its worker died, as `sync_runs` will record)."""
    if not run.active or job is None:
        return run.status, ""
    if job.status == "running":
        return "running", f"{job.progress:.0%}" + (f" · {job.message}" if job.message else "")
    if job.active:
        return "queued", "waiting for a free worker"
    return ("cancelled" if job.status == "cancelled" else "failed"), ""


def page_rows(runs: list[TrainingRun], jobs: dict[int, Job]) -> list[dict[str, str]]:
    """The Train page's table of runs: every cell a text (nothing empty shows as "None"), the status and progress
    of an active run taken from its job (`jobs`: by id)."""
    rows = []
    for run in runs:
        status, progress = live_status(run, jobs.get(run.job_id) if run.job_id is not None else None)
        total = (run.snapshot or {}).get("total")
        rows.append(
            {
                "name": run.name,
                "trainer": run.trainer + (" (curve)" if run.mode == "curve" else ""),
                "status": status,
                "progress": progress,
                "samples": f"{total:,}" if isinstance(total, int) else "",
                "test macro-F1": f"{run.test_macro_f1:.3f}" if run.test_macro_f1 is not None else "",
                "minutes": f"{run.seconds / 60:.1f}" if run.seconds is not None else "",
                "created": f"{run.created_at:%Y-%m-%d %H:%M}",
                "by": run.created_by,
                "message": "" if status in ("queued", "running") else run.message,
            }
        )
    return rows


def shows_loss(run: TrainingRun) -> bool:
    """Whether the run's loss history is a curve worth drawing: at least two training points of one fit (the
    linear probe and the hybrid are fitted in one go: one point each, which says nothing)."""
    steps: dict[Any, set[int]] = {}
    for point in run.history:
        if point.get("split", "train") == "train":
            steps.setdefault(point.get("point"), set()).add(int(point.get("step", 0)))
    return any(len(found) >= 2 for found in steps.values())


@dataclass(frozen=True)
class PartScore:
    """A language's macro-F1 on one part: the validation part the run held out, or the test split."""

    language: str
    part: str  # validation | test
    macro_f1: float
    samples: int


def part_scores(run: TrainingRun) -> list[PartScore]:
    """Each language's macro-F1 on the validation part (when the run held one out) and on the test split: what the
    linear probe and the hybrid have to show instead of a loss curve."""
    metrics = run.metrics or {}
    scores = [
        PartScore(language, "validation", s["macro_f1"], int(s["samples"]))
        for language, s in (metrics.get("validation_languages") or {}).items()
    ]
    scores += [
        PartScore(language, "test", s["macro_f1"], int(s["samples"]))
        for language, s in ((metrics.get("test") or {}).get("languages") or {}).items()
    ]
    return scores


def language_score_rows(run: TrainingRun) -> list[dict[str, Any]]:
    """`part_scores` as rows {language, part, macro_f1, samples}."""
    return [asdict(score) for score in part_scores(run)]


def loss_rows(run: TrainingRun) -> list[dict[str, Any]]:
    """Loss points as rows {step, epoch, loss, split[, macro_f1, point]} (a curve run: one series per point)."""
    return [dict(point) for point in run.history]


def curve_rows(run: TrainingRun) -> list[dict[str, Any]]:
    """One row per curve point and language: {size, language, macro_f1}, plus the mean as language 'mean'."""
    rows = []
    for point in run.curve:
        for language, f1 in (point.get("test_macro_f1") or {}).items():
            rows.append({"size": point["size"], "language": language, "macro_f1": f1})
        if point.get("test_mean_macro_f1") is not None:
            rows.append({"size": point["size"], "language": "mean", "macro_f1": point["test_mean_macro_f1"]})
    return rows


def language_scores(run: TrainingRun) -> list[dict[str, Any]]:
    """{language, samples, accuracy, macro_f1} per language of the test split (the largest point of a curve)."""
    test = (run.metrics or {}).get("test") or {}
    return [
        {"language": language, "samples": s["samples"], "accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}
        for language, s in test.get("languages", {}).items()
    ]


def download_name(run: TrainingRun) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run.name).strip("_") or f"run-{run.id}"
    return f"{stem}.zip"


def zip_run(run: TrainingRun, out: Path | None = None) -> Path:
    """The run's folder (model, snapshot, run.json) as a zip file; in a temporary folder unless `out` is given."""
    if run.status != "done" or not run.folder.exists():
        raise StudioError(f"The run '{run.name}' has no finished model to download ({run.status}).")
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="studio-run-")) / download_name(run)
    return artifacts.zip_folder(run.folder, Path(out), Path(download_name(run)).stem)
