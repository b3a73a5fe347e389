"""Review work at the front door (team mode): distributing samples to annotators with an overlap, re-balancing when
annotators join or leave, an annotator's queue and judgements (with undo), the adjudication queue, gold checks,
agreement between annotators, the project's review rules and the languages each account can judge.

An annotator's reads carry nothing of the others' judgements of a sample before they give theirs: their queue holds
their samples only, and `sample_judgements` shows a sample's judgements to those who lead the review, or to an
annotator who has judged it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.accounts import languages as account_languages
from core.accounts.languages import parse_languages as parse_languages
from core.errors import InvalidInput
from core.front.actor import Actor
from core.front.permissions import allowed, needs, reads, require
from core.review import distribution, gold, queue, resolution
from core.review.agreement import AgreementReport as AgreementReport
from core.review.agreement import AnnotatorFigures as AnnotatorFigures
from core.review.agreement import Figure as Figure
from core.review.agreement import GroupAgreement as GroupAgreement
from core.review.agreement import PairKappa as PairKappa
from core.review.agreement import agreement_report
from core.review.distribution import MAX_OVERLAP as MAX_OVERLAP
from core.review.distribution import AssignResult as AssignResult
from core.review.distribution import RebalanceResult as RebalanceResult
from core.review.gold import GoldAccuracy as GoldAccuracy
from core.review.queue import QueueEntry as QueueEntry
from core.store import assignments, judgements, review_settings
from core.store.assignments import ReviewProgress as ReviewProgress
from core.store.judgements import DisputedSample as DisputedSample
from core.store.judgements import Judgement as Judgement
from core.store.projects import Project
from core.store.review_settings import ReviewSettings as ReviewSettings
from core.store.samples import SampleFilter
from core.store.schema import REVIEW_RULES as REVIEW_RULES

__all__ = [
    "MAX_OVERLAP",
    "REVIEW_RULES",
    "AdjudicationResult",
    "AgreementReport",
    "AnnotatorFigures",
    "AssignResult",
    "DisputedSample",
    "Figure",
    "GoldAccuracy",
    "GoldResult",
    "GroupAgreement",
    "Judged",
    "Judgement",
    "JudgementView",
    "MyQueue",
    "PairKappa",
    "QueueEntry",
    "RebalanceResult",
    "ReviewProgress",
    "ReviewSettings",
    "UndoneJudgement",
    "account_languages_of",
    "add_annotators",
    "adjudicate",
    "adjudication_queue",
    "agreement",
    "assign",
    "get_review_settings",
    "gold_accuracy",
    "judge",
    "mark_gold",
    "my_queue",
    "next_sample",
    "parse_languages",
    "remove_annotators",
    "review_progress",
    "sample_judgements",
    "set_account_languages",
    "set_review_settings",
    "undo_last_judgement",
    "unmark_gold",
]


# --- the lead: rules, distribution, re-balancing, gold ---------------------------------------------------------


@reads
def get_review_settings(actor: Actor, project: Project) -> ReviewSettings:
    return review_settings.get_settings(actor.store, project.id)


@needs("review.settings")
def set_review_settings(
    actor: Actor, project: Project, *, overlap: int | None = None, rule: str | None = None, gold: bool | None = None
) -> ReviewSettings:
    """Change some of the project's review rules (the rest stay)."""
    now = review_settings.get_settings(actor.store, project.id)
    wanted = ReviewSettings(
        overlap=now.overlap if overlap is None else overlap,
        rule=now.rule if rule is None else rule,
        gold=now.gold if gold is None else gold,
    )
    if not 1 <= wanted.overlap <= MAX_OVERLAP:
        raise InvalidInput(f"The overlap must be between 1 and {MAX_OVERLAP} annotators per sample.")
    if wanted.rule not in REVIEW_RULES:
        raise InvalidInput(f"Unknown rule '{wanted.rule}': use unanimous or majority.")
    return review_settings.save_settings(actor.store, project.id, wanted)


@needs("review.assign")
def assign(
    actor: Actor,
    project: Project,
    annotators: Sequence[str],
    *,
    overlap: int | None = None,
    flt: SampleFilter | None = None,
) -> AssignResult:
    """Hand the samples `flt` chooses to these annotators, each sample to `overlap` of them (default: the project's)
    who can judge its language, the least loaded first. An owner's annotators join the project as members; a lead's
    must be members already."""
    join = actor.team and allowed(actor, "accounts.manage")
    return distribution.assign(actor.store, project.id, annotators, overlap=overlap, flt=flt, join=join)


@needs("review.assign")
def add_annotators(actor: Actor, project: Project, annotators: Sequence[str]) -> RebalanceResult:
    """Annotators join the review: they take over a fair share of what is not yet judged."""
    join = actor.team and allowed(actor, "accounts.manage")
    return distribution.add_annotators(actor.store, project.id, annotators, join=join)


@needs("review.assign")
def remove_annotators(actor: Actor, project: Project, annotators: Sequence[str]) -> RebalanceResult:
    """Annotators leave the review: what they have not judged yet goes to the others (their judgements stay)."""
    return distribution.remove_annotators(actor.store, project.id, annotators)


@dataclass(frozen=True)
class GoldResult:
    changed: int
    message: str


@needs("review.gold")
def mark_gold(actor: Actor, project: Project, ids: list[int]) -> GoldResult:
    """Mark labelled human samples of the project as gold (their label is the right answer)."""
    marks = gold.mark(actor.store, project.id, ids)
    return GoldResult(marks.marked, gold.marks_message(marks))


@needs("review.gold")
def unmark_gold(actor: Actor, project: Project, ids: list[int]) -> GoldResult:
    count = gold.unmark(actor.store, project.id, ids)
    return GoldResult(count, f"{count:,} sample{'' if count == 1 else 's'} are gold no more.")


# --- the annotator: queue, judging, undo -------------------------------------------------------------------------


@dataclass(frozen=True)
class MyQueue:
    entries: list[QueueEntry]
    open: int  # every open assignment of the actor in the project
    done: int


@reads
def my_queue(actor: Actor, project: Project, limit: int | None = None) -> MyQueue:
    """The actor's open assignments in queue order (the first `limit`), with how many are open and done."""
    counts = assignments.queue_counts(actor.store, project.id, actor.user)
    entries = queue.queue(actor.store, project.id, actor.user, limit)
    return MyQueue(entries, counts["open"], counts["done"])


@reads
def next_sample(actor: Actor, project: Project) -> QueueEntry | None:
    """The first sample of the actor's queue; None when it is empty."""
    return queue.next_sample(actor.store, project.id, actor.user)


@dataclass(frozen=True)
class Judged:
    """A judgement saved: nothing of what the others said, nor whether the sample was a gold check."""

    sample_id: int
    decision: str
    label: str | None  # the label it gives; None: rejected

    @property
    def message(self) -> str:
        return f"Saved your judgement of sample #{self.sample_id}."


@needs("review.judge")
def judge(
    actor: Actor,
    project: Project,
    sample_id: int,
    decision: str,
    *,
    label: str | None = None,
    text: str | None = None,
    seconds: float | None = None,
) -> Judged:
    """The actor's judgement of a sample of their queue: accept, reject, label (with `label`) or edit (with `text`);
    `seconds`: how long it took, when the page measured it."""
    done = resolution.judge(actor.store, project.id, sample_id, decision, label=label, text=text, seconds=seconds)
    return Judged(done.judgement.sample_id, done.judgement.decision, done.judgement.label)


@dataclass(frozen=True)
class UndoneJudgement:
    sample_id: int
    decision: str
    message: str


@needs("review.judge")
def undo_last_judgement(actor: Actor, project: Project) -> UndoneJudgement:
    """Take back the actor's last judgement in the project: the sample is back in their queue."""
    undone = resolution.undo_last(actor.store, project.id)
    sample_id = undone.judgement.sample_id
    return UndoneJudgement(sample_id, undone.judgement.decision, f"Undone: your judgement of sample #{sample_id}.")


# --- reading the results -----------------------------------------------------------------------------------------


def _leads_review(actor: Actor) -> bool:
    return allowed(actor, "review.results")


@dataclass(frozen=True)
class JudgementView:
    """One judgement as the pages and the CLI show it (who, what, how long, when)."""

    sample_id: int
    annotator: str
    decision: str
    label: str | None
    text: str | None
    seconds: float | None
    at: datetime


@reads
def sample_judgements(actor: Actor, sample_id: int) -> list[JudgementView]:
    """A sample's judgements: all of them for leads and owners, and for an annotator who has judged it; none for an
    annotator who has not (nobody sees the others' judgements before giving theirs)."""
    found = queue.judgements_for(actor.store, sample_id, actor.user, sees_all=_leads_review(actor))
    return [JudgementView(j.sample_id, j.annotator, j.decision, j.label, j.text, j.seconds, j.at) for j in found]


@reads
def review_progress(actor: Actor, project: Project) -> ReviewProgress:
    """Samples per review state, and each annotator's open and done assignments."""
    return assignments.review_progress(actor.store, project.id)


@reads
def adjudication_queue(actor: Actor, project: Project, limit: int | None = None) -> list[DisputedSample]:
    """The samples the rule gave no answer for, each with every judgement side by side (leads and owners)."""
    require(actor, "review.results")
    return judgements.adjudication_queue(actor.store, project.id, limit)


@dataclass(frozen=True)
class AdjudicationResult:
    sample_id: int
    status: str
    label: str | None
    overrode: list[Judgement]

    @property
    def message(self) -> str:
        outcome = resolution.describe((self.status, self.label))
        n = len(self.overrode)
        return f"Sample #{self.sample_id} is {outcome}; {n} judgement{'' if n == 1 else 's'} overridden."


@needs("review.adjudicate")
def adjudicate(
    actor: Actor, project: Project, sample_id: int, decision: str, *, label: str | None = None
) -> AdjudicationResult:
    """Decide a sample of the adjudication queue: accept (its label), reject, or label (with `label`)."""
    done = resolution.adjudicate(actor.store, project.id, sample_id, decision, label)
    status, given = done.outcome
    return AdjudicationResult(done.sample_id, status, given, done.overrode)


@reads
def agreement(actor: Actor, project: Project, *, resamples: int = 500) -> AgreementReport:
    """Agreement between the project's annotators (leads and owners): kappa per pair, alpha over all, per language
    and per label, with intervals; each annotator's agreement with the decisions, throughput and gold accuracy."""
    require(actor, "review.results")
    return agreement_report(actor.store, project.id, resamples=resamples)


@reads
def gold_accuracy(actor: Actor, project: Project) -> list[GoldAccuracy]:
    require(actor, "review.results")
    return gold.gold_accuracy(actor.store, project.id)


# --- accounts' languages -----------------------------------------------------------------------------------------


@needs("accounts.manage")
def set_account_languages(actor: Actor, username: str, languages: Sequence[str]) -> list[str]:
    """The languages the account can judge (ISO 639 codes), replacing those it had."""
    return account_languages.set_languages(actor.store, username, languages)


@reads
def account_languages_of(actor: Actor) -> dict[str, list[str]]:
    """{username: the languages it can judge} of every account."""
    return account_languages.languages_of(actor.store)
