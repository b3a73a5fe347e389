"""Evaluation at the front door: what can be evaluated, the evaluations with their typed scores and whether the test
split changed since, the samples behind a matrix cell, intervals and comparisons, the report; evaluating a run,
LLM baselines, targeted generation for a weak cell, and the quick check of any classifier (a file of its
predictions, or a Hugging Face model).

Functions that read or change the studio take the acting user first; what is computed from an evaluation already
in hand (`evaluation_scores`, `weakest_label`, `weak_cells`...) and the words of the forms are plain helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from core.evaluation import (
    baseline_store,
    baselines,
    choices,
    comparison,
    error_cells,
    evaluations,
    model_check,
    model_scores,
    quickcheck,
    report,
    run_evaluation,
    targeted,
)
from core.evaluation.baseline_prompts import MODE_HELP as MODE_HELP
from core.evaluation.baseline_prompts import MODES as MODES
from core.evaluation.baselines import BaselineSettings as BaselineSettings
from core.evaluation.bootstrap import RESAMPLES as RESAMPLES
from core.evaluation.choices import Choice as Choice
from core.evaluation.choices import evaluation_to_show as evaluation_to_show
from core.evaluation.choices import newest_stamp as newest_stamp
from core.evaluation.choices import weakest_language as weakest_language
from core.evaluation.comparison import Comparison as Comparison
from core.evaluation.comparison import ScoreBar as ScoreBar
from core.evaluation.comparison import ScoreDifference as ScoreDifference
from core.evaluation.comparison import comparability as comparability
from core.evaluation.comparison import display_name as display_name
from core.evaluation.error_cells import NO_ANSWER as NO_ANSWER
from core.evaluation.error_cells import ErrorSample as ErrorSample
from core.evaluation.error_cells import MatrixCell as MatrixCell
from core.evaluation.error_cells import WeakCell as WeakCell
from core.evaluation.error_cells import scores_cells as matrix_cells
from core.evaluation.error_cells import weak_cells as weak_cells
from core.evaluation.intervals import MIN_TEST_SAMPLES as MIN_TEST_SAMPLES
from core.evaluation.intervals import ScoreInterval as ScoreInterval
from core.evaluation.intervals import perfect_score_notes as perfect_score_notes
from core.evaluation.intervals import score_intervals
from core.evaluation.intervals import small_test_warnings as small_test_warnings
from core.evaluation.label_matching import SAME as SAME
from core.evaluation.label_matching import parse_label_map as parse_label_map
from core.evaluation.metrics import OVERALL as OVERALL
from core.evaluation.model_check import LabelMapping as LabelMapping
from core.evaluation.model_check import ModelCheckPlan as ModelCheckPlan
from core.evaluation.model_check import ModelLabels as ModelLabels
from core.evaluation.model_check import default_name as default_check_name
from core.evaluation.model_check import map_model_labels as map_model_labels
from core.evaluation.quickcheck import PredictionColumns as PredictionColumns
from core.evaluation.quickcheck import QuickCheck as QuickCheck
from core.evaluation.quickcheck import default_project_name as default_project_name
from core.evaluation.quickcheck import guess_columns as guess_columns
from core.evaluation.report import report_file_name as report_file_name
from core.evaluation.scores import EvaluationScores as EvaluationScores
from core.evaluation.scores import LabelScores as LabelScores
from core.evaluation.scores import LanguageScores as LanguageScores
from core.evaluation.scores import WeakLabel as WeakLabel
from core.evaluation.scores import evaluation_scores as evaluation_scores
from core.evaluation.scores import weakest_label as weakest_label
from core.evaluation.staleness import TestSplitCheck as TestSplitCheck
from core.evaluation.staleness import check_test_split
from core.evaluation.targeted import TargetCell as TargetCell
from core.front.actor import Actor
from core.front.permissions import joins_created_project, needs, reads, require_member_if_named
from core.generation.engine import Estimate as Estimate
from core.generation.replay_backend import ReplayBackend
from core.io.uploads import display_name as upload_display_name
from core.io.uploads import read_upload as read_upload
from core.jobs.lifecycle import Launched as Launched
from core.jobs.queue import Job as Job
from core.jobs.queue import list_jobs
from core.store.baselines import BaselineAnswer as BaselineAnswer
from core.store.baselines import BaselineRun as BaselineRun
from core.store.evaluations import Evaluation as Evaluation
from core.store.generation_runs import GenerationRun as GenerationRun
from core.store.projects import Project as Project
from core.training.run_store import TrainingRun as TrainingRun
from core.training.run_store import get_run

__all__ = [
    "MIN_TEST_SAMPLES",
    "MODES",
    "MODE_HELP",
    "NO_ANSWER",
    "OVERALL",
    "RESAMPLES",
    "SAME",
    "BaselineAnswer",
    "BaselineRun",
    "BaselineSettings",
    "Choice",
    "Comparison",
    "ErrorSample",
    "Estimate",
    "Evaluation",
    "EvaluationScores",
    "GenerationRun",
    "Job",
    "LabelMapping",
    "LabelScores",
    "LanguageScores",
    "Launched",
    "MatrixCell",
    "ModelCheckPlan",
    "ModelLabels",
    "PredictionColumns",
    "Project",
    "QuickCheck",
    "ScoreBar",
    "ScoreDifference",
    "ScoreInterval",
    "TargetCell",
    "TestSplitCheck",
    "TrainingRun",
    "WeakCell",
    "WeakLabel",
    "active_jobs",
    "baseline_answers",
    "cell_samples",
    "check_model",
    "check_predictions",
    "check_predictions_file",
    "check_staleness",
    "comparability",
    "compare",
    "compare_by_name",
    "count_test_samples",
    "curve_sizes",
    "default_check_name",
    "default_project_name",
    "display_name",
    "estimate_baseline",
    "evaluate_run",
    "evaluation_choices",
    "evaluation_scores",
    "evaluation_to_show",
    "find_baseline",
    "generate_for_cell",
    "get_baseline",
    "get_evaluation",
    "guess_columns",
    "intervals",
    "latest_evaluation",
    "latest_evaluations",
    "list_baselines",
    "map_model_labels",
    "matrix_cells",
    "newest_stamp",
    "parse_label_map",
    "perfect_score_notes",
    "plan_model_check",
    "read_model_labels",
    "read_upload",
    "replay_missing",
    "report_file_name",
    "report_html",
    "rescore_baseline",
    "resume_baseline",
    "small_test_warnings",
    "start_baseline",
    "upload_display_name",
    "weak_cells",
    "weakest_label",
    "weakest_language",
    "write_report",
]

JOB_KINDS = ("evaluate", "baseline", "model_check")  # the jobs the Evaluate page follows


# --- evaluations and their scores --------------------------------------------------------------------------------


@reads
def count_test_samples(actor: Actor, project: Project) -> int:
    """How many labelled human test samples the project has."""
    return model_scores.count_test_samples(actor.store, project)


@reads
def evaluation_choices(actor: Actor, project_id: int) -> list[Choice]:
    """Finished runs, then finished (or incomplete) baselines, with their newest evaluation."""
    return choices.evaluation_choices(actor.store, project_id)


@reads
def latest_evaluations(actor: Actor, project_id: int) -> list[Evaluation]:
    """The newest evaluation of each name (a run, a curve point or a baseline), newest first."""
    return evaluations.latest_evaluations(actor.store, project_id)


@reads
def get_evaluation(actor: Actor, evaluation_id: int) -> Evaluation:
    return evaluations.get_evaluation(actor.store, evaluation_id)


@reads
def active_jobs(actor: Actor, project_id: int) -> list[Job]:
    """The project's evaluation, baseline and model-check jobs still queued or running."""
    return [job for kind in JOB_KINDS for job in list_jobs(actor.store, project_id, kind=kind) if job.active]


@reads
def check_staleness(actor: Actor, project: Project, evaluation: Evaluation) -> TestSplitCheck:
    """Whether the test split changed since the evaluation, and what to tell the person."""
    return check_test_split(actor.store, project, evaluation)


@reads
def cell_samples(
    actor: Actor, evaluation: Evaluation, true: str, predicted: str | None, language: str | None = None
) -> list[ErrorSample]:
    """The test samples behind one cell of the matrix, the most confident first."""
    return error_cells.cell_samples(actor.store, evaluation, true, predicted, language=language)


@reads
def intervals(actor: Actor, evaluation: Evaluation) -> dict[str, ScoreInterval]:
    """95% bootstrap intervals of each language's macro-F1 (and the pooled one): those kept with the evaluation
    (resampled when it was made), else resampled now."""
    kept = evaluation.intervals
    if kept:
        return {
            group: ScoreInterval(group, estimate, low, high, int(evaluation.metrics[group]["n"]))
            for group in [*evaluation.languages, OVERALL]
            if group in kept
            for estimate, low, high in [kept[group]]
        }
    return score_intervals(evaluation, evaluations.load_predictions(actor.store, evaluation.id))


@reads
def latest_evaluation(actor: Actor, project: Project, name: str) -> Evaluation:
    """The newest evaluation of the named run (a curve point) or baseline; NotFound when it has none."""
    return evaluations.latest_evaluation(actor.store, project.id, name)


@reads
def compare(actor: Actor, evaluation_ids: Sequence[int], reference: str | None = None, *, seed: int = 0) -> Comparison:
    """Compare evaluations of the same test set with paired bootstrap intervals (InvalidInput says why not)."""
    picked = [evaluations.get_evaluation(actor.store, evaluation_id) for evaluation_id in evaluation_ids]
    return comparison.compare(actor.store, picked, reference=reference, seed=seed)


@reads
def compare_by_name(
    actor: Actor,
    project: Project,
    names: Sequence[str],
    *,
    reference: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """The newest evaluation of each named run or baseline, compared."""
    return comparison.compare_by_name(
        actor.store, project.id, names, reference=reference, resamples=resamples, seed=seed
    )


@reads
def report_html(actor: Actor, project: Project, shown: Sequence[Evaluation], compared: Comparison | None = None) -> str:
    """The shareable report: one self-contained HTML file, made by the acting user."""
    return report.render_report(project.name, shown, compared, generated_by=actor.user)


@needs("export")
def write_report(actor: Actor, html: str, out: Path) -> Path:
    """Writes the report to `out` at once (a hidden file beside it, then renamed); returns where it is."""
    return report.write_report(html, out)


# --- evaluating a trained run ------------------------------------------------------------------------------------


@reads
def curve_sizes(actor: Actor, project_id: int, run_name: str) -> list[int]:
    """The training sizes of a learning-curve run's points, smallest first; [] for a run of one model."""
    run = get_run(actor.store, project_id, run_name)
    if run.mode != "curve" or not run.curve:
        return []
    return sorted(int(point["size"]) for point in run.curve)


@needs("evaluation.run")
def evaluate_run(
    actor: Actor, project_id: int, run_name: str, point: int | None = None, *, background: bool = True
) -> Launched[TrainingRun]:
    """Score a finished run (a curve's point) on the human test split, as a job (not in the `background`: queued
    for `run_here`)."""
    return run_evaluation.launch_evaluation(actor.store, project_id, run_name, point=point, background=background)


# --- weak cells: targeted generation -----------------------------------------------------------------------------


@needs("generation.run")
def generate_for_cell(
    actor: Actor,
    project_id: int,
    cell: TargetCell,
    *,
    backend: str,
    model: str,
    per_cell: int,
    base_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    recording: str | None = None,
    seed: int | None = None,
    examples_k: int | None = None,
    background: bool = True,
) -> Launched[GenerationRun]:
    """Generate more samples of a cell's true label that are clearly not the label they were taken for (`recording`,
    `seed`, `examples_k`: given only when set; not in the `background`: the job is queued for `run_here`)."""
    options = {"recording": recording, "seed": seed, "examples_k": examples_k}
    return targeted.launch_targeted(
        actor.store, project_id, cell, backend=backend, model=model, per_cell=per_cell, base_url=base_url,
        extra_env=extra_env, background=background,
        **{name: value for name, value in options.items() if value is not None},
    )  # fmt: skip


def replay_missing(cells: list[str], recording: str | None = None) -> list[str]:
    """The `<language>|<label>` cells a recording has no answers for (`<language>|baseline`: classification)."""
    answers = ReplayBackend(Path(recording) if recording else None).answers
    return [cell for cell in cells if cell not in answers]


# --- LLM baselines -----------------------------------------------------------------------------------------------


@reads
def list_baselines(actor: Actor, project_id: int) -> list[BaselineRun]:
    return baseline_store.list_baselines(actor.store, project_id)


@reads
def baseline_answers(actor: Actor, baseline_id: int, outcome: str | None = None) -> list[BaselineAnswer]:
    """A baseline's requests for inspection (the raw answer, the label it was mapped to, any error): table rows."""
    return baseline_store.request_rows(actor.store, baseline_id, outcome=outcome)


@reads
def estimate_baseline(actor: Actor, project_id: int, settings: BaselineSettings) -> Estimate:
    """Requests, prompt tokens and cost (None when the model has no price) of a baseline before it starts."""
    return baselines.estimate_baseline(actor.store, project_id, settings)


@reads
def find_baseline(actor: Actor, project_id: int, name: str) -> BaselineRun | None:
    return baseline_store.find_baseline(actor.store, project_id, name)


@needs("evaluation.run")
def rescore_baseline(actor: Actor, baseline_id: int) -> Evaluation:
    """Score a baseline's stored answers on the test split again (no request is sent)."""
    return baselines.evaluate_baseline(actor.store, baseline_id)


@reads
def get_baseline(actor: Actor, baseline_id: int) -> BaselineRun:
    return baseline_store.get_baseline_by_id(actor.store, baseline_id)


@needs("baseline.run")
def start_baseline(
    actor: Actor,
    project_id: int,
    settings: BaselineSettings,
    extra_env: dict[str, str] | None = None,
    *,
    background: bool = True,
) -> Launched[BaselineRun]:
    """Record a new baseline and start its job (`extra_env`: a key for the worker only; not in the `background`:
    the job is queued for `run_here`)."""
    baseline = baselines.start_baseline(actor.store, project_id, settings)
    return baselines.launch_baseline(actor.store, baseline, extra_env=extra_env, background=background)


@needs("baseline.run")
def resume_baseline(
    actor: Actor,
    project_id: int,
    name: str,
    extra_env: dict[str, str] | None = None,
    *,
    params: Mapping[str, object] | None = None,
    background: bool = True,
) -> Launched[BaselineRun]:
    """Send the requests of a stopped baseline that have no answer yet (`params`: timeouts that replace the first
    try's, kept with the baseline)."""
    baseline = baselines.resume_baseline(actor.store, project_id, name)
    if params:
        baseline_store.set_baseline(actor.store, baseline.id, params={**baseline.params, **params})
    return baselines.launch_baseline(actor.store, baseline, extra_env=extra_env, background=background)


# --- the quick check ---------------------------------------------------------------------------------------------


@needs("quickcheck.run")
def check_predictions(
    actor: Actor,
    frame: pd.DataFrame,
    source: str,
    columns: PredictionColumns,
    *,
    project: int | None = None,
    name: str | None = None,
) -> QuickCheck:
    """Import a file's rows as human test samples (of a new project when `project` is None) and score its
    predictions as an evaluation."""
    if project is None:  # the project named after the file, when there is one
        require_member_if_named(actor, default_project_name(source))
    checked = quickcheck.check_predictions(actor.store, frame, source, columns, project=project, name=name)
    if checked.project_created:
        joins_created_project(actor, checked.project.id)
    return checked


@needs("quickcheck.run")
def check_predictions_file(
    actor: Actor,
    path: Path,
    columns: PredictionColumns,
    *,
    project: int | str | None = None,
    name: str | None = None,
) -> QuickCheck:
    """`check_predictions` of a file on this machine (the CLI's quickcheck; `project`: its id or name)."""
    if project is None or not str(project).strip():  # the project named after the file, when there is one
        require_member_if_named(actor, default_project_name(Path(path).name))
    checked = quickcheck.check_predictions_file(actor.store, path, columns, project=project, name=name)
    if checked.project_created:
        joins_created_project(actor, checked.project.id)
    return checked


@needs("modelcheck.run")
def read_model_labels(actor: Actor, spec: str) -> ModelLabels:
    """A Hugging Face text-classification model's labels (a local folder or a downloaded id)."""
    return model_check.read_model_labels(spec)


@needs("modelcheck.run")
def plan_model_check(
    actor: Actor, project_id: int, spec: str, chosen: Mapping[str, str] | None = None, name: str | None = None
) -> ModelCheckPlan:
    """How the model's labels map onto the project's, checked before anything runs (InvalidInput says why not)."""
    return model_check.plan_model_check(actor.store, project_id, spec, chosen, name)


@needs("modelcheck.run")
def check_model(
    actor: Actor,
    project_id: int,
    spec: str,
    chosen: Mapping[str, str],
    name: str | None,
    *,
    background: bool = True,
) -> Launched[ModelCheckPlan]:
    """Label the project's human test samples with the model, as a job (refused while a label is unmapped; not in
    the `background`: queued for `run_here`)."""
    return model_check.launch_model_check(actor.store, project_id, spec, chosen, name, background=background)
