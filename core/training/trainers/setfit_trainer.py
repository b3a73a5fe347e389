"""SetFit (the `setfit` library): the sentence encoder tuned on pairs of samples (same label: pulled together,
different labels: pushed apart), then a logistic regression on the tuned encoder's sentence embeddings.

The pairs are drawn here, not by `setfit`: its sampler lists every pair of samples before it draws any (8 * n^2
bytes: 3 GB at 20,000 samples). Here each sample is an anchor in turn, with one partner of its label and one of
another, up to `max_pairs`: memory and time grow with the pairs asked for, not with the square of the samples.

Models load from local folders only. A GPU is used when torch sees one, with mixed precision.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from setfit import Trainer as SetFitLoop
from transformers import PrinterCallback, TrainerCallback

from core.embeddings.throughput import Throughput
from core.errors import StudioError
from core.models.quiet_loading import quiet_transformers
from core.training.devices import training_device
from core.training.params import AUTO_FROZEN_LAYERS, SetFitParams, params_dict, saved_params_of
from core.training.trainers.base import (
    FitReport,
    LossPoint,
    Monitor,
    Validation,
    class_list,
    read_trainer_file,
    validation_scores,
    write_trainer_file,
)
from core.training.trainers.finetune_batches import query_prompt
from core.training.trainers.finetune_layers import automatic_frozen_layers, freeze, keep_frozen_in_eval

MODEL_DIR = "setfit"  # setfit's own folder: the tuned sentence-transformers body and the head
PREDICT_CHUNK = 512  # texts per progress report when labelling
ENCODE_BATCH = 64
LOSS_POINTS = 200
HEAD_SHARE = 0.1  # the share of the progress bar left for fitting the head


def contrastive_pairs(
    classes_of: list[int], per_sample: int, max_pairs: int, seed: int
) -> list[tuple[int, int, float]]:
    """(anchor, partner, 1.0 same label | 0.0 other label) index pairs: every sample an anchor in turn (in a shuffled
    order), alternately with a random partner of its own label and one of another label. At most `max_pairs`."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(classes_of)
    members = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    others = {c: np.flatnonzero(labels != c) for c in members}
    wanted = min(max_pairs, per_sample * len(labels))
    pairs: list[tuple[int, int, float]] = []
    while len(pairs) < wanted:
        for anchor in rng.permutation(len(labels)):
            if len(pairs) >= wanted:
                break
            same = len(pairs) % 2 == 0 or not len(others[labels[anchor]])
            pool = members[labels[anchor]] if same else others[labels[anchor]]
            partner = int(pool[rng.integers(len(pool))])
            if same and partner == anchor and len(pool) > 1:  # itself only when it is alone in its label
                partner = int(pool[(np.flatnonzero(pool == anchor)[0] + 1) % len(pool)])
            pairs.append((int(anchor), partner, 1.0 if same else 0.0))
    return pairs


class SetFitTrainer:
    kind: ClassVar[str] = "setfit"

    def __init__(self, params: SetFitParams) -> None:
        self.params = params
        self.classes: list[str] = []
        self.prompt = ""
        self.model: Any = None
        self.device = "cpu"
        self.frozen: list[Any] = []  # modules kept in eval mode (no dropout) while tuning

    def _load_base(self) -> None:
        from setfit import SetFitModel
        from sklearn.linear_model import LogisticRegression

        from core.models.resolver import resolve_model

        if not self.params.base_model:
            raise StudioError("No model to tune was given.")
        folder = resolve_model(self.params.base_model)
        self.prompt = query_prompt(folder)
        self.device = training_device().kind
        try:
            with quiet_transformers():
                self.model = SetFitModel.from_pretrained(str(folder), local_files_only=True, device=self.device)
        except (OSError, ValueError) as exc:
            raise StudioError(
                f"The model '{self.params.base_model}' could not be loaded as a sentence encoder: {exc}"
            ) from None
        self.model.model_head = LogisticRegression(C=self.params.c, max_iter=2000)
        self.model.model_body.max_seq_length = self.params.max_length
        encoder = self.model.model_body[0].auto_model
        lowest = self.params.frozen_layers
        if lowest == AUTO_FROZEN_LAYERS:
            lowest = automatic_frozen_layers(encoder, self.device) if self.params.freeze_embeddings else 0
        try:
            self.frozen = freeze(encoder, word_embeddings=self.params.freeze_embeddings, lowest_layers=lowest)
        except ValueError as exc:
            raise StudioError(f"Layers of '{self.params.base_model}' cannot be frozen: {exc}.") from None

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        monitor: Monitor,
        validation: Validation | None = None,
        languages: list[str] | None = None,
    ) -> FitReport:
        del languages  # one model for all languages
        from datasets import Dataset
        from setfit import TrainingArguments

        started = time.monotonic()
        p = self.params
        self.classes = class_list(labels)
        device = training_device()
        monitor.progress(0.0, f"Loading {p.base_model} to train on {device.words()}")
        self._load_base()
        prompted = [self.prompt + t for t in texts]
        classes_of = [self.classes.index(label) for label in labels]
        pairs = contrastive_pairs(classes_of, p.pairs_per_sample, p.max_pairs, p.seed)
        pair_rows = Dataset.from_dict(
            {
                "sentence_1": [prompted[a] for a, _, _ in pairs],
                "sentence_2": [prompted[b] for _, b, _ in pairs],
                "label": [same for _, _, same in pairs],
            }
        )
        steps = max(1, -(-len(pairs) // p.batch_size) * p.epochs)
        report = FitReport(train_samples=len(texts), seconds=0.0, device=self.device)
        report.notes.append(f"Trained on {device.words()}.")
        watch = _Watch(monitor, started, p.time_limit_minutes, report, self.frozen)

        with tempfile.TemporaryDirectory(prefix="setfit-") as scratch, quiet_transformers():
            args = TrainingArguments(
                output_dir=scratch,
                batch_size=p.batch_size,
                num_epochs=p.epochs,
                body_learning_rate=p.learning_rate,
                max_length=p.max_length,
                use_amp=device.mixed_precision is not None,  # fp16 autocast with loss scaling
                seed=p.seed,
                report_to="none",
                save_strategy="no",
                logging_steps=max(1, steps // LOSS_POINTS),
                logging_first_step=False,
                show_progress_bar=False,
            )
            loop = _BoundedPairs(
                pair_rows,
                model=self.model,
                args=args,
                train_dataset=Dataset.from_dict({"text": prompted, "label": classes_of}),
                callbacks=[watch],
            )
            loop.st_trainer.remove_callback(PrinterCallback)  # it prints every log line to the job's output
            loop.train_embeddings(prompted, classes_of, args=args)
            monitor.check_cancel()
            monitor.progress(1 - HEAD_SHARE, f"Fitting the classifier on the tuned encoder ({len(texts):,} texts)")
            loop.train_classifier(prompted, classes_of, args=args)
        report.steps = watch.step
        report.epochs = round(watch.step / max(1, steps) * p.epochs, 4)
        report.notes.append(f"The encoder was tuned on {len(pairs):,} pairs of samples ({watch.step:,} steps).")
        if validation and validation.texts:
            report.validation = validation_scores(self.classes, self.predict_proba(validation.texts), validation.labels)
        report.seconds = time.monotonic() - started
        return report

    def predict_proba(
        self,
        texts: list[str],
        progress: Callable[[float, str], None] | None = None,
        languages: list[str] | None = None,
    ) -> np.ndarray:
        del languages
        if self.model is None:
            raise RuntimeError("predict_proba before fit or load")
        result = np.zeros((len(texts), len(self.classes)), dtype=np.float64)
        speed = Throughput()
        for start in range(0, len(texts), PREDICT_CHUNK):  # sentence-transformers batches each chunk by length
            chunk = [self.prompt + t for t in texts[start : start + PREDICT_CHUNK]]
            proba = self.model.predict_proba(chunk, batch_size=ENCODE_BATCH, as_numpy=True, show_progress_bar=False)
            result[start : start + len(chunk)] = _columns(proba, self.model.model_head, len(self.classes))
            speed.add(len(chunk))
            if progress:
                progress(speed.done / len(texts), speed.labelled(len(texts)))
        return result

    def save(self, folder: Path) -> None:
        if self.model is None:
            raise RuntimeError("save before fit")
        with quiet_transformers():
            self.model.save_pretrained(str(folder / MODEL_DIR))
        write_trainer_file(folder, self.kind, self.classes, {"params": params_dict(self.params), "prompt": self.prompt})

    @classmethod
    def load(cls, folder: Path) -> SetFitTrainer:
        from setfit import SetFitModel

        content = read_trainer_file(folder)
        trainer = cls(saved_params_of(SetFitParams, content["params"]))
        trainer.classes = list(content["classes"])
        trainer.prompt = str(content.get("prompt", ""))
        trainer.device = training_device().kind
        with quiet_transformers():
            trainer.model = SetFitModel.from_pretrained(
                str(folder / MODEL_DIR), local_files_only=True, device=trainer.device
            )
        return trainer


def _columns(proba: np.ndarray, head: Any, width: int) -> np.ndarray:
    """The head's probabilities with one column per class index (a class the head never saw gets 0)."""
    seen = [int(c) for c in getattr(head, "classes_", range(width))]
    if seen == list(range(width)):
        return np.asarray(proba, dtype=np.float64)
    full = np.zeros((len(proba), width), dtype=np.float64)
    full[:, seen] = proba
    return full


class _BoundedPairs(SetFitLoop):
    """setfit's training loop with the pairs drawn by `contrastive_pairs` instead of its own sampler."""

    def __init__(self, pairs: Any, **kwargs: Any) -> None:
        self.pairs = pairs
        super().__init__(**kwargs)

    def get_dataset(self, x: Any, y: Any, args: Any, max_pairs: int = -1) -> tuple[Any, Any]:
        del x, y, max_pairs
        return self.pairs, args.loss(self.model.model_body)


class _Watch(TrainerCallback):
    """The encoder's tuning reported to the monitor: progress, loss points, cancel, and the time limit."""

    def __init__(self, monitor: Monitor, started: float, minutes: float, report: FitReport, frozen: list[Any]) -> None:
        self.monitor = monitor
        self.frozen = frozen
        self.started = started
        self.minutes = minutes
        self.report = report
        self.step = 0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        del args, state, kwargs
        keep_frozen_in_eval(self.frozen)  # the loop puts the whole model in training mode
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        del args, kwargs
        self.monitor.check_cancel()
        self.step = int(state.global_step)
        total = max(1, int(state.max_steps or 1))
        self.monitor.progress((1 - HEAD_SHARE) * self.step / total, f"Tuning the encoder: step {self.step:,}/{total:,}")
        if self.minutes and time.monotonic() - self.started > self.minutes * 60:
            self.report.notes.append(f"Stopped tuning at step {self.step:,}: the time limit of {self.minutes:g} min.")
            control.should_training_stop = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> Any:
        del args, control, kwargs
        loss = (logs or {}).get("embedding_loss", (logs or {}).get("loss"))
        if loss is not None:
            epoch = float(state.epoch or 0.0)
            self.monitor.loss(LossPoint(step=int(state.global_step), epoch=round(epoch, 4), loss=float(loss)))
