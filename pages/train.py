"""Train: choose what the model learns from, pick a trainer, watch it learn, use and compare the runs."""

from __future__ import annotations

import streamlit as st

import core.front.training as front
from components.feedback import flash, friendly_errors
from components.page_opening import open_project_page
from components.role_gate import gate
from components.safe_text import say
from components.studio_state import current_actor
from components.training_form import snapshot_options, snapshot_preview, trainer_choice, training_estimate
from components.training_runs import active_run, runs_list
from core.front.jobs import executor_name
from core.front.training import TrainingRequest

_, project = open_project_page(
    "Train", without_project="Create a project first: a model learns its labels from its samples."
)
actor = current_actor()

running = [r for r in front.list_runs(actor, project.id) if r.active]
for run in running:
    st.markdown(say("**Training {}** ({})", run.name, run.trainer))
    active_run(actor, run)

if gate("training.run"):
    with (
        st.expander("New training run", expanded=not running, icon=":material/model_training:"),
        friendly_errors("Reading the samples"),
    ):
        st.markdown("**What the model learns from** — only the TRAIN split; the test split is for evaluation")
        options, curve, preview = snapshot_options(actor, project)
        snapshot_preview(preview)
        st.divider()
        trainer, name, values = trainer_choice(project)
        estimate = training_estimate(actor, project, trainer, values, preview, curve) if preview.total else None
        if estimate is not None:
            st.info(estimate.sentence(), icon=":material/timer:")
        on_ray = executor_name(actor) == "ray"
        gpu = on_ray and st.toggle(
            "Train on a node with a GPU",
            help="The job asks the Ray cluster for a GPU and waits until a node with one is free.",
        )
        if trainer in ("finetune", "setfit"):
            where = "a Ray node's GPU" if gpu else "a Ray node" if on_ray else front.training_device(actor).words()
            st.caption(say("Trains on {}.", where))
        if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=preview.total == 0):
            request = TrainingRequest(name=name, trainer=trainer, params=values, options=options, curve=curve, gpu=gpu)
            launched = front.launch(actor, project.id, request)
            flash(f"Training {launched.run.name} started (job #{launched.job.id}).", "info")
            st.rerun()

st.subheader("Trained runs")
with friendly_errors("Listing the runs"):
    runs_list(actor, project)
