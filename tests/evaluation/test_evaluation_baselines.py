"""The LLM-as-classifier baselines against a real OpenAI-compatible HTTP server on 127.0.0.1: prompts (no test text
among the examples, TRAIN examples of the right origin only), answer mapping, retries, errors that stop a run,
resume without paying twice, scoring like a run, and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sklearn import metrics as sk
from sqlalchemy import select

from core.cli import main
from core.errors import InvalidInput, StudioError
from core.evaluation import baseline_store
from core.evaluation.baseline_prompts import candidate_examples
from core.evaluation.baselines import (
    BaselineSettings,
    estimate_baseline,
    evaluate_baseline,
    execute_baseline,
    start_baseline,
)
from core.evaluation.metrics import OVERALL
from core.generation.llm_backend import RetryPolicy
from core.generation.openai_backend import OpenAIBackend
from core.store import Store
from core.store.schema import FlagRow, SampleRow
from tests.openai_server import ScriptedOpenAIServer, Status
from tests.training_support import CUES, LABELS, make_project

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, jitter=0.1)
QUESTION = "Which label fits"


def query_text(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"].rsplit("Text: ", 1)[1].split("\n")[0]


def truth_of(text: str) -> str:
    return next(label for label, cues in CUES.items() if text.split()[0] in cues)


def scripted_answer(text: str) -> str:
    """Test texts are '<cue> <cue> test <i> <language>': right for most, wrong for i=1, unusable for some."""
    words = text.split()
    truth, index, language = truth_of(text), int(words[3]), words[4]
    other = LABELS[(LABELS.index(truth) + 1) % len(LABELS)]
    if index == 3 and language == "sw":
        return "Samahani, sijui."  # unparseable
    if index == 2 and language == "en":
        return f"Either {truth} or {other}."  # ambiguous
    if index == 1:
        return f"The label is: {other}"
    return f"**{truth.upper()}**"


def responder(body: dict[str, Any]) -> str:
    return scripted_answer(query_text(body))


@pytest.fixture
def project(store: Store):  # type: ignore[no-untyped-def]
    return make_project(store, "bundled:multilingual-e5-small")


def stored_test_texts(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(SampleRow.text).where(SampleRow.split == "test")))


def run_baseline(store: Store, project, server: ScriptedOpenAIServer, policy: RetryPolicy = FAST, **settings: Any):  # type: ignore[no-untyped-def]
    values = {"name": "llm", "backend": "openai", "model": "test-model", "base_url": server.base_url, "seed": 3}
    baseline = start_baseline(store, project.id, BaselineSettings(**{**values, **settings}))
    outcome = execute_baseline(store, baseline.id, OpenAIBackend(server.base_url, "sk-local"), policy=policy)
    return baseline, outcome


def test_zero_shot_answers_are_mapped_kept_and_scored_like_scikit_learn(store: Store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=responder) as server:
        baseline, outcome = run_baseline(store, project, server, mode="zero-shot")
        bodies = [r.body for r in server.chat_requests]
    assert len(bodies) == 24 and outcome.status == "done"
    assert outcome.counts == {
        "total": 24, "planned": 0, "answered": 24, "failed": 0, "label": 18, "ambiguous": 3, "unparseable": 3
    }  # fmt: skip
    for body in bodies:
        user = body["messages"][-1]["content"]
        assert "Examples of labelled texts" not in user and user.endswith("Label:")
        assert all(f"- {label}" in user for label in LABELS) and body["temperature"] == 0.0
    kept = baseline_store.request_rows(store, baseline.id, outcome="unparseable")
    assert [row.answer for row in kept] == ["Samahani, sijui."] * 3  # unusable answers are kept as they came

    evaluation = evaluate_baseline(store, baseline.id)
    assert evaluation.source == "baseline" and evaluation.test_hash == baseline.test_hash
    for language in ("en", "sw", OVERALL):
        texts = [t for t in stored_test_texts(store) if language == OVERALL or t.endswith(f" {language}")]
        truth = [truth_of(t) for t in texts]
        answers = [expected_label(scripted_answer(t)) for t in texts]
        labels = [label for label in LABELS if label in set(truth) | set(answers)]
        group = evaluation.metrics[language]
        assert group["macro_f1"] == pytest.approx(
            sk.f1_score(truth, answers, labels=labels, average="macro", zero_division=0)
        )
        assert group["accuracy"] == pytest.approx(sk.accuracy_score(truth, answers))
        assert group["confusion"] == sk.confusion_matrix(truth, answers, labels=labels).tolist()
    assert evaluation.metrics[OVERALL]["outcomes"] == {"ambiguous": 3, "unparseable": 3, "failed": 0}
    assert evaluation.metrics["sw"]["unparsed"] == 3 and evaluation.metrics["en"]["unparsed"] == 3


def expected_label(answer: str) -> str:
    """What the scripted answer should map to, spelled for scikit-learn ('-' for no label)."""
    words = answer.replace("*", " ").replace(":", " ").replace(".", " ").lower().split()
    found = [label for label in LABELS if label in words]
    return found[0] if len(found) == 1 else "-"


@pytest.mark.parametrize(("mode", "origin_word"), [("human-icl", "said a person"), ("synthetic-icl", "synthetic")])
def test_in_context_examples_come_from_the_train_split_only(store: Store, project, mode: str, origin_word: str) -> None:  # type: ignore[no-untyped-def]
    with store.session() as session:  # a synthetic sample close to a test text is flagged: it must never be shown
        flagged = session.scalar(
            select(SampleRow).where(SampleRow.origin == "synthetic", SampleRow.status == "accepted").limit(1)
        )
        session.add(FlagRow(sample_id=flagged.id, project_id=project.id, kind="test_contamination", reason="close"))
        flagged_id, flagged_text, flagged_language = flagged.id, flagged.text, flagged.language
    candidates = candidate_examples(store, project, flagged_language, "synthetic")
    assert candidates and flagged_id not in {c.sample_id for c in candidates}
    with ScriptedOpenAIServer(responder=responder) as server:
        baseline, _ = run_baseline(store, project, server, mode=mode, k=2)
        users = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    tests = stored_test_texts(store)
    assert len(users) == len(tests) == 24
    for user in users:
        examples, question = user.split(QUESTION)
        assert not any(text in examples for text in tests)  # no test text among the examples...
        assert sum(text in question for text in tests) == 1  # ...only the one text to label
        shown = [line[len("Text: ") :] for line in examples.splitlines() if line.startswith("Text: ")]
        assert len(shown) == 2 * len(LABELS) and all(origin_word in text for text in shown)
        assert flagged_text not in examples
    saved = baseline_store.request_rows(store, baseline.id)
    assert len(saved) == 24 and baseline_store.get_baseline_by_id(store, baseline.id).params["examples_shown"] == {
        "en": 6, "sw": 6
    }  # fmt: skip


def test_rate_limits_and_server_errors_are_retried(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    with ScriptedOpenAIServer(responder=responder) as server:
        server.script([Status(429, retry_after=0.01), Status(503)])
        patient = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
        _, outcome = run_baseline(sqlite_store, project, server, patient, concurrency=1, languages=["sw"])
        sent = len(server.chat_requests)
    assert outcome.status == "done" and outcome.counts["answered"] == 12
    assert sent == 12 + 2


def test_an_unknown_model_stops_the_baseline_with_a_plain_message(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    with ScriptedOpenAIServer(responder=responder, models=["the-real-model"]) as server:
        with pytest.raises(StudioError, match="test-model"):
            run_baseline(sqlite_store, project, server, concurrency=2)
        sent = len(server.chat_requests)
    final = baseline_store.get_baseline(sqlite_store, project.id, "llm")
    assert final.status == "failed" and "Traceback" not in final.message and sent <= 2
    with pytest.raises(StudioError, match="failed"):
        evaluate_baseline(sqlite_store, final.id)


def test_a_resume_sends_only_the_requests_without_an_answer(store: Store, project) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=responder) as server:
        server.script([Status(500)] * 4)  # two requests fail twice each: the retries are spent
        baseline, outcome = run_baseline(store, project, server, concurrency=1)
        first = [query_text(r.body) for r in server.chat_requests]
    assert outcome.status == "incomplete" and outcome.counts["failed"] == 2 and "resume" in outcome.message
    answered = {row.sample_id for row in baseline_store.request_rows(store, baseline.id) if row.answer}
    assert len(answered) == 22 and len(first) == 24 + 2
    interim = evaluate_baseline(store, baseline.id)  # an incomplete baseline is scored: no answer counts as wrong
    assert interim.metrics[OVERALL]["outcomes"]["failed"] == 2

    with ScriptedOpenAIServer(responder=responder) as server:
        resumed = execute_baseline(store, baseline.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        second = [query_text(r.body) for r in server.chat_requests]
    assert resumed.status == "done" and len(second) == 2  # only the two failed ones were asked again
    assert set(second) == set(first[:4]) and len(set(first[:4])) == 2  # each was tried twice
    final = evaluate_baseline(store, baseline.id)
    assert final.metrics[OVERALL]["outcomes"]["failed"] == 0 and final.test_hash == interim.test_hash


def test_settings_are_checked_before_anything_is_sent(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    base = {"name": "b", "backend": "openai", "model": "m"}
    with pytest.raises(InvalidInput, match="needs k"):
        start_baseline(sqlite_store, project.id, BaselineSettings(**base, mode="human-icl"))
    with pytest.raises(InvalidInput, match="no language 'fr'"):
        start_baseline(sqlite_store, project.id, BaselineSettings(**base, languages=["fr"]))
    with pytest.raises(InvalidInput, match="Unknown baseline mode"):
        start_baseline(sqlite_store, project.id, BaselineSettings(**base, mode="few-shot"))
    plain = estimate_baseline(sqlite_store, project.id, BaselineSettings(**base))
    priced = estimate_baseline(sqlite_store, project.id, BaselineSettings(**{**base, "model": "gpt-4o-mini"}))
    with_examples = estimate_baseline(sqlite_store, project.id, BaselineSettings(**base, mode="human-icl", k=3))
    assert plain.requests == priced.requests == 24 and plain.cost is None and priced.cost > 0
    assert with_examples.prompt_tokens > plain.prompt_tokens > 24 * 20
    start_baseline(sqlite_store, project.id, BaselineSettings(**base))
    with pytest.raises(InvalidInput, match="already has a baseline called 'b'"):
        start_baseline(sqlite_store, project.id, BaselineSettings(**base))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_baseline_and_evaluate_commands(store: Store, project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with ScriptedOpenAIServer(responder=responder) as server:
        code, out, err = cli(
            capsys, "baseline", "--project", "crops", "--backend", "openai", "--base-url", server.base_url,
            "--model", "test-model", "--mode", "human-icl", "--k", "1", "--name", "llm human", "--json",
        )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["baseline"]["status"] == "done" and result["result"]["counts"]["answered"] == 24

    code, out, err = cli(capsys, "evaluate", "--project", "crops", "--run", "llm human", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert list(metrics) == ["en", "sw", "overall"]
    for group in metrics.values():
        assert {"macro_f1", "accuracy", "n", "labels", "confusion", "per_label"} <= set(group)
        assert set(group["per_label"][group["labels"][0]]) == {"precision", "recall", "f1", "support"}
    assert metrics["overall"]["n"] == 24 and metrics["overall"]["mean_macro_f1"] == pytest.approx(
        (metrics["en"]["macro_f1"] + metrics["sw"]["macro_f1"]) / 2
    )
    assert metrics["overall"]["test_hash"] == result["baseline"]["test_hash"]

    code, out, err = cli(capsys, "evaluate", "--project", "crops", "--run", "llm human")
    assert code == 0, err
    assert "mean macro-F1 over languages" in out and "confusion (rows: true, columns: predicted)" in out
    assert f"{metrics['sw']['macro_f1']:.3f}" in out

    code, out, err = cli(capsys, "baseline", "--project", "crops", "--name", "llm human", "--resume")
    assert code == 1 and err.strip() == "error: The baseline 'llm human' is complete: every test sample has its answer."
    code, out, err = cli(capsys, "evaluate", "--project", "crops", "--run", "nobody")
    assert code == 1 and "no training run or baseline called 'nobody'" in err and "Traceback" not in err


def test_a_baseline_whose_worker_died_is_marked_failed_and_resumed_by_the_cli(
    store: Store,
    project,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlalchemy import update

    from core.evaluation.baselines import submit_baseline
    from core.generation.engine import RunCancelled
    from core.jobs.queue import get_job, hostname
    from core.jobs.reaper import reap_dead_workers
    from core.store.schema import BaselineRunRow, JobRow
    from tests.worker_support import dead_pid

    with ScriptedOpenAIServer(responder=responder) as server:
        settings = BaselineSettings(
            name="llm", backend="openai", model="test-model", base_url=server.base_url, concurrency=1, seed=1
        )
        baseline = start_baseline(store, project.id, settings)
        job = submit_baseline(store, baseline)
        backend = OpenAIBackend(server.base_url, "sk-local")
        with pytest.raises(RunCancelled):  # the worker stops after 10 answers...
            execute_baseline(store, baseline.id, backend, cancelled=lambda: len(server.chat_requests) >= 10)
        with store.session() as session:  # ...as if killed: its run and its job left running by a dead process
            session.execute(update(BaselineRunRow).values(status="running"))
            session.execute(
                update(JobRow)
                .where(JobRow.id == job.id)
                .values(status="running", worker_pid=dead_pid(), worker_host=hostname())
            )
        assert baseline_store.get_baseline(store, project.id, "llm").status == "running"  # reading never settles
        assert reap_dead_workers(store) == [job.id]  # the reaper fails the job and settles its baseline
        died = baseline_store.get_baseline(store, project.id, "llm")
        assert died.status == "failed" and died.message == get_job(store, job.id).message
        assert "worker process stopped unexpectedly" in died.message
        assert baseline_store.request_counts(store, baseline.id)["answered"] == 10

        code = main(["baseline", "--project", "crops", "--name", "llm", "--resume", "--json"])
        out, err = capsys.readouterr()
        sent = [query_text(r.body) for r in server.chat_requests]
    assert code == 0, err
    assert json.loads(out)["baseline"]["status"] == "done"
    assert len(sent) == 24 and len(set(sent)) == 24  # every test sample asked exactly once, over both workers


def test_a_baseline_through_the_replay_backend(sqlite_store: Store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_project(sqlite_store, "x")
    recording = tmp_path / "recording.json"
    answers = {"en|baseline": ["weather", "It is about prices."], "sw|baseline": ["disease", "???"]}
    recording.write_text(json.dumps({"recorded_model": "demo", "answers": answers}), encoding="utf-8")
    code = main(
        ["baseline", "--project", "crops", "--backend", "replay", "--model", "demo", "--recording", str(recording),
         "--mode", "synthetic-icl", "--k", "1", "--name", "replayed", "--seed", "1", "--json"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    counts = json.loads(out)["result"]["counts"]
    rows = baseline_store.request_rows(sqlite_store, json.loads(out)["baseline"]["id"])
    assert counts["answered"] == 24 and counts["unparseable"] == sum(1 for r in rows if r.answer == "???")
    assert {r.predicted for r in rows if r.language == "sw"} == {"disease", None}
    assert {r.predicted for r in rows if r.answer == "It is about prices."} == {"price"}


def test_cancelling_a_baseline_job_stops_it_and_a_resume_finishes_it(sqlite_store: Store) -> None:
    import threading
    import time

    from core.evaluation.baselines import resume_baseline, submit_baseline
    from core.jobs.queue import cancel_job, get_job
    from core.jobs.runner import run_job

    store = sqlite_store
    project = make_project(store, "bundled:multilingual-e5-small")
    with ScriptedOpenAIServer(responder=responder, latency=0.05) as server:
        settings = BaselineSettings(
            name="llm", backend="openai", model="test-model", base_url=server.base_url, concurrency=1, seed=1
        )
        baseline = start_baseline(store, project.id, settings)
        job = submit_baseline(store, baseline)

        def cancel_after_five() -> None:
            deadline = time.monotonic() + 30
            while len(server.chat_requests) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            cancel_job(store, job.id)

        canceller = threading.Thread(target=cancel_after_five)
        canceller.start()
        assert run_job(store, job.id) == "cancelled"
        canceller.join()
        stopped = baseline_store.get_baseline(store, project.id, "llm")
        asked = len(server.chat_requests)
        assert stopped.status == "cancelled" and 5 <= asked < 24
        assert get_job(store, job.id).status == "cancelled"
        resumed = resume_baseline(store, project.id, "llm")
        assert run_job(store, submit_baseline(store, resumed).id) == "done"
        sent = [query_text(r.body) for r in server.chat_requests]
    assert len(sent) == 24 and len(set(sent)) == 24  # nothing asked twice, nothing left out
    assert baseline_store.get_baseline(store, project.id, "llm").status == "done"
