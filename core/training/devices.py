"""Which device trains: a CUDA GPU when torch sees one (with mixed precision: bf16 where the card has it, else fp16
with loss scaling), else the CPU. The studio's pinned torch is the CPU build; a GPU machine installs a CUDA build
(README, "Training on a GPU"), and the same code then finds the card."""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainingDevice:
    kind: str  # "cuda" or "cpu"
    name: str  # the card's name, or "CPU"
    mixed_precision: str | None  # "bf16", "fp16" or None (full precision)
    cores: int = 0  # CPU threads torch uses (the CPU only)

    def words(self) -> str:
        """For the Train page and the run's report."""
        if self.kind == "cuda":
            return f"the GPU ({self.name}), with {self.mixed_precision} mixed precision"
        return f"the CPU ({self.cores} threads)" if self.cores else "the CPU"


def training_device() -> TrainingDevice:
    import torch

    if torch.cuda.is_available():
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return TrainingDevice("cuda", torch.cuda.get_device_name(0), precision)
    return TrainingDevice("cpu", "CPU", None, cores=torch.get_num_threads() or os.cpu_count() or 1)


class MixedPrecision:
    """One training step under the device's mixed precision: autocast to bf16 or fp16 for the forward pass, and for
    fp16 a gradient scaler (its small range would round small gradients to zero). Full precision: a plain step."""

    def __init__(self, device_type: str, precision: str | None) -> None:
        import torch

        self.device_type = device_type
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision or "")
        self.scaler = torch.amp.GradScaler(device_type) if precision == "fp16" else None

    @classmethod
    def for_device(cls, device: TrainingDevice) -> MixedPrecision:
        return cls(device.kind, device.mixed_precision)

    def autocast(self) -> AbstractContextManager[object]:
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, loss: Any, optimizer: Any, parameters: list[Any], max_norm: float = 1.0) -> None:
        """Backward, clip the gradients' norm, optimiser step (skipped by the scaler when fp16 overflowed)."""
        import torch

        if self.scaler is None:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_norm)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        self.scaler.step(optimizer)
        self.scaler.update()
