"""A quick check of any classifier from a file of its predictions: in one step the file's rows become the
project's human TEST samples (a new project named after the file when none is named) and its predictions an
evaluation of source `file`, scored like a trained run's (per language, intervals, matrices, report).

The rows go through the importer (labels and languages taken from the file, rows the project has already skipped),
then each row finds its test sample again by its content key, so importing the same file again adds no test
sample and replaces the evaluation (same name, same test samples). A predicted label is read as a project label
when it is one (or its name in other capitals, or one of its names or aliases); any other predicted label is
reported, never mapped to a label: those predictions count as wrong, shown as "no usable answer".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import InvalidInput, NotFound
from core.evaluation.evaluations import Evaluation, list_evaluations, save_evaluation
from core.evaluation.label_matching import SAME, LabelMatcher, listed
from core.evaluation.metrics import Prediction
from core.io.importer import ColumnMapping, RowProblem, execute_import, plan_import
from core.io.spreadsheet_safety import STUDIO_FORMAT_COLUMN, STUDIO_FORMAT_VALUE, unescape_cell
from core.io.table_files import read_table
from core.language_names import normalize_code
from core.store.database import Store
from core.store.evaluation_samples import TEST_STATUSES, human_test_keys
from core.store.projects import MAX_NAME, Project, create_project, delete_project, get_project, parse_spec
from core.store.samples import content_key

SOURCE = "file"
NO_PREDICTION = "failed"  # the outcome of a row whose predicted label is empty
UNKNOWN_PREDICTION = "unparseable"  # the outcome of a predicted label the project does not have


@dataclass(frozen=True)
class PredictionColumns:
    """Which column holds what; `language` is the one language of a file without a language column."""

    text: str
    label: str
    prediction: str
    language_column: str | None = None
    language: str | None = None
    confidence: str | None = None


@dataclass(frozen=True)
class QuickCheck:
    project: Project
    evaluation: Evaluation
    project_created: bool
    source: str
    rows: int  # rows in the file
    added: int  # new test samples
    already: int  # rows that were test samples of the project already
    unknown: dict[str, list[int]] = field(default_factory=dict)  # predicted labels the project lacks: their rows
    warnings: list[RowProblem] = field(default_factory=list)  # rows not scored, predictions missing
    notes: list[str] = field(default_factory=list)  # how labels were read, what the import noted

    @property
    def scored(self) -> int:
        return self.evaluation.test_size

    def summary(self) -> str:
        where = f"the new project '{self.project.name}'" if self.project_created else f"'{self.project.name}'"
        already = f" ({self.already:,} of them were test samples already)" if self.already else ""
        return (
            f"'{self.evaluation.name}': {self.scored:,} of the file's {self.rows:,} rows scored as human test samples "
            f"of {where}{already}; {self.added:,} new test samples. Mean macro-F1 over languages "
            f"{self.evaluation.mean_macro_f1:.3f}."
        )

    def problems(self) -> list[str]:
        """What a person must read: unknown predicted labels and rows left out, one sentence each."""
        labels = listed(self.project.label_names, 20)
        unknown = [
            RowProblem(f"The predicted label '{given}'", rows).describe() + " is none of the project's labels "
            f"({labels}): these predictions count as wrong, shown as 'no usable answer'. If it is a real label, add "
            "it on the Projects page and check the file again."
            for given, rows in self.unknown.items()
        ]
        return unknown + [f"{p.describe()}." for p in self.warnings]


# column names a predictions file commonly uses for each role (compared without capitals, spaces or dashes)
_GUESSES = {
    "text": ("text", "sentence", "utterance", "content", "message", "input", "review"),
    "prediction": (
        "prediction", "predicted", "predicted_label", "predicted_class", "pred", "pred_label", "y_pred", "output",
        "model_label", "predictions",
    ),
    "label": (
        "label", "true_label", "true", "gold", "gold_label", "truth", "target", "expected", "y_true", "reference",
        "intent", "class", "category", "labels",
    ),
    "language": ("language", "lang", "locale", "language_code", "lang_code"),
    "confidence": ("confidence", "score", "probability", "prob", "proba", "predicted_probability"),
}  # fmt: skip


@dataclass(frozen=True)
class ColumnGuess:
    """A first guess for the page's column pickers (each column in one role at most; None: no guess)."""

    text: str | None
    label: str | None
    prediction: str | None
    language_column: str | None
    confidence: str | None


def guess_columns(columns: list[str]) -> ColumnGuess:
    def key(name: str) -> str:
        return "_".join(name.strip().casefold().replace("-", " ").split())

    by_key = {key(str(c)): str(c) for c in reversed(columns)}  # the first of two columns that read the same
    taken: set[str] = set()
    found: dict[str, str | None] = {}
    for role, names in _GUESSES.items():
        found[role] = next((by_key[n] for n in names if n in by_key and by_key[n] not in taken), None)
        if found[role]:
            taken.add(found[role] or "")
    return ColumnGuess(found["text"], found["label"], found["prediction"], found["language"], found["confidence"])


def default_project_name(source: str) -> str:
    return " ".join(Path(source).stem.split())[:MAX_NAME] or "Quick check"


def check_predictions_file(
    store: Store,
    path: Path,
    columns: PredictionColumns,
    *,
    project: int | str | None = None,
    name: str | None = None,
) -> QuickCheck:
    """The CLI's `quickcheck FILE`: read the file, then `check_predictions`."""
    frame = read_table(Path(path))
    return check_predictions(store, frame, Path(path).name, columns, project=project, name=name)


def check_predictions(
    store: Store,
    frame: pd.DataFrame,
    source: str,
    columns: PredictionColumns,
    *,
    project: int | str | None = None,
    name: str | None = None,
) -> QuickCheck:
    """Import the rows as human test samples and store their predictions as an evaluation (see the module).

    `source`: the file's name (the new project's name and the evaluation's default name). Raises InvalidInput with
    a plain message when a column is missing, a row cannot be imported or no row can be scored; a project made for
    the file is removed again then."""
    _check_columns(frame, columns, source)
    name = " ".join((name or source).split())[:200]
    if not name:
        raise InvalidInput("Give the check a name.")
    raw_languages = (
        _cells(frame, columns.language_column) if columns.language_column else [columns.language] * len(frame)
    )
    truths = [" ".join((t or "").replace("\x00", "").split()) for t in _cells(frame, columns.label)]
    kept = [i for i, truth in enumerate(truths) if truth]
    warnings: list[RowProblem] = []
    unlabelled = [i + 1 for i, truth in enumerate(truths) if not truth]
    if unlabelled:
        warnings.append(RowProblem("Rows without a true label are not scored", unlabelled))
    if not kept:
        raise InvalidInput(f"No row of '{source}' has a true label in its column '{columns.label}': nothing to score.")

    target, created = _target_project(
        store, project, source, [truths[i] for i in kept], [raw_languages[i] for i in kept]
    )
    try:
        if not created:
            free_name(store, target, name, SOURCE)
        return _import_and_score(store, target, created, frame, source, columns, name, kept, truths, raw_languages,
                                 warnings)  # fmt: skip
    except Exception:
        if created:
            delete_project(store, target.id)
        raise


def _import_and_score(
    store: Store,
    target: Project,
    created: bool,
    frame: pd.DataFrame,
    source: str,
    columns: PredictionColumns,
    name: str,
    kept: list[int],
    truths: list[str],
    raw_languages: list[str | None],
    warnings: list[RowProblem],
) -> QuickCheck:
    texts, predicted, confidences = (
        _cells(frame, columns.text),
        _cells(frame, columns.prediction),
        _cells(frame, columns.confidence),
    )
    imported = _import_rows(store, target, frame.iloc[kept], columns, source, kept)
    target = get_project(store, target.id)

    rows, not_scored = _pair_samples(store, target, kept, texts, truths, raw_languages)
    for message, numbers in not_scored.items():
        warnings.append(RowProblem(message, numbers))
    matcher = LabelMatcher(target.labels)
    predictions, unknown, missing, read_as = [], defaultdict(list), [], defaultdict(list)
    bad_confidence = []
    for index, sample_id, language, truth in rows:
        confidence, ok = _confidence(confidences[index])
        if not ok:
            bad_confidence.append(index + 1)
        given = " ".join((predicted[index] or "").replace("\x00", "").split())
        if not given:
            missing.append(index + 1)
            predictions.append(Prediction(sample_id, language, truth, None, confidence, NO_PREDICTION))
            continue
        match = matcher.match(given, language)
        if match.label is None:
            unknown[given].append(index + 1)
            predictions.append(Prediction(sample_id, language, truth, None, confidence, UNKNOWN_PREDICTION, given))
            continue
        if match.how != SAME:
            read_as[(given, match.label, match.how)].append(index + 1)
        predictions.append(Prediction(sample_id, language, truth, match.label, confidence))
    if not predictions:
        raise InvalidInput(f"No row of '{source}' could be scored: " + "; ".join(p.describe() for p in warnings))
    if missing:
        warnings.append(RowProblem("Rows without a predicted label count as wrong (no usable answer)", missing))
    if bad_confidence:
        warnings.append(RowProblem("Confidences that are not a number from 0 to 1 are left out", bad_confidence))
    notes = [
        RowProblem(f"The predicted label '{given}' is read as the project's '{label}' ({how})", numbers).describe()
        + "."
        for (given, label, how), numbers in read_as.items()
    ]
    notes += imported.notes
    evaluation = save_evaluation(store, target, name=name, source=SOURCE, predictions=predictions)
    return QuickCheck(
        project=target,
        evaluation=evaluation,
        project_created=created,
        source=source,
        rows=len(frame),
        added=imported.added,
        already=max(0, len(predictions) - imported.added),
        unknown=dict(sorted(unknown.items(), key=lambda item: (-len(item[1]), item[0]))),
        warnings=warnings,
        notes=notes,
    )


def free_name(store: Store, project: Project, name: str, source: str) -> None:
    """Refuse a name that a training run, a baseline or another kind of evaluation of the project already has: the
    comparison, the report and the CLI find evaluations by name."""
    from core.evaluation.baseline_store import find_baseline
    from core.training.run_store import get_run

    taken = None
    try:
        get_run(store, project.id, name)
        taken = "a training run"
    except NotFound:
        if find_baseline(store, project.id, name) is not None:
            taken = "an LLM baseline"
        elif any(e.name == name and e.source != source for e in list_evaluations(store, project.id)):
            taken = "another kind of evaluation"
    if taken:
        raise InvalidInput(
            f"The project '{project.name}' already has {taken} called '{name}': give this check another name."
        )


# --- the parts ---------------------------------------------------------------------------------------------------


def _cells(frame: pd.DataFrame, column: str | None) -> list[str | None]:
    """A column's cells as read (a studio CSV's formula escapes undone); None for each row when no column."""
    if column is None:
        return [None] * len(frame)
    values = frame[column].tolist()
    if STUDIO_FORMAT_COLUMN in frame.columns and STUDIO_FORMAT_VALUE in set(frame[STUDIO_FORMAT_COLUMN]):
        return [unescape_cell(v) for v in values]
    return values


def _check_columns(frame: pd.DataFrame, columns: PredictionColumns, source: str) -> None:
    available = listed([str(c) for c in frame.columns if c != STUDIO_FORMAT_COLUMN], 40)
    roles = [
        ("the texts", columns.text),
        ("the true labels", columns.label),
        ("the predicted labels", columns.prediction),
        ("the languages", columns.language_column),
        ("the confidences", columns.confidence),
    ]
    missing = [f"'{column}' (for {role})" for role, column in roles if column and column not in frame.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InvalidInput(f"'{source}' has no {noun} {' or '.join(missing)}. Its columns: {available}.")
    named = [(role, column) for role, column in roles if column]
    for i, (role, column) in enumerate(named):
        for other, same in named[i + 1 :]:
            if column == same:
                raise InvalidInput(f"The column '{column}' cannot hold both {role} and {other}: pick another one.")
    if columns.language_column is None:
        if not columns.language:
            raise InvalidInput("Name the column that holds each text's language, or the one language of the file.")
        if normalize_code(columns.language) is None:
            raise InvalidInput(f"'{columns.language}' is not a known language code (ISO 639, e.g. sw).")


def _target_project(
    store: Store, ref: int | str | None, source: str, truths: list[str], raw_languages: list[str | None]
) -> tuple[Project, bool]:
    """The named project; else the one named after the file (made from the file's labels and languages)."""
    if ref is not None and str(ref).strip():
        return get_project(store, ref), False
    name = default_project_name(source)
    try:
        return get_project(store, name), False
    except NotFound:
        pass
    first: dict[str, str] = {}
    for truth in truths:
        first.setdefault(truth.casefold(), truth)
    codes = list(dict.fromkeys(c for c in (normalize_code(r or "") for r in raw_languages) if c))
    if not codes:
        given = listed(sorted({(r or "").strip() or "(empty)" for r in raw_languages}), 8)
        raise InvalidInput(f"None of the languages in '{source}' is a known language code (ISO 639, e.g. sw): {given}.")
    spec = parse_spec(
        name=name,
        task=f"Quick check of the predictions in {source}",
        labels=[{"name": label} for label in sorted(first.values(), key=str.casefold)],
        languages=[{"code": code} for code in codes],
    )
    return create_project(store, spec), True


@dataclass(frozen=True)
class _Imported:
    added: int  # new test samples
    notes: list[str]


def _import_rows(
    store: Store, project: Project, frame: pd.DataFrame, columns: PredictionColumns, source: str, kept: list[int]
) -> _Imported:
    """Store the rows as human test samples (the importer's rules: rows the project has are skipped)."""
    mapping = ColumnMapping(
        text_column=columns.text,
        label_column=columns.label,
        language_column=columns.language_column,
        language=columns.language if columns.language_column is None else None,
        split="test",
        origin="human",
        add_labels=True,
        add_languages=True,
    )
    plan = plan_import(store, project, frame.reset_index(drop=True), mapping, source)
    if not plan.ok:
        problems = "; ".join(RowProblem(p.message, [kept[r - 1] + 1 for r in p.rows]).describe() for p in plan.errors)
        raise InvalidInput(f"Nothing was checked: {problems}.")
    result = execute_import(store, project, plan)
    notes = [
        RowProblem(p.message, [kept[r - 1] + 1 for r in p.rows]).describe()
        for p in plan.notes
        if not p.message.startswith("new labels will be added") and not p.message.startswith("new languages")
    ]
    if result.labels_added:
        notes.append(f"Labels added to the project: {listed(result.labels_added, 30)}.")
    if result.languages_added:
        notes.append(f"Languages added to the project: {listed(result.languages_added, 30)}.")
    return _Imported(result.imported, notes)


def _pair_samples(
    store: Store,
    project: Project,
    kept: list[int],
    texts: list[str | None],
    truths: list[str],
    raw_languages: list[str | None],
) -> tuple[list[tuple[int, int, str, str]], dict[str, list[int]]]:
    """(row index, test sample id, language, true label) for each row that is a test sample of the project now;
    a row and an identical row after it are two samples, as the importer stored them."""
    ids: dict[str, list[int]] = defaultdict(list)
    rejected: set[str] = set()
    for found in human_test_keys(store, project.id):
        if found.status in TEST_STATUSES:
            ids[found.content_key].append(found.sample_id)
        else:
            rejected.add(found.content_key)
    by_case = {label.casefold(): label for label in project.label_names}
    paired: list[tuple[int, int, str, str]] = []
    not_scored: dict[str, list[int]] = defaultdict(list)
    for index in kept:
        text = (texts[index] or "").replace("\x00", "")
        if not text.strip():
            not_scored["Rows without a text are not scored"].append(index + 1)
            continue
        code = normalize_code(raw_languages[index] or "")
        label = by_case.get(truths[index].casefold())
        if code is None or label is None:  # the importer refused such a row before: not reached
            not_scored["Rows the import could not read are not scored"].append(index + 1)
            continue
        key = content_key(text, label, code, "test", "human")
        stripped = content_key(text.strip(), label, code, "test", "human") if text.strip() != text else None
        chosen = ids.get(key) or (ids.get(stripped) if stripped else None)
        if chosen:
            paired.append((index, chosen.pop(0), code, label))
        elif key in rejected or stripped in rejected:
            not_scored["Rows that are test samples someone rejected are not scored"].append(index + 1)
        else:
            not_scored["Rows that repeat an earlier row of the file are not scored"].append(index + 1)
    return paired, not_scored


def _confidence(raw: str | None) -> tuple[float | None, bool]:
    """The confidence, and whether the cell was readable (an empty cell is: it has none)."""
    if raw is None or not str(raw).strip():
        return None, True
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None, False
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        return None, False
    return value, True
