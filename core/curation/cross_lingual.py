"""Cross-lingual test contamination: a synthetic TRAIN sample that is a translation of a human TEST sample in another
language (an LLM asked for examples may well translate what it has seen).

A plain cosine threshold cannot find them: a multilingual encoder such as e5 rates unrelated texts of one topic at
0.85-0.95. So, as in bitext mining (Artetxe & Schwenk 2019), a pair is judged against its neighbourhoods, one
language pair (a, b) at a time: x in language a and y in language b must be each other's nearest neighbour, and
their similarity must stand out from the average similarity of each one's k nearest neighbours in the other
language, the pair itself left out (the ratio margin cos(x, y) / ((avg_k(x) + avg_k(y)) / 2)). One pair of
languages at a time, because
test sets are often parallel (the same sentence in every language): a neighbourhood across all languages would be
full of the other translations.

The cost is one matrix product per pair of languages (every synthetic train sample against every test sample of
the other languages), in blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.curation.duplicate_flags import Findings, Item

NEIGHBOURS = 4
# Measured on the paper's human data (bench/bench_cross_lingual.py, bundled e5-small): false alarms (train against
# test, which share no sentence) 0.67% on topic and 0.33% on intent; translations found among the parallel test
# sets 80% on topic (Flores sentences) and 7% on intent (MASSIVE's short, often localised commands: as close to
# many other commands as to their own translation). A plain cosine threshold with 80% recall on topic (0.90) raises
# false alarms on 50% of intent's samples.
MARGIN = 1.08
# and, whatever the margin, at least this similarity: an encoder that spreads unrelated texts near 0 (not e5) makes
# any faint nearest neighbour stand out of a neighbourhood of noise
MIN_SIMILARITY = 0.5
BLOCK = 4096
# candidate x test comparisons at most (about 60 CPU-s on 2 cores); a bigger project skips the check, and says so
PAIR_BUDGET = 2_000_000_000


@dataclass(frozen=True)
class Translation:
    candidate: int  # position among the candidates given
    test: int  # position among the test samples given
    similarity: float
    margin: float


def _others_mean(top: np.ndarray) -> np.ndarray:
    """The mean of each column's scores but its best (`top`: the k + 1 best scores per column, any order)."""
    return (top.sum(axis=0) - top.max(axis=0)) / (len(top) - 1)


def _pair_translations(
    candidates: np.ndarray, tests: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mutual nearest neighbours between two languages' vectors whose ratio margin reaches `margin`:
    (candidate rows, test rows, similarities, margins). The neighbourhoods are each side's k nearest neighbours
    other than the pair itself (with the pair in it, e5's narrow range caps the margin of even an exact copy
    near 1.1)."""
    k = min(NEIGHBOURS, len(candidates) - 1, len(tests) - 1)
    if k < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
    best_test = np.empty(len(candidates), dtype=np.int64)
    best_score = np.empty(len(candidates), dtype=np.float32)
    row_mean = np.empty(len(candidates), dtype=np.float32)
    column_top = np.full((k + 1, len(tests)), -np.inf, dtype=np.float32)  # each test's k + 1 best scores so far
    best_candidate = np.full(len(tests), -1, dtype=np.int64)
    best_candidate_score = np.full(len(tests), -np.inf, dtype=np.float32)
    for start in range(0, len(candidates), BLOCK):
        scores = candidates[start : start + BLOCK] @ tests.T
        block = slice(start, start + len(scores))
        best_test[block] = scores.argmax(axis=1)
        best_score[block] = scores[np.arange(len(scores)), best_test[block]]
        row_mean[block] = _others_mean(np.partition(scores, -(k + 1), axis=1)[:, -(k + 1) :].T)
        column_top = np.partition(np.vstack([column_top, scores]), -(k + 1), axis=0)[-(k + 1) :]
        block_best = scores.argmax(axis=0)
        block_score = scores[block_best, np.arange(len(tests))]
        better = block_score > best_candidate_score
        best_candidate[better] = block_best[better] + start
        best_candidate_score[better] = block_score[better]
    column_mean = _others_mean(column_top)
    mutual = best_candidate[best_test] == np.arange(len(candidates))
    margins = best_score / ((row_mean + column_mean[best_test]) / 2)
    keep = np.flatnonzero(mutual & (margins >= margin) & (best_score >= MIN_SIMILARITY))
    return keep, best_test[keep], best_score[keep], margins[keep]


def find_translations(
    candidates: np.ndarray,
    candidate_languages: Sequence[str],
    tests: np.ndarray,
    test_languages: Sequence[str],
    *,
    margin: float = MARGIN,
    candidate_rows: np.ndarray | None = None,
    test_rows: np.ndarray | None = None,
) -> list[Translation]:
    """The candidates that translate a test sample of another language (normalised vectors), each with its best
    match, in candidate order. With `candidate_rows` / `test_rows`, the vectors are those rows of the arrays given
    (one language's rows are copied at a time, never all of them)."""
    found: dict[int, Translation] = {}
    candidate_codes = np.asarray(candidate_languages, dtype=object)
    test_codes = np.asarray(test_languages, dtype=object)
    candidate_rows = np.arange(len(candidate_codes)) if candidate_rows is None else candidate_rows
    test_rows = np.arange(len(test_codes)) if test_rows is None else test_rows
    for a in sorted(set(candidate_languages)):
        in_a = np.flatnonzero(candidate_codes == a)
        side_a = candidates[candidate_rows[in_a]]
        for b in sorted(set(test_languages) - {a}):
            in_b = np.flatnonzero(test_codes == b)
            rows, columns, similarities, margins = _pair_translations(side_a, tests[test_rows[in_b]], margin)
            for row, column, similarity, ratio in zip(rows, columns, similarities, margins, strict=True):
                match = Translation(int(in_a[row]), int(in_b[column]), float(similarity), float(ratio))
                if match.candidate not in found or match.margin > found[match.candidate].margin:
                    found[match.candidate] = match
    return [found[c] for c in sorted(found)]


@dataclass(frozen=True)
class CrossLingualSummary:
    checked: bool
    flagged: int
    message: str


def find_cross_lingual_contamination(
    items: list[Item], vectors: np.ndarray, findings: Findings, *, budget: int = PAIR_BUDGET
) -> CrossLingualSummary:
    """Flag `test_contamination` on the synthetic TRAIN samples that translate a TEST sample of another language
    (a sample the same-language check flagged already keeps that flag). Every candidate meets every test sample of
    the other languages: beyond `budget` such pairs the check is skipped, and the summary says so."""
    from core.language_names import language_name

    candidates = [p for p, i in enumerate(items) if i.origin == "synthetic" and i.split == "train"]
    tests = [p for p, i in enumerate(items) if i.split == "test"]
    if not candidates or not tests:
        return CrossLingualSummary(False, 0, "No synthetic training or test samples: nothing to compare.")
    test_counts: dict[str, int] = {}
    for p in tests:
        test_counts[items[p].language] = test_counts.get(items[p].language, 0) + 1
    pairs = sum(len(tests) - test_counts.get(items[p].language, 0) for p in candidates)
    if pairs > budget:
        return CrossLingualSummary(
            False,
            0,
            f"Translations of test samples were not looked for: {len(candidates):,} synthetic against {len(tests):,} "
            f"test samples is {pairs:,} comparisons, beyond this check's {budget:,}.",
        )
    already = {f["sample_id"] for f in findings.flags if f["kind"] == "test_contamination"}
    matches = find_translations(
        vectors,
        [items[p].language for p in candidates],
        vectors,
        [items[p].language for p in tests],
        candidate_rows=np.asarray(candidates, dtype=np.int64),
        test_rows=np.asarray(tests, dtype=np.int64),
    )
    flagged = 0
    for match in matches:
        sample, test = items[candidates[match.candidate]], items[tests[match.test]]
        if sample.id in already:
            continue
        findings.add(
            sample.id,
            "test_contamination",
            f"Looks like a translation of test sample #{test.id} ({language_name(test.language)}): training on it "
            f"would leak the evaluation (similarity {match.similarity:.2f}, {match.margin:.2f} times its "
            "neighbours').",
            test_sample=test.id,
            test_language=test.language,
            similarity=round(match.similarity, 4),
            margin=round(match.margin, 4),
        )
        flagged += 1
    return CrossLingualSummary(True, flagged, f"{flagged:,} synthetic samples look like translations of test samples.")
