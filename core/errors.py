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
