"""The check (`flag` job): it reports progress all along a big check, not once per stage, and what it found is
kept for the Curate page after the job ended (core/curation/overview.check_summary)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.curation.flag_job import run_flag
from core.curation.overview import check_summary, last_check, time_ago
from core.curation.sample_actions import change_sample
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.context import JobContext
from core.jobs.queue import submit_job
from core.store import Store, open_store
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import page_samples

WORDS = ["mvua", "jua", "bei", "mahindi", "soko", "shamba", "kesho", "leo", "mbegu", "maji", "nyanya", "wadudu"]


def _project(store: Store, encoder: Path, rows: list[tuple[str, str, str]]) -> Project:
    spec = parse_spec(
        name="Checks",
        labels=[{"name": "weather"}, {"name": "prices"}],
        languages=[{"code": "sw"}, {"code": "en"}],
        encoder=str(encoder),
    )
    project = create_project(store, spec)
    frame = pd.DataFrame(rows, columns=["text", "label", "language"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "checks.csv"))
    return project


class RecordingContext(JobContext):
    """A job context that also keeps every progress report it was given (the real one writes them to the job row
    at most every 0.25 s, which a test cannot count without timing)."""

    reports: list[tuple[float, str]]

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        self.reports.append((fraction, message))
        super().progress(fraction, message, force=force)


@pytest.mark.slow
def test_a_check_of_thousands_of_samples_reports_progress_all_along(studio_home: Path, tiny_encoder: Path) -> None:
    """Issue 14.6: the check sat at 59% for 100 s, the embedding reporting once per 512 texts and the language
    identification not at all."""
    n = 3000
    rows = [
        (f"{WORDS[i % 12]} {WORDS[(i // 12) % 12]} {WORDS[(i // 144) % 12]} namba {i}", "weather", "sw")
        for i in range(n)
    ]
    store = open_store()
    project = _project(store, tiny_encoder, rows)
    job = submit_job(store, "flag", {}, project_id=project.id)
    ctx = RecordingContext(store, job.id, {}, project.id, logging.getLogger("test.flag"))
    ctx.reports = []
    result = run_flag(ctx)
    assert result["samples"] == n
    fractions = [f for f, _ in ctx.reports]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] <= 1
    languages = [m for _, m in ctx.reports if m.startswith("Identifying languages")]
    embedding = [m for _, m in ctx.reports if m.startswith("Embedding 3,000 new texts")]
    # a report at least every 250 samples identified and every 64 texts embedded
    assert len(languages) >= n // 250, languages
    assert len(embedding) >= n // 64, embedding
    assert "Identifying languages (2,750 of 3,000 samples)" in languages
    assert len(ctx.reports) >= 60


def test_the_last_check_is_summed_up_after_its_job_ended(studio_home: Path, tiny_encoder: Path) -> None:
    rows = [
        ("Will it rain tomorrow?", "weather", "en"),
        ("Will it rain tomorrow ?", "weather", "en"),
        ("Will it rain tomorrow  ?", "weather", "en"),
        ("Bei ya mahindi ni ngapi leo sokoni?", "prices", "sw"),
    ]
    store = open_store()
    project = _project(store, tiny_encoder, rows)
    assert check_summary(store, project.id) is None  # never checked
    assert main(["flag", "--project", "Checks", "--threshold", "0.999"]) == 0
    summary = check_summary(store, project.id)
    assert summary is not None and summary.samples == 4 and summary.finished_at is not None
    tallies = {t.kind: (t.found, t.flagged, t.to_review) for t in summary.flags}
    assert tallies == {"exact_duplicate": (1, 1, 1), "near_duplicate": (1, 1, 1)}  # kinds with nothing left out
    assert summary.found == 2
    samples = page_samples(store, project.id).samples
    exact = next(s for s in samples if any(f.kind == "exact_duplicate" for f in s.flags))
    near = next(s for s in samples if any(f.kind == "near_duplicate" for f in s.flags))
    change_sample(store, exact.id, "accept", version=exact.version)
    change_sample(store, near.id, "reject", version=near.version)
    tallies = {t.kind: (t.found, t.flagged, t.to_review) for t in check_summary(store, project.id).flags}
    assert tallies == {"exact_duplicate": (1, 1, 0), "near_duplicate": (1, 1, 0)}  # what the check found stays


def test_the_check_keeps_the_nearest_neighbours_the_threshold_tab_shows(studio_home: Path, tiny_encoder: Path) -> None:
    """At a million samples the Threshold tab cannot read every vector again: the check keeps its sample of nearest
    neighbours per scope, and the tab shows what measuring them now would show."""
    from core.curation.duplicate_flags import load_items
    from core.curation.threshold_help import similarity_profile as measured
    from core.embeddings.service import cached_vectors
    from core.front.actor import Actor
    from core.front.curation import similarity_profile

    rows = [
        (f"{WORDS[i % 12]} {WORDS[(i * 5) % 12]} {WORDS[(i * 7) % 11]} {i % 9}", "weather", "sw") for i in range(60)
    ]
    store = open_store()
    project = _project(store, tiny_encoder, rows)
    actor = Actor(store, "tester")
    assert main(["flag", "--project", "Checks"]) == 0
    check = last_check(store, project.id)
    assert check is not None and set(check.result["threshold_profiles"]) == {"cell", "project"}
    items = load_items(store, project.id)
    vectors = cached_vectors([i.text for i in items], str(tiny_encoder))
    assert vectors is not None
    for scope in ("cell", "project"):
        kept = similarity_profile(actor, project, scope)
        assert kept is not None and kept.sampled > 10
        assert kept == measured(items, vectors, scope)


def test_time_ago_in_words() -> None:
    now = datetime(2025, 11, 25, 14, 0, 0)
    assert time_ago(now - timedelta(seconds=20), now) == "just now"
    assert time_ago(now - timedelta(seconds=61), now) == "1 minute ago"
    assert time_ago(now - timedelta(minutes=59), now) == "59 minutes ago"
    assert time_ago(now - timedelta(hours=2, minutes=5), now) == "2 hours ago"
    assert time_ago(now - timedelta(days=1), now) == "1 day ago"


def test_the_training_vectors_are_moved_to_the_front_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from core.curation import flag_job

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1000, 4)).astype(np.float32)
    positions = sorted(rng.choice(1000, size=700, replace=False).tolist())
    expected = vectors[positions].copy()
    monkeypatch.setattr(flag_job, "COMPACT_SLICE", 64)  # many slices
    moved = flag_job._compacted(vectors, positions)
    assert np.array_equal(moved, expected) and np.shares_memory(moved, vectors)
    frozen = rng.normal(size=(10, 4)).astype(np.float32)
    frozen.flags.writeable = False
    assert np.array_equal(flag_job._compacted(frozen, [1, 5]), frozen[[1, 5]])
