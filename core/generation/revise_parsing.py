"""Turning a revise pass's answer (KEEP / FIX / DROP per text) into verdicts, whatever shape the model gave it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from core.generation.answer_parsing import clean_text, json_segment, load_json_like

logger = logging.getLogger(__name__)

_ACTION_WORDS = {
    "keep": "keep",
    "ok": "keep",
    "okay": "keep",
    "good": "keep",
    "valid": "keep",
    "correct": "keep",
    "accept": "keep",
    "fix": "fix",
    "fixed": "fix",
    "corrected": "fix",
    "correction": "fix",
    "edit": "fix",
    "edited": "fix",
    "rewrite": "fix",
    "revised": "fix",
    "revise": "fix",
    "drop": "drop",
    "remove": "drop",
    "delete": "drop",
    "reject": "drop",
    "discard": "drop",
}
_ACTION = "|".join(sorted(_ACTION_WORDS, key=len, reverse=True))
_VERDICT = re.compile(
    r"^[\s#>*_\-•]*(?:(?:text|sample|item|no\.?|number)\s*)?(?P<num>\d{1,4})?[\s*_]*[.):\]\-–—#]?[\s*_]*"
    rf"(?P<action>{_ACTION})\b[\s*_]*[:\-–—=]?[\s*_]*(?P<rest>.*)$",
    re.I,
)
_VERDICT_AT_END = re.compile(
    r"^[\s#>*_\-•]*(?P<num>\d{1,4})[\s*_]*[.):\]\-–—]\s*.*?[\s\-–—:|(\[]"
    r"(?P<action>KEEP|FIX|DROP)\b[\s*_:\-–—)\]]*(?P<rest>.*)$"
)


@dataclass(frozen=True)
class RevisionVerdict:
    """The revise pass's decision on the sample at `index` (1-based, in the order they were listed).

    action: keep | fix (`text` is the corrected text) | drop (`reason` says why) | missing (no usable verdict:
    leave the sample as it was, unrevised; `reason` says what was wrong).
    """

    index: int
    action: Literal["keep", "fix", "drop", "missing"]
    text: str = ""
    reason: str = ""


def parse_revision(answer: str, n: int) -> list[RevisionVerdict]:
    """Exactly n verdicts, in order, from an answer in the revise format (one line per text):

        1. KEEP
        2. FIX: <the corrected text>
        3. DROP: <reason>

    Tolerant of case, spacing, markdown (**2. FIX:** ...), ')' or ':' after the number, synonyms (OK, REMOVE...),
    a FIX whose text is on the next line, lines without numbers (taken in order), and a JSON list of objects.
    The first verdict for a number wins; numbers outside 1..n are ignored.
    """
    found: dict[int, RevisionVerdict] = {}
    try:
        rows = _revision_json(answer) or _revision_lines(answer or "")
    except Exception:  # never let a strange answer stop a run
        logger.warning("a revise answer could not be read (a parser bug): no verdicts taken from it", exc_info=True)
        rows = []
    next_index = 1
    for number, action, rest in rows:
        index = number if number is not None else next_index
        next_index = index + 1
        if 1 <= index <= n and index not in found:
            found[index] = _verdict(index, action, rest)
    return [found.get(i) or RevisionVerdict(i, "missing", reason="no verdict in the answer") for i in range(1, n + 1)]


def _verdict(index: int, action: str, rest: str) -> RevisionVerdict:
    kind = _ACTION_WORDS.get(action.casefold(), "missing")
    rest = clean_text(rest.strip().strip("*_ ").strip())
    if kind == "keep":
        return RevisionVerdict(index, "keep")
    if kind == "fix":
        if not rest:
            return RevisionVerdict(index, "missing", reason="FIX without a corrected text")
        return RevisionVerdict(index, "fix", text=rest)
    if kind == "drop":
        return RevisionVerdict(index, "drop", reason=rest.strip("()[] ") or "no reason given")
    return RevisionVerdict(index, "missing", reason=f"unknown verdict '{action}'")


def _revision_lines(answer: str) -> list[tuple[int | None, str, str]]:
    rows: list[tuple[int | None, str, str]] = []
    for line in answer.replace("\r", "\n").split("\n"):
        if not line.strip():
            continue
        match = _VERDICT.match(line) or _VERDICT_AT_END.match(line)
        if match:
            number = match.group("num")
            rows.append((int(number) if number else None, match.group("action"), match.group("rest")))
        elif rows and _ACTION_WORDS.get(rows[-1][1].casefold()) == "fix" and not rows[-1][2].strip():
            rows[-1] = (rows[-1][0], rows[-1][1], line.strip())  # FIX: on one line, the text on the next
    return rows


def _revision_json(answer: str) -> list[tuple[int | None, str, str]]:
    segment, _before, _after = json_segment(answer or "")
    if segment is None:
        return []
    value, _rest = load_json_like(segment)
    items = value.get(next(iter(value)), []) if isinstance(value, dict) and len(value) == 1 else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return []
    rows: list[tuple[int | None, str, str]] = []
    for item in items:
        lowered = {str(k).casefold(): v for k, v in item.items()}
        number = next((lowered[k] for k in ("n", "number", "index", "id", "i") if k in lowered), None)
        action = next((str(lowered[k]) for k in ("verdict", "action", "decision") if k in lowered), "")
        rest = next((str(lowered[k]) for k in ("text", "fix", "corrected", "correction", "reason") if k in lowered), "")
        if action.strip():
            rows.append((int(str(number).strip()) if str(number).strip().isdigit() else None, action.strip(), rest))
    return rows
