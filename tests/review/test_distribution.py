"""Distributing review work, on SQLite and PostgreSQL: each sample goes to k annotators who can judge its language,
never twice to the same one, each annotator getting a similar share of what they can judge; a second call tops up
instead of repeating; samples nobody can judge are reported, and accounts that cannot judge are refused."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

import pytest

from core.errors import InvalidInput, PermissionDenied
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.data import SampleFilter
from core.front.review import assign, judge, my_queue, set_account_languages
from core.review.distribution import plan_distribution
from core.store import Store
from core.store.assignments import DistributionState
from tests.review.support import assignment_rows, languages_of_samples, make_project, make_team


def _holders(store: Store, project_id: int) -> dict[int, list[str]]:
    held: dict[int, list[str]] = defaultdict(list)
    for sample_id, annotator, state, gold in assignment_rows(store, project_id):
        if state != "removed" and not gold:
            held[sample_id].append(annotator)
    return held


def test_each_sample_goes_to_k_annotators_who_judge_its_language_in_fair_shares(store: Store) -> None:
    team = make_team(store, {"anna": ["en", "sw"], "ben": ["en", "sw"], "cara": ["en"]})
    project = make_project(team, {"en": 40, "sw": 20})

    result = assign(team.lead, project, ["anna", "ben", "cara"], overlap=2)

    assert (result.samples, result.assignments, result.already, result.short) == (60, 120, 0, {})
    shares = result.per_annotator
    assert set(shares) == {"anna", "ben", "cara"} and max(shares.values()) - min(shares.values()) <= 2
    assert result.message.startswith(
        f"Handed out 60 samples to be judged 2 times each: anna {shares['anna']}, ben {shares['ben']}, "
        f"cara {shares['cara']}."
    )
    held = _holders(store, project.id)
    language = languages_of_samples(store, project.id)
    assert set(held) == set(language)
    assert all(len(names) == 2 and len(set(names)) == 2 for names in held.values())
    assert all(
        "cara" not in names for sample_id, names in held.items() if language[sample_id] == "sw"
    )  # cara does not judge Swahili
    queue = my_queue(team["cara"], project)
    assert (queue.open, queue.done, len(queue.entries)) == (shares["cara"], 0, shares["cara"])
    assert {entry.language for entry in queue.entries} == {"en"}
    assert [entry.sample_id for entry in my_queue(team["cara"], project, limit=3).entries] == [
        entry.sample_id for entry in queue.entries[:3]
    ]


def test_ten_annotators_share_evenly_and_every_pair_meets(store: Store) -> None:
    names = [f"a{i}" for i in range(10)]
    team = make_team(store, {name: ["en"] for name in names})
    project = make_project(team, {"en": 200})

    result = assign(team.owner, project, names, overlap=3)

    shares = result.per_annotator.values()
    assert sum(shares) == 600 and max(shares) - min(shares) <= 1
    held = _holders(store, project.id)
    met = {pair for names_of in held.values() for pair in combinations(sorted(names_of), 2)}
    assert met == set(combinations(names, 2))


def test_a_second_call_tops_up_without_repeating_an_annotator(store: Store) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"], "cara": ["en"], "dan": ["en"]})
    project = make_project(team, {"en": 12})
    assign(team.lead, project, ["anna", "ben"], overlap=1)

    again = assign(team.lead, project, ["anna", "ben"], overlap=1)
    assert (again.samples, again.already) == (0, 12)

    more = assign(team.lead, project, ["anna", "ben", "cara", "dan"], overlap=3)
    assert (more.samples, more.assignments) == (12, 24)
    held = _holders(store, project.id)
    assert all(len(names) == 3 == len(set(names)) for names in held.values())
    shares = Counter(name for names in held.values() for name in names)
    assert sum(shares.values()) == 36 and max(shares.values()) - min(shares.values()) <= 2


def test_filters_choose_the_samples_and_finished_reviews_are_left_alone(store: Store) -> None:
    team = make_team(store, {"anna": ["en", "sw"], "ben": ["en", "sw"]})
    project = make_project(team, {"en": 6, "sw": 6})

    swahili = assign(team.lead, project, ["anna", "ben"], overlap=1, flt=SampleFilter(languages=("sw",)))
    assert swahili.samples == 6
    first = my_queue(team["anna"], project).entries[0]
    judge(team["anna"], project, first.sample_id, "accept")  # k=1: this decides the sample

    everything = assign(team.lead, project, ["anna", "ben"], overlap=2)
    assert (everything.samples, everything.closed) == (11, 1)
    assert "1 sample whose review is over were left alone" in everything.message


def test_samples_nobody_can_judge_are_reported(store: Store) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en", "th"]})
    project = make_project(team, {"en": 4, "th": 3, "yo": 2})

    result = assign(team.lead, project, ["anna", "ben"], overlap=2)

    assert result.short == {"th": 3, "yo": 2}
    assert result.samples == 7  # Thai got one annotator, Yoruba none
    assert "2 samples in 'yo' got fewer than 2 annotators: too few of them can judge that language." in result.message
    assert {sample for sample, *_ in assignment_rows(store, project.id)} == set(range(1, 8))


@pytest.mark.parametrize("overlap", [0, 6])
def test_the_overlap_is_one_to_five(store: Store, overlap: int) -> None:
    team = make_team(store, {"anna": ["en"]})
    project = make_project(team, {"en": 2})
    with pytest.raises(InvalidInput, match="between 1 and 5"):
        assign(team.lead, project, ["anna"], overlap=overlap)


def test_who_cannot_judge_is_refused_with_the_reason(store: Store) -> None:
    team = make_team(store, {"anna": ["en"]})
    project = make_project(team, {"en": 2})
    add_account(team.owner, "nolang", "annotator", None, email="nolang@example.org")
    add_account(team.owner, "vic", "viewer", None, email="vic@example.org")
    add_account(team.owner, "outsider", "annotator", None, email="outsider@example.org")
    set_account_languages(team.owner, "outsider", ["en"])

    with pytest.raises(InvalidInput, match="There is no account named 'ghost'"):
        assign(team.lead, project, ["anna", "ghost"])
    with pytest.raises(InvalidInput, match="nolang can judge no language yet"):
        assign(team.lead, project, ["nolang"])
    with pytest.raises(InvalidInput, match="vic is a viewer"):
        assign(team.lead, project, ["vic"])
    with pytest.raises(InvalidInput, match="outsider is not a member of this project"):
        assign(team.lead, project, ["outsider"])
    with pytest.raises(PermissionDenied, match="distributing review work needs the role lead or owner"):
        assign(team["anna"], project, ["anna"])
    assert assignment_rows(store, project.id) == []

    assign(team.owner, project, ["outsider"], overlap=1)  # an owner's annotators join the project
    assert my_queue(Actor(store, "outsider", "annotator", team=True), project).open == 2


def test_unknown_language_codes_are_refused(store: Store) -> None:
    team = make_team(store, {"anna": ["en"]})
    with pytest.raises(InvalidInput, match="Unknown language code 'xx-yy'"):
        set_account_languages(team.owner, "anna", ["sw", "xx-yy"])
    assert set_account_languages(team.owner, "anna", ["SW", "sw-KE", "en"]) == ["sw", "en"]


def test_the_plan_alone_is_fair_for_annotators_of_different_languages() -> None:
    samples = [(i, "sw" if i % 2 else "en") for i in range(1000)]
    state = DistributionState(samples, {}, {}, {}, 0, [], {})
    languages = {"bilingual": frozenset({"en", "sw"}), "english": frozenset({"en"}), "swahili": frozenset({"sw"})}

    plan = plan_distribution(state, languages, 1, gold=False)

    shares = Counter(a.annotator for a in plan.assignments)
    assert sum(shares.values()) == 1000
    assert max(shares.values()) - min(shares.values()) <= 2
