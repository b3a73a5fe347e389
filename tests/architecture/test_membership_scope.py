"""Project membership, enforced at the front door: every public front-door function that names a project, directly
or through the id of something in one (a sample, a log row, a job, a run, an evaluation, a baseline), refuses a
lead or an annotator who is not a member of that project, before it uses any other argument or changes anything,
and lets a member through. The list of functions is read from the code, so a new one cannot be left out."""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.accounts.manage import create_account
from core.accounts.members import add_member
from core.errors import PermissionDenied
from core.front.actor import Actor
from core.front.curation import decide
from core.front.data import ColumnMapping, execute_import, page_samples, plan_import
from core.front.jobs import launch_wait
from core.front.permissions import (
    IN_HAND,
    NOT_SCOPES,
    PERMISSIONS,
    PROJECT,
    action_of,
    scopes_checked,
    scopes_of,
)
from core.front.projects import Project, create_project, get_project, parse_spec
from core.settings import reset_settings
from core.store import Store, generation_runs
from core.store import baselines as baseline_rows
from core.store import evaluations as evaluation_rows
from core.store.schema import Base
from core.training import run_store
from tests.architecture.test_permissions import FRONT_FUNCTIONS, Untouchable

PASSWORD = "a long enough password"

# Types whose value belongs to one project: a parameter of one of these types must be checked, or listed here.
PROJECT_TYPES = re.compile(r"\b(Project|TrainingRun|GenerationRun|Evaluation|BaselineRun|Job)\b")
IN_HAND_DATA = {
    "core.front.evaluation.report_html.shown": "drawn in a report for the call's `project`, which is checked",
    "core.front.generation.run_resume.active_jobs": "jobs the caller read for the call's `run`, which is checked",
}


def _id_like(name: str) -> bool:
    return name in {"project", "ref", "ids"} or name.endswith(("_id", "_ids"))


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return list(inspect.signature(fn).parameters.values())[1:]


SCOPED = [(name, fn, scopes_checked(fn)) for name, fn in FRONT_FUNCTIONS if scopes_checked(fn)]


def test_every_parameter_that_names_a_project_is_checked() -> None:
    assert len(SCOPED) > 60, "the checked front-door functions were not found"
    unchecked = []
    for name, fn in FRONT_FUNCTIONS:
        checked = {parameter for parameter, _ in scopes_checked(fn)}
        for parameter in _parameters(fn):
            names_one = _id_like(parameter.name) or PROJECT_TYPES.search(str(parameter.annotation))
            where = f"{name}.{parameter.name}"
            exempt = parameter.name in checked or parameter.name in NOT_SCOPES or where in IN_HAND_DATA
            if names_one and not exempt:
                unchecked.append(where)
    assert unchecked == [], "place each in SCOPE_PARAMETERS (core/front/permissions.py)"
    every = {f"{name}.{parameter.name}" for name, fn in FRONT_FUNCTIONS for parameter in _parameters(fn)}
    assert set(IN_HAND_DATA) <= every, "an exemption names a parameter that no longer exists"
    assert set(scopes_checked(get_project)) == {("ref", PROJECT)}


def test_a_front_door_function_with_an_unplaced_id_fails_at_import() -> None:
    def count_widgets(actor: Actor, widget_id: int) -> int:
        return widget_id

    with pytest.raises(TypeError, match="which project does the parameter 'widget_id' name"):
        scopes_of(count_widgets)


# --- the refusal, called for real --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One project and a real thing of each kind in it."""

    project: Project
    values: dict[str, Any]  # kind (or module:kind for runs) -> a real value


def _side(store: Store, owner: Actor, name: str) -> Side:
    project = create_project(
        owner, parse_spec(name=name, labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    frame = pd.DataFrame({"text": [f"rain in {name}", f"aphids in {name}"], "label": ["weather", "pests"]})
    mapping = ColumnMapping(text_column="text", label_column="label", language="en")
    execute_import(owner, project, plan_import(owner, project, frame, mapping, "rows"))
    project = get_project(owner, project.id)
    sample = page_samples(owner, project).samples[0]
    decision = decide(owner, sample.id, "reject", version=sample.version)
    job = launch_wait(owner, 0.01, 1, project_id=project.id, background=False)
    training = run_store.create_run(
        store, project.id, "small", trainer="setfit", mode="single", base_model="m", params={}, options={}
    )
    generation = generation_runs.create_run(
        store, project.id, template_id=None, strategy="direct", backend="replay", model="m", base_url=None,
        params={}, plan={},
    )  # fmt: skip
    evaluation = evaluation_rows.replace_evaluation(
        store, project.id, name="small", source="run", test_hash="h", metrics={}, predictions=[]
    )
    baseline = baseline_rows.create_baseline(
        store, [], project_id=project.id, name="llm", mode="zero", k=0, backend="replay", model="m", base_url=None,
        params={}, test_hash="h",
    )  # fmt: skip
    return Side(
        project,
        {
            "sample": sample.id,
            "action": decision.action_id,
            "job": job.id,
            "training_run": training.id,
            "generation_run": generation.id,
            "evaluation": evaluation.id,
            "baseline": baseline.id,
            "core.front.training:run": training,
            "core.front.generation:run": generation,
            "evaluation:in hand": evaluation,
        },
    )


def _value(side: Side, fn: Callable[..., Any], parameter: inspect.Parameter, kind: str) -> Any:
    """A real value of `side` for a checked parameter, in the form the function takes."""
    if kind == PROJECT:
        annotation = str(parameter.annotation)
        if "Project" in annotation:
            return side.project
        return side.project.name if "str" in annotation else side.project.id
    if kind == IN_HAND:
        key = "evaluation:in hand" if parameter.name == "evaluation" else f"{fn.__module__}:{parameter.name}"
        return side.values[key]
    value = side.values[kind]
    return [value] if parameter.name.endswith("_ids") else value


def _role_for(fn: Callable[..., Any]) -> str | None:
    """The least role that may call the function: an annotator, else a lead; None when only owners may (they see
    every project, so membership does not apply)."""
    action = action_of(fn)
    if action is None or "annotator" in PERMISSIONS[action].roles:
        return "annotator"
    if "lead" in PERMISSIONS[action].roles:
        return "lead"
    return None


def _cases() -> list[Any]:
    return [
        pytest.param(name, fn, parameter, id=f"{name.removeprefix('core.front.')}-{parameter}")
        for name, fn, scopes in SCOPED
        for parameter, _ in scopes
    ]


MEMBERS = {"annotator": "anna", "lead": "lena"}  # each a member of "ours" only


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Side, Side]]:
    """The two projects with a thing of each kind, built once: each test works on a copy of this database."""
    folder = tmp_path_factory.mktemp("membership")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STUDIO_HOME", str(folder / "home"))
        env.setenv("STUDIO_USER", "tester")
        reset_settings()
        store = Store(f"sqlite:///{folder / 'template.db'}", "tester")
        try:
            create_account(store, "olga", "owner", PASSWORD)
            owner = Actor(store, "olga", "owner", team=True)
            ours, theirs = _side(store, owner, "ours"), _side(store, owner, "theirs")
            for role, username in MEMBERS.items():
                create_account(store, username, role, PASSWORD)
                add_member(store, ours.project.id, username)
        finally:
            store.dispose()
            reset_settings()
    yield folder / "template.db", ours, theirs


@pytest.fixture
def world(template: tuple[Path, Side, Side], studio_home: Path) -> Iterator[tuple[Side, Side, dict[str, Actor]]]:
    source, ours, theirs = template
    copy = studio_home / "studio.db"
    copy.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as original, sqlite3.connect(copy) as target:
        original.backup(target)
    store = Store(f"sqlite:///{copy}", "tester", run_migrations=False)
    yield ours, theirs, {role: Actor(store, username, role, team=True) for role, username in MEMBERS.items()}
    store.dispose()


def _row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in Base.metadata.tables.items()}  # fmt: skip


def _call(
    fn: Callable[..., Any], actor: Actor, side_of: Callable[[str], Side], scopes: tuple[tuple[str, str], ...]
) -> Any:
    """The function called with real values for its checked parameters (each from the side `side_of` names) and an
    untouchable dummy for every other one (no background work)."""
    kinds = dict(scopes)
    arguments: dict[str, Any] = {}
    for parameter in _parameters(fn):
        if parameter.name in kinds:
            arguments[parameter.name] = _value(side_of(parameter.name), fn, parameter, kinds[parameter.name])
        else:
            arguments[parameter.name] = False if parameter.name == "background" else Untouchable()
    return fn(actor, **arguments)


@pytest.mark.parametrize(("name", "fn", "parameter"), _cases())
def test_a_non_member_is_refused_through_every_checked_parameter(
    world: tuple[Side, Side, dict[str, Actor]], name: str, fn: Callable[..., Any], parameter: str
) -> None:
    ours, theirs, actors = world
    role = _role_for(fn)
    if role is None:
        action = action_of(fn)
        assert action is not None and set(PERMISSIONS[action].roles) == {"owner"}
        return
    store = actors[role].store
    before = _row_counts(store)
    Untouchable.used = []
    with pytest.raises(PermissionDenied) as refused:
        _call(fn, actors[role], lambda p: theirs if p == parameter else ours, scopes_checked(fn))
    assert str(refused.value) == (
        f"permission denied: {actors[role].user} is not a member of the project 'theirs' (an owner can add them to it)"
    )
    assert Untouchable.used == [], "the refusal came after other arguments were used"
    assert _row_counts(store) == before


@pytest.mark.parametrize(("name", "fn", "parameter"), _cases())
def test_a_member_gets_past_the_check(
    world: tuple[Side, Side, dict[str, Actor]], name: str, fn: Callable[..., Any], parameter: str
) -> None:
    ours, _, actors = world
    role = _role_for(fn)
    if role is None:
        return
    try:
        result = _call(fn, actors[role], lambda p: ours, scopes_checked(fn))
        if inspect.iscoroutine(result):
            result.close()
    except PermissionDenied as exc:
        assert "is not a member" not in str(exc), f"{name} refused a member"  # other refusals (the undo rule) are fine
    except Exception:
        pass  # past the check: the dummy arguments (or the made-up runs) failed further on
