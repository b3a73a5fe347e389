"""Evaluate: scores per language on the human test split, confusion matrices and the samples behind a cell, weak
cells to generate more for, runs and LLM baselines compared with bootstrap intervals, and a report to share."""

from __future__ import annotations

import streamlit as st

from components.confusion_matrix import confusion_matrix
from components.evaluation_views import (
    JOBS_STATE,
    baselines_view,
    comparison_view,
    error_browser,
    evaluate_run_form,
    language_table,
    language_title,
    per_label_table,
    report_download,
    weak_cells_view,
)
from components.feedback import friendly_errors, show_flash
from components.job_progress import live_job
from components.safe_text import md, say
from components.studio_state import current_project, get_store, run_inside_app
from core.evaluation.choices import evaluation_choices
from core.evaluation.comparison import display_name
from core.evaluation.error_cells import weak_cells
from core.evaluation.evaluations import latest_evaluations
from core.evaluation.metrics import OVERALL, hash_test_ids
from core.jobs.queue import list_jobs
from core.training.evaluation import load_test_set

run_inside_app()
store = get_store()
project = current_project(store)

st.title("Evaluate")
show_flash()
if project is None:
    st.info("Create a project first: evaluation scores its trained models on its human test samples.")
    st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
    st.stop()

with friendly_errors("Loading the evaluations"):
    active = [j for kind in ("evaluate", "baseline") for j in list_jobs(store, project.id, kind=kind) if j.active]
    started_here = st.session_state.get(JOBS_STATE, [])[-3:]  # this session's latest jobs: running, or how they ended
    for job_id in dict.fromkeys([*(j.id for j in active), *started_here]):
        live_job(store, job_id)
    test = load_test_set(store, project)
    test_size = len(test.sample_ids)
    choices = evaluation_choices(store, project.id)
    evaluations = latest_evaluations(store, project.id)

if not test_size and not evaluations:
    st.info(
        "This project has no labelled human test samples yet. Evaluation needs them: import real, human-labelled "
        "texts on the Data page with the split set to **test** (they are never used for training or in prompts)."
    )
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
    st.stop()

runs = [c for c in choices if c.kind == "run"]
if not runs and not evaluations:
    st.info(
        f"Nothing to evaluate yet: the {test_size:,} human test samples are ready, but no small model has been "
        "trained. Train one on the Train page (or "
        + md(f'python -m core train --project "{project.name}" --trainer linear --name first')
        + "), or run an LLM baseline below."
    )
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")

if runs:
    with (
        st.expander("Evaluate a trained run", expanded=not evaluations, icon=":material/play_circle:"),
        friendly_errors("Evaluating"),
    ):
        evaluate_run_form(store, project, runs)

if evaluations:
    by_id = {e.id: e for e in evaluations}
    requested = st.query_params.get("evaluation")
    ids = list(by_id)
    default = ids.index(int(requested)) if requested and requested.isdigit() and int(requested) in by_id else 0
    left, right = st.columns([3, 2])
    chosen = left.selectbox(
        "Evaluation",
        ids,
        index=default,
        format_func=lambda i: f"{by_id[i].title} · mean macro-F1 {by_id[i].mean_macro_f1:.3f}",
        key=f"evaluate_pick_{project.id}_{ids[0]}",  # a new evaluation (the first) is shown when it arrives
    )
    st.query_params["evaluation"] = str(chosen)
    evaluation = by_id[chosen]
    codes = [*evaluation.languages, OVERALL]
    if st.session_state.get("evaluate_language") not in codes:
        st.session_state["evaluate_language"] = codes[0]
    language = right.selectbox("Language", codes, format_func=language_title, key="evaluate_language")

    st.subheader("Scores per language")
    st.caption(
        say(
            "{}: {} human test samples · mean macro-F1 over languages **{}** · evaluated {} UTC by {}",
            evaluation.title,
            f"{evaluation.test_size:,}",
            f"{evaluation.mean_macro_f1:.3f}",
            f"{evaluation.created_at:%Y-%m-%d %H:%M}",
            evaluation.created_by,
        )
    )
    now = [i for i, code in zip(test.sample_ids, test.languages, strict=True) if code in evaluation.languages]
    if hash_test_ids(now) != evaluation.test_hash:
        st.warning(
            f"The test split has changed since this evaluation ({len(now):,} test samples in its languages now, "
            f"{evaluation.test_size:,} then): evaluate it again to score the current test split.",
            icon=":material/update:",
        )
    with friendly_errors("The scores"):
        language_table(evaluation)

    group = evaluation.metrics[language]
    st.subheader(say("Confusion matrix · {}", language_title(language)))
    true, predicted = "", ""
    with friendly_errors("Drawing the matrix"):
        worst = weak_cells(evaluation, top=1, language=None if language == OVERALL else language)
        default_cell = (worst[0].true, worst[0].predicted) if worst else None
        true, predicted = confusion_matrix(group, key=f"matrix_{evaluation.id}_{language}", default=default_cell)
    with st.expander(say("Precision, recall and F1 per label · {}", language_title(language))):
        per_label_table(group)

    st.subheader("Test samples in the picked cell")
    with friendly_errors("Loading the samples"):
        if true:
            error_browser(store, evaluation, true, predicted, language)

    st.subheader("Where it is weak: generate more")
    with friendly_errors("Finding the weak cells"):
        weak_cells_view(store, project, evaluation, language)

    st.subheader("Compare runs and baselines")
    comparison = None
    with friendly_errors("Comparing"):
        comparison = comparison_view(store, evaluations, evaluation)

    st.subheader("Share")
    with friendly_errors("Making the report"):
        named = {display_name(e): e for e in evaluations}
        shared = [evaluation] if comparison is None else [named[name] for name in comparison.names]
        report_download(store, project, shared, comparison)

st.subheader("LLM baselines")
with friendly_errors("The baselines"):
    baselines_view(store, project)
