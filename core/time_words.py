"""Durations in words for people: how long something ran, and a rough guess of how long something will take."""

from __future__ import annotations


def elapsed_words(seconds: float) -> str:
    """An exact-looking duration: '45 s', '3 min 05 s', '1 h 02 min'."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rough_words(seconds: float) -> str:
    """A guess, rounded as a guess should be: 'under a minute', 'about 4 minutes', 'about 1 hour 20 minutes'."""
    if seconds < 50:
        return "under a minute"
    minutes = seconds / 60
    if minutes < 1.5:
        return "about a minute"
    if minutes < 15:
        return f"about {round(minutes)} minutes"
    if minutes < 55:
        return f"about {5 * round(minutes / 5)} minutes"
    hours, rest = divmod(10 * round(minutes / 10), 60)
    hour_words = "1 hour" if hours == 1 else f"{hours} hours"
    return f"about {hour_words}" + (f" {rest} minutes" if rest else "")
