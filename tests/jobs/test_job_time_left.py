"""Elapsed time and the rough time left of a job, as every live job panel shows them (jobs from a real store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.jobs.queue import submit_job
from core.jobs.time_left import MIN_PROGRESS, MIN_SECONDS, job_timing
from core.store import Store
from core.store.schema import utcnow


def test_time_left_is_extrapolated_from_the_progress_once_there_is_enough(sqlite_store: Store) -> None:
    queued = submit_job(sqlite_store, "wait", {"seconds": 1})
    now = queued.created_at + timedelta(seconds=12)
    waiting = job_timing(queued, now)
    assert (waiting.waiting, waiting.elapsed, waiting.left) == (12.0, None, None)
    assert waiting.sentence() == "Waiting for a free worker for 12 s."

    started = replace(queued, status="running", started_at=now, progress=0.25)
    timing = job_timing(started, now + timedelta(seconds=100))
    assert timing.elapsed == 100.0 and timing.left == pytest.approx(300.0)  # a quarter in 100 s: 300 s more
    assert (
        timing.sentence() == "Running for 1 min 40 s · about 5 minutes left (a rough guess from the progress so far)."
    )

    too_early = job_timing(replace(started, progress=MIN_PROGRESS / 2), now + timedelta(seconds=100))
    too_soon = job_timing(started, now + timedelta(seconds=MIN_SECONDS / 2))
    assert too_early.left is None and too_soon.left is None
    assert "known after a little more progress" in too_early.sentence()
    assert job_timing(replace(started, started_at=utcnow())).elapsed < 5  # by default: now
