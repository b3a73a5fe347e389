"""The small interface every LLM backend implements, plus the retry loop and the price table.

A backend turns one `ChatRequest` into one `ChatAnswer`, or raises a `BackendError` whose message a
non-programmer can act on (wrong key, unknown model, server down, rate limited...). `complete_with_retries`
decides what is worth asking again: rate limits, server errors, timeouts and unreachable servers are retried with
exponential backoff and jitter, honouring the server's Retry-After; everything else is raised at once.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, runtime_checkable

from core.errors import StudioError

ErrorKind = Literal[
    "auth",
    "model_not_found",
    "unreachable",
    "rate_limited",
    "server",
    "timeout",
    "bad_answer",
    "refused",
    "bad_request",
]

RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limited", "server", "timeout", "unreachable"})


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    model: str
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    json_output: bool = False
    metadata: dict[str, str] = field(default_factory=dict, compare=False)
    """Not sent to the server: what the request is for (e.g. language and label), for backends such as replay."""


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a server, in seconds. Answers are streamed, so there is no need for one total limit that
    a slow model on a CPU would exceed: `idle` is the longest silence (no token, and before the first token: no
    answer at all, which includes the time the server takes to read the prompt); `total` (None: none) caps a whole
    answer."""

    connect: float = 10.0
    idle: float = 300.0
    total: float | None = None

    def describe(self) -> str:
        total = f", at most {self.total:g} s per answer" if self.total else ""
        return f"connect within {self.connect:g} s, no silence over {self.idle:g} s{total}"


@dataclass
class StreamWatch:
    """One request as it happens: the backend counts the tokens of its answer as they stream in (the sender reads
    it for progress, and to learn how many requests the server works on at once)."""

    sent_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    last_token_at: float | None = None
    tokens: int = 0
    on_first_token: Callable[[StreamWatch], None] | None = field(default=None, repr=False)

    def token(self, count: int = 1) -> None:
        now = time.monotonic()
        first = self.first_token_at is None
        if first:
            self.first_token_at = now
        self.last_token_at = now
        self.tokens += count
        if first and self.on_first_token is not None:
            self.on_first_token(self)

    def restart(self) -> None:
        """A new attempt: what the failed one received does not count."""
        self.sent_at, self.first_token_at, self.last_token_at, self.tokens = time.monotonic(), None, None, 0

    @property
    def waited(self) -> float | None:
        """Seconds from sending to the first token."""
        return None if self.first_token_at is None else self.first_token_at - self.sent_at

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token_at is None or self.last_token_at is None or self.tokens < 2:
            return None
        spent = self.last_token_at - self.first_token_at
        return (self.tokens - 1) / spent if spent > 0 else None


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    model: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """The JSON answer as the server sent it, for inspection (never holds the API key)."""


class BackendError(StudioError):
    """A failed request, explained in plain words. The message never contains the API key.

    `kind` says what went wrong, `retryable` whether asking again later may help, `retry_after` how long the
    server asked us to wait (seconds), `status` the HTTP status when there was one, `detail` the server's own
    (redacted) words for the curious, `raw` the JSON answer when one came but was unusable (its usage was still
    paid for), and `attempts` how many tries `complete_with_retries` made.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        detail: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after = retry_after
        self.status = status
        self.detail = detail
        self.raw = raw
        self.attempts = 1

    def __repr__(self) -> str:
        return f"BackendError(kind={self.kind!r}, retryable={self.retryable}, message={self.message!r})"


@runtime_checkable
class LLMBackend(Protocol):
    name: str
    recorded: bool
    """True only for the replay backend: its answers were recorded earlier and the UI says so."""

    async def complete(self, request: ChatRequest, watch: StreamWatch | None = None) -> ChatAnswer: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25
    """A fraction: each delay is stretched or shrunk by up to this much at random."""


def backoff_delay(policy: RetryPolicy, attempt: int, error: BackendError, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    With a Retry-After from the server: that long, plus up to `jitter` more (never less than asked, so the
    retries of many concurrent requests spread out instead of all landing at once), capped by max_delay.
    Without: base_delay * 2^(attempt-1) capped by max_delay, then +/- jitter, never above max_delay.
    """
    if error.retry_after is not None:
        wanted = max(0.0, error.retry_after) * (1.0 + rng.uniform(0.0, policy.jitter))
        return min(policy.max_delay, wanted)
    exponential = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    jittered = exponential * (1.0 + rng.uniform(-policy.jitter, policy.jitter))
    return max(0.0, min(policy.max_delay, jittered))


async def complete_with_retries(
    backend: LLMBackend,
    request: ChatRequest,
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    on_retry: Callable[[int, BackendError, float], None] | None = None,
    on_attempt: Callable[[int], None] | None = None,
    rng: random.Random | None = None,
    watch: StreamWatch | None = None,
) -> ChatAnswer:
    """Ask `backend`, retrying retryable errors; non-retryable errors and the last error are raised.

    `on_attempt(attempt)` is called before each try; `on_retry(attempt, error, delay)` before each wait (attempt =
    the 1-based number of the try that failed); an exception either raises stops the retries and propagates (a way
    to honour a cancel flag). `watch` follows each attempt's streamed tokens. Cancelling the task interrupts both an
    in-flight request (its connection is closed, so a streaming server stops generating) and a wait.
    """
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    attempts = max(1, policy.max_attempts)
    for attempt in range(1, attempts + 1):
        if on_attempt is not None:
            on_attempt(attempt)
        if watch is not None:
            watch.restart()
        try:
            return await (backend.complete(request, watch) if watch is not None else backend.complete(request))
        except BackendError as error:
            error.attempts = attempt
            if not error.retryable or attempt == attempts:
                raise
            delay = backoff_delay(policy, attempt, error, rng)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


def parse_retry_after(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP-date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    millis = _as_seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _as_seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _as_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


# Prices in USD per 1 million tokens (input, output), standard (non-batch, uncached) tier, from OpenAI's pricing
# page as of 2025-06. Prices change: update this table and its date together.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-3.5-turbo-1106": (1.00, 2.00),
    "gpt-3.5-turbo-0613": (1.50, 2.00),
}
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(\d{4}-\d{2}-\d{2}|\d{4})$")


def price_per_million(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for a known model or one of its dated snapshots, else None."""
    name = model.strip().lower()
    if name in PRICES_PER_MILLION:
        return PRICES_PER_MILLION[name]
    snapshot = _SNAPSHOT.match(name)
    if snapshot and snapshot.group("base") in PRICES_PER_MILLION:
        return PRICES_PER_MILLION[snapshot.group("base")]
    return None


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for that many tokens on `model`, or None when its price is unknown (local and other servers)."""
    prices = price_per_million(model)
    if prices is None:
        return None
    prompt_price, completion_price = prices
    return (max(0, prompt_tokens) * prompt_price + max(0, completion_tokens) * completion_price) / 1_000_000
