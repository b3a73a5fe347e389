"""Prediction throughput (issue 20, item 6) on tiny random models: batches by token length give exactly the
predictions of one text at a time, in the texts' order; a fine-tuned model runs on its ONNX export (made once,
checked against torch, beside the saved model) when the base model's engine is an ONNX one, and on torch when it
is not or the export fails; a linear probe reuses the vectors cached for its encoder and engine; progress says
texts per second."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.embeddings import service
from core.embeddings.encoders import load_encoder
from core.models.resolver import resolve_model
from core.settings import reset_settings
from core.training.artifacts import zip_folder
from core.training.params import FinetuneParams, LinearParams
from core.training.predict import predict_texts
from core.training.trainers import load_trainer, make_trainer
from core.training.trainers.base import Monitor
from core.training.trainers.finetune import FinetuneTrainer
from core.training.trainers.finetune_batches import tokenize
from core.training.trainers.finetune_onnx import EXPORT_DIR, MANIFEST, MODEL_FILE, PROBABILITY_TOLERANCE, REFUSED
from tests.training_support import sample_rows, single_torch_thread

pytestmark = pytest.mark.slow  # fine-tuning and exporting a tiny model: seconds


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    service._cache.cache_clear()
    load_encoder.cache_clear()
    with single_torch_thread():
        yield


def _engine(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setenv("STUDIO_EMBEDDING_ENGINE", engine)
    reset_settings()


def _rows() -> tuple[list[str], list[str], list[str]]:
    rows = sample_rows()
    train = [r for r in rows if r["split"] == "train"]
    test = [r["text"] for r in rows if r["split"] == "test"]
    # mixed lengths, so that sorted batches differ from the texts' order
    test = [t if i % 3 else f"{t} {t} {t} and more words after it" for i, t in enumerate(test)]
    return [r["text"] for r in train], [r["label"] for r in train], test


def _fine_tuned(encoder: Path, folder: Path) -> Path:
    texts, labels, _ = _rows()
    params = FinetuneParams(
        base_model=str(encoder), epochs=1, batch_size=16, learning_rate=1e-3, blend_with="none", frozen_layers=0
    )
    trainer = make_trainer(params)
    trainer.fit(texts, labels, Monitor())
    trainer.save(folder)
    return folder


@pytest.fixture
def fine_tuned(tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _engine(monkeypatch, "sentence-transformers")  # trained and saved without an export
    folder = _fine_tuned(tiny_encoder, tmp_path / "model")
    assert not (folder / EXPORT_DIR).exists()
    return folder


def _one_at_a_time(trainer: FinetuneTrainer, texts: list[str]) -> np.ndarray:
    """The reference: each text alone (no padding at all), through torch."""
    ids = tokenize(trainer.tokenizer, texts, trainer.prompt, trainer.max_tokens())
    return np.concatenate([trainer.torch_proba([x]) for x in ids])


def test_batches_by_length_give_one_at_a_time_predictions_in_the_texts_order(
    fine_tuned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, test = _rows()
    trainer = load_trainer(fine_tuned)
    assert isinstance(trainer, FinetuneTrainer)
    lengths = [len(x) for x in tokenize(trainer.tokenizer, test, trainer.prompt, trainer.max_tokens())]
    assert lengths != sorted(lengths)  # the order the batches run in is not the texts' order
    reference = _one_at_a_time(trainer, test)
    batched = predict_texts(trainer, test)
    assert trainer.onnx is None  # sentence-transformers: torch labels them
    np.testing.assert_allclose(batched.probabilities, reference, rtol=0, atol=1e-5)
    assert batched.labels == [trainer.classes[i] for i in reference.argmax(axis=1)]
    _engine(monkeypatch, "onnx")
    on_onnx = load_trainer(fine_tuned)
    assert isinstance(on_onnx, FinetuneTrainer)
    onnx = predict_texts(on_onnx, test)
    assert on_onnx.onnx is not None
    np.testing.assert_allclose(onnx.probabilities, reference, rtol=0, atol=PROBABILITY_TOLERANCE)
    assert onnx.labels == batched.labels


def test_the_onnx_export_is_made_once_beside_the_model_and_agrees_with_torch(
    fine_tuned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, test = _rows()
    _engine(monkeypatch, "onnx")
    trainer = load_trainer(fine_tuned)
    assert isinstance(trainer, FinetuneTrainer)
    assert trainer.model is None  # on the ONNX path the torch weights are read only to make the export
    first = trainer.predict_proba(test)
    export = fine_tuned / EXPORT_DIR
    assert (export / MODEL_FILE).is_file() and (export / MANIFEST).is_file()
    assert not list(fine_tuned.glob(".onnx-tmp-*"))  # built aside, renamed into place
    torch_proba = trainer.torch_proba(tokenize(trainer.tokenizer, test, trainer.prompt, trainer.max_tokens()))
    assert np.abs(first - torch_proba).max() <= PROBABILITY_TOLERANCE
    assert (first.argmax(axis=1) == torch_proba.argmax(axis=1)).all()
    stamp = (export / MODEL_FILE).stat().st_mtime_ns
    again = load_trainer(fine_tuned)
    assert isinstance(again, FinetuneTrainer)
    np.testing.assert_array_equal(again.predict_proba(test), first)
    assert again.onnx is not None and again.model is None  # the export was read back, torch never loaded
    assert (export / MODEL_FILE).stat().st_mtime_ns == stamp
    with open(export / MODEL_FILE, "r+b") as handle:  # an export cut short is made again, never loaded
        handle.truncate(100)
    third = load_trainer(fine_tuned)
    np.testing.assert_allclose(third.predict_proba(test), first, rtol=0, atol=1e-6)
    assert (export / MODEL_FILE).stat().st_size > 100
    with zipfile.ZipFile(zip_folder(fine_tuned, fine_tuned.parent / "model.zip", "model")) as archive:
        names = archive.namelist()
    assert "model/transformers/config.json" in names  # a download holds the model, not its export (made again)
    assert not [n for n in names if "/onnx/" in n]


def test_a_failed_export_leaves_the_torch_model_labelling_and_says_so_in_the_log(
    fine_tuned: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    _, _, test = _rows()
    _engine(monkeypatch, "onnx")

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("this graph cannot be traced")

    monkeypatch.setattr(torch.onnx, "export", refuse)  # torch's tracer failing, as it does on some models
    trainer = load_trainer(fine_tuned)
    assert isinstance(trainer, FinetuneTrainer)
    with caplog.at_level(logging.WARNING):
        proba = trainer.predict_proba(test)
    assert trainer.onnx is None and not (fine_tuned / EXPORT_DIR).exists()
    assert "could not be exported to ONNX" in caplog.text and "torch model labels the texts" in caplog.text
    np.testing.assert_allclose(proba, _one_at_a_time(trainer, test), rtol=0, atol=1e-5)
    assert (fine_tuned / f"{EXPORT_DIR}.{REFUSED}").exists()  # not tried again on every load
    monkeypatch.undo()
    _engine(monkeypatch, "onnx")
    assert load_trainer(fine_tuned).predict_proba(test).shape == proba.shape
    assert not (fine_tuned / EXPORT_DIR).exists()


def test_a_model_not_saved_yet_exports_for_many_texts_and_keeps_the_export_when_saved(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.training.trainers import finetune

    texts, labels, test = _rows()
    _engine(monkeypatch, "onnx")
    monkeypatch.setattr(finetune, "EXPORT_WORTH", 10)
    trainer = make_trainer(
        FinetuneParams(base_model=str(tiny_encoder), epochs=1, batch_size=16, blend_with="none", frozen_layers=0)
    )
    assert isinstance(trainer, FinetuneTrainer)
    trainer.fit(texts, labels, Monitor())
    assert trainer.onnx is None  # no export while training (validation runs on torch)
    trainer.predict_proba(test[:5])
    assert trainer.onnx is None  # too few texts to be worth an export
    proba = trainer.predict_proba(test)
    assert trainer.onnx is not None
    trainer.save(tmp_path / "model")
    assert (tmp_path / "model" / EXPORT_DIR / MANIFEST).is_file()
    loaded = load_trainer(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(test), proba, rtol=0, atol=1e-6)
    assert isinstance(loaded, FinetuneTrainer) and loaded.model is None


def test_progress_says_texts_per_second(fine_tuned: Path, tiny_encoder: Path) -> None:
    _, _, test = _rows()
    seen: list[tuple[float, str]] = []
    predict_texts(load_trainer(fine_tuned), test, lambda f, m: seen.append((f, m)))
    assert seen[-1][0] == 1.0
    assert seen[-1][1].startswith(f"Labelled {len(test):,} of {len(test):,} texts (") and "texts/s)" in seen[-1][1]
    messages: list[str] = []
    service.embed(test, str(tiny_encoder), progress=lambda f, m: messages.append(m))
    assert "texts/s" in messages[-1] and messages[-1].startswith(f"Embedded {len(set(test)):,} new texts")


def test_a_linear_probe_reuses_the_vectors_cached_for_its_encoder_and_engine(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, labels, test = _rows()
    _engine(monkeypatch, "onnx")
    encoder = load_encoder(resolve_model(str(tiny_encoder)), "onnx")  # the real engine, its calls counted
    calls: list[int] = []
    original = encoder.encode

    def counted(batch: list[str], role: str, batch_size: int) -> np.ndarray:
        calls.append(len(batch))
        return original(batch, role, batch_size)

    monkeypatch.setattr(encoder, "encode", counted)
    service.embed(test, str(tiny_encoder))  # the checks job or an earlier evaluation embedded the test split
    embedded = sum(calls)
    assert embedded == len(set(test))
    probe = make_trainer(LinearParams(encoder=str(tiny_encoder)))
    probe.fit(texts, labels, Monitor())
    assert sum(calls) == embedded + len(set(texts) - set(test))
    calls.clear()
    first = predict_texts(probe, test)
    assert calls == []  # every test text's vector came from the cache
    fresh = ["A text no one embedded before", *test[:3]]
    predict_texts(probe, fresh)
    assert calls == [1]  # only the new one
    assert predict_texts(probe, test).labels == first.labels
