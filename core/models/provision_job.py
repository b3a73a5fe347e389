"""The `provision` job: make a model available offline (the bundled encoder is converted once, ~20 s)."""

from __future__ import annotations

from typing import Any

from core.jobs.context import JobContext
from core.jobs.registry import job_kind
from core.models.resolver import folder_size, resolve_model


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
