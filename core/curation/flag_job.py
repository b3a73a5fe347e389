"""The `flag` job: every curation check over a project, replacing the flags of the kinds it computes.

Checks: exact and near repeats, label conflicts, test contamination (embeddings), the wrong language (a detector
that ships its model), and quality (length in subword tokens, label names in the text, empty after cleaning, not
really text). It also measures the diversity of each label x language cell; the table goes into the job's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.curation.cross_lingual import find_cross_lingual_contamination
from core.curation.duplicate_flags import (
    DUPLICATE_KINDS,
    Findings,
    Item,
    find_exact_and_conflicts,
    find_near_duplicates,
    find_test_contamination,
    load_items,
    replace_flags,
)
from core.curation.label_doubt import find_label_doubt_flags
from core.curation.threshold_help import SCOPES, profile_record, similarity_profile, threshold_choice
from core.errors import InvalidInput, StudioError
from core.jobs.context import JobContext
from core.jobs.lifecycle import launch
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store
from core.store.projects import get_project

LANGUAGE_KINDS = ("wrong_language",)
DOUBT_KINDS = ("label_doubt",)


def launch_checks(
    store: Store, project_id: int, *, threshold: float | None, scope: str | None, background: bool = True
) -> Job:
    """Launch the `flag` job: every check over the project (heavy: it embeds every sample)."""
    params = {"threshold": threshold, "scope": scope}
    return launch(store, "flag", params, project_id=project_id, heavy=True, background=background)


@job_kind("flag", heavy=True, title="Checking samples")
def run_flag(ctx: JobContext) -> dict[str, Any]:
    from core.curation.diversity_stats import diversity_table
    from core.curation.quality_flags import QUALITY_KINDS, quality_flags
    from core.curation.subword_tokens import forget_tokenizers, token_rows_apart
    from core.embeddings.service import embed

    if ctx.project_id is None:
        raise StudioError("The flag job needs a project.")
    project = get_project(ctx.store, ctx.project_id)
    remembered = threshold_choice(ctx.store, project.id, project.encoder)
    threshold = float(ctx.params.get("threshold") or remembered.threshold)
    scope = str(ctx.params.get("scope") or remembered.scope)
    if not 0 < threshold <= 1 or scope not in ("cell", "project"):
        raise InvalidInput("The threshold must be between 0 and 1, and the scope cell or project.")
    memory = MemoryProbe(ctx.log)
    items = load_items(ctx.store, project.id)
    memory.after("reading the samples")
    findings = Findings()
    find_exact_and_conflicts(items, scope, findings)
    memory.after("exact duplicates")
    language_summary: dict[str, Any] = {}
    diversity: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    cross_lingual: dict[str, Any] = {}
    if items:
        texts = [i.text for i in items]
        ctx.progress(0.02, f"Counting subword tokens of {len(items):,} samples")

        def tokens_done(done: int, total: int) -> None:
            ctx.progress(0.02 + 0.03 * done / max(total, 1), f"Counting subword tokens ({done:,} of {total:,} samples)")

        # packed: lists of a million texts' ids would take gigabytes; counted in worker processes for a big project
        ids = token_rows_apart(texts, project.encoder, tokens_done)
        forget_tokenizers()  # hundreds of MB for a big vocabulary, not needed again by the job
        memory.after("subword tokens")
        ctx.progress(0.05, "Looking for label names in the texts, and texts too short or too long")
        findings.flags.extend(quality_flags(items, project.labels, ids.lengths))
        memory.after("quality flags")

        def languages_done(done: int, total: int) -> None:
            ctx.progress(0.06 + 0.04 * done / max(total, 1), f"Identifying languages ({done:,} of {total:,} samples)")

        language_summary = _language_flags(items, project.language_codes, findings, languages_done)
        memory.after("language identification")
        ctx.progress(0.1, f"Embedding {len(items):,} samples with {project.encoder}")
        vectors = embed(texts, project.encoder, progress=lambda f, m: ctx.progress(0.1 + 0.8 * f, m))
        memory.after("vectors")
        ctx.progress(0.9, "Grouping near-duplicates")
        find_near_duplicates(items, vectors, threshold, scope, findings)
        memory.after("near duplicates")
        find_test_contamination(items, vectors, threshold, findings)
        memory.after("test contamination")
        ctx.progress(0.91, "Looking for translations of test samples among the synthetic ones")
        cross_lingual = asdict(find_cross_lingual_contamination(items, vectors, findings))
        memory.after("cross-lingual contamination")
        ctx.progress(0.92, "Checking each training label against the other samples")
        find_label_doubt_flags(items, vectors, findings)
        memory.after("label doubt")
        ctx.progress(0.93, "Finding the nearest neighbours of a sample of the texts, for the threshold help")
        profiles = {s: profile_record(similarity_profile(items, vectors, s)) for s in SCOPES}
        memory.after("threshold profiles")
        ctx.progress(0.95, "Measuring diversity per label and language")
        training = [p for p, i in enumerate(items) if i.split == "train" and i.origin == "synthetic"]
        train_vectors = _compacted(vectors, training)  # the last use of `vectors`: no second copy of a million rows
        rows = diversity_table([items[p] for p in training], train_vectors, ids.subset(training), threshold=threshold)
        diversity = [asdict(row) for row in rows]
        memory.after("diversity")
    kinds = DUPLICATE_KINDS + LANGUAGE_KINDS + QUALITY_KINDS + DOUBT_KINDS
    replace_flags(ctx.store, project.id, kinds, findings)
    memory.after("writing the flags")
    counts = {kind: findings.count(kind) for kind in kinds}
    found = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in counts.items() if n) or "nothing to flag"
    return {
        "samples": len(items),
        "threshold": threshold,
        "scope": scope,
        "encoder": project.encoder,
        "flags": counts,
        "language_id": language_summary,
        "diversity": diversity,
        "threshold_profiles": profiles,  # the Threshold tab's nearest neighbours, per scope
        "cross_lingual": cross_lingual,
        "message": f"{len(items):,} samples checked: {found}",
    }


def _compacted(vectors: np.ndarray, positions: list[int]) -> np.ndarray:
    """`vectors[positions]` (positions increasing) moved to the front of `vectors` itself, a slice at a time, and
    that front returned: no copy of them all at once. `vectors` is not to be read after."""
    if not vectors.flags.writeable:  # read-only (mapped from a file): a copy
        return vectors[positions]
    done = 0
    for start in range(0, len(positions), COMPACT_SLICE):
        part = positions[start : start + COMPACT_SLICE]
        vectors[done : done + len(part)] = vectors[part]  # the rows read lie at or after the rows written
        done += len(part)
    return vectors[:done]


COMPACT_SLICE = 65_536


_STATUS_FIELDS = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}


class MemoryProbe:
    """One line in the job's log after each step: the process's resident memory then (anonymous: its own; file:
    pages of mapped files, such as the vector cache's) and its peak so far, from /proc/self/status (Linux; nothing
    elsewhere). A million samples must stay under 4 GB: this says which step takes what."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    @classmethod
    def sample(cls) -> dict[str, float]:
        """MB per field (rss, anon, file, peak); empty where /proc is not there."""
        try:
            lines = Path("/proc/self/status").read_text().splitlines()
        except OSError:
            return {}
        found = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name in _STATUS_FIELDS:
                found[_STATUS_FIELDS[name]] = int(value.split()[0]) / 1024
        return found

    def after(self, step: str) -> None:
        now = self.sample()
        if now:
            self.log(
                f"memory after {step}: {now.get('rss', 0):,.0f} MB resident ({now.get('anon', 0):,.0f} MB own, "
                f"{now.get('file', 0):,.0f} MB of mapped files), peak so far {now.get('peak', 0):,.0f} MB"
            )


def _language_flags(
    items: list[Item], languages: list[str], findings: Findings, progress: Callable[[int, int], None]
) -> dict[str, Any]:
    """Wrong-language flags; the summary says what was checked and which languages the detectors cannot judge."""
    from core.curation.language_id import check_languages

    report = check_languages(items, languages, progress=progress)
    findings.flags.extend(report.flags)
    return {**report.summary(), "message": report.message()}
