"""Curation at the front door: running the checks, the overview of what they found, reviewing and changing samples
(one at a time or many at once, with undo), duplicate groups, and choosing the near-duplicate threshold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.curation import duplicate_flags, duplicate_groups, flag_job, overview, sample_actions, threshold_help
from core.curation.duplicate_groups import REPEAT_KINDS as REPEAT_KINDS
from core.curation.duplicate_groups import DuplicateGroup as DuplicateGroup
from core.curation.duplicate_groups import GroupMember as GroupMember
from core.curation.duplicate_groups import GroupPage as GroupPage
from core.curation.overview import CheckSummary as CheckSummary
from core.curation.overview import CountMatrix as CountMatrix
from core.curation.overview import FlagTally as FlagTally
from core.curation.overview import time_ago as time_ago
from core.curation.sample_actions import BulkResult as BulkResult
from core.curation.sample_actions import Decision as Decision
from core.curation.sample_actions import UndoneDecision as UndoneDecision
from core.curation.sample_actions import UndoResult as UndoResult
from core.curation.threshold_help import NeighbourPair as NeighbourPair
from core.curation.threshold_help import SimilarityProfile as SimilarityProfile
from core.curation.threshold_help import ThresholdChoice as ThresholdChoice
from core.embeddings.service import cached_vectors
from core.front.actor import Actor
from core.front.permissions import allowed, needs, reads
from core.jobs.queue import Job
from core.store.projects import Project
from core.store.sample_changes import BulkAction as BulkAction
from core.store.samples import Sample, SampleFilter

__all__ = [
    "REPEAT_KINDS",
    "BulkAction",
    "BulkResult",
    "CheckFindings",
    "CheckSummary",
    "CountMatrix",
    "Decision",
    "DiversityRow",
    "DuplicateGroup",
    "FlagTally",
    "GroupMember",
    "GroupPage",
    "NeighbourPair",
    "SimilarityProfile",
    "ThresholdChoice",
    "UndoResult",
    "UndoneDecision",
    "accepted_matrix",
    "bulk_change",
    "change_sample",
    "check_findings",
    "check_summary",
    "decide",
    "duplicate_groups_page",
    "flag_counts",
    "keep_one_per_group",
    "last_bulk_action",
    "launch_checks",
    "save_threshold_choice",
    "similarity_profile",
    "threshold_choice",
    "time_ago",
    "undo_decision",
    "undo_last_bulk",
]


# Checks and what they found


@needs("checks.run")
def launch_checks(
    actor: Actor, project: Project, *, threshold: float | None, scope: str | None, background: bool = True
) -> Job:
    """Starts the checks (duplicates, near-duplicates, language, garbage...) as a `flag` job (queued only, for
    `run_here`, when not in the background)."""
    return flag_job.launch_checks(actor.store, project.id, threshold=threshold, scope=scope, background=background)


@reads
def check_summary(actor: Actor, project: Project) -> CheckSummary | None:
    """What the last finished check found, per kind of flag; None before the first."""
    return overview.check_summary(actor.store, project.id)


@dataclass(frozen=True)
class DiversityRow:
    """How varied the synthetic training samples of one (language, label) cell are, with the verdict."""

    language: str
    label: str
    n: int
    mean_similarity: float | None  # None for fewer than 2 samples
    distinct_2: float | None  # None when the texts have no bigram
    groups: int  # near-duplicate groups at the threshold
    collapse: str  # the verdict: one of core.curation.diversity_stats.COLLAPSE_LEVELS
    reasons: tuple[str, ...]  # plain sentences, empty when nothing stands out


@dataclass(frozen=True)
class CheckFindings:
    """What the project's latest finished check (`flag` job) found beyond its flags."""

    job_id: int
    finished_at: datetime | None  # UTC
    language_note: str | None  # why some of the project's languages could not be identified, when so
    diversity: list[DiversityRow]  # worst cell first; empty when no synthetic training sample was checked


@reads
def check_findings(actor: Actor, project: Project) -> CheckFindings | None:
    """The latest finished check's findings; None before the first."""
    check = overview.last_check(actor.store, project.id)
    if check is None:
        return None
    language_id = check.result.get("language_id") or {}
    diversity = [
        DiversityRow(
            language=row["language"],
            label=row["label"],
            n=row["n"],
            mean_similarity=row["mean_similarity"],
            distinct_2=row["distinct_2"],
            groups=row["groups"],
            collapse=row["collapse"],
            reasons=tuple(row["reasons"]),
        )
        for row in check.result.get("diversity") or []
    ]
    return CheckFindings(
        job_id=check.job_id,
        finished_at=check.finished_at,
        language_note=language_id["message"] if language_id.get("unsupported") else None,
        diversity=diversity,
    )


@reads
def accepted_matrix(actor: Actor, project: Project, split: str = "train") -> CountMatrix:
    """Accepted samples per language and label."""
    return overview.accepted_matrix(actor.store, project, split)


@reads
def flag_counts(actor: Actor, project: Project, statuses: tuple[str, ...] | None = None) -> dict[str, int]:
    """Samples per kind of flag (of samples with these statuses; of those not rejected when None)."""
    return overview.flag_counts(actor.store, project.id, statuses=statuses)


# Changing samples


@needs("samples.review")
def decide(
    actor: Actor, sample_id: int, action: str, *, version: int, label: str | None = None, text: str | None = None
) -> Decision:
    """Accept, reject, relabel or edit one sample (EditConflict when it changed since `version` was read)."""
    return sample_actions.decide(actor.store, sample_id, action, version=version, label=label, text=text)


@needs("samples.review")
def undo_decision(actor: Actor, action_id: int) -> UndoneDecision:
    """Undo one decision; in team mode an annotator only their own, a lead or an owner anyone's."""
    anyones = actor.team and allowed(actor, "samples.undo_others")
    return sample_actions.undo_decision(actor.store, action_id, team=actor.team, anyones=anyones)


@needs("samples.review")
def change_sample(
    actor: Actor, sample_id: int, action: str, *, version: int, label: str | None = None, text: str | None = None
) -> Sample:
    return sample_actions.change_sample(actor.store, sample_id, action, version=version, label=label, text=text)


@needs("samples.bulk")
def bulk_change(
    actor: Actor,
    project: Project,
    action: str,
    *,
    ids: list[int] | None = None,
    versions: dict[int, int] | None = None,
    flt: SampleFilter | None = None,
    label: str | None = None,
    labels_by_id: dict[int, str] | None = None,
) -> BulkResult:
    """One change to many samples (chosen by ids or by a filter), undone together."""
    return sample_actions.bulk_change(
        actor.store, project.id, action, ids=ids, versions=versions, flt=flt, label=label, labels_by_id=labels_by_id
    )


@reads
def last_bulk_action(actor: Actor, project: Project) -> BulkAction | None:
    return sample_actions.last_bulk_action(actor.store, project.id)


@needs("samples.bulk")
def undo_last_bulk(actor: Actor, project: Project) -> UndoResult:
    return sample_actions.undo_last_bulk(actor.store, project.id)


# Duplicate groups


@reads
def duplicate_groups_page(actor: Actor, project: Project, page: int = 1, page_size: int = 10) -> GroupPage:
    """Groups of exact and near duplicates, a page at a time."""
    return duplicate_groups.duplicate_groups(actor.store, project.id, page=page, page_size=page_size)


@needs("samples.bulk")
def keep_one_per_group(actor: Actor, project: Project) -> BulkResult:
    """Rejects all but one sample of every duplicate group (one bulk change, undone together)."""
    return duplicate_groups.keep_one_per_group(actor.store, project.id)


# The near-duplicate threshold


@reads
def threshold_choice(actor: Actor, project: Project) -> ThresholdChoice:
    """The threshold (and scope) the next check uses for the project's encoder."""
    return threshold_help.threshold_choice(actor.store, project.id, project.encoder)


@needs("checks.settings")
def save_threshold_choice(actor: Actor, project: Project, threshold: float, scope: str) -> None:
    threshold_help.save_threshold_choice(actor.store, project.id, project.encoder, threshold, scope)


@reads
def similarity_profile(actor: Actor, project: Project, scope: str) -> SimilarityProfile | None:
    """How similar each sample is to its nearest neighbour (in its cell, or in the project); None until the
    samples are embedded (the check job embeds them). The last check's, when it measured it with the project's
    encoder (a check keeps both scopes': reading a million vectors again takes minutes); else measured now."""
    check = overview.last_check(actor.store, project.id)
    if check is not None and check.result.get("encoder") == project.encoder:
        record = (check.result.get("threshold_profiles") or {}).get(scope)
        if record is not None and record["total"] >= 2:
            return threshold_help.stored_profile(actor.store, project.id, scope, record)
    items = duplicate_flags.load_items(actor.store, project.id)
    vectors = cached_vectors([i.text for i in items], project.encoder) if len(items) >= 2 else None
    if vectors is None:
        return None
    return threshold_help.similarity_profile(items, vectors, scope)
