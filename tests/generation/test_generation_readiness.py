"""Before and after a generation run: the estimate against what the engine really sends, what each backend needs
before Start, and why a run failed (its stored kind) with whether a resume can help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.demo import create_demo_project
from core.errors import InvalidInput, StudioError
from core.generation.backend_needs import local_model_problem, start_problem
from core.generation.engine import GenerationSettings, estimate, execute_run, start_run
from core.generation.llm_backend import BackendError, RetryPolicy
from core.generation.replay_backend import RecordingMissing, ReplayBackend, missing_cells, replay_problem
from core.generation.run_failures import advice, failure_kind, resume_check
from core.models.resolver import ModelUnavailable
from core.store import Store, generation_runs
from core.store.projects import create_project, get_project, parse_spec

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, jitter=0.1)


@pytest.fixture
def demo(sqlite_store: Store):  # type: ignore[no-untyped-def]
    return create_demo_project(sqlite_store)


def _demo_settings(**values) -> GenerationSettings:  # type: ignore[no-untyped-def]
    return GenerationSettings(backend="replay", model="demo-recording", **{"per_cell": 10, **values})


def test_the_demo_estimate_counts_the_requests_its_short_answers_take(demo) -> None:  # type: ignore[no-untyped-def]
    """The demo's answers hold 5 samples each: 10 per cell asked 10 at a time takes 2 requests per cell, not 1."""
    guess = estimate(demo, _demo_settings())
    assert (guess.requests, guess.likely_requests, guess.most_requests) == (15, 30, 45)
    assert guess.samples_per_answer == 5
    assert guess.describe().startswith("About **30 requests**: the recorded answers hold about 5 samples each")


def test_the_estimate_for_recorded_answers_is_what_the_run_sends(sqlite_store: Store, tmp_path: Path) -> None:
    spec = parse_spec(name="P", labels=[{"name": "weather"}, {"name": "prices"}], languages=[{"code": "sw"}])
    project = create_project(sqlite_store, spec)
    five = json.dumps([f"hali ya hewa {i}" for i in range(5)])
    three = json.dumps([f"bei ya soko {i}" for i in range(3)])
    recording = tmp_path / "rec.json"
    recording.write_text(json.dumps({"answers": {"sw|weather": [five], "sw|prices": [three]}}), encoding="utf-8")
    settings = GenerationSettings(backend="replay", model="rec", per_cell=10, recording=str(recording))
    guess = estimate(project, settings)
    # weather: 10 asked, 5 come, 5 asked, 5 come; prices: 3 come each time and the 3 requests allowed run out
    assert (guess.requests, guess.likely_requests, guess.most_requests) == (2, 5, 6)

    run = start_run(sqlite_store, project.id, settings)
    execute_run(sqlite_store, run.id, ReplayBackend(recording), policy=FAST)
    counts = generation_runs.run_counts(sqlite_store, run.id)
    assert sum(counts.requests.values()) == guess.likely_requests
    assert counts.samples == {("sw", "weather"): 10, ("sw", "prices"): 9}


def test_an_estimate_without_known_answers_says_at_least_and_at_most(demo) -> None:  # type: ignore[no-untyped-def]
    server = estimate(demo, GenerationSettings(backend="openai", model="gpt-4o-mini", per_cell=10))
    assert (server.requests, server.likely_requests, server.most_requests) == (15, 15, 45)
    assert server.describe().startswith("At least **15 requests**, up to 45 if answers hold fewer samples than asked")
    small = estimate(demo, _demo_settings(per_cell=2))  # 2 asked, 5 held: one request a cell is enough
    assert small.describe().startswith("About **15 requests** (up to 45 if answers come short)")
    once = estimate(demo, GenerationSettings(backend="openai", model="x", per_cell=10, request_budget=1.0))
    assert once.describe().startswith("**15 requests**;")


def test_what_the_recording_covers(demo) -> None:  # type: ignore[no-untyped-def]
    assert missing_cells(["sw|weather", "en|market_prices", "sw|price", "en|baseline"]) == ["sw|price", "en|baseline"]
    assert replay_problem([("en", "weather"), ("yo", "market_prices")]) is None
    problem = replay_problem([("en", "weather"), ("en", "pests"), ("fr", "weather")])
    assert problem is not None
    assert problem.startswith("The recorded answers hold nothing for English × pests, French × weather:")
    assert "labels crop_disease, market_prices, weather" in problem


def test_what_each_backend_needs_before_start(tmp_path: Path) -> None:
    cells = [("en", "pests")]
    assert start_problem("replay", "demo-recording", None, cells) == replay_problem(cells)
    assert start_problem("openai", "m", "No API key for x", cells) == "No API key for x"
    assert start_problem("openai", " ", None, cells) == "Type the name of the model first."
    assert start_problem("openai", "m", None, []) == "The plan asks for no sample: put a number in at least one cell."
    assert start_problem("openai", "m", None, cells) is None
    assert local_model_problem("").startswith("Type the model")
    assert local_model_problem(str(tmp_path / "missing")).startswith("There is no model folder at")
    assert "does not look like a model" in local_model_problem(str(tmp_path))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert local_model_problem(str(tmp_path)) is None
    assert local_model_problem("Qwen/Qwen2.5-0.5B-Instruct") is None  # a hub id: looked up when the run starts


def test_failure_kinds_and_what_a_resume_can_do() -> None:
    assert failure_kind(RecordingMissing("no answer")) == "no_recording"
    assert failure_kind(BackendError("refused key", kind="auth")) == "auth"
    assert failure_kind(BackendError("down", kind="unreachable")) == "unreachable"
    assert failure_kind(ModelUnavailable("no folder")) == "local_model"
    assert failure_kind(InvalidInput("the prompt cannot be filled in")) == "settings"
    assert failure_kind(StudioError("something else")) == "other"
    for kind in ("auth", "model_not_found", "no_recording", "local_model", "settings", "bad_request"):
        assert not advice(kind).resume_helps, kind
    for kind in ("unreachable", "rate_limited", "server", "timeout", None):
        assert advice(kind).resume_helps, kind


def test_an_incomplete_run_whose_cells_spent_their_requests_is_not_offered_a_resume(
    sqlite_store: Store, tmp_path: Path
) -> None:
    spec = parse_spec(name="P", labels=[{"name": "weather"}], languages=[{"code": "sw"}])
    project = create_project(sqlite_store, spec)
    recording = tmp_path / "one-each.json"
    recording.write_text(json.dumps({"answers": {"sw|weather": ['["Mvua kubwa leo"]']}}), encoding="utf-8")
    settings = GenerationSettings(
        backend="replay", model="rec", per_cell=3, per_request=3, request_budget=1.0, recording=str(recording)
    )
    run = start_run(sqlite_store, project.id, settings)
    execute_run(sqlite_store, run.id, ReplayBackend(recording), policy=FAST)
    finished = generation_runs.get_run(sqlite_store, run.id)
    assert finished.status == "incomplete"
    check = resume_check(sqlite_store, finished)
    assert not check.helps and "resuming would send nothing" in check.next_step


def test_a_run_whose_local_model_is_missing_fails_with_its_kind(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = parse_spec(name="P", labels=[{"name": "weather"}], languages=[{"code": "sw"}])
    create_project(sqlite_store, spec)
    code = main(
        ["generate", "--project", "P", "--backend", "local", "--model", str(tmp_path / "gone"), "--per-cell", "1"]
    )
    assert code != 0
    [run] = generation_runs.list_runs(sqlite_store, get_project(sqlite_store, "P").id)
    assert (run.status, run.failure_kind) == ("failed", "local_model")
    assert "There is no model folder" in run.message
    assert not resume_check(sqlite_store, run).helps
