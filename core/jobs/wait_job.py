"""A small job kind that waits, reporting progress: it exercises the whole job system in tests and demos."""

from __future__ import annotations

import time
from typing import Any

from core.errors import StudioError
from core.jobs.context import JobContext
from core.jobs.lifecycle import launch
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store


def launch_wait(
    store: Store, seconds: float, steps: int, *, project_id: int | None = None, background: bool = True
) -> Job:
    """Launch the `wait` job (heavy, so that it also shows the heavy-slot queue)."""
    params = {"seconds": seconds, "steps": steps}
    return launch(store, "wait", params, project_id=project_id, heavy=True, background=background)


@job_kind("wait", heavy=True, title="Waiting (a test job)")
def run_wait(ctx: JobContext) -> dict[str, Any]:
    seconds = float(ctx.params.get("seconds", 2.0))
    steps = max(1, int(ctx.params.get("steps", 10)))
    for step in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((step + 1) / steps, f"Step {step + 1} of {steps}", force=True)
        ctx.log(f"step {step + 1}/{steps}")
        if ctx.params.get("fail_at") == step + 1:
            raise StudioError(f"Stopped at step {step + 1} as asked (fail_at).")
    return {"steps": steps, "message": f"Waited {seconds:g} s in {steps} steps"}
