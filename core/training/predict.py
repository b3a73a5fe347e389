"""Labelling texts or a file with a trained run: the label, its confidence and every label's probability."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InvalidInput, StudioError
from core.io.spreadsheet_safety import escape_cell
from core.io.table_files import read_table
from core.store.database import Store
from core.store.projects import get_project
from core.training import artifacts
from core.training.run_store import TrainingRun, get_run
from core.training.trainers import load_trainer
from core.training.trainers.base import Trainer
from core.training.trainers.per_language import PerLanguageTrainer

Progress = Callable[[float, str], None]
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}
LABEL_COLUMN, CONFIDENCE_COLUMN, PROBABILITY_PREFIX = "predicted_label", "confidence", "p_"


@dataclass
class LoadedModel:
    run: TrainingRun
    trainer: Trainer
    folder: Path
    point: int | None = None  # the curve point used (curve runs)


@dataclass(frozen=True)
class Predictions:
    classes: list[str]
    labels: list[str]
    confidences: list[float]
    probabilities: np.ndarray  # (texts, classes)


@dataclass(frozen=True)
class PredictSummary:
    rows: int
    labelled: int
    skipped_empty: int
    out: Path
    label_counts: dict[str, int]
    mean_confidence: float
    notes: list[str] = field(default_factory=list)


def model_folder(run: TrainingRun, point: int | None = None) -> tuple[Path, int | None]:
    if run.status != "done":
        raise StudioError(f"The run '{run.name}' is {run.status}: only a finished run can label texts.")
    if run.mode != "curve":
        if point is not None:
            raise InvalidInput(f"The run '{run.name}' is not a learning curve: it has no points to choose from.")
        return run.folder / artifacts.MODEL_DIR, None
    sizes = [int(p["size"]) for p in run.curve]
    chosen = max(sizes) if point is None else point
    if chosen not in sizes:
        raise InvalidInput(f"The curve '{run.name}' has no point {chosen}; its points: {', '.join(map(str, sizes))}.")
    return artifacts.point_folder(run.folder, chosen) / artifacts.MODEL_DIR, chosen


def open_model(store: Store, project_ref: int | str, run_name: str, point: int | None = None) -> LoadedModel:
    project = get_project(store, project_ref)
    run = get_run(store, project.id, run_name)
    folder, chosen = model_folder(run, point)
    if not folder.exists():
        raise StudioError(f"The model files of run '{run.name}' are missing from {folder}.")
    return LoadedModel(run=run, trainer=load_trainer(folder), folder=folder, point=chosen)


def predict_texts(
    model: LoadedModel | Trainer,
    texts: list[str],
    progress: Progress | None = None,
    languages: list[str] | None = None,
) -> Predictions:
    """`languages` (a code per text) matters to per-language models only; without it they detect the language."""
    trainer = model.trainer if isinstance(model, LoadedModel) else model
    if not texts:
        proba = np.zeros((0, len(trainer.classes)))
    else:
        proba = trainer.predict_proba(list(texts), progress, languages=languages)
    best = proba.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
    return Predictions(
        classes=list(trainer.classes),
        labels=[trainer.classes[i] for i in best],
        confidences=[float(proba[row, i]) for row, i in enumerate(best)],
        probabilities=proba,
    )


def pick_text_column(frame: pd.DataFrame, text_column: str | None) -> str:
    if text_column:
        if text_column not in frame.columns:
            raise InvalidInput(
                f"The file has no column '{text_column}'. Its columns: {', '.join(map(str, frame.columns))}."
            )
        return text_column
    if "text" in frame.columns:
        return "text"
    if len(frame.columns) == 1:
        return str(frame.columns[0])
    raise InvalidInput(
        f"Which column holds the texts? Name it with --text-column (columns: {', '.join(map(str, frame.columns))})."
    )


def row_languages(frame: pd.DataFrame, rows: list[int], language_column: str | None) -> list[str] | None:
    """The normalised language code of each labelled row, from the named column or one called "language"."""
    from core.language_names import normalize_code

    if language_column and language_column not in frame.columns:
        raise InvalidInput(
            f"The file has no column '{language_column}'. Its columns: {', '.join(map(str, frame.columns))}."
        )
    column = language_column or ("language" if "language" in frame.columns else None)
    if column is None:
        return None
    values = [frame[column].iloc[i] for i in rows]
    return [(normalize_code(str(v)) or str(v).strip().lower()) if isinstance(v, str) else "" for v in values]


def default_output(path: Path) -> Path:
    suffix = path.suffix.lower() if path.suffix.lower() in OUTPUT_FORMATS else ".csv"
    return path.with_name(f"{path.stem}.predictions{suffix}")


def predictions_frame(frame: pd.DataFrame, column: str, predictions: Predictions, rows: list[int]) -> pd.DataFrame:
    """The input's columns, then the predicted label, its confidence and one probability column per label."""
    out = frame.copy()
    labels = pd.Series([None] * len(frame), dtype=object)
    confidence = np.full(len(frame), np.nan)
    labels.iloc[rows] = predictions.labels
    confidence[rows] = predictions.confidences
    out[LABEL_COLUMN] = labels.to_numpy()
    out[CONFIDENCE_COLUMN] = pd.Series(confidence).round(4).to_numpy()
    for j, label in enumerate(predictions.classes):
        values = np.full(len(frame), np.nan)
        values[rows] = predictions.probabilities[:, j]
        out[f"{PROBABILITY_PREFIX}{label}"] = np.round(values, 4)
    return out


def write_output(frame: pd.DataFrame, out: Path) -> None:
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"Write predictions to a .csv, .tsv, .jsonl or .parquet file, not '{out.name}'.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    if fmt in ("csv", "tsv"):  # spreadsheet-safe: a text starting with = + - @ is not run as a formula
        safe = frame.map(lambda v: escape_cell(v) if isinstance(v, str) else v)
        safe.to_csv(partial, index=False, sep="," if fmt == "csv" else "\t")
    elif fmt == "jsonl":
        frame.to_json(partial, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(partial, index=False)
    partial.replace(out)


def predict_file(
    store: Store,
    project_ref: int | str,
    run_name: str,
    path: Path,
    *,
    out: Path | None = None,
    text_column: str | None = None,
    fmt: str | None = None,
    point: int | None = None,
    progress: Progress | None = None,
    language_column: str | None = None,
) -> PredictSummary:
    """Label every row of a CSV / TSV / JSONL / Parquet file; rows with an empty text are kept, unlabelled.

    A language column (`language_column`, or one called "language") tells per-language models which of their
    classifiers to use; without one they detect each text's language."""
    path = Path(path)
    frame = read_table(path, fmt)
    column = pick_text_column(frame, text_column)
    out = Path(out) if out else default_output(path)
    if out.resolve() == path.resolve():
        raise InvalidInput("The output file would overwrite the input: choose another --out.")
    model = open_model(store, project_ref, run_name, point)
    rows = [i for i, text in enumerate(frame[column]) if isinstance(text, str) and text.strip()]
    texts = [frame[column].iloc[i].strip() for i in rows]
    languages = row_languages(frame, rows, language_column)
    predictions = predict_texts(model, texts, progress, languages=languages)
    write_output(predictions_frame(frame, column, predictions, rows), out)
    notes = [f"Curve point {model.point} (samples per language) was used."] if model.point is not None else []
    engine_note = getattr(model.trainer, "engine_note", None)
    if callable(engine_note) and engine_note():
        notes.append(f"The fine-tuned model labelled the texts {engine_note()}.")
    if isinstance(model.trainer, PerLanguageTrainer) and languages is None:
        notes.append("The model has one classifier per language: each text's language was detected (py3langid).")
    return PredictSummary(
        rows=len(frame),
        labelled=len(rows),
        skipped_empty=len(frame) - len(rows),
        out=out,
        label_counts=dict(Counter(predictions.labels).most_common()),
        mean_confidence=float(np.mean(predictions.confidences)) if rows else 0.0,
        notes=notes,
    )
