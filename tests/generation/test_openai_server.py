"""The test server itself (tests/openai_server.py), as real clients see it: streaming, token rate, slots, llama.cpp's
/props and /slots, and what happens when a client leaves in the middle of an answer.

Timings are checked loosely, with lower bounds (a loaded machine only makes things slower) and high token rates.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.openai_server import (
    Delay,
    Disconnect,
    EmptyChoices,
    Raw,
    Refusal,
    Reply,
    ScriptedOpenAIServer,
    Stall,
    Status,
    count_tokens,
)

pytestmark = pytest.mark.timeout(30)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSWER = "1. The first line here.\n2. A second  line,   with spaces.\n3. And a third one"


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(1, n + 1))


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": "Write 3 lines."}], **extra}


def post(server: ScriptedOpenAIServer, body: dict[str, Any], path: str = "/v1/chat/completions") -> Any:
    """One request on its own connection; the response with its connection kept on it as `.conn`."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.conn = conn
    return response


def get_json(url: str) -> tuple[int, Any]:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/" + path)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def read_events(response: Any) -> list[tuple[float, str]]:
    """Every SSE `data:` payload with the moment it arrived."""
    events = []
    while line := response.readline():
        if line.startswith(b"data: "):
            events.append((time.monotonic(), line[len(b"data: ") :].strip().decode()))
    return events


def chunks(events: list[tuple[float, str]]) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in events if data != "[DONE]"]


def streamed_text(events: list[tuple[float, str]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks(events) if c["choices"])


def open_raw(server: ScriptedOpenAIServer, body: dict[str, Any]) -> socket.socket:
    """A request sent on a bare socket, so that the test decides exactly when the client goes away."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    data = json.dumps(body).encode()
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def read_until_events(sock: socket.socket, count: int) -> bytes:
    received = b""
    while received.count(b"data: ") < count:
        block = sock.recv(65536)
        assert block, "the server closed the stream early"
        received += block
    return received


# ---- the stream format ----------------------------------------------------------------------------------------
def test_the_openai_client_reads_the_stream_text_finish_reason_and_usage() -> None:
    async def go(server: ScriptedOpenAIServer) -> tuple[list[Any], str]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-any", max_retries=0)
        try:
            stream = await client.chat.completions.create(
                model="test-model",
                messages=[{"role": "user", "content": "Write 3 lines."}],
                stream=True,
                stream_options={"include_usage": True},
            )
            received = [chunk async for chunk in stream]
        finally:
            await client.close()
        return received, "".join(c.choices[0].delta.content or "" for c in received if c.choices)

    with ScriptedOpenAIServer(tokens_per_second=200) as server:
        server.script([Reply(ANSWER)])
        received, text = asyncio.run(go(server))

    assert text == ANSWER
    assert received[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in received if c.choices][-1] == "stop"
    assert received[-1].choices == []
    assert received[-1].usage.completion_tokens == count_tokens(ANSWER) == 16
    assert received[-1].usage.prompt_tokens == 3
    assert {c.id for c in received} == {received[0].id}
    assert {c.object for c in received} == {"chat.completion.chunk"}
    assert {c.model for c in received} == {"test-model"}
    assert server.completed == 1


def test_the_stream_is_chunked_sse_one_token_per_event_and_the_connection_stays_usable() -> None:
    with ScriptedOpenAIServer() as server:
        server.script([Reply(ANSWER), Reply("again")])
        response = post(server, chat_body(stream=True, stream_options={"include_usage": True}))
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Length") is None
        events = read_events(response)
        first_socket = response.conn.sock

        parsed = chunks(events)
        assert events[-1][1] == "[DONE]"
        assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        tokens = [c["choices"][0]["delta"]["content"] for c in parsed[1:-2]]
        assert tokens[:4] == ["1. ", "The ", "first ", "line "]
        assert len(tokens) == count_tokens(ANSWER)
        assert "".join(tokens) == ANSWER
        assert parsed[-2]["choices"][0]["delta"] == {}
        assert parsed[-2]["choices"][0]["finish_reason"] == "stop"
        assert parsed[-1]["choices"] == []
        assert parsed[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 16, "total_tokens": 19}
        assert all(c["usage"] is None for c in parsed[:-1])

        # the same connection answers the next request, a stream without usage this time
        response.conn.request("POST", "/v1/chat/completions", body=json.dumps(chat_body(stream=True)))
        again = response.conn.getresponse()
        second = chunks(read_events(again))
        assert response.conn.sock is first_socket
        assert streamed_text([(0.0, json.dumps(c)) for c in second]) == "again"
        assert all("usage" not in c for c in second)
        assert server.completed == 2


def test_refusals_and_empty_choices_stream_too() -> None:
    with ScriptedOpenAIServer() as server:
        server.script([Refusal("I cannot help with that."), EmptyChoices()])
        refusal = chunks(read_events(post(server, chat_body(stream=True))))
        empty = chunks(read_events(post(server, chat_body(stream=True))))

    assert refusal[0]["choices"][0]["delta"] == {"role": "assistant", "content": None, "refusal": ""}
    assert "".join(c["choices"][0]["delta"].get("refusal") or "" for c in refusal) == "I cannot help with that."
    assert [c["choices"] for c in empty] == [[]]


# ---- token rate, prompt time, max_tokens ------------------------------------------------------------------------
def test_tokens_arrive_spaced_by_the_token_rate_after_the_prompt_time() -> None:
    with ScriptedOpenAIServer(tokens_per_second=50, prompt_seconds=0.2) as server:
        server.script([Reply(words(20)), Reply(words(20))])
        started = time.monotonic()
        events = read_events(post(server, chat_body(stream=True)))
        token_times = [at for at, data in events if data != "[DONE]" and json.loads(data)["choices"][0]["delta"]]
        token_times = token_times[1:]  # the role chunk leaves with the first token

        whole_started = time.monotonic()
        whole = json.loads(post(server, chat_body()).read())
        whole_took = time.monotonic() - whole_started

    assert len(token_times) == 20
    assert token_times[0] - started >= 0.2 + 0.02 * 0.9  # prompt time, then one token-time
    assert token_times[-1] - token_times[0] >= 19 * 0.02 * 0.9  # 20 tokens at 50 tok/s
    assert whole["choices"][0]["message"]["content"] == words(20)
    assert whole_took >= 0.2 + 20 * 0.02 * 0.9  # a whole answer comes when it is all generated
    assert server.busy_seconds >= 2 * (0.2 + 0.4) * 0.9


@pytest.mark.parametrize("limit_field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_cuts_the_answer_with_finish_reason_length(limit_field: str) -> None:
    with ScriptedOpenAIServer() as server:
        server.script([Reply(ANSWER), Reply(ANSWER), Reply("short answer")])
        whole = json.loads(post(server, chat_body(**{limit_field: 4})).read())
        events = read_events(post(server, chat_body(stream=True, stream_options={"include_usage": True}, max_tokens=4)))
        short = json.loads(post(server, chat_body(**{limit_field: 4})).read())

    assert whole["choices"][0]["message"]["content"] == "1. The first line "
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 4
    assert streamed_text(events) == "1. The first line "
    assert chunks(events)[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks(events)[-1]["usage"]["completion_tokens"] == 4
    assert short["choices"][0]["message"]["content"] == "short answer"
    assert short["choices"][0]["finish_reason"] == "stop"


def test_a_max_tokens_below_one_is_refused_like_openai() -> None:
    with ScriptedOpenAIServer() as server:
        response = post(server, chat_body(max_tokens=0, stream=True))
        error = json.loads(response.read())

    assert response.status == 400
    assert "max_tokens" in error["error"]["message"]


# ---- slots ----------------------------------------------------------------------------------------------------
def test_one_slot_serves_requests_one_at_a_time_in_arrival_order() -> None:
    finished: list[str] = []

    def ask(name: str) -> None:
        post(server, chat_body()).read()
        finished.append(name)

    with ScriptedOpenAIServer(tokens_per_second=100, slots=1) as server:
        server.script([Reply(words(25)), Reply(words(25)), Reply(words(25))])
        threads = {name: threading.Thread(target=ask, args=(name,)) for name in "ABC"}
        threads["A"].start()
        assert server.wait_for(lambda s: s.generating == 1, timeout=5)
        threads["B"].start()
        assert server.wait_for(lambda s: s.waiting == 1, timeout=5)
        threads["C"].start()
        assert server.wait_for(lambda s: s.waiting == 2, timeout=5)
        for thread in threads.values():
            thread.join(10)

        assert finished == ["A", "B", "C"]
        assert (server.max_generating, server.max_waiting, server.completed) == (1, 2, 3)
        # time in the queue is not generating: 3 answers of 0.25 s, however long B and C waited
        assert 3 * 0.25 * 0.9 <= server.busy_seconds < 3 * 0.25 + 0.4


def test_two_slots_generate_two_answers_at_once_and_queue_the_third() -> None:
    with ScriptedOpenAIServer(tokens_per_second=100, slots=2) as server:
        server.script([Reply(words(30))] * 3)
        threads = [threading.Thread(target=lambda: post(server, chat_body()).read()) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert (server.max_generating, server.max_waiting, server.completed) == (2, 1, 3)


def test_props_and_slots_are_served_at_the_root_like_llama_cpp() -> None:
    with ScriptedOpenAIServer(props=True, slots=2, models=["qwen2.5-0.5b"], tokens_per_second=100) as server:
        status, props = get_json(f"{server.root_url}/props")
        assert status == 200
        assert props["total_slots"] == 2
        assert props["model_path"].endswith("qwen2.5-0.5b.gguf")
        assert props["default_generation_settings"]["n_ctx"] == 4096
        assert get_json(f"{server.root_url}/health") == (200, {"status": "ok"})
        assert get_json(f"{server.base_url}/props")[0] == 404  # llama.cpp has no /v1/props

        status, slots = get_json(f"{server.root_url}/slots")
        assert status == 200
        assert [(s["id"], s["is_processing"]) for s in slots] == [(0, False), (1, False)]

        server.script([Reply(words(100))])
        sock = open_raw(server, chat_body(model="qwen2.5-0.5b", stream=True))
        read_until_events(sock, 2)
        busy = get_json(f"{server.root_url}/slots")[1]
        sock.close()

    assert [(s["id"], s["is_processing"]) for s in busy] == [(0, True), (1, False)]


def test_without_props_the_llama_cpp_endpoints_do_not_exist() -> None:
    with ScriptedOpenAIServer() as server:
        assert get_json(f"{server.root_url}/props")[0] == 404
        assert get_json(f"{server.root_url}/slots")[0] == 404


def test_any_model_serves_every_name_and_echoes_it_but_lists_only_the_known_models() -> None:
    with ScriptedOpenAIServer(models=["qwen2.5-0.5b"], any_model=True) as server:
        whole = post(server, chat_body(model="whatever-the-client-says"))
        streamed = chunks(read_events(post(server, chat_body(model="another-name", stream=True))))
        listed = get_json(f"{server.base_url}/models")[1]
        assert (whole.status, json.loads(whole.read())["model"]) == (200, "whatever-the-client-says")
        assert {c["model"] for c in streamed} == {"another-name"}
        assert [m["id"] for m in listed["data"]] == ["qwen2.5-0.5b"]

    with ScriptedOpenAIServer(models=["qwen2.5-0.5b"]) as strict:
        refused = post(strict, chat_body(model="whatever-the-client-says", stream=True))
        assert (refused.status, json.loads(refused.read())["error"]["code"]) == (404, "model_not_found")


# ---- clients that leave -----------------------------------------------------------------------------------------
def test_a_streaming_answer_stops_when_its_client_leaves_and_frees_the_slot() -> None:
    with ScriptedOpenAIServer(tokens_per_second=100, slots=1) as server:
        server.script([Reply(words(300)), Reply("next in line")])
        sock = open_raw(server, chat_body(stream=True))
        read_until_events(sock, 4)
        sock.close()
        left = time.monotonic()
        assert server.wait_for(lambda s: s.generating == 0, timeout=2)
        stopped_after = time.monotonic() - left

        assert server.stopped_for_gone_client == 1
        assert (server.completed, server.abandoned) == (0, 0)
        assert server.busy_seconds < 1.5  # the whole answer would have taken 3 s
        # the slot is free again: the next client is served at once
        assert json.loads(post(server, chat_body()).read())["choices"][0]["message"]["content"] == "next in line"
        assert server.max_waiting == 0

    assert stopped_after < 0.5  # within a couple of token-times (10 ms each), loosely


def test_a_streaming_client_that_leaves_while_queued_never_generates() -> None:
    with ScriptedOpenAIServer(tokens_per_second=100, slots=1) as server:
        server.script([Reply(words(60)), Reply(words(60))])
        first = open_raw(server, chat_body(stream=True))
        assert server.wait_for(lambda s: s.generating == 1, timeout=5)
        queued = open_raw(server, chat_body(stream=True))
        assert server.wait_for(lambda s: s.waiting == 1, timeout=5)
        queued.close()
        assert server.wait_for(lambda s: s.waiting == 0, timeout=2)
        assert server.wait_for(lambda s: s.completed == 1 and s.generating == 0, timeout=5)
        first.close()

        assert server.stopped_for_gone_client == 1
        assert server.max_generating == 1
        assert 0.6 * 0.9 <= server.busy_seconds < 1.1  # only the first answer was generated


def test_a_non_streaming_answer_is_generated_to_the_end_for_nobody() -> None:
    with ScriptedOpenAIServer(tokens_per_second=100) as server:
        server.script([Reply(words(80))])
        started = time.monotonic()
        sock = open_raw(server, chat_body())
        assert server.wait_for(lambda s: s.generating == 1, timeout=5)
        sock.close()

        assert not server.wait_for(lambda s: s.generating == 0, timeout=0.3)  # still generating for nobody
        assert server.wait_for(lambda s: s.generating == 0, timeout=5)
        took = time.monotonic() - started

        assert (server.abandoned, server.completed, server.stopped_for_gone_client) == (1, 0, 0)
        assert 0.8 * 0.9 <= server.abandoned_seconds <= took  # 80 tokens at 100 tok/s
        assert server.busy_seconds == server.abandoned_seconds


# ---- scripted behaviours on streaming requests -----------------------------------------------------------------
def test_a_stall_stops_the_stream_for_its_seconds_then_the_answer_goes_on() -> None:
    with ScriptedOpenAIServer(tokens_per_second=200) as server:
        server.script([Stall(after_tokens=3, seconds=0.5, then=Reply("a b c d e f"))])
        events = read_events(post(server, chat_body(stream=True)))

    parsed = [(at, json.loads(data)) for at, data in events if data != "[DONE]"]
    token_events = [(at, c) for at, c in parsed if c["choices"]][1:-1]
    texts = [c["choices"][0]["delta"]["content"] for _, c in token_events]
    assert texts == ["a ", "b ", "c ", "d ", "e ", "f"]
    assert token_events[3][0] - token_events[2][0] >= 0.45
    assert chunks(events)[-1]["choices"][0]["finish_reason"] == "stop"
    assert server.busy_seconds < 0.4  # the silence is not generating


def test_a_client_with_an_idle_timeout_leaves_during_a_stall_and_the_server_notices() -> None:
    with ScriptedOpenAIServer(tokens_per_second=200) as server:
        server.script([Stall(after_tokens=2, seconds=5)])
        sock = open_raw(server, chat_body(stream=True))
        received = read_until_events(sock, 3)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            while True:
                received += sock.recv(65536)
        sock.close()

        assert server.wait_for(lambda s: s.generating == 0, timeout=1)  # not after the 5 s stall
        assert server.stopped_for_gone_client == 1
        assert received.count(b"data: ") == 3  # the role chunk and two tokens


def test_a_stall_can_end_in_a_dropped_connection() -> None:
    with ScriptedOpenAIServer() as server:
        server.script([Stall(after_tokens=2, seconds=0.05, then=Disconnect())])
        server.script([Stall(after_tokens=2, seconds=0.05, then=Reply("one two three"))])
        dropped = read_events(post(server, chat_body(stream=True)))
        finished = read_events(post(server, chat_body(stream=True)))

    assert streamed_text(dropped) == "1. Sample "  # two tokens, then the connection broke: no finish, no [DONE]
    assert "[DONE]" not in [data for _, data in dropped]
    assert streamed_text(finished) == "one two three"
    assert finished[-1][1] == "[DONE]"
    assert (server.completed, server.stopped_for_gone_client) == (1, 0)


@pytest.mark.parametrize("stream", [True, False])
def test_scripted_failures_answer_streaming_requests_as_before(stream: bool) -> None:
    with ScriptedOpenAIServer() as server:
        server.script([Status(429, retry_after=2), Delay(0.05, Raw(b"not json")), Disconnect(), Delay(0.05)])
        limited = post(server, chat_body(stream=stream))
        raw = post(server, chat_body(stream=stream))
        with pytest.raises(http.client.RemoteDisconnected):
            post(server, chat_body(stream=stream))
        delayed = post(server, chat_body(stream=stream))

        assert (limited.status, limited.getheader("Retry-After")) == (429, "2")
        assert json.loads(limited.read())["error"]["code"] == "rate_limit_exceeded"
        assert (raw.status, raw.getheader("Content-Type"), raw.read()) == (200, "application/json", b"not json")
        if stream:
            assert delayed.getheader("Content-Type") == "text/event-stream"
            assert read_events(delayed)[-1][1] == "[DONE]"
        else:
            assert json.loads(delayed.read())["choices"][0]["message"]["content"].startswith("1. ")


def test_errors_before_the_stream_are_plain_json_answers() -> None:
    with ScriptedOpenAIServer(require_key="sk-right", models=["known"]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps(chat_body(model="known", stream=True))
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Authorization": "Bearer sk-wrong"})
        wrong_key = conn.getresponse()
        assert (wrong_key.status, wrong_key.getheader("Content-Type")) == (401, "application/json")
        assert json.loads(wrong_key.read())["error"]["code"] == "invalid_api_key"

        body = json.dumps({"model": "known", "messages": [], "stream": True})
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Authorization": "Bearer sk-right"})
        bad_body = conn.getresponse()
        assert (bad_body.status, bad_body.getheader("Content-Type")) == (400, "application/json")
        bad_body.read()
        conn.close()


# ---- inspection and the command line ---------------------------------------------------------------------------
def test_reset_stats_clears_the_new_counters() -> None:
    with ScriptedOpenAIServer(tokens_per_second=200, slots=1) as server:
        threads = [threading.Thread(target=lambda: post(server, chat_body()).read()) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert server.completed == 2 and server.busy_seconds > 0 and server.max_generating == 1
        # A client can finish reading before the handler thread has left: reset once both handlers are done.
        assert server.wait_for(lambda s: s.in_flight == 0, timeout=5)

        server.reset_stats()

        assert (server.completed, server.busy_seconds, server.max_generating, server.max_waiting) == (0, 0.0, 0, 0)
        assert (server.abandoned, server.abandoned_seconds, server.stopped_for_gone_client) == (0, 0.0, 0)
        assert (server.requests, server.max_concurrency_seen) == ([], 0)


def test_the_command_line_stands_in_for_a_llama_cpp_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "tests/openai_server.py", "--port", str(port), "--tokens-per-second", "200"]
    command += ["--slots", "1", "--props", "--any-model", "--model", "qwen2.5-0.5b"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"serving http://127.0.0.1:{port}/v1")
        root = f"http://127.0.0.1:{port}"
        assert get_json(f"{root}/props")[1]["total_slots"] == 1
        assert [m["id"] for m in get_json(f"{root}/v1/models")[1]["data"]] == ["qwen2.5-0.5b"]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(chat_body(model="other", stream=True)))
        events = read_events(conn.getresponse())
        conn.close()
        assert streamed_text(events).startswith("1. Sample sentence 1")
        assert chunks(events)[0]["model"] == "other"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
    assert process.returncode == 0
