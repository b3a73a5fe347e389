"""Before a run sends anything: does the server serve the model (and under which id), and how many requests does
it work on at once.

llama.cpp's server answers to any model name with the one model it has, and echoes the name back: without this
check a run asking for `gpt-4o-mini` would store samples that say so. So a name the server's `/v1/models` does not
list is refused before any request, with the names it does list. A server that lists nothing (`/v1/models`
missing) cannot be checked: the run says so and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.generation.llm_backend import BackendError, LLMBackend

SHOWN_NAMES = 12


@dataclass(frozen=True)
class EndpointCheck:
    served: tuple[str, ...] | None  # the ids the server lists; None: it lists none (or is not a server)
    model_id: str | None  # the listed id the run's model name stands for
    slots: int | None  # requests it works on at once, where it says

    def describe(self, model: str) -> str:
        if self.served is None:
            return f"the server does not list its models, so the name '{model}' could not be checked"
        same = "" if self.model_id == model else f" (listed as '{self.model_id}')"
        return f"the server serves '{model}'{same}"


NOT_A_SERVER = EndpointCheck(None, None, None)


def matching_id(model: str, served: list[str]) -> str | None:
    """The listed id `model` names: itself, Ollama's `name:latest`, or the same name in other letter case."""
    if model in served:
        return model
    if f"{model}:latest" in served:
        return f"{model}:latest"
    lowered = {name.lower(): name for name in served}
    return lowered.get(model.lower())


def not_served_message(base_url: str, model: str, served: list[str]) -> str:
    more = len(served) - SHOWN_NAMES
    names = ", ".join(served[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")
    return (
        f"The server at {base_url} does not serve a model called '{model}'. It serves: {names or 'no model at all'}. "
        "Use one of these names (some servers, llama.cpp's among them, answer to any name with the one model they "
        "have, so the studio checks before it sends anything)."
    )


async def check_endpoint(backend: LLMBackend, model: str) -> EndpointCheck:
    """The check for an OpenAI-compatible server; other backends (a local model, recorded answers) need none.
    Raises BackendError when the server cannot be reached, refuses the key, or does not serve `model`."""
    list_models = getattr(backend, "list_models", None)
    if list_models is None:
        return NOT_A_SERVER
    try:
        served: list[str] | None = await list_models()
    except BackendError as error:
        if error.status == 404 or error.kind == "bad_answer":
            served = None  # no model list here: nothing to check against
        else:
            raise
    model_id = None
    if served is not None:
        model_id = matching_id(model, served)
        if model_id is None:
            raise BackendError(
                not_served_message(getattr(backend, "base_url", "the server"), model, served), kind="model_not_found"
            )
    slots = await backend.served_slots() if hasattr(backend, "served_slots") else None
    return EndpointCheck(tuple(served) if served is not None else None, model_id, slots)


@dataclass(frozen=True)
class ConnectionReport:
    """What "Check the connection" found, in words."""

    serves_model: bool
    text: str
    served: tuple[str, ...] | None = None  # the models it lists, when asked with no model


async def served_models(backend: LLMBackend) -> tuple[str, ...] | None:
    """The ids the server lists; None when it lists none. Raises BackendError when it cannot be reached or refuses
    the key."""
    list_models = getattr(backend, "list_models", None)
    if list_models is None:
        return None
    try:
        return tuple(await list_models())
    except BackendError as error:
        if error.status == 404 or error.kind == "bad_answer":
            return None
        raise


async def check_connection(backend: LLMBackend, model: str) -> ConnectionReport:
    """The server's models (and whether `model` is one of them; with no `model`, their names) and how many requests
    it works on at once. Raises BackendError when it cannot be reached or refuses the key."""
    if not model:
        served = await served_models(backend)
        if served is None:
            return ConnectionReport(True, "Connected. The server does not list its models.")
        more = len(served) - SHOWN_NAMES
        names = ", ".join(served[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")
        text = f"Connected: the server serves {len(served)} model(s): {names or 'none'}."
        return ConnectionReport(True, text, served)
    try:
        check = await check_endpoint(backend, model)
    except BackendError as error:
        if error.kind != "model_not_found":
            raise
        return ConnectionReport(False, f"Connected, but: {error}")
    if check.served is None:
        text = f"Connected. The server does not list its models, so the name '{model}' cannot be checked."
    else:
        listed = f" (listed as '{check.model_id}')" if check.model_id != model else ""
        text = f"Connected: the server serves '{model}'{listed}, among {len(check.served)} model(s)."
    if check.slots:
        text += f" It works on {check.slots} request(s) at once: a run sends no more than that at a time."
    return ConnectionReport(True, text)
