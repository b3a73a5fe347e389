"""The three trainers on a tiny random encoder: fit with progress and loss points, probabilities, validation,
save -> load giving the same predictions, cancel, the e5 prompt; and the portable logistic regression."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from core.errors import InvalidInput, StudioError
from core.training.params import FinetuneParams, HybridParams, LinearParams, param_help, parse_params
from core.training.trainers import load_trainer, make_trainer
from core.training.trainers.base import LossPoint, Monitor, Validation
from core.training.trainers.char_features import CharNgrams
from core.training.trainers.linear_model import LinearClassifier
from tests.training_support import sample_rows, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


class Recorder:
    """A monitor that keeps what it was told, and can stop the training after a number of cancel checks."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.progress: list[tuple[float, str]] = []
        self.losses: list[LossPoint] = []
        self.checks = 0
        self.stop_after = stop_after

    def check(self) -> None:
        self.checks += 1
        if self.stop_after is not None and self.checks > self.stop_after:
            raise KeyboardInterrupt("cancelled by the test")

    def monitor(self) -> Monitor:
        return Monitor(
            progress=lambda f, m: self.progress.append((f, m)), loss=self.losses.append, check_cancel=self.check
        )


def split_rows() -> tuple[list[str], list[str], Validation, list[str]]:
    rows = sample_rows()
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    held = train[::5]
    fit = [r for i, r in enumerate(train) if i % 5]
    return (
        [r["text"] for r in fit],
        [r["label"] for r in fit],
        Validation([r["text"] for r in held], [r["label"] for r in held]),
        [r["text"] for r in test],
    )


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("as_sparse", [False, True])
def test_portable_logistic_regression_gives_scikit_learns_probabilities(classes: int, as_sparse: bool) -> None:
    rng = np.random.default_rng(classes)
    features = rng.normal(size=(80, 6))
    names = [f"c{i}" for i in range(classes)]
    labels = [names[i % classes] for i in range(80)]
    features += np.eye(6)[[i % classes for i in range(80)]] * 2
    x = sparse.csr_matrix(features) if as_sparse else features
    ours = LinearClassifier.fit(x, labels, names, c=3.0, max_iter=500)
    reference = LogisticRegression(C=3.0, max_iter=500).fit(x, [names.index(label) for label in labels])
    np.testing.assert_allclose(ours.predict_proba(x), reference.predict_proba(x), rtol=1e-9, atol=1e-12)


def test_character_ngrams_survive_save_and_load(tmp_path: Path) -> None:
    texts, _, _, test = split_rows()
    chars = CharNgrams.fit(texts, (1, 3), max_features=500, min_df=1)
    chars.save(tmp_path)
    again = CharNgrams.load(tmp_path)
    assert again.terms == chars.terms and len(chars.terms) <= 500
    assert (again.transform(test) != chars.transform(test)).nnz == 0


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(lambda enc: LinearParams(encoder=enc, validation_fraction=0.2), id="linear"),
        pytest.param(lambda enc: HybridParams(encoder=enc, min_df=1), id="hybrid"),
        pytest.param(lambda enc: HybridParams(encoder=enc, embedding_weight=0.0, min_df=1), id="chars-only"),
    ],
)
def test_feature_trainers_fit_report_and_reload_with_identical_predictions(
    params, tiny_encoder: Path, tmp_path: Path
) -> None:
    texts, labels, validation, test = split_rows()
    trainer = make_trainer(params(str(tiny_encoder)))
    recorder = Recorder()
    report = trainer.fit(texts, labels, recorder.monitor(), validation)
    assert trainer.classes == sorted(set(labels))
    assert report.train_samples == len(texts)
    assert [p.split for p in recorder.losses] == ["train", "validation"]
    assert report.validation is not None and 0 <= report.validation["macro_f1"] <= 1
    assert recorder.progress and recorder.progress[-1][0] >= 0.8
    proba = trainer.predict_proba(test)
    assert proba.shape == (len(test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    trainer.save(tmp_path)
    again = load_trainer(tmp_path)
    assert type(again) is type(trainer) and again.classes == trainer.classes
    np.testing.assert_array_equal(again.predict_proba(test), proba)


def test_hybrid_learns_the_character_cues_of_the_fixture(tiny_encoder: Path) -> None:
    texts, labels, validation, _ = split_rows()
    trainer = make_trainer(HybridParams(encoder=str(tiny_encoder), min_df=1))
    report = trainer.fit(texts, labels, Monitor(), validation)
    assert report.validation["accuracy"] >= 0.8  # the labels' cue words are in every text


def test_finetune_steps_report_losses_validate_keep_the_best_and_reload(tiny_encoder: Path, tmp_path: Path) -> None:
    texts, labels, validation, test = split_rows()
    params = FinetuneParams(
        base_model=str(tiny_encoder), epochs=2, batch_size=16, learning_rate=1e-3, patience=5, blend_with="none"
    )
    trainer = make_trainer(params)
    recorder = Recorder()
    report = trainer.fit(texts, labels, recorder.monitor(), validation)
    steps_per_epoch = -(-len(texts) // 16)
    assert report.steps == 2 * steps_per_epoch and report.epochs == 2
    train_points = [p for p in recorder.losses if p.split == "train"]
    checks = [p for p in recorder.losses if p.split == "validation"]
    assert [p.step for p in train_points] == list(range(1, report.steps + 1))
    assert all(np.isfinite(p.loss) and p.loss > 0 for p in train_points)
    assert len(checks) == 2 * params.evaluations_per_epoch
    assert report.validation["macro_f1"] == max(p.macro_f1 for p in checks)
    assert "step" in recorder.progress[-1][1] and recorder.progress[-1][0] == 1.0
    proba = trainer.predict_proba(test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    trainer.save(tmp_path)
    again = load_trainer(tmp_path)
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=0, atol=1e-6)
    assert (again.predict_proba(test).argmax(axis=1) == proba.argmax(axis=1)).all()
    assert (tmp_path / "transformers" / "config.json").exists()
    config = json.loads((tmp_path / "transformers" / "config.json").read_text())
    assert set(config["id2label"].values()) == set(labels)


def test_finetune_freezes_word_embeddings_by_default(tiny_encoder: Path) -> None:
    texts, labels, _, _ = split_rows()
    frozen = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=32))
    frozen.fit(texts, labels, Monitor())
    free = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=32, freeze_embeddings=False))
    free.fit(texts, labels, Monitor())
    assert not frozen.model.get_input_embeddings().weight.requires_grad
    assert free.model.get_input_embeddings().weight.requires_grad


def test_finetune_can_freeze_the_lowest_layers_and_leaves_them_untouched(tiny_encoder: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    texts, labels, validation, _ = split_rows()
    trainer = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=16, frozen_layers=1))
    modes: set[tuple[bool, bool]] = set()  # (lowest layer, upper layer) in training mode, seen after each step

    def seen(fraction: float, message: str) -> None:
        if "step" in message:
            modes.add(tuple(layer.training for layer in trainer.model.bert.encoder.layer))

    trainer.fit(texts, labels, Monitor(progress=seen), validation)
    base = dict(AutoModelForSequenceClassification.from_pretrained(str(tiny_encoder), num_labels=2).named_parameters())
    tuned = dict(trainer.model.named_parameters())
    lowest = [n for n in tuned if ".layer.0." in n or ".embeddings." in n]
    upper = [n for n in tuned if ".layer.1." in n]
    assert lowest and upper
    assert not any(tuned[n].requires_grad for n in lowest)
    assert all(torch.equal(tuned[n], base[n]) for n in lowest)  # frozen: exactly the base model's weights
    assert any(not torch.equal(tuned[n], base[n]) for n in upper)  # the layer above was trained
    assert modes == {(False, True)}  # no dropout in the frozen layer, also after the validation checks
    with pytest.raises(StudioError, match="it has 2 transformer layers"):
        make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, frozen_layers=2)).fit(
            texts, labels, Monitor()
        )
    with pytest.raises(InvalidInput, match="frozen layers must be 0 or more"):
        parse_params("finetune", {"frozen_layers": -2})


def test_finetune_blends_with_a_linear_probe_saved_beside_the_plain_model(tiny_encoder: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    texts, labels, validation, test = split_rows()
    params = FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=16, blend_weight=0.7)
    assert params.blend_with == "linear"  # the default
    trainer = make_trainer(params)
    report = trainer.fit(texts, labels, Monitor(), validation)
    assert trainer.partner is not None and trainer.partner.kind == "linear"
    assert trainer.partner.classes == trainer.classes
    tuned, probe = trainer.tuned_proba(test), trainer.partner.predict_proba(test)
    assert not np.allclose(tuned, probe)
    np.testing.assert_allclose(trainer.predict_proba(test), 0.7 * tuned + 0.3 * probe, atol=1e-12)
    assert any("blended with the linear probe" in note for note in report.notes)
    trainer.save(tmp_path)
    assert json.loads((tmp_path / "blend" / "trainer.json").read_text())["kind"] == "linear"
    again = load_trainer(tmp_path)
    np.testing.assert_allclose(again.predict_proba(test), trainer.predict_proba(test), rtol=0, atol=1e-6)
    plain = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "transformers"))
    assert plain.config.num_labels == len(trainer.classes)  # the HF folder alone is the fine-tuned model

    alone = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=16, blend_with="none"))
    alone.fit(texts, labels, Monitor())
    alone.save(tmp_path / "alone")
    assert alone.partner is None and not (tmp_path / "alone" / "blend").exists()
    np.testing.assert_allclose(alone.predict_proba(test), alone.tuned_proba(test))
    with pytest.raises(InvalidInput, match="blend with must be one of"):
        parse_params("finetune", {"blend_with": "forest"})


def test_finetune_stops_when_cancelled_or_out_of_time(tiny_encoder: Path) -> None:
    texts, labels, validation, _ = split_rows()
    recorder = Recorder(stop_after=3)
    trainer = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=50, batch_size=8, blend_with="none"))
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(texts, labels, recorder.monitor())
    assert max(p.step for p in recorder.losses) == 3
    timed = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=50, batch_size=8, time_limit_minutes=1e-6))
    report = timed.fit(texts, labels, Monitor(), validation)
    assert report.steps == 1 and any("time limit" in note for note in report.notes)
    assert report.validation is not None and report.validation["samples"] == len(validation.texts)


def test_finetune_puts_the_encoders_query_prompt_before_every_text(tiny_encoder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-prompts"
    shutil.copytree(tiny_encoder, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    texts, labels, _, test = split_rows()
    trainer = make_trainer(FinetuneParams(base_model=str(folder), epochs=1, batch_size=32, blend_with="none"))
    trainer.fit(texts, labels, Monitor())
    assert trainer.prompt == "query: "
    plain = make_trainer(FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=32))
    plain.fit(texts, labels, Monitor())
    assert plain.prompt == ""
    trainer.save(tmp_path / "saved")
    reloaded = load_trainer(tmp_path / "saved")
    assert reloaded.prompt == "query: "
    prompted = reloaded.predict_proba(test)
    reloaded.prompt = ""
    assert not np.array_equal(reloaded.predict_proba(test), prompted)  # the prompt is part of every input


def test_parameters_are_checked_and_described_for_a_form() -> None:
    params = parse_params("finetune", {"epochs": "3", "freeze_embeddings": "false", "batch_size": 8})
    assert (params.epochs, params.freeze_embeddings, params.batch_size) == (3.0, False, 8)
    with pytest.raises(InvalidInput, match="no parameter"):
        parse_params("linear", {"epochs": 2})
    with pytest.raises(InvalidInput, match="must be a float"):
        parse_params("linear", {"c": "lots"})
    with pytest.raises(InvalidInput, match="validation fraction"):
        parse_params("hybrid", {"validation_fraction": 1.5})
    with pytest.raises(InvalidInput, match="Unknown trainer"):
        parse_params("forest")
    form = {row["name"]: row for row in param_help("finetune")}
    assert form["learning_rate"]["default"] == FinetuneParams().learning_rate
    assert form["blend_with"]["advanced"] is False and form["weight_decay"]["advanced"] is True
    assert all(
        row["advanced"] for row in form.values() if isinstance(row["default"], int | float) and not row["choices"]
    )
    assert all(row["help"] for row in form.values())
