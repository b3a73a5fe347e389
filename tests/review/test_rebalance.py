"""Re-balancing when annotators join or leave, on SQLite and PostgreSQL: only what is not yet judged moves, a sample
never gets the same annotator twice nor more than k, the loads even out, and what nobody else can judge is said."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from core.errors import InvalidInput
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.review import (
    add_annotators,
    assign,
    judge,
    my_queue,
    remove_annotators,
    set_account_languages,
    set_review_settings,
)
from core.store import Store
from tests.review.support import assignment_rows, make_project, make_team


def _active(store: Store, project_id: int) -> dict[int, list[tuple[str, str]]]:
    held: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for sample_id, annotator, state, gold in assignment_rows(store, project_id):
        if state != "removed" and not gold:
            held[sample_id].append((annotator, state))
    return held


def test_a_joining_annotator_takes_a_fair_share_of_what_is_not_yet_judged(store: Store) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"], "cara": ["en"]})
    project = make_project(team, {"en": 40})
    assign(team.lead, project, ["anna", "ben"], overlap=1)
    judged = [entry.sample_id for entry in my_queue(team["anna"], project, limit=6).entries]
    for sample_id in judged:
        judge(team["anna"], project, sample_id, "accept")

    result = add_annotators(team.lead, project, ["cara"])

    open_loads = Counter(
        annotator for names in _active(store, project.id).values() for annotator, state in names if state == "open"
    )
    assert sum(open_loads.values()) == 34
    assert max(open_loads.values()) - min(open_loads.values()) <= 1
    assert result.per_annotator == {"cara": open_loads["cara"]} and result.moved == open_loads["cara"]
    held = _active(store, project.id)
    assert all(len(names) == 1 for names in held.values())  # k = 1 still
    assert all(held[sample_id] == [("anna", "done")] for sample_id in judged)  # judged work never moves
    assert my_queue(team["cara"], project).open == open_loads["cara"]
    assert result.message.startswith(f"Moved {result.moved} samples not yet judged: cara {result.moved}.")


def test_a_leaving_annotators_open_work_goes_to_others_who_lack_the_sample(store: Store) -> None:
    team = make_team(store, {"anna": ["en", "sw"], "ben": ["en", "sw"], "cara": ["en"], "dan": ["en", "sw"]})
    project = make_project(team, {"en": 30, "sw": 12})
    assign(team.lead, project, ["anna", "ben", "cara", "dan"], overlap=2)
    first = my_queue(team["ben"], project, limit=4).entries
    for entry in first:
        judge(team["ben"], project, entry.sample_id, "accept")
    ben_open = my_queue(team["ben"], project).open

    result = remove_annotators(team.lead, project, ["ben"])

    assert result.moved == ben_open and result.short == {}
    held = _active(store, project.id)
    assert all(len(names) == 2 and len({name for name, _ in names}) == 2 for names in held.values())
    assert [(name, state) for names in held.values() for name, state in names if name == "ben"] == [
        ("ben", "done")
    ] * len(first)
    assert my_queue(team["ben"], project).open == 0


def test_when_nobody_else_judges_the_language_the_sample_is_left_short(store: Store) -> None:
    team = make_team(store, {"anna": ["en", "th"], "ben": ["en"]})
    project = make_project(team, {"en": 4, "th": 3})
    set_review_settings(team.lead, project, gold=False)
    assign(team.lead, project, ["anna", "ben"], overlap=1)
    anna_open = my_queue(team["anna"], project).open

    result = remove_annotators(team.lead, project, ["anna"])

    assert result.short == {"th": 3}
    assert result.moved == anna_open - 3
    assert "3 samples in 'th' now have fewer annotators: nobody else can judge it." in result.message
    with pytest.raises(InvalidInput, match="anna has no samples to review in this project"):
        remove_annotators(team.lead, project, ["anna"])  # gone already


def test_a_newcomer_gets_nothing_they_cannot_judge_or_already_have(store: Store) -> None:
    team = make_team(store, {"anna": ["en", "sw"], "ben": ["en", "sw"]})
    project = make_project(team, {"en": 10, "sw": 10})
    assign(team.lead, project, ["anna", "ben"], overlap=2)
    add_account(team.owner, "eve", "annotator", None, email="eve@example.org")
    set_account_languages(team.owner, "eve", ["sw"])

    result = add_annotators(team.owner, project, ["eve"])

    eve = my_queue(Actor(store, "eve", "annotator", team=True), project)
    assert {entry.language for entry in eve.entries} == {"sw"}
    assert result.moved == eve.open > 0
    assert all(len({name for name, _ in names}) == 2 for names in _active(store, project.id).values())


def test_a_deactivated_annotators_open_work_goes_to_the_others(store: Store) -> None:
    from core.front.accounts import deactivate_and_hand_on

    team = make_team(store, {"anna": ["en"], "ben": ["en"], "cara": ["en"]})
    project = make_project(team, {"en": 24})
    assign(team.lead, project, ["anna", "ben", "cara"], overlap=2)
    judged = [entry.sample_id for entry in my_queue(team["ben"], project, limit=3).entries]
    for sample_id in judged:
        judge(team["ben"], project, sample_id, "accept")

    done = deactivate_and_hand_on(team.owner, "ben")

    assert not done.account.active
    assert len(done.handed_on) == 1 and done.handed_on[0].startswith("crops: Moved ")
    held = _active(store, project.id)
    assert all(len(names) == 2 and len({name for name, _ in names}) == 2 for names in held.values())
    assert sorted(s for s, names in held.items() if ("ben", "done") in names) == sorted(judged)  # judged work stays
    assert not any(name == "ben" and state == "open" for names in held.values() for name, state in names)
