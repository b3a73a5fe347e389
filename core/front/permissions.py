"""Who may do what: one table of actions and the roles allowed each, and the check every front-door function that
changes something (or starts a job) makes first.

In personal mode (no account exists) the one person using the studio may do everything; in team mode the acting
account's role must be one the action allows, or `PermissionDenied` says which role it needs. Functions that only
read are marked `@reads`, so tests can check that every public front-door function is one or the other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from core.errors import PermissionDenied
from core.front.actor import ROLES, Actor

P = ParamSpec("P")
R = TypeVar("R")

EVERYONE = ROLES
LEADS = ("owner", "lead")
REVIEWERS = ("owner", "lead", "annotator")
OWNERS = ("owner",)

ACTION_ATTRIBUTE = "__studio_action__"  # on a function marked @needs: its action
READS_ATTRIBUTE = "__studio_reads__"  # on a function marked @reads: True


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
    "samples.bulk": Permission(LEADS, "changing many samples at once"),
    "import": Permission(LEADS, "importing samples"),
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


def needs(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Marks a front-door function that changes something: the actor's permission for `action` is checked before
    anything else (for a coroutine function: when it is called, before the coroutine runs)."""
    if action not in PERMISSIONS:
        raise KeyError(f"no such action in the permission table: {action}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            require(_actor_in(args, kwargs), action)
            return fn(*args, **kwargs)

        setattr(checked, ACTION_ATTRIBUTE, action)
        return checked

    return decorate


def reads(fn: Callable[P, R]) -> Callable[P, R]:
    """Marks a front-door function that only reads: every role may call it."""
    setattr(fn, READS_ATTRIBUTE, True)
    return fn


def action_of(fn: object) -> str | None:
    """The action a front-door function needs; None for a read (or an unmarked function)."""
    action = getattr(fn, ACTION_ATTRIBUTE, None)
    return action if isinstance(action, str) else None


def is_read(fn: object) -> bool:
    return getattr(fn, READS_ATTRIBUTE, False) is True
