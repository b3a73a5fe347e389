"""Job kinds: a name, whether it is heavy, the function that does the work, and how its run follows its end.

A kind that works on a run (a generation run, a baseline, a training run) registers a `settle` hook: when one of
its jobs ends, whichever way (its worker's normal end, a failure, a cancel, or the reaper finding its worker dead),
`settle_run` calls it once, and the hook gives a run the job left active the job's outcome. That is the one place
a run's status is derived from its job's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.context import JobContext
    from core.store.database import Store
    from core.store.jobs import Job

JobFunction = Callable[["JobContext"], dict[str, Any] | None]
# called with the ended job: settles the run the job worked on, when the job left it active
SettleHook = Callable[["Store", "Job"], None]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    name: str
    run: JobFunction
    heavy: bool
    title: str  # shown to users, e.g. "Generating samples"
    settle: SettleHook | None = None


_KINDS: dict[str, JobKind] = {}
# modules that define job kinds; imported on first lookup so a worker process finds every kind
_KIND_MODULES = (
    "core.jobs.wait_job",
    "core.embeddings.embed_job",
    "core.models.provision_job",
    "core.generation.generate_job",
    "core.curation.flag_job",
    "core.training.train_job",
    "core.training.uncertainty_job",
    "core.evaluation.jobs",
    "core.evaluation.model_check_job",
)


def job_kind(
    name: str, *, heavy: bool, title: str, settle: SettleHook | None = None
) -> Callable[[JobFunction], JobFunction]:
    def register(function: JobFunction) -> JobFunction:
        _KINDS[name] = JobKind(name=name, run=function, heavy=heavy, title=title, settle=settle)
        return function

    return register


def settle_run(store: Store, job: Job) -> None:
    """After `job` ended: its kind's hook settles the run it worked on. A hook that fails is logged, never raised:
    the job's own end is already written."""
    if job.active:
        return
    try:
        hook = get_kind(job.kind).settle
        if hook is not None:
            hook(store, job)
    except Exception:
        _log.exception("settling the run of job #%s (%s) failed", job.id, job.kind)


def get_kind(name: str) -> JobKind:
    _load_kinds()
    if name not in _KINDS:
        from core.errors import StudioError

        raise StudioError(f"Unknown job kind '{name}'.")
    return _KINDS[name]


def _load_kinds() -> None:
    import importlib

    for module in _KIND_MODULES:
        importlib.import_module(module)
