"""Eight annotators judging at once (threads), on SQLite and PostgreSQL, while a ninth joins half-way: no judgement
is lost, no sample is judged more than k times or twice by one person, every sample is decided exactly once, and
nobody sees "database is locked"."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from core.errors import NotFound
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.review import add_annotators, assign, judge, next_sample, review_progress, set_account_languages
from core.store import Store
from core.store.action_log import ActionQuery, count_actions
from core.store.judgements import project_judgements
from tests.review.support import assignment_rows, make_project, make_team

NAMES = [f"a{i}" for i in range(8)]
SAMPLES, K = 160, 3


def _work(actor: Actor, project_id: int, index: int, errors: list[str], moved: list[int]) -> None:
    from core.front.projects import get_project

    project = get_project(actor, project_id)
    try:
        while (entry := next_sample(actor, project)) is not None:
            decision = "reject" if (entry.sample_id + index) % 6 == 0 else "accept"
            try:
                judge(actor, project, entry.sample_id, decision, seconds=1.0)
            except NotFound:  # re-balanced away between reading it and judging it: take the next one
                moved.append(entry.sample_id)
    except Exception as exc:  # every other failure fails the test
        errors.append(f"{actor.user}: {type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_eight_annotators_at_once_lose_nothing_and_never_overlap_beyond_k(store: Store) -> None:
    team = make_team(store, {name: ["en"] for name in NAMES})
    project = make_project(team, {"en": SAMPLES})
    add_account(team.owner, "ivy", "annotator", None, email="ivy@example.org")
    set_account_languages(team.owner, "ivy", ["en"])
    assign(team.lead, project, NAMES, overlap=K)
    errors: list[str] = []
    moved: list[int] = []
    threads = [
        threading.Thread(target=_work, args=(team[name], project.id, i, errors, moved)) for i, name in enumerate(NAMES)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(project_judgements(store, project.id)) < SAMPLES * K // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    add_annotators(team.owner, project, ["ivy"])  # joins half-way: takes over part of what is not yet judged
    newcomer = Actor(store, "ivy", "annotator", team=True)
    ivy = threading.Thread(target=_work, args=(newcomer, project.id, 8, errors, moved))
    ivy.start()
    for thread in [*threads, ivy]:
        thread.join(timeout=240)

    assert errors == []
    judgements = [entry.judgement for entry in project_judgements(store, project.id)]
    per_sample = Counter(j.sample_id for j in judgements)
    assert len(judgements) == SAMPLES * K
    assert set(per_sample.values()) == {K}
    assert len({(j.sample_id, j.annotator) for j in judgements}) == len(judgements)
    assert Counter(j.annotator for j in judgements)["ivy"] > 0
    assert [row for row in assignment_rows(store, project.id) if row[2] == "open"] == []
    items = review_progress(team.lead, project).items
    assert items.get("resolved", 0) + items.get("adjudication", 0) == SAMPLES
    decided = count_actions(store, ActionQuery(actions=("review.resolve", "review.to adjudication")))
    assert decided == SAMPLES  # each sample decided exactly once
