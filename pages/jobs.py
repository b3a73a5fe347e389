"""Jobs: long work (generation, embedding, training, evaluation) running in worker processes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.job_progress import job_outcome, job_status, log_tail
from components.page_opening import open_page
from components.people import namer
from components.safe_text import say
from components.studio_state import current_actor
from core.front.jobs import NodeInfo, cluster_nodes, executor_name, launch_wait, list_jobs, runs_on

store, project = open_page("Jobs")
actor = current_actor()
project_id = project.id if project else None
on_ray = executor_name(actor) == "ray"
if on_ray:
    st.caption(
        "Generation, embedding, training and evaluation run as jobs on the Ray cluster: each takes the CPUs, GPUs "
        "or other resources its kind asks for on a node that has them free, and keeps going when you switch pages, "
        "reload, or restart the studio."
    )
else:
    st.caption(
        "Generation, embedding, training and evaluation run as jobs in their own processes: they keep going "
        "when you switch pages, reload, or restart the studio. One heavy job runs at a time; others wait."
    )


def _amounts(values: dict[str, float] | None) -> str:
    return "" if values is None else ", ".join(f"{name} {amount:g}" for name, amount in sorted(values.items()))


def cluster(nodes: list[NodeInfo]) -> None:
    alive = [n for n in nodes if n.alive]
    st.subheader("Cluster")
    stopped = len(nodes) - len(alive)
    st.caption(f"{len(alive)} node(s) running" + (f", {stopped} stopped" if stopped else ""))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "node": n.node_id[:12] + (" (head)" if n.head else ""),
                    "address": n.address,
                    "state": "running" if n.alive else "stopped",
                    "free CPUs": (n.free or {}).get("CPU", 0.0) if n.alive and n.free is not None else None,
                    "free GPUs": (n.free or {}).get("GPU", 0.0) if n.alive and n.free is not None else None,
                    "free": _amounts(n.free) if n.alive else "",
                    "total": _amounts(n.total),
                }
                for n in nodes
            ]
        ),
        hide_index=True,
        width="stretch",
    )


if on_ray:
    with friendly_errors("Reading the Ray cluster"):
        cluster(cluster_nodes(actor))

with st.expander("Check that jobs work: start a short test job"):
    seconds = st.number_input("Seconds", min_value=1, max_value=600, value=10)
    if st.button("Start test job", icon=":material/play_arrow:"):
        with friendly_errors("Starting the job"):
            job = launch_wait(actor, float(seconds), int(seconds), project_id=project_id)
            st.query_params["job"] = str(job.id)
            flash(f"Job #{job.id} started.", "info")
            st.rerun()

any_active = any(job.active for job in list_jobs(actor, project_id))


@st.fragment(run_every=1.0 if any_active else None)
def overview() -> None:
    jobs = list_jobs(actor, project_id)  # jobs whose worker died show failed once the reaper has found them
    if not jobs:
        st.info("No jobs yet. Jobs appear here when you generate, embed, train or evaluate.")
        return
    for job in jobs:
        if job.active:
            job_status(store, job)
    person = namer()
    st.subheader("All jobs" + (say(" of '{}'", project.name) if project else ""))
    table = pd.DataFrame(
        [
            {
                "id": j.id,
                "job": j.title,
                "status": j.status,
                "progress": j.progress,
                "message": j.message,
                "runs on": runs_on(j),
                "by": person(j.created_by),
                "created": j.created_at,
                "finished": j.finished_at,
            }
            for j in jobs
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
            "finished": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    ids = [j.id for j in jobs]
    requested = st.query_params.get("job")
    default = ids.index(int(requested)) if requested and requested.isdigit() and int(requested) in ids else 0
    chosen = st.selectbox("Details of job", ids, index=default, format_func=lambda i: f"#{i}", key="job_detail")
    job = next(j for j in jobs if j.id == chosen)
    if not job.active:
        job_outcome(job)
    st.caption(say("Runs on {}", runs_on(job)))
    st.code(log_tail(job) or "(the log is empty)", language=None)
    if any_active and not any(j.active for j in jobs):
        st.rerun(scope="app")  # the last active job ended: stop polling


overview()
