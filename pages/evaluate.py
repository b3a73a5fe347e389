"""Evaluate: scores per language on the human test split, confusion matrices and the samples behind a cell, weak
cells to generate more for, runs and LLM baselines compared with bootstrap intervals, and a report to share; and a
quick check of any classifier (a file of its predictions, or a Hugging Face model), even before there is a project."""

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
from components.quick_check_panel import quick_check_panel
from components.safe_text import md, say
from components.studio_state import current_project, get_store, run_inside_app
from core.evaluation.choices import evaluation_choices, evaluation_to_show, newest_stamp, weakest_language
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
    st.info(
        "Create a project first to train small models and score them on its human test samples, or check any "
        "classifier right here: upload a file of its predictions (text, true label, predicted label, language) and "
        "its rows become the human test samples of a new project, scored per language."
    )
    with st.container(border=True), friendly_errors("The quick check"):
        st.markdown("**Check a model**")
        quick_check_panel(store, None, test_samples=0)
    st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
    st.stop()

with friendly_errors("Loading the evaluations"):
    kinds = ("evaluate", "baseline", "model_check")
    active = [j for kind in kinds for j in list_jobs(store, project.id, kind=kind) if j.active]
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
        "texts on the Data page with the split set to **test** (they are never used for training or in prompts), "
        "or check a file of a classifier's predictions below: its rows become the test samples."
    )
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
    with st.container(border=True), friendly_errors("The quick check"):
        st.markdown("**Check a model**")
        quick_check_panel(store, project, test_samples=0)
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

with (
    st.expander(
        "Check a model: a file of its predictions, or a Hugging Face model",
        expanded=not evaluations and not runs,
        icon=":material/fact_check:",
    ),
    friendly_errors("The quick check"),
):
    quick_check_panel(store, project, test_samples=test_size)

if evaluations:
    by_id = {e.id: e for e in evaluations}
    requested = st.query_params.get("evaluation")
    stamp_key, stamp = f"evaluate_newest_{project.id}", newest_stamp(evaluations)
    first = evaluation_to_show(
        evaluations, int(requested) if requested and requested.isdigit() else None, st.session_state.get(stamp_key)
    )
    st.session_state[stamp_key] = stamp  # a newer evaluation (a run just trained or evaluated) is shown when it comes
    ids = list(by_id)
    left, right = st.columns([3, 2])
    chosen = left.selectbox(
        "Evaluation",
        ids,
        index=ids.index(first),
        format_func=lambda i: f"{by_id[i].title} · mean macro-F1 {by_id[i].mean_macro_f1:.3f}",
        key=f"evaluate_pick_{project.id}_{stamp}",
    )
    st.query_params["evaluation"] = str(chosen)
    evaluation = by_id[chosen]
    codes = [*evaluation.languages, OVERALL]
    language = right.selectbox(
        "Language",
        codes,
        index=codes.index(weakest_language(evaluation)),  # opens where the model is weakest
        format_func=language_title,
        key=f"evaluate_language_{evaluation.id}",
    )

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
    if hash_test_ids(now) != evaluation.test_hash and evaluation.source == "file":
        st.caption(
            f"This check scored the {evaluation.test_size:,} rows of its file; the test split holds {len(now):,} "
            "test samples in its languages now. It compares only with evaluations of the same rows."
        )
    elif hash_test_ids(now) != evaluation.test_hash:
        st.warning(
            f"The test split has changed since this evaluation ({len(now):,} test samples in its languages now, "
            f"{evaluation.test_size:,} then): evaluate it again to score the current test split.",
            icon=":material/update:",
        )
    with friendly_errors("The scores"):
        language_table(store, evaluation)

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
