"""Project membership in team mode, on SQLite and PostgreSQL: a lead or an annotator sees and works on only the
projects they are a member of (owners and viewers see every project), a project's things named by their ids are
theirs too, whoever creates a project becomes its member, and an annotator may undo only their own decisions."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import pytest

from core.accounts.manage import actor_as
from core.accounts.members import projects_of
from core.errors import NotFound, PermissionDenied
from core.evaluation.quickcheck import PredictionColumns
from core.front.accounts import add_account, add_project_member, members_of_project, remove_project_member
from core.front.actor import Actor
from core.front.curation import decide, undo_decision
from core.front.data import ColumnMapping, count_samples, execute_import, page_samples, plan_import
from core.front.evaluation import check_predictions, compare, get_baseline, get_evaluation, latest_evaluations
from core.front.jobs import cancel_job, get_job, launch_wait, list_jobs
from core.front.projects import (
    Project,
    create_demo_project,
    create_project,
    get_project,
    list_projects,
    parse_spec,
    project_totals,
)
from core.front.training import get_run, list_runs, runs_named
from core.store import Store
from core.store import baselines as baseline_rows
from core.store import evaluations as evaluation_rows
from core.training import run_store


def _add(owner: Actor, username: str, role: str) -> None:
    """An account signing in with single sign-on (no password: no slow hash to compute)."""
    add_account(owner, username, role, None, email=f"{username}@example.org")


@dataclass(frozen=True)
class Team:
    olga: Actor  # owner
    lena: Actor  # lead, member of crops
    anna: Actor  # annotator, member of crops
    ben: Actor  # annotator, member of crops
    vic: Actor  # viewer
    crops: Project  # lena's, anna's and ben's
    fish: Project  # nobody's but the owner's


def _project(actor: Actor, name: str, texts: list[str]) -> Project:
    project = create_project(
        actor, parse_spec(name=name, labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    frame = pd.DataFrame({"text": texts, "label": ["weather"] * len(texts)})
    mapping = ColumnMapping(text_column="text", label_column="label", language="en")
    execute_import(actor, project, plan_import(actor, project, frame, mapping, "rows"))
    return get_project(actor, project.id)


@pytest.fixture
def team(store: Store) -> Team:
    _add(Actor.of(store), "olga", "owner")
    olga = actor_as(store, "olga")
    for username, role in (("lena", "lead"), ("anna", "annotator"), ("ben", "annotator"), ("vic", "viewer")):
        _add(olga, username, role)
    crops = _project(olga, "crops", ["rain all week", "a dry spell", "hail on monday"])
    fish = _project(olga, "fish", ["storm at sea", "calm water"])
    for username in ("lena", "anna", "ben"):
        add_project_member(olga, crops.id, username)
    return Team(
        olga, actor_as(store, "lena"), actor_as(store, "anna"), actor_as(store, "ben"), actor_as(store, "vic"),
        crops, fish,
    )  # fmt: skip


def test_each_role_lists_the_projects_it_may_see(team: Team) -> None:
    assert [p.name for p in list_projects(team.olga)] == ["crops", "fish"]
    assert [p.name for p in list_projects(team.vic)] == ["crops", "fish"]  # viewers read every project
    assert [p.name for p in list_projects(team.lena)] == ["crops"]
    assert [p.name for p in list_projects(team.anna)] == ["crops"]
    remove_project_member(team.olga, team.crops.id, "anna")
    assert list_projects(team.anna) == []


def test_a_non_member_is_refused_a_project_not_shown_an_empty_one(team: Team) -> None:
    refusal = "permission denied: anna is not a member of the project 'fish' (an owner can add them to it)"
    for ref in (team.fish.id, "fish", str(team.fish.id)):
        with pytest.raises(PermissionDenied) as refused:
            get_project(team.anna, ref)
        assert str(refused.value) == refusal
    with pytest.raises(PermissionDenied, match=r"^permission denied: anna is not a member of the project 'fish'"):
        page_samples(team.anna, team.fish)
    with pytest.raises(PermissionDenied, match="lena is not a member of the project 'fish'"):
        count_samples(team.lena, team.fish)
    with pytest.raises(PermissionDenied, match="lena is not a member"):
        project_totals(team.lena, team.fish)
    with pytest.raises(PermissionDenied, match="lena is not a member"):
        members_of_project(team.lena, team.fish.id)
    with pytest.raises(NotFound):  # a project that does not exist is still just not found
        get_project(team.anna, "no such project")

    # members, owners and viewers read it
    assert get_project(team.anna, "crops").id == team.crops.id
    assert count_samples(team.anna, team.crops) == 3
    assert count_samples(team.vic, team.fish) == 2
    assert count_samples(team.olga, team.fish) == 2
    # the owner made it, so she is a member too
    assert [a.username for a in members_of_project(team.lena, team.crops.id)] == ["anna", "ben", "lena", "olga"]
    # and a member added later sees it at once
    add_project_member(team.olga, team.fish.id, "anna")
    assert count_samples(team.anna, team.fish) == 2


def test_things_named_by_their_id_belong_to_their_project(team: Team, store: Store) -> None:
    fish_sample = page_samples(team.olga, team.fish).samples[0]
    decision = decide(team.olga, fish_sample.id, "reject", version=fish_sample.version)
    with pytest.raises(PermissionDenied, match="anna is not a member of the project 'fish'"):
        decide(team.anna, fish_sample.id, "accept", version=fish_sample.version + 1)
    assert decision.action_id is not None
    with pytest.raises(PermissionDenied, match="lena is not a member of the project 'fish'"):
        undo_decision(team.lena, decision.action_id)

    fish_job = launch_wait(team.olga, 0.01, 1, project_id=team.fish.id, background=False)
    crops_job = launch_wait(team.lena, 0.01, 1, project_id=team.crops.id, background=False)
    with pytest.raises(PermissionDenied, match="lena is not a member of the project 'fish'"):
        get_job(team.lena, fish_job.id)
    with pytest.raises(PermissionDenied, match="lena is not a member"):
        cancel_job(team.lena, fish_job.id)
    assert get_job(team.olga, fish_job.id).status == "queued"
    assert get_job(team.lena, crops_job.id).id == crops_job.id
    # the jobs of every project: a lead sees those of their projects
    assert {job.id for job in list_jobs(team.olga)} == {fish_job.id, crops_job.id}
    assert [job.id for job in list_jobs(team.lena)] == [crops_job.id]
    assert [job.id for job in list_jobs(team.anna, active_only=True)] == [crops_job.id]
    with pytest.raises(PermissionDenied):
        list_jobs(team.lena, team.fish.id)

    runs = {
        project.name: run_store.create_run(
            store, project.id, "small", trainer="setfit", mode="single", base_model="m", params={}, options={}
        )
        for project in (team.crops, team.fish)
    }
    with pytest.raises(PermissionDenied, match="anna is not a member of the project 'fish'"):
        get_run(team.anna, runs["fish"].id)
    with pytest.raises(PermissionDenied):
        list_runs(team.anna, team.fish.id)
    assert get_run(team.anna, runs["crops"].id).name == "small"
    assert [run.project_id for run in runs_named(team.anna, "small")] == [team.crops.id]
    assert {run.project_id for run in runs_named(team.vic, "small")} == {team.crops.id, team.fish.id}

    evaluations = {
        project.name: evaluation_rows.replace_evaluation(
            store, project.id, name="small", source="run", test_hash="h", metrics={}, predictions=[]
        )
        for project in (team.crops, team.fish)
    }
    with pytest.raises(PermissionDenied, match="anna is not a member of the project 'fish'"):
        get_evaluation(team.anna, evaluations["fish"].id)
    with pytest.raises(PermissionDenied, match="'fish'"):  # one of several is enough to refuse
        compare(team.anna, [evaluations["crops"].id, evaluations["fish"].id])
    with pytest.raises(PermissionDenied):
        latest_evaluations(team.anna, team.fish.id)
    assert get_evaluation(team.anna, evaluations["crops"].id).project_id == team.crops.id

    baseline = baseline_rows.create_baseline(
        store, [], project_id=team.fish.id, name="llm", mode="zero", k=0, backend="replay", model="m",
        base_url=None, params={}, test_hash="h",
    )  # fmt: skip
    with pytest.raises(PermissionDenied, match="lena is not a member of the project 'fish'"):
        get_baseline(team.lena, baseline.id)
    assert get_baseline(team.vic, baseline.id).name == "llm"


def test_whoever_creates_a_project_becomes_its_member(team: Team) -> None:
    birds = create_project(team.lena, parse_spec(name="birds", labels=[{"name": "song"}], languages=[{"code": "en"}]))
    assert projects_of(team.lena.store, "lena") == sorted([team.crops.id, birds.id])
    assert [p.name for p in list_projects(team.lena)] == ["birds", "crops"]

    frame = pd.DataFrame(
        {
            "sentence": ["rain again", "aphids again", "sunny", "beetles"],
            "gold": ["weather", "pests", "weather", "pests"],
            "predicted": ["weather", "weather", "weather", "pests"],
        }
    )
    columns = PredictionColumns(text="sentence", label="gold", prediction="predicted", language="en")
    checked = check_predictions(team.lena, frame, "field notes.csv", columns)
    assert checked.project_created and checked.project.name == "field notes"
    assert [p.name for p in list_projects(team.lena)] == ["birds", "crops", "field notes"]
    # a quick check of a file named like a project the lead is not in is refused, not imported into it
    with pytest.raises(PermissionDenied, match="lena is not a member of the project 'fish'"):
        check_predictions(team.lena, frame, "fish.csv", columns)
    assert count_samples(team.olga, team.fish) == 2


def test_the_demo_project_is_its_makers_and_not_a_way_into_someone_elses(team: Team, store: Store) -> None:
    demo = create_demo_project(team.lena)
    assert demo.id in projects_of(store, "lena")
    _add(team.olga, "leo", "lead")
    with pytest.raises(PermissionDenied, match=re.escape(f"leo is not a member of the project '{demo.name}'")):
        create_demo_project(actor_as(store, "leo"))
    assert demo.id not in projects_of(store, "leo")


def test_an_annotator_undoes_only_their_own_decisions(team: Team) -> None:
    first, second, third = page_samples(team.olga, team.crops).samples
    annas = decide(team.anna, first.id, "reject", version=first.version)
    assert annas.action_id is not None
    with pytest.raises(PermissionDenied) as refused:
        undo_decision(team.ben, annas.action_id)
    assert str(refused.value) == (
        "permission denied: undoing someone else's decision needs the role lead or owner; "
        "this decision was made by anna, and ben may undo only their own"
    )
    assert page_samples(team.olga, team.crops).samples[0].status == "rejected"  # nothing changed
    assert undo_decision(team.anna, annas.action_id).sample.status == first.status

    # a lead or an owner undoes anyone's
    bens = decide(team.ben, second.id, "reject", version=second.version)
    assert bens.action_id is not None
    undone = undo_decision(team.lena, bens.action_id)
    assert (undone.sample.status, undone.sample.updated_by) == (second.status, "lena")
    annas_again = decide(team.anna, third.id, "reject", version=third.version)
    assert annas_again.action_id is not None
    assert undo_decision(team.olga, annas_again.action_id).sample.status == third.status
    # a viewer undoes nothing
    with pytest.raises(PermissionDenied, match="vic is a viewer"):
        undo_decision(team.vic, annas.action_id)
