"""Generation at the front door: who writes the samples (backends and servers), estimates, launching and resuming
runs, and what a run has done so far."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.generation import endpoint_check, endpoints, launch, run_failures
from core.generation.backend_needs import BACKEND_NEEDS as BACKEND_NEEDS
from core.generation.backend_needs import local_model_problem as local_model_problem
from core.generation.backend_needs import start_problem as start_problem
from core.generation.endpoint_check import ConnectionReport as ConnectionReport
from core.generation.endpoints import Endpoint as Endpoint
from core.generation.endpoints import KeyRefused as KeyRefused
from core.generation.endpoints import is_local_url as is_local_url
from core.generation.endpoints import normalize_url as normalize_url
from core.generation.endpoints import session_key_env as session_key_env
from core.generation.engine import BACKENDS as BACKENDS
from core.generation.engine import Estimate as Estimate
from core.generation.engine import GenerationSettings as GenerationSettings
from core.generation.engine import estimate as estimate
from core.jobs import queue
from core.jobs.lifecycle import Launched as Launched
from core.jobs.queue import Job
from core.store import generation_runs
from core.store.generation_runs import GenerationRun as GenerationRun
from core.store.generation_runs import RunCounts as RunCounts
from core.store.projects import Project

__all__ = [
    "BACKENDS",
    "BACKEND_NEEDS",
    "ConnectionReport",
    "Endpoint",
    "Estimate",
    "GenerationRun",
    "GenerationSettings",
    "KeyRefused",
    "Launched",
    "RequestRow",
    "RunCounts",
    "RunResume",
    "cell_outputs",
    "change_run_params",
    "check_key",
    "check_server",
    "configured_endpoints",
    "estimate",
    "get_run",
    "is_local_url",
    "launch_generation",
    "list_runs",
    "local_model_problem",
    "normalize_url",
    "request_rows",
    "resume_generation",
    "run_counts",
    "run_resume",
    "session_key_env",
    "start_problem",
]


# Who writes the samples


@reads
def configured_endpoints(actor: Actor) -> list[Endpoint]:
    """The servers set up on the studio's server or by owners on the Team page, each with its own key (never
    shown)."""
    return endpoints.configured_endpoints(actor.store)


@reads
def check_key(actor: Actor, base_url: str | None, typed: str | None) -> None:
    """Raises KeyRefused when no key may go to this address (a typed key, or one set up for another address)."""
    endpoints.resolve_key(base_url, typed, scope="endpoint", store=actor.store)


@needs("endpoints.check")
async def check_server(actor: Actor, base_url: str | None, typed_key: str | None, model: str) -> ConnectionReport:
    """Asks the server which models it serves (and whether `model` is one) and how much it works on at once."""
    from core.generation.openai_backend import OpenAIBackend  # the OpenAI client loads only when asked

    api_key = endpoints.resolve_key(base_url, typed_key, scope="endpoint", store=actor.store)
    async with OpenAIBackend(base_url, api_key, timeout=15.0) as backend:
        return await endpoint_check.check_connection(backend, model)


# Runs


@needs("generation.run")
def launch_generation(
    actor: Actor,
    project: Project,
    settings: GenerationSettings,
    *,
    extra_env: dict[str, str] | None = None,
    background: bool = True,
) -> Launched[GenerationRun]:
    """Records a new run and starts its job (`extra_env`: a key typed into a page, for the worker only; not in the
    `background`: the job is queued for `run_here`)."""
    return launch.launch_generation(actor.store, project.id, settings, extra_env=extra_env, background=background)


@needs("generation.run")
def resume_generation(
    actor: Actor, run: GenerationRun, *, extra_env: dict[str, str] | None = None, background: bool = True
) -> Launched[GenerationRun]:
    """Starts the run's job again: it sends only what has no answer yet. RunAlreadyRunning while a job works on it."""
    return launch.launch_generation_run(actor.store, run, extra_env=extra_env, background=background)


@needs("generation.run")
def change_run_params(actor: Actor, run: GenerationRun, changes: Mapping[str, object]) -> None:
    """Changes some of the run's parameters (answer length, timeouts, requests at once) before it is resumed."""
    generation_runs.set_run(actor.store, run.id, params={**run.params, **changes})


@reads
def list_runs(actor: Actor, project: Project) -> list[GenerationRun]:
    return generation_runs.list_runs(actor.store, project.id)


@reads
def get_run(actor: Actor, run_id: int) -> GenerationRun:
    return generation_runs.get_run(actor.store, run_id)


@reads
def run_counts(actor: Actor, run: GenerationRun) -> RunCounts:
    """Samples and requests per cell, and the answers, failures and unsent requests of the run."""
    return generation_runs.run_counts(actor.store, run.id)


@reads
def cell_outputs(actor: Actor, run: GenerationRun, cell: tuple[str, str]) -> list[str]:
    """The texts the run wrote for one (language, label) cell."""
    return generation_runs.cell_outputs(actor.store, run.id, cell)


@dataclass(frozen=True)
class RequestRow:
    """One request of a run, for inspection (its raw answer included)."""

    id: int
    language: str
    label: str
    round: int
    index: int
    status: str
    asked: int
    parsed: int
    dropped: int
    error: str  # empty when it was answered
    answer: str


@reads
def request_rows(actor: Actor, run: GenerationRun, limit: int = 200) -> list[RequestRow]:
    return [
        RequestRow(
            id=row["id"],
            language=row["language"],
            label=row["label"],
            round=row["round"],
            index=row["index"],
            status=row["status"],
            asked=row["asked"],
            parsed=row["parsed"],
            dropped=row["dropped"],
            error=row["error"] or "",
            answer=row["answer"],
        )
        for row in generation_runs.request_rows(actor.store, run.id, limit=limit)
    ]


@dataclass(frozen=True)
class RunResume:
    """Where a run stands for resuming: the job working on it (if any), whether a resume can get more, and the next
    step in words."""

    job: Job | None  # the active job working on the run
    resume_helps: bool  # resuming can get something more (ignoring a job at work)
    next_step: str

    @property
    def job_active(self) -> bool:
        return self.job is not None

    @property
    def can_resume(self) -> bool:
        """Offer Resume: it would get something more and no job works on the run now."""
        return self.resume_helps and self.job is None


@reads
def run_resume(actor: Actor, run: GenerationRun, active_jobs: Sequence[Job] | None = None) -> RunResume:
    """Whether the run can be resumed now. `active_jobs`: the project's active generation jobs when the caller has
    them already (else they are read)."""
    if active_jobs is None:
        active_jobs = queue.list_jobs(actor.store, run.project_id, active_only=True, kind="generate")
    job = next((j for j in active_jobs if j.active and j.params.get("run_id") == run.id), None)
    check = run_failures.resume_check(actor.store, run)
    return RunResume(job=job, resume_helps=check.helps, next_step=check.next_step)
