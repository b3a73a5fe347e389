"""Whether a process still exists (used to find dead workers and abandoned build folders)."""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
