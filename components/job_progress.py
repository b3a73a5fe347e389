"""Live job progress: polls the job row once a second only while the job is active; shows how long it has run
and, roughly, how long it has left."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components.feedback import friendly_errors
from components.role_gate import may
from components.safe_text import md, say
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.jobs import Job, cancel_job, get_job, job_timing

STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/progress_activity:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}
LOG_TAIL_LINES = 40


def _duration(job: Job) -> str:
    if job.started_at is None:
        return ""
    end = job.finished_at
    if end is None:
        return "running"
    seconds = (end - job.started_at).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def log_tail(job: Job, lines: int = LOG_TAIL_LINES) -> str:
    path = Path(job.log_path)
    if not job.log_path or not path.exists():
        return ""
    content = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(content[-lines:])


def job_status(store: Store, job: Job) -> None:
    """One job's state: progress and a cancel button while active, else how it ended."""
    icon = STATUS_ICONS.get(job.status, "")
    st.markdown(icon + say(" **Job \\#{} · {}** — {}", job.id, job.title, job.status))
    if job.active:
        st.progress(job.progress, text=md(job.message or job.status))
        st.caption(job_timing(job).sentence())
        if may("jobs.cancel") and st.button(
            "Cancel", key=f"cancel_job_{job.id}", disabled=job.cancel_requested, icon=":material/stop:"
        ):
            with friendly_errors("Cancelling"):
                cancel_job(current_actor(), job.id)
                st.rerun(scope="fragment")
        if job.cancel_requested:
            st.caption("Cancel requested: the job stops at its next check.")
    else:
        job_outcome(job)


def job_outcome(job: Job) -> None:
    """How a finished job ended, in one message."""
    if job.status == "failed":
        st.error(md(job.message or "The job failed."))
    elif job.status == "cancelled":
        st.warning(md(job.message or "Cancelled."))
    else:
        st.success(md(f"{job.message or 'Finished'} ({_duration(job)})"))


def live_job(store: Store, job_id: int) -> Job:
    """Show one job; while it is queued or running the panel refreshes itself every second."""
    job = get_job(current_actor(), job_id)

    @st.fragment(run_every=1.0 if job.active else None)
    def panel() -> None:
        current = get_job(current_actor(), job_id)
        job_status(store, current)
        if job.active and not current.active:
            st.rerun(scope="app")  # the job just ended: let the whole page show its results

    panel()
    return job
