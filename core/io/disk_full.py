"""Recognising a full disk (SQLite, PostgreSQL, writing files) and saying so in plain words."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import DiskFull, StudioError

DISK_FULL_MESSAGE = (
    "The disk holding the studio's data is full: free space and run the import again; nothing was stored."
)
EXPORT_DISK_FULL_MESSAGE = "The disk is full: free space and export again; no file was written."

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full
_POSTGRES_SYSTEM_CLASSES = ("53", "58")  # insufficient resources, system error (e.g. "could not write to file")


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full", PostgreSQL's DiskFull / "No space left on device", ENOSPC.

    Only error codes and the driver's own message are read: a wrapped statement's parameters (sample texts)
    never decide it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and not isinstance(current, StudioError):
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if sqlstate == _POSTGRES_DISK_FULL:
            return True
        if (
            sqlstate
            and sqlstate.startswith(_POSTGRES_SYSTEM_CLASSES)
            and "no space left on device" in str(current).lower()
        ):
            return True
        driver_error = getattr(current, "orig", None)  # SQLAlchemy wraps the driver's error
        current = (
            driver_error if isinstance(driver_error, BaseException) else (current.__cause__ or current.__context__)
        )
    return False


def as_disk_full(exc: BaseException, message: str = DISK_FULL_MESSAGE) -> DiskFull | None:
    """The plain-words error for a full disk, or None when `exc` is something else."""
    if isinstance(exc, DiskFull):
        return exc
    return DiskFull(message) if is_disk_full(exc) else None


@contextmanager
def disk_full_in_plain_words(message: str = DISK_FULL_MESSAGE) -> Iterator[None]:
    """Turn a full-disk error raised inside the block (or the decorated function) into `DiskFull(message)`."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        full = as_disk_full(exc, message)
        if full is None:
            raise
        raise full from exc
