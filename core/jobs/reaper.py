"""The reaper: finds active jobs whose worker has gone, marks them failed and settles their runs.

It runs when a worker starts, on a timer in the studio's server (`start_reaper`), in `python -m core jobs reap`,
and when a new job for a run finds the run held by a job whose worker may be dead. Reads never reap.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from core.jobs.queue import hostname, worker_alive
from core.jobs.registry import settle_run
from core.store import jobs as job_rows
from core.store.database import Store
from core.store.jobs import Job
from core.store.schema import utcnow

STALE_HEARTBEAT = timedelta(seconds=120)
# a queued job that no worker has claimed after this long never will be (whatever queued it stopped first)
WORKER_START_GRACE = timedelta(seconds=120)
REAP_EVERY_SECONDS = 10.0

_log = logging.getLogger(__name__)
_started_lock = threading.Lock()
_started = False


def why_abandoned(job: Job) -> str | None:
    """Why the active `job` will never end by itself (its worker is gone), in words; None while it may."""
    now = utcnow()
    if job.worker_pid is None:
        if job.executor != "local":
            return None  # Ray holds it until its resources are free; the executor fails it if its machine stops
        if job.status != "queued" or now - job.created_at < WORKER_START_GRACE:
            return None  # its worker is being started
        return "No worker ever started it (what queued it stopped first): start it again."
    if job.executor == "local" and job.worker_host == hostname():
        if worker_alive(job):
            return None
        return "Its worker process stopped unexpectedly (killed, or the machine restarted). See the job's log."
    beat = job.heartbeat_at or job.created_at
    if now - beat < STALE_HEARTBEAT:
        return None
    return f"Its worker on {job.worker_host} has not reported since {beat:%Y-%m-%d %H:%M} UTC. See the job's log."


def reap_dead_workers(store: Store) -> list[int]:
    """Mark failed every active job whose worker has disappeared and settle its run; returns their ids."""
    reaped = []
    for job in job_rows.active_jobs(store):
        message = why_abandoned(job)
        # only while the same worker holds it: a worker that claimed a queued job meanwhile keeps it
        if message is None or not job_rows.fail_abandoned_job(store, job.id, job.worker_pid, message):
            continue
        reaped.append(job.id)
        ended = job_rows.find_job(store, job.id)
        if ended is not None:
            settle_run(store, ended)
    return reaped


def fail_lost_job(store: Store, job_id: int, message: str) -> bool:
    """Fail a job still active whatever its worker does (its machine stopped, or it could not be started) and
    settle its run; returns whether it was failed here."""
    if not job_rows.fail_active_job(store, job_id, message):
        return False
    ended = job_rows.find_job(store, job_id)
    if ended is not None:
        settle_run(store, ended)
    return True


def start_reaper(store: Store, every_seconds: float = REAP_EVERY_SECONDS) -> bool:
    """Reap every `every_seconds` in a daemon thread, at most one per process (the studio's server starts it).
    Returns whether this call started it."""
    global _started
    with _started_lock:
        if _started:
            return False
        _started = True

    def loop() -> None:
        while True:
            try:
                reap_dead_workers(store)
            except Exception:
                _log.exception("reaping dead workers failed; trying again in %s s", every_seconds)
            time.sleep(every_seconds)

    threading.Thread(target=loop, name="studio-job-reaper", daemon=True).start()
    return True
