"""The generation engine: a plan of labels x languages x n, sent in waves with a concurrency limit.

Every request is saved (with its rendered prompt and seed) before it is sent; its answer and the samples parsed
from it are saved together when it arrives. A cell keeps asking until it has its n samples or its request budget is
spent (the shortfall is reported). A resume sends only the saved requests that have no answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.errors import InvalidInput, StudioError
from core.generation.answer_parsing import parse_samples
from core.generation.endpoint_check import NOT_A_SERVER, EndpointCheck, check_endpoint
from core.generation.example_selection import Method
from core.generation.llm_backend import BackendError, ChatRequest, LLMBackend, RetryPolicy, Timeouts, estimate_cost
from core.generation.prompt_context import build_context
from core.generation.prompt_library import ensure_builtin_templates, get_template
from core.generation.prompt_render import PromptTemplateText, referenced_variables, render
from core.generation.prompt_validation import validate
from core.generation.request_sender import RequestSender, RunCancelled
from core.generation.revise_parsing import parse_revision
from core.generation.run_failures import fail_run
from core.language_names import language_name
from core.settings import get_settings
from core.store import generation_runs, llm_requests
from core.store.database import Store
from core.store.generation_runs import AnswerRecord, Cell, GenerationRun, PlannedRequest
from core.store.projects import Project, get_project
from core.store.schema import utcnow

STRATEGIES = ("zero-shot", "demos", "diverse", "revise", "targeted")
REVISE_ROUND = 1_000_000  # revise requests get rounds from here on, apart from the generation waves
REVISE_BATCH = 20
BACKENDS = ("openai", "local", "replay")


@dataclass
class GenerationSettings:
    backend: str
    model: str
    per_cell: int
    base_url: str | None = None
    strategy: str = "zero-shot"
    template: str | None = None  # NAME[@VERSION]; default: the strategy's built-in template
    languages: list[str] | None = None
    labels: list[str] | None = None
    concurrency: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    json_output: bool = False
    per_request: int = 10  # samples asked for in one request
    examples_k: int = 5
    examples_method: Method = "random"
    request_budget: float = 3.0  # a cell may send this many times the requests it needs at best
    recording: str | None = None  # replay: a recording file (default: the demo's)
    plan: dict[str, dict[str, int]] | None = None  # per-cell counts {language: {label: n}}; overrides per_cell
    confused_label: str | None = None  # targeted: the label the planned cells' texts are mistaken for
    # seconds (see llm_backend.Timeouts; defaults from the settings): to connect, the longest silence, one answer
    connect_timeout: float = field(default_factory=lambda: get_settings().llm_connect_timeout)
    idle_timeout: float = field(default_factory=lambda: get_settings().llm_idle_timeout)
    timeout: float | None = field(default_factory=lambda: get_settings().llm_timeout)
    stream: bool = True  # answers token by token (off only for a server whose streaming is broken)
    gpu: bool = False  # a local model asks the Ray cluster for a GPU (the local executor uses one when present)

    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout, idle=self.idle_timeout, total=self.timeout or None)

    def validate(self, project: Project) -> None:
        if self.backend not in BACKENDS:
            raise InvalidInput(f"Unknown backend '{self.backend}': use {', '.join(BACKENDS)}.")
        if self.strategy not in STRATEGIES:
            raise InvalidInput(f"Unknown strategy '{self.strategy}': use {', '.join(STRATEGIES)}.")
        if not self.model.strip():
            raise InvalidInput("Name the model to generate with.")
        if self.per_cell < 1 or self.per_request < 1 or self.concurrency < 1:
            raise InvalidInput("Samples per cell, samples per request and concurrency must be at least 1.")
        if self.max_tokens < 1:
            raise InvalidInput("Max tokens per answer must be at least 1.")
        if self.connect_timeout <= 0 or self.idle_timeout <= 0 or (self.timeout is not None and self.timeout < 0):
            raise InvalidInput("Timeouts are seconds above 0 (the limit per answer may be 0: no limit).")
        if self.plan is not None and not any(int(n) > 0 for labels in self.plan.values() for n in labels.values()):
            raise InvalidInput("The plan asks for no sample at all: put a number in at least one cell.")
        for code in [*(self.languages or []), *(self.plan or {})]:
            if code not in project.language_codes:
                raise InvalidInput(f"The project has no language '{code}' ({language_name(code)}).")
        for label in [*(self.labels or []), *{lb for labels in (self.plan or {}).values() for lb in labels}]:
            if project.label(label) is None:
                raise InvalidInput(f"The project has no label '{label}'.")
        if self.strategy == "targeted":
            self._validate_targeted(project)

    def _validate_targeted(self, project: Project) -> None:
        confused = self.confused_label or ""
        if project.label(confused) is None:
            raise InvalidInput(
                "Targeted generation needs the label the model mistakes these texts for"
                + (f": the project has no label '{confused}'." if confused else ".")
            )
        planned = {label for labels in plan_for(project, self).values() for label in labels}
        if confused in planned:
            raise InvalidInput(
                f"Targeted generation asks for texts that are clearly not '{confused}': choose the label they "
                f"should have (not '{confused}' itself)."
            )


def plan_for(project: Project, settings: GenerationSettings) -> dict[str, dict[str, int]]:
    if settings.plan is not None:
        return {
            lang: {label: int(n) for label, n in labels.items() if int(n) > 0}
            for lang, labels in settings.plan.items()
            if any(int(n) > 0 for n in labels.values())
        }
    languages = settings.languages or project.language_codes
    labels = settings.labels or project.label_names
    return {language: {label: settings.per_cell for label in labels} for language in languages}


@dataclass(frozen=True)
class Estimate:
    requests: int  # at least: every answer holds all the samples it asks for
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    most_requests: int = 0  # at most: every cell spends its request budget (answers come short)
    likely_requests: int = 0  # what to expect (recorded answers: from what they hold; else the least)
    samples_per_answer: float | None = None  # recorded answers: what one holds (the fewest over the cells)
    per_request: int = 0
    recorded: bool = False

    def describe(self) -> str:
        """The estimate in words (Markdown): never fewer requests than the run can send without a short answer."""
        span = f"at least {self.requests:,}, at most {self.most_requests:,}"
        if self.recorded and self.likely_requests > self.requests:
            count = (
                f"About **{self.likely_requests:,} requests**: the recorded answers hold about "
                f"{self.samples_per_answer:g} samples each, fewer than the {self.per_request} asked per request, "
                f"so cells ask again ({span})"
            )
        elif self.recorded:
            count = f"About **{self.likely_requests:,} requests** (up to {self.most_requests:,} if answers come short)"
        elif self.most_requests > self.requests:
            count = (
                f"At least **{self.requests:,} requests**, up to {self.most_requests:,} if answers hold fewer "
                f"samples than asked (cells that fall short ask again)"
            )
        else:
            count = f"**{self.requests:,} requests**"
        if self.recorded:
            return count + "; recorded answers cost nothing."
        if self.cost is None:
            cost = "unknown for this model"
        else:
            cost = "under $0.01" if self.cost < 0.005 else f"about ${self.cost:,.2f}"
        return (
            f"{count}; about {self.prompt_tokens:,} prompt and {self.completion_tokens:,} answer tokens; cost {cost}."
        )


def estimate(project: Project, settings: GenerationSettings, prompt_chars: int = 1500) -> Estimate:
    """Before a run: requests, tokens (rough: 4 characters a token) and cost where the model's price is known.

    A cell asks again while it is short, up to `request_budget` times its requests: the least is one answer per
    request with every sample asked, the most the whole budget. Recorded answers hold a known number of samples,
    so for them the likely count is worked out wave by wave, as the engine sends them."""
    cells = [
        ((language, label), n)
        for language, labels in plan_for(project, settings).items()
        for label, n in labels.items()
    ]
    least = sum(math.ceil(n / settings.per_request) for _, n in cells)
    most = sum(request_budget(n, settings) for _, n in cells)
    likely, per_answer = least, None
    if settings.backend == "replay":
        from core.generation.replay_backend import samples_per_answer

        yields = [samples_per_answer(cell, settings.per_request, settings.recording) for cell, _ in cells]
        known = [y for y in yields if y is not None]
        if yields and len(known) == len(yields):
            likely = sum(_requests_for(n, float(y), settings) for (_, n), y in zip(cells, known, strict=True))
            per_answer = min(float(y) for y in known)
    prompt_tokens = likely * prompt_chars // 4
    completion_tokens = sum(n for _, n in cells) * 40
    return Estimate(
        least,
        prompt_tokens,
        completion_tokens,
        estimate_cost(settings.model, prompt_tokens, completion_tokens),
        most_requests=most,
        likely_requests=likely,
        samples_per_answer=per_answer,
        per_request=settings.per_request,
        recorded=settings.backend == "replay",
    )


def request_budget(n: int, settings: GenerationSettings) -> int:
    """The most requests a cell of n samples may send (GenerationEngine.budget)."""
    return math.ceil(math.ceil(n / settings.per_request) * settings.request_budget)


def _requests_for(n: int, per_answer: float, settings: GenerationSettings) -> int:
    """Requests a cell sends when each answer holds `per_answer` samples: the engine's waves, played out."""
    need, made, budget = float(n), 0, request_budget(n, settings)
    while need > 0 and made < budget:
        count = min(math.ceil(need / settings.per_request), budget - made)
        asked = [max(1, min(settings.per_request, math.ceil(need) - i * settings.per_request)) for i in range(count)]
        need -= sum(min(a, per_answer) for a in asked)
        made += count
    return made


def start_run(store: Store, project_ref: int | str, settings: GenerationSettings) -> GenerationRun:
    """Create the run row (its settings never hold an API key); the job or the CLI then executes it."""
    project = get_project(store, project_ref)
    settings.validate(project)
    ensure_builtin_templates(store, project.id)
    template = get_template(store, project.id, settings.template or _builtin_for(settings.strategy))
    check_template_before_run(store, project, settings, PromptTemplateText(system=template.system, user=template.user))
    if settings.seed is None:
        settings.seed = random.SystemRandom().randrange(2**31)  # a new run asks anew
    params = {k: v for k, v in asdict(settings).items() if k not in ("backend", "model", "base_url", "strategy")}
    return generation_runs.create_run(
        store,
        project.id,
        template_id=template.id,
        strategy=settings.strategy,
        backend=settings.backend,
        model=settings.model,
        base_url=settings.base_url,
        params=params,
        plan=plan_for(project, settings),
    )


def check_template_before_run(
    store: Store, project: Project, settings: GenerationSettings, template: PromptTemplateText
) -> None:
    """Validation before any request: the template's problems, and a real render for every planned cell."""
    errors = [str(p) for p in validate(template) if p.is_error]
    if errors:
        raise InvalidInput("The prompt template cannot be used: " + "; ".join(errors))
    uses = referenced_variables(template)
    for language, labels in plan_for(project, settings).items():
        for label in labels:
            context = build_context(store, project, (language, label), settings.per_request, settings, 0, [], uses)
            try:
                rendered = render(template, context)
            except InvalidInput as exc:
                cell = f"{language_name(language)} × {label}"
                raise InvalidInput(f"The prompt for {cell} cannot be rendered: {exc}") from None
            if not rendered.user.strip():
                raise InvalidInput(f"The prompt for {language_name(language)} × {label} comes out empty.")


def _builtin_for(strategy: str) -> str:
    return "zero-shot" if strategy == "revise" else strategy


def settings_of(run: GenerationRun) -> GenerationSettings:
    return GenerationSettings(
        backend=run.backend, model=run.model, base_url=run.base_url, strategy=run.strategy, **run.params
    )


def request_seed(run_seed: int, cell: Cell, round_: int, index: int) -> int:
    digest = hashlib.sha256(f"{run_seed}|{cell[0]}|{cell[1]}|{round_}|{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class RunOutcome:
    samples: int
    planned: int
    answered: int
    failed: int
    shortfall: dict[str, int] = field(default_factory=dict)
    message: str = ""
    cut: int = 0  # answers that ended at max tokens


class GenerationEngine:
    def __init__(
        self,
        store: Store,
        run_id: int,
        backend: LLMBackend,
        *,
        progress: Callable[[float, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        policy: RetryPolicy | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.run = generation_runs.get_run(store, run_id)
        self.settings = settings_of(self.run)
        self.project = get_project(store, self.run.project_id)
        self.backend = backend
        self.progress = progress or (lambda fraction, message: None)
        self.cancelled = cancelled or (lambda: False)
        self.log = log or (lambda message: None)
        self.policy = policy or RetryPolicy()
        self.endpoint: EndpointCheck = NOT_A_SERVER
        template = get_template(store, self.project.id, self._template_ref())
        self.template = PromptTemplateText(system=template.system, user=template.user)
        self.uses = referenced_variables(self.template)
        self.prompt_version = template.ref
        self.targets: dict[Cell, int] = dict(self.run.cells())
        counts = generation_runs.run_counts(store, run_id)
        self.samples: dict[Cell, int] = {cell: counts.samples.get(cell, 0) for cell in self.targets}
        self.requests_made: dict[Cell, int] = {cell: counts.requests.get(cell, 0) for cell in self.targets}
        self.answered = counts.answered
        self.failed_ids: set[int] = set(
            generation_runs.failed_request_ids(store, run_id)
        )  # what is true now, after resumes
        self.sender = RequestSender(backend, self.policy, self.cancelled, self.settings.concurrency)

    @property
    def fatal(self) -> BackendError | None:
        return self.sender.fatal

    @property
    def failed(self) -> int:
        return len(self.failed_ids)

    def _template_ref(self) -> str:
        if self.run.template_id is None:
            return _builtin_for(self.run.strategy)
        from core.generation.prompt_library import template_by_id

        return template_by_id(self.store, self.run.template_id).ref

    def budget(self, cell: Cell) -> int:
        return request_budget(self.targets[cell], self.settings)

    async def execute(self) -> RunOutcome:
        generation_runs.set_run(
            self.store, self.run.id, status="running", message="Checking the server", failure_kind=None
        )
        await self._check_endpoint()
        generation_runs.set_run(self.store, self.run.id, message="Generating")
        await self._send_all(generation_runs.unanswered_requests(self.store, self.run.id))
        round_ = generation_runs.next_round(self.store, self.run.id)
        while self.fatal is None:
            planned = self._plan_wave(round_)
            if not planned:
                break
            generation_runs.save_requests(self.store, self.run, planned)
            await self._send_all(planned)
            round_ += 1
        if self.run.strategy == "revise" and self.fatal is None:
            revisions = self._plan_revision()
            generation_runs.save_requests(self.store, self.run, revisions)
            await self._send_all(revisions)
        return self._finish()

    async def _check_endpoint(self) -> None:
        """Before any request: the model is one the server serves, and no more requests go out than it serves."""
        self.endpoint = await check_endpoint(self.backend, self.run.model)
        if self.endpoint.served is not None or self.endpoint.slots is not None:
            self.log(self.endpoint.describe(self.run.model).capitalize() + ".")
        self.sender = RequestSender(
            self.backend,
            self.policy,
            self.cancelled,
            self.settings.concurrency,
            slots=self.endpoint.slots,
            log=self.log,
            tick=self._report,
        )
        if self.run.backend == "openai":
            self.log(f"Timeouts: {self.settings.timeouts().describe()}; {self.sender.limit.describe()}.")

    def _plan_revision(self) -> list[PlannedRequest]:
        """The second pass: the LLM checks each sample's language and label and keeps, fixes or drops it."""
        revise = get_template(self.store, self.project.id, "revise")
        template = PromptTemplateText(system=revise.system, user=revise.user)
        planned: list[PlannedRequest] = []
        for cell, samples in generation_runs.samples_to_revise(self.store, self.run.id).items():
            for start in range(0, len(samples), REVISE_BATCH):
                batch = samples[start : start + REVISE_BATCH]
                index = start // REVISE_BATCH
                seed = request_seed(int(self.settings.seed or 0), cell, REVISE_ROUND, index)
                context = build_context(
                    self.store, self.project, cell, len(batch), self.settings, seed, [], set(), None
                )
                context = replace(context, samples=[text for _, text in batch])
                planned.append(
                    PlannedRequest(
                        cell[0],
                        cell[1],
                        REVISE_ROUND + len(planned),
                        index,
                        seed,
                        len(batch),
                        render(template, context).messages,
                        kind="revise",
                        sample_ids=[sample_id for sample_id, _ in batch],
                    )
                )
        return planned

    def _plan_wave(self, round_: int) -> list[PlannedRequest]:
        planned: list[PlannedRequest] = []
        diverse = bool({"taboo_words", "earlier_outputs"} & self.uses)
        outputs = (
            {cell: generation_runs.cell_outputs(self.store, self.run.id, cell) for cell in self.targets}
            if diverse
            else {}
        )
        background = [text for texts in outputs.values() for text in texts]
        for cell, target in self.targets.items():
            need = target - self.samples[cell]
            room = self.budget(cell) - self.requests_made[cell]
            if need <= 0 or room <= 0:
                continue
            count = min(math.ceil(need / self.settings.per_request), room)
            earlier = outputs.get(cell, [])
            for index in range(count):
                n_asked = min(self.settings.per_request, need - index * self.settings.per_request)
                n_asked = max(n_asked, 1)
                seed = request_seed(int(self.settings.seed or 0), cell, round_, index)
                context = build_context(
                    self.store, self.project, cell, n_asked, self.settings, seed, earlier, self.uses, background
                )
                rendered = render(self.template, context)
                planned.append(PlannedRequest(cell[0], cell[1], round_, index, seed, n_asked, rendered.messages))
            self.requests_made[cell] += count
        return planned

    async def _send_all(self, requests: list[PlannedRequest]) -> None:
        await self.sender.run_all([self._send(request) for request in requests])

    async def _send(self, request: PlannedRequest) -> None:
        chat = ChatRequest(
            messages=request.messages,
            model=self.run.model,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            max_tokens=self.settings.max_tokens,
            seed=request.seed,
            json_output=self.settings.json_output,
            metadata={"language": request.language, "label": request.label},
        )

        def answered(answer: Any) -> None:
            if request.kind == "revise":
                self._store_revision(request, answer)
            else:
                self._store_answer(request, answer)
            self._report()

        def failed(error: BackendError) -> None:
            self.failed_ids.add(int(request.id or 0))
            llm_requests.record_failure(self.store, int(request.id or 0), str(error), error.attempts)
            self._report()

        what = f"Request #{request.id} ({language_name(request.language)} × {request.label})"
        await self.sender.send(chat, answered, failed, on_start=self._report, what=what)

    def _store_answer(self, request: PlannedRequest, answer: Any) -> None:
        cell = (request.language, request.label)
        parsed = parse_samples(answer.text, n_expected=request.n_asked, truncated=answer.finish_reason == "length")
        room = max(0, self.targets[cell] - self.samples[cell])
        kept = parsed.samples[:room]
        dropped = [{"text": d.text, "reason": d.reason} for d in parsed.dropped]
        dropped += [{"text": text, "reason": "more than the cell needed"} for text in parsed.samples[room:]]
        cost = estimate_cost(self.run.model, answer.prompt_tokens or 0, answer.completion_tokens or 0)
        record = AnswerRecord(
            answer.text,
            answer.finish_reason,
            answer.prompt_tokens,
            answer.completion_tokens,
            kept,
            dropped,
            model=answer.model or self.endpoint.model_id,  # the server's own id, as it reports it
        )
        generation_runs.record_answer(self.store, self.run, request, record, self.prompt_version, cost)
        self.samples[cell] += len(kept)
        self.answered += 1
        self.failed_ids.discard(int(request.id or 0))

    def _store_revision(self, request: PlannedRequest, answer: Any) -> None:
        verdicts = parse_revision(answer.text, len(request.sample_ids))
        records = [
            generation_runs.Verdict(sample_id, v.action, v.text or "", v.reason or "")
            for sample_id, v in zip(request.sample_ids, verdicts, strict=True)
        ]
        generation_runs.record_revision(
            self.store, self.run, request, answer.text, answer.prompt_tokens, answer.completion_tokens, records
        )
        self.answered += 1
        self.failed_ids.discard(int(request.id or 0))

    def _report(self) -> None:
        total = sum(self.targets.values())
        done = sum(min(self.samples[c], t) for c, t in self.targets.items())
        live = self.sender.live_text()
        self.progress(
            done / total if total else 1.0,
            f"{done:,} of {total:,} samples · {self.answered} answers, {self.failed} failed"
            + (f" · {live}" if live else ""),
        )

    def _finish(self) -> RunOutcome:
        shortfall = {
            f"{language_name(c[0])} × {c[1]}": t - self.samples[c]
            for c, t in self.targets.items()
            if self.samples[c] < t
        }
        total = sum(self.samples.values())
        if self.fatal is not None:
            status, message = "failed", str(self.fatal)
        elif shortfall:
            status = "incomplete"
            message = f"{total:,} samples; {sum(shortfall.values()):,} short after the request budget: " + ", ".join(
                f"{cell} ({n})" for cell, n in shortfall.items()
            )
        else:
            status, message = "done", f"{total:,} samples generated"
        cut = self.sender.speed.cut
        if cut and self.fatal is None:
            message += "; " + cut_hint(cut, self.settings)
            self.log(cut_hint(cut, self.settings))
        if self.run.strategy == "revise" and self.fatal is None:
            revised = generation_runs.revision_summary(self.store, self.run.id)
            message += (
                f"; revision: {revised.get('keep', 0)} kept, {revised.get('fix', 0)} fixed, "
                f"{revised.get('drop', 0)} dropped, {revised.get('missing', 0)} without a verdict"
            )
        if self.fatal is not None:
            fail_run(self.store, self.run.id, self.fatal, message)
        else:
            generation_runs.set_run(self.store, self.run.id, status=status, message=message, finished_at=utcnow())
        return RunOutcome(total, sum(self.targets.values()), self.answered, self.failed, shortfall, message, cut)


def cut_hint(cut: int, settings: GenerationSettings) -> str:
    """Answers that ended at max tokens lose their last samples: say so, and what to change."""
    answers = "1 answer was" if cut == 1 else f"{cut} answers were"
    return (
        f"{answers} cut off at the token limit ({settings.max_tokens} tokens per answer): raise max tokens "
        f"(--max-tokens, or Max tokens per answer on the Generate page) or ask for fewer samples per request "
        f"(now {settings.per_request})"
    )


def execute_run(store: Store, run_id: int, backend: LLMBackend, **options: Any) -> RunOutcome:
    """Run (or resume) a generation run to its end in this thread."""
    engine = GenerationEngine(store, run_id, backend, **options)
    try:
        outcome = asyncio.run(engine.execute())
    except RunCancelled:
        generation_runs.set_run(store, run_id, status="cancelled", message="Cancelled", finished_at=utcnow())
        raise
    except StudioError as exc:
        fail_run(store, run_id, exc)
        raise
    if outcome.message and generation_runs.get_run(store, run_id).status == "failed":
        raise StudioError(outcome.message)
    return outcome
