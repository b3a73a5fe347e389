"""Texts per second for progress lines: "Labelled 3,200 of 14,459 texts (41 texts/s)"."""

from __future__ import annotations

import time


class Throughput:
    """Counts texts done since it was made; `rate` is texts per wall second (what a person waiting sees)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = 0

    def add(self, texts: int) -> None:
        self.done += texts

    def rate(self) -> float:
        seconds = time.monotonic() - self.started
        return self.done / seconds if seconds > 0 else 0.0

    def words(self) -> str:
        """'41 texts/s' (one decimal below 10), or '' before the first text is done."""
        if not self.done:
            return ""
        rate = self.rate()
        return f"{rate:,.1f} texts/s" if rate < 10 else f"{rate:,.0f} texts/s"

    def labelled(self, total: int, what: str = "texts") -> str:
        """'Labelled k of N texts (r texts/s)'."""
        speed = self.words()
        return f"Labelled {self.done:,} of {total:,} {what}" + (f" ({speed})" if speed else "")
