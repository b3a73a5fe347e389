"""Making the backend a run asked for (the API key comes from the environment, never from the run)."""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInput
from core.generation.llm_backend import LLMBackend, Timeouts
from core.settings import get_settings
from core.store.database import Store


def default_timeouts() -> Timeouts:
    settings = get_settings()
    return Timeouts(settings.llm_connect_timeout, settings.llm_idle_timeout, settings.llm_timeout)


def make_backend(
    backend: str,
    model: str,
    base_url: str | None = None,
    recording: str | None = None,
    *,
    timeouts: Timeouts | None = None,
    stream: bool = True,
    store: Store | None = None,
) -> LLMBackend:
    """`store`: the store the run is in; the endpoints owners set up there get their keys too (by address)."""
    if backend == "openai":
        from core.generation.endpoints import DEFAULT_BASE_URL
        from core.generation.openai_backend import OpenAIBackend, resolve_api_key

        api_key = resolve_api_key(None, base_url or DEFAULT_BASE_URL, store)
        return OpenAIBackend(base_url=base_url, api_key=api_key, timeout=timeouts or default_timeouts(), stream=stream)
    if backend == "local":
        from core.generation.local_backend import LocalBackend

        return LocalBackend(model)
    if backend == "replay":
        from core.generation.replay_backend import ReplayBackend

        return ReplayBackend(Path(recording) if recording else None)
    raise InvalidInput(f"Unknown backend '{backend}': use openai, local or replay.")
