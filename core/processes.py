"""Whether a process still exists (used to find dead workers and abandoned build folders)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path


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


def process_started_at(pid: int) -> datetime | None:
    """When the process `pid` started, naive UTC, rounded down (Linux: /proc); None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        seconds = int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
