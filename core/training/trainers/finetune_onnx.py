"""The fine-tuned classifier (encoder + classification head) on ONNX Runtime, when the embedding engine chosen for
its base model is an ONNX one (the bundled encoder's default; STUDIO_EMBEDDING_ENGINE decides for the others).

The graph maps token ids to logits; tokenization stays the model's own tokenizer (the one torch uses), so the ids
are the same on both paths. It is exported once, beside the saved model (`<model>/onnx/`: model.onnx, then
classifier.json written last with the files' sizes), in a temporary folder renamed into place, and only after its
probabilities were compared with torch's on probe texts in several scripts (and on texts it is about to label):
the same label, each probability within PROBABILITY_TOLERANCE. An export that fails or disagrees is not used:
the torch model labels the texts, the reason goes to the log (and to `unsupported.txt`, so it is not tried again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.embeddings.onnx_engine import length_batches, open_session
from core.embeddings.onnx_export import PROBE_TEXTS
from core.errors import StudioError

log = logging.getLogger(__name__)

EXPORT_DIR = "onnx"  # beside the Hugging Face folder of a saved fine-tuned model
MANIFEST = "classifier.json"
MODEL_FILE = "model.onnx"
REFUSED = "unsupported.txt"
EXPORT_FORMAT = 1
PROBABILITY_TOLERANCE = 1e-4  # the most a probability may differ from torch's (float32 runs differ by ~1e-6)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHECK_TEXTS = 32  # of the texts being labelled, also compared with torch before the export is kept


def wanted(base_model: str) -> bool:
    """Whether the fine-tuned model should run on ONNX Runtime: the engine its base model embeds with (the
    studio's STUDIO_EMBEDDING_ENGINE, else the measured default) is an ONNX one."""
    from core.embeddings.service import choose_engine

    try:
        return bool(base_model) and choose_engine(base_model).startswith("onnx")
    except StudioError:
        return False


@dataclass(frozen=True)
class ClassifierManifest:
    inputs: list[str]
    classes: int
    pad_id: int
    pad_left: bool
    format: int = EXPORT_FORMAT
    files: dict[str, int] = field(default_factory=dict)
    max_difference: float = 0.0  # the largest probability difference to torch on the check texts


class OnnxClassifier:
    """The exported classifier in an ONNX Runtime session: token ids in, class probabilities out."""

    def __init__(self, folder: Path, manifest: ClassifierManifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self.session = open_session(folder / MODEL_FILE)

    def logits(self, ids: list[list[int]]) -> np.ndarray:
        m = self.manifest
        width = max((len(x) for x in ids), default=1)
        input_ids = np.full((len(ids), width), m.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            if m.pad_left:
                input_ids[row, width - len(tokens) :], mask[row, width - len(tokens) :] = tokens, 1
            else:
                input_ids[row, : len(tokens)], mask[row, : len(tokens)] = tokens, 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
        return np.asarray(self.session.run(None, {name: feed[name] for name in m.inputs})[0], dtype=np.float64)

    def proba(self, ids: list[list[int]], batch_size: int, on_batch: Any = None) -> np.ndarray:
        """Probabilities in the order of `ids`; batches of like token lengths (shortest first), at most
        `batch_size` rows and a bounded number of padded tokens each. `on_batch(rows)` after each batch."""
        out = np.zeros((len(ids), self.manifest.classes), dtype=np.float64)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for rows in length_batches(order, [len(x) for x in ids], batch_size):
            out[rows] = softmax(self.logits([ids[i] for i in rows]))
            if on_batch is not None:
                on_batch(len(rows))
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def check_texts(texts: list[str]) -> list[str]:
    """The probe texts (several scripts, an empty one, one longer than any limit) and a few of the texts to label."""
    return [*PROBE_TEXTS, *texts[:CHECK_TEXTS]]


def refusal(target: Path) -> str:
    """Why the export in `target` is not used (what the failed export wrote down)."""
    try:
        return (target.parent / f"{target.name}.{REFUSED}").read_text().strip()
    except OSError:
        return "its ONNX export could not be made (the log says why)."


def read_export(folder: Path) -> ClassifierManifest | None:
    """The export's manifest when every file is whole and of this format, else None."""
    try:
        manifest = ClassifierManifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if manifest.format != EXPORT_FORMAT or not manifest.files:
        return None
    for name, size in manifest.files.items():
        file = folder / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return manifest


def load_export(target: Path) -> OnnxClassifier | None:
    manifest = read_export(target)
    if manifest is None:
        return None
    try:
        return OnnxClassifier(target, manifest)
    except Exception as exc:  # a damaged graph: torch labels the texts
        log.warning("The ONNX export in %s could not be loaded (%s): the torch model is used.", target, exc)
        return None


def ensure_export(
    model: Any, tokenizer: Any, target: Path, check_ids: list[list[int]], torch_proba: Any
) -> OnnxClassifier | None:
    """The classifier's checked export in `target` (made now when missing), or None when it cannot be made or
    does not agree with torch (the reason in the log and in `<target's parent>/onnx.unsupported.txt`).

    `check_ids`: token ids of the texts to compare on (`check_texts` gives them); `torch_proba(ids)`: torch's
    probabilities for a list of token ids (the reference)."""
    found = load_export(target)
    if found is not None:
        return found
    refused = target.parent / f"{target.name}.{REFUSED}"
    if refused.exists():
        return None
    work = target.parent / f".{target.name}-tmp-{uuid.uuid4().hex}"
    try:
        work.mkdir(parents=True)
        manifest = _export(model, tokenizer, work)
        runtime = OnnxClassifier(work, manifest)
        difference = _compare(runtime, torch_proba, check_ids)
        _write_manifest(work, ClassifierManifest(**(asdict(manifest) | {"max_difference": difference})))
        if target.exists() and read_export(target) is None:
            shutil.rmtree(target, ignore_errors=True)  # an export cut short: replaced by this whole one
        try:
            os.rename(work, target)
        except OSError:  # another process put a whole copy there first: keep theirs
            if read_export(target) is None:
                raise
        return load_export(target)
    except _Disagrees as exc:
        refused.write_text(str(exc))
        log.warning("%s The torch model labels the texts.", exc)
        return None
    except Exception as exc:  # the tracer refuses many things; each one means "torch, not ONNX"
        message = f"The fine-tuned model could not be exported to ONNX ({type(exc).__name__}: {exc})."
        with contextlib.suppress(OSError):
            refused.write_text(message)
        log.warning("%s The torch model labels the texts.", message)
        return None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


class _Disagrees(StudioError):
    pass


def _compare(runtime: OnnxClassifier, torch_proba: Any, ids: list[list[int]]) -> float:
    """The largest probability difference to torch; raises when a label or a probability disagrees (a label may
    differ only where torch's two best classes are within the tolerance of each other)."""
    expected = np.asarray(torch_proba(ids), dtype=np.float64)
    got = runtime.proba(ids, batch_size=8)
    difference = float(np.max(np.abs(expected - got))) if len(ids) else 0.0
    top2 = np.sort(expected, axis=1)[:, -2:] if expected.shape[1] > 1 else np.zeros((len(ids), 2))
    tie = (top2[:, 1] - top2[:, 0]) <= 2 * PROBABILITY_TOLERANCE
    flipped = (expected.argmax(axis=1) != got.argmax(axis=1)) & ~tie
    if difference > PROBABILITY_TOLERANCE or flipped.any():
        raise _Disagrees(
            f"The ONNX export of the fine-tuned model disagrees with torch (probabilities up to {difference:.2e} "
            f"apart, {int(flipped.sum())} labels differ): it is not used."
        )
    return difference


def _export(model: Any, tokenizer: Any, work: Path) -> ClassifierManifest:
    import torch

    probe = tokenizer(
        ["a short one", "and a somewhat longer sentence to pad the first"], padding=True, return_tensors="pt"
    )
    inputs = [name for name in INPUTS if name in probe]
    device = next(model.parameters()).device
    args = tuple(probe[name].to(device) for name in inputs)

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, tensors, strict=True))).logits

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constants; the comparison is the real test
            torch.onnx.export(
                Logits(),
                args,
                str(work / MODEL_FILE),
                input_names=inputs,
                output_names=["logits"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in inputs} | {"logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,
                do_constant_folding=True,
            )
    finally:
        if was_training:
            model.train()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    manifest = ClassifierManifest(
        inputs=inputs,
        classes=int(model.config.num_labels),
        pad_id=int(pad_id),
        pad_left=getattr(tokenizer, "padding_side", "right") == "left",
    )
    _write_manifest(work, manifest)
    return manifest


def _write_manifest(work: Path, manifest: ClassifierManifest) -> None:
    data = asdict(manifest) | {"files": {MODEL_FILE: (work / MODEL_FILE).stat().st_size}}
    partial = work / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(partial, work / MANIFEST)
