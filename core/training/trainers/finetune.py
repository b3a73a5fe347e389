"""Fine-tuning an encoder (`AutoModelForSequenceClassification`) from the project's encoder or any hub id / folder.

AdamW with linear warm-up and decay, batches of similar length, a validation part checked a few times per epoch
with early stopping (the best checkpoint is kept), an optional time limit, and a loss point every few steps.
Freezing the word embeddings (the default) skips the optimiser's work on the largest matrix: about twice as
fast on a CPU; on a CPU the lowest half of the layers is frozen too by default (finetune_layers). A GPU is used
when torch sees one. By default the result is blended with a linear probe on the encoder's sentence embeddings
(finetune_blend). The saved model is an ordinary Hugging Face folder (the fine-tuned model alone), with the
blended probe beside it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.errors import StudioError
from core.models.quiet_loading import quiet_transformers
from core.training.params import AUTO_FROZEN_LAYERS, FinetuneParams, params_dict, saved_params_of
from core.training.trainers.base import (
    FitReport,
    LossPoint,
    Monitor,
    Trainer,
    Validation,
    class_list,
    read_trainer_file,
    validation_scores,
    write_trainer_file,
)
from core.training.trainers.finetune_batches import (
    collate,
    inference_batches,
    query_prompt,
    tokenize,
    training_batches,
)
from core.training.trainers.finetune_blend import (
    BLEND_DIR,
    SHARE,
    blend,
    fit_blend_partner,
    load_partner,
    save_partner,
    split_progress,
)
from core.training.trainers.finetune_layers import automatic_frozen_layers, freeze, keep_frozen_in_eval

MODEL_DIR = "transformers"  # an ordinary Hugging Face model folder
PREDICT_BATCH = 64
LOSS_POINTS = 400  # about this many training-loss points per run, each the mean over its steps


def choose_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def evaluation_steps(per_epoch: int, total_steps: int, per_epoch_checks: int) -> set[int]:
    """The steps after which the validation part is scored: evenly through each epoch, and at the very end."""
    epochs = math.ceil(total_steps / per_epoch)
    steps = {
        min(total_steps, max(1, round(per_epoch * (epoch + k / per_epoch_checks))))
        for epoch in range(epochs)
        for k in range(1, per_epoch_checks + 1)
    }
    return steps | {total_steps}


class FinetuneTrainer:
    kind: ClassVar[str] = "finetune"

    def __init__(self, params: FinetuneParams) -> None:
        self.params = params
        self.classes: list[str] = []
        self.prompt = ""
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self.frozen: list[Any] = []  # modules kept in eval mode while training
        self.partner: Trainer | None = None  # the blended linear probe / hybrid (see finetune_blend)
        self.blend_weight = 1.0

    # --- building ----------------------------------------------------------------------------------------------

    def _load_base(self, classes: list[str]) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from core.models.resolver import resolve_model

        if not self.params.base_model:
            raise StudioError("No model to fine-tune was given.")
        folder = resolve_model(self.params.base_model)
        self.prompt = query_prompt(folder)
        try:
            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    str(folder),
                    num_labels=len(classes),
                    id2label=dict(enumerate(classes)),
                    label2id={c: i for i, c in enumerate(classes)},
                )
        except (OSError, ValueError) as exc:
            raise StudioError(
                f"The model '{self.params.base_model}' could not be loaded for classification: {exc}"
            ) from None
        self.device = choose_device()
        self.model.to(self.device)

    def _optimizer(self, total_steps: int) -> tuple[Any, Any]:
        import torch
        from transformers import get_linear_schedule_with_warmup

        lowest = self.params.frozen_layers
        if lowest == AUTO_FROZEN_LAYERS:  # none when the word embeddings are to be trained
            lowest = automatic_frozen_layers(self.model, self.device) if self.params.freeze_embeddings else 0
        try:
            self.frozen = freeze(self.model, word_embeddings=self.params.freeze_embeddings, lowest_layers=lowest)
        except ValueError as exc:
            raise StudioError(f"Layers of '{self.params.base_model}' cannot be frozen: {exc}.") from None
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim < 2 or "LayerNorm" in name else decay).append(parameter)
        groups = [
            {"params": decay, "weight_decay": self.params.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        try:  # one fused kernel instead of a loop over the tensors: half the optimiser's time on a CPU
            optimizer = torch.optim.AdamW(groups, lr=self.params.learning_rate, fused=True)
        except (RuntimeError, TypeError):
            optimizer = torch.optim.AdamW(groups, lr=self.params.learning_rate)
        warmup = int(total_steps * self.params.warmup_fraction)
        return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)

    def _train_mode(self) -> None:
        self.model.train()
        keep_frozen_in_eval(self.frozen)

    def _trainable_state(self) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _restore(self, state: dict[str, Any]) -> None:
        import torch

        parameters = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                parameters[name].copy_(value)

    # --- training ----------------------------------------------------------------------------------------------

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        monitor: Monitor,
        validation: Validation | None = None,
        languages: list[str] | None = None,
    ) -> FitReport:
        del languages  # one model for all languages
        import torch

        started = time.monotonic()
        p = self.params
        self.classes = class_list(labels)
        random.seed(p.seed)
        np.random.seed(p.seed)
        torch.manual_seed(p.seed)
        share = 0.0
        if p.blend_with != "none":
            encoder = p.blend_encoder or p.base_model
            self.partner = fit_blend_partner(p.blend_with, encoder, p.seed, texts, labels, monitor)
            self.blend_weight, share = p.blend_weight, SHARE
        monitor.progress(share, f"Loading {p.base_model}")
        self._load_base(self.classes)
        monitor.progress(share, f"Tokenising {len(texts):,} texts")
        ids = tokenize(self.tokenizer, texts, self.prompt, p.max_length)
        lengths = [len(x) for x in ids]
        target = [self.classes.index(label) for label in labels]
        rng = np.random.default_rng(p.seed)
        per_epoch = math.ceil(len(ids) / p.batch_size)
        total_steps = max(1, math.ceil(per_epoch * p.epochs))
        checks = evaluation_steps(per_epoch, total_steps, p.evaluations_per_epoch)
        log_every = max(1, total_steps // LOSS_POINTS)
        optimizer, scheduler = self._optimizer(total_steps)
        trainable = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        report = FitReport(train_samples=len(ids), seconds=0.0, device=self.device)
        best: tuple[tuple[float, float], dict[str, float], dict[str, Any]] | None = None  # key, scores, weights
        since_best, window, step = 0, [], 0
        stop_reason = ""
        self._train_mode()
        while step < total_steps and not stop_reason:
            for batch in training_batches(lengths, p.batch_size, rng):
                monitor.check_cancel()
                inputs = collate(self.tokenizer, [ids[i] for i in batch], self.device)
                inputs["labels"] = torch.tensor([target[i] for i in batch], device=self.device)
                loss = self.model(**inputs).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                window.append(float(loss.item()))
                epoch = step / per_epoch
                if step % log_every == 0 or step == total_steps:
                    monitor.loss(LossPoint(step=step, epoch=round(epoch, 4), loss=sum(window) / len(window)))
                    window = []
                monitor.progress(
                    share + (1 - share) * step / total_steps,
                    f"Epoch {min(math.ceil(epoch), math.ceil(p.epochs))}/{math.ceil(p.epochs)}, "
                    f"step {step:,}/{total_steps:,}, loss {loss.item():.3f}",
                )
                if validation and validation.texts and step in checks:
                    scores = self._validate(validation, monitor, step, epoch)
                    key = (scores["macro_f1"], -scores["loss"])
                    if best is None or key > best[0]:
                        best, since_best = (key, scores, self._trainable_state()), 0
                    else:
                        since_best += 1
                        if since_best >= p.patience:
                            stop_reason = (
                                f"Stopped early at step {step:,}: no better validation score for {p.patience} checks."
                            )
                    self._train_mode()
                if p.time_limit_minutes and time.monotonic() - started > p.time_limit_minutes * 60:
                    stop_reason = (
                        stop_reason or f"Stopped at step {step:,}: the time limit of {p.time_limit_minutes:g} min."
                    )
                if step >= total_steps or stop_reason:
                    break
        if stop_reason:
            report.notes.append(stop_reason)
        if best is not None:
            self._restore(best[2])
            report.validation = best[1]
            report.notes.append("The checkpoint with the best validation score was kept.")
        elif validation and validation.texts:  # stopped (time limit) before the first check
            report.validation = self._validate(validation, monitor, step, step / per_epoch)
        self.model.eval()
        if self.partner is not None and report.validation is not None and validation:
            alone = report.validation["macro_f1"]
            report.validation = validation_scores(self.classes, self.predict_proba(validation.texts), validation.labels)
            report.notes.append(
                f"Validation macro-F1: {alone:.3f} fine-tuned alone, {report.validation['macro_f1']:.3f} blended with "
                f"the {p.blend_with} probe (weight {p.blend_weight:g} on the fine-tuned model)."
            )
        report.steps, report.epochs = step, round(step / per_epoch, 4)
        report.seconds = time.monotonic() - started
        return report

    def _validate(self, validation: Validation, monitor: Monitor, step: int, epoch: float) -> dict[str, float]:
        proba = self.tuned_proba(validation.texts)  # the checkpoint is chosen on the fine-tuned model alone
        scores = validation_scores(self.classes, proba, validation.labels)
        monitor.loss(
            LossPoint(
                step=step, epoch=round(epoch, 4), loss=scores["loss"], split="validation", macro_f1=scores["macro_f1"]
            )
        )
        return scores

    # --- using -------------------------------------------------------------------------------------------------

    def predict_proba(
        self,
        texts: list[str],
        progress: Callable[[float, str], None] | None = None,
        languages: list[str] | None = None,
    ) -> np.ndarray:
        del languages
        if self.partner is None:
            return self.tuned_proba(texts, progress)
        tuned = self.tuned_proba(texts, split_progress(progress, 0.0, 0.8))
        if not texts:
            return tuned
        return blend(self.blend_weight, tuned, self.partner.predict_proba(texts, split_progress(progress, 0.8, 1.0)))

    def tuned_proba(self, texts: list[str], progress: Callable[[float, str], None] | None = None) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError("predict_proba before fit or load")
        result = np.zeros((len(texts), len(self.classes)), dtype=np.float64)
        if not texts:
            return result
        ids = tokenize(self.tokenizer, texts, self.prompt, self.params.max_length)
        was_training = self.model.training
        self.model.eval()
        done = 0
        with torch.no_grad():
            for batch in inference_batches([len(x) for x in ids], PREDICT_BATCH):
                logits = self.model(**collate(self.tokenizer, [ids[i] for i in batch], self.device)).logits
                result[batch] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
                done += len(batch)
                if progress:
                    progress(done / len(texts), f"Labelled {done:,} of {len(texts):,} texts")
        if was_training:
            self._train_mode()
        return result

    def save(self, folder: Path) -> None:
        if self.model is None:
            raise RuntimeError("save before fit")
        target = folder / MODEL_DIR
        with quiet_transformers():
            self.model.save_pretrained(str(target))
            self.tokenizer.save_pretrained(str(target))
        extra: dict[str, Any] = {"params": params_dict(self.params), "prompt": self.prompt}
        if self.partner is not None:
            save_partner(self.partner, folder)
            extra["blend"] = {"with": self.partner.kind, "weight": self.blend_weight, "folder": BLEND_DIR}
        write_trainer_file(folder, self.kind, self.classes, extra)

    @classmethod
    def load(cls, folder: Path) -> FinetuneTrainer:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        content = read_trainer_file(folder)
        trainer = cls(saved_params_of(FinetuneParams, content["params"]))
        trainer.classes = list(content["classes"])
        trainer.prompt = str(content.get("prompt", ""))
        with quiet_transformers():
            trainer.tokenizer = AutoTokenizer.from_pretrained(str(folder / MODEL_DIR))
            trainer.model = AutoModelForSequenceClassification.from_pretrained(str(folder / MODEL_DIR))
        trainer.device = choose_device()
        trainer.model.to(trainer.device)
        trainer.model.eval()
        if content.get("blend"):
            trainer.partner = load_partner(folder)
            trainer.blend_weight = float(content["blend"]["weight"])
        return trainer
