"""What the commands print: JSON for programs, aligned plain-text tables for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.front.jobs import Job


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Columns padded to their widest cell, under a header and a line of dashes."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def short(text: str, width: int = 70) -> str:
    """The text on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def worker_of(job: Job) -> str:
    """Where a job started in the background runs, for the line the CLI prints."""
    if job.executor == "ray":
        return "a task on the Ray cluster; `jobs` shows its node"
    return f"worker process {job.worker_pid}"
