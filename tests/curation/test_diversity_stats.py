"""The diversity table per language x label: mean similarity, distinct-2 on subword tokens, near-duplicate groups,
and a collapse indicator that singles out the cell that repeats itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.curation.diversity_stats import (
    COLLAPSE_LEVELS,
    DiversityRules,
    distinct_n,
    diversity_table,
    mean_pairwise_similarity,
)
from core.curation.duplicate_flags import Item
from core.curation.subword_tokens import tokens

REPEATS = [  # one sentence, over and over: what a collapsed generator writes
    "Will it rain in Nakuru tomorrow?",
    "Will it rain in Nakuru tomorrow ?",
    "will it rain in nakuru tomorrow",
    "Will it rain in Nakuru tomorrow??",
    "Will it rain in Nakuru tomorrow, please?",
    "Will it rain in Nakuru tomorrow!",
    "WILL IT RAIN IN NAKURU TOMORROW?",
    "Will it rain in Nakuru tomorrow? ",
    "Will it rain tomorrow in Nakuru?",
    "Will it rain in Nakuru tomorrow.",
]
VARIED = [
    "Is a storm coming to Mombasa this weekend?",
    "How hot will Kisumu get on Saturday afternoon?",
    "Do I need an umbrella for my trip to Eldoret?",
    "What is the wind speed on Lake Victoria right now?",
    "Will the long rains start late this year?",
    "Any frost expected in the highlands tonight?",
    "How humid is it in Lamu today?",
    "Should farmers in Kitale expect hail next week?",
    "Is there fog on the Nairobi–Nakuru highway this morning?",
    "When does the dry season end in Turkana?",
]
PRICES = [
    "How much is a bag of maize in Kisumu today?",
    "The price of beans went up again at Gikomba market.",
    "Where can I sell my tomatoes for a good price?",
    "Is sugar cheaper in Uganda than in Kenya this month?",
    "What do traders pay for a litre of milk in Nyeri?",
    "Cabbage prices fell after the harvest.",
    "Why are onions so expensive in Mombasa?",
    "Can I get a better price for coffee at the cooperative?",
    "How much does a crate of eggs cost in Nakuru?",
    "Fertiliser is more expensive than last season.",
]


def _items(cells: dict[str, list[str]], language: str = "en") -> list[Item]:
    items = []
    for label, texts in cells.items():
        for text in texts:
            items.append(Item(len(items) + 1, text, label, language, "train", "synthetic", "pending"))
    return items


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


# --- the measures ------------------------------------------------------------------------------------------------


def test_mean_pairwise_similarity_is_exact_without_an_n_by_n_matrix() -> None:
    rng = np.random.default_rng(7)
    vectors = _unit(rng.normal(size=(300, 48)) + 0.5)  # a shared direction, as real encoders have
    matrix = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    brute = (matrix.sum() - np.trace(matrix)) / (300 * 299)
    assert mean_pairwise_similarity(vectors) == pytest.approx(brute, abs=1e-9)
    # a random sample of pairs only estimates it: the exact figure sits inside the sample's spread
    pairs = rng.integers(0, 300, size=(4000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    sampled = matrix[pairs[:, 0], pairs[:, 1]]
    assert abs(sampled.mean() - brute) < 4 * sampled.std() / np.sqrt(len(sampled))
    assert mean_pairwise_similarity(vectors[:1]) is None
    same = _unit(np.ones((4, 8)))
    assert mean_pairwise_similarity(same) == pytest.approx(1.0)


def test_distinct_2_counts_bigrams_within_texts() -> None:
    assert distinct_n([[1, 2, 3], [1, 2, 3]]) == pytest.approx(2 / 4)
    assert distinct_n([[1, 2, 3], [4, 5, 6]]) == pytest.approx(1.0)
    assert distinct_n([[1, 2], [2, 1]]) == pytest.approx(1.0)
    assert distinct_n([[1], [2]]) is None  # one-token texts have no bigram, and none across texts
    assert distinct_n([["▁a", "b", "c"]], n=3) == pytest.approx(1.0)


# --- the table on constructed vectors ----------------------------------------------------------------------------


def _constructed(tiny_encoder: Path) -> tuple[list[Item], np.ndarray, list[list[int]]]:
    """Three English cells: 'repeats' on one point, 'varied' and 'prices' spread out; one 'tiny' cell of 3."""
    rng = np.random.default_rng(0)
    cells = {"repeats": REPEATS, "varied": VARIED, "prices": PRICES, "tiny": PRICES[:3]}
    items = _items(cells)
    base = rng.normal(size=64)
    vectors = np.vstack(
        [
            np.tile(base, (len(REPEATS), 1)) + 0.01 * rng.normal(size=(len(REPEATS), 64)),
            rng.normal(size=(len(VARIED) + len(PRICES) + 3, 64)),
        ]
    )
    return items, _unit(vectors), tokens([i.text for i in items], str(tiny_encoder))


def test_the_collapsed_cell_comes_first_with_its_reasons(tiny_encoder: Path) -> None:
    items, vectors, token_rows = _constructed(tiny_encoder)
    table = diversity_table(items, vectors, token_rows)
    rows = {row.label: row for row in table}
    assert table[0].label == "repeats" and table[-1].label == "tiny"
    levels = [COLLAPSE_LEVELS.index(row.collapse) for row in table]
    assert levels == sorted(levels)
    repeats, varied = rows["repeats"], rows["varied"]
    assert repeats.collapse == "collapsed" and varied.collapse == "ok" and rows["tiny"].collapse == "too_few"
    assert repeats.groups == 1 and varied.groups == varied.n == len(VARIED)
    assert repeats.group_share == pytest.approx(1 / len(REPEATS))
    assert repeats.mean_similarity > 0.99 > varied.mean_similarity
    assert repeats.distinct_2 < varied.distinct_2
    # compared with the other English cells, not with itself
    others = [rows[label].mean_similarity for label in ("varied", "prices", "tiny")]
    assert repeats.reference_similarity == pytest.approx(float(np.median(others)))
    assert repeats.similarity_excess == pytest.approx(repeats.mean_similarity - repeats.reference_similarity)
    assert any("9 of the 10 samples of 'repeats' in English are near-duplicates" in r for r in repeats.reasons)
    assert any("more alike than those of other labels" in r for r in repeats.reasons)
    assert varied.reasons == ()
    assert rows["tiny"].reasons == ("Only 3 samples: too few to judge.",)


def test_cells_are_compared_within_their_language(tiny_encoder: Path) -> None:
    """A language whose texts all sit closer together (as e5 does for some languages) is not 'collapsed' for it."""
    rng = np.random.default_rng(1)
    english = _items({"varied": VARIED, "prices": PRICES})
    swahili = _items({"varied": VARIED, "prices": PRICES}, language="sw")
    swahili = [Item(i.id + 100, i.text, i.label, i.language, i.split, i.origin, i.status) for i in swahili]
    spread = rng.normal(size=(20, 64))
    close = rng.normal(size=(20, 64)) + 2.5 * rng.normal(size=64)  # every Swahili text shares a direction
    vectors = _unit(np.vstack([spread, close]))
    items = english + swahili
    table = diversity_table(items, vectors, tokens([i.text for i in items], str(tiny_encoder)), threshold=0.99)
    sw = [row for row in table if row.language == "sw"]
    en = [row for row in table if row.language == "en"]
    assert min(r.mean_similarity for r in sw) > max(r.mean_similarity for r in en) + 0.1
    assert all(row.collapse == "ok" for row in table)
    assert all(abs(row.similarity_excess) < 0.1 for row in table)


def test_distinct_2_is_counted_on_a_capped_seeded_sample(tiny_encoder: Path) -> None:
    texts = [f"{a} {b}" for a in VARIED for b in PRICES]  # 100 texts
    items = _items({"big": texts})
    token_rows = tokens(texts, str(tiny_encoder))
    vectors = _unit(np.random.default_rng(2).normal(size=(len(texts), 16)))
    full = diversity_table(items, vectors, token_rows, rules=DiversityRules(distinct_texts=1000))[0]
    assert full.distinct_2 == pytest.approx(distinct_n(token_rows))
    capped = [diversity_table(items, vectors, token_rows, rules=DiversityRules(distinct_texts=20))[0] for _ in "ab"]
    assert capped[0].distinct_2 == capped[1].distinct_2  # seeded: the same table every time
    assert capped[0].distinct_2 > full.distinct_2  # fewer texts repeat fewer pairs: why cells are capped alike


def test_unlabelled_samples_are_left_out_and_inputs_must_line_up() -> None:
    items = [Item(1, "a b c", None, "en", "train", "synthetic", "pending")]
    assert diversity_table(items, _unit(np.ones((1, 4))), [[1, 2, 3]]) == []
    with pytest.raises(ValueError, match="one vector and one token list per sample"):
        diversity_table(items, _unit(np.ones((2, 4))), [[1, 2, 3]])


# --- real similarities -------------------------------------------------------------------------------------------


def test_real_encoder_sees_the_collapse(e5_folder: Path) -> None:
    from core.embeddings.service import embed

    items = _items({"weather": REPEATS, "varied_weather": VARIED, "prices": PRICES})
    texts = [i.text for i in items]
    vectors = embed(texts, str(e5_folder))
    table = diversity_table(items, vectors, tokens(texts, str(e5_folder)))
    rows = {row.label: row for row in table}
    collapsed, varied = rows["weather"], rows["varied_weather"]
    assert table[0].label == "weather"
    assert collapsed.mean_similarity > varied.mean_similarity + 0.05
    assert collapsed.distinct_2 < varied.distinct_2
    assert collapsed.groups < varied.groups
    assert collapsed.collapse in ("collapsed", "watch") and varied.collapse == "ok"
