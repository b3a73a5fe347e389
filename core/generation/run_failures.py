"""Why a generation run failed, stored as a kind (`generation_runs.failure_kind`), and what a person can do next.

The kind is decided where the error is caught (the engine, the job), so pages never parse a message. It also says
whether a resume can help: a resume sends the same requests with the same settings, so it helps when the failure
was the server's state (down, overloaded, out of quota) and not when it was the run's own settings (a refused key,
a model the server does not have, recorded answers without these cells, a prompt that cannot be filled in).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInput, NotFound
from core.generation.llm_backend import BackendError
from core.store import generation_runs
from core.store.database import Store
from core.store.generation_runs import GenerationRun


@dataclass(frozen=True)
class FailureAdvice:
    kind: str
    next_step: str  # what to do, in words
    resume_helps: bool


_ADVICE: dict[str, tuple[str, bool]] = {
    "auth": (
        "Check the API key: type the key for this server under *Who writes the samples* (a key set up on the "
        "studio's server goes only to its own address; Settings lists them), then start a new run. Resuming would "
        "send the same requests with the same key.",
        False,
    ),
    "model_not_found": (
        "Pick a model the server serves (*Check the connection* lists them), then start a new run.",
        False,
    ),
    "no_recording": (
        "The recorded answers only cover the labels and languages they were recorded for. Pick an "
        "OpenAI-compatible server or a local model, then start a new run.",
        False,
    ),
    "local_model": (
        "Give a model folder on this machine (one with a config.json) or a model id that is already downloaded, "
        "then start a new run.",
        False,
    ),
    "settings": (
        "Fix the prompt template on the Prompts page (its preview shows the problem for each cell) or the run's "
        "settings, then start a new run.",
        False,
    ),
    "bad_request": (
        "The server refused the requests as they were sent: check the model name and the settings under "
        "*Advanced* (for example turn off JSON output, or lower max tokens), then start a new run.",
        False,
    ),
    "unreachable": (
        "Start the server or check its address, then resume: answers already received are not asked for again.",
        True,
    ),
    "rate_limited": (
        "The server's rate limit or quota stopped the run: wait, or add credit to the account, then resume.",
        True,
    ),
    "server": ("The server had errors: resume when it works again.", True),
    "timeout": (
        "The server took too long: resume, or allow more time under *Advanced* (silence allowed, time limit per "
        "answer) in a new run.",
        True,
    ),
    "bad_answer": ("The server's answers could not be read: resume, or try another model in a new run.", True),
    "refused": ("The model refused to write these samples: change the prompt or the model in a new run.", False),
    "other": ("Resume to try again; if it fails the same way, start a new run with other settings.", True),
}


def failure_kind(error: BaseException) -> str:
    """The kind of failure an exception stands for."""
    from core.generation.replay_backend import RecordingMissing, RecordingUnavailable
    from core.models.resolver import ModelUnavailable

    if isinstance(error, (RecordingMissing, RecordingUnavailable)):
        return "no_recording"
    if isinstance(error, BackendError):
        return error.kind if error.kind in _ADVICE else "other"
    if isinstance(error, ModelUnavailable):
        return "local_model"
    if isinstance(error, (InvalidInput, NotFound)):
        return "settings"  # after a run started, only its template and settings raise these
    return "other"


def fail_run(store: Store, run_id: int, error: BaseException, message: str | None = None) -> None:
    """Mark a run failed, with the error's message (or `message`) and its kind (what the page advises from)."""
    generation_runs.mark_failed(store, run_id, message if message is not None else str(error), failure_kind(error))


def advice(kind: str | None) -> FailureAdvice:
    """What to do after a failure of this kind (None or unknown: a failure without a stored kind, e.g. older runs)."""
    next_step, resume_helps = _ADVICE.get(kind or "other", _ADVICE["other"])
    return FailureAdvice(kind or "other", next_step, resume_helps)


@dataclass(frozen=True)
class ResumeCheck:
    helps: bool  # whether the page offers a resume
    next_step: str  # what to do, in words ("" when nothing needs saying)


def resume_check(store: Store, run: GenerationRun) -> ResumeCheck:
    """Whether resuming this run can get anything more, and what to do next."""
    if run.status == "done":
        return ResumeCheck(False, "")
    if run.status == "failed":
        found = advice(run.failure_kind)
        return ResumeCheck(found.resume_helps, found.next_step)
    if run.status == "incomplete" and not _resume_would_send(store, run):
        return ResumeCheck(
            False,
            "The cells that fell short have sent every request they may, so resuming would send nothing. Start a "
            "new run for them (another model, or fewer samples asked per request under *Advanced*).",
        )
    return ResumeCheck(True, "Resume to send what has no answer yet." if run.status == "incomplete" else "")


def _resume_would_send(store: Store, run: GenerationRun) -> bool:
    """A resume sends the requests without an answer, then new ones for short cells with requests left."""
    from core.generation.engine import request_budget, settings_of

    counts = generation_runs.run_counts(store, run.id)
    if counts.failed or counts.unsent:
        return True
    settings = settings_of(run)
    return any(
        counts.samples.get(cell, 0) < n and counts.requests.get(cell, 0) < request_budget(n, settings)
        for cell, n in run.cells()
    )
