"""What a person reads in an AppTest element: the page escapes user text for Markdown (components.safe_text.md),
so the tests read the value with those escapes taken out again, as the browser shows it."""

from __future__ import annotations

import re
from typing import Any

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(markdown: str) -> str:
    """The text a browser shows for a Markdown body made with md()/say(): escapes, word joiners and hard breaks
    taken out (the emphasis markers of the page's own Markdown stay)."""
    return _ESCAPED.sub(r"\1", markdown).replace("\u2060", "").replace("  \n", "\n")


def texts(elements: Any) -> str:
    """Every element's text, as shown, in one string."""
    return " ".join(shown(str(e.value)) for e in elements)
