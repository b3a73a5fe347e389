"""Where a job's worker runs: `local` (a process on this machine) or `ray` (a task on a Ray cluster).

Both run the same worker (`python -m core.jobs.worker JOB_ID`, core.jobs.runner): only how it is started, which
resources it holds and how it is stopped differ. The executor is chosen by STUDIO_EXECUTOR; the studio without it
set never imports Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import StudioError
from core.settings import Settings, get_settings
from core.store.database import Store
from core.store.jobs import Job

# what a job kind asks Ray for unless STUDIO_RAY_RESOURCES says otherwise; `generate_local` is a generation whose
# samples a local model writes, `flag` the checks job ("checks" is accepted for it in the setting)
DEFAULT_RESOURCES: dict[str, float] = {"CPU": 1.0}
RESOURCE_ALIASES = {"checks": "flag"}


@dataclass(frozen=True)
class NodeInfo:
    """One machine of the cluster, as the Jobs page and `jobs nodes --json` show it."""

    node_id: str
    address: str
    alive: bool
    head: bool
    total: dict[str, float]
    free: dict[str, float] | None  # None: the cluster did not say

    def to_public(self) -> dict[str, object]:
        return {
            "node": self.node_id,
            "address": self.address,
            "alive": self.alive,
            "head": self.head,
            "total": self.total,
            "free": self.free,
        }


class Executor(Protocol):
    name: str

    def check(self, store: Store) -> None:
        """Raise a StudioError that says what to do when jobs cannot run here (before anything is queued)."""

    def start(self, store: Store, job: Job, extra_env: dict[str, str] | None) -> None:
        """Start the worker of the queued `job` (`extra_env`: secrets typed into a page, for the worker only)."""

    def stop(self, job: Job) -> None:
        """After the job's cancel flag is raised: make sure its worker stops (a no-op where the flag suffices)."""

    def nodes(self) -> list[NodeInfo]:
        """The machines jobs may run on."""


class LocalExecutor:
    """A worker process on this machine, in its own session; heavy jobs share the heavy slots (file locks)."""

    name = "local"

    def check(self, store: Store) -> None:
        return None

    def start(self, store: Store, job: Job, extra_env: dict[str, str] | None) -> None:
        from core.jobs.queue import start_worker

        start_worker(store, job.id, extra_env=extra_env)

    def stop(self, job: Job) -> None:
        return None  # the worker sees the flag within a second or two

    def nodes(self) -> list[NodeInfo]:
        import os

        from core.jobs.queue import hostname

        return [
            NodeInfo(
                node_id=hostname(),
                address="this machine",
                alive=True,
                head=True,
                total={"CPU": float(os.cpu_count() or 1)},
                free=None,
            )
        ]


def executor_named(name: str) -> Executor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from core.jobs.ray_executor import RayExecutor

        return RayExecutor(get_settings())
    raise StudioError(f"Unknown executor '{name}'.")


def current_executor() -> Executor:
    return executor_named(get_settings().executor)


def check_store_fits(store: Store, settings: Settings | None = None) -> None:
    """Ray's workers on other machines reach the store over the network: a SQLite file is refused."""
    settings = settings or get_settings()
    if settings.executor == "ray" and store.url.startswith("sqlite"):
        raise StudioError(
            "Jobs on a Ray cluster need a PostgreSQL database that every node reaches: the studio's store is a "
            "SQLite file on this machine. Set STUDIO_DATABASE_URL to a PostgreSQL database, or STUDIO_EXECUTOR=local."
        )


def resources_for(kind: str, *, gpu: bool = False, settings: Settings | None = None) -> dict[str, float]:
    """What a job of `kind` ('train', 'generate_local', 'embed', 'flag', ...) asks Ray for.

    STUDIO_RAY_RESOURCES wins (with one CPU unless it names a count; `"CPU": 0` for none); otherwise one CPU, and
    one GPU as well when the run asks for a GPU.
    """
    settings = settings or get_settings()
    table = {RESOURCE_ALIASES.get(name, name): amounts for name, amounts in settings.ray_resources.items()}
    if kind in table:
        chosen = {**DEFAULT_RESOURCES, **table[kind]}  # a task holds one CPU unless it names another count
    else:
        chosen = dict(DEFAULT_RESOURCES)
        if gpu:
            chosen["GPU"] = 1.0
    return {name: amount for name, amount in chosen.items() if amount > 0}
