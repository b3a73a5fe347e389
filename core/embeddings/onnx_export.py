"""Exporting a sentence-transformers folder to ONNX once, for the onnx engines (core/embeddings/onnx_engine.py).

The whole pipeline is traced from sentence-transformers itself (transformer, pooling, any normalisation), so the
model's own pooling configuration is what runs. Tokenization stays outside the graph: the folder's fast tokenizer
(`tokenizer.json`) with the pipeline's max_seq_length, and the role's prompt prepended as sentence-transformers does.

Each variant (fp32, int8, fp16) is a folder `<root>/<variant>/` holding `model.onnx`, `tokenizer.json` and, written
last, `pipeline.json` (settings, file sizes). A variant is built in a temporary folder and renamed into place, so a
reader never sees a half-written one and two processes exporting at once leave one whole copy; a variant whose
files do not match its pipeline.json (an export cut short) is removed and built again. Before a variant is kept,
its vectors are compared with sentence-transformers' on probe texts in several scripts (and its token ids too):
one that does not agree is refused with a message, never used.

Where: inside the model's folder when the studio provisioned it (`<models_dir>/<name>/onnx/`), else under
`<models_dir>/onnx/<fingerprint>/` (a user's folder or the Hugging Face cache is never written to).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StudioError
from core.settings import get_settings

EXPORT_FORMAT = 1  # bump when the export or quantization recipe changes (cached vectors are keyed by it too)
VARIANTS = ("fp32", "int8", "fp16")
MANIFEST = "pipeline.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# the least cosine to sentence-transformers a variant must reach on the probe texts before it is kept
AGREEMENT = {"fp32": 0.9999, "int8": 0.99, "fp16": 0.999}
STALE_SECONDS = 3600  # a temporary export folder this old belongs to a process that died
PROBE_TEXTS = [
    "Will it rain tomorrow in Nakuru?",
    "Bei ya mahindi sokoni ni ngapi leo?",
    "Ṣé òjò máa rọ̀ lọ́la?",
    "क्या कल बारिश होगी?",
    "ฝนจะตกพรุ่งนี้ไหม",
    "האם ירד גשם מחר?",
    "Meine Kartoffeln haben braune Flecken",
    "  Leading and trailing spaces  ",
    "",
    "rain " * 700,  # longer than any max_seq_length: truncation must match
]

Progress = Callable[[float, str], None]


class OnnxUnsupported(StudioError):
    """This model cannot run on the onnx engines (say which engine to use instead)."""


@dataclass(frozen=True)
class Pipeline:
    """What the runtime needs besides the graph, read from sentence-transformers at export time."""

    variant: str
    fingerprint: str
    max_seq_length: int
    inputs: list[str]  # graph inputs, a subset of INPUTS, in order
    pad_id: int
    dimension: int
    lowercase: bool
    prompts: dict[str, str]
    format: int = EXPORT_FORMAT
    files: dict[str, int] = field(default_factory=dict)  # name -> size in bytes
    agreement: float = 1.0  # least cosine to sentence-transformers on the probe texts


def export_root(folder: Path) -> Path:
    """Where the exports of the model in `folder` live (see the module's docstring)."""
    from core.models.resolver import model_fingerprint

    models = Path(os.path.abspath(get_settings().models_dir))
    here = Path(os.path.abspath(folder))
    if here.parent == models:
        return here / "onnx"
    return models / "onnx" / f"{here.name}-{model_fingerprint(str(here), here)}"


def source_fingerprint(folder: Path) -> str:
    """The weights' identity, wherever the folder is reached from (a link to it gives the same export)."""
    from core.models.resolver import model_fingerprint

    return model_fingerprint("", folder)


def read_pipeline(variant_dir: Path, fingerprint: str) -> Pipeline | None:
    """The variant's pipeline when every file is whole and it belongs to these weights, else None."""
    try:
        raw = json.loads((variant_dir / MANIFEST).read_text())
        pipeline = Pipeline(**raw)
    except (OSError, ValueError, TypeError):
        return None
    if pipeline.format != EXPORT_FORMAT or pipeline.fingerprint != fingerprint or not pipeline.files:
        return None
    for name, size in pipeline.files.items():
        file = variant_dir / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return pipeline


def ensure_variant(folder: Path, variant: str, progress: Progress | None = None) -> tuple[Path, Pipeline]:
    """The folder of a whole, checked export of this variant (built now when missing or damaged)."""
    if variant not in VARIANTS:
        raise StudioError(f"Unknown ONNX variant '{variant}': use one of {', '.join(VARIANTS)}.")
    root = export_root(folder)
    fingerprint = source_fingerprint(folder)
    target = root / variant
    pipeline = read_pipeline(target, fingerprint)
    if pipeline is not None:
        return target, pipeline
    refused = root / f"{variant}-{fingerprint}.unsupported"
    if refused.exists():
        raise OnnxUnsupported(refused.read_text())
    root.mkdir(parents=True, exist_ok=True)
    _sweep(root)
    if target.exists():  # damaged or from other weights: set aside, then build again
        _discard(target, root)
    base = None if variant == "fp32" else ensure_variant(folder, "fp32", progress)
    if progress:
        progress(0.0, f"Preparing the {variant} ONNX model of {folder.name} (once per model)")
    work = root / f".tmp-{variant}-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        try:
            if base is None:
                _export_fp32(folder, work, fingerprint)
            else:
                _derive(base[0], base[1], work, variant)
            _check_agreement(folder, work, variant)
        except OnnxUnsupported as exc:
            refused.write_text(str(exc))
            raise
        try:
            os.rename(work, target)
        except OSError:  # another process put a whole copy there first: keep theirs
            if read_pipeline(target, fingerprint) is None:
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    pipeline = read_pipeline(target, fingerprint)
    if pipeline is None:
        raise StudioError(f"The ONNX export of '{folder}' was written but cannot be read back; check the disk.")
    if progress:
        progress(1.0, f"The {variant} ONNX model of {folder.name} is ready")
    return target, pipeline


def _sweep(root: Path) -> None:
    """Remove what dead exports left behind (temporary folders, set-aside copies)."""
    now = time.time()
    for leftover in list(root.glob(".tmp-*")) + list(root.glob(".stale-*")):
        try:
            if leftover.name.startswith(".stale-") or now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def _discard(target: Path, root: Path) -> None:
    aside = root / f".stale-{uuid.uuid4().hex}"
    try:
        os.rename(target, aside)
    except OSError:
        return  # another process moved it already
    shutil.rmtree(aside, ignore_errors=True)


def _write_manifest(work: Path, pipeline: Pipeline) -> None:
    files = {name: (work / name).stat().st_size for name in (MODEL_FILE, TOKENIZER_FILE)}
    data = asdict(pipeline) | {"files": files}
    partial = work / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(partial, work / MANIFEST)


def _load_sentence_transformer(folder: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    from core.models.quiet_loading import quiet_transformers

    with quiet_transformers():
        try:  # eager attention traces into plain ONNX operators on every model
            return SentenceTransformer(
                str(folder), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
            )
        except (TypeError, ValueError):
            return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def _tokenize(model: Any, texts: list[str]) -> dict[str, Any]:
    """sentence-transformers' own tokenization (`preprocess` since 6.x, `tokenize` before)."""
    method = getattr(model, "preprocess", None) or model.tokenize
    return dict(method(texts))


def _pipeline_settings(model: Any, folder: Path) -> tuple[list[str], dict[str, Any]]:
    """Graph inputs and the pipeline's settings, refusing models whose pipeline the runtime would not reproduce."""
    names = [type(module).__name__ for module in model]
    if not names or names[0] != "Transformer":
        raise OnnxUnsupported(
            f"The model in '{folder}' does not start with a Transformer module ({', '.join(names) or 'none'}): "
            "use the sentence-transformers engine for it."
        )
    prompts = {str(k): str(v) for k, v in (model.prompts or {}).items()}
    for module in model:
        if type(module).__name__ == "Pooling" and any(prompts.values()) and not getattr(module, "include_prompt", True):
            raise OnnxUnsupported(
                f"The model in '{folder}' leaves its prompts out of pooling, which the ONNX engines do not do: "
                "use the sentence-transformers engine for it."
            )
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False) or getattr(tokenizer, "backend_tokenizer", None) is None:
        raise OnnxUnsupported(
            f"The model in '{folder}' has no fast tokenizer (tokenizer.json): use the sentence-transformers engine."
        )
    if getattr(tokenizer, "truncation_side", "right") != "right":
        raise OnnxUnsupported(f"The model in '{folder}' truncates on the left: use the sentence-transformers engine.")
    probe = _tokenize(model, ["a"])
    inputs = [name for name in INPUTS if name in probe]
    max_length = model.max_seq_length or getattr(tokenizer, "model_max_length", 512)
    settings = {
        "max_seq_length": int(min(max_length, 1_000_000)),
        "inputs": inputs,
        "pad_id": int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0),
        "dimension": int(_dimension(model)),
        "lowercase": bool(getattr(model[0], "do_lower_case", False)),
        "prompts": prompts,
    }
    return inputs, settings


def _dimension(model: Any) -> int:
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(method() or 0)


def _export_fp32(folder: Path, work: Path, fingerprint: str) -> None:
    import torch

    model = _load_sentence_transformer(folder).eval()
    inputs, settings = _pipeline_settings(model, folder)

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features = dict(zip(inputs, tensors, strict=True)) | extras
            return self.model(features)["sentence_embedding"]

    sample = _tokenize(model, ["a short one", "and a somewhat longer sentence to pad the first"])
    extras = {key: value for key, value in sample.items() if not isinstance(value, torch.Tensor)}
    args = tuple(sample[name] for name in inputs)
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs} | {"sentence_embedding": {0: "batch"}}
    model.tokenizer.backend_tokenizer.save(str(work / TOKENIZER_FILE))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constants; the probe check is the real test
            torch.onnx.export(
                Traced(),
                args,
                str(work / MODEL_FILE),
                input_names=inputs,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
                do_constant_folding=True,
            )
    except Exception as exc:  # the tracer refuses many things; each one means "not this engine"
        raise OnnxUnsupported(
            f"The model in '{folder}' could not be converted to ONNX ({type(exc).__name__}: {exc}): "
            "use the sentence-transformers engine for it."
        ) from None
    _write_manifest(work, Pipeline(variant="fp32", fingerprint=fingerprint, **settings))


def _derive(base_dir: Path, base: Pipeline, work: Path, variant: str) -> None:
    """int8: dynamic quantization of the fp32 graph; fp16: its float16 conversion (for a GPU)."""
    import onnx

    shutil.copyfile(base_dir / TOKENIZER_FILE, work / TOKENIZER_FILE)
    if variant == "int8":
        _quantize_int8(base_dir / MODEL_FILE, work / MODEL_FILE, work)
    else:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = onnx.load(str(base_dir / MODEL_FILE))
        onnx.save(convert_float_to_float16(model, keep_io_types=True), str(work / MODEL_FILE))
    _write_manifest(work, Pipeline(**(asdict(base) | {"variant": variant, "files": {}})))


def _quantize_int8(source: Path, target: Path, work: Path) -> None:
    """Dynamic int8 quantization: weights int8 per output channel, activations quantized per batch at run time.

    Left in float32: the second matrix of each feed-forward block, whose inputs (after GELU) hold the outliers
    that per-tensor activation scales handle worst (measured on multilingual-e5-small: mean cosine to fp32 0.986
    with them quantized, 0.999 without). The embedding table is quantized too (most of the weights: 4x less
    memory). The graph is optimised first (constant folding, fusions), as onnxruntime advises before quantizing.
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    optimised = work / ".optimised.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(optimised)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(str(optimised), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    feed_forward_out = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and any(name in weights for name in node.input)
        and _is_feed_forward_output(node.name)
    ]
    logging.disable(logging.WARNING)  # its advice to pre-process, which the optimisation above is
    try:
        quantize_dynamic(
            str(optimised),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            nodes_to_exclude=feed_forward_out,
        )
    finally:
        logging.disable(logging.NOTSET)
    optimised.unlink(missing_ok=True)


def _is_feed_forward_output(name: str) -> bool:
    """The MatMul that brings a feed-forward block back to the hidden size, by the names transformers gives it
    (BERT-like `.../output/dense/MatMul` outside attention, `fc2`, `down_proj`, T5's `wo`)."""
    lowered = name.lower()
    if "output/dense" in lowered and "attention" not in lowered:
        return True
    return any(part in lowered for part in ("fc2", "down_proj", "/wo/"))


def probe_texts(prompts: dict[str, str]) -> list[tuple[str, str | None]]:
    roles: list[str | None] = [role for role in ("query", "passage") if role in prompts] or [None]
    return [(text, role) for role in roles for text in PROBE_TEXTS]


def _check_agreement(folder: Path, work: Path, variant: str) -> None:
    """The new variant's token ids and vectors against sentence-transformers' own on the probe texts."""
    from core.embeddings.onnx_engine import OnnxRuntime, gpu_available

    pipeline = Pipeline(**json.loads((work / MANIFEST).read_text()))
    if variant == "fp16" and not gpu_available():
        _write_manifest(work, replace(pipeline, agreement=0.0))  # unchecked: it runs on a GPU only
        return
    model = _load_sentence_transformer(folder)
    runtime = OnnxRuntime(work, pipeline)
    least = 1.0
    for role in sorted({r for _, r in probe_texts(pipeline.prompts)}, key=str):
        texts = [t for t, r in probe_texts(pipeline.prompts) if r == role]
        prompt = pipeline.prompts.get(role or "", "")
        expected_ids = _tokenize(model, [prompt + t for t in texts])
        mask = expected_ids["attention_mask"].numpy().astype(bool)
        ours = runtime.token_ids(texts, role or "")
        for row, ids in enumerate(ours):
            if list(expected_ids["input_ids"][row].numpy()[mask[row]]) != ids:
                raise OnnxUnsupported(
                    f"The tokenizer of '{folder}' gives other tokens outside sentence-transformers "
                    f"(on '{texts[row][:40]}'): use the sentence-transformers engine for it."
                )
        expected = model.encode(
            texts, prompt_name=role if role in (model.prompts or {}) else None, normalize_embeddings=True
        )
        got = runtime.encode(texts, role or "", batch_size=4)
        least = min(least, float(np.min(np.sum(np.asarray(expected, dtype=np.float32) * got, axis=1))))
    if least < AGREEMENT[variant]:
        raise OnnxUnsupported(
            f"The {variant} ONNX model of '{folder}' gives vectors too far from sentence-transformers' (cosine "
            f"{least:.4f} < {AGREEMENT[variant]}): use the sentence-transformers engine or the onnx engine for it."
        )
    _write_manifest(work, replace(pipeline, agreement=least))
