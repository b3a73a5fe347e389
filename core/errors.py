"""Errors whose message is meant for the person using the studio (no traceback, no jargon)."""

from __future__ import annotations


class StudioError(Exception):
    """A problem the user can understand and act on; the CLI prints it on one line, pages show it."""


class NotFound(StudioError):
    pass


class InvalidInput(StudioError):
    pass


class EditConflict(StudioError):
    """Someone else changed the same thing since it was read (optimistic locking)."""


class RunAlreadyRunning(StudioError):
    """A run (generation, baseline, training) already has a queued or running job: a second one is refused."""

    def __init__(self, message: str, *, run_key: str, job_id: int) -> None:
        super().__init__(message)
        self.run_key = run_key
        self.job_id = job_id


class DiskFull(StudioError):
    """The disk holding the studio's data or its database is full (see core.io.disk_full for the messages)."""


class PermissionDenied(StudioError):
    """The acting user's role does not allow the action; the message says which role it needs and who asked."""
