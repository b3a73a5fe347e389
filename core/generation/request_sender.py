"""Sending chat requests with a concurrency limit, retries and cancel checks: one sender serves generation runs
and LLM baselines.

The first fatal error stops the requests that are not sent yet: there is no point sending them with a wrong key,
an unknown model, a server that is down or a spent quota. Cancelling raises `RunCancelled` between requests and
between retries; the caller marks its run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from core.generation.llm_backend import BackendError, ChatRequest, LLMBackend, RetryPolicy, complete_with_retries

# no point sending the other requests: stop the run (unreachable counts once its own retries are spent)
FATAL_KINDS = ("auth", "model_not_found", "bad_request", "unreachable")


class RunCancelled(Exception):
    pass


def is_fatal(error: BackendError) -> bool:
    return error.kind in FATAL_KINDS or (error.kind == "rate_limited" and not error.retryable)


class RequestSender:
    def __init__(
        self, backend: LLMBackend, policy: RetryPolicy, cancelled: Callable[[], bool], concurrency: int
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.cancelled = cancelled
        self.concurrency = max(1, int(concurrency))
        self.fatal: BackendError | None = None
        self.in_flight = 0
        self._semaphore: asyncio.Semaphore | None = None

    def check_cancel(self) -> None:
        if self.cancelled():
            raise RunCancelled()

    async def run_all(self, sends: list[Coroutine[Any, Any, None]]) -> None:
        """Run the given `send(...)` coroutines together; the first exception (a cancel) stops the others."""
        if not sends:
            return
        tasks = [asyncio.create_task(send) for send in sends]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def send(
        self,
        chat: ChatRequest,
        on_answer: Callable[[Any], None],
        on_failure: Callable[[BackendError], None],
        on_start: Callable[[], None] | None = None,
    ) -> None:
        """Send one request when a slot is free (and no fatal error came first); its answer or its final error
        (after the retries) goes to the callbacks, which store it."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            if self.fatal is not None:
                return
            self.check_cancel()
            self.in_flight += 1
            if on_start:
                on_start()
            try:
                answer = await complete_with_retries(
                    self.backend, chat, self.policy, on_retry=lambda *_: self.check_cancel()
                )
            except BackendError as error:
                self.in_flight -= 1
                if is_fatal(error):
                    self.fatal = error
                on_failure(error)
                return
            self.in_flight -= 1
            on_answer(answer)
            self.check_cancel()
