"""Whether the studio may serve on an address (core.serving): the launcher and app.py ask the same question."""

from __future__ import annotations

from core.serving import bind_problem as bind_problem
from core.serving import is_loopback as is_loopback
