"""Whether an evaluation still scores the project's test split: the test samples of its languages may have changed
since (imported, deleted, rejected), and then its figures describe another test set."""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluation.metrics import hash_test_ids
from core.evaluation.model_scores import load_test_set
from core.store.database import Store
from core.store.evaluations import Evaluation
from core.store.projects import Project


@dataclass(frozen=True)
class TestSplitCheck:
    """Whether the test split changed since an evaluation, and what to tell the person."""

    __test__ = False  # not a pytest class

    stale: bool  # the test split holds other samples in the evaluation's languages than it scored
    warn: bool  # stale, and worth a warning (evaluate it again); a checked file's own rows only get a note
    samples_now: int  # test samples in the evaluation's languages now
    message: str  # "" when not stale


def check_test_split(store: Store, project: Project, evaluation: Evaluation) -> TestSplitCheck:
    """Compare the evaluation's test hash with the hash of the test samples of its languages now."""
    test = load_test_set(store, project)
    now = [i for i, code in zip(test.sample_ids, test.languages, strict=True) if code in evaluation.languages]
    if hash_test_ids(now) == evaluation.test_hash:
        return TestSplitCheck(stale=False, warn=False, samples_now=len(now), message="")
    if evaluation.source == "file":
        return TestSplitCheck(
            stale=True,
            warn=False,
            samples_now=len(now),
            message=f"This check scored the {evaluation.test_size:,} rows of its file; the test split holds "
            f"{len(now):,} test samples in its languages now. It compares only with evaluations of the same rows.",
        )
    return TestSplitCheck(
        stale=True,
        warn=True,
        samples_now=len(now),
        message=f"The test split has changed since this evaluation ({len(now):,} test samples in its languages now, "
        f"{evaluation.test_size:,} then): evaluate it again to score the current test split.",
    )
