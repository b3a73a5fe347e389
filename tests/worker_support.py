"""Making a job look like its worker died: a real process id that has already ended."""

from __future__ import annotations

import subprocess
import sys

from core.jobs.queue import hostname
from core.store import Store
from core.store import jobs as job_rows


def dead_pid() -> int:
    """The pid of a process of ours that has already ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def running_under(store: Store, job_id: int, pid: int) -> None:
    """The job as a worker with this pid left it: running."""
    job_rows.record_worker(store, job_id, pid, hostname())
    assert job_rows.mark_running(store, job_id)
