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

`python tests/openai_server.py --port 8000 --latency 0.2` serves the default responder until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


Behaviour = Reply | Status | Delay | Raw | EmptyChoices | Refusal | Disconnect


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


def count_tokens(text: str) -> int:
    """Roughly: words."""
    return len(text.split())


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
    ) -> None:
        self.models: list[str] | None = list(models) if models is not None else None
        self.require_key = require_key
        self.latency = latency
        self.responder = responder or default_responder
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._max_in_flight = 0
        self._ids = itertools.count(1)
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
    def max_concurrency_seen(self) -> int:
        with self._lock:
            return self._max_in_flight

    def reset_stats(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = 0

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
        if self.require_key is not None:
            given = handler.headers.get("Authorization", "")
            if given != f"Bearer {self.require_key}":
                self._wait(self.latency)
                return self._send_error(handler, 401, _wrong_key_message(given.removeprefix("Bearer ")))
        if method == "GET" and path.rstrip("/") == "/v1/models":
            self._wait(self.latency)
            return self._send_json(handler, 200, self._models_body())
        if method == "POST" and path.rstrip("/") == "/v1/chat/completions":
            return self._chat(handler, body, parse_failed)
        self._send_error(handler, 404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _chat(self, handler: _Handler, body: Any, parse_failed: bool) -> None:
        problem = _invalid_chat_body(body, parse_failed)
        if problem:
            return self._send_error(handler, 400, problem)
        model = body["model"]
        if self.models is not None and model not in self.models:
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
        if behaviour is None:
            behaviour = Reply(self.responder(body))
        if isinstance(behaviour, Disconnect):
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif isinstance(behaviour, Status):
            self._send_status(handler, behaviour)
        elif isinstance(behaviour, Raw):
            self._send_bytes(handler, behaviour.status, behaviour.body, behaviour.content_type)
        elif isinstance(behaviour, EmptyChoices):
            self._send_json(handler, 200, self._completion(body, choices=[], usage=_usage(body, "")))
        elif isinstance(behaviour, Refusal):
            choice = _choice(None, "stop", refusal=behaviour.text)
            self._send_json(handler, 200, self._completion(body, choices=[choice], usage=_usage(body, behaviour.text)))
        else:
            self._send_json(handler, 200, self._reply_body(body, behaviour))

    def _reply_body(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        count = body["n"] if isinstance(body.get("n"), int) and body["n"] > 1 else 1
        contents = [reply.content] + [self.responder(body) for _ in range(count - 1)]
        choices = [_choice(text, reply.finish_reason, index=i) for i, text in enumerate(contents)]
        usage = reply.usage if reply.usage is not None else _usage(body, " ".join(c or "" for c in contents))
        return self._completion(body, choices=choices, usage=usage if reply.include_usage else None, model=reply.model)

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

    def _models_body(self) -> dict[str, Any]:
        names = self.models if self.models is not None else [DEFAULT_MODEL]
        created = int(time.time())
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "created": created, "owned_by": "scripted"} for name in names],
        }

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # ---- writing answers --------------------------------------------------------------------------------------
    def _send_status(self, handler: _Handler, status: Status) -> None:
        headers = dict(status.headers)
        if status.retry_after is not None:
            value = status.retry_after
            headers["Retry-After"] = f"{value:g}" if isinstance(value, int | float) else str(value)
        kind, code, default_message = _STATUS_ERRORS.get(status.status, ("server_error", None, "Error."))
        self._send_error(
            handler,
            status.status,
            status.message or default_message,
            code=status.code or code,
            type_=kind,
            headers=headers,
        )

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
        default_type, default_code, _ = _STATUS_ERRORS.get(status, ("server_error", None, ""))
        error = {
            "message": message,
            "type": type_ or default_type,
            "param": None,
            "code": code or default_code,
        }
        self._send_json(handler, status, {"error": error}, headers)

    def _send_json(self, handler: _Handler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(handler, status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_bytes(
        self, handler: _Handler, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("x-request-id", f"req_{next(self._ids)}")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()


def _invalid_chat_body(body: Any, parse_failed: bool) -> str | None:
    if parse_failed or not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    return None


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
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model", action="append", dest="models", help="known model ids (default: any)")
    args = parser.parse_args()
    with ScriptedOpenAIServer(models=args.models, latency=args.latency, port=args.port) as server:
        print(f"serving {server.base_url}  (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
