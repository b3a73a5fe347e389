"""The SetFit trainer (issue 21): its pairs (bounded, balanced, never listing every pair of samples), the time limit,
cancel, and a saved model that predicts what the trained one did. The whole run as a job is in test_training_runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInput
from core.training.params import parse_params
from core.training.trainers import load_trainer, make_trainer
from core.training.trainers.base import LossPoint, Monitor
from core.training.trainers.setfit_trainer import contrastive_pairs
from tests.training_support import CUES, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def samples() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, cues in CUES.items():
        for i in range(8):
            texts.append(f"{cues[i % 4]} {cues[(i + 1) % 4]} sample {i}")
            labels.append(label)
    return texts, labels


def test_pairs_alternate_a_partner_of_the_same_label_and_one_of_another() -> None:
    classes_of = [0] * 5 + [1] * 3 + [2] * 1  # label 2 has one sample
    pairs = contrastive_pairs(classes_of, per_sample=2, max_pairs=1000, seed=3)
    assert len(pairs) == 2 * len(classes_of)
    assert Counter(same for _, _, same in pairs) == {1.0: 9, 0.0: 9}
    for anchor, partner, same in pairs:
        assert (classes_of[anchor] == classes_of[partner]) == (same == 1.0)
        if same and classes_of[anchor] != 2:
            assert partner != anchor  # itself only when alone in its label
    assert Counter(anchor for anchor, _, _ in pairs) == dict.fromkeys(range(len(classes_of)), 2)
    assert contrastive_pairs(classes_of, 2, 1000, seed=3) == pairs  # the seed decides


def test_pairs_stop_at_the_most_asked_for_whatever_the_number_of_samples() -> None:
    classes_of = [i % 7 for i in range(300_000)]  # setfit's own sampler would list 45 billion pairs first
    pairs = contrastive_pairs(classes_of, per_sample=2, max_pairs=500, seed=0)
    assert len(pairs) == 500 and len({anchor for anchor, _, _ in pairs}) == 500


def test_parameters_are_checked_with_words() -> None:
    with pytest.raises(InvalidInput, match="pairs per sample"):
        parse_params("setfit", {"pairs_per_sample": 0})
    with pytest.raises(InvalidInput, match="frozen layers"):
        parse_params("setfit", {"frozen_layers": -2})
    assert parse_params("setfit", {"max_pairs": "40"}).max_pairs == 40


def test_a_saved_model_predicts_what_the_trained_one_did(tiny_encoder: Path, tmp_path: Path) -> None:
    texts, labels = samples()
    trainer = make_trainer(parse_params("setfit", {"base_model": str(tiny_encoder), "max_pairs": 48, "batch_size": 8}))
    losses: list[LossPoint] = []
    report = trainer.fit(texts, labels, Monitor(loss=losses.append))
    assert report.steps == 6 and losses and all(p.split == "train" for p in losses)
    assert trainer.classes == sorted(CUES)
    proba = trainer.predict_proba(texts)
    assert proba.shape == (len(texts), 3) and np.allclose(proba.sum(axis=1), 1.0)
    trainer.save(tmp_path)
    loaded = load_trainer(tmp_path)
    assert loaded.kind == "setfit" and loaded.classes == trainer.classes
    assert np.allclose(loaded.predict_proba(texts), proba, atol=1e-6)


def test_the_time_limit_stops_the_tuning_and_still_fits_the_classifier(tiny_encoder: Path) -> None:
    texts, labels = samples()
    params = {"base_model": str(tiny_encoder), "max_pairs": 100_000, "pairs_per_sample": 5000, "batch_size": 4}
    trainer = make_trainer(parse_params("setfit", {**params, "time_limit_minutes": 0.002}))
    report = trainer.fit(texts, labels, Monitor())
    assert 1 <= report.steps < 25_000  # of 25,000 asked for
    assert any("time limit" in note for note in report.notes)
    assert trainer.predict_proba(texts[:3]).shape == (3, 3)


class Stop(Exception):
    pass


def test_cancel_stops_the_tuning_between_steps(tiny_encoder: Path) -> None:
    texts, labels = samples()
    trainer = make_trainer(parse_params("setfit", {"base_model": str(tiny_encoder), "max_pairs": 400, "batch_size": 4}))
    steps: list[float] = []

    def check_cancel() -> None:
        if len(steps) >= 3:
            raise Stop

    with pytest.raises(Stop):
        trainer.fit(texts, labels, Monitor(progress=lambda f, m: steps.append(f), check_cancel=check_cancel))
    assert len(steps) < 100  # 100 steps were asked for
