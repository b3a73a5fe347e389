"""One classifier per language: routing by the given language, the model over all languages for the rest,
save -> load, detection when no language is given, and a training job and a labelled file end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.curation.language_id import likeliest_of
from core.errors import InvalidInput, StudioError
from core.jobs.runner import run_job
from core.store import Store
from core.training.launch import TrainingRequest, start_training
from core.training.params import HybridParams, LinearParams
from core.training.predict import predict_file
from core.training.run_store import get_run_by_id
from core.training.trainers import load_trainer, make_trainer
from core.training.trainers.base import Monitor, Validation
from core.training.trainers.per_language import PerLanguageTrainer
from tests.training_support import make_project, sample_rows, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def split(kind: str) -> tuple[list[str], list[str], list[str]]:
    rows = [r for r in sample_rows() if r["split"] == kind]
    return [r["text"] for r in rows], [r["label"] for r in rows], [r["language"] for r in rows]


@pytest.mark.parametrize("params_class", [HybridParams, LinearParams])
def test_each_text_goes_to_its_languages_model_and_the_rest_to_the_model_over_all(
    params_class: type, tiny_encoder: Path, tmp_path: Path
) -> None:
    texts, labels, languages = split("train")
    test, truth, test_languages = split("test")
    params = params_class(encoder=str(tiny_encoder), per_language_models=True)
    trainer = make_trainer(params)
    report = trainer.fit(texts, labels, Monitor(), Validation(test, truth, test_languages), languages=languages)
    assert isinstance(trainer, PerLanguageTrainer) and sorted(trainer.models) == ["en", "sw"]
    assert report.validation is not None and report.validation["samples"] == len(test)
    assert "One model per language for en, sw." in report.notes
    proba = trainer.predict_proba(test, languages=test_languages)
    for code in ("en", "sw"):
        rows = [i for i, language in enumerate(test_languages) if language == code]
        own = trainer.models[code]
        assert own.classes == trainer.classes
        np.testing.assert_allclose(proba[rows], own.predict_proba([test[i] for i in rows]))
    unseen = trainer.predict_proba(test[:3], languages=["fr"] * 3)
    np.testing.assert_allclose(unseen, trainer.everything.predict_proba(test[:3]))
    trainer.save(tmp_path)
    again = load_trainer(tmp_path)
    assert isinstance(again, PerLanguageTrainer) and again.kind == trainer.kind
    assert trainer.kind == ("hybrid" if params_class is HybridParams else "linear")
    np.testing.assert_allclose(again.predict_proba(test, languages=test_languages), proba, atol=1e-9)
    with pytest.raises(StudioError, match="needs the language of every training sample"):
        make_trainer(params).fit(texts, labels, Monitor())


def test_a_language_with_too_few_samples_uses_the_model_over_all_languages(tiny_encoder: Path) -> None:
    texts, labels, languages = split("train")
    keep = [i for i, language in enumerate(languages) if language == "en" or i % 12 == 0]
    trainer = make_trainer(HybridParams(encoder=str(tiny_encoder), per_language_models=True))
    report = trainer.fit(
        [texts[i] for i in keep], [labels[i] for i in keep], Monitor(), languages=[languages[i] for i in keep]
    )
    assert sorted(trainer.models) == ["en"]
    assert any("Too few samples or a single label (sw)" in note for note in report.notes)


def test_a_text_without_a_language_goes_to_the_likeliest_trained_language() -> None:
    texts = [
        "Wie wird das Wetter morgen in Berlin?",
        "What will the weather be like tomorrow in London?",
        "Hali ya hewa itakuwaje kesho mjini Nairobi?",
    ]
    assert likeliest_of(texts, ["en", "de", "sw"]) == ["de", "en", "sw"]
    assert likeliest_of(texts, ["en", "sw"])[0] in ("en", "sw")  # always one of the candidates


def test_a_per_language_run_is_trained_scored_and_labels_a_file(
    sqlite_store: Store, tiny_encoder: Path, tmp_path: Path
) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    request = TrainingRequest("per-language", "hybrid", {"per_language_models": True, "validation_fraction": 0.2})
    run, job = start_training(sqlite_store, project.id, request)
    assert run_job(sqlite_store, job.id) == "done"
    run = get_run_by_id(sqlite_store, run.id)
    assert set(run.metrics["test"]["languages"]) == {"en", "sw"}
    assert run.metrics["validation"] is not None
    test, _, test_languages = split("test")
    source = tmp_path / "texts.csv"
    pd.DataFrame({"text": test, "lang": test_languages}).to_csv(source, index=False)
    given = predict_file(sqlite_store, project.id, run.name, source, language_column="lang", out=tmp_path / "a.csv")
    assert given.labelled == len(test) and not given.notes
    model = load_trainer(run.folder / "model")
    expected = model.predict_proba(test, languages=test_languages)
    labelled = pd.read_csv(tmp_path / "a.csv")
    assert labelled["predicted_label"].tolist() == [model.classes[i] for i in expected.argmax(axis=1)]
    detected = predict_file(sqlite_store, project.id, run.name, source, out=tmp_path / "b.csv")
    assert any("detected" in note for note in detected.notes)
    with pytest.raises(InvalidInput, match="no column 'language_code'"):
        predict_file(sqlite_store, project.id, run.name, source, language_column="language_code")
