"""Handing out samples for review: each chosen sample to k annotators (k = 1..5) who can judge its language, each
annotator getting a similar share of what they can judge (the least loaded first, ties broken at random so that
every pair of annotators meets), gold checks mixed in when the project has them on; and re-balancing what is not
yet judged when annotators join or leave. Assignments are fixed when made: only these two move them."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from core.accounts import members
from core.errors import InvalidInput
from core.store import account_languages, accounts, assignments, review_settings
from core.store.assignments import (
    DistributionPlan,
    DistributionState,
    NewAssignment,
    OpenAssignment,
    OpenWork,
    RebalancePlan,
)
from core.store.database import Store
from core.store.samples import SampleFilter

MAX_OVERLAP = 5
GOLD_SHARE = 0.1  # at most one gold check per ten samples handed out to an annotator (at least one)
JUDGING_ROLES = ("owner", "lead", "annotator")
MEMBERS_ONLY = ("lead", "annotator")  # these see only the projects they are members of


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class AssignResult:
    overlap: int
    samples: int  # samples that got at least one new annotator
    assignments: int  # new assignments, gold checks not counted
    per_annotator: dict[str, int]  # annotator -> new assignments (gold checks not counted)
    already: int  # chosen samples that had their k annotators already
    closed: int  # chosen samples whose review is over: left alone
    short: dict[str, int] = field(default_factory=dict)  # language -> samples with fewer than k annotators for it
    gold: int = 0  # gold checks mixed into the queues

    @property
    def message(self) -> str:
        shares = ", ".join(f"{name} {n:,}" for name, n in self.per_annotator.items()) or "nobody"
        text = (
            f"Handed out {_plural(self.samples, 'sample')} to be judged {self.overlap} time"
            f"{'' if self.overlap == 1 else 's'} each: {shares}."
        )
        if self.already:
            text += f" {_plural(self.already, 'sample')} had enough annotators already."
        if self.closed:
            text += f" {_plural(self.closed, 'sample')} whose review is over were left alone."
        for language, n in self.short.items():
            text += (
                f" {_plural(n, 'sample')} in '{language}' got fewer than {self.overlap} annotators: too few of them "
                "can judge that language."
            )
        return text


def annotator_languages(
    store: Store, project_id: int, names: Iterable[str], *, join: bool = False
) -> dict[str, frozenset[str]]:
    """{annotator: languages they can judge} for the names given, refused with a readable reason when one cannot
    judge in this project (no such account, deactivated, a viewer, no language set, not a member). `join`: those
    who are not members become members (when an owner, who manages memberships, hands out the work)."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise InvalidInput("Name at least one annotator.")
    languages = account_languages.languages_of(store, wanted)
    active = account_languages.active_usernames(store, wanted)
    found: dict[str, frozenset[str]] = {}
    for name in wanted:
        account = accounts.find_account(store, name)
        if account is None or name not in languages:
            raise InvalidInput(f"There is no account named '{name}'.")
        if name not in active:
            raise InvalidInput(f"The account '{name}' is deactivated.")
        if account.role not in JUDGING_ROLES:
            raise InvalidInput(f"{name} is a {account.role}: only annotators, leads and owners judge samples.")
        if not languages[name]:
            raise InvalidInput(
                f"{name} can judge no language yet: an owner sets theirs with "
                f"`python -m core users set-languages {name} CODES`."
            )
        if not join and account.role in MEMBERS_ONLY and project_id not in accounts.member_project_ids(store, name):
            raise InvalidInput(f"{name} is not a member of this project (an owner can add them to it).")
        found[name] = frozenset(languages[name])
    if join:  # only once every name passed
        for name in found:
            members.add_member(store, project_id, name)
    return found


def _gold_checks(
    state: DistributionState,
    languages: dict[str, frozenset[str]],
    handed: Counter[str],
    first: dict[str, int],
    end: dict[str, int],
    rng: random.Random,
) -> list[NewAssignment]:
    """Gold samples each annotator can judge and has not had, about one per ten new samples, at random places of
    the stretch of queue just handed out."""
    checks: list[NewAssignment] = []
    for name, count in sorted(handed.items()):
        fits = [
            sample_id
            for sample_id, language in state.gold
            if language in languages[name] and name not in state.gold_assignees.get(sample_id, ())
        ]
        for sample_id in rng.sample(fits, min(len(fits), max(1, math.floor(count * GOLD_SHARE)))):
            checks.append(NewAssignment(sample_id, name, rng.randrange(first[name], end[name]), True))
    return checks


def plan_distribution(
    state: DistributionState,
    languages: dict[str, frozenset[str]],
    overlap: int,
    *,
    gold: bool,
    seed: int = 0,
) -> DistributionPlan:
    """Who gets which sample: for each sample, the least loaded annotators who can judge its language and do not
    have it yet (ties broken at random), until it has k. The languages are handed out interleaved in proportion (as
    if the samples came well mixed, whatever their order), so that the loads even out across languages; each queue
    follows the samples' order. The assignments are made as they are consumed; the summary is complete after."""
    summary: dict[str, Any] = {"overlap": overlap, "annotators": sorted(languages)}
    return DistributionPlan(_assignments(state, languages, overlap, gold, seed, summary), overlap, summary)


def _assignments(
    state: DistributionState,
    languages: dict[str, frozenset[str]],
    overlap: int,
    gold: bool,
    seed: int,
    summary: dict[str, Any],
) -> Iterator[NewAssignment]:
    rand = random.Random(seed).random
    loads = {name: state.loads.get(name, 0) for name in languages}
    index = {sample_id: i for i, (sample_id, _) in enumerate(state.samples)}
    eligible: dict[str, list[str]] = {}
    by_language: dict[str, list[int]] = defaultdict(list)
    for sample_id, language in state.samples:
        by_language[language].append(sample_id)
        if language not in eligible:
            eligible[language] = sorted(name for name, codes in languages.items() if language in codes)
    mixed = sorted(
        ((rank + 0.5) / len(ids), language, sample_id)
        for language, ids in by_language.items()
        for rank, sample_id in enumerate(ids)
    )

    def lightness(name: str) -> float:  # the load, with a random tie-break below one
        return loads[name] + rand()

    first = {name: state.next_position.get(name, 0) for name in languages}
    handed: Counter[str] = Counter()
    short: Counter[str] = Counter()
    already = touched = 0
    for _, language, sample_id in mixed:
        have = state.assignees.get(sample_id)
        need = overlap - (len(have) if have else 0)
        if need <= 0:
            already += 1
            continue
        candidates = [name for name in eligible[language] if name not in have] if have else eligible[language]
        if len(candidates) < need:
            short[language] += 1
        if not candidates:
            continue
        touched += 1
        chosen = [min(candidates, key=lightness)] if need == 1 else sorted(candidates, key=lightness)[:need]
        for name in chosen:
            yield NewAssignment(sample_id, name, first[name] + index[sample_id], False, overlap)
            loads[name] += 1
            handed[name] += 1
    end = {name: start + len(state.samples) for name, start in first.items()}
    checks = _gold_checks(state, languages, handed, first, end, random.Random(seed + 1)) if gold else []
    yield from checks
    summary.update(
        samples=touched,
        per_annotator=dict(sorted(handed.items())),
        already=already,
        closed=state.closed,
        short=dict(sorted(short.items())),
        gold=len(checks),
    )


def assign(
    store: Store,
    project_id: int,
    annotators: Iterable[str],
    *,
    overlap: int | None = None,
    flt: SampleFilter | None = None,
    join: bool = False,
) -> AssignResult:
    """Hand out the samples `flt` chooses (every sample when None) to these annotators, k each (default: the
    project's overlap), topping up samples that have fewer than k; samples whose review is over are left alone.
    `join`: annotators who are not members of the project become members."""
    settings = review_settings.get_settings(store, project_id)
    k = settings.overlap if overlap is None else overlap
    if not 1 <= k <= MAX_OVERLAP:
        raise InvalidInput(f"The overlap must be between 1 and {MAX_OVERLAP} annotators per sample (got {k}).")
    languages = annotator_languages(store, project_id, annotators, join=join)
    chosen = flt or SampleFilter()

    def plan(state: DistributionState) -> DistributionPlan:
        made = plan_distribution(state, languages, k, gold=settings.gold, seed=project_id)
        made.summary["filter"] = {key: value for key, value in asdict(chosen).items() if value}
        return made

    made = assignments.distribute(store, project_id, chosen, plan)
    summary = made.summary
    return AssignResult(
        overlap=k,
        samples=summary["samples"],
        assignments=sum(summary["per_annotator"].values()),
        per_annotator=summary["per_annotator"],
        already=summary["already"],
        closed=summary["closed"],
        short=summary["short"],
        gold=summary["gold"],
    )


# --- re-balancing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebalanceResult:
    moved: int  # open assignments that changed hands
    per_annotator: dict[str, int]  # annotator -> assignments they received
    short: dict[str, int] = field(default_factory=dict)  # language -> samples nobody left could take
    gold_removed: int = 0  # open gold checks of annotators who left

    @property
    def message(self) -> str:
        shares = ", ".join(f"{name} {n:,}" for name, n in self.per_annotator.items())
        text = f"Moved {_plural(self.moved, 'sample')} not yet judged" + (f": {shares}." if shares else ".")
        for language, n in self.short.items():
            text += f" {_plural(n, 'sample')} in '{language}' now have fewer annotators: nobody else can judge it."
        return text


def _summary(plan: RebalancePlan) -> RebalanceResult:
    return RebalanceResult(
        moved=plan.summary["moved"],
        per_annotator=plan.summary["per_annotator"],
        short=plan.summary["short"],
        gold_removed=plan.summary["gold_removed"],
    )


def _movable(
    stacks: dict[str, dict[str, list[OpenAssignment]]],
    holder: str,
    joiner: str,
    codes: frozenset[str],
    assignees: dict[int, set[str]],
) -> tuple[str, int] | None:
    """Where the holder's latest open assignment that the joiner can take is (a language they judge, a sample they
    lack): (language, index in that language's stack)."""
    best: tuple[str, int] | None = None
    best_position = -1
    for language in sorted(codes):
        stack = stacks[holder].get(language, [])
        for index in range(len(stack) - 1, -1, -1):
            if joiner not in assignees.get(stack[index].sample_id, ()):
                if stack[index].position > best_position:
                    best, best_position = (language, index), stack[index].position
                break
    return best


def plan_join(work: OpenWork, languages: dict[str, frozenset[str]], joining: list[str]) -> RebalancePlan:
    """Move the latest open assignments of the most loaded annotators to those joining, one at a time, until no
    move brings two annotators' open loads closer."""
    pool = work.pool | set(joining)
    loads = {name: work.loads.get(name, 0) for name in pool}
    positions = {name: work.next_position.get(name, 0) for name in pool}
    stacks: dict[str, dict[str, list[OpenAssignment]]] = defaultdict(lambda: defaultdict(list))
    for entry in work.open:
        stacks[entry.annotator][entry.language].append(entry)
    assignees = work.assignees
    removed: list[int] = []
    added: list[NewAssignment] = []
    waiting = set(joining)
    while waiting:
        joiner = min(waiting, key=lambda name: (loads[name], name))
        move = None
        for holder in sorted(pool - {joiner}, key=lambda name: (-loads[name], name)):
            if loads[holder] <= loads[joiner] + 1:
                break
            found = _movable(stacks, holder, joiner, languages.get(joiner, frozenset()), assignees)
            if found is not None:
                move = stacks[holder][found[0]].pop(found[1])
                break
        if move is None:
            waiting.discard(joiner)
            continue
        assignees[move.sample_id].discard(move.annotator)
        assignees[move.sample_id].add(joiner)
        loads[move.annotator] -= 1
        loads[joiner] += 1
        removed.append(move.id)
        added.append(NewAssignment(move.sample_id, joiner, positions[joiner], False, move.overlap))
        positions[joiner] += 1
    received = Counter(a.annotator for a in added)
    summary = {
        "joined": sorted(joining),
        "moved": len(added),
        "per_annotator": dict(sorted(received.items())),
        "short": {},
        "gold_removed": 0,
    }
    return RebalancePlan(removed, "rebalanced", added, summary)


def plan_leave(work: OpenWork, languages: dict[str, frozenset[str]], leaving: list[str]) -> RebalancePlan:
    """Give each open assignment of those leaving to the least loaded annotator who stays, can judge its language
    and lacks the sample; their open gold checks are dropped. What they judged stays."""
    gone = set(leaving)
    staying = sorted(name for name in work.pool - gone if name in languages)
    loads = {name: work.loads.get(name, 0) for name in staying}
    positions = {name: work.next_position.get(name, 0) for name in staying}
    removed: list[int] = []
    added: list[NewAssignment] = []
    short: Counter[str] = Counter()
    for entry in work.open:
        if entry.annotator not in gone:
            continue
        removed.append(entry.id)
        holders = work.assignees[entry.sample_id]
        holders.discard(entry.annotator)
        candidates = [name for name in staying if entry.language in languages[name] and name not in holders]
        if not candidates:
            short[entry.language] += 1
            continue
        taker = min(candidates, key=lambda name: (loads[name], name))
        holders.add(taker)
        loads[taker] += 1
        added.append(NewAssignment(entry.sample_id, taker, positions[taker], False, entry.overlap))
        positions[taker] += 1
    gold = [assignment_id for name in sorted(gone) for assignment_id in work.gold_open.get(name, [])]
    received = Counter(a.annotator for a in added)
    summary = {
        "left": sorted(gone),
        "moved": len(added),
        "per_annotator": dict(sorted(received.items())),
        "short": dict(sorted(short.items())),
        "gold_removed": len(gold),
    }
    return RebalancePlan(removed + gold, "left", added, summary)


def _judging_languages(store: Store) -> dict[str, frozenset[str]]:
    """{active account: languages it can judge}, read before the re-balancing transaction."""
    every = account_languages.languages_of(store)
    active = account_languages.active_usernames(store, every)
    return {name: frozenset(codes) for name, codes in every.items() if name in active}


def add_annotators(store: Store, project_id: int, names: Iterable[str], *, join: bool = False) -> RebalanceResult:
    """Annotators join the project's review: they take over a fair share of what is not yet judged."""
    joining = annotator_languages(store, project_id, names, join=join)
    known = _judging_languages(store) | joining
    plan = assignments.rebalance(store, project_id, lambda work: plan_join(work, known, sorted(joining)))
    return _summary(plan)


def remove_annotators(store: Store, project_id: int, names: Iterable[str]) -> RebalanceResult:
    """Annotators leave the project's review: what they have not judged yet goes to the others."""
    leaving = sorted({name.strip() for name in names if name.strip()})
    if not leaving:
        raise InvalidInput("Name at least one annotator.")
    known = _judging_languages(store)

    def plan(work: OpenWork) -> RebalancePlan:
        unknown = [name for name in leaving if name not in work.pool]
        if unknown:
            raise InvalidInput(f"{', '.join(unknown)} has no samples to review in this project.")
        return plan_leave(work, known, leaving)

    return _summary(assignments.rebalance(store, project_id, plan))
