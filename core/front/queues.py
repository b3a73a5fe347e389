"""Review queues in the order of a flag's score at the front door: "most doubtful first" (label doubt), "least sure
first" (the model's doubt, active learning), and what the Review tab needs to start the ranking: the finished runs
and the languages with unlabeled human training texts. Starting it is `core.front.training.rank_by_doubt`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from core.front.actor import Actor
from core.front.permissions import reads
from core.store import ranked_queue
from core.store.projects import Project
from core.store.ranked_queue import SCORED_KINDS as SCORED_KINDS
from core.store.ranked_queue import RankedStep as RankedStep
from core.store.ranked_queue import RankKey as RankKey
from core.store.ranked_queue import ranked_kind as ranked_kind
from core.store.samples import Flag as Flag
from core.store.samples import Sample, SampleFilter, count_by_language_label_status
from core.store.schema import SAMPLE_STATUSES
from core.training import run_store
from core.training.uncertainty_job import UNCERTAIN_KIND as UNCERTAIN_KIND

__all__ = [
    "ARRIVAL",
    "ORDER_WORDS",
    "SCORED_KINDS",
    "UNCERTAIN_KIND",
    "Flag",
    "RankKey",
    "RankedStep",
    "RankingChoices",
    "iter_ranked",
    "ranked_kind",
    "ranked_step",
    "ranking_choices",
]

ARRIVAL = "In order of arrival"
ORDER_WORDS = {"label_doubt": "Most doubtful first", "model_uncertain": "Least sure first"}

# the texts the ranking labels (core/training/uncertainty_job.py): people's TRAIN texts without a label, not rejected
UNLABELED_HUMAN_TRAIN = SampleFilter(
    labels=("",),
    origins=("human",),
    splits=("train",),
    statuses=tuple(s for s in SAMPLE_STATUSES if s != "rejected"),
)


@dataclass(frozen=True)
class RankingChoices:
    runs: list[str]  # the project's finished runs, newest first: their models can rank
    languages: dict[str, int]  # language code: unlabeled human TRAIN texts (only languages that have some)


@reads
def ranked_step(actor: Actor, project: Project, flt: SampleFilter, start: RankKey | None) -> RankedStep:
    """The first sample at the place `start` or after it in the queue ordered by its flag's score, highest first
    (its first one when None, or when none is left), its position, the queue's length and the place before it. `flt`
    names one flag kind of SCORED_KINDS."""
    return ranked_queue.ranked_step(actor.store, project.id, flt, start)


@reads
def iter_ranked(actor: Actor, project: Project, flt: SampleFilter) -> Iterator[Sample]:
    """Every sample of the queue in the order of its flags' scores, highest first (`flt` names one scored kind)."""
    return ranked_queue.iter_ranked(actor.store, project.id, flt)


@reads
def ranking_choices(actor: Actor, project: Project) -> RankingChoices:
    """What ranking by the model's doubt can use: the finished runs, and the languages with texts to rank."""
    runs = [run.name for run in run_store.list_runs(actor.store, project.id) if run.status == "done"]
    languages: dict[str, int] = {}
    for row in count_by_language_label_status(actor.store, project.id, UNLABELED_HUMAN_TRAIN):
        languages[row.language] = languages.get(row.language, 0) + row.count
    return RankingChoices(runs, {code: n for code, n in sorted(languages.items()) if n})
