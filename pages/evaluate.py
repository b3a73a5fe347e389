"""Evaluate: scores per language on the human test split, confusion matrices and the samples behind a cell, weak
cells to generate more for, where the next samples pay most (read off the learning curves), runs and LLM baselines
compared with bootstrap intervals, and a report to share; and a quick check of any classifier (a file of its
predictions, or a Hugging Face model), even before there is a project."""

from __future__ import annotations

import streamlit as st

import core.front.evaluation as front
from components.budget_advice_view import budget_advice_view
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
from components.feedback import friendly_errors
from components.job_progress import live_job
from components.page_opening import open_page
from components.people import person
from components.quick_check_panel import quick_check_panel
from components.role_gate import may
from components.safe_text import md, say
from components.studio_state import current_actor
from core.front.evaluation import (
    OVERALL,
    display_name,
    evaluation_scores,
    evaluation_to_show,
    newest_stamp,
    weak_cells,
    weakest_language,
)

store, project = open_page("Evaluate")
actor = current_actor()
if project is None:
    st.info(
        "Create a project first to train small models and score them on its human test samples, or check any "
        "classifier right here: upload a file of its predictions (text, true label, predicted label, language) and "
        "its rows become the human test samples of a new project, scored per language."
    )
    if may("quickcheck.run"):
        with st.container(border=True), friendly_errors("The quick check"):
            st.markdown("**Check a model**")
            quick_check_panel(actor, None, test_samples=0)
    st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
    st.stop()

with friendly_errors("Loading the evaluations"):
    active = front.active_jobs(actor, project.id)
    started_here = st.session_state.get(JOBS_STATE, [])[-3:]  # this session's latest jobs: running, or how they ended
    for job_id in dict.fromkeys([*(j.id for j in active), *started_here]):
        live_job(store, job_id)
    test_size = front.count_test_samples(actor, project)
    choices = front.evaluation_choices(actor, project.id)
    evaluations = front.latest_evaluations(actor, project.id)

if not test_size and not evaluations:
    st.info(
        "This project has no labelled human test samples yet. Evaluation needs them: import real, human-labelled "
        "texts on the Data page with the split set to **test** (they are never used for training or in prompts), "
        "or check a file of a classifier's predictions below: its rows become the test samples."
    )
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
    if may("quickcheck.run"):
        with st.container(border=True), friendly_errors("The quick check"):
            st.markdown("**Check a model**")
            quick_check_panel(actor, project, test_samples=0)
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

if runs and may("evaluation.run"):
    with (
        st.expander("Evaluate a trained run", expanded=not evaluations, icon=":material/play_circle:"),
        friendly_errors("Evaluating"),
    ):
        evaluate_run_form(actor, project, runs)

if may("quickcheck.run"):
    with (
        st.expander(
            "Check a model: a file of its predictions, or a Hugging Face model",
            expanded=not evaluations and not runs,
            icon=":material/fact_check:",
        ),
        friendly_errors("The quick check"),
    ):
        quick_check_panel(actor, project, test_samples=test_size)

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
            person(evaluation.created_by),
        )
    )
    staleness = front.check_staleness(actor, project, evaluation)
    if staleness.warn:
        st.warning(staleness.message, icon=":material/update:")
    elif staleness.stale:
        st.caption(staleness.message)
    with friendly_errors("The scores"):
        language_table(actor, evaluation)

    scores = evaluation_scores(evaluation).of(language)
    st.subheader(say("Confusion matrix · {}", language_title(language)))
    true, predicted = "", ""
    with friendly_errors("Drawing the matrix"):
        worst = weak_cells(evaluation, top=1, language=None if language == OVERALL else language)
        default_cell = (worst[0].true, worst[0].predicted) if worst else None
        true, predicted = confusion_matrix(scores, key=f"matrix_{evaluation.id}_{language}", default=default_cell)
    with st.expander(say("Precision, recall and F1 per label · {}", language_title(language))):
        per_label_table(scores)

    st.subheader("Test samples in the picked cell")
    with friendly_errors("Loading the samples"):
        if true:
            error_browser(actor, evaluation, true, predicted, language)

    st.subheader("Where it is weak: generate more")
    with friendly_errors("Finding the weak cells"):
        weak_cells_view(actor, project, evaluation, language)

    st.subheader("Where the next samples pay most")
    with friendly_errors("The data-budget advice"):
        budget_advice_view(actor, project, evaluation)

    st.subheader("Compare runs and baselines")
    comparison = None
    with friendly_errors("Comparing"):
        comparison = comparison_view(actor, evaluations, evaluation)

    st.subheader("Share")
    with friendly_errors("Making the report"):
        named = {display_name(e): e for e in evaluations}
        shared = [evaluation] if comparison is None else [named[name] for name in comparison.names]
        report_download(actor, project, shared, comparison)

st.subheader("LLM baselines")
with friendly_errors("The baselines"):
    baselines_view(actor, project)
