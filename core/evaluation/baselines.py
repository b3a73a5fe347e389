"""The paper's baselines: the LLM itself as the classifier of the human test split, through the generation backends.

`zero-shot`: the task and the labels only; `synthetic-icl` / `human-icl`: k accepted TRAIN samples per label of the
test text's language first. One request per test sample, all saved before any is sent; answers are mapped to
labels tolerantly (`answer_mapping`), unusable ones counted and kept. Retries, backoff and the errors that stop a
run are the generation engine's; a resume sends only the requests without an answer. A finished baseline is
evaluated like a trained run. The replay backend answers from a recording's `<language>|baseline` answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInput, RunAlreadyRunning, StudioError
from core.evaluation import baseline_store
from core.evaluation.answer_mapping import LabelVocabulary
from core.evaluation.baseline_prompts import MODES, classification_messages, examples_for
from core.evaluation.baseline_store import BaselineRun, PendingRequest
from core.evaluation.evaluations import Evaluation, save_evaluation
from core.evaluation.metrics import hash_test_ids
from core.evaluation.model_scores import load_test_set
from core.generation.backends import default_timeouts
from core.generation.endpoint_check import check_endpoint
from core.generation.engine import BACKENDS, Estimate
from core.generation.llm_backend import (
    BackendError,
    ChatRequest,
    LLMBackend,
    RetryPolicy,
    Timeouts,
    estimate_cost,
)
from core.generation.request_sender import RequestSender, RunCancelled
from core.language_names import language_name
from core.store import llm_requests
from core.store.database import Store
from core.store.projects import Project, get_project
from core.store.schema import utcnow
from core.store.training_runs import run_id_named

if TYPE_CHECKING:
    from core.jobs.lifecycle import Launched
    from core.jobs.queue import Job

MAX_NAME = 200
ANSWER_TOKENS = 5  # a label, roughly, for the estimate


@dataclass
class BaselineSettings:
    name: str
    backend: str
    model: str
    mode: str = "zero-shot"
    k: int = 0  # in-context examples per label (icl modes)
    base_url: str | None = None
    languages: list[str] | None = None  # default: every language of the test split
    concurrency: int = 8
    temperature: float = 0.0
    max_tokens: int = 64
    seed: int | None = None
    recording: str | None = None  # replay: a recording file
    # seconds, as for generation runs (None: the settings' defaults)
    connect_timeout: float | None = None
    idle_timeout: float | None = None
    timeout: float | None = None

    def validate(self, project: Project) -> None:
        self.name = " ".join((self.name or "").split())
        if not self.name or len(self.name) > MAX_NAME:
            raise InvalidInput(f"A baseline needs a name of at most {MAX_NAME} characters.")
        if self.backend not in BACKENDS:
            raise InvalidInput(f"Unknown backend '{self.backend}': use {', '.join(BACKENDS)}.")
        if self.mode not in MODES:
            raise InvalidInput(f"Unknown baseline mode '{self.mode}': use {', '.join(MODES)}.")
        if not self.model.strip():
            raise InvalidInput("Name the model to classify with.")
        if self.mode == "zero-shot":
            self.k = 0
        elif self.k < 1:
            raise InvalidInput(f"The {self.mode} baseline needs k, the number of examples per label (e.g. --k 5).")
        if self.concurrency < 1 or self.max_tokens < 1:
            raise InvalidInput("Concurrency and the answer length must be at least 1.")
        for code in self.languages or []:
            if code not in project.language_codes:
                raise InvalidInput(f"The project has no language '{code}' ({language_name(code)}).")


@dataclass(frozen=True)
class BaselineOutcome:
    status: str
    message: str
    counts: dict[str, int]


def language_seed(seed: int, language: str) -> int:
    digest = hashlib.sha256(f"{seed}|{language}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _check_name_free(store: Store, project: Project, name: str) -> None:
    if baseline_store.find_baseline(store, project.id, name) is not None:
        raise InvalidInput(f"This project already has a baseline called '{name}': pick another name.")
    if run_id_named(store, project.id, name) is not None:
        raise InvalidInput(f"'{name}' is already the name of a training run: give the baseline another name.")


@dataclass(frozen=True)
class BaselinePlan:
    requests: list[dict[str, Any]]  # sample_id, language, true_label, seed, messages
    examples_shown: dict[str, int]  # in-context examples per language
    test_hash: str


def plan_baseline(store: Store, project: Project, settings: BaselineSettings, seed: int) -> BaselinePlan:
    """One rendered prompt per human test sample (in-context examples fixed per language by the seed)."""
    test = load_test_set(store, project, settings.languages)
    if not test.sample_ids:
        raise InvalidInput(
            "There are no labelled human test samples to classify"
            + (f" in {', '.join(settings.languages)}" if settings.languages else "")
            + ": import some with --split test --origin human."
        )
    examples = {
        language: examples_for(store, project, language, settings.mode, settings.k, language_seed(seed, language))
        for language in sorted(set(test.languages))
    }
    requests = [
        {
            "sample_id": sample_id,
            "language": language,
            "true_label": label,
            "seed": language_seed(seed, f"{language}|{sample_id}"),
            "messages": classification_messages(project, language, text, examples[language]),
        }
        for sample_id, text, label, language in zip(
            test.sample_ids, test.texts, test.labels, test.languages, strict=True
        )
    ]
    shown = {language: len(chosen) for language, chosen in examples.items()}
    return BaselinePlan(requests, shown, hash_test_ids(test.sample_ids))


def estimate_baseline(store: Store, project_ref: int | str, settings: BaselineSettings) -> Estimate:
    """Before a baseline: requests, tokens (rough: 4 characters a token) and cost where the model's price is known."""
    project = get_project(store, project_ref)
    settings.validate(project)
    plan = plan_baseline(store, project, settings, settings.seed if settings.seed is not None else 0)
    chars = sum(len(m["content"]) for r in plan.requests for m in r["messages"])
    prompt_tokens, completion_tokens = chars // 4, ANSWER_TOKENS * len(plan.requests)
    cost = estimate_cost(settings.model, prompt_tokens, completion_tokens)
    return Estimate(len(plan.requests), prompt_tokens, completion_tokens, cost)


def start_baseline(store: Store, project_ref: int | str, settings: BaselineSettings) -> BaselineRun:
    """Validate, render one prompt per test sample and save them all with the run (nothing is sent yet)."""
    project = get_project(store, project_ref)
    settings.validate(project)
    _check_name_free(store, project, settings.name)
    if settings.seed is None:
        settings.seed = random.SystemRandom().randrange(2**31)
    plan = plan_baseline(store, project, settings, settings.seed)
    params = {k: v for k, v in asdict(settings).items() if k not in ("name", "backend", "model", "base_url", "mode")}
    params["examples_shown"] = plan.examples_shown
    params["notes"] = _example_notes(settings, plan.examples_shown, len(project.labels))
    return baseline_store.create_baseline(
        store,
        plan.requests,
        project_id=project.id,
        name=settings.name,
        mode=settings.mode,
        k=settings.k,
        backend=settings.backend,
        model=settings.model,
        base_url=settings.base_url,
        params=params,
        test_hash=plan.test_hash,
    )


def _example_notes(settings: BaselineSettings, shown: dict[str, int], labels: int) -> list[str]:
    if settings.mode == "zero-shot":
        return []
    origin = "human" if settings.mode == "human-icl" else "accepted synthetic"
    return [
        f"{language_name(language)}: {n} {origin} train examples in the prompt instead of {settings.k * labels} "
        f"({settings.k} per label)"
        for language, n in shown.items()
        if n < settings.k * labels
    ]


def submit_baseline(store: Store, baseline: BaselineRun) -> Job:
    """Queue the `baseline` job of a started (or interrupted) baseline, to run here (core.jobs.lifecycle.run_here)."""
    return launch_baseline(store, baseline, background=False).job


def launch_baseline(
    store: Store, baseline: BaselineRun, *, extra_env: dict[str, str] | None = None, background: bool = True
) -> Launched[BaselineRun]:
    """Launch the `baseline` job of a started (or interrupted) baseline (`extra_env`: a key for the worker only).
    A local model fills the machine: its job is heavy."""
    from core.jobs.lifecycle import Launched, launch

    def record(job: Job) -> None:
        baseline_store.set_baseline(store, baseline.id, job_id=job.id)

    try:
        job = launch(
            store,
            "baseline",
            {"baseline_id": baseline.id},
            project_id=baseline.project_id,
            heavy=baseline.backend == "local",
            extra_env=extra_env,
            background=background,
            on_queued=record,
        )
    except RunAlreadyRunning as exc:  # another resume (another page, the CLI, another machine) was first
        raise RunAlreadyRunning(
            f"The baseline '{baseline.name}' is already running as job #{exc.job_id}: wait for it to finish, "
            "or cancel that job, before resuming it.",
            run_key=exc.run_key,
            job_id=exc.job_id,
        ) from None
    return Launched(baseline_store.get_baseline_by_id(store, baseline.id), job)


def resume_baseline(store: Store, project_ref: int | str, name: str) -> BaselineRun:
    """A baseline that stopped (failed, cancelled, incomplete) made ready to send only its unanswered requests."""
    project = get_project(store, project_ref)
    baseline = baseline_store.get_baseline(store, project.id, name)
    if baseline.active and baseline.job_id is not None:
        raise StudioError(f"The baseline '{name}' is still {baseline.status} (job #{baseline.job_id}).")
    if baseline.status == "done":
        raise InvalidInput(f"The baseline '{name}' is complete: every test sample has its answer.")
    return baseline


def baseline_timeouts(params: dict[str, Any]) -> Timeouts:
    """The baseline's timeouts, the settings' defaults where it has none."""
    default = default_timeouts()
    return Timeouts(
        connect=float(params.get("connect_timeout") or default.connect),
        idle=float(params.get("idle_timeout") or default.idle),
        total=float(params["timeout"]) if params.get("timeout") else default.total,
    )


class BaselineRunner:
    def __init__(
        self,
        store: Store,
        baseline_id: int,
        backend: LLMBackend,
        *,
        progress: Callable[[float, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        policy: RetryPolicy | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.baseline = baseline_store.get_baseline_by_id(store, baseline_id)
        self.project = get_project(store, self.baseline.project_id)
        self.vocabulary = LabelVocabulary(self.project.labels)
        self.progress = progress or (lambda fraction, message: None)
        self.params = self.baseline.params
        self.counts = baseline_store.request_counts(store, baseline_id)
        self.failed_now = 0
        self.backend = backend
        self.policy = policy or RetryPolicy()
        self.cancelled = cancelled or (lambda: False)
        self.log = log or (lambda message: None)
        self.concurrency = int(self.params.get("concurrency", 8))
        self.sender = RequestSender(backend, self.policy, self.cancelled, self.concurrency)

    @property
    def fatal(self) -> BackendError | None:
        return self.sender.fatal

    async def execute(self) -> BaselineOutcome:
        baseline_store.set_baseline(self.store, self.baseline.id, status="running", message="Checking the server")
        endpoint = await check_endpoint(self.backend, self.baseline.model)  # a model it does not serve: no request
        if endpoint.served is not None:
            self.log(endpoint.describe(self.baseline.model).capitalize() + ".")
        self.sender = RequestSender(
            self.backend,
            self.policy,
            self.cancelled,
            self.concurrency,
            slots=endpoint.slots,
            log=self.log,
            tick=self._report,
        )
        baseline_store.set_baseline(self.store, self.baseline.id, message="Classifying")
        pending = baseline_store.unanswered_requests(self.store, self.baseline.id)
        await self.sender.run_all([self._send(request) for request in pending])
        return self._finish()

    async def _send(self, request: PendingRequest) -> None:
        chat = ChatRequest(
            messages=request.messages,
            model=self.baseline.model,
            temperature=float(self.params.get("temperature", 0.0)),
            max_tokens=int(self.params.get("max_tokens", 64)),
            seed=request.seed,
            metadata={"language": request.language, "label": "baseline", "sample_id": str(request.sample_id)},
        )

        def answered(answer: Any) -> None:
            mapped = self.vocabulary.map(answer.text, request.language)
            cost = estimate_cost(self.baseline.model, answer.prompt_tokens or 0, answer.completion_tokens or 0)
            tokens = (answer.prompt_tokens, answer.completion_tokens)
            baseline_store.record_answer(self.store, self.baseline.id, request.id, answer.text, mapped, tokens, cost)
            self.counts["answered"] += 1
            self.counts[mapped.outcome] += 1
            self._report()

        def failed(error: BackendError) -> None:
            self.failed_now += 1
            llm_requests.record_failure(self.store, request.id, str(error), error.attempts)
            self._report()

        await self.sender.send(chat, answered, failed, what=f"Test sample #{request.sample_id}")

    def _report(self) -> None:
        total = self.counts["total"]
        done = self.counts["answered"]
        unusable = self.counts["ambiguous"] + self.counts["unparseable"]
        live = self.sender.live_text()
        self.progress(
            done / total if total else 1.0,
            f"{done:,} of {total:,} test samples answered · {unusable} unusable answers · {self.failed_now} failed"
            + (f" · {live}" if live else ""),
        )

    def _finish(self) -> BaselineOutcome:
        counts = baseline_store.request_counts(self.store, self.baseline.id)
        unusable = f"{counts['ambiguous']} ambiguous and {counts['unparseable']} unparseable answers"
        if self.fatal is not None:
            status, message = "failed", str(self.fatal)
        elif counts["answered"] < counts["total"]:
            missing = counts["total"] - counts["answered"]
            status = "incomplete"
            message = (
                f"{missing:,} of {counts['total']:,} test samples have no answer after retries (resume to ask them "
                f"again); {unusable}"
            )
        else:
            status = "done"
            message = f"{counts['total']:,} test samples answered: {counts['label']:,} with a label, {unusable}"
        baseline_store.set_baseline(self.store, self.baseline.id, status=status, message=message, finished_at=utcnow())
        return BaselineOutcome(status, message, counts)


def execute_baseline(store: Store, baseline_id: int, backend: LLMBackend, **options: Any) -> BaselineOutcome:
    """Run (or resume) a baseline to its end in this thread; a fatal backend error raises with its message."""
    runner = BaselineRunner(store, baseline_id, backend, **options)
    try:
        outcome = asyncio.run(runner.execute())
    except RunCancelled:
        baseline_store.set_baseline(store, baseline_id, status="cancelled", message="Cancelled", finished_at=utcnow())
        raise
    except StudioError as exc:
        baseline_store.set_baseline(store, baseline_id, status="failed", message=str(exc), finished_at=utcnow())
        raise
    if outcome.status == "failed":
        raise StudioError(outcome.message)
    return outcome


def evaluate_baseline(store: Store, baseline_id: int) -> Evaluation:
    """Score a baseline's answers like a run (no answer, ambiguous and unparseable count as wrong, and apart)."""
    baseline = baseline_store.get_baseline_by_id(store, baseline_id)
    if baseline.status not in ("done", "incomplete"):
        raise StudioError(
            f"The baseline '{baseline.name}' is {baseline.status}: only a finished (or incomplete) one can be scored."
        )
    project = get_project(store, baseline.project_id)
    return save_evaluation(
        store,
        project,
        name=baseline.name,
        source="baseline",
        predictions=baseline_store.baseline_predictions(store, baseline_id),
        baseline_id=baseline_id,
    )
