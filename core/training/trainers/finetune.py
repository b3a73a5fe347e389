"""Fine-tuning an encoder (`AutoModelForSequenceClassification`) from the project's encoder or any hub id / folder.

AdamW with linear warm-up and decay, batches of similar length, a validation part checked a few times per epoch
with early stopping (the best checkpoint is kept), an optional time limit, and a loss point every few steps.
Freezing the word embeddings (the default) skips the optimiser's work on the largest matrix: about twice as
fast on a CPU; on a CPU the lowest half of the layers is frozen too by default (finetune_layers). A GPU is used
when torch sees one. By default the result is blended with a linear probe on the encoder's sentence embeddings
(finetune_blend). The saved model is an ordinary Hugging Face folder (the fine-tuned model alone), with the
blended probe beside it, and (when the base model's embedding engine is an ONNX one) its ONNX export, which then
labels texts instead of torch (finetune_onnx). Texts are labelled in batches of like token lengths.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.embeddings.onnx_engine import gpu_available
from core.embeddings.throughput import Throughput
from core.errors import StudioError
from core.models.quiet_loading import quiet_transformers
from core.training.devices import MixedPrecision, training_device
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
from core.training.trainers.finetune_onnx import (
    EXPORT_DIR,
    OnnxClassifier,
    check_texts,
    ensure_export,
    load_export,
    refusal,
    wanted,
)

log = logging.getLogger(__name__)

MODEL_DIR = "transformers"  # an ordinary Hugging Face model folder
PREDICT_BATCH = 64
LOSS_POINTS = 400  # about this many training-loss points per run, each the mean over its steps
# texts: a model not saved yet (a training job scoring its test split) is exported to ONNX for at least this many;
# a saved one always. bench/bench_predict.py, e5-small on 2 cores: the export and its check cost 19 CPU-s, and
# ONNX labels 45 texts per CPU-second where torch labels 25, so an export pays for itself after about 1,000 texts
EXPORT_WORTH = 2_000


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
        self.saved: Path | None = None  # the folder it was loaded from (its torch model is loaded when needed)
        self.onnx: OnnxClassifier | None = None  # the ONNX export that labels texts (finetune_onnx)
        self._onnx_tried = False
        self.onnx_refusal: str | None = None  # why the export is not used, when it failed
        self._fitting = False  # no export while the weights still change

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
        self.device = training_device().kind
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
        self._fitting, self.onnx, self._onnx_tried = True, None, False
        random.seed(p.seed)
        np.random.seed(p.seed)
        torch.manual_seed(p.seed)
        share = 0.0
        if p.blend_with != "none":
            encoder = p.blend_encoder or p.base_model
            self.partner = fit_blend_partner(p.blend_with, encoder, p.seed, texts, labels, monitor)
            self.blend_weight, share = p.blend_weight, SHARE
        monitor.progress(share, f"Loading {p.base_model} to train on {training_device().words()}")
        self._load_base(self.classes)
        monitor.progress(share, f"Tokenising {len(texts):,} texts")
        ids = tokenize(self.tokenizer, texts, self.prompt, self.max_tokens())
        lengths = [len(x) for x in ids]
        target = [self.classes.index(label) for label in labels]
        rng = np.random.default_rng(p.seed)
        per_epoch = math.ceil(len(ids) / p.batch_size)
        total_steps = max(1, math.ceil(per_epoch * p.epochs))
        checks = evaluation_steps(per_epoch, total_steps, p.evaluations_per_epoch)
        log_every = max(1, total_steps // LOSS_POINTS)
        optimizer, scheduler = self._optimizer(total_steps)
        trainable = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        device = training_device()
        precision = MixedPrecision.for_device(device)
        report = FitReport(train_samples=len(ids), seconds=0.0, device=self.device)
        report.notes.append(f"Trained on {device.words()}.")
        best: tuple[tuple[float, float], dict[str, float], dict[str, Any]] | None = None  # key, scores, weights
        since_best, window, step = 0, [], 0
        stop_reason = ""
        self._train_mode()
        while step < total_steps and not stop_reason:
            for batch in training_batches(lengths, p.batch_size, rng):
                monitor.check_cancel()
                inputs = collate(self.tokenizer, [ids[i] for i in batch], self.device)
                inputs["labels"] = torch.tensor([target[i] for i in batch], device=self.device)
                with precision.autocast():
                    loss = self.model(**inputs).loss
                precision.step(loss, optimizer, trainable)
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
        self._fitting = False
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
        """The fine-tuned model's probabilities alone: on its ONNX export where there is one, else torch; batches
        of like token lengths, results in the order of `texts`, progress in texts per second."""
        if self.model is None and self.saved is None:
            raise RuntimeError("predict_proba before fit or load")
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        ids = tokenize(self.tokenizer, texts, self.prompt, self.max_tokens())
        speed = Throughput()

        def report(rows: int) -> None:
            speed.add(rows)
            if progress:
                progress(speed.done / len(texts), speed.labelled(len(texts)))

        runtime = self.onnx_runtime(texts)
        note = self.engine_note()
        if progress and note:
            progress(0.0, f"Labelling {len(texts):,} texts {note}")
        if runtime is not None:
            return runtime.proba(ids, PREDICT_BATCH, report)
        return self.torch_proba(ids, report)

    def engine_note(self) -> str | None:
        """How the texts are labelled, where it is worth saying: on the ONNX export, or on torch because the
        export failed (and why)."""
        if self.onnx is not None:
            return "on ONNX Runtime (the fine-tuned model's export, checked against torch)"
        if self.onnx_refusal:
            return f"with torch: {self.onnx_refusal}"
        return None

    def max_tokens(self) -> int:
        """The longest input: the chosen max_length, or the tokenizer's own limit where that is lower."""
        limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 1_000_000:
            return min(self.params.max_length, limit)
        return self.params.max_length

    def torch_proba(self, ids: list[list[int]], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Probabilities from the torch model for token ids, batched by length, in the order of `ids`."""
        import torch

        model = self.torch_model()
        result = np.zeros((len(ids), len(self.classes)), dtype=np.float64)
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            for batch in inference_batches([len(x) for x in ids], PREDICT_BATCH):
                logits = model(**collate(self.tokenizer, [ids[i] for i in batch], self.device)).logits
                result[batch] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
                if on_batch is not None:
                    on_batch(len(batch))
        if was_training:
            self._train_mode()
        return result

    def torch_model(self) -> Any:
        """The torch model (a loaded one reads its weights on first use: the ONNX export needs none)."""
        if self.model is None:
            from transformers import AutoModelForSequenceClassification

            if self.saved is None:
                raise RuntimeError("predict_proba before fit or load")
            with quiet_transformers():
                self.model = AutoModelForSequenceClassification.from_pretrained(str(self.saved / MODEL_DIR))
            self.model.to(self.device)
            self.model.eval()
        return self.model

    def onnx_runtime(self, texts: list[str]) -> OnnxClassifier | None:
        """The ONNX export that labels texts, made (once, checked against torch) when the base model's engine is
        an ONNX one; None: torch labels them (another engine, mid-training, too few texts for an unsaved model,
        or the export failed: then the log says why)."""
        if self.onnx is not None or self._onnx_tried or self._fitting:
            return self.onnx
        if not wanted(self.params.base_model) or (self.device == "cuda" and not gpu_available()):
            return None  # torch on a GPU beats onnxruntime on the CPU
        if self.saved is None and len(texts) < EXPORT_WORTH:
            return None
        self._onnx_tried = True
        if self.saved is not None:
            target = self.saved / EXPORT_DIR
            self.onnx = load_export(target)
            if self.onnx is not None:
                return self.onnx
        else:  # moved beside the model when it is saved
            scratch = Path(tempfile.mkdtemp(prefix="studio-finetune-onnx-"))
            weakref.finalize(self, shutil.rmtree, scratch, True)
            target = scratch / EXPORT_DIR
        check = tokenize(self.tokenizer, check_texts(texts), self.prompt, self.max_tokens())
        self.onnx = ensure_export(self.torch_model(), self.tokenizer, target, check, self.torch_proba)
        if self.onnx is not None:
            log.info("The fine-tuned model labels texts with its ONNX export (%s).", target)
        else:
            self.onnx_refusal = refusal(target)
        return self.onnx

    def _keep_export(self, folder: Path) -> None:
        """Put the export made before the model was saved beside it (a failed one is tried again once saved)."""
        if self.saved is not None or not self._onnx_tried:
            return
        target = folder / EXPORT_DIR
        if self.onnx is not None and not target.exists():
            work = folder / f".{EXPORT_DIR}-tmp-{uuid.uuid4().hex}"
            shutil.copytree(self.onnx.folder, work)
            os.rename(work, target)

    def save(self, folder: Path) -> None:
        if self.model is None and self.saved is None:
            raise RuntimeError("save before fit")
        target = folder / MODEL_DIR
        with quiet_transformers():
            self.torch_model().save_pretrained(str(target))
            self.tokenizer.save_pretrained(str(target))
        extra: dict[str, Any] = {"params": params_dict(self.params), "prompt": self.prompt}
        if self.partner is not None:
            save_partner(self.partner, folder)
            extra["blend"] = {"with": self.partner.kind, "weight": self.blend_weight, "folder": BLEND_DIR}
        write_trainer_file(folder, self.kind, self.classes, extra)
        self._keep_export(folder)

    @classmethod
    def load(cls, folder: Path) -> FinetuneTrainer:
        from transformers import AutoTokenizer

        content = read_trainer_file(folder)
        trainer = cls(saved_params_of(FinetuneParams, content["params"]))
        trainer.classes = list(content["classes"])
        trainer.prompt = str(content.get("prompt", ""))
        with quiet_transformers():
            trainer.tokenizer = AutoTokenizer.from_pretrained(str(folder / MODEL_DIR))
        trainer.device = training_device().kind
        trainer.saved = Path(folder)
        if not wanted(trainer.params.base_model):  # else the weights are read only if the ONNX export needs them
            trainer.torch_model()
        if content.get("blend"):
            trainer.partner = load_partner(folder)
            trainer.blend_weight = float(content["blend"]["weight"])
        return trainer
