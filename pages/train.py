"""Train: choose what the model learns from, pick a trainer, watch it learn, use and compare the runs."""

from __future__ import annotations

import streamlit as st

from components.feedback import flash, friendly_errors, show_flash
from components.safe_text import say
from components.studio_state import current_project, get_store, run_inside_app
from components.training_form import snapshot_options, snapshot_preview, trainer_choice, training_estimate
from components.training_runs import active_run, runs_list
from core.jobs.queue import start_worker
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import list_runs, sync_runs

run_inside_app()
store = get_store()
project = current_project(store)

st.title("Train")
show_flash()
if project is None:
    st.info("Create a project first: a model learns its labels from its samples.")
    st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
    st.stop()

sync_runs(store, project.id)  # runs whose worker died are marked failed
running = [r for r in list_runs(store, project.id) if r.active]
for run in running:
    st.markdown(say("**Training {}** ({})", run.name, run.trainer))
    active_run(store, run)

with (
    st.expander("New training run", expanded=not running, icon=":material/model_training:"),
    friendly_errors("Reading the samples"),
):
    st.markdown("**What the model learns from** — only the TRAIN split; the test split is for evaluation")
    options, curve, preview = snapshot_options(store, project)
    snapshot_preview(preview)
    st.divider()
    trainer, name, values = trainer_choice(project)
    estimate = training_estimate(store, project, trainer, values, preview, curve) if preview.total else None
    if estimate is not None:
        st.info(estimate.sentence(), icon=":material/timer:")
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=preview.total == 0):
        request = TrainingRequest(name=name, trainer=trainer, params=values, options=options, curve=curve)
        run, job = start_training(store, project.id, request)
        start_worker(store, job.id)
        flash(f"Training {run.name} started (job #{job.id}).", "info")
        st.rerun()

st.subheader("Trained runs")
with friendly_errors("Listing the runs"):
    runs_list(store, project)
