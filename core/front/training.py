"""Training at the front door: what a snapshot would hold, the estimated time, starting a run, the runs with their
jobs, a run's evaluation, labelling a file with a run, downloading and deleting one.

Functions that read or change the studio take the acting user first; the figures drawn from a run already in hand
(`loss_rows`, `curve_rows`...) and the form's words are plain helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.evaluation.budget_advice import NEXT_HUMAN as NEXT_HUMAN
from core.evaluation.budget_advice import NEXT_SYNTHETIC as NEXT_SYNTHETIC
from core.evaluation.budget_advice import LanguageAdvice as LanguageAdvice
from core.evaluation.budget_advice import budget_advice
from core.evaluation.data_budget import Gain as Gain
from core.evaluation.evaluations import run_evaluation_of
from core.front.actor import Actor
from core.front.permissions import needs, reads, visible_project_ids
from core.jobs.lifecycle import Launched as Launched
from core.jobs.queue import Job as Job
from core.jobs.queue import get_job
from core.store.evaluations import Evaluation as Evaluation
from core.store.projects import Project as Project
from core.store.samples import SampleFilter, count_by_language_label_status
from core.training import devices, predict, run_store
from core.training import launch as launching
from core.training.curve import parse_sizes as parse_sizes
from core.training.devices import TrainingDevice as TrainingDevice
from core.training.estimate import TimeEstimate as TimeEstimate
from core.training.launch import TrainingRequest as TrainingRequest
from core.training.params import DEFAULT_EFFORT as DEFAULT_EFFORT
from core.training.params import EFFORT_WORDS as EFFORT_WORDS
from core.training.params import EFFORTS as EFFORTS
from core.training.params import TRAINER_KINDS as TRAINER_KINDS
from core.training.params import ParamField as ParamField
from core.training.params import TrainerParams as TrainerParams
from core.training.params import minutes_words as minutes_words
from core.training.params import param_fields as param_fields
from core.training.predict import PredictSummary as PredictSummary
from core.training.request_estimate import estimate_request
from core.training.request_estimate import form_params as form_params
from core.training.run_store import TrainingRun as TrainingRun
from core.training.run_views import PartScore as PartScore
from core.training.run_views import curve_rows as curve_rows
from core.training.run_views import language_scores as language_scores
from core.training.run_views import loss_rows as loss_rows
from core.training.run_views import page_rows as page_rows
from core.training.run_views import part_scores as part_scores
from core.training.run_views import runs_table as runs_table
from core.training.run_views import shows_loss as shows_loss
from core.training.run_views import zip_run
from core.training.snapshot import SnapshotOptions as SnapshotOptions
from core.training.snapshot import SnapshotSummary as SnapshotSummary
from core.training.snapshot import preview_snapshot
from core.training.snapshot import with_budget as with_budget
from core.training.uncertainty_job import launch_uncertainty_ranking

__all__ = [
    "DEFAULT_EFFORT",
    "EFFORTS",
    "EFFORT_WORDS",
    "NEXT_HUMAN",
    "NEXT_SYNTHETIC",
    "TRAINER_KINDS",
    "Evaluation",
    "Gain",
    "Job",
    "LanguageAdvice",
    "Launched",
    "ParamField",
    "PartScore",
    "PredictSummary",
    "Project",
    "SnapshotOptions",
    "SnapshotSummary",
    "TimeEstimate",
    "TrainerParams",
    "TrainingDevice",
    "TrainingRequest",
    "TrainingRun",
    "curve_rows",
    "data_budget",
    "delete_run",
    "estimate",
    "evaluation_of",
    "form_params",
    "get_run",
    "label_file",
    "language_scores",
    "launch",
    "list_runs",
    "loss_rows",
    "minutes_words",
    "model_archive",
    "page_rows",
    "param_fields",
    "parse_sizes",
    "part_scores",
    "predict_file",
    "preview",
    "rank_by_doubt",
    "run_job",
    "run_named",
    "runs_named",
    "runs_table",
    "shows_loss",
    "training_device",
    "with_budget",
]


@reads
def list_runs(actor: Actor, project_id: int) -> list[TrainingRun]:
    """The project's training runs, newest first."""
    return run_store.list_runs(actor.store, project_id)


@reads
def get_run(actor: Actor, run_id: int) -> TrainingRun:
    return run_store.get_run_by_id(actor.store, run_id)


@reads
def run_named(actor: Actor, project_id: int, name: str) -> TrainingRun:
    """The project's run of that name; NotFound when there is none."""
    return run_store.get_run(actor.store, project_id, name)


@reads
def runs_named(actor: Actor, name: str) -> list[TrainingRun]:
    """The runs of that name in every project (a lead or an annotator: in the projects they are a member of)."""
    visible = visible_project_ids(actor)
    return [run for run in run_store.runs_named(actor.store, name) if visible is None or run.project_id in visible]


@reads
def run_job(actor: Actor, run: TrainingRun) -> Job | None:
    """The job working (or that worked) on the run; None when it has none."""
    return get_job(actor.store, run.job_id) if run.job_id is not None else None


@reads
def preview(actor: Actor, project: Project, options: SnapshotOptions) -> SnapshotSummary:
    """What a snapshot with these options would hold (counts only, and what it leaves out and why)."""
    return preview_snapshot(actor.store, project, options)


@reads
def estimate(
    actor: Actor, project: Project, params: TrainerParams, samples: int, curve: tuple[int, ...] = ()
) -> TimeEstimate:
    """The rough training time of the form's run (its values as parameters: `form_params`)."""
    return estimate_request(actor.store, project, params, samples, curve)


@needs("training.run")
def launch(
    actor: Actor, project_id: int, request: TrainingRequest, *, background: bool = True
) -> Launched[TrainingRun]:
    """Check the request, record the run and start its job (not in the `background`: queued for `run_here`)."""
    return launching.launch_training(actor.store, project_id, request, background=background)


@reads
def evaluation_of(actor: Actor, project_id: int, run: TrainingRun) -> Evaluation | None:
    """The run's newest evaluation on the test split (of any curve point); None when it has none."""
    return run_evaluation_of(actor.store, project_id, run.id)


@needs("predict.run")
def label_file(
    actor: Actor, project_id: int, run: TrainingRun, source: Path, *, text_column: str | None = None
) -> PredictSummary:
    """Label every row of a file with the run's model; the labelled copy is written beside it."""
    return predict.predict_file(actor.store, project_id, run.name, source, text_column=text_column)


@needs("predict.run")
def predict_file(
    actor: Actor,
    project: int | str,
    run_name: str,
    path: Path,
    *,
    out: Path | None = None,
    text_column: str | None = None,
    fmt: str | None = None,
    point: int | None = None,
    language_column: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> PredictSummary:
    """Label every row of a file with the named run's model (a curve's point), written to `out` or beside it
    (`project`: its id or name, looked up once the file is read); `progress` hears texts done and texts/s."""
    return predict.predict_file(
        actor.store, project, run_name, path, out=out, text_column=text_column, fmt=fmt, point=point,
        language_column=language_column, progress=progress,
    )  # fmt: skip


@reads
def model_archive(actor: Actor, run: TrainingRun, out: Path | None = None) -> Path:
    """The run's model folder as a zip file, to download (in a temporary folder unless `out` is given)."""
    return zip_run(run, out)


@needs("training.delete")
def delete_run(actor: Actor, run: TrainingRun) -> None:
    """Delete the run's model files and its record (its evaluations too)."""
    run_store.delete_run(actor.store, run)


@needs("predict.run")
def rank_by_doubt(
    actor: Actor, project: Project, run_name: str, *, languages: tuple[str, ...] = (), background: bool = True
) -> Job:
    """Flag the unlabeled human TRAIN texts `model_uncertain` with the run's doubt about each (active learning)."""
    return launch_uncertainty_ranking(actor.store, project.id, run_name, languages=languages, background=background)


@reads
def training_device(actor: Actor) -> TrainingDevice:
    """The device a run started here trains on (jobs on a Ray cluster: the node's, which may differ)."""
    return devices.training_device()


@reads
def data_budget(actor: Actor, project: Project) -> list[LanguageAdvice]:
    """Per language: what the next 100 synthetic or 10 human samples are likely to buy, from the project's
    learning-curve runs, at the accepted TRAIN samples it has now."""
    counts: dict[tuple[str, str], int] = {}
    for origin in ("synthetic", "human"):
        flt = SampleFilter(statuses=("accepted",), splits=("train",), origins=(origin,))
        for row in count_by_language_label_status(actor.store, project.id, flt):
            counts[(row.language, origin)] = counts.get((row.language, origin), 0) + row.count
    return budget_advice(actor.store, project, counts)
