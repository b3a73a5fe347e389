"""Who may do what: one table of actions and the roles allowed each, and the check every front-door function that
changes something (or starts a job) makes first.

In personal mode (no account exists) the one person using the studio may do everything; in team mode the acting
account's role must be one the action allows, or `PermissionDenied` says which role it needs. Functions that only
read are marked `@reads`, so tests can check that every public front-door function is one or the other.

Project membership: in team mode a lead or an annotator sees only the projects they are a member of (owners and
viewers see every project; viewers only read). Both decorators find the project a call works on from its arguments
(SCOPE_PARAMETERS: a project, its id or name, or the id of a sample, a log row, a job, a run, an evaluation, a
baseline) and refuse a project the actor is not a member of, before anything runs; a front-door function whose
parameter looks like an id but is not in the table fails at import, so none can forget the check. Functions that
list things of every project filter with `visible_project_ids`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from core.accounts import members
from core.errors import NotFound, PermissionDenied
from core.front.actor import ROLES, Actor
from core.store import accounts as account_store
from core.store import projects as project_store
from core.store.projects import Project

P = ParamSpec("P")
R = TypeVar("R")

EVERYONE = ROLES
LEADS = ("owner", "lead")
REVIEWERS = ("owner", "lead", "annotator")
OWNERS = ("owner",)

MEMBERS_ONLY = ("lead", "annotator")  # in team mode these roles see only the projects they are members of

ACTION_ATTRIBUTE = "__studio_action__"  # on a function marked @needs: its action
READS_ATTRIBUTE = "__studio_reads__"  # on a function marked @reads: True
SCOPES_ATTRIBUTE = "__studio_scopes__"  # on a marked function: its (parameter, kind) pairs that name a project


@dataclass(frozen=True)
class Permission:
    """The roles allowed an action, and the action in words ("creating a project") for the refusal."""

    roles: tuple[str, ...]
    doing: str


PERMISSIONS: dict[str, Permission] = {
    # projects
    "project.create": Permission(LEADS, "creating a project"),
    "project.edit": Permission(LEADS, "changing a project's settings"),
    "project.delete": Permission(OWNERS, "deleting a project"),
    # samples
    "samples.review": Permission(REVIEWERS, "reviewing a sample"),
    "samples.undo_others": Permission(LEADS, "undoing someone else's decision"),
    "samples.bulk": Permission(LEADS, "changing many samples at once"),
    "import": Permission(LEADS, "importing samples"),
    # review work (team mode, part 2)
    "review.assign": Permission(LEADS, "distributing review work"),
    "review.settings": Permission(LEADS, "changing a project's review rules"),
    "review.gold": Permission(LEADS, "marking gold samples"),
    "review.judge": Permission(REVIEWERS, "judging a sample of a review queue"),
    "review.adjudicate": Permission(LEADS, "deciding a sample the annotators disagree on"),
    "review.results": Permission(LEADS, "reading the annotators' judgements and agreement"),
    "export": Permission(LEADS, "writing a file on the server"),
    "server_files.read": Permission(OWNERS, "reading a file on the server from the browser"),
    # curation
    "checks.run": Permission(LEADS, "running the checks"),
    "checks.settings": Permission(LEADS, "choosing the near-duplicate threshold"),
    "embedding.run": Permission(LEADS, "computing embeddings"),
    # prompts and generation
    "prompts.builtins": Permission(EVERYONE, "adding the built-in prompt templates"),
    "prompts.edit": Permission(LEADS, "editing a prompt template"),
    "endpoints.check": Permission(LEADS, "checking an LLM server"),
    "generation.run": Permission(LEADS, "starting or changing a generation run"),
    # training, evaluation and models
    "training.run": Permission(LEADS, "starting a training run"),
    "training.delete": Permission(LEADS, "deleting a training run"),
    "predict.run": Permission(LEADS, "labelling a file with a trained model"),
    "evaluation.run": Permission(LEADS, "evaluating a model"),
    "baseline.run": Permission(LEADS, "starting an LLM baseline"),
    "quickcheck.run": Permission(LEADS, "checking a file of predictions"),
    "modelcheck.run": Permission(LEADS, "checking a Hugging Face model"),
    # jobs
    "jobs.cancel": Permission(LEADS, "cancelling a job"),
    "jobs.run": Permission(LEADS, "running a job"),
    "jobs.test": Permission(LEADS, "starting a test job"),
    "jobs.housekeeping": Permission(EVERYONE, "finding jobs whose worker stopped"),
    # the studio itself
    "models.provision": Permission(OWNERS, "making a model available on the server"),
    "settings.change": Permission(OWNERS, "changing the studio's settings"),
    "endpoints.manage": Permission(OWNERS, "managing the LLM endpoints"),
    "accounts.manage": Permission(OWNERS, "managing accounts"),
    "audit.read": Permission(OWNERS, "reading the audit log"),
}


def _roles_in_words(roles: tuple[str, ...]) -> str:
    """("owner", "lead") -> "lead or owner": the least powerful role first."""
    ordered = sorted(roles, key=ROLES.index, reverse=True)
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _with_article(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role


def allowed(actor: Actor, action: str) -> bool:
    """Whether the actor may do the action (always in personal mode)."""
    permission = PERMISSIONS[action]
    return not actor.team or actor.role in permission.roles


def require(actor: Actor, action: str) -> None:
    """Raises PermissionDenied when the actor's role does not allow the action."""
    if allowed(actor, action):
        return
    permission = PERMISSIONS[action]
    raise PermissionDenied(
        f"permission denied: {permission.doing} needs the role {_roles_in_words(permission.roles)}; "
        f"{actor.user} is {_with_article(actor.role)}"
    )


def _actor_in(args: tuple[object, ...], kwargs: dict[str, object]) -> Actor:
    actor = args[0] if args else kwargs.get("actor")
    if not isinstance(actor, Actor):
        raise TypeError("a front-door function takes the acting user (an Actor) first")
    return actor


# --- project membership ------------------------------------------------------------------------------------------

PROJECT = "project"  # a Project, a project's id, or (a string) its name or id
IN_HAND = "in hand"  # an object read before (a run, an evaluation): its `project_id`
# A parameter's name -> what its value names: PROJECT, IN_HAND, or the kind of thing whose id(s) it holds (a key of
# core.store.accounts.SCOPED_COLUMNS).
SCOPE_PARAMETERS: dict[str, str] = {
    "project": PROJECT,
    "project_id": PROJECT,
    "ref": PROJECT,
    "sample_id": "sample",
    "current_id": "sample",
    "action_id": "action",
    "job_id": "job",
    "evaluation_id": "evaluation",
    "evaluation_ids": "evaluation",
    "baseline_id": "baseline",
    "run": IN_HAND,
    "evaluation": IN_HAND,
}
# a name that names different things in different modules: (module, parameter) -> kind
SCOPE_PARAMETERS_OF_MODULE: dict[tuple[str, str], str] = {
    ("core.front.training", "run_id"): "training_run",
    ("core.front.generation", "run_id"): "generation_run",
}
# parameters named like ids that name no project of their own, and why
NOT_SCOPES: dict[str, str] = {
    "ids": "samples of the call's `project`: the store changes only that project's samples",
    "labels_by_id": "samples of the call's `project`, as `ids`",
}


def sees_every_project(actor: Actor) -> bool:
    """Personal mode, owners and viewers: every project; leads and annotators only their own."""
    return not actor.team or actor.role not in MEMBERS_ONLY


def visible_project_ids(actor: Actor) -> set[int] | None:
    """The ids of the projects the actor may see; None for every project."""
    if sees_every_project(actor):
        return None
    return members.visible_project_ids(actor.store, actor.user)


def require_members(actor: Actor, project_ids: Collection[int]) -> None:
    """Raises PermissionDenied unless the actor may see every one of these projects."""
    visible = visible_project_ids(actor) if project_ids else None
    if visible is None:
        return
    outside = sorted(set(project_ids) - visible)
    if not outside:
        return
    name = account_store.project_names(actor.store, outside[:1]).get(outside[0], f"#{outside[0]}")
    raise PermissionDenied(
        f"permission denied: {actor.user} is not a member of the project '{name}' (an owner can add them to it)"
    )


def require_member(actor: Actor, project_id: int) -> None:
    require_members(actor, [project_id])


def require_member_if_named(actor: Actor, ref: int | str) -> None:
    """For a function that picks a project by a name it makes up (the quick check's project named after its file):
    refuses when that project exists and the actor is not its member."""
    if sees_every_project(actor):
        return
    try:
        project_id = project_store.get_project(actor.store, ref).id
    except NotFound:
        return
    require_member(actor, project_id)


def joins_created_project(actor: Actor, project_id: int) -> None:
    """Whoever creates a project in team mode becomes its member in the same call (a lead sees what they made)."""
    if actor.team:
        members.join_created_project(actor.store, project_id, actor.user)


def _looks_like_an_id(name: str) -> bool:
    return name == "ids" or name.endswith(("_id", "_ids"))


def scopes_of(fn: Callable[..., object]) -> tuple[tuple[str, str], ...]:
    """The (parameter, kind) pairs through which a front-door function names the project(s) it works on. A parameter
    named like an id that the tables do not place is an error at import: its project would go unchecked."""
    module = getattr(fn, "__module__", "")
    found: list[tuple[str, str]] = []
    for name in list(inspect.signature(fn).parameters)[1:]:
        kind = SCOPE_PARAMETERS_OF_MODULE.get((module, name)) or SCOPE_PARAMETERS.get(name)
        if kind is not None:
            found.append((name, kind))
        elif _looks_like_an_id(name) and name not in NOT_SCOPES:
            raise TypeError(
                f"{module}.{fn.__qualname__}: which project does the parameter '{name}' name? Place it in "
                "SCOPE_PARAMETERS (or NOT_SCOPES) in core/front/permissions.py"
            )
    return tuple(found)


def _unreadable(name: str, value: object) -> TypeError:
    return TypeError(f"cannot tell which project the argument '{name}' ({type(value).__name__}) names")


def _ids(name: str, value: object) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        return list(value)
    raise _unreadable(name, value)


def _project_ids_of_call(actor: Actor, scopes: tuple[tuple[str, str], ...], arguments: dict[str, object]) -> set[int]:
    """The existing projects the call's arguments name (a thing that does not exist names none: the function
    itself says it was not found)."""
    project_ids: set[int] = set()
    wanted: dict[str, set[int]] = {}
    for name, kind in scopes:
        value = arguments.get(name)
        if value is None:
            continue
        if kind == IN_HAND:
            project_id = getattr(value, "project_id", None)
            if not isinstance(project_id, int):
                raise _unreadable(name, value)
            project_ids.add(project_id)
        elif kind == PROJECT and isinstance(value, Project):
            wanted.setdefault(PROJECT, set()).add(value.id)
        elif kind == PROJECT and isinstance(value, str):
            try:
                project_ids.add(project_store.get_project(actor.store, value).id)
            except NotFound:
                continue
        else:
            wanted.setdefault(kind, set()).update(_ids(name, value))
    for kind, ids in wanted.items():
        project_ids.update(
            p for p in account_store.projects_of_things(actor.store, kind, ids).values() if p is not None
        )
    return project_ids


def _checked(fn: Callable[P, R], action: str | None) -> Callable[P, R]:
    """`fn` with the role check (for an action) and the membership check in front of it."""
    scopes = scopes_of(fn)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        actor = _actor_in(args, kwargs)
        if action is not None:
            require(actor, action)
        if scopes and not sees_every_project(actor):
            try:
                arguments = signature.bind(*args, **kwargs).arguments
            except TypeError:
                return fn(*args, **kwargs)  # a wrong call fails as it would have
            require_members(actor, _project_ids_of_call(actor, scopes, arguments))
        return fn(*args, **kwargs)

    setattr(checked, SCOPES_ATTRIBUTE, scopes)
    return checked


def needs(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Marks a front-door function that changes something: the actor's permission for `action` is checked before
    anything else, then their membership of the project the call works on (for a coroutine function: when it is
    called, before the coroutine runs)."""
    if action not in PERMISSIONS:
        raise KeyError(f"no such action in the permission table: {action}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        checked = _checked(fn, action)
        setattr(checked, ACTION_ATTRIBUTE, action)
        return checked

    return decorate


def reads(fn: Callable[P, R]) -> Callable[P, R]:
    """Marks a front-door function that only reads: every role may call it, on the projects it may see."""
    checked = _checked(fn, None) if scopes_of(fn) else fn
    setattr(checked, READS_ATTRIBUTE, True)
    return checked


def scopes_checked(fn: object) -> tuple[tuple[str, str], ...]:
    """The (parameter, kind) pairs a marked front-door function checks membership through."""
    scopes = getattr(fn, SCOPES_ATTRIBUTE, ())
    return scopes if isinstance(scopes, tuple) else ()


def action_of(fn: object) -> str | None:
    """The action a front-door function needs; None for a read (or an unmarked function)."""
    action = getattr(fn, ACTION_ATTRIBUTE, None)
    return action if isinstance(action, str) else None


def is_read(fn: object) -> bool:
    return getattr(fn, READS_ATTRIBUTE, False) is True
