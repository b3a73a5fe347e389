"""What a running job sees: its parameters, a progress reporter, the cancel flag and its log."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from core.secrets import redact
from core.store import jobs as job_rows
from core.store.database import Store

HEARTBEAT_SECONDS = 10.0
_PROGRESS_MIN_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised inside a job when its cancel flag is seen."""


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def job_logger(job_id: int, log_path: str) -> logging.Logger:
    logger = logging.getLogger(f"studio.job.{job_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    path = os.path.abspath(log_path)
    for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler) and h.baseFilename != path]:
        logger.removeHandler(old)  # a job with the same number from another store (or data folder) ran here before
        old.close()
    if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        handler = logging.FileHandler(log_path, encoding="utf-8")
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


@dataclass
class JobContext:
    store: Store
    job_id: int
    params: dict[str, Any]
    project_id: int | None
    logger: logging.Logger
    echo: bool = False  # foreground runs also print progress to the terminal
    _last_write: float = field(default=0.0, repr=False)
    _heartbeat: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        """Report progress (0..1) and a short message; also checks the cancel flag."""
        now = time.monotonic()
        if force or now - self._last_write >= _PROGRESS_MIN_INTERVAL or fraction >= 1.0:
            self._last_write = now
            share = max(0.0, min(1.0, float(fraction)))
            job_rows.write_progress(self.store, self.job_id, share, redact(message) if message else None)
            if self.echo and message:
                print(f"[{fraction:6.1%}] {redact(message)}", flush=True)
        self.check_cancel()

    def log(self, message: str) -> None:
        self.logger.info(message)

    def cancel_requested(self) -> bool:
        return job_rows.cancel_was_requested(self.store, self.job_id)

    def check_cancel(self) -> None:
        if self.cancel_requested():
            raise JobCancelled()

    def start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._heartbeat.wait(HEARTBEAT_SECONDS):
                try:
                    job_rows.write_heartbeat(self.store, self.job_id)
                except Exception:  # a busy or unreachable database: the next beat tries again
                    self.logger.warning("job #%s: its heartbeat could not be written", self.job_id, exc_info=True)

        threading.Thread(target=beat, name=f"job-{self.job_id}-heartbeat", daemon=True).start()

    def stop_heartbeat(self) -> None:
        self._heartbeat.set()
