"""Reading a streamed chat completion (server-sent events, as OpenAI, vLLM, llama.cpp, Ollama and LM Studio send
them) into the one completion object that `parse_chat_body` checks, counting tokens as they arrive.

What servers really send: `data: {chunk}` lines, each chunk with `choices[0].delta.content` (or
`reasoning_content` for reasoning models, which is counted but is not the answer), a `finish_reason` in the last
chunk, usage in a chunk with no choices when `stream_options.include_usage` is honoured, `: keep-alive` comments,
and `data: [DONE]`. A server that meets a problem mid-answer sends `data: {"error": ...}`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from core.generation.llm_backend import BackendError, StreamWatch

_SNIPPET = 120


@dataclass
class StreamedAnswer:
    """The pieces of an answer as they came."""

    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    tokens: int = 0  # content (and reasoning) chunks: a token each on the servers that stream token by token
    done: bool = False  # `data: [DONE]` came
    chose: bool = False  # a chunk had a choice (a stream of chunks without any is an answer with no choices)

    def as_completion(self) -> dict[str, Any]:
        """A chat completion object as a non-streaming answer would have been."""
        text = "".join(self.content)
        return {
            "object": "chat.completion",
            "model": self.model,
            "choices": []
            if not self.chose
            else [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": text if (text or self.finish_reason) else None,
                        "refusal": "".join(self.refusal) or None,
                    },
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage,  # none sent: no counts (the chunks, counted in `tokens`, are only an estimate)
        }


async def collect_stream(
    lines: AsyncIterator[str], watch: StreamWatch | None, redact_text: Callable[[str], str]
) -> StreamedAnswer:
    """Read the event stream to its end; BackendError for a part that is not an OpenAI chunk, an error sent
    mid-answer, or a stream that stops before the answer is complete."""
    answer = StreamedAnswer()
    async for line in lines:
        if not line or line.startswith(":"):
            continue  # event separators and keep-alive comments
        name, _, value = line.partition(":")
        if name != "data":
            continue  # event:, id:, retry: carry nothing an answer needs
        data = value.strip()
        if data == "[DONE]":
            answer.done = True
            break
        _take(answer, _chunk(data, redact_text), watch, redact_text)
    if not answer.done and answer.finish_reason is None:
        raise BackendError(
            f"The connection broke before the answer was complete ({answer.tokens} tokens had come).",
            kind="unreachable",
        )
    return answer


def _chunk(data: str, redact_text: Callable[[str], str]) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        snippet = redact_text(data[:_SNIPPET]).strip()
        raise BackendError(
            f"The server's streamed answer had a part that is not JSON (it began: {snippet!r}): is it an "
            "OpenAI-compatible server?",
            kind="bad_answer",
        ) from None
    if not isinstance(chunk, dict):
        raise BackendError("The server's streamed answer had a part that is not a chunk object.", kind="bad_answer")
    return chunk


def _take(answer: StreamedAnswer, chunk: dict[str, Any], watch: StreamWatch | None, redact: Callable) -> None:
    if chunk.get("error"):
        error = chunk["error"]
        said = redact(str(error.get("message") if isinstance(error, dict) else error))[:300]
        raise BackendError(
            f"The server stopped the answer with an error: {said or 'no reason given'}", kind="server", detail=said
        )
    if isinstance(chunk.get("model"), str) and chunk["model"]:
        answer.model = chunk["model"]
    if isinstance(chunk.get("usage"), dict):
        answer.usage = chunk["usage"]
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        answer.chose = True
        raw_delta = choice.get("delta")
        delta = raw_delta if isinstance(raw_delta, dict) else {}
        piece, reasoning, refusal = delta.get("content"), delta.get("reasoning_content"), delta.get("refusal")
        counted = False
        if isinstance(piece, str) and piece:
            answer.content.append(piece)
            counted = True
        if isinstance(reasoning, str) and reasoning:
            counted = True
        if isinstance(refusal, str) and refusal:
            answer.refusal.append(refusal)
        if counted:
            answer.tokens += 1
            if watch is not None:
                watch.token()
        if isinstance(choice.get("finish_reason"), str):
            answer.finish_reason = choice["finish_reason"]
