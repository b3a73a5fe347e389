"""What judgements decide, on SQLite and PostgreSQL: the project's rule (unanimous, or a majority of at least k)
gives the sample its status and label, no answer sends it to adjudication, where a lead decides (logged with the
judgements overridden); an annotator undoes their last judgement; a lead's direct decision takes the sample out of
every queue; and nobody sees the others' judgements before giving theirs."""

from __future__ import annotations

from dataclasses import fields

import pytest

from core.errors import InvalidInput, NotFound, PermissionDenied
from core.front.curation import bulk_change, decide
from core.front.projects import Project
from core.front.review import (
    QueueEntry,
    adjudicate,
    adjudication_queue,
    assign,
    judge,
    my_queue,
    next_sample,
    review_progress,
    sample_judgements,
    set_review_settings,
    undo_last_judgement,
)
from core.review.resolution import decide_by_rule
from core.store import Store
from core.store.action_log import ActionQuery, find_actions
from core.store.samples import get_sample
from tests.review.support import Team, assignment_rows, make_project, make_team

A, B, R = ("accepted", "weather"), ("accepted", "pests"), ("rejected", None)


def test_the_rules() -> None:
    assert decide_by_rule([A, A], 2, "unanimous") == A
    assert decide_by_rule([A, B], 2, "unanimous") is None
    assert decide_by_rule([A, A, R], 3, "unanimous") is None
    assert decide_by_rule([A, A, R], 3, "majority") == A
    assert decide_by_rule([A, B, R], 3, "majority") is None
    assert decide_by_rule([A, R], 2, "majority") is None  # a tie is no majority
    assert decide_by_rule([A, A], 3, "majority") is None  # fewer than k judgements
    with pytest.raises(InvalidInput, match="Unknown rule"):
        decide_by_rule([A], 1, "loudest")


def _pair(
    store: Store, per_language: dict[str, int], overlap: int = 2, names: tuple[str, ...] = ("anna", "ben")
) -> tuple[Team, Project]:
    team = make_team(store, {name: ["en"] for name in names})
    project = make_project(team, per_language)
    assign(team.lead, project, list(names), overlap=overlap)
    return team, project


def test_unanimous_judgements_decide_and_a_disagreement_waits_for_a_lead(store: Store) -> None:
    team, project = _pair(store, {"en": 3})
    sample_ids = [entry.sample_id for entry in my_queue(team["anna"], project).entries]
    first, second, third = sample_ids
    assert get_sample(store, first).label == "weather"

    judge(team["anna"], project, first, "accept", seconds=4.0)
    assert get_sample(store, first).status == "pending"  # one of two judgements
    judge(team["ben"], project, first, "accept", seconds=6.0)
    decided = get_sample(store, first)
    assert (decided.status, decided.label) == ("accepted", "weather")

    judge(team["anna"], project, second, "label", label="prices")
    judge(team["ben"], project, second, "relabel", label="prices")
    assert (get_sample(store, second).status, get_sample(store, second).label) == ("accepted", "prices")

    judge(team["anna"], project, third, "accept")
    judge(team["ben"], project, third, "reject")
    assert get_sample(store, third).status == "pending"
    [disputed] = adjudication_queue(team.lead, project)
    assert disputed.sample_id == third
    assert [(j.annotator, j.decision, j.label) for j in disputed.judgements] == [
        ("anna", "accept", "prices"),
        ("ben", "reject", None),
    ]
    assert review_progress(team.lead, project).items == {"resolved": 2, "adjudication": 1}
    assert my_queue(team["anna"], project).open == 0
    assert next_sample(team["anna"], project) is None


def test_a_majority_of_at_least_k_decides(store: Store) -> None:
    team, project = _pair(store, {"en": 1}, overlap=3, names=("anna", "ben", "cara"))
    set_review_settings(team.lead, project, rule="majority")
    [entry] = my_queue(team["anna"], project).entries
    judge(team["anna"], project, entry.sample_id, "reject")
    judge(team["ben"], project, entry.sample_id, "reject")
    assert get_sample(store, entry.sample_id).status == "pending"  # 2 of 3: not all in yet
    judge(team["cara"], project, entry.sample_id, "accept")
    assert get_sample(store, entry.sample_id).status == "rejected"


def test_the_lead_adjudicates_and_the_log_keeps_what_was_overridden(store: Store) -> None:
    team, project = _pair(store, {"en": 1})
    [entry] = my_queue(team["anna"], project).entries
    judge(team["anna"], project, entry.sample_id, "accept", seconds=3)
    judge(team["ben"], project, entry.sample_id, "label", label="pests", seconds=5)
    with pytest.raises(PermissionDenied, match="deciding a sample the annotators disagree on needs the role lead"):
        adjudicate(team["anna"], project, entry.sample_id, "accept")
    with pytest.raises(PermissionDenied):
        adjudication_queue(team["anna"], project)

    done = adjudicate(team.lead, project, entry.sample_id, "label", label="pests")

    assert done.message == f"Sample #{entry.sample_id} is accepted as 'pests'; 1 judgement overridden."
    assert [j.annotator for j in done.overrode] == ["anna"]
    sample = get_sample(store, entry.sample_id)
    assert (sample.status, sample.label, sample.updated_by) == ("accepted", "pests", "lena")
    [logged] = find_actions(store, ActionQuery(actions=("review.adjudicate",)))
    assert logged.who == "lena"
    assert [j["annotator"] for j in logged.after["judgements"]] == ["anna", "ben"]  # type: ignore[index]
    assert logged.after["overrode"] == [done.overrode[0].id]  # type: ignore[index]
    assert adjudication_queue(team.lead, project) == []
    with pytest.raises(InvalidInput, match="is not waiting for a decision"):
        adjudicate(team.lead, project, entry.sample_id, "reject")
    with pytest.raises(InvalidInput, match="A lead has decided sample"):
        undo_last_judgement(team["ben"], project)
    assert len(find_actions(store, ActionQuery(actions=("review.judge",)))) == 2


def test_an_annotator_undoes_their_last_judgement_and_what_it_decided(store: Store) -> None:
    team, project = _pair(store, {"en": 2})
    first, second = [entry.sample_id for entry in my_queue(team["anna"], project).entries]
    judge(team["anna"], project, first, "accept")
    judge(team["ben"], project, first, "accept")
    assert get_sample(store, first).status == "accepted"

    undone = undo_last_judgement(team["ben"], project)

    assert (undone.sample_id, undone.decision) == (first, "accept")
    assert undone.message == f"Undone: your judgement of sample #{first}."
    assert get_sample(store, first).status == "pending"
    assert [entry.sample_id for entry in my_queue(team["ben"], project).entries] == [first, second]
    judge(team["ben"], project, first, "reject")
    assert len(adjudication_queue(team.lead, project)) == 1
    undo_last_judgement(team["ben"], project)
    assert adjudication_queue(team.lead, project) == []
    with pytest.raises(InvalidInput, match="You have no judgement to undo"):
        undo_last_judgement(team.lead, project)


def test_judging_outside_ones_queue_or_twice_is_refused(store: Store) -> None:
    team, project = _pair(store, {"en": 2}, overlap=1)
    anna_sample = my_queue(team["anna"], project).entries[0].sample_id
    with pytest.raises(NotFound, match=f"Sample #{anna_sample} is not in your queue"):
        judge(team["ben"], project, anna_sample, "accept")
    with pytest.raises(InvalidInput, match="is not a label of this project"):
        judge(team["anna"], project, anna_sample, "label", label="gossip")
    with pytest.raises(InvalidInput, match="The text cannot be empty"):
        judge(team["anna"], project, anna_sample, "edit", text="  ")
    judge(team["anna"], project, anna_sample, "edit", text="a better text")
    with pytest.raises(InvalidInput, match="You have judged sample"):
        judge(team["anna"], project, anna_sample, "accept")
    assert get_sample(store, anna_sample).status == "accepted"  # an edit keeps the label: k = 1 decided it


def test_a_leads_direct_decision_takes_the_sample_out_of_every_queue(store: Store) -> None:
    team, project = _pair(store, {"en": 3})
    first, second, _ = [entry.sample_id for entry in my_queue(team["anna"], project).entries]
    judge(team["anna"], project, first, "accept")

    sample = get_sample(store, first)
    decide(team.lead, first, "reject", version=sample.version)

    assert first not in [entry.sample_id for entry in my_queue(team["ben"], project).entries]
    rows = assignment_rows(store, project.id)
    states = {(annotator, state) for sample_id, annotator, state, _ in rows if sample_id == first}
    assert states == {("anna", "done"), ("ben", "removed")}
    [logged] = find_actions(store, ActionQuery(actions=("review.taken out",)))
    assert (logged.who, logged.target) == ("lena", f"sample:{first}")
    assert logged.before == {"state": "open", "queues": ["ben"]}
    assert review_progress(team.lead, project).items["decided"] == 1
    with pytest.raises(NotFound):
        judge(team["ben"], project, first, "accept")

    bulk_change(team.lead, project, "accept", ids=[second])
    assert second not in [entry.sample_id for entry in my_queue(team["anna"], project).entries]


def test_nobody_sees_the_others_judgements_before_giving_theirs(store: Store) -> None:
    team, project = _pair(store, {"en": 1})
    [entry] = my_queue(team["ben"], project).entries
    assert {f.name for f in fields(QueueEntry)} == {"sample_id", "text", "label", "language", "position"}
    judge(team["anna"], project, entry.sample_id, "reject")

    assert sample_judgements(team["ben"], entry.sample_id) == []
    assert [j.annotator for j in sample_judgements(team.lead, entry.sample_id)] == ["anna"]
    judge(team["ben"], project, entry.sample_id, "accept")
    assert [j.annotator for j in sample_judgements(team["ben"], entry.sample_id)] == ["anna", "ben"]
