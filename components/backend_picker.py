"""Choosing the LLM that writes samples: an OpenAI-compatible server, a local model, or recorded answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import streamlit as st

from components.feedback import friendly_errors
from core.secrets import get_secret

BACKEND_NAMES = {
    "replay": "Recorded answers (replay: no network, no key)",
    "openai": "OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, TGI, Azure)",
    "local": "A local model on this machine (transformers)",
}
KEY_STATE = "openai_api_key"  # lives only in this browser session (and a worker's environment)


@dataclass(frozen=True)
class BackendChoice:
    backend: str
    model: str
    base_url: str | None
    api_key: str | None  # typed into the page; never stored

    @property
    def worker_env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": self.api_key} if self.api_key else {}


def backend_picker(key: str) -> BackendChoice:
    backend = st.selectbox(
        "Who writes the samples", list(BACKEND_NAMES), format_func=BACKEND_NAMES.get, key=f"{key}_backend"
    )
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
        )
        return BackendChoice("local", model.strip(), None, None)
    left, right = st.columns(2)
    base_url = left.text_input(
        "Server address (base URL)",
        key=f"{key}_base_url",
        placeholder="empty = OpenAI · e.g. http://127.0.0.1:8000/v1 for vLLM",
    )
    model = right.text_input("Model", value="gpt-4o-mini", key=f"{key}_model")
    has_key = bool(get_secret("OPENAI_API_KEY"))
    typed = st.text_input(
        "API key",
        type="password",
        key=KEY_STATE,
        help="Kept only in this browser session and handed to the worker through its environment: never saved "
        "in the database, a job or a log."
        + (" A key from the environment or secrets.toml is used when this is empty." if has_key else ""),
        placeholder="set in the environment / secrets.toml" if has_key else "sk-…",
    )
    choice = BackendChoice("openai", model.strip(), base_url.strip() or None, typed.strip() or None)
    if st.button("Check the connection", key=f"{key}_check", icon=":material/wifi_tethering:"):
        with friendly_errors("Checking the connection"):
            models = asyncio.run(_list_models(choice))
            known = choice.model in models
            st.success(
                f"Connected: {len(models)} models available."
                + ("" if known else f" Note: '{choice.model}' is not among them.")
            )
    return choice


async def _list_models(choice: BackendChoice) -> list[str]:
    from core.generation.openai_backend import OpenAIBackend

    async with OpenAIBackend(choice.base_url, choice.api_key, timeout=15.0) as backend:
        return await backend.list_models()
