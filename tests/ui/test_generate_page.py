"""The Generate page for a newcomer: what each backend needs before Start, why a run failed and what to do next,
an honest estimate, and a runs table without a literal None (AppTest: the real page, the real store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import StudioError
from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.llm_backend import RetryPolicy
from core.generation.openai_backend import OpenAIBackend
from core.generation.replay_backend import ReplayBackend
from core.settings import reset_settings
from core.store import generation_runs, open_store
from core.store.projects import create_project, list_projects, parse_spec
from tests.openai_server import ScriptedOpenAIServer, Status
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]


def _project() -> int:
    spec = parse_spec(
        name="Reviews",
        task="Is the review positive or negative?",
        labels=[{"name": "positive"}, {"name": "negative"}],
        languages=[{"code": "en"}, {"code": "sw"}],
    )
    return create_project(open_store(), spec).id


def _generate_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    return at


def _start(at: AppTest):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == "Start generating")


def _resume_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.label.startswith("Resume")]


def test_recorded_answers_without_these_labels_disable_start_and_say_why(studio_home: Path) -> None:
    _project()
    at = _generate_page()
    assert at.selectbox(key="gen_backend").value == "replay"
    assert _start(at).disabled
    shown = texts(at.warning)
    assert "The recorded answers hold nothing for English × positive" in shown
    assert "OpenAI-compatible server or a local model" in shown


def test_a_local_model_must_be_named_and_its_folder_must_exist(studio_home: Path, tmp_path: Path) -> None:
    _project()
    at = _generate_page()
    at.selectbox(key="gen_backend").set_value("local").run()
    assert _start(at).disabled
    assert "Type the model" in texts(at.warning)
    at.text_input(key="gen_local_model").input(str(tmp_path / "no-such-model")).run()
    assert not at.exception
    assert _start(at).disabled
    assert "There is no model folder at" in texts(at.warning)


def test_a_server_elsewhere_needs_a_key_and_one_on_this_machine_does_not(studio_home: Path) -> None:
    _project()
    at = _generate_page()
    at.selectbox(key="gen_backend").set_value("openai").run()
    at.text_input(key="gen_base_url").input("https://llm.example.org/v1").run()
    assert _start(at).disabled
    assert "No API key for https://llm.example.org/v1" in texts(at.warning)
    at.text_input(key="gen_base_url").input("http://127.0.0.1:11434/v1").run()
    assert not _start(at).disabled
    assert "No API key" not in texts(at.warning)


def _failed_run(backend, settings: GenerationSettings, policy: RetryPolicy | None = None) -> int:  # type: ignore[no-untyped-def]
    store = open_store()
    project_id = list_projects(store)[0].id
    run = start_run(store, project_id, settings)
    with pytest.raises(StudioError):
        execute_run(store, run.id, backend, policy=policy)
    assert generation_runs.get_run(store, run.id).status == "failed"
    return run.id


def test_a_run_without_recorded_answers_shows_why_in_an_error_box_and_offers_no_resume(studio_home: Path) -> None:
    _project()
    run_id = _failed_run(ReplayBackend(), GenerationSettings(backend="replay", model="demo-recording", per_cell=2))
    assert generation_runs.get_run(open_store(), run_id).failure_kind == "no_recording"
    at = _generate_page()
    shown = texts(at.error)
    assert "The recording has no answer for" in shown
    assert "What to do:" in shown and "OpenAI-compatible server or a local model" in shown
    assert _resume_buttons(at) == []


def test_a_refused_key_shows_what_to_do_and_offers_no_resume(studio_home: Path) -> None:
    _project()
    with ScriptedOpenAIServer(models=["test-model"]) as server:
        server.script([Status(401)])
        settings = GenerationSettings(backend="openai", model="test-model", base_url=server.base_url, per_cell=2)
        run_id = _failed_run(OpenAIBackend(server.base_url, "sk-wrong-key-1234"), settings)
    assert generation_runs.get_run(open_store(), run_id).failure_kind == "auth"
    at = _generate_page()
    shown = texts(at.error)
    assert "What to do:" in shown and "key" in shown
    assert _resume_buttons(at) == []


def test_a_server_that_was_down_can_be_resumed(studio_home: Path) -> None:
    from tests.browser_support import free_port

    _project()
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = GenerationSettings(backend="openai", model="test-model", base_url=base_url, per_cell=2)
    run_id = _failed_run(OpenAIBackend(base_url, "not-needed", timeout=2.0), settings, RetryPolicy(max_attempts=1))
    assert generation_runs.get_run(open_store(), run_id).failure_kind == "unreachable"
    at = _generate_page()
    assert "resume" in texts(at.error).lower()
    assert _resume_buttons(at) == [f"Resume run #{run_id}"]


def test_the_runs_table_never_shows_none_for_a_cost(studio_home: Path) -> None:
    from tests.browser_support import free_port

    _project()
    _failed_run(ReplayBackend(), GenerationSettings(backend="replay", model="demo-recording", per_cell=2))
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    settings = GenerationSettings(backend="openai", model="my-own-model", base_url=base_url, per_cell=2)
    _failed_run(OpenAIBackend(base_url, "not-needed", timeout=2.0), settings, RetryPolicy(max_attempts=1))
    at = _generate_page()
    runs = next(d.value for d in at.dataframe if "cost $" in d.value.columns)
    assert list(runs["cost $"]) == ["unknown", "none (recorded)"]  # newest first; no price known for that model
    assert not runs.isna().any().any(), runs


def test_the_estimate_says_the_demo_recording_needs_twice_the_requests(
    studio_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_DEMO", "1")
    reset_settings()
    at = _generate_page()
    # 3 labels x 5 languages, 10 samples per cell, 10 asked per request: the recorded answers hold 5 samples each
    shown = texts(at.info)
    assert "About **30 requests**" in shown, shown
    assert "at least 15" in shown and "at most 45" in shown
    assert not _start(at).disabled
