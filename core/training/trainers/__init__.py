"""The trainers behind one interface (see `base.Trainer`): make one from parameters, or load a saved one."""

from __future__ import annotations

from pathlib import Path

from core.errors import StudioError
from core.training.params import FinetuneParams, HybridParams, LinearParams, SetFitParams, TrainerParams
from core.training.trainers.base import Trainer, read_trainer_file


def make_trainer(params: TrainerParams) -> Trainer:
    if isinstance(params, LinearParams | HybridParams) and params.per_language_models:
        from core.training.trainers.per_language import PerLanguageTrainer

        return PerLanguageTrainer(params)
    if isinstance(params, LinearParams):
        from core.training.trainers.linear_probe import LinearProbe

        return LinearProbe(params)
    if isinstance(params, HybridParams):
        from core.training.trainers.hybrid import HybridTrainer

        return HybridTrainer(params)
    if isinstance(params, FinetuneParams):
        from core.training.trainers.finetune import FinetuneTrainer

        return FinetuneTrainer(params)
    if isinstance(params, SetFitParams):
        from core.training.trainers.setfit_trainer import SetFitTrainer

        return SetFitTrainer(params)
    raise StudioError(f"No trainer for parameters of type {type(params).__name__}.")


def load_trainer(folder: Path) -> Trainer:
    """The trained model saved in `folder` (its trainer.json says which trainer wrote it)."""
    content = read_trainer_file(folder)
    kind = content.get("kind")
    if "language_models" in content:
        from core.training.trainers.per_language import PerLanguageTrainer

        return PerLanguageTrainer.load(folder)
    if kind == "linear":
        from core.training.trainers.linear_probe import LinearProbe

        return LinearProbe.load(folder)
    if kind == "hybrid":
        from core.training.trainers.hybrid import HybridTrainer

        return HybridTrainer.load(folder)
    if kind == "finetune":
        from core.training.trainers.finetune import FinetuneTrainer

        return FinetuneTrainer.load(folder)
    if kind == "setfit":
        from core.training.trainers.setfit_trainer import SetFitTrainer

        return SetFitTrainer.load(folder)
    raise StudioError(f"The model in {folder} was written by an unknown trainer '{kind}'.")
