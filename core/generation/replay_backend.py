"""`replay`: answers recorded earlier, served again (demos, tests). The UI always shows them as recorded.

A recording holds answers per cell, `<language>|<label>` (`<language>|baseline` for classification answers): it
serves only the labels and languages it was recorded for (the demo's: the demo project's)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from core.errors import InvalidInput
from core.generation.llm_backend import BackendError, ChatAnswer, ChatRequest, StreamWatch
from core.language_names import language_name

DEMO_RECORDING = Path(__file__).resolve().parents[1] / "demo_data" / "demo_recording.json"
_NAMED = 4  # missing cells named in a message before "and N more"


class RecordingUnavailable(InvalidInput):
    """The recording file is missing or unreadable."""


class RecordingMissing(BackendError):
    """The recording has no answer for a request's cell: asking again cannot help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="bad_request")


class ReplayBackend:
    name = "replay"
    recorded = True

    def __init__(self, recording: Path | None = None) -> None:
        data = _read(_path(recording))
        self.model = str(data.get("recorded_model", "recording"))
        self.answers: dict[str, list[str]] = {k: list(v) for k, v in dict(data.get("answers", {})).items() if v}

    def cells(self) -> list[str]:
        return sorted(self.answers)

    async def complete(self, request: ChatRequest, watch: StreamWatch | None = None) -> ChatAnswer:
        """The whole answer at once (`watch` is not used: nothing streams)."""
        key = f"{request.metadata.get('language', '')}|{request.metadata.get('label', '')}"
        answers = self.answers.get(key)
        if not answers:
            raise RecordingMissing(
                f"The recording has no answer for {_cell_name(key)}; it has: {', '.join(self.cells())}."
            )
        text = answers[(request.seed or 0) % len(answers)]
        return ChatAnswer(
            text=text,
            prompt_tokens=None,
            completion_tokens=None,
            finish_reason="stop",
            model=self.model,
            raw={"recorded": True, "cell": key},
        )


def _path(recording: Path | str | None) -> Path:
    return Path(recording) if recording else DEMO_RECORDING


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingUnavailable(f"There is no recording at '{path}'.") from None
    except json.JSONDecodeError as exc:
        raise RecordingUnavailable(f"The recording '{path.name}' is not valid JSON (line {exc.lineno}).") from None


def _recorded_answers(path: Path) -> dict[str, list[str]]:
    data = _read(path)
    return {k: list(v) for k, v in dict(data.get("answers", {})).items() if v}


def _cell_name(cell: str) -> str:
    language, _, label = cell.partition("|")
    return f"{language_name(language)} × {label}"


def missing_cells(cells: Iterable[str], recording: Path | str | None = None) -> list[str]:
    """The `<language>|<label>` cells a recording has no answers for (`<language>|baseline`: classification)."""
    answers = _recorded_answers(_path(recording))
    return [cell for cell in cells if cell not in answers]


def replay_problem(cells: Iterable[tuple[str, str]], recording: Path | str | None = None) -> str | None:
    """Why recorded answers cannot serve these (language, label) cells, in words, with what to do; None: they can."""
    wanted = [f"{language}|{label}" for language, label in cells]
    missing = missing_cells(wanted, recording)
    if not missing:
        return None
    named = ", ".join(_cell_name(c) for c in missing[:_NAMED])
    more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
    answers = _recorded_answers(_path(recording))
    labels = sorted({c.partition("|")[2] for c in answers} - {"baseline"})
    languages = sorted({language_name(c.partition("|")[0]) for c in answers})
    return (
        f"The recorded answers hold nothing for {named}{more}: they were recorded for other labels and languages "
        f"(labels {', '.join(labels) or 'none'}; languages {', '.join(languages) or 'none'}). Pick an "
        "OpenAI-compatible server or a local model, or set those cells to 0."
    )


@lru_cache(maxsize=8)
def _samples_per_answer(path: Path, mtime: float, per_request: int) -> dict[str, float]:
    from core.generation.answer_parsing import parse_samples

    return {
        cell: statistics.median(len(parse_samples(text, n_expected=per_request).samples) for text in texts)
        for cell, texts in _recorded_answers(path).items()
    }


def samples_per_answer(cell: tuple[str, str], per_request: int, recording: Path | str | None = None) -> float | None:
    """How many samples one recorded answer of this cell gives (the median of its answers), or None."""
    path = _path(recording)
    try:
        found = _samples_per_answer(path, path.stat().st_mtime, per_request)
    except (OSError, InvalidInput):
        return None
    return found.get(f"{cell[0]}|{cell[1]}")
