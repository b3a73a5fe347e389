"""The OpenAI backend against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/openai_server.py).

No test waits for a backoff: `complete_with_retries` gets a fake `sleep` that records the delays it was asked for.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from core.generation.llm_backend import (
    BackendError,
    ChatAnswer,
    ChatRequest,
    LLMBackend,
    RetryPolicy,
    backoff_delay,
    complete_with_retries,
    estimate_cost,
    parse_retry_after,
)
from core.generation.openai_backend import PLACEHOLDER_KEY, OpenAIBackend
from tests.openai_server import Delay, EmptyChoices, Raw, Refusal, Reply, ScriptedOpenAIServer, Status

pytestmark = pytest.mark.timeout(30)

KEY = "sk-test-0123456789abcdef"
MESSAGES = [{"role": "system", "content": "You write examples."}, {"role": "user", "content": "Write 3 reviews."}]


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as running:
        yield running


def chat(model: str = "test-model", **options: Any) -> ChatRequest:
    return ChatRequest(messages=MESSAGES, model=model, **options)


def ask(backend: OpenAIBackend, request: ChatRequest | None = None) -> ChatAnswer:
    async def go() -> ChatAnswer:
        try:
            return await backend.complete(request or chat())
        finally:
            await backend.aclose()

    return asyncio.run(go())


def ask_with_retries(
    backend: OpenAIBackend,
    policy: RetryPolicy | None = None,
    request: ChatRequest | None = None,
    on_retry: Any = None,
) -> tuple[ChatAnswer | BackendError, list[float]]:
    sleep = RecordingSleep()

    async def go() -> ChatAnswer:
        try:
            return await complete_with_retries(
                backend, request or chat(), policy, sleep=sleep, on_retry=on_retry, rng=random.Random(7)
            )
        finally:
            await backend.aclose()

    try:
        return asyncio.run(go()), sleep.delays
    except BackendError as error:
        return error, sleep.delays


def failure(backend: OpenAIBackend, request: ChatRequest | None = None) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ask(backend, request)
    return caught.value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- normal answers -------------------------------------------------------------------------------------------
def test_a_normal_answer_brings_text_usage_and_finish_reason(server: ScriptedOpenAIServer) -> None:
    usage = {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}
    server.script([Reply("1. Great phone.\n2. Awful battery.\n3. Fine.", usage=usage)])

    answer = ask(OpenAIBackend(server.base_url, KEY))

    assert answer.text == "1. Great phone.\n2. Awful battery.\n3. Fine."
    assert (answer.prompt_tokens, answer.completion_tokens) == (21, 9)
    assert answer.finish_reason == "stop"
    assert answer.model == "test-model"
    assert answer.raw["object"] == "chat.completion"
    assert isinstance(OpenAIBackend(server.base_url, KEY), LLMBackend)
    assert OpenAIBackend(server.base_url, KEY).recorded is False


def test_the_default_responder_answers_n_lines_and_counts_words_as_tokens(server: ScriptedOpenAIServer) -> None:
    answer = ask(OpenAIBackend(server.base_url, KEY))

    assert len(answer.text.splitlines()) == 3
    assert answer.prompt_tokens == 6  # "You write examples." + "Write 3 reviews."
    assert answer.completion_tokens == len(answer.text.split())


def test_an_answer_without_usage_has_no_token_counts(server: ScriptedOpenAIServer) -> None:
    server.script([Reply("1. ok", include_usage=False, finish_reason="length")])

    answer = ask(OpenAIBackend(server.base_url, KEY))

    assert (answer.prompt_tokens, answer.completion_tokens, answer.finish_reason) == (None, None, "length")


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_the_request_carries_model_sampling_seed_and_json_format(server: ScriptedOpenAIServer, stream: bool) -> None:
    request = chat("gpt-4o-mini", temperature=0.7, top_p=0.9, max_tokens=300, seed=42, json_output=True)

    ask(OpenAIBackend(server.base_url, KEY, stream=stream), request)
    ask(OpenAIBackend(server.base_url, KEY, stream=stream), chat())

    first, second = server.chat_requests
    streaming = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    assert first.body == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 300,
        "seed": 42,
        "response_format": {"type": "json_object"},
        **streaming,
    }
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert "seed" not in second.body and "response_format" not in second.body
    assert "x-stainless-retry-count" in first.headers  # a real openai client made the call


# ---- retries --------------------------------------------------------------------------------------------------
def test_429_with_retry_after_is_retried_after_that_delay(server: ScriptedOpenAIServer) -> None:
    server.script([Status(429, retry_after=3), Reply("1. after the wait")])
    retries: list[tuple[int, str, float]] = []

    answer, delays = ask_with_retries(
        OpenAIBackend(server.base_url, KEY),
        RetryPolicy(jitter=0.25),
        on_retry=lambda attempt, error, delay: retries.append((attempt, error.kind, delay)),
    )

    assert isinstance(answer, ChatAnswer) and answer.text == "1. after the wait"
    assert len(delays) == 1 and 3.0 <= delays[0] <= 3.0 * 1.25  # never sooner than asked, spread a little
    assert retries == [(1, "rate_limited", delays[0])]
    assert len(server.chat_requests) == 2


def test_retry_after_as_an_http_date_is_honoured(server: ScriptedOpenAIServer) -> None:
    server.script([Status(429, retry_after=formatdate(time.time() + 20, usegmt=True)), Reply("1. ok")])

    answer, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), RetryPolicy(jitter=0.0))

    assert isinstance(answer, ChatAnswer)
    assert len(delays) == 1 and 15.0 <= delays[0] <= 20.0


def test_retry_after_is_capped_by_max_delay(server: ScriptedOpenAIServer) -> None:
    server.script([Status(429, retry_after=600), Reply("1. ok")])

    answer, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), RetryPolicy(max_delay=30.0))

    assert isinstance(answer, ChatAnswer) and delays == [30.0]


def test_server_errors_are_retried_with_growing_delays(server: ScriptedOpenAIServer) -> None:
    server.script([Status(500), Status(503), Reply("1. third time lucky")])

    answer, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), RetryPolicy(base_delay=0.5, jitter=0.25))

    assert isinstance(answer, ChatAnswer) and answer.text == "1. third time lucky"
    assert len(delays) == 2
    assert 0.5 * 0.75 <= delays[0] <= 0.5 * 1.25
    assert 1.0 * 0.75 <= delays[1] <= 1.0 * 1.25
    assert len(server.chat_requests) == 3


def test_a_slow_answer_past_the_timeout_is_a_timeout_and_is_retried(server: ScriptedOpenAIServer) -> None:
    server.script([Delay(10.0, then=Reply("1. too late")), Reply("1. in time")])
    kinds: list[str] = []

    answer, delays = ask_with_retries(
        OpenAIBackend(server.base_url, KEY, timeout=0.3),
        on_retry=lambda attempt, error, delay: kinds.append(error.kind),
    )

    assert isinstance(answer, ChatAnswer) and answer.text == "1. in time"
    assert kinds == ["timeout"] and len(delays) == 1


def test_after_max_attempts_the_last_error_is_raised(server: ScriptedOpenAIServer) -> None:
    server.script([Status(500), Status(502), Status(503), Reply("1. never asked for")])

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), RetryPolicy(max_attempts=3))

    assert isinstance(error, BackendError)
    assert (error.kind, error.status, error.attempts, error.retryable) == ("server", 503, 3, True)
    assert len(delays) == 2
    assert len(server.chat_requests) == 3 and server.pending == 1


def test_an_exception_from_on_retry_stops_the_retries(server: ScriptedOpenAIServer) -> None:
    server.script([Status(500), Reply("1. never asked for")])

    def cancel(attempt: int, error: BackendError, delay: float) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        ask_with_retries(OpenAIBackend(server.base_url, KEY), on_retry=cancel)
    assert len(server.chat_requests) == 1


def test_backoff_grows_exponentially_and_stays_under_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, jitter=0.0)
    plain = BackendError("boom", kind="server")
    delays = [backoff_delay(policy, attempt, plain, random.Random(1)) for attempt in range(1, 9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    jittered = RetryPolicy(jitter=0.25, max_delay=30.0)
    assert all(0 <= backoff_delay(jittered, 9, plain, random.Random(seed)) <= 30.0 for seed in range(50))


def test_parse_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past: now
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


# ---- answers that cannot be used ------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize(
    ("behaviour", "kind", "words"),
    [
        (Raw(b"not json"), "bad_answer", "not JSON"),
        (Raw(b"<html>502 Bad Gateway</html>", content_type="text/html"), "bad_answer", "not JSON"),
        (EmptyChoices(), "bad_answer", "no choices"),
        (Reply(None), "bad_answer", "content was null|an empty text"),  # a stream cannot tell null from ""
        (Reply(None, finish_reason="length"), "bad_answer", "raise max tokens"),
        (Reply("   "), "bad_answer", "empty text"),
        (Refusal("I can't help with that"), "refused", "The model refused: I can't help with that"),
        (Reply("partial", finish_reason="content_filter"), "refused", "content filter"),
    ],
    ids=["non-json", "html", "empty-choices", "null-content", "null-after-length", "blank", "refusal", "filter"],
)
def test_unusable_answers_are_explained_and_not_retried(
    server: ScriptedOpenAIServer, behaviour: Any, kind: str, words: str, stream: bool
) -> None:
    server.script([behaviour, Reply("1. never asked for")])

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY, stream=stream))

    assert isinstance(error, BackendError)
    assert error.kind == kind and not error.retryable
    assert any(alternative in str(error) for alternative in words.split("|")), str(error)
    assert delays == [] and len(server.chat_requests) == 1


# ---- errors that retrying cannot fix --------------------------------------------------------------------------
def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(server: ScriptedOpenAIServer) -> None:
    server.require_key = "sk-the-right-one-000000"
    wrong = "sk-wrong-key-9876543210"

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, wrong))

    assert isinstance(error, BackendError)
    assert error.kind == "auth" and not error.retryable and error.status == 401
    assert "API key" in str(error) and "OPENAI_API_KEY" in str(error)
    for text in (str(error), repr(error), error.detail or "", str(error.args)):
        assert wrong not in text
    assert delays == [] and len(server.chat_requests) == 1


def test_an_unknown_model_is_model_not_found(server: ScriptedOpenAIServer) -> None:
    server.models = ["gpt-4o-mini"]

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), request=chat("gpt-9-ultra"))

    assert isinstance(error, BackendError)
    assert error.kind == "model_not_found" and not error.retryable
    assert "The model 'gpt-9-ultra' does not exist on this server" in str(error)
    assert delays == []


def test_a_base_url_without_v1_is_explained(server: ScriptedOpenAIServer) -> None:
    base = server.base_url.removesuffix("/v1")

    error = failure(OpenAIBackend(base, KEY))

    assert error.kind == "bad_request" and "check the base URL" in str(error) and base in str(error)


def test_a_rejected_request_passes_the_servers_reason_on(server: ScriptedOpenAIServer) -> None:
    server.script([Status(400, message="'messages' must contain the word 'json' to use 'response_format'.")])

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY), request=chat(json_output=True))

    assert isinstance(error, BackendError)
    assert error.kind == "bad_request" and "must contain the word 'json'" in str(error)
    assert delays == []


def test_an_exhausted_quota_is_not_retried(server: ScriptedOpenAIServer) -> None:
    server.script([Status(429, code="insufficient_quota", message="You exceeded your current quota.")])

    error, delays = ask_with_retries(OpenAIBackend(server.base_url, KEY))

    assert isinstance(error, BackendError)
    assert error.kind == "rate_limited" and not error.retryable and "run out of credit" in str(error)
    assert delays == []


def test_a_closed_port_is_unreachable_and_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"

    error, delays = ask_with_retries(OpenAIBackend(url, KEY, timeout=2.0), RetryPolicy(max_attempts=3))

    assert isinstance(error, BackendError)
    assert error.kind == "unreachable" and error.retryable and error.attempts == 3
    assert str(error) == f"Could not reach {url}: is the server running, and is the address right?"
    assert len(delays) == 2


# ---- keys -----------------------------------------------------------------------------------------------------
@pytest.fixture
def no_key_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_remote_server_without_any_key_is_an_auth_error(no_key_anywhere: Path) -> None:
    with pytest.raises(BackendError) as caught:
        OpenAIBackend(None, None)
    assert caught.value.kind == "auth" and "OPENAI_API_KEY" in str(caught.value)
    assert "https://api.openai.com/v1" in str(caught.value)


def test_a_local_server_without_a_key_gets_a_placeholder(server: ScriptedOpenAIServer, no_key_anywhere: Path) -> None:
    ask(OpenAIBackend(server.base_url, None))
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_the_key_comes_from_the_environment_then_secrets_toml(
    server: ScriptedOpenAIServer, no_key_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_key_anywhere / ".streamlit").mkdir()
    (no_key_anywhere / ".streamlit" / "secrets.toml").write_text('OPENAI_API_KEY = "sk-from-toml-1234"\n')
    ask(OpenAIBackend(server.base_url, None))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-5678")
    ask(OpenAIBackend(server.base_url, None))

    first, second = server.chat_requests
    assert first.headers["authorization"] == "Bearer sk-from-toml-1234"
    assert second.headers["authorization"] == "Bearer sk-from-env-5678"
    assert "sk-from" not in repr(OpenAIBackend(server.base_url, None))


# ---- models, loops, concurrency, prices -----------------------------------------------------------------------
def test_list_models_checks_the_connection(server: ScriptedOpenAIServer) -> None:
    server.models = ["gpt-4o-mini", "llama3"]
    backend = OpenAIBackend(server.base_url, KEY)
    assert asyncio.run(backend.list_models()) == ["gpt-4o-mini", "llama3"]

    server.require_key = "sk-another-key-000000"
    with pytest.raises(BackendError) as caught:
        asyncio.run(backend.list_models())
    assert caught.value.kind == "auth"


def test_one_backend_serves_several_event_loops(server: ScriptedOpenAIServer) -> None:
    backend = OpenAIBackend(server.base_url, KEY)
    assert asyncio.run(backend.complete(chat())).text  # not closed: its pool dies with its loop
    assert ask(backend).text  # a fresh loop gets a fresh pool instead of the dead one
    assert ask(backend).text  # and after aclose() too


def test_concurrent_requests_reach_the_server_together(server: ScriptedOpenAIServer) -> None:
    together = threading.Barrier(8, timeout=10)

    def responder(body: dict[str, Any]) -> str:
        together.wait()  # passes only once 8 requests are in flight at the same time
        return "1. ok"

    server.responder = responder
    backend = OpenAIBackend(server.base_url, KEY)

    async def go() -> list[ChatAnswer]:
        async with backend:
            return await asyncio.gather(*(complete_with_retries(backend, chat()) for _ in range(8)))

    assert [a.text for a in asyncio.run(go())] == ["1. ok"] * 8
    assert server.max_concurrency_seen == 8


def test_estimate_cost_knows_common_models_and_not_others() -> None:
    assert estimate_cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert estimate_cost("gpt-4.1-nano", 2_000, 1_000) == pytest.approx(0.0006)
    assert estimate_cost("gpt-4o", 1_000, 1_000) == pytest.approx(0.0125)
    assert estimate_cost("gpt-3.5-turbo-0125", 1_000_000, 0) == pytest.approx(0.5)
    assert estimate_cost("llama3.1:8b", 1_000, 1_000) is None
    assert estimate_cost("gpt-4o-realtime-preview", 1_000, 1_000) is None
