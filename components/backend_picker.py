"""Choosing the LLM that writes samples: an OpenAI-compatible server, a local model, or recorded answers. The
Generate page, the prompt's try-out, baselines and targeted generation all choose here.

A server is picked by name among the named endpoints (OPENAI_API_KEY's, those of secrets.toml, those owners set up
on the Team page), whose key only ever goes to its own address; or typed: another address goes with a key typed
here, or with none for a server on this machine (core.generation.endpoints decides, here and in the workers started
from here)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import streamlit as st

from components.feedback import friendly_errors
from components.safe_text import md
from components.studio_state import current_actor
from core.front.generation import (
    BACKEND_NEEDS,
    KeyRefused,
    check_key,
    check_server,
    configured_endpoints,
    is_local_url,
    local_model_problem,
    normalize_url,
    session_key_env,
)

BACKEND_NAMES = {
    "replay": "Recorded answers (replay: no network, no key)",
    "openai": "OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, TGI, Azure)",
    "local": "A local model on this machine (transformers)",
}
KEY_STATE = "openai_api_key"  # lives only in this browser session (and a worker's environment)
KEY_URL_STATE = "openai_api_key_for"  # the address that key was typed for
OTHER_SERVER = "_other"
OTHER_SERVER_WORDS = "Another server (type its address and key)"
OTHER_MODEL = "_other_model"
NO_MODEL = "Type the name of the model, as the server calls it (Check the connection lists them)."


@dataclass(frozen=True)
class BackendChoice:
    backend: str
    model: str
    base_url: str | None
    api_key: str | None  # typed into the page; never stored
    problem: str | None = None  # why it cannot start (no key may go to this address)

    @property
    def ready(self) -> bool:
        return bool(self.model) and self.problem is None

    @property
    def worker_env(self) -> dict[str, str]:
        """A worker started from a page: keys bound to addresses, and the key typed here for this address."""
        return session_key_env(self.api_key, self.base_url)


def resume_env() -> dict[str, str]:
    """The environment of a resumed run's worker: the key typed in this session goes only to the address it was
    typed for (the worker compares it with the run's)."""
    return session_key_env(st.session_state.get(KEY_STATE) or None, st.session_state.get(KEY_URL_STATE))


def backend_picker(key: str, *, show_problem: bool = True) -> BackendChoice:
    """The backend, model and address; `problem` says why it cannot start yet (shown here unless the page shows it
    next to its own Start button: `show_problem=False`)."""
    backend = st.selectbox(
        "Who writes the samples", list(BACKEND_NAMES), format_func=BACKEND_NAMES.get, key=f"{key}_backend"
    )
    st.caption(":material/checklist: " + BACKEND_NEEDS[backend])
    if backend == "replay":
        st.caption(
            ":material/history: **Recorded** answers from earlier runs are served again — the studio shows "
            "them as recorded. Good for demos and for trying the studio without a key."
        )
        return BackendChoice("replay", "demo-recording", None, None)
    if backend == "local":
        model = st.text_input(
            "Model (hub id or folder on this machine)",
            key=f"{key}_local_model",
            placeholder="/models/Llama-3.2-1B-Instruct or org/name (must be cached)",
        ).strip()
        choice = BackendChoice("local", model, None, None, local_model_problem(model))
        if choice.problem and show_problem:
            st.warning(md(choice.problem), icon=":material/folder_off:")
        return choice
    choice = _server_choice(key)
    if choice.problem and show_problem:
        st.warning(md(choice.problem), icon=":material/key_off:")
    if st.button(
        "Check the connection", key=f"{key}_check", icon=":material/wifi_tethering:", disabled=bool(choice.problem)
    ):
        with friendly_errors("Checking the connection"):
            report = asyncio.run(check_server(current_actor(), choice.base_url, choice.api_key, choice.model))
            (st.success if report.serves_model else st.warning)(md(report.text))
    return choice


def _server_choice(key: str) -> BackendChoice:
    actor = current_actor()
    endpoints = {e.name: e for e in configured_endpoints(actor)}
    server = st.selectbox(
        "Server",
        [*endpoints, OTHER_SERVER],
        format_func=lambda n: f"{n} · {endpoints[n].base_url}" if n in endpoints else OTHER_SERVER_WORDS,
        key=f"{key}_server",
        help="Named endpoints (set up by owners on the Team page, or in the server's secrets.toml) use their own "
        "key, which only ever goes to their own address. Another server needs a key typed here, unless it runs on "
        "this machine.",
    )
    if server in endpoints:
        endpoint = endpoints[server]
        model = _endpoint_model(key, endpoint.name, endpoint.models)
        try:
            check_key(actor, endpoint.base_url, None)
        except KeyRefused as refused:
            return BackendChoice("openai", model, endpoint.base_url, None, str(refused))
        return BackendChoice("openai", model, endpoint.base_url, None, None if model else NO_MODEL)
    left, right = st.columns(2)
    base_url = left.text_input(
        "Server address (base URL)",
        key=f"{key}_base_url",
        placeholder="empty = OpenAI · e.g. http://127.0.0.1:8000/v1 for vLLM, http://127.0.0.1:11434/v1 for Ollama",
    ).strip()
    model = right.text_input("Model", value="gpt-4o-mini", key=f"{key}_model").strip()
    typed = st.text_input(
        "API key",
        type="password",
        key=KEY_STATE,
        help="Kept only in this browser session and handed to the worker through its environment: never saved "
        "in the database, a job or a log. It is sent only to the address above. A server on this machine needs none.",
        placeholder="not needed for a server on this machine" if base_url and is_local_url(base_url) else "sk-…",
    ).strip()
    if typed:
        st.session_state[KEY_URL_STATE] = normalize_url(base_url or None)
    try:
        check_key(actor, base_url, typed or None)
    except KeyRefused as refused:
        return BackendChoice("openai", model, base_url or None, None, str(refused))
    return BackendChoice("openai", model, base_url or None, typed or None, None if model else NO_MODEL)


def _endpoint_model(key: str, name: str, models: tuple[str, ...]) -> str:
    """One of the endpoint's models, or one typed (the list may not have every model the server serves)."""
    if not models:
        return st.text_input("Model", value="gpt-4o-mini", key=f"{key}_model_{name}").strip()
    model = st.selectbox(
        "Model",
        [*models, OTHER_MODEL],
        format_func=lambda m: "another model (type its name)" if m == OTHER_MODEL else m,
        key=f"{key}_model_{name}",
    )
    if model != OTHER_MODEL:
        return model
    return st.text_input("Model name", key=f"{key}_typed_model_{name}", placeholder=NO_MODEL).strip()
