"""Running one job in this process: the worker's body, and the CLI's foreground mode."""

from __future__ import annotations

import fcntl
import logging
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from core.errors import StudioError
from core.jobs.context import JobCancelled, JobContext, job_logger
from core.jobs.queue import get_job, hostname
from core.jobs.registry import get_kind, settle_run
from core.secrets import redact
from core.settings import get_settings
from core.store import jobs as job_rows
from core.store.database import Store

RAY_NODE_VARIABLE = "STUDIO_RAY_NODE"  # set by the Ray executor's task: the node the worker runs on
SLOT_POLL_SECONDS = 0.5


@contextmanager
def heavy_slot(ctx: JobContext) -> Iterator[None]:
    """At most STUDIO_MAX_HEAVY_JOBS heavy jobs at once on this machine: file locks in the data folder.

    The lock is released by the operating system when the process dies, so a killed worker never blocks the queue.
    """
    settings = get_settings()
    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[str] | None = None
    announced = False
    while handle is None:
        for slot in range(settings.max_heavy_jobs):
            candidate = open(Path(settings.locks_dir) / f"heavy-{slot}.lock", "a+")  # noqa: SIM115
            try:
                fcntl.flock(candidate, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                candidate.close()
                continue
            handle = candidate
            break
        if handle is None:
            if not announced:
                ctx.progress(0.0, "Queued: waiting for another job to finish", force=True)
                announced = True
            ctx.check_cancel()
            time.sleep(SLOT_POLL_SECONDS)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def run_job(store: Store, job_id: int, *, echo: bool = False) -> str:
    """Run a queued job to its end here; returns its final status."""
    job = get_job(store, job_id)
    if job.status != "queued":
        raise StudioError(f"Job #{job_id} is {job.status}; only a queued job can be run.")
    kind = get_kind(job.kind)
    Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
    logger = job_logger(job_id, job.log_path)
    job_rows.record_worker(store, job_id, os.getpid(), hostname(), node=os.environ.get(RAY_NODE_VARIABLE) or None)
    ctx = JobContext(store=store, job_id=job_id, params=job.params, project_id=job.project_id, logger=logger, echo=echo)
    ctx.start_heartbeat()
    logger.info("job #%s (%s) starting in process %s", job_id, job.kind, os.getpid())
    slot = ExitStack()  # a heavy job's slot, released only after its final status is written (see `finally`)
    try:
        if job.heavy and job.executor == "local":  # on Ray, the resources the task holds are its slot
            slot.enter_context(heavy_slot(ctx))
        ctx.check_cancel()
        if not job_rows.mark_running(store, job_id):
            return get_job(store, job_id).status
        result = kind.run(ctx)
        message = str(result.get("message", "Finished")) if isinstance(result, dict) else "Finished"
        if not job_rows.end_job(store, job_id, "done", message, result=result, progress=1.0):
            return _ended_elsewhere(store, job_id, logger)
        logger.info("job #%s done", job_id)
        return "done"
    except JobCancelled:
        if not job_rows.end_job(store, job_id, "cancelled", "Cancelled"):
            return _ended_elsewhere(store, job_id, logger)
        logger.info("job #%s cancelled", job_id)
        return "cancelled"
    except StudioError as exc:
        job_rows.end_job(store, job_id, "failed", redact(str(exc)))
        logger.error("job #%s failed: %s", job_id, exc)
        return get_job(store, job_id).status
    except Exception as exc:
        logger.error("job #%s crashed:\n%s", job_id, traceback.format_exc())
        job_rows.end_job(
            store,
            job_id,
            "failed",
            redact(f"Unexpected error ({type(exc).__name__}: {exc}). The job's log has the details."),
        )
        return "failed"
    finally:
        _settle(store, job_id, logger)
        # after the status: releasing the slot first would let the next heavy job show 'running' beside this one
        slot.close()
        ctx.stop_heartbeat()


def _ended_elsewhere(store: Store, job_id: int, logger: logging.Logger) -> str:
    """The job was ended while this worker ran (the reaper, or the executor when its machine stopped): that end
    stands."""
    job = get_job(store, job_id)
    logger.warning("job #%s was ended elsewhere meanwhile (%s: %s); that end stands", job_id, job.status, job.message)
    return job.status


def _settle(store: Store, job_id: int, logger: logging.Logger) -> None:
    """The ended job's run follows its end (the kind's settle hook); a job still active is left alone."""
    try:
        settle_run(store, get_job(store, job_id))
    except Exception:
        logger.exception("job #%s: its run could not be settled", job_id)
