"""Sending chat requests with a concurrency limit, retries and cancel checks: one sender serves generation runs
and LLM baselines.

The first fatal error stops the requests that are not sent yet: there is no point sending them with a wrong key,
an unknown model, a server that is down or a spent quota. A watcher looks at the cancel flag every half second
while requests are out: a cancel closes every open stream at once (so the server stops generating) and raises
`RunCancelled`; the caller marks its run. The sender also keeps what is true right now — requests streaming and
their tokens, requests waiting to be tried again and why, the server's speed — for an honest progress line.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from core.generation.llm_backend import (
    BackendError,
    ChatRequest,
    LLMBackend,
    RetryPolicy,
    StreamWatch,
    complete_with_retries,
)
from core.generation.server_limit import ServerLimit

# no point sending the other requests: stop the run (unreachable counts once its own retries are spent)
FATAL_KINDS = ("auth", "model_not_found", "bad_request", "unreachable")
CANCEL_POLL_SECONDS = 0.5


class RunCancelled(Exception):
    pass


def is_fatal(error: BackendError) -> bool:
    return error.kind in FATAL_KINDS or (error.kind == "rate_limited" and not error.retryable)


@dataclass
class RetryWait:
    failed_attempt: int
    attempts: int
    reason: str
    until: float  # time.monotonic() of the next try


@dataclass
class OutRequest:
    """A request between being sent and its final answer or error."""

    what: str  # e.g. "Swahili × weather", for the log
    watch: StreamWatch = field(default_factory=StreamWatch)
    retry: RetryWait | None = None


@dataclass
class ServerSpeed:
    """Tokens per second of the answers so far (from first to last token), and the answers cut by max tokens."""

    tokens: int = 0
    seconds: float = 0.0
    cut: int = 0

    def add(self, watch: StreamWatch) -> None:
        if watch.first_token_at is not None and watch.last_token_at is not None and watch.tokens > 1:
            self.tokens += watch.tokens - 1
            self.seconds += watch.last_token_at - watch.first_token_at

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None


class RequestSender:
    def __init__(
        self,
        backend: LLMBackend,
        policy: RetryPolicy,
        cancelled: Callable[[], bool],
        concurrency: int,
        *,
        slots: int | None = None,
        log: Callable[[str], None] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.cancelled = cancelled
        self.limit = ServerLimit(concurrency, slots=slots, learn=bool(getattr(backend, "streams", False)))
        self.log = log or (lambda message: None)
        self.tick = tick  # called about every half second while requests are out (for live progress)
        self.fatal: BackendError | None = None
        self.out: dict[int, OutRequest] = {}
        self.speed = ServerSpeed()
        self._numbers = itertools.count(1)
        self._told: str | None = None

    @property
    def in_flight(self) -> int:
        return sum(1 for request in self.out.values() if request.retry is None)

    def check_cancel(self) -> None:
        if self.cancelled():
            raise RunCancelled()

    async def run_all(self, sends: list[Coroutine[Any, Any, None]]) -> None:
        """Run the given `send(...)` coroutines together. The first exception (a cancel, a cancel seen by the
        watcher) stops the others, and their streams are closed before this returns."""
        if not sends:
            return
        tasks = [asyncio.create_task(send) for send in sends]
        everything = asyncio.gather(*tasks)
        watcher = asyncio.create_task(self._watch())
        first_done: set[asyncio.Future[Any]] = {everything, watcher}
        try:
            await asyncio.wait(first_done, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                watcher.result()  # the cancel (or an error of the progress callback) stops everything
            await everything
        finally:
            watcher.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, watcher, return_exceptions=True)  # let every stream close first
            if not everything.done():
                everything.cancel()
            await asyncio.gather(everything, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            if await asyncio.to_thread(self.cancelled):
                raise RunCancelled()
            self._tell_limit()
            if self.tick is not None:
                self.tick()

    def _tell_limit(self) -> None:
        said = self.limit.describe() if (self.limit.slots or self.limit.learned) else None
        if said and said != self._told:
            self._told = said
            self.log(said[:1].upper() + said[1:] + ".")

    async def send(
        self,
        chat: ChatRequest,
        on_answer: Callable[[Any], None],
        on_failure: Callable[[BackendError], None],
        on_start: Callable[[], None] | None = None,
        what: str = "",
    ) -> None:
        """Send one request when a place is free (and no fatal error came first); its answer or its final error
        (after the retries) goes to the callbacks, which store it."""
        async with self.limit.slot() as out_with:
            if self.fatal is not None:
                return
            self.check_cancel()
            number = next(self._numbers)
            out = OutRequest(what or f"request {number}")
            self.out[number] = out
            out.watch.on_first_token = lambda watch: self.limit.first_token(
                out_with, watch.sent_at, watch.first_token_at or watch.sent_at
            )
            if on_start:
                on_start()
            try:
                answer = await complete_with_retries(
                    self.backend,
                    chat,
                    self.policy,
                    on_retry=lambda attempt, error, delay: self._retrying(out, attempt, error, delay),
                    on_attempt=lambda attempt: self._attempt(out, attempt),
                    watch=out.watch,
                )
            except BackendError as error:
                self.out.pop(number, None)
                self.limit.request_ended(time.monotonic())
                if is_fatal(error):
                    self.fatal = error
                self.log(f"{out.what}: failed after {error.attempts} attempt(s): {error}")
                on_failure(error)
                return
            self.out.pop(number, None)
            self.limit.request_ended(time.monotonic())
            self.speed.add(out.watch)
            if answer.finish_reason == "length":
                self.speed.cut += 1
            on_answer(answer)
            self.check_cancel()

    def _attempt(self, out: OutRequest, attempt: int) -> None:
        if attempt > 1:
            self.check_cancel()
            self.log(f"{out.what}: attempt {attempt} of {self.policy.max_attempts} starts.")
        out.retry = None

    def _retrying(self, out: OutRequest, attempt: int, error: BackendError, delay: float) -> None:
        self.check_cancel()
        out.retry = RetryWait(attempt, self.policy.max_attempts, str(error), time.monotonic() + delay)
        attempts = self.policy.max_attempts
        self.log(f"{out.what}: attempt {attempt} of {attempts} failed ({error}); next try in {delay:.0f} s.")

    # --- what is true right now, in words ---------------------------------------------------------------------
    def live_text(self) -> str:
        """In flight (tokens so far, the server's speed), retrying (which attempt, why, when), cut answers."""
        parts = []
        streaming = [o for o in self.out.values() if o.retry is None]
        if streaming:
            tokens = sum(o.watch.tokens for o in streaming)
            waiting = sum(1 for o in streaming if o.watch.first_token_at is None)
            detail = [f"{tokens:,} tokens so far"] if tokens else []
            if waiting:
                detail.append(f"{waiting} waiting for a first token")
            parts.append(f"{len(streaming)} in flight" + (f" ({', '.join(detail)})" if detail else ""))
        rate = self.speed.tokens_per_second or _live_rate(streaming)
        if rate:
            parts.append(f"server {rate:.1f} tokens/s")
        retrying = sorted((o.retry for o in self.out.values() if o.retry is not None), key=lambda r: r.until)
        if retrying:
            first = retrying[0]
            wait = max(0.0, first.until - time.monotonic())
            parts.append(
                f"{len(retrying)} retrying (attempt {first.failed_attempt + 1} of {first.attempts} in {wait:.0f} s, "
                f"after: {_short(first.reason)})"
            )
        if self.speed.cut:
            parts.append(f"{self.speed.cut} cut at the token limit")
        return " · ".join(parts)


def _live_rate(streaming: list[OutRequest]) -> float | None:
    rates = [o.watch.tokens_per_second for o in streaming if o.watch.tokens_per_second]
    return sum(rates) / len(rates) if rates else None


def _short(reason: str, limit: int = 90) -> str:
    first = reason.split(": ", 1)[0] if len(reason) > limit else reason
    return first if len(first) <= limit else first[: limit - 1] + "…"
