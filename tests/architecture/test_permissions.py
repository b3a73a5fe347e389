"""Roles, enforced at the front door: every public front-door function is either a declared read or needs an action
of the one permission table, and every changing function x every role is allowed or refused as the table says, on
a real store, before anything changes. Personal mode (no accounts) may do everything."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, ClassVar, NoReturn

import pandas as pd
import pytest
from sqlalchemy import MetaData, func, select

import core.front
from core.accounts.manage import create_account
from core.accounts.members import add_member
from core.cli.app import main
from core.errors import PermissionDenied, StudioError
from core.front.accounts import add_account
from core.front.actor import ROLES, Actor
from core.front.curation import bulk_change, decide
from core.front.data import ColumnMapping, execute_import, page_samples, plan_import
from core.front.permissions import PERMISSIONS, action_of, allowed, is_read, require
from core.front.projects import (
    Project,
    create_project,
    get_project,
    list_projects,
    open_studio,
    parse_spec,
    remove_project,
)
from core.settings import get_settings
from core.store import Store

# Allowed calls of these are not made for real (the table's answer is checked instead): what they would start.
NOT_CALLED_WHEN_ALLOWED = {"core.front.jobs.start_reaper": "starts a reaper thread once per test process"}
# the front door's own machinery: who acts, and the permission check itself
NOT_ENTRY_POINTS = {"actor", "permissions"}


def _front_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.iter_modules(core.front.__path__) if info.name not in NOT_ENTRY_POINTS]
    return [importlib.import_module(f"core.front.{name}") for name in sorted(names)]


def _takes_actor_first(fn: Callable[..., Any]) -> bool:
    parameters = list(inspect.signature(fn).parameters)
    return bool(parameters) and parameters[0] == "actor"


def front_functions() -> list[tuple[str, Callable[..., Any]]]:
    """Every public function defined in core.front.* that takes the acting user first, by its dotted name."""
    found: list[tuple[str, Callable[..., Any]]] = []
    for module in _front_modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            if _takes_actor_first(obj):
                found.append((f"{module.__name__}.{name}", obj))
    return found


FRONT_FUNCTIONS = front_functions()
CHANGING = [(name, fn, action) for name, fn in FRONT_FUNCTIONS if (action := action_of(fn)) is not None]


def test_every_front_door_function_is_a_read_or_needs_an_action_of_the_table() -> None:
    assert len(FRONT_FUNCTIONS) > 80, "the front door's functions were not found"
    unmarked = [name for name, fn in FRONT_FUNCTIONS if action_of(fn) is None and not is_read(fn)]
    assert unmarked == [], "mark each with @needs('<action>') or @reads (core.front.permissions)"
    both = [name for name, fn in FRONT_FUNCTIONS if action_of(fn) is not None and is_read(fn)]
    assert both == []
    assert all(action in PERMISSIONS for _, _, action in CHANGING)
    assert len(CHANGING) > 30


def test_the_table_names_only_known_roles_and_every_action_allows_the_owner() -> None:
    for action, permission in PERMISSIONS.items():
        assert permission.roles, action
        assert set(permission.roles) <= set(ROLES), action
        assert "owner" in permission.roles, action
        assert permission.doing and permission.doing == permission.doing.strip(), action


def test_the_refusal_says_which_role_is_needed_and_who_asked(sqlite_store: Store) -> None:
    anna = Actor(sqlite_store, "anna", "annotator", team=True)
    with pytest.raises(PermissionDenied) as refused:
        require(anna, "project.create")
    assert (
        str(refused.value) == "permission denied: creating a project needs the role lead or owner; anna is an annotator"
    )
    with pytest.raises(PermissionDenied, match=r"^permission denied: deleting a project needs the role owner; "
                       r"bob is a lead$"):  # fmt: skip
        require(Actor(sqlite_store, "bob", "lead", team=True), "project.delete")
    assert isinstance(refused.value, StudioError)  # the CLI prints it on one line and exits with 1
    assert "\n" not in str(refused.value)


# --- the matrix --------------------------------------------------------------------------------------------------


class Untouchable:
    """A dummy argument: using it in any way fails (and is recorded), so a refused call shows it touched nothing."""

    used: ClassVar[list[str]] = []

    def _use(self, what: str) -> NoReturn:
        Untouchable.used.append(what)
        raise TypeError(f"a dummy argument was used ({what})")

    def __getattr__(self, name: str) -> Any:
        self._use(f"attribute {name}")

    def __getitem__(self, key: object) -> Any:
        self._use("item")

    def __iter__(self) -> Iterator[Any]:
        self._use("iteration")

    def __len__(self) -> int:
        self._use("len")

    def __int__(self) -> int:
        self._use("int")

    def __index__(self) -> int:
        self._use("index")

    def __float__(self) -> float:
        self._use("float")

    def __str__(self) -> str:
        self._use("str")

    def __fspath__(self) -> str:
        self._use("path")

    def __bool__(self) -> bool:
        self._use("truth")

    def __repr__(self) -> str:
        return "<untouchable>"


def _dummy_arguments(fn: Callable[..., Any]) -> dict[str, Any]:
    """A dummy for every parameter after the actor; nothing runs in the background."""
    parameters = list(inspect.signature(fn).parameters)[1:]
    return {name: (False if name == "background" else Untouchable()) for name in parameters}


def _row_counts(store: Store) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(store.engine)
    with store.engine.connect() as connection:
        return {name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()}  # fmt: skip


def _small_project(store: Store) -> Project:
    me = Actor.of(store)
    project = create_project(
        me, parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    frame = pd.DataFrame(
        {"text": ["rain all week", "aphids on the beans", "a dry spell"], "label": ["weather", "pests", "weather"]}
    )
    plan = plan_import(
        me, project, frame, ColumnMapping(text_column="text", label_column="label", language="en"), "test rows"
    )
    execute_import(me, project, plan)
    return get_project(me, project.id)


def _matrix() -> list[Any]:
    return [
        pytest.param(name, fn, action, role, id=f"{name.removeprefix('core.front.')}-{role}")
        for name, fn, action in CHANGING
        for role in ROLES
    ]


@pytest.mark.parametrize(("name", "fn", "action", "role"), _matrix())
def test_every_changing_entry_point_as_every_role(
    sqlite_store: Store, name: str, fn: Callable[..., Any], action: str, role: str
) -> None:
    _small_project(sqlite_store)
    anna = Actor(sqlite_store, "anna", role, team=True)
    arguments = _dummy_arguments(fn)
    Untouchable.used = []
    if role not in PERMISSIONS[action].roles:
        before = _row_counts(sqlite_store)
        with pytest.raises(PermissionDenied, match=rf"^permission denied: .* needs the role .*; anna is an? {role}$"):
            fn(anna, **arguments)
        assert Untouchable.used == [], "the refusal came after the arguments were used"
        assert _row_counts(sqlite_store) == before
        return
    assert allowed(anna, action)
    if name in NOT_CALLED_WHEN_ALLOWED:
        return
    try:
        result = fn(anna, **arguments)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    except PermissionDenied:
        pytest.fail(f"{name} refused a {role}, which the table allows {action}")
    except Exception:
        pass  # the dummy arguments went past the check: allowed


def test_refused_calls_with_real_arguments_change_nothing(sqlite_store: Store) -> None:
    project = _small_project(sqlite_store)
    me = Actor.of(sqlite_store)
    sample = page_samples(me, project).samples[0]
    create_account(sqlite_store, "olga", "owner", "a long enough password 1")
    create_account(sqlite_store, "anna", "annotator", "a long enough password 2")
    add_member(sqlite_store, project.id, "anna")
    annotator = Actor(sqlite_store, "anna", "annotator", team=True)
    viewer = Actor(sqlite_store, "victor", "viewer", team=True)
    lead = Actor(sqlite_store, "lena", "lead", team=True)
    before = _row_counts(sqlite_store)

    with pytest.raises(PermissionDenied):
        create_project(annotator, parse_spec(name="more", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    with pytest.raises(PermissionDenied):
        decide(viewer, sample.id, "reject", version=sample.version)
    with pytest.raises(PermissionDenied):
        bulk_change(annotator, project, "reject", ids=[sample.id])
    with pytest.raises(PermissionDenied):
        remove_project(lead, project.id)

    assert _row_counts(sqlite_store) == before
    assert [p.name for p in list_projects(viewer)] == ["crops"]
    assert page_samples(viewer, project).samples[0] == sample
    # what an annotator may do, it does
    decided = decide(annotator, sample.id, "reject", version=sample.version)
    assert decided is not None


def test_personal_mode_may_do_everything(sqlite_store: Store) -> None:
    me = Actor.of(sqlite_store)
    assert not me.team
    assert all(allowed(me, action) for action in PERMISSIONS)
    project = _small_project(sqlite_store)
    remove_project(me, project.id)
    assert list_projects(me) == []


def test_the_cli_prints_a_refusal_on_one_line_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    store = open_studio(get_settings().database_url, "tester", create_demo=False)
    try:
        add_account(Actor.of(store), "olga", "owner", "a long enough password 1")
        add_account(Actor(store, "olga", "owner", team=True), "anna", "annotator", "a long enough password 2")
    finally:
        store.dispose()
    code = main(["--as", "anna", "init", "--project", "crops", "--labels", "weather,pests", "--languages", "en"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        "error: permission denied: creating a project needs the role lead or owner; anna is an annotator\n"
    )
    assert captured.out == ""
