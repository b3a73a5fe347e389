"""Jobs at the front door: list, follow and cancel long work, the reaper that finds dead workers, a test job."""

from __future__ import annotations

from core.front.actor import Actor
from core.front.permissions import needs, reads, visible_project_ids
from core.jobs import executors, lifecycle, queue, reaper, wait_job
from core.jobs.executors import NodeInfo as NodeInfo
from core.jobs.queue import Job as Job
from core.jobs.time_left import JobTiming as JobTiming
from core.jobs.time_left import job_timing as job_timing

__all__ = [
    "Job",
    "JobTiming",
    "NodeInfo",
    "cancel_job",
    "cluster_nodes",
    "executor_name",
    "get_job",
    "job_timing",
    "launch_wait",
    "list_jobs",
    "reap_dead_workers",
    "run_here",
    "runs_on",
    "start_reaper",
]


@reads
def list_jobs(
    actor: Actor, project_id: int | None = None, *, active_only: bool = False, limit: int = 200, kind: str | None = None
) -> list[Job]:
    """The newest jobs first (of one project when given; of every project a lead or an annotator is a member of
    when not); a read only, it marks nothing."""
    visible = visible_project_ids(actor) if project_id is None else None
    if visible is None:
        return queue.list_jobs(actor.store, project_id, active_only=active_only, limit=limit, kind=kind)
    jobs = [
        job
        for member_of in visible
        for job in queue.list_jobs(actor.store, member_of, active_only=active_only, limit=limit, kind=kind)
    ]
    return sorted(jobs, key=lambda job: job.id, reverse=True)[:limit]


def runs_on(job: Job) -> str:
    """Where a job runs, in words: "this machine (HOST)" or "Ray node 6f100f9fc2b3 (CPU 1, GPU 1)"."""
    if job.executor == "ray":
        asked = ", ".join(f"{name} {amount:g}" for name, amount in sorted((job.resources or {}).items()))
        node = f"Ray node {job.node[:12]}" if job.node else "Ray (waiting for a node)"
        return f"{node} ({asked})" if asked else node
    return f"this machine ({job.worker_host})" if job.worker_host else "this machine"


@reads
def executor_name(actor: Actor) -> str:
    """Where new jobs run: `local` (worker processes on this machine) or `ray` (tasks on a Ray cluster)."""
    return executors.current_executor().name


@reads
def cluster_nodes(actor: Actor) -> list[NodeInfo]:
    """The machines new jobs may run on, with their resources (free ones where the cluster says); raises a
    StudioError that says what to do when the Ray cluster cannot be reached."""
    return executors.current_executor().nodes()


@reads
def get_job(actor: Actor, job_id: int) -> Job:
    return queue.get_job(actor.store, job_id)


@needs("jobs.cancel")
def cancel_job(actor: Actor, job_id: int) -> Job:
    """Asks the job's worker to stop (a queued job is cancelled at once)."""
    return queue.cancel_job(actor.store, job_id)


@needs("jobs.test")
def launch_wait(
    actor: Actor, seconds: float, steps: int, *, project_id: int | None = None, background: bool = True
) -> Job:
    """A test job that waits, reporting progress in steps: shows that workers run (queued only, for `run_here`,
    when not in the background)."""
    return wait_job.launch_wait(actor.store, seconds, steps, project_id=project_id, background=background)


@needs("jobs.run")
def run_here(actor: Actor, job_id: int, *, echo: bool = False) -> str:
    """Runs a queued job to its end in this process (the CLI's foreground mode); returns its final status."""
    return lifecycle.run_here(actor.store, job_id, echo=echo)


@needs("jobs.housekeeping")
def reap_dead_workers(actor: Actor) -> list[int]:
    """Marks failed every active job whose worker has disappeared and settles its run; returns their ids."""
    return reaper.reap_dead_workers(actor.store)


@needs("jobs.housekeeping")
def start_reaper(actor: Actor, every_seconds: float = 10.0) -> bool:
    """Starts, once per process, the thread that finds jobs whose worker died; False when it runs already."""
    return reaper.start_reaper(actor.store, every_seconds)
