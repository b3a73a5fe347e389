"""Label where it pays most (active learning), from the Review tab: pick a finished training run and languages, start
the ranking of the unlabeled human training texts by that model's doubt (a job: its progress shows here and on the
Jobs page), then label them least sure first: the queue opens by itself when the job this person started is done."""

from __future__ import annotations

import streamlit as st

from components.feedback import friendly_errors
from components.job_progress import job_outcome, live_job
from components.kept_widgets import kept
from components.review_queue import open_ranked_queue
from components.role_gate import may
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.jobs import get_job, list_jobs
from core.front.projects import Project
from core.front.queues import UNCERTAIN_KIND, ranking_choices
from core.front.training import rank_by_doubt
from core.language_names import language_name

JOB_KIND = "rank_uncertain"
TO_LABEL = "To label (no label yet)"  # components/review_queue.py QUEUES: the texts the ranking flags


def _keys(project: Project) -> tuple[str, str, str]:
    prefix = f"doubt_ranking_{project.id}"
    return f"{prefix}_run", f"{prefix}_languages", f"{prefix}_started"


def ranking_panel(store: Store, project: Project) -> None:
    """Drawn above the review queue, for those who may start the ranking, when the project has unlabeled human
    training texts; nothing otherwise."""
    if not may("predict.run"):
        return
    choices = ranking_choices(current_actor(), project)
    if not choices.languages:
        return
    run_key, languages_key, started_key = _keys(project)
    started = st.session_state.get(started_key)
    job = get_job(current_actor(), started) if started else None
    if job is not None and job.status == "done" and not st.session_state.get(f"{started_key}_opened"):
        st.session_state[f"{started_key}_opened"] = True  # once: the queue is theirs to change afterwards
        open_ranked_queue(project, UNCERTAIN_KIND, TO_LABEL)
    waiting = sum(choices.languages.values())
    with st.expander(
        f"Label where it pays most: order the {waiting:,} texts without a label by the model's doubt",
        icon=":material/psychology_alt:",
        expanded=job is not None,
    ):
        if not choices.runs:
            st.info("Train a model first (Train page): its doubt about each text orders them.")
            st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
            return
        st.caption(
            "A trained model labels people's training texts that have no label yet; the queue **To label** then shows "
            "first the texts it is least sure of, where a person's label teaches it most."
        )
        left, right = st.columns(2)
        run = left.selectbox("Model (a finished training run)", choices.runs, **kept(run_key, options=choices.runs))
        codes = list(choices.languages)
        languages = right.multiselect(
            "Languages",
            codes,
            format_func=lambda code: f"{language_name(code)} ({choices.languages[code]:,} texts)",
            placeholder="All languages",
            **kept(languages_key, [], options=codes),
        )
        if st.button(
            "Rank by the model's doubt",
            key=f"doubt_ranking_{project.id}_start",
            type="primary",
            icon=":material/sort:",
            disabled=(job is not None and job.active) or run is None,
        ):
            with friendly_errors("Starting the ranking"):
                job = rank_by_doubt(current_actor(), project, str(run), languages=tuple(languages))
                st.session_state[started_key] = job.id
                st.session_state.pop(f"{started_key}_opened", None)
                st.rerun()
        last = job or next(iter(list_jobs(current_actor(), project.id, kind=JOB_KIND, limit=1)), None)
        if last is not None and last.active:
            live_job(store, last.id)
        elif last is not None:
            job_outcome(last)  # how this person's ranking, or else the last one, ended
        if last is not None and last.status == "done":
            st.button(
                "Open the texts least sure first",
                key=f"doubt_ranking_{project.id}_open",
                icon=":material/low_priority:",
                on_click=open_ranked_queue,
                args=(project, UNCERTAIN_KIND, TO_LABEL),
                help="The queue To label, filtered to the ranked texts, least sure first.",
            )
