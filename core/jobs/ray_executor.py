"""The Ray executor: each job is a Ray task, with the resources its kind asks for, that runs the same worker as the
local executor (`python -m core.jobs.worker JOB_ID`) on the node Ray picks.

- A detached actor on the head node (the dispatcher) submits the tasks and owns them, so a job outlives the page,
  the CLI or the server that started it, and `ray.cancel` can reach it from any of them.
- Progress, heartbeats and the cancel flag go through the store (PostgreSQL), logs to the artifact root (a folder
  every node reaches at the same path), exactly as with the local executor.
- When the node running a job stops, the dispatcher fails the job: "The machine running this job stopped (node N)";
  its run settles as failed and can be resumed (a generation resumes from its ledger: nothing answered is sent again).
- Tasks are never retried by Ray: a job runs once; starting it again is the run's resume.

Every node runs the studio's code at the same path as the studio's server (one checkout and venv per node, or one
on the shared folder); `ray start` is run from that venv.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from core.errors import StudioError
from core.jobs.executors import NodeInfo, check_store_fits
from core.settings import Settings
from core.store.database import Store
from core.store.jobs import Job

NAMESPACE = "distill-studio"
DISPATCHER_NAME = "studio-dispatcher"
# after ray.cancel, how long a running worker has to see its cancel flag and stop by itself before it is killed
CANCEL_GRACE_SECONDS = 30.0
REACH_SECONDS = 5.0  # to open a connection to the cluster's address
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
# the studio's own variables, and those that name models, caches and LLM keys: a worker on another node needs them
_PASSED_PREFIXES = ("STUDIO_", "OPENAI_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_")
_PASSED_SUFFIXES = ("_API_KEY", "_TOKEN")
_HEAD_RESOURCE = "node:__internal_head__"

_log = logging.getLogger(__name__)
_connect_lock = threading.Lock()
_connected_to: str | None = None  # the address this process joined


@dataclass(frozen=True)
class WorkerSpec:
    """What the dispatcher needs to run one job's worker on a node (crosses into Ray as a plain dict)."""

    job_id: int
    database_url: str
    log_path: str
    env: dict[str, str]
    resources: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "database_url": self.database_url,
            "log_path": self.log_path,
            "env": self.env,
            "resources": self.resources,
        }


def worker_env(store: Store, settings: Settings, extra_env: dict[str, str] | None) -> dict[str, str]:
    """The variables a worker on another node needs: the studio's settings, model caches, LLM keys (never logged)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(_PASSED_PREFIXES) or name.endswith(_PASSED_SUFFIXES)
    }
    env.pop("STUDIO_RAY_NODE", None)
    env.update(extra_env or {})
    env["STUDIO_HOME"] = str(settings.home)
    env["STUDIO_ARTIFACT_ROOT"] = str(settings.artifacts)
    env["STUDIO_DATABASE_URL"] = store.url
    env["STUDIO_USER"] = store.user
    env["STUDIO_EXECUTOR"] = "ray"
    return env


def lost_machine_message(node_id: str | None, detail: str = "") -> str:
    """What a job whose node stopped says (the node's id shortened to 12 characters, as the Jobs page shows it)."""
    where = f"node {node_id[:12]}" if node_id else "a node of the Ray cluster"
    text = f"The machine running this job stopped ({where}). Start the run again to finish what is left."
    return f"{text} {detail}".strip()


def _node_in(text: str) -> str | None:
    found = re.search(r"node id:?\s*([0-9a-f]{16,})", text, re.IGNORECASE)
    return found.group(1) if found else None


# -- what runs inside Ray -----------------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The worker dies with the Ray task that started it (a node that stops takes its workers along)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_worker_task(spec: dict[str, Any]) -> dict[str, Any]:
    """The body of a job's Ray task: the studio's worker process, on this node, until it ends."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    env = {**os.environ, **spec["env"], "STUDIO_RAY_NODE": node_id}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    log_path = Path(spec["log_path"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.jobs.worker", str(spec["job_id"])],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
            preexec_fn=_die_with_parent,
        )
        try:
            code = process.wait()
        except KeyboardInterrupt:  # ray.cancel: the cancel flag is raised already; the worker stops by itself
            try:
                process.wait(timeout=CANCEL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
    return {"node": node_id, "exit_code": code}


class Dispatcher:
    """Submits the studio's tasks and owns them (a detached actor on the head node, one per cluster)."""

    def __init__(self) -> None:
        self._refs: dict[int, Any] = {}
        self._lock = threading.Lock()

    def submit(self, spec: dict[str, Any]) -> str:
        import ray

        resources = dict(spec["resources"])
        cpus = resources.pop("CPU", 1.0)
        gpus = resources.pop("GPU", 0.0)
        task = ray.remote(run_worker_task).options(
            num_cpus=cpus,
            num_gpus=gpus,
            resources=resources or None,
            max_retries=0,
            retry_exceptions=False,
            name=f"studio-job-{spec['job_id']}",
        )
        ref = task.remote(spec)
        with self._lock:
            self._refs[int(spec["job_id"])] = ref
        return str(ref.hex())

    def watch(self, spec: dict[str, Any]) -> str:
        """Wait for the job's task to end; when Ray lost it (its node stopped, its worker crashed, it was cancelled
        before its worker could end it), end the job in the store. Returns how the task ended."""
        import ray
        from ray import exceptions

        job_id = int(spec["job_id"])
        with self._lock:
            ref = self._refs.get(job_id)
        if ref is None:
            return "unknown"
        try:
            ended = ray.get(ref)
            _fail_if_left_active(spec, str(ended["node"]), int(ended["exit_code"]))
            return "finished"
        except exceptions.TaskCancelledError:
            _end_in_store(spec, "cancelled", "Cancelled")
            return "cancelled"
        except (exceptions.NodeDiedError, exceptions.WorkerCrashedError, exceptions.LocalRayletDiedError) as exc:
            _end_in_store(spec, "failed", lost_machine_message(_recorded_node(spec) or _node_in(str(exc))))
            return "lost"
        except exceptions.RayError as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _end_in_store(spec, "failed", f"Ray could not run this job ({type(exc).__name__}: {text[:300]}).")
            return "error"
        finally:
            with self._lock:
                self._refs.pop(job_id, None)

    def cancel(self, job_id: int) -> bool:
        import ray

        with self._lock:
            ref = self._refs.get(int(job_id))
        if ref is None:
            return False
        ray.cancel(ref, force=False, recursive=True)
        return True

    def jobs(self) -> list[int]:
        with self._lock:
            return sorted(self._refs)


def _spec_store(spec: dict[str, Any]) -> Store:
    """The job's store, as the dispatcher reaches it (the address travels in the job's spec)."""
    return Store(spec["database_url"], spec["env"].get("STUDIO_USER", "studio"))


def _recorded_node(spec: dict[str, Any]) -> str | None:
    from core.store import jobs as job_rows

    store = _spec_store(spec)
    found = job_rows.find_job(store, int(spec["job_id"]))
    return found.node if found is not None else None


def _fail_if_left_active(spec: dict[str, Any], node_id: str, exit_code: int) -> None:
    """A worker that stopped without ending its job (it could not start: a node without the studio's code, a
    setting it cannot read) fails it, so that it does not wait forever."""
    from core.jobs.reaper import fail_lost_job
    from core.store import jobs as job_rows

    store = _spec_store(spec)
    job = job_rows.find_job(store, int(spec["job_id"]))
    if job is not None and job.active:
        fail_lost_job(
            store,
            job.id,
            f"The job's worker on node {node_id[:12]} stopped before it could finish (exit code {exit_code}). "
            "See the job's log.",
        )


def _end_in_store(spec: dict[str, Any], status: str, message: str) -> None:
    """End a job Ray lost, when its worker could not (and settle its run): only a job still active changes."""
    from core.jobs.reaper import fail_lost_job
    from core.jobs.registry import settle_run
    from core.store import jobs as job_rows

    store = _spec_store(spec)
    job_id = int(spec["job_id"])
    if status == "failed":
        fail_lost_job(store, job_id, message)
        return
    if job_rows.end_job(store, job_id, status, message):
        ended = job_rows.find_job(store, job_id)
        if ended is not None:
            settle_run(store, ended)


# -- the studio's side --------------------------------------------------------------------------------------------


def connect(settings: Settings) -> None:
    """Join the Ray cluster as a driver, once per process."""
    import ray

    global _connected_to
    with _connect_lock:
        if ray.is_initialized():
            if _connected_to in (None, settings.ray_address):
                return
            ray.shutdown()  # the settings name another cluster now
        _check_reachable(settings.ray_address)
        try:
            ray.init(
                address=settings.ray_address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
        except Exception as exc:
            raise StudioError(
                f"The Ray cluster at {settings.ray_address} cannot be reached ({type(exc).__name__}: {exc}). "
                "Start it (`ray start --head` on the head node), set STUDIO_RAY_ADDRESS to its address, or run jobs "
                "on this machine with STUDIO_EXECUTOR=local."
            ) from None
        _connected_to = settings.ray_address


def _check_reachable(address: str) -> None:
    """Ray waits minutes for a cluster that is not there: find out in seconds whether its port answers."""
    if address == "auto":
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if not current.exists():
            raise StudioError(
                "No Ray cluster runs on this machine (STUDIO_RAY_ADDRESS is 'auto'). Start one with "
                "`./studio ray start --head`, set STUDIO_RAY_ADDRESS to a cluster's HOST:PORT, or run jobs on this "
                "machine with STUDIO_EXECUTOR=local."
            )
        address = current.read_text().strip()
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=REACH_SECONDS):
            return
    except (OSError, ValueError) as exc:
        raise StudioError(
            f"The Ray cluster at {address} cannot be reached ({exc}). Start it (`./studio ray start --head` on the "
            "head node), set STUDIO_RAY_ADDRESS to its HOST:PORT, or run jobs on this machine with "
            "STUDIO_EXECUTOR=local."
        ) from None


def dispatcher() -> Any:
    """The cluster's dispatcher, created on the head node the first time a studio needs it."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        return ray.get_actor(DISPATCHER_NAME, namespace=NAMESPACE)
    except ValueError:
        pass
    head = next((n["NodeID"] for n in _ray_nodes() if n["Alive"] and _HEAD_RESOURCE in n["Resources"]), None)
    strategy = NodeAffinitySchedulingStrategy(head, soft=False) if head else "DEFAULT"
    actor = ray.remote(Dispatcher).options(
        name=DISPATCHER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,
        max_concurrency=1000,
        scheduling_strategy=strategy,
    )
    return actor.remote()


class RayExecutor:
    name = "ray"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, store: Store) -> None:
        check_store_fits(store, self.settings)
        connect(self.settings)

    def start(self, store: Store, job: Job, extra_env: dict[str, str] | None) -> None:
        import ray

        self.check(store)
        spec = WorkerSpec(
            job_id=job.id,
            database_url=store.url,
            log_path=job.log_path,
            env=worker_env(store, self.settings, extra_env),
            resources=dict(job.resources or {"CPU": 1.0}),
        ).to_dict()
        actor = dispatcher()
        ray.get(actor.submit.remote(spec))
        actor.watch.remote(spec)  # ends with the task; the dispatcher ends the job if Ray lost it

    def stop(self, job: Job) -> None:
        import ray

        try:
            connect(self.settings)
            ray.get(dispatcher().cancel.remote(job.id), timeout=30)
        except Exception:  # the flag in the store still stops a worker that runs
            _log.warning("ray.cancel of job #%s failed; its worker stops on its cancel flag", job.id, exc_info=True)

    def nodes(self) -> list[NodeInfo]:

        connect(self.settings)
        free = _free_per_node()
        found = []
        for node in _ray_nodes():
            total = {
                name: float(amount)
                for name, amount in node.get("Resources", {}).items()
                if not name.startswith("node:") and name not in ("memory", "object_store_memory")
            }
            found.append(
                NodeInfo(
                    node_id=str(node["NodeID"]),
                    address=str(node.get("NodeManagerAddress", "")),
                    alive=bool(node["Alive"]),
                    head=_HEAD_RESOURCE in node.get("Resources", {}),
                    total=total,
                    free=free.get(str(node["NodeID"])) if node["Alive"] else None,
                )
            )
        return sorted(found, key=lambda n: (not n.alive, not n.head, n.address, n.node_id))


def _ray_nodes() -> list[dict[str, Any]]:
    import ray

    listing = cast(Callable[[], list[dict[str, Any]]], ray.nodes)  # Ray's own function is not annotated
    return listing()


def _free_per_node() -> dict[str, dict[str, float]]:
    """Free resources per live node, from the cluster's own accounting (empty when this Ray does not say)."""
    import ray

    try:
        from ray.autoscaler.v2.sdk import get_cluster_status

        status = get_cluster_status(ray.get_runtime_context().gcs_address)
    except Exception:
        _log.warning("the Ray cluster's free resources could not be read", exc_info=True)
        return {}
    free: dict[str, dict[str, float]] = {}
    for node in status.active_nodes + status.idle_nodes:
        usage = node.resource_usage.usage if node.resource_usage else []
        free[str(node.node_id)] = {
            u.resource_name: float(u.total - u.used)
            for u in usage
            if not u.resource_name.startswith("node:") and u.resource_name not in ("memory", "object_store_memory")
        }
    return free
