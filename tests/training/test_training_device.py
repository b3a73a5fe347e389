"""Which device trains (issue 21): the GPU when torch sees one, with the mixed precision the card supports, else the
CPU. No GPU here: torch's CUDA queries are faked (torch is a library; the choice is ours)."""

from __future__ import annotations

import pytest
import torch

from core.training.devices import TrainingDevice, training_device


def fake_gpu(monkeypatch: pytest.MonkeyPatch, name: str, bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: name)


def test_a_gpu_trains_with_bf16_where_the_card_has_it_else_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, "NVIDIA H100 80GB HBM3", bf16=True)
    device = training_device()
    assert device == TrainingDevice("cuda", "NVIDIA H100 80GB HBM3", "bf16")
    assert device.words() == "the GPU (NVIDIA H100 80GB HBM3), with bf16 mixed precision"
    fake_gpu(monkeypatch, "Tesla T4", bf16=False)
    assert training_device().mixed_precision == "fp16"


def test_without_a_gpu_the_cpu_trains_in_full_precision() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    device = training_device()
    assert (device.kind, device.mixed_precision) == ("cpu", None)
    assert device.cores == torch.get_num_threads()
    assert device.words() == f"the CPU ({torch.get_num_threads()} threads)"


@pytest.mark.parametrize("precision", [None, "bf16", "fp16"])
def test_a_mixed_precision_step_trains(precision: str | None) -> None:
    """The same step code runs on a GPU; here autocast and the fp16 gradient scaler run on the CPU."""
    from core.training.devices import MixedPrecision

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    inputs = torch.randn(64, 8)
    target = (inputs[:, 0] > 0).long()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    mixed = MixedPrecision("cpu", precision)
    assert (mixed.scaler is not None) == (precision == "fp16")
    losses = []
    for _ in range(30):
        with mixed.autocast():
            logits = model(inputs)
            if precision:
                assert logits.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
        mixed.step(loss, optimizer, list(model.parameters()))
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.isfinite(p).all() for p in model.parameters())
