"""The `provision` job: make a model available offline (the bundled encoder is converted once, ~20 s)."""

from __future__ import annotations

from typing import Any

from core.jobs.context import JobContext
from core.jobs.lifecycle import launch
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.models.resolver import folder_size, resolve_model
from core.store.database import Store


def launch_provision(store: Store, spec: str) -> Job:
    """Launch the `provision` job for the model `spec` in the background (heavy: a conversion fills the machine)."""
    return launch(store, "provision", {"spec": spec}, project_id=None, heavy=True)


@job_kind("provision", heavy=True, title="Provisioning a model")
def run_provision(ctx: JobContext) -> dict[str, Any]:
    spec = str(ctx.params["spec"])
    folder = resolve_model(spec, progress=ctx.progress)
    size = folder_size(folder)
    return {
        "spec": spec,
        "path": str(folder),
        "size_bytes": size,
        "message": f"{spec} is ready ({size / 1e6:,.0f} MB in {folder})",
    }
