"""`replay`: answers recorded earlier, served again (demos, tests). The UI always shows them as recorded."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import InvalidInput
from core.generation.llm_backend import BackendError, ChatAnswer, ChatRequest, StreamWatch

DEMO_RECORDING = Path(__file__).resolve().parents[1] / "demo_data" / "demo_recording.json"


class ReplayBackend:
    name = "replay"
    recorded = True

    def __init__(self, recording: Path | None = None) -> None:
        path = Path(recording) if recording else DEMO_RECORDING
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"There is no recording at '{path}'.") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"The recording '{path.name}' is not valid JSON (line {exc.lineno}).") from None
        self.model = str(data.get("recorded_model", "recording"))
        self.answers: dict[str, list[str]] = {k: list(v) for k, v in dict(data.get("answers", {})).items() if v}

    def cells(self) -> list[str]:
        return sorted(self.answers)

    async def complete(self, request: ChatRequest, watch: StreamWatch | None = None) -> ChatAnswer:
        """The whole answer at once (`watch` is not used: nothing streams)."""
        key = f"{request.metadata.get('language', '')}|{request.metadata.get('label', '')}"
        answers = self.answers.get(key)
        if not answers:
            raise BackendError(
                f"The recording has no answer for {key.replace('|', ' × ')}; it has: {', '.join(self.cells())}.",
                kind="bad_request",
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
