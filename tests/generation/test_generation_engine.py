"""The generation engine against a real OpenAI-compatible HTTP server on 127.0.0.1, the replay backend and a tiny
local causal LM: plans, retries, budgets, crash and resume, no test text in prompts, no key anywhere."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.llm_backend import RetryPolicy
from core.generation.openai_backend import OpenAIBackend
from core.generation.replay_backend import ReplayBackend
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.queue import get_job, start_worker, submit_job
from core.settings import get_settings
from core.store import generation_runs
from core.store.projects import create_project, parse_spec
from core.store.schema import LlmRequestRow, SampleRow
from tests.openai_server import Delay, Reply, ScriptedOpenAIServer, Status

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.2, jitter=0.1)
TEST_TEXTS = ["TEST-ONLY mvua ya leo ni kubwa sana", "TEST-ONLY bei ya nyanya imepanda"]
TRAIN_TEXTS = ["mvua itanyesha kesho?", "jua kali sana leo", "bei ya mahindi ni ngapi", "nyanya zinauzwa bei gani"]


def _asked(body: dict[str, Any]) -> int:
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    found = re.search(r"\b(\d{1,3})\b", user)
    return int(found.group(1)) if found else 5


def _lines(n: int, tag: str) -> str:
    return json.dumps([f"Ujumbe wa mkulima namba {i} kuhusu shamba {tag}" for i in range(n)], ensure_ascii=False)


def unique_responder(body: dict[str, Any]) -> str:
    return _lines(_asked(body), str(body.get("seed")))


@pytest.fixture
def project(store):  # type: ignore[no-untyped-def]
    made = create_project(
        store,
        parse_spec(
            name="farm",
            task="Classify farmers' messages.",
            languages=[{"code": "sw"}, {"code": "en"}],
            labels=[
                {"name": "weather", "description": "rain, sun, forecasts", "names": {"sw": ["hali ya hewa"]}},
                {"name": "prices", "description": "market prices"},
            ],
        ),
    )
    rows = [(t, "weather" if i % 2 == 0 else "prices", "train") for i, t in enumerate(TRAIN_TEXTS)]
    rows += [(t, "weather" if i == 0 else "prices", "test") for i, t in enumerate(TEST_TEXTS)]
    frame = pd.DataFrame(rows, columns=["text", "label", "split"], dtype=object)
    mapping = ColumnMapping("text", "label", language="sw", origin="human")
    execute_import(store, made, plan_import(store, made, frame, mapping, "human.csv"))
    return made


def _settings(server: ScriptedOpenAIServer, **overrides: Any) -> GenerationSettings:
    values: dict[str, Any] = {
        "backend": "openai",
        "model": "test-model",
        "per_cell": 6,
        "base_url": server.base_url,
        "per_request": 3,
        "concurrency": 4,
        "seed": 7,
    }
    return GenerationSettings(**{**values, **overrides})


def _generated(store, run_id: int) -> list[SampleRow]:  # type: ignore[no-untyped-def]
    with store.session() as session:
        return list(session.scalars(select(SampleRow).where(SampleRow.generation_run_id == run_id)))


def test_a_run_fills_every_cell_and_records_provenance(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        run = start_run(store, project.id, _settings(server))
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        bodies = [r.body for r in server.chat_requests]
    assert outcome.samples == 24 and not outcome.shortfall
    samples = _generated(store, run.id)
    assert Counter((s.language, s.label) for s in samples) == {
        ("sw", "weather"): 6,
        ("sw", "prices"): 6,
        ("en", "weather"): 6,
        ("en", "prices"): 6,
    }
    assert {(s.origin, s.split, s.status, s.model, s.prompt_version) for s in samples} == {
        ("synthetic", "train", "pending", "test-model", "zero-shot@1")
    }
    assert len(bodies) == 8 and all(b["model"] == "test-model" and b["seed"] is not None for b in bodies)
    assert generation_runs.get_run(store, run.id).status == "done"
    assert generation_runs.get_run(store, run.id).completion_tokens > 0


def test_a_cell_keeps_asking_when_answers_are_short_and_caps_long_ones(store, project) -> None:  # type: ignore[no-untyped-def]
    calls = Counter()

    def stingy(body: dict[str, Any]) -> str:
        calls["n"] += 1
        return _lines(1 if calls["n"] <= 2 else 7, f"{body.get('seed')}-{calls['n']}")  # first short, then long

    with ScriptedOpenAIServer(responder=stingy) as server:
        run = start_run(store, project.id, _settings(server, languages=["sw"], labels=["weather"]))
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
    assert outcome.samples == 6 and calls["n"] == 4  # 2 short answers, then a second wave of 2 requests
    with store.session() as session:
        dropped = [d["reason"] for r in session.scalars(select(LlmRequestRow)) for d in r.dropped]
    assert "more than the cell needed" in dropped


def test_rate_limits_and_server_errors_are_retried(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        server.script([Status(429, retry_after=0.05), Status(500), Status(503)])
        run = start_run(store, project.id, _settings(server, languages=["sw"], concurrency=1))
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        sent = len(server.chat_requests)
    assert outcome.samples == 12 and outcome.failed == 0
    assert sent == 4 + 3  # four requests, three of them answered after an error


def test_garbage_answers_spend_the_budget_and_the_shortfall_is_reported(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=lambda body: "Sure! Here you go:") as server:
        run = start_run(store, project.id, _settings(server, languages=["sw"], labels=["prices"]))
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        sent = len(server.chat_requests)
    assert outcome.samples == 0 and outcome.shortfall == {"Swahili × prices": 6}
    assert sent == 6  # 2 requests needed at best x budget 3
    assert generation_runs.get_run(store, run.id).status == "incomplete"
    assert "short" in generation_runs.get_run(store, run.id).message


def test_a_wrong_key_stops_the_run_with_a_readable_message(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(require_key="sk-right") as server:
        run = start_run(store, project.id, _settings(server))
        with pytest.raises(Exception, match="API key"):
            execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-wrong-key-123"), policy=FAST)
        sent = len(server.chat_requests)
    final = generation_runs.get_run(store, run.id)
    assert final.status == "failed" and "API key" in final.message and "sk-wrong-key-123" not in final.message
    assert sent <= 4  # stopped at once, not retried request by request


def test_demos_prompts_hold_train_examples_and_never_test_text(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        run = start_run(store, project.id, _settings(server, strategy="demos", languages=["sw"], examples_k=2))
        execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        prompts = [json.dumps(r.body["messages"], ensure_ascii=False) for r in server.chat_requests]
    with store.session() as session:
        saved = [json.dumps(r.messages, ensure_ascii=False) for r in session.scalars(select(LlmRequestRow))]
    for prompt in prompts + saved:
        assert "TEST-ONLY" not in prompt
    assert any(train in prompt for prompt in prompts for train in TRAIN_TEXTS)


def test_a_new_run_asks_anew(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        first = start_run(store, project.id, _settings(server, seed=None, languages=["sw"]))
        execute_run(store, first.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        second = start_run(store, project.id, _settings(server, seed=None, languages=["sw"]))
        execute_run(store, second.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        seeds = [r.body["seed"] for r in server.chat_requests]
    assert len(set(seeds)) == len(seeds)
    texts_first = {s.text for s in _generated(store, first.id)}
    texts_second = {s.text for s in _generated(store, second.id)}
    assert texts_first and not texts_first & texts_second


def test_replay_serves_recorded_answers_per_cell(store, project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "rec.json"
    recording.write_text(
        json.dumps(
            {
                "recorded_model": "rec",
                "answers": {
                    "sw|weather": [
                        '["Mvua inanyesha sana huku", "Jua ni kali mno leo", "Upepo mkali umeharibu mahindi"]'
                    ],
                },
            }
        ),
        encoding="utf-8",
    )
    run = start_run(
        store,
        project.id,
        GenerationSettings(
            backend="replay",
            model="rec",
            per_cell=3,
            per_request=3,
            languages=["sw"],
            labels=["weather"],
            recording=str(recording),
        ),
    )
    outcome = execute_run(store, run.id, ReplayBackend(recording), policy=FAST)
    assert outcome.samples == 3
    assert {s.text for s in _generated(store, run.id)} == {
        "Mvua inanyesha sana huku",
        "Jua ni kali mno leo",
        "Upepo mkali umeharibu mahindi",
    }


def test_local_backend_with_a_tiny_random_model_survives_its_garbage_and_batches(
    store, project, tiny_causal_lm: Path
) -> None:  # type: ignore[no-untyped-def]
    from core.generation.local_backend import LocalBackend

    run = start_run(
        store,
        project.id,
        GenerationSettings(
            backend="local",
            model=str(tiny_causal_lm),
            per_cell=8,
            per_request=2,
            languages=["sw"],
            labels=["weather"],
            max_tokens=24,
            request_budget=1.0,
            concurrency=4,
        ),
    )
    backend = LocalBackend(str(tiny_causal_lm))
    outcome = execute_run(store, run.id, backend, policy=FAST)
    assert outcome.answered == 4 and outcome.failed == 0
    assert generation_runs.get_run(store, run.id).status in ("done", "incomplete")
    assert sum(backend.batch_sizes) == 4 and max(backend.batch_sizes) > 1  # requests in flight together: a batch
    with store.session() as session:
        requests = list(session.scalars(select(LlmRequestRow)))
    assert all(r.status == "answered" and r.answer is not None for r in requests)


@pytest.mark.slow
def test_a_killed_worker_resumes_without_paying_twice_or_losing_samples(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder, latency=0.15) as server:
        run = start_run(store, project.id, _settings(server, per_cell=12, per_request=2, concurrency=2))
        job = submit_job(store, "generate", {"run_id": run.id}, project_id=project.id)
        pid = start_worker(store, job.id, extra_env={"OPENAI_API_KEY": "sk-secret-resume-test-42"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and generation_runs.run_counts(store, run.id).answered < 6:
            time.sleep(0.05)
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.3)
        before = generation_runs.run_counts(store, run.id)
        answered_seeds = _answered_seeds(store, run.id)
        assert 0 < before.answered < 24
        sent_before = len(server.chat_requests)
        execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)  # the resume
        resent = [r.body["seed"] for r in server.chat_requests[sent_before:]]
    assert not set(resent) & answered_seeds  # nothing that had an answer was asked again
    samples = _generated(store, run.id)
    assert Counter((s.language, s.label) for s in samples) == {
        ("sw", "weather"): 12,
        ("sw", "prices"): 12,
        ("en", "weather"): 12,
        ("en", "prices"): 12,
    }
    assert len({s.text for s in samples}) == len(samples)  # none duplicated
    assert generation_runs.get_run(store, run.id).status == "done"
    assert get_job(store, job.id).status in ("running", "failed")  # the killed job (reaped later)
    key = "sk-secret-resume-test-42"
    assert _store_contains(store, samples[0].text)  # the search does find what is stored
    assert not _store_contains(store, key)
    for log in get_settings().logs_dir.glob("*.log"):
        assert key.encode() not in log.read_bytes()


def _store_contains(store, needle: str) -> bool:  # type: ignore[no-untyped-def]
    """Searches every byte of a SQLite store (with its WAL) or every row of every table of a PostgreSQL one."""
    if store.dialect == "sqlite":
        database = Path(store.engine.url.database)
        files = [database, database.with_name(database.name + "-wal")]
        return any(needle.encode() in f.read_bytes() for f in files if f.exists())
    from core.store.schema import Base

    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for (row,) in connection.execute(text(f'SELECT row_to_json(t)::text FROM "{table.name}" t')):
                if needle in row:
                    return True
    return False


def _answered_seeds(store, run_id: int) -> set[int]:  # type: ignore[no-untyped-def]
    with store.session() as session:
        return set(
            session.scalars(
                select(LlmRequestRow.seed).where(LlmRequestRow.run_id == run_id, LlmRequestRow.status == "answered")
            )
        )


def test_slow_answers_past_the_timeout_are_retried(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        server.script([Delay(2.0)])
        run = start_run(store, project.id, _settings(server, languages=["sw"], labels=["weather"], concurrency=1))
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local", timeout=0.5), policy=FAST)
    assert outcome.samples == 6 and outcome.failed == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(LlmRequestRow)) == 2


def test_reply_objects_are_usable(store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=unique_responder) as server:
        server.script([Reply(content='{"samples": ["Habari ya mvua leo", "Mvua nyingi sana"]}')])
        run = start_run(
            store, project.id, _settings(server, languages=["sw"], labels=["weather"], per_cell=2, per_request=2)
        )
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
    assert outcome.samples == 2
    assert {s.text for s in _generated(store, run.id)} == {"Habari ya mvua leo", "Mvua nyingi sana"}


def test_an_unreachable_server_stops_the_run_with_a_plain_message(store, project) -> None:  # type: ignore[no-untyped-def]
    from tests.browser_support import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    run = start_run(store, project.id, GenerationSettings(backend="openai", model="m", per_cell=4, base_url=url))
    with pytest.raises(Exception, match="Could not reach"):
        execute_run(store, run.id, OpenAIBackend(url, "sk-local"), policy=FAST)
    final = generation_runs.get_run(store, run.id)
    assert final.status == "failed" and url in final.message
    assert generation_runs.run_counts(store, run.id).failed <= 8  # stopped, not every request tried


def test_cli_generate_with_the_demo_recording_and_resume(studio_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from core.cli import main

    assert main(["init", "--demo"]) == 0
    project = "Farmers' help line (demo)"
    assert (
        main(
            [
                "generate",
                "--project",
                project,
                "--backend",
                "replay",
                "--model",
                "demo-recording",
                "--per-cell",
                "4",
                "--per-request",
                "5",
                "--languages",
                "sw,yo",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Run #1 done: 24 samples generated" in out
    assert main(["samples", "--project", project, "--origin", "synthetic", "--status", "pending", "--json"]) == 0
    generated = [s for s in json.loads(capsys.readouterr().out) if s["language"] in ("sw", "yo")]
    assert len(generated) == 24 + 2 * 90  # the demo's own synthetic samples are pending too
    assert main(["generate", "--project", project, "--resume", "1", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["status"] == "done" and resumed["run"] == 1
    assert (
        main(
            [
                "generate",
                "--project",
                project,
                "--backend",
                "replay",
                "--model",
                "x",
                "--per-cell",
                "2",
                "--languages",
                "xx",
            ]
        )
        == 1
    )
    assert "no language 'xx'" in capsys.readouterr().err


def test_revise_keeps_fixes_and_drops_with_a_readable_flag(store, project) -> None:  # type: ignore[no-untyped-def]
    def responder(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        user = body["messages"][-1]["content"]
        if "annotator" in system.lower() or "KEEP" in user:
            return "1. KEEP\n2. FIX: Mvua kubwa inanyesha leo shambani\n3. DROP: written in English, not Swahili"
        return json.dumps(["Mvua inanyesha sana", "mvua kubwa inanyesha leo shamba", "It is raining a lot today"])

    with ScriptedOpenAIServer(responder=responder) as server:
        run = start_run(
            store, project.id, _settings(server, strategy="revise", languages=["sw"], labels=["weather"], per_cell=3)
        )
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
    assert "1 kept, 1 fixed, 1 dropped" in outcome.message
    by_status = {(s.status, s.text) for s in _generated(store, run.id)}
    assert by_status == {
        ("pending", "Mvua inanyesha sana"),
        ("pending", "Mvua kubwa inanyesha leo shambani"),
        ("rejected", "It is raining a lot today"),
    }
    from core.store.samples import SampleFilter, page_samples

    [dropped] = page_samples(store, project.id, SampleFilter(flags=("revise_dropped",))).samples
    assert "English" in dropped.flags[0].reason


def test_a_template_that_cannot_render_for_a_cell_is_refused_before_any_request(store, project) -> None:  # type: ignore[no-untyped-def]
    from core.errors import InvalidInput
    from core.generation.prompt_library import save_template

    save_template(
        store,
        project.id,
        "first-example",
        strategy="demos",
        user="Write {{ n }} texts about {{ label }} like: {{ examples[0] }}",
    )
    with pytest.raises(InvalidInput, match="cannot be rendered"):
        start_run(
            store,
            project.id,
            GenerationSettings(
                backend="replay", model="r", per_cell=2, template="first-example", strategy="demos", languages=["en"]
            ),
        )  # en has no human examples
    assert generation_runs.list_runs(store, project.id) == []


@pytest.mark.slow
def test_cancelling_a_running_generation_job_stops_it(store, project) -> None:  # type: ignore[no-untyped-def]
    from core.jobs.queue import cancel_job

    with ScriptedOpenAIServer(responder=unique_responder, latency=0.3) as server:
        run = start_run(store, project.id, _settings(server, per_cell=60, per_request=2, concurrency=2))
        job = submit_job(store, "generate", {"run_id": run.id}, project_id=project.id)
        start_worker(store, job.id, extra_env={"OPENAI_API_KEY": "sk-local"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and generation_runs.run_counts(store, run.id).answered < 2:
            time.sleep(0.05)
        cancel_job(store, job.id)
        while time.monotonic() < deadline and get_job(store, job.id).active:
            time.sleep(0.1)
    assert get_job(store, job.id).status == "cancelled"
    final = generation_runs.get_run(store, run.id)
    assert final.status == "cancelled"
    assert sum(generation_runs.run_counts(store, run.id).samples.values()) < 240


def test_nul_characters_in_answers_are_stored_safely(store, project) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL refuses NUL in text; random models produce it. It must not crash the run on either store."""
    with ScriptedOpenAIServer(
        responder=lambda body: "Mvua\u0000 inanyesha leo sana\nJua\u0000 kali\u0000 mno leo"
    ) as server:
        run = start_run(
            store,
            project.id,
            _settings(server, languages=["sw"], labels=["weather"], per_cell=2, per_request=2, request_budget=1.0),
        )
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
    assert outcome.answered == 1 and outcome.failed == 0
    with store.session() as session:
        [request] = session.scalars(select(LlmRequestRow))
    assert "\x00" not in (request.answer or "") and "\ufffd" in (request.answer or "")
    assert all("\x00" not in s.text for s in _generated(store, run.id))
