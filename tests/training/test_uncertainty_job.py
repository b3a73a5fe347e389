"""Ranking unlabeled human TRAIN texts by a trained model's doubt (issue 21): every such text gets one
`model_uncertain` flag with its rank, least sure first per language; nothing else is flagged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.errors import InvalidInput, NotFound
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.runner import run_job
from core.store import Store
from core.store.samples import SampleFilter, iter_samples
from core.training.launch import TrainingRequest, start_training
from core.training.uncertainty_job import UNCERTAIN_KIND, launch_uncertainty_ranking
from tests.training_support import CUES, LANGUAGES, make_project


def add_unlabeled_human_texts(store: Store, project_id: int) -> int:
    from core.store.projects import get_project

    rows = [
        {"text": f"{language} {a} {b} heard at the market {i}", "language": language, "split": "train"}
        for language in LANGUAGES
        for i, (a, b) in enumerate(zip(CUES["weather"] + CUES["price"], CUES["price"] + CUES["disease"], strict=True))
    ]
    project = get_project(store, project_id)
    mapping = ColumnMapping(text_column="text", language_column="language", split="train", origin="human")
    plan = plan_import(store, project, pd.DataFrame(rows), mapping, source="unlabeled")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)
    return len(rows)


def test_unlabeled_human_texts_are_ranked_least_sure_first(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    with pytest.raises(NotFound, match="no training run called 'nothing'"):
        launch_uncertainty_ranking(sqlite_store, project.id, "nothing", background=False)
    _, job = start_training(sqlite_store, project.id, TrainingRequest(name="first", trainer="linear"))
    assert run_job(sqlite_store, job.id) == "done"
    with pytest.raises(InvalidInput, match="no unlabeled human training text"):
        launch_uncertainty_ranking(sqlite_store, project.id, "first", background=False)

    added = add_unlabeled_human_texts(sqlite_store, project.id)
    job = launch_uncertainty_ranking(sqlite_store, project.id, "first", background=False)
    assert run_job(sqlite_store, job.id) == "done"

    flagged = list(iter_samples(sqlite_store, project.id, SampleFilter(flags=(UNCERTAIN_KIND,))))
    assert len(flagged) == added
    assert all(s.label is None and s.origin == "human" and s.split == "train" for s in flagged)
    for language in LANGUAGES:
        flags = sorted(
            (f for s in flagged if s.language == language for f in s.flags if f.kind == UNCERTAIN_KIND),
            key=lambda f: f.details["rank"],
        )
        assert [f.details["rank"] for f in flags] == list(range(added // len(LANGUAGES)))
        distinct = [f for f in flags if "near-repeat" not in f.reason]
        assert [f.details["score"] for f in distinct] == sorted(f.details["score"] for f in distinct)
        assert all(f.details["run"] == "first" and "The model is torn" in f.reason for f in flags)


def test_the_cli_ranks_and_trains_with_a_human_weight(
    capsys: pytest.CaptureFixture[str], store: Store, tiny_encoder: Path
) -> None:
    import json

    from core.cli import main

    project = make_project(store, tiny_encoder)
    assert (
        main(["train", "--project", project.name, "--trainer", "linear", "--name", "first", "--human-weight", "2"]) == 0
    )
    assert "Each of the 24 human samples was counted 2 times." in capsys.readouterr().out
    added = add_unlabeled_human_texts(store, project.id)
    assert main(["rank", "--project", project.name, "--run", "first", "--languages", "sw", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ranked"] == added // 2 and result["languages"] == {"sw": added // 2}
    assert main(["rank", "--project", project.name, "--run", "missing"]) == 1
    assert "no training run called 'missing'" in capsys.readouterr().err


def test_ranking_one_language_leaves_the_ranking_of_the_others(store: Store, tiny_encoder: Path) -> None:
    """Two people rank two languages (one after the other, or at once): each ranking replaces only its own
    language's flags, on SQLite and PostgreSQL."""
    project = make_project(store, tiny_encoder)
    _, job = start_training(store, project.id, TrainingRequest(name="first", trainer="linear"))
    assert run_job(store, job.id) == "done"
    added = add_unlabeled_human_texts(store, project.id)
    first, second = LANGUAGES[0], LANGUAGES[1]
    for language in (first, second, first):  # the first language ranked again: still one flag per text
        job = launch_uncertainty_ranking(store, project.id, "first", languages=(language,), background=False)
        assert run_job(store, job.id) == "done"

    flagged = list(iter_samples(store, project.id, SampleFilter(flags=(UNCERTAIN_KIND,))))
    per_language = added // len(LANGUAGES)
    assert sorted(s.language for s in flagged) == sorted([first] * per_language + [second] * per_language)
    assert all(sum(f.kind == UNCERTAIN_KIND for f in s.flags) == 1 for s in flagged)
