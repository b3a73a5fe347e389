"""ONNX Runtime engines for any sentence-transformers folder: `onnx` (float32), `onnx-int8` (dynamic int8
quantization, CPU) and `onnx-fp16` (float16, GPU only).

The graph is exported once per model (core/embeddings/onnx_export.py); running it needs neither torch nor
sentence-transformers. Texts are tokenized with the model's own fast tokenizer, sorted by length and batched, so
each batch pads to about its own length; every core runs one batch (intra-op threads, no spinning between
operators: a busy-waiting thread costs CPU-seconds that do no work on a shared machine). On a machine whose
onnxruntime has the CUDA provider and a GPU, the graph runs there.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.embeddings.onnx_export import MANIFEST, MODEL_FILE, TOKENIZER_FILE, Pipeline, ensure_variant
from core.errors import StudioError

TOKENS_PER_ROW = 128  # the padded tokens a batch may hold, per row of batch_size (see length_batches)
VARIANT_OF_ENGINE = {"onnx": "fp32", "onnx-int8": "int8", "onnx-fp16": "fp16"}


@lru_cache(maxsize=1)
def available_providers() -> tuple[str, ...]:
    import onnxruntime as ort

    return tuple(ort.get_available_providers())


@lru_cache(maxsize=1)
def gpu_available() -> bool:
    """onnxruntime can run on a GPU here: its CUDA provider is installed (onnxruntime-gpu) and a device exists."""
    if "CUDAExecutionProvider" not in available_providers():
        return False
    if os.environ.get("CUDA_VISIBLE_DEVICES", "0").strip() in {"", "-1"}:
        return False
    return sys.platform == "win32" or Path("/dev/nvidiactl").exists()


def usable_cores() -> int:
    """The cores this process may run on (a container or a Ray task may have fewer than the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def open_session(model_file: Path, variant: str = "fp32") -> Any:
    """An ONNX Runtime session on every usable core (intra-op threads, no spinning), on the GPU where onnxruntime
    has one (float32 stays float32 there: no TF32; int8 runs on the CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = usable_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[Any] = ["CPUExecutionProvider"]
    if variant != "int8" and gpu_available():
        providers.insert(0, ("CUDAExecutionProvider", {"use_tf32": "0"} if variant == "fp32" else {}))
    return ort.InferenceSession(str(model_file), options, providers=providers)


class OnnxRuntime:
    """One exported variant loaded into an ONNX Runtime session."""

    def __init__(self, variant_dir: Path, pipeline: Pipeline) -> None:
        from tokenizers import Tokenizer

        self.pipeline = pipeline
        self.tokenizer = Tokenizer.from_file(str(variant_dir / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=pipeline.max_seq_length)
        if pipeline.variant == "fp16" and not gpu_available():
            raise StudioError("The onnx-fp16 engine runs on a GPU only: choose onnx or onnx-int8 on this machine.")
        self.session = open_session(variant_dir / MODEL_FILE, pipeline.variant)

    def token_ids(self, texts: list[str], role: str) -> list[list[int]]:
        prompt = self.pipeline.prompts.get(role, "")
        prepared = [prompt + text for text in texts]
        if self.pipeline.lowercase:
            prepared = [text.lower() for text in prepared]
        return [encoding.ids for encoding in self.tokenizer.encode_batch(prepared)]

    def encode(self, texts: list[str], role: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.pipeline.dimension), dtype=np.float32)
        ids = self.token_ids(texts, role)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(texts), self.pipeline.dimension), dtype=np.float32)
        for rows in length_batches(order, [len(i) for i in ids], max(1, batch_size)):
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), self.pipeline.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
            vectors = self.session.run(None, {name: feed[name] for name in self.pipeline.inputs})[0]
            out[rows] = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)


def length_batches(order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive rows of `order` (shortest first), at most `batch_size` of them and at most
    batch_size x TOKENS_PER_ROW padded tokens: long texts go in smaller batches, so the attention's memory (which
    grows with rows x tokens x tokens) stays bounded."""
    budget = batch_size * TOKENS_PER_ROW
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= batch_size or (len(current) + 1) * lengths[i] > budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class OnnxEncoder:
    """The `Encoder` of the onnx engines (exports the model on first use)."""

    def __init__(self, folder: Path, engine: str) -> None:
        if engine not in VARIANT_OF_ENGINE:
            raise StudioError(f"Unknown ONNX engine '{engine}': use one of {', '.join(VARIANT_OF_ENGINE)}.")
        self.engine = engine
        if engine == "onnx-fp16" and not gpu_available():
            raise StudioError("The onnx-fp16 engine runs on a GPU only: choose onnx or onnx-int8 on this machine.")
        variant_dir, pipeline = ensure_variant(folder, VARIANT_OF_ENGINE[engine])
        try:
            self.runtime = OnnxRuntime(variant_dir, pipeline)
        except StudioError:
            raise
        except Exception:  # damaged after it was checked (same size, other bytes): build it again, once
            (variant_dir / MANIFEST).unlink(missing_ok=True)
            variant_dir, pipeline = ensure_variant(folder, VARIANT_OF_ENGINE[engine])
            self.runtime = OnnxRuntime(variant_dir, pipeline)

    def encode(self, texts: list[str], role: str, batch_size: int) -> np.ndarray:
        return self.runtime.encode(texts, role, batch_size)
