"""Job kinds: a name, whether it is heavy, and the function that does the work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.context import JobContext

JobFunction = Callable[["JobContext"], dict[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    run: JobFunction
    heavy: bool
    title: str  # shown to users, e.g. "Generating samples"


_KINDS: dict[str, JobKind] = {}
# modules that define job kinds; imported on first lookup so a worker process finds every kind
_KIND_MODULES = (
    "core.jobs.wait_job",
    "core.embeddings.embed_job",
    "core.models.provision_job",
    "core.generation.generate_job",
    "core.curation.flag_job",
    "core.training.train_job",
    "core.evaluation.jobs",
    "core.evaluation.model_check_job",
)


def job_kind(name: str, *, heavy: bool, title: str) -> Callable[[JobFunction], JobFunction]:
    def register(function: JobFunction) -> JobFunction:
        _KINDS[name] = JobKind(name=name, run=function, heavy=heavy, title=title)
        return function

    return register


def get_kind(name: str) -> JobKind:
    _load_kinds()
    if name not in _KINDS:
        from core.errors import StudioError

        raise StudioError(f"Unknown job kind '{name}'.")
    return _KINDS[name]


def all_kinds() -> dict[str, JobKind]:
    _load_kinds()
    return dict(_KINDS)


def _load_kinds() -> None:
    import importlib

    for module in _KIND_MODULES:
        importlib.import_module(module)
