"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks (stdlib only).

    with ScriptedOpenAIServer() as server:
        server.script([Status(429, retry_after=2), Reply("1. hello")])
        backend = OpenAIBackend(server.base_url, "any-key")
        ...
        server.requests  # every request: method, path, headers, JSON body

POST /v1/chat/completions answers in the exact OpenAI shape; GET /v1/models lists `server.models` (or a default).
Scripted behaviours are consumed one per chat request, in order; when none is queued, `server.responder(body)`
writes the answer (default: a numbered list of n short, unique lines, n read from the last user message).
Errors use OpenAI's error JSON. HTTP/1.1 keep-alive with Content-Length on every answer, one daemon thread per
connection and a deep listen queue, so the server is not the bottleneck of a concurrency benchmark.

Behaving like a local LLM server (llama.cpp's server, vLLM, Ollama, LM Studio):
- `tokens_per_second`: an answer takes one token-time per completion token (a token is a whitespace-separated word,
  as `count_tokens` counts); `prompt_seconds` is spent in the slot before the first token. `slots` limits how many
  chat requests generate at once; the others wait in a FIFO queue (llama.cpp's `--parallel N`).
- `"stream": true` streams Server-Sent Events over chunked HTTP/1.1: a first chunk with the role, one chunk per
  token (the word and the whitespace after it), a chunk with the finish_reason, a usage chunk when
  `stream_options.include_usage` is set, then `data: [DONE]`. The headers leave as soon as the request is accepted
  (as vLLM sends them); the first chunk leaves with the first token, after any wait for a slot and prompt_seconds.
- `max_tokens` (or `max_completion_tokens`) cuts a longer answer, with `finish_reason: "length"`.
- A streaming request whose client closes the connection stops within one token-time and frees its slot
  (`stopped_for_gone_client`); a non-streaming one generates to the end for nobody (`abandoned`,
  `abandoned_seconds`), as real servers do.
- `props=True` serves llama.cpp's `GET /props`, `GET /slots` and `GET /health` at the root (not under /v1);
  `any_model=True` serves any model name and echoes it, as llama.cpp does.
- Latency and leading `Delay`s pass before a request queues for a slot; `Status`, `Raw` and `Disconnect` take no
  slot. A `Stall` holds its slot while silent; its seconds are not counted in `busy_seconds`.

`python tests/openai_server.py --port 8000 --tokens-per-second 5 --slots 1 --props --any-model --model qwen2.5-0.5b`
stands in for a llama.cpp server until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import re
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

DEFAULT_MODEL = "test-model"


@dataclass(frozen=True)
class Reply:
    """A normal chat completion. content None sends `"content": null`; usage None counts words."""

    content: str | None
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"
    model: str | None = None
    include_usage: bool = True


@dataclass(frozen=True)
class Status:
    """An error status with OpenAI's error JSON; retry_after (seconds, or an HTTP-date string) sets Retry-After."""

    status: int
    retry_after: float | str | None = None
    message: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` (interrupted when the server stops), then behave as `then` (None: the responder)."""

    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Raw:
    """Exactly these bytes as the body."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class EmptyChoices:
    """A well-formed completion with `"choices": []`."""


@dataclass(frozen=True)
class Refusal:
    """A completion whose message has `content: null` and `refusal: text`, as OpenAI sends a refusal."""

    text: str


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without answering (the client sees a dropped connection)."""


@dataclass(frozen=True)
class Stall:
    """Generate `after_tokens` tokens of the answer, send nothing for `seconds` (interrupted when the server stops),
    then go on as `then`: None or a Reply continues the answer (a Reply's content is the answer); Disconnect drops
    the connection, Status sends an error event (streaming) or the error status, Raw sends its bytes into the
    stream; a nested Stall or Delay pauses again, its after_tokens counted from this stall. Non-streaming requests
    just answer later."""

    after_tokens: int
    seconds: float
    then: Behaviour | None = None


Behaviour = Reply | Status | Delay | Raw | EmptyChoices | Refusal | Disconnect | Stall


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("timeout", None, "Request timed out."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}

# One token: a word with the whitespace after it (the first also carries any leading whitespace), so that joining
# the tokens gives the text back and len(tokens) == count_tokens(text).
_TOKEN = re.compile(r"\s*\S+\s*")
_POLL_SECONDS = 0.05
_PEEK_FLAGS = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)

Outcome = Literal["completed", "gone", "abandoned", "stopped", "failed"]


def count_tokens(text: str) -> int:
    """Roughly: words."""
    return len(text.split())


def split_tokens(text: str) -> list[str]:
    """The text's tokens as they are streamed: each word with the whitespace that follows it."""
    return _TOKEN.findall(text)


def default_responder(body: dict[str, Any]) -> str:
    """A numbered list of n short lines; n is the first number in the last user message (default 5, at most 200)."""
    text = ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _content_text(message.get("content"))
            break
    found = re.search(r"\b(\d{1,3})\b", text)
    n = min(200, max(1, int(found.group(1)))) if found else 5
    tag = uuid.uuid4().hex[:8]
    return "\n".join(f"{i}. Sample sentence {i} number {tag}." for i in range(1, n + 1))


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    owner: ScriptedOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedOpenAI/1.0"
    timeout = 120  # an idle keep-alive connection is closed after this long
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm holds the body back until the
        # client's delayed ACK (~40 ms per answer), which would make the server the bottleneck of any benchmark.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def handle(self) -> None:
        # A client that closes a kept-alive connection with an answer still unread resets it: not worth a traceback.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.owner._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._handle(self, "POST")


@dataclass
class _Plan:
    """What a generating request will do: its tokens, its pauses and how it ends."""

    choices: list[str | None]  # the contents after the max_tokens cut; choice 0 is the one streamed
    tokens: list[str]  # choice 0's tokens
    extra_tokens: int  # the other choices' tokens (n > 1, not streamed)
    finish_reasons: list[str]
    usage: dict[str, int] | None
    model: str
    kind: Literal["reply", "refusal", "empty"]
    steps: list[tuple[Literal["tokens", "pause"], float]]  # before the rest of the answer
    ending: Status | Raw | Disconnect | None  # instead of the rest of the answer


@dataclass
class _Stats:
    busy_seconds: float = 0.0
    waiting: int = 0
    max_waiting: int = 0
    generating: int = 0
    max_generating: int = 0
    abandoned: int = 0
    abandoned_seconds: float = 0.0
    stopped_for_gone_client: int = 0
    completed: int = 0


class ScriptedOpenAIServer:
    """The server; a context manager that starts it on a free port and stops it on exit."""

    def __init__(
        self,
        *,
        models: Iterable[str] | None = None,
        require_key: str | None = None,
        latency: float = 0.0,
        responder: Callable[[dict[str, Any]], str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        prompt_seconds: float = 0.0,
        slots: int | None = None,
        any_model: bool = False,
        props: bool = False,
        n_ctx: int = 4096,
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive (or None for answers at once)")
        if slots is not None and slots < 1:
            raise ValueError("slots must be at least 1 (or None for no limit)")
        self.models: list[str] | None = list(models) if models is not None else None
        self.require_key = require_key
        self.latency = latency
        self.responder = responder or default_responder
        self.tokens_per_second = tokens_per_second
        self.prompt_seconds = prompt_seconds
        self.slots = slots
        self.any_model = any_model
        self.props = props
        self.n_ctx = n_ctx
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._max_in_flight = 0
        self._stats = _Stats()
        self._free_slots: list[int] = list(range(slots or 1))
        self._waiters: deque[object] = deque()
        self._ids = itertools.count(1)
        self._tasks = itertools.count(1)
        self._slot_tasks: dict[int, int] = {}
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        self._stopping.clear()
        self._httpd = _HTTPServer((self._host, self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="scripted-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        with self._slot_freed:
            self._slot_freed.notify_all()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._httpd = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """Where llama.cpp's own endpoints (/props, /slots, /health) live."""
        return f"http://127.0.0.1:{self.port}"

    # ---- scripting and inspection -----------------------------------------------------------------------------
    def script(self, behaviours: Iterable[Behaviour]) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def in_flight(self) -> int:
        """Requests whose handler has not finished yet (the client may already have read the whole answer)."""
        with self._lock:
            return self._in_flight

    @property
    def max_concurrency_seen(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def busy_seconds(self) -> float:
        """Seconds requests spent generating in slots: prompt processing and token times (abandoned work too)."""
        with self._lock:
            return self._stats.busy_seconds

    @property
    def waiting(self) -> int:
        """Chat requests waiting for a slot right now."""
        with self._lock:
            return self._stats.waiting

    @property
    def max_waiting(self) -> int:
        with self._lock:
            return self._stats.max_waiting

    @property
    def generating(self) -> int:
        """Chat requests holding a slot right now."""
        with self._lock:
            return self._stats.generating

    @property
    def max_generating(self) -> int:
        with self._lock:
            return self._stats.max_generating

    @property
    def abandoned(self) -> int:
        """Non-streaming answers generated to the end after their client had gone."""
        with self._lock:
            return self._stats.abandoned

    @property
    def abandoned_seconds(self) -> float:
        with self._lock:
            return self._stats.abandoned_seconds

    @property
    def stopped_for_gone_client(self) -> int:
        """Streaming answers stopped because their client closed the connection."""
        with self._lock:
            return self._stats.stopped_for_gone_client

    @property
    def completed(self) -> int:
        """Answers fully delivered."""
        with self._lock:
            return self._stats.completed

    def reset_stats(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = self._in_flight
            live = self._stats
            self._stats = _Stats(
                waiting=live.waiting,
                max_waiting=live.waiting,
                generating=live.generating,
                max_generating=live.generating,
            )

    def wait_for(self, predicate: Callable[[ScriptedOpenAIServer], bool], timeout: float) -> bool:
        """Poll `predicate(server)` until it holds (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    # ---- request handling (runs on the connection's thread) ---------------------------------------------------
    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _handle(self, handler: _Handler, method: str) -> None:
        raw_body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        body: Any = None
        parse_failed = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                parse_failed = True
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self._requests.append(RecordedRequest(method, path, dict(handler.headers.items()), body))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._answer(handler, method, path, body, parse_failed)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            handler.close_connection = True  # the client gave up (e.g. its timeout) before we answered
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, handler: _Handler, method: str, path: str, body: Any, parse_failed: bool) -> None:
        route = path.rstrip("/")
        if self.props and method == "GET" and route in ("/health", "/v1/health"):
            return self._send_json(handler, 200, {"status": "ok"})  # public, as in llama.cpp
        if self.require_key is not None:
            given = handler.headers.get("Authorization", "")
            if given != f"Bearer {self.require_key}":
                self._wait(self.latency)
                return self._send_error(handler, 401, _wrong_key_message(given.removeprefix("Bearer ")))
        if method == "GET" and route == "/v1/models":
            self._wait(self.latency)
            return self._send_json(handler, 200, self._models_body())
        if method == "POST" and route == "/v1/chat/completions":
            return self._chat(handler, body, parse_failed)
        if self.props and method == "GET" and route == "/props":
            return self._send_json(handler, 200, self._props_body())
        if self.props and method == "GET" and route == "/slots":
            return self._send_json(handler, 200, self._slots_body())
        self._send_error(handler, 404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _chat(self, handler: _Handler, body: Any, parse_failed: bool) -> None:
        problem = _invalid_chat_body(body, parse_failed)
        if problem:
            return self._send_error(handler, 400, problem)
        model = body["model"]
        if self.models is not None and not self.any_model and model not in self.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return self._send_error(handler, 404, message, code="model_not_found")
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else None
        self._wait(self.latency)
        self._perform(handler, body, behaviour)

    def _perform(self, handler: _Handler, body: dict[str, Any], behaviour: Behaviour | None) -> None:
        while isinstance(behaviour, Delay):
            self._wait(behaviour.seconds)
            if self._stopping.is_set():
                handler.close_connection = True
                return
            behaviour = behaviour.then
        if isinstance(behaviour, Disconnect):
            _drop(handler)
        elif isinstance(behaviour, Status):
            self._send_status(handler, behaviour)
        elif isinstance(behaviour, Raw):
            self._send_bytes(handler, behaviour.status, behaviour.body, behaviour.content_type)
        else:
            self._generate(handler, body, self._plan(body, behaviour))

    # ---- generating an answer in a slot -----------------------------------------------------------------------
    def _plan(self, body: dict[str, Any], behaviour: Reply | EmptyChoices | Refusal | Stall | None) -> _Plan:
        steps: list[tuple[Literal["tokens", "pause"], float]] = []
        last: Behaviour | None = behaviour
        while isinstance(last, Stall | Delay):
            if isinstance(last, Stall):
                steps.append(("tokens", max(0, last.after_tokens)))
            steps.append(("pause", last.seconds))
            last = last.then
        limit = _token_limit(body)
        reply = last if isinstance(last, Reply) else None
        model = (reply.model if reply else None) or body.get("model") or DEFAULT_MODEL
        if isinstance(last, EmptyChoices):
            return _Plan([], [], 0, [], _usage(body, ""), model, "empty", steps, None)
        if isinstance(last, Refusal):
            text, tokens, cut = _cut(last.text, limit)
            reason = "length" if cut else "stop"
            return _Plan([text], tokens, 0, [reason], _usage(body, text or ""), model, "refusal", steps, None)
        content = reply.content if reply else self.responder(body)
        count = body["n"] if isinstance(body.get("n"), int) and body["n"] > 1 else 1
        choices: list[str | None] = []
        finish_reasons: list[str] = []
        all_tokens: list[list[str]] = []
        for text in [content] + [self.responder(body) for _ in range(count - 1)]:
            kept, tokens, cut = _cut(text, limit)
            choices.append(kept)
            all_tokens.append(tokens)
            finish_reasons.append("length" if cut else (reply.finish_reason if reply else "stop"))
        usage = reply.usage if reply and reply.usage is not None else _usage(body, " ".join(c or "" for c in choices))
        ending = last if isinstance(last, Status | Raw | Disconnect) else None
        return _Plan(
            choices=choices,
            tokens=all_tokens[0],
            extra_tokens=sum(len(t) for t in all_tokens[1:]),
            finish_reasons=finish_reasons,
            usage=usage if reply is None or reply.include_usage else None,
            model=model,
            kind="reply",
            steps=steps,
            ending=ending,
        )

    def _generate(self, handler: _Handler, body: dict[str, Any], plan: _Plan) -> None:
        stream = _Stream(self, handler, body, plan) if body.get("stream") is True else None
        if stream is not None:
            try:
                stream.open()
            except OSError:
                self._count(stopped_for_gone_client=1)
                handler.close_connection = True
                return
        watch = handler.connection if stream is not None else None
        slot = self._take_slot(watch)
        if slot is None:  # the server is stopping, or a streaming client left while waiting
            handler.close_connection = True
            return
        run = _Run(self, handler, plan, stream)
        outcome: Outcome = "stopped"
        try:
            outcome = run.execute()
        finally:
            # Counted and freed before the last bytes leave, so that a client that has read its whole answer sees
            # the slot free and the answer counted (a test may check both at once).
            seconds = run.busy_seconds()
            self._record(outcome, seconds)
            self._give_back_slot(slot)
        if outcome == "completed" and not run.deliver():
            outcome = "gone" if stream is not None else "abandoned"
            self._record(outcome, seconds, instead_of_completed=True)
        if outcome in ("gone", "abandoned", "stopped"):
            handler.close_connection = True

    def _record(self, outcome: Outcome, seconds: float, *, instead_of_completed: bool = False) -> None:
        with self._lock:
            stats = self._stats
            if instead_of_completed:
                stats.completed -= 1
            else:
                stats.busy_seconds += seconds
            if outcome == "completed":
                stats.completed += 1
            elif outcome == "gone":
                stats.stopped_for_gone_client += 1
            elif outcome == "abandoned":
                stats.abandoned += 1
                stats.abandoned_seconds += seconds

    def _take_slot(self, watch: socket.socket | None) -> int | None:
        """A free slot (FIFO among waiters); None when the server stops or the watched client goes away meanwhile."""
        ticket = object()
        with self._slot_freed:
            if self.slots is not None and (self._waiters or not self._free_slots):
                self._waiters.append(ticket)
                self._stats.waiting += 1
                self._stats.max_waiting = max(self._stats.max_waiting, self._stats.waiting)
                try:
                    while self._waiters[0] is not ticket or not self._free_slots:
                        if self._stopping.is_set():
                            return None
                        if watch is not None and _peer_gone(watch):
                            self._stats.stopped_for_gone_client += 1
                            return None
                        self._slot_freed.wait(_POLL_SECONDS)
                    self._waiters.popleft()
                finally:
                    self._stats.waiting -= 1
                    if ticket in self._waiters:
                        self._waiters.remove(ticket)
                    self._slot_freed.notify_all()
            if self._stopping.is_set():
                return None
            slot = heapq.heappop(self._free_slots) if self.slots is not None else 0
            self._slot_tasks[slot] = next(self._tasks)
            self._stats.generating += 1
            self._stats.max_generating = max(self._stats.max_generating, self._stats.generating)
            return slot

    def _give_back_slot(self, slot: int) -> None:
        with self._slot_freed:
            self._stats.generating -= 1
            if self.slots is not None:
                heapq.heappush(self._free_slots, slot)
                self._slot_tasks.pop(slot, None)
            elif self._stats.generating == 0:
                self._slot_tasks.pop(slot, None)
            self._slot_freed.notify_all()

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self._stats, name, getattr(self._stats, name) + amount)

    def _pause_until(self, deadline: float, watch: socket.socket | None) -> bool:
        """Wait until `deadline` (monotonic) or the server stops; True when the watched client went away."""
        while True:
            if self._stopping.is_set():
                return False
            if watch is not None and _peer_gone(watch):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if watch is None:
                self._stopping.wait(min(remaining, _POLL_SECONDS))
                continue
            try:
                readable, _, _ = select.select([watch], [], [], min(remaining, _POLL_SECONDS))
            except (OSError, ValueError):
                return True
            if readable and not _peer_gone(watch):
                watch = None  # the client sent something (a pipelined request): stop watching, just wait

    # ---- answers ----------------------------------------------------------------------------------------------
    def _completion(
        self,
        body: dict[str, Any],
        *,
        choices: list[dict[str, Any]],
        usage: dict[str, int] | None,
        model: str | None = None,
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or body.get("model") or DEFAULT_MODEL,
            "choices": choices,
            "system_fingerprint": "fp_scripted",
        }
        if usage is not None:
            answer["usage"] = usage
        return answer

    def _plan_completion(self, plan: _Plan) -> dict[str, Any]:
        body = {"model": plan.model}
        if plan.kind == "empty":
            return self._completion(body, choices=[], usage=plan.usage, model=plan.model)
        if plan.kind == "refusal":
            choice = _choice(None, plan.finish_reasons[0], refusal=plan.choices[0])
            return self._completion(body, choices=[choice], usage=plan.usage, model=plan.model)
        choices = [
            _choice(text, reason, index=i)
            for i, (text, reason) in enumerate(zip(plan.choices, plan.finish_reasons, strict=True))
        ]
        return self._completion(body, choices=choices, usage=plan.usage, model=plan.model)

    def _models_body(self) -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "scripted"}
                for name in self._model_names()
            ],
        }

    def _model_names(self) -> list[str]:
        return self.models if self.models else [DEFAULT_MODEL]

    def _props_body(self) -> dict[str, Any]:
        return {
            "default_generation_settings": {
                "n_ctx": self.n_ctx,
                "params": {"n_predict": -1, "temperature": 0.8, "top_p": 0.95, "stream": False},
            },
            "total_slots": self.slots or 1,
            "model_path": f"/models/{self._model_names()[0]}.gguf",
            "chat_template": "",
            "build_info": "scripted",
        }

    def _slots_body(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.slots is None:
                busy = {0: self._slot_tasks.get(0, -1)} if self._stats.generating else {}
            else:
                busy = dict(self._slot_tasks)
        return [
            {"id": i, "id_task": busy.get(i, -1), "n_ctx": self.n_ctx, "is_processing": i in busy}
            for i in range(self.slots or 1)
        ]

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # ---- writing answers --------------------------------------------------------------------------------------
    def _send_status(self, handler: _Handler, status: Status) -> None:
        headers = dict(status.headers)
        if status.retry_after is not None:
            value = status.retry_after
            headers["Retry-After"] = f"{value:g}" if isinstance(value, int | float) else str(value)
        self._send_json(handler, status.status, _status_payload(status), headers)

    def _send_error(
        self,
        handler: _Handler,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send_json(handler, status, _error_payload(status, message, code=code, type_=type_), headers)

    def _send_json(self, handler: _Handler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(handler, status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_bytes(
        self, handler: _Handler, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("x-request-id", self._request_id())
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    def _request_id(self) -> str:
        return f"req_{next(self._ids)}"


class _Stream:
    """Server-Sent Events of one streamed answer, each event in its own HTTP chunk."""

    def __init__(self, server: ScriptedOpenAIServer, handler: _Handler, body: dict[str, Any], plan: _Plan) -> None:
        self.server, self.handler, self.plan = server, handler, plan
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.began = False
        # A token's event is this chunk with its text in place of the marker: one json.dumps of the text per token.
        key = "refusal" if plan.kind == "refusal" else "content"
        self._before, _, self._after = json.dumps(self._chunk({key: "\0"})).rpartition(json.dumps("\0"))

    def open(self) -> None:
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("x-request-id", self.server._request_id())
        handler.end_headers()
        handler.wfile.flush()

    def tokens(self, texts: list[str]) -> None:
        """These tokens' events, written at once (the first also carries the role chunk)."""
        frames = [self._begin()]
        frames += [_frame(f"data: {self._before}{json.dumps(text)}{self._after}\n\n".encode()) for text in texts]
        self.handler.wfile.write(b"".join(frames))

    def finish(self) -> None:
        plan = self.plan
        if plan.kind == "empty":
            frames = [self._event(self._chunk(None, usage=plan.usage if self.include_usage else None))]
        else:
            frames = [self._begin(), self._event(self._chunk({}, finish_reason=plan.finish_reasons[0]))]
            if self.include_usage and plan.usage is not None:
                frames.append(self._event(self._chunk(None, usage=plan.usage)))
        self.handler.wfile.write(b"".join([*frames, *self._done()]))

    def error(self, status: Status) -> None:
        self.handler.wfile.write(b"".join([self._event(_status_payload(status)), *self._done()]))

    def raw(self, data: bytes) -> None:
        self.handler.wfile.write(_frame(data) + _frame(b""))

    def _begin(self) -> bytes:
        if self.began:
            return b""
        self.began = True
        first: dict[str, Any] = {"role": "assistant", "content": ""}
        if self.plan.kind == "refusal":
            first = {"role": "assistant", "content": None, "refusal": ""}
        return self._event(self._chunk(first))

    def _done(self) -> list[bytes]:
        return [_frame(b"data: [DONE]\n\n"), _frame(b"")]  # the empty last chunk: the connection stays usable

    def _chunk(
        self, delta: dict[str, Any] | None, *, finish_reason: str | None = None, usage: dict[str, int] | None = None
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.plan.model,
            "system_fingerprint": "fp_scripted",
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            chunk["usage"] = usage  # null on every chunk but the last, as OpenAI sends it
        return chunk

    def _event(self, payload: dict[str, Any]) -> bytes:
        return _frame(f"data: {json.dumps(payload)}\n\n".encode())


def _frame(data: bytes) -> bytes:
    """One chunk of a chunked HTTP body (the empty one ends the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Run:
    """One request's time in its slot: prompt processing, tokens at the token rate, stalls, and the ending."""

    def __init__(self, server: ScriptedOpenAIServer, handler: _Handler, plan: _Plan, stream: _Stream | None) -> None:
        self.server, self.handler, self.plan, self.stream = server, handler, plan, stream
        self.watch = handler.connection if stream is not None else None
        self.token_seconds = 1 / server.tokens_per_second if server.tokens_per_second else 0.0
        self.started = time.monotonic()
        self.paused = 0.0
        self.sent = 0
        self.due = self.started

    def busy_seconds(self) -> float:
        return max(0.0, time.monotonic() - self.started - self.paused)

    def execute(self) -> Outcome:
        server, plan = self.server, self.plan
        self.due = self.started + server.prompt_seconds
        if server._pause_until(self.due, self.watch):
            return "gone"
        if server._stopping.is_set():
            return "stopped"
        for step, amount in plan.steps:
            outcome = self._tokens(int(amount)) if step == "tokens" else self._pause(amount)
            if outcome is not None:
                return outcome
        if plan.ending is not None:
            return self._end_badly(plan.ending)
        outcome = self._tokens(len(plan.tokens) - self.sent)
        if outcome is not None:
            return outcome
        if self.stream is None:
            outcome = self._tokens(plan.extra_tokens, silent=True)
            if outcome is not None:
                return outcome
            if _peer_gone(self.handler.connection):
                return "abandoned"
        return "completed"

    def deliver(self) -> bool:
        """Send the end of a generated answer; False when the client is no longer there to take it."""
        try:
            if self.stream is not None:
                self.stream.finish()
            else:
                self.server._send_json(self.handler, 200, self.server._plan_completion(self.plan))
        except OSError:
            return False
        return True

    def _tokens(self, count: int, *, silent: bool = False) -> Outcome | None:
        if not silent:
            count = min(count, len(self.plan.tokens) - self.sent)
        if self.token_seconds == 0:  # generated at once: one check that the client is there, one write
            if self.watch is not None and _peer_gone(self.watch):
                return "gone"
            if self.server._stopping.is_set():
                return "stopped"
            if silent or count <= 0:
                return None
            batch = self.plan.tokens[self.sent : self.sent + count]
            self.sent += len(batch)
            return self._send(batch)
        for _ in range(max(0, count)):
            self.due += self.token_seconds
            if self.server._pause_until(self.due, self.watch):
                return "gone"
            if self.server._stopping.is_set():
                return "stopped"
            if silent:
                continue
            self.sent += 1
            outcome = self._send(self.plan.tokens[self.sent - 1 : self.sent])
            if outcome is not None:
                return outcome
        return None

    def _send(self, tokens: list[str]) -> Outcome | None:
        if self.stream is None:
            return None
        try:
            self.stream.tokens(tokens)
        except OSError:
            return "gone"
        return None

    def _pause(self, seconds: float) -> Outcome | None:
        began = time.monotonic()
        gone = self.server._pause_until(began + seconds, self.watch)
        spent = time.monotonic() - began
        self.paused += spent
        self.due += spent
        if gone:
            return "gone"
        return "stopped" if self.server._stopping.is_set() else None

    def _end_badly(self, ending: Status | Raw | Disconnect) -> Outcome:
        server, handler, stream = self.server, self.handler, self.stream
        try:
            if isinstance(ending, Disconnect):
                _drop(handler)
            elif stream is None and isinstance(ending, Status):
                server._send_status(handler, ending)
            elif stream is None:
                server._send_bytes(handler, ending.status, ending.body, ending.content_type)
            elif isinstance(ending, Status):
                stream.error(ending)
            else:
                stream.raw(ending.body)
        except OSError:
            return "gone" if stream is not None else "abandoned"
        return "failed"


def _peer_gone(connection: socket.socket) -> bool:
    """True when the client has closed its end (a readable socket with nothing to read) or reset it."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return False
        return connection.recv(1, _PEEK_FLAGS) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


def _drop(handler: _Handler) -> None:
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


def _token_limit(body: dict[str, Any]) -> int | None:
    limits = [
        value
        for value in (body.get("max_tokens"), body.get("max_completion_tokens"))
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    return min(limits) if limits else None


def _cut(text: str | None, limit: int | None) -> tuple[str | None, list[str], bool]:
    """The text kept, its tokens, and whether max_tokens cut it."""
    if text is None:
        return None, [], False
    tokens = split_tokens(text)
    if limit is not None and len(tokens) > limit:
        tokens = tokens[:limit]
        return "".join(tokens), tokens, True
    return text, tokens, False


def _invalid_chat_body(body: Any, parse_failed: bool) -> str | None:
    if parse_failed or not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead."
    return None


def _error_payload(
    status: int, message: str, *, code: str | None = None, type_: str | None = None
) -> dict[str, dict[str, Any]]:
    default_type, default_code, _ = _STATUS_ERRORS.get(status, ("server_error", None, ""))
    return {"error": {"message": message, "type": type_ or default_type, "param": None, "code": code or default_code}}


def _status_payload(status: Status) -> dict[str, dict[str, Any]]:
    kind, code, default_message = _STATUS_ERRORS.get(status.status, ("server_error", None, "Error."))
    return _error_payload(status.status, status.message or default_message, code=status.code or code, type_=kind)


def _choice(content: str | None, finish_reason: str, *, refusal: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
        "logprobs": None,
        "finish_reason": finish_reason,
    }


def _usage(body: dict[str, Any], completion: str) -> dict[str, int]:
    prompt = sum(
        count_tokens(_content_text(m.get("content"))) for m in body.get("messages") or [] if isinstance(m, dict)
    )
    completion_tokens = count_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def _wrong_key_message(given: str) -> str:
    if not given:
        return "You didn't provide an API key. You need to provide your API key in an Authorization header."
    masked = f"{given[:3]}{'*' * 8}{given[-4:]}" if len(given) > 8 else "*" * len(given)
    return f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model", action="append", dest="models", help="known model ids (default: any)")
    parser.add_argument("--tokens-per-second", type=float, default=None, help="generation speed (default: at once)")
    parser.add_argument("--prompt-seconds", type=float, default=0.0, help="prompt processing time per request")
    parser.add_argument("--slots", type=int, default=None, help="requests generating at once (default: no limit)")
    parser.add_argument("--any-model", action="store_true", help="serve any model name, as llama.cpp does")
    parser.add_argument("--props", action="store_true", help="serve llama.cpp's /props, /slots and /health")
    parser.add_argument("--n-ctx", type=int, default=4096, help="context size reported by /props")
    args = parser.parse_args()
    server = ScriptedOpenAIServer(
        models=args.models,
        latency=args.latency,
        host=args.host,
        port=args.port,
        tokens_per_second=args.tokens_per_second,
        prompt_seconds=args.prompt_seconds,
        slots=args.slots,
        any_model=args.any_model,
        props=args.props,
        n_ctx=args.n_ctx,
    )
    with server:
        print(f"serving {server.base_url}  (Ctrl-C stops)", flush=True)
        if args.props:
            print(f"llama.cpp endpoints: {server.root_url}/props  {server.root_url}/slots", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
