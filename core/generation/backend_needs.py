"""What each way of generating needs before a run can start, in words, and the checks that need no network."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.models.resolver import ModelUnavailable, resolve_model

BACKEND_NEEDS = {
    "replay": "Needs nothing: no key, no network. It holds answers only for the labels and languages they were "
    "recorded for (the demo project's).",
    "openai": "Needs the server's address, a model it serves, and an API key, unless the server runs on this "
    "machine (Ollama, llama.cpp or vLLM at 127.0.0.1 or localhost need none).",
    "local": "Needs a model on this machine: a folder with the model's files (config.json and the weights), or the "
    "id of a model already downloaded. A GPU makes it much faster.",
}


def local_model_problem(spec: str) -> str | None:
    """Why `spec` cannot be a local model, checked without any download (a folder must exist and hold a model;
    a hub id is looked up when the run starts), or None."""
    spec = spec.strip()
    if not spec:
        return "Type the model: a folder on this machine (e.g. /models/Qwen2.5-0.5B-Instruct) or a downloaded model id."
    looks_like_a_path = spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or "\\" in spec
    if not (looks_like_a_path or Path(spec).expanduser().is_dir()):
        return None  # a hub id like org/name: the run looks for it in the cache (or downloads it when online)
    try:
        resolve_model(spec, provision=False)
    except ModelUnavailable as exc:
        return f"{exc} Give the folder that holds the model's config.json."
    return None


def start_problem(
    backend: str,
    model: str,
    problem: str | None,
    cells: Sequence[tuple[str, str]],
    recording: str | None = None,
) -> str | None:
    """Why a run with this backend cannot start for these (language, label) cells, or None. `problem`: what the
    backend's own check found (no key may go to the address, no model folder...)."""
    if problem:
        return problem
    if not model.strip():
        return "Type the name of the model first."
    if not cells:
        return "The plan asks for no sample: put a number in at least one cell."
    if backend == "replay":
        from core.generation.replay_backend import replay_problem

        return replay_problem(cells, recording)
    return None
