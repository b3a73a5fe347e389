"""Runs shaped for a table, a plotly loss curve, a learning-curve chart and a download (page- and CLI-friendly)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from core.errors import StudioError
from core.training import artifacts
from core.training.run_store import TrainingRun


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


def disk_bytes(run: TrainingRun) -> int:
    return artifacts.folder_bytes(run.folder)
