"""Generation against servers that behave like llama.cpp, vLLM and Ollama on a CPU: slow streamed answers, one slot,
any model name accepted, answers cut at max tokens, clients that leave. The test server (tests/openai_server.py)
is a real HTTP server on 127.0.0.1; its clock is scaled (tens of tokens a second instead of a few) so that each test
stays short, and the timeouts are scaled with it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.llm_backend import BackendError, ChatRequest, RetryPolicy, Timeouts, complete_with_retries
from core.generation.openai_backend import OpenAIBackend
from core.generation.request_sender import RunCancelled
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store, generation_runs
from core.store.projects import Project, create_project, parse_spec
from core.store.schema import SampleRow
from tests.openai_server import ScriptedOpenAIServer, Stall, Status

pytestmark = pytest.mark.timeout(120)

FAST = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2, jitter=0.0)
QWEN = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def project(sqlite_store: Store) -> Project:
    made = create_project(
        sqlite_store,
        parse_spec(
            name="Farm SMS",
            task="What does the farmer need help with?",
            labels=[{"name": "weather", "description": "rain"}, {"name": "prices", "description": "market prices"}],
            languages=[{"code": "sw"}],
        ),
    )
    frame = pd.DataFrame([("Mvua itanyesha kesho?", "weather")], columns=["text", "label"])
    execute_import(
        sqlite_store, made, plan_import(sqlite_store, made, frame, ColumnMapping("text", "label", language="sw"), "x")
    )
    return made


def words(n: int, tag: str = "") -> str:
    """An answer of n numbered lines, 4 words (tokens) each."""
    return "\n".join(f"{i}. mvua {tag}{i} kesho sana" for i in range(1, n + 1))


def settings(server: ScriptedOpenAIServer, **overrides: Any) -> GenerationSettings:
    values: dict[str, Any] = {
        "backend": "openai",
        "model": QWEN,
        "base_url": server.base_url,
        "per_cell": 4,
        "per_request": 2,
        "concurrency": 8,
        "seed": 7,
        "labels": ["weather"],
        "connect_timeout": 2.0,
        "idle_timeout": 2.0,
    }
    return GenerationSettings(**{**values, **overrides})


class Progress:
    """Every progress line the engine reports, as the job row would get them."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.lines.append(message)

    def any(self, words: str) -> bool:
        return any(words in line for line in self.lines)


def run_against(
    store: Store, project: Project, server: ScriptedOpenAIServer, **overrides: Any
) -> tuple[Any, list[str], Progress]:
    log: list[str] = []
    progress = Progress()
    run = start_run(store, project.id, settings(server, **overrides))
    outcome = execute_run(
        store, run.id, OpenAIBackend(server.base_url, "sk-local", settings(server, **overrides).timeouts()),
        policy=FAST, log=log.append, progress=progress,
    )  # fmt: skip
    return outcome, log, progress


def llama_cpp(**options: Any) -> ScriptedOpenAIServer:
    """Like llama.cpp's server: one model listed, any name answered (and echoed), one slot, /props."""
    defaults: dict[str, Any] = {"models": [QWEN], "any_model": True, "slots": 1, "props": True}
    return ScriptedOpenAIServer(**{**defaults, **options})


# ---- streaming and timeouts -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_an_answer_longer_than_a_total_timeout_completes_when_streamed() -> None:
    """60 tokens at 30 tokens/s take 2 s; the old single 1 s timeout would have cut it, the idle timeout does not."""
    request = ChatRequest(messages=[{"role": "user", "content": "Write 15."}], model=QWEN, max_tokens=500)
    with llama_cpp(tokens_per_second=30.0, responder=lambda body: words(15)) as server:
        streamed = OpenAIBackend(server.base_url, "sk-local", Timeouts(connect=1.0, idle=1.0))
        started = time.monotonic()
        answer = _ask(streamed, request)
        took = time.monotonic() - started
        whole = OpenAIBackend(server.base_url, "sk-local", Timeouts(connect=1.0, idle=1.0), stream=False)
        with pytest.raises(BackendError) as caught:
            _ask(whole, request)  # the same answer, not streamed: 2 s of silence, more than the 1 s allowed
        server.wait_for(lambda s: s.generating == 0, 5.0)
    assert took > 1.5 and answer.text == words(15) and answer.finish_reason == "stop"
    assert caught.value.kind == "timeout" and "sent nothing for 1 s" in str(caught.value)


def test_a_server_that_goes_silent_mid_answer_is_an_idle_timeout_and_is_retried() -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "Write 3."}], model=QWEN)
    with llama_cpp(tokens_per_second=100.0, responder=lambda body: words(3)) as server:
        server.script([Stall(after_tokens=5, seconds=3.0)])
        retries: list[str] = []
        backend = OpenAIBackend(server.base_url, "sk-local", Timeouts(connect=1.0, idle=0.8))
        answer = _ask(backend, request, on_retry=lambda attempt, error, delay: retries.append(str(error)))
    assert answer.text == words(3)
    assert len(retries) == 1 and "went silent for 0.8 s after 5 tokens" in retries[0]


def test_a_limit_per_answer_stops_a_model_that_goes_on_and_on() -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "Write 50."}], model=QWEN, max_tokens=1000)
    with llama_cpp(tokens_per_second=50.0, responder=lambda body: words(50)) as server:
        backend = OpenAIBackend(server.base_url, "sk-local", Timeouts(connect=1.0, idle=1.0, total=1.0))
        with pytest.raises(BackendError) as caught:
            _ask(backend, request, policy=RetryPolicy(max_attempts=1))
        assert server.wait_for(lambda s: s.generating == 0, 2.0)  # the stream was closed: the server stopped
    assert (
        caught.value.kind == "timeout" and "within 1 s" in str(caught.value) and "tokens had come" in str(caught.value)
    )
    assert server.abandoned == 0 and server.stopped_for_gone_client == 1


# ---- cancel -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cancel_during_a_long_stream_takes_effect_at_once_and_the_server_stops(
    sqlite_store: Store, project: Project
) -> None:
    flag = threading.Event()
    cancelled_at: list[float] = []

    def cancel_later(server: ScriptedOpenAIServer) -> None:
        server.wait_for(lambda s: s.generating >= 1 and s.busy_seconds > 0.5, 10.0)  # tokens are streaming
        cancelled_at.append(time.monotonic())
        flag.set()

    with llama_cpp(tokens_per_second=20.0, responder=lambda body: words(100)) as server:  # 20 s per answer
        run = start_run(sqlite_store, project.id, settings(server, idle_timeout=5.0))
        threading.Thread(target=cancel_later, args=(server,), daemon=True).start()
        with pytest.raises(RunCancelled):
            execute_run(
                sqlite_store, run.id, OpenAIBackend(server.base_url, "sk-local", Timeouts(1.0, 5.0)),
                policy=FAST, cancelled=flag.is_set,
            )  # fmt: skip
        stopped = time.monotonic()
        assert server.wait_for(lambda s: s.generating == 0, 2.0)
        server_stopped = time.monotonic()
    assert stopped - cancelled_at[0] < 2.0  # the run ended within 2 s of the cancel
    assert server_stopped - cancelled_at[0] < 2.0  # and the server stopped generating within 2 s of it
    assert server.stopped_for_gone_client >= 1 and server.abandoned == 0
    assert generation_runs.get_run(sqlite_store, run.id).status == "cancelled"


# ---- the model name ---------------------------------------------------------------------------------------------
def test_a_model_name_the_server_does_not_list_is_refused_before_any_request(
    sqlite_store: Store, project: Project
) -> None:
    with llama_cpp() as server:
        with pytest.raises(BackendError, match=f"does not serve a model called 'gpt-4o-mini'. It serves: {QWEN}"):
            run_against(sqlite_store, project, server, model="gpt-4o-mini")
        assert server.chat_requests == []
    run = generation_runs.list_runs(sqlite_store, project.id)[0]
    assert run.status == "failed" and QWEN in run.message


def test_the_servers_own_model_id_is_the_samples_provenance(sqlite_store: Store, project: Project) -> None:
    with llama_cpp(models=["llama3.2:latest"], responder=lambda body: words(2)) as server:
        outcome, log, _ = run_against(sqlite_store, project, server, model="llama3.2")  # Ollama's short name
    assert outcome.samples == 4
    with sqlite_store.session() as session:
        assert set(session.scalars(select(SampleRow.model).where(SampleRow.origin == "synthetic"))) == {"llama3.2"}
    assert any("serves 'llama3.2' (listed as 'llama3.2:latest')" in line for line in log)


# ---- one slot ---------------------------------------------------------------------------------------------------
def test_a_one_slot_server_that_says_so_gets_one_request_at_a_time(sqlite_store: Store, project: Project) -> None:
    with llama_cpp(tokens_per_second=200.0, responder=lambda body: words(2)) as server:
        outcome, log, _ = run_against(sqlite_store, project, server, per_cell=8, concurrency=8)
    assert outcome.samples == 8
    assert server.max_generating == 1 and server.max_waiting == 0 and server.abandoned == 0
    assert any("works on 1 request at once: sending 1 at a time (the run asked for 8)" in line for line in log)


@pytest.mark.slow
def test_a_one_slot_server_that_does_not_say_so_is_found_out(sqlite_store: Store, project: Project) -> None:
    """Without /props (Ollama, LM Studio): the run starts with one request and learns; at most one ever waits."""
    with llama_cpp(props=False, tokens_per_second=40.0, responder=lambda body: words(15)) as server:  # 1.5 s each
        outcome, log, _ = run_against(
            sqlite_store, project, server, per_cell=12, per_request=2, concurrency=8, idle_timeout=5.0
        )
    assert outcome.samples == 12
    assert server.max_waiting <= 1 and server.abandoned == 0
    assert any("server works on 1 request at once (a request sent beside" in line for line in log), log


@pytest.mark.slow
def test_a_server_with_many_slots_gets_the_runs_concurrency(sqlite_store: Store, project: Project) -> None:
    with ScriptedOpenAIServer(
        models=[QWEN], tokens_per_second=20.0, prompt_seconds=0.2, responder=lambda body: words(2)
    ) as server:  # no /props, no slot limit (vLLM)
        outcome, _, _ = run_against(sqlite_store, project, server, per_cell=32, per_request=2, concurrency=4)
    assert outcome.samples == 32 and server.max_generating == 4


# ---- honest progress --------------------------------------------------------------------------------------------
def test_progress_tells_retries_speed_and_cut_answers(sqlite_store: Store, project: Project) -> None:
    with llama_cpp(tokens_per_second=50.0, responder=lambda body: words(10)) as server:
        server.script([Status(503, retry_after=1)])
        policy = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=2.0, jitter=0.0)
        log: list[str] = []
        progress = Progress()
        run = start_run(sqlite_store, project.id, settings(server, per_cell=4, per_request=2, max_tokens=12))
        outcome = execute_run(
            sqlite_store, run.id, OpenAIBackend(server.base_url, "sk-local", Timeouts(2.0, 2.0)),
            policy=policy, log=log.append, progress=progress,
        )  # fmt: skip
    assert progress.any("1 retrying (attempt 2 of 3 in")
    assert progress.any("The server had an internal error (503)")
    assert progress.any("tokens/s") and progress.any("in flight (")
    assert progress.any("cut at the token limit")
    assert any("attempt 1 of 3 failed (The server had an internal error (503)" in line for line in log)
    assert outcome.cut >= 1 and "cut off at the token limit (12 tokens per answer)" in outcome.message
    assert "raise max tokens" in outcome.message and "fewer samples per request (now 2)" in outcome.message


def test_after_a_resume_the_counters_say_what_is_true_now(sqlite_store: Store, project: Project) -> None:
    with llama_cpp(responder=lambda body: words(2)) as server:
        server.script([Status(500)] * 3)  # the first request fails all its attempts
        first, _, _ = run_against(sqlite_store, project, server, per_cell=2, concurrency=1)
        assert first.failed == 1 and first.samples == 2  # a second request filled the cell
        run = generation_runs.list_runs(sqlite_store, project.id)[0]
        progress = Progress()
        resumed = execute_run(
            sqlite_store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST, progress=progress
        )
    assert resumed.failed == 0 and resumed.samples == 2
    assert "0 failed" in progress.lines[-1] and "1 failed" not in progress.lines[-1]


# ---- the CLI ----------------------------------------------------------------------------------------------------
def test_the_cli_sets_max_tokens_and_timeouts_and_a_resume_may_change_them(
    studio_home: Path, sqlite_store: Store, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    with llama_cpp(responder=lambda body: words(3)) as server:
        code = main(
            ["generate", "--project", "Farm SMS", "--backend", "openai", "--base-url", server.base_url,
             "--model", QWEN, "--per-cell", "2", "--labels", "weather", "--max-tokens", "7",
             "--idle-timeout", "45", "--timeout", "90", "--json"]
        )  # fmt: skip
        assert code == 0
        run = generation_runs.list_runs(sqlite_store, project.id)[0]
        assert {r.body["max_tokens"] for r in server.chat_requests} == {7}
        assert (run.params["idle_timeout"], run.params["timeout"], run.params["max_tokens"]) == (45.0, 90.0, 7)
        assert "cut off at the token limit (7 tokens per answer)" in run.message
        main(["generate", "--project", "Farm SMS", "--resume", str(run.id), "--max-tokens", "64", "--timeout", "0"])
    resumed = generation_runs.get_run(sqlite_store, run.id)
    assert (resumed.params["max_tokens"], resumed.params["timeout"], resumed.params["idle_timeout"]) == (64, None, 45.0)


def _ask(backend: OpenAIBackend, request: ChatRequest, policy: RetryPolicy | None = None, on_retry: Any = None) -> Any:
    import asyncio

    async def go() -> Any:
        async with backend:
            return await complete_with_retries(backend, request, policy or FAST, on_retry=on_retry)

    return asyncio.run(go())


def test_check_the_connection_names_the_servers_models_and_slots(studio_home: Path, project: Project) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.page_text import texts

    with llama_cpp() as server:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
        at.run()
        at.switch_page("pages/generate.py").run()
        at.selectbox(key="gen_backend").set_value("openai").run()
        at.selectbox(key="gen_server").set_value("_other").run()
        at.text_input(key="gen_base_url").input(server.base_url).run()
        at.text_input(key="gen_model").input("gpt-4o-mini").run()
        at.button(key="gen_check").click().run()
        assert f"does not serve a model called 'gpt-4o-mini'. It serves: {QWEN}" in texts(at.warning)
        at.text_input(key="gen_model").input(QWEN).run()
        at.button(key="gen_check").click().run()
        assert not at.exception, at.exception
        assert "works on 1 request(s) at once" in texts(at.success)
        assert server.chat_requests == []  # checking sends no chat request


@pytest.mark.slow
def test_cancel_from_the_jobs_page_stops_a_worker_and_its_server(sqlite_store: Store, project: Project) -> None:
    """The real path: a worker process, its cancel flag in the store (as the page's Cancel button sets it)."""
    from core.jobs.queue import cancel_job, get_job, start_worker, submit_job

    with llama_cpp(tokens_per_second=20.0, responder=lambda body: words(100)) as server:
        run = start_run(sqlite_store, project.id, settings(server, idle_timeout=10.0))
        job = submit_job(sqlite_store, "generate", {"run_id": run.id}, project_id=project.id)
        start_worker(sqlite_store, job.id)
        assert server.wait_for(lambda s: s.generating >= 1 and s.busy_seconds > 0.5, 30.0)
        cancelled_at = time.monotonic()
        cancel_job(sqlite_store, job.id)
        deadline = time.monotonic() + 10
        while get_job(sqlite_store, job.id).active and time.monotonic() < deadline:
            time.sleep(0.05)
        ended = time.monotonic() - cancelled_at
        assert server.wait_for(lambda s: s.generating == 0, 2.0)
        server_stopped = time.monotonic() - cancelled_at
    assert get_job(sqlite_store, job.id).status == "cancelled"
    assert ended < 2.0 and server_stopped < 2.0
    assert server.abandoned == 0 and generation_runs.get_run(sqlite_store, run.id).status == "cancelled"
