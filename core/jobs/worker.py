"""Worker process entry: `python -m core.jobs.worker JOB_ID` (started by `queue.start_worker`)."""

from __future__ import annotations

import logging
import sys

from core.jobs.reaper import reap_dead_workers
from core.jobs.runner import run_job
from core.store import open_store

_log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m core.jobs.worker JOB_ID", file=sys.stderr)
        return 2
    store = open_store()
    try:
        reap_dead_workers(store)  # a worker starting is a good moment to find the ones that died
    except Exception:
        _log.exception("reaping dead workers before job #%s failed; the job runs anyway", argv[0])
    status = run_job(store, int(argv[0]))
    return 0 if status in ("done", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
