"""How long a job has been running and, roughly, how long it has left: for the live progress of every job kind.

The time left is extrapolated from the progress so far (elapsed x (1 - progress) / progress). It says nothing
until the job has shown enough progress for that to mean something: early on, loading a model or waiting for a
first answer dominates and the guess would swing wildly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.jobs.queue import Job
from core.store.schema import utcnow
from core.time_words import elapsed_words, rough_words

MIN_PROGRESS = 0.05  # below this share done, no guess of the time left
MIN_SECONDS = 5.0  # nor in the first seconds


@dataclass(frozen=True)
class JobTiming:
    waiting: float | None  # seconds queued, while it has not started
    elapsed: float | None  # seconds since it started
    left: float | None  # a rough guess of the seconds left; None when there is none yet

    def sentence(self) -> str:
        """'Running for 2 min 05 s · about 4 minutes left (a rough guess from the progress so far)'."""
        if self.elapsed is None:
            return f"Waiting for a free worker for {elapsed_words(self.waiting or 0)}."
        text = f"Running for {elapsed_words(self.elapsed)}"
        if self.left is None:
            return text + " · time left: known after a little more progress."
        return text + f" · {rough_words(self.left)} left (a rough guess from the progress so far)."


def job_timing(job: Job, now: datetime | None = None) -> JobTiming:
    """Elapsed time and the rough time left of an active job (times in the store are naive UTC)."""
    now = now or utcnow()
    if job.started_at is None:
        return JobTiming(waiting=max(0.0, (now - job.created_at).total_seconds()), elapsed=None, left=None)
    elapsed = max(0.0, (now - job.started_at).total_seconds())
    progress = min(max(job.progress, 0.0), 1.0)
    left = None
    if progress >= MIN_PROGRESS and elapsed >= MIN_SECONDS:
        left = elapsed * (1.0 - progress) / progress
    return JobTiming(waiting=None, elapsed=elapsed, left=left)
