"""Targeted generation from a weak cell: a strategy of the generation engine whose prompts ask for the true label
and clearly not the confused one, with the confused label's TRAIN texts as context and never a test text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from core.cli import main
from core.errors import InvalidInput
from core.evaluation.error_cells import NO_ANSWER, WeakCell
from core.evaluation.targeted import TargetCell, start_targeted_run, targeted_settings
from core.generation.builtin_templates import BUILTIN_TEMPLATES
from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.llm_backend import RetryPolicy
from core.generation.openai_backend import OpenAIBackend
from core.generation.prompt_render import context_for_cell, render
from core.generation.prompt_validation import validate
from core.store import Store, generation_runs
from core.store.projects import Project, parse_spec
from core.store.schema import SampleRow
from tests.openai_server import ScriptedOpenAIServer
from tests.training_support import make_project

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)


def json_responder(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    n = int(re.search(r"exactly (\d+) strings", user).group(1))  # type: ignore[union-attr]
    return json.dumps([f"mvua kubwa shambani namba {i} {body.get('seed')}" for i in range(n)])


@pytest.fixture
def project(store: Store) -> Project:
    return make_project(store, "bundled:multilingual-e5-small")


def texts(store: Store, **where: str) -> list[str]:
    with store.session() as session:
        query = select(SampleRow.text)
        for column, value in where.items():
            query = query.where(getattr(SampleRow, column) == value)
        return list(session.scalars(query))


def test_the_targeted_builtin_validates_clean_and_shows_the_confusion() -> None:
    builtin = BUILTIN_TEMPLATES["targeted"]
    assert builtin.kind == "generate" and len(builtin.explanation) < 120 and "\n" not in builtin.explanation
    assert validate(builtin.template, kind="generate") == []
    spec = parse_spec(
        name="p",
        labels=[{"name": "weather", "names": {"sw": ["hali ya hewa"]}}, {"name": "price", "description": "markets"}],
        languages=[{"code": "sw"}],
    )
    plain = render(builtin.template, context_for_cell(spec, "weather", "sw", 4)).user
    assert "mistakes" not in plain  # without a confused label it is an ordinary prompt
    context = context_for_cell(spec, "weather", "sw", 4)

    targeted = replace(
        context, confused_label="price", confused_label_name="bei", confused_examples=["Bei ya\nmahindi"]
    )
    user = render(builtin.template, targeted).user
    assert 'mistakes Swahili texts of "hali ya hewa" for "bei" (in English: "price")' in user
    assert 'clearly not to "bei"' in user and "- Bei ya mahindi" in user and "exactly 4 strings" in user


def test_a_targeted_run_asks_for_the_true_label_with_the_confused_train_texts(store: Store, project: Project) -> None:
    cell = TargetCell.of(WeakCell("sw", "weather", "price", 3, 0.25))
    with ScriptedOpenAIServer(responder=json_responder) as server:
        run = start_targeted_run(
            store, project.id, cell, backend="openai", model="test-model", per_cell=6, base_url=server.base_url, seed=1,
            per_request=3, examples_k=3,
        )  # fmt: skip
        outcome = execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"), policy=FAST)
        users = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    assert run.strategy == "targeted" and run.plan == {"sw": {"weather": 6}} and outcome.samples == 6
    generated = generation_runs.cell_outputs(store, run.id, ("sw", "weather"))
    assert len(generated) == 6
    confused_train = set(texts(store, label="price", language="sw", split="train", status="accepted"))
    for user in users:
        assert 'texts of "weather" for "price"' in user
        shown = {line[2:] for line in user.split("Do not write texts like them:")[1].splitlines() if line[:2] == "- "}
        assert len(shown & confused_train) == 3
        assert all(" test " not in text for text in shown)
        assert not any(test in user for test in texts(store, split="test"))  # never a test text, anywhere


def test_targeted_settings_need_a_real_confusion(store: Store, project: Project) -> None:
    with pytest.raises(InvalidInput, match="off the diagonal"):
        targeted_settings(TargetCell("sw", "weather", NO_ANSWER), backend="openai", model="m", per_cell=5)
    with pytest.raises(InvalidInput, match="off the diagonal"):
        targeted_settings(TargetCell("sw", "weather", "weather"), backend="openai", model="m", per_cell=5)
    with pytest.raises(InvalidInput, match="mistakes these texts for"):
        start_run(store, project.id, GenerationSettings("openai", "m", 5, strategy="targeted", labels=["weather"]))
    with pytest.raises(InvalidInput, match="no label 'pests'"):
        start_run(store, project.id, GenerationSettings("openai", "m", 5, strategy="targeted", confused_label="pests"))
    with pytest.raises(InvalidInput, match="clearly not 'price'"):  # every label planned: price itself too
        start_run(store, project.id, GenerationSettings("openai", "m", 5, strategy="targeted", confused_label="price"))


def test_the_targeted_command(store: Store, project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedOpenAIServer(responder=json_responder) as server:
        code = main(
            [
                "targeted", "--project", "crops", "--language", "en", "--label", "disease", "--confused-as",
                "weather", "--backend", "openai", "--base-url", server.base_url, "--model", "test-model",
                "--per-cell", "4", "--json",
            ]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "done"
    run = generation_runs.get_run(store, result["run"])
    assert run.params["confused_label"] == "weather" and run.plan == {"en": {"disease": 4}}
