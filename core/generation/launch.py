"""Launching generation: a new run, or an existing run started again (a resume), as a `generate` job.

A run whose samples a local model writes fills the machine: its job is heavy and waits for a heavy slot, whoever
starts it (the Generate page, the Prompts page's "Try it", a targeted run, the CLI).
"""

from __future__ import annotations

from core.generation.engine import GenerationSettings, start_run
from core.jobs.lifecycle import Launched, launch
from core.jobs.queue import Job
from core.store import generation_runs
from core.store.database import Store
from core.store.generation_runs import GenerationRun


def launch_generation(
    store: Store,
    project_id: int,
    settings: GenerationSettings,
    *,
    extra_env: dict[str, str] | None = None,
    background: bool = True,
) -> Launched[GenerationRun]:
    """Record a new run and launch its job (`extra_env`: a key typed into a page, for the worker only)."""
    run = start_run(store, project_id, settings)
    return launch_generation_run(store, run, extra_env=extra_env, background=background)


def launch_generation_run(
    store: Store, run: GenerationRun, *, extra_env: dict[str, str] | None = None, background: bool = True
) -> Launched[GenerationRun]:
    """Launch the job of a recorded run: its first start, or a resume (which sends only what has no answer).
    Raises RunAlreadyRunning while another job works on the run."""

    def record(job: Job) -> None:
        generation_runs.set_run(store, run.id, job_id=job.id)

    job = launch(
        store,
        "generate",
        {"run_id": run.id},
        project_id=run.project_id,
        heavy=run.backend == "local",
        resource_kind="generate_local" if run.backend == "local" else "generate",
        gpu=run.backend == "local" and bool(run.params.get("gpu")),
        extra_env=extra_env,
        background=background,
        on_queued=record,
    )
    return Launched(generation_runs.get_run(store, run.id), job)
