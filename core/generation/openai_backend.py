"""OpenAI Chat Completions, and every server that speaks it (Azure OpenAI, vLLM, Ollama, llama.cpp, LM Studio, TGI).

One `openai.AsyncOpenAI` client per backend, with the client's own retries off (`complete_with_retries` decides).
Requests go through the client's generic `post`/`get` (its documented way to call any endpoint): the body is
exactly the dict built here, and the per-request cost is about a third lower than `chat.completions.create`,
which walks the messages to transform them. Answers are read as raw JSON and checked here, so a malformed answer
becomes a `BackendError` in plain words instead of a half-parsed object. The API key lives only in the client:
no message, repr or log line carries it.

Answers are streamed (`stream=True`): a slow model on a CPU may take minutes for one answer, so instead of one
total timeout there is a connect timeout and an idle timeout (no token for N seconds, which httpx enforces on every
read), and an optional limit per answer. Cancelling a request closes its stream, and llama.cpp and vLLM stop
generating when their client leaves (a non-streaming request would keep the server busy for nobody).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx2  # the HTTP library the openai package is built on (its fork of httpx)
import openai

from core.generation.chat_stream import collect_stream
from core.generation.endpoints import (
    DEFAULT_BASE_URL,
    PLACEHOLDER_KEY,
    KeyRefused,
    worker_resolve_key,
)
from core.generation.llm_backend import (
    BackendError,
    ChatAnswer,
    ChatRequest,
    ErrorKind,
    StreamWatch,
    Timeouts,
    parse_retry_after,
)
from core.secrets import redact
from core.store.database import Store

Redactor = Callable[[str], str]

_SNIPPET = 120


def resolve_api_key(api_key: str | None, base_url: str, store: Store | None = None) -> str:
    """The key given, else the one this process may send to `base_url` (see core.generation.endpoints: the CLI's
    OPENAI_API_KEY for any address; from a page, only a key bound to this address, `store`'s endpoints included),
    else a placeholder locally."""
    try:
        return api_key or worker_resolve_key(base_url, store)
    except KeyRefused as refused:
        raise BackendError(str(refused), kind="auth") from None


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server at `base_url` (default: OpenAI itself).

    The `openai` client and its connection pool are made on first use in each event loop (a pool cannot outlive
    its loop), so one backend may serve several `asyncio.run` calls; `aclose()` (or `async with`) closes the
    current one. The default pool (1000 connections, 100 kept alive) serves up to 100 requests in flight without
    reconnecting; pass `max_connections` for more.

    `timeout`: the Timeouts, or one number of seconds for connecting and for the longest silence. `stream=False`
    asks for whole answers (for servers whose streaming is broken).
    """

    name = "openai"
    recorded = False

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: Timeouts | float | None = None,
        *,
        max_connections: int | None = None,
        stream: bool = True,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeouts = _as_timeouts(timeout)
        self.stream = stream
        self.max_connections = max_connections
        self._api_key = resolve_api_key(api_key, self.base_url)
        self._client_obj: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_loop is not loop:
            timeout = _httpx_timeout(self.timeouts)
            http_client = None if self.max_connections is None else _pooled_client(self.max_connections, timeout)
            self._client_obj = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=timeout,
                max_retries=0,
                http_client=http_client,
            )
            self._client_loop = loop
        return self._client_obj

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={self.base_url!r}, timeouts={self.timeouts!r}, stream={self.stream})"

    @property
    def streams(self) -> bool:
        """Whether answers come token by token (so the sender can watch them and learn the server's slots)."""
        return self.stream

    async def complete(self, request: ChatRequest, watch: StreamWatch | None = None) -> ChatAnswer:
        if not self.stream:
            return await self._whole_answer(request)
        watch = watch or StreamWatch()  # its count of tokens makes the messages of a timeout precise
        if not self.timeouts.total:
            return await self._streamed_answer(request, watch)
        try:
            async with asyncio.timeout(self.timeouts.total):
                return await self._streamed_answer(request, watch)
        except TimeoutError:
            came = f" ({watch.tokens} tokens had come)" if watch.tokens else ""
            raise BackendError(
                f"The server at {self.base_url} did not finish the answer within {seconds_text(self.timeouts.total)}"
                f"{came}, the time limit per answer: raise the limit, or ask for fewer samples per request.",
                kind="timeout",
            ) from None

    async def _whole_answer(self, request: ChatRequest) -> ChatAnswer:
        try:
            response = await self._client.post(
                "/chat/completions", body=request_params(request), cast_to=httpx2.Response
            )
        except openai.OpenAIError as error:
            raise self._backend_error(error, request.model) from None
        return parse_chat_answer(response.content, redact_text=self._redact)

    async def _streamed_answer(self, request: ChatRequest, watch: StreamWatch | None) -> ChatAnswer:
        body = {**request_params(request), "stream": True, "stream_options": {"include_usage": True}}
        try:
            response = await self._client.post("/chat/completions", body=body, cast_to=httpx2.Response, stream=True)
        except openai.OpenAIError as error:
            raise self._backend_error(error, request.model, watch) from None
        try:  # a cancel lands here too: closing the response closes the stream, and the server stops generating
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return parse_chat_answer(await response.aread(), redact_text=self._redact)  # answered in one piece
            streamed = await collect_stream(response.aiter_lines(), watch, self._redact)
            return parse_chat_body(streamed.as_completion(), redact_text=self._redact)
        except httpx2.TimeoutException:
            raise silence_error(self.base_url, self.timeouts, watch) from None
        except httpx2.TransportError:
            came = watch.tokens if watch is not None else 0
            raise BackendError(
                f"The connection to {self.base_url} broke in the middle of the answer ({came} tokens had come).",
                kind="unreachable",
            ) from None
        finally:
            await response.aclose()

    async def list_models(self) -> list[str]:
        """The model ids the server offers (GET /models): the "check connection" button."""
        try:
            response = await self._client.get("/models", cast_to=httpx2.Response)
        except openai.OpenAIError as error:
            raise self._backend_error(error, model=None) from None
        body = _load_json(response.content, self._redact)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BackendError(
                "The server's list of models is not in the OpenAI format (no 'data' list).", kind="bad_answer"
            )
        return [str(item["id"]) for item in data if isinstance(item, dict) and item.get("id") is not None]

    async def served_slots(self) -> int | None:
        """How many requests the server works on at once, where it says (llama.cpp's /props or /slots at the
        server's root); None when it does not."""
        root = self.base_url.removesuffix("/v1")
        for path, read in (("/props", _slots_from_props), ("/slots", _slots_from_slots)):
            try:
                response = await self._client.get(f"{root}{path}", cast_to=httpx2.Response)
                slots = read(json.loads(response.content))
            except (openai.OpenAIError, ValueError, UnicodeDecodeError):
                continue
            if slots:
                return slots
        return None

    async def aclose(self) -> None:
        client, self._client_obj, self._client_loop = self._client_obj, None, None
        if client is not None:
            await client.close()

    async def __aenter__(self) -> OpenAIBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _redact(self, text: str) -> str:
        extra = [] if self._api_key == PLACEHOLDER_KEY else [self._api_key]
        return redact(text, extra=extra)

    def _backend_error(
        self, error: openai.OpenAIError, model: str | None, watch: StreamWatch | None = None
    ) -> BackendError:
        return map_openai_error(
            error, base_url=self.base_url, model=model, timeouts=self.timeouts, redact_text=self._redact, watch=watch
        )


def _as_timeouts(timeout: Timeouts | float | None) -> Timeouts:
    if isinstance(timeout, Timeouts):
        return timeout
    if timeout is None:
        return Timeouts()
    return Timeouts(connect=float(timeout), idle=float(timeout))


def _httpx_timeout(timeouts: Timeouts) -> httpx2.Timeout:
    """httpx applies `read` to every wait for data: with a streamed answer, the longest silence."""
    return httpx2.Timeout(connect=timeouts.connect, read=timeouts.idle, write=timeouts.idle, pool=timeouts.idle)


def _pooled_client(max_connections: int, timeout: httpx2.Timeout) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)


def _slots_from_props(body: object) -> int | None:
    value = body.get("total_slots") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _slots_from_slots(body: object) -> int | None:
    return len(body) if isinstance(body, list) and body else None


def silence_error(base_url: str, timeouts: Timeouts, watch: StreamWatch | None) -> BackendError:
    """The server said nothing for the idle timeout: before its first token, or in the middle of the answer."""
    quiet = seconds_text(timeouts.idle)
    if watch is None or watch.first_token_at is None:
        message = (
            f"The server at {base_url} sent nothing for {quiet}: it may be busy with other requests, still loading "
            "the model, or slow to read a long prompt. If it is just slow, raise the idle timeout."
        )
    else:
        message = (
            f"The server at {base_url} went silent for {quiet} after {watch.tokens} tokens of the answer. If it "
            "is just slow, raise the idle timeout."
        )
    return BackendError(message, kind="timeout")


def request_params(request: ChatRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        params["seed"] = request.seed
    if request.json_output:
        params["response_format"] = {"type": "json_object"}
    return params


def map_openai_error(
    error: openai.OpenAIError,
    *,
    base_url: str,
    model: str | None,
    timeouts: Timeouts,
    redact_text: Redactor = redact,
    watch: StreamWatch | None = None,
) -> BackendError:
    """Every exception of the openai package as a BackendError with the right kind and plain words."""
    if isinstance(error, openai.APITimeoutError):
        if isinstance(error.__cause__, httpx2.ConnectTimeout):
            return BackendError(
                f"Could not connect to {base_url} within {seconds_text(timeouts.connect)}: is the server running, "
                "and is the address right?",
                kind="timeout",
            )
        return silence_error(base_url, timeouts, watch)
    if isinstance(error, openai.APIConnectionError):
        if _connection_dropped(error):
            return BackendError(
                f"The connection to {base_url} broke before the answer came (the server closed it).", kind="unreachable"
            )
        return BackendError(
            f"Could not reach {base_url}: is the server running, and is the address right?", kind="unreachable"
        )
    if isinstance(error, openai.APIResponseValidationError):
        return BackendError("The server's answer was not in the OpenAI format.", kind="bad_answer")
    if isinstance(error, openai.APIStatusError):
        return _status_error(error, base_url=base_url, model=model, redact_text=redact_text)
    return BackendError(f"Unexpected problem talking to {base_url}: {redact_text(str(error))}", kind="bad_answer")


def _connection_dropped(error: openai.APIConnectionError) -> bool:
    """True when a connection was made and then lost; False when none could be made (refused, DNS, TLS...)."""
    cause = error.__cause__
    names = {type(cause).__name__, *(k.__name__ for k in type(cause).__mro__)} if cause else set()
    return bool(names & {"RemoteProtocolError", "ReadError", "WriteError"})


def seconds_text(seconds: float) -> str:
    """3 s, 1.5 s, 4 min, 2 h: a wait in words."""
    if seconds < 10:
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def _status_error(
    error: openai.APIStatusError, *, base_url: str, model: str | None, redact_text: Redactor
) -> BackendError:
    status = error.status_code
    said = redact_text(_server_message(error.body))[:300]
    code = (error.code or "").lower()
    retry_after = parse_retry_after(dict(error.response.headers))

    def make(message: str, kind: ErrorKind, retryable: bool | None = None) -> BackendError:
        return BackendError(
            message, kind=kind, retryable=retryable, retry_after=retry_after, status=status, detail=said
        )

    if status == 401:
        return make(
            "The server refused the API key: check it on the Generate page or in OPENAI_API_KEY "
            "(environment or .streamlit/secrets.toml).",
            "auth",
        )
    if status == 403:
        return make(
            "The server refused access with this API key (403 Forbidden): the key may not be allowed to use this "
            "model or project.",
            "auth",
        )
    if status == 404:
        if model and (code == "model_not_found" or "model" in said.lower()):
            return make(
                f"The model '{model}' does not exist on this server (or this key may not use it).", "model_not_found"
            )
        return make(
            f"{base_url} answered 404 Not Found: check the base URL (OpenAI-compatible servers usually end in /v1).",
            "bad_request",
        )
    if status == 408:
        return make(f"The server at {base_url} gave up waiting (408 Request Timeout).", "timeout")
    if status == 429:
        return _rate_limit_error(make, code, said, retry_after)
    if status >= 500:
        return make(f"The server had an internal error ({status}); asking again usually helps.", "server")
    if status == 409:
        return make("The server reported a conflict (409); asking again usually helps.", "server", retryable=True)
    if code == "context_length_exceeded" or "context length" in said.lower():
        return make(f"The prompt is too long for this model, or max tokens too high: {said}", "bad_request")
    return make(f"The server rejected the request ({status}): {said or 'no reason given'}", "bad_request")


def _rate_limit_error(
    make: Callable[..., BackendError], code: str, said: str, retry_after: float | None
) -> BackendError:
    if code == "insufficient_quota" or "exceeded your current quota" in said.lower():
        return make(
            "The account behind this API key has run out of credit (quota exceeded): check its plan and billing.",
            "rate_limited",
            retryable=False,
        )
    if retry_after is not None:
        return make(
            f"Rate limited by the server (too many requests); it asked to wait {seconds_text(retry_after)}.",
            "rate_limited",
        )
    return make("Rate limited by the server (too many requests); waiting a little before asking again.", "rate_limited")


def _server_message(body: object) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail")
            return str(message) if message else ""
        return str(inner) if inner else str(body.get("detail") or body.get("message") or "")
    return str(body) if body else ""


def _load_json(content: bytes, redact_text: Redactor) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        snippet = redact_text(content[:_SNIPPET].decode("utf-8", errors="replace")).strip()
        raise BackendError(
            f"The server's answer was not JSON (it began: {snippet!r}): is the base URL an OpenAI-compatible API?",
            kind="bad_answer",
        ) from None


def parse_chat_answer(content: bytes, *, redact_text: Redactor = redact) -> ChatAnswer:
    """Check a chat completion's JSON and take its text, usage and finish reason, or explain what is wrong."""
    return parse_chat_body(_load_json(content, redact_text), redact_text=redact_text)


def parse_chat_body(body: Any, *, redact_text: Redactor = redact) -> ChatAnswer:
    """Check a chat completion object (whole, or put together from a stream)."""
    if not isinstance(body, dict):
        raise BackendError("The server's answer was JSON but not a chat completion object.", kind="bad_answer")
    if body.get("error"):
        said = redact_text(_server_message(body))[:300]
        raise BackendError(
            f"The server answered with an error: {said or 'no reason given'}", kind="bad_answer", detail=said
        )
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _answer_error("The server's answer had no choices (no text at all).", body)
    choice = choices[0]
    raw_message = choice.get("message")
    message = raw_message if isinstance(raw_message, dict) else {}
    finish_reason = choice.get("finish_reason")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        raise _answer_error(f"The model refused: {refusal.strip()[:300]}", body, kind="refused")
    if finish_reason == "content_filter":
        raise _answer_error("The server's content filter blocked the answer.", body, kind="refused")
    text = _message_text(message.get("content"))
    if text is None or not text.strip():
        raise _answer_error(_empty_reason(text, finish_reason), body)
    raw_usage = body.get("usage")
    usage = raw_usage if isinstance(raw_usage, dict) else {}
    return ChatAnswer(
        text=text,
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        raw=body,
    )


def _message_text(content: object) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some servers send
        parts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return None


def _empty_reason(text: str | None, finish_reason: object) -> str:
    what = "no text (its content was null)" if text is None else "an empty text"
    if finish_reason == "length":
        return f"The model returned {what}: it used up max tokens before writing anything; raise max tokens."
    return f"The model returned {what}."


def _answer_error(message: str, body: dict[str, Any], kind: ErrorKind = "bad_answer") -> BackendError:
    return BackendError(message, kind=kind, raw=body)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
