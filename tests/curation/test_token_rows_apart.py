"""Subword tokens of a big project are counted in worker processes and packed: the same rows as in one process; a
subset of packed rows is copied a slice at a time with the same result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.curation import subword_tokens
from core.curation.subword_tokens import TokenRows, token_ids, token_rows, token_rows_apart

TEXTS = [
    "Will it rain in Mombasa tomorrow afternoon?",
    "Je, mvua itanyesha kesho?",
    "",
    "พรุ่งนี้ฝนจะตกที่กรุงเทพไหมครับ",
    "ok",
    "Wird es morgen in Hamburg regnen oder nicht, und wie kalt wird es?",
]


@pytest.mark.slow
def test_counting_in_worker_processes_gives_the_rows_of_one_process(
    tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"{TEXTS[i % len(TEXTS)]} {i}" if i % 5 else TEXTS[i % len(TEXTS)] for i in range(300)]
    alone = token_rows(texts, str(tiny_encoder))
    monkeypatch.setattr(subword_tokens, "PARALLEL_MIN", 50)
    monkeypatch.setattr(subword_tokens, "PARALLEL_SLICE", 64)  # 5 slices, the last one short
    reports: list[tuple[int, int]] = []
    apart = token_rows_apart(texts, str(tiny_encoder), lambda done, total: reports.append((done, total)))
    assert list(apart) == list(alone) == token_ids(texts, str(tiny_encoder))
    assert apart.lengths == alone.lengths and apart.flat.dtype == np.int32
    # one report per slice counted; where worker processes cannot start here (a spawned worker re-imports this
    # process's __main__), the texts are counted in this process, without reports
    assert reports in ([(64, 300), (128, 300), (192, 300), (256, 300), (300, 300)], [])


def test_few_texts_are_counted_here(tiny_encoder: Path) -> None:
    assert list(token_rows_apart(TEXTS, str(tiny_encoder))) == token_ids(TEXTS, str(tiny_encoder))


def test_packed_parts_join_into_one_and_a_subset_is_copied_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 250_000, int(rng.integers(0, 9))).tolist() for _ in range(50)]
    parts = []
    for start in range(0, 50, 17):  # three parts, each packed on its own
        chunk = rows[start : start + 17]
        flat = np.array([i for row in chunk for i in row], dtype=np.int32)
        parts.append((flat, np.cumsum([0, *map(len, chunk)])))
    joined = TokenRows.joined(parts)
    assert list(joined) == rows and len(TokenRows.joined([])) == 0
    positions = rng.choice(50, 40, replace=True).tolist()
    whole = list(joined.subset(positions))
    monkeypatch.setattr(subword_tokens, "SUBSET_ROWS", 3)
    assert list(joined.subset(positions)) == whole == [rows[p] for p in positions]
    assert list(joined.subset([])) == []
