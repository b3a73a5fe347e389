"""Training runs on the Train page: live progress with the loss curve (fine-tuning) or nothing, the runs table
(following each active run's job), the finished runs with what means something for their trainer, download,
delete, and labelling a file with a run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.feedback import flash, friendly_errors
from components.job_progress import job_status
from components.safe_text import md, plot_text, say
from core.evaluation.evaluations import run_evaluation_of
from core.jobs.queue import get_job, reap_dead_workers
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.training.predict import predict_file
from core.training.run_store import TrainingRun, delete_run, get_run_by_id, list_runs
from core.training.run_views import (
    curve_rows,
    language_score_rows,
    language_scores,
    loss_rows,
    page_rows,
    shows_loss,
    zip_run,
)

RUNS_REFRESH_SECONDS = 2.0  # the runs table follows an active run's job this often
PARTS = {"validation": "#8fb4d9", "test": "#2166ac"}


def loss_figure(run: TrainingRun) -> go.Figure | None:
    """Training (and validation) loss per step; a learning-curve run draws one line per point. None when the
    history is no curve (the linear probe and the hybrid: one point per fit)."""
    rows = loss_rows(run)
    if not rows or not shows_loss(run):
        return None
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    series = ["point", "split"] if "point" in frame.columns else ["split"]
    for keys, part in frame.groupby([c for c in series if c in frame.columns], dropna=False):
        name = " · ".join(str(k) for k in (keys if isinstance(keys, tuple) else (keys,)))
        figure.add_trace(go.Scatter(x=part["step"], y=part["loss"], mode="lines+markers", name=plot_text(name)))
    figure.update_layout(
        xaxis_title="step", yaxis_title="loss", height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}
    )
    return figure


def language_scores_figure(run: TrainingRun) -> go.Figure | None:
    """Macro-F1 per language on the validation part and on the test split, as grouped bars: what a run without a
    loss curve has to show. None unless the run held out a validation part (the test scores alone are the table)."""
    rows = language_score_rows(run)
    if not any(r["part"] == "validation" for r in rows):
        return None
    figure = go.Figure()
    for part, colour in PARTS.items():
        mine = [r for r in rows if r["part"] == part]
        if mine:
            figure.add_trace(
                go.Bar(
                    name=f"{part} ({sum(r['samples'] for r in mine):,} samples)",
                    x=[plot_text(language_name(r["language"])) for r in mine],
                    y=[r["macro_f1"] for r in mine],
                    customdata=[r["samples"] for r in mine],
                    marker_color=colour,
                    hovertemplate="%{x}: macro-F1 %{y:.3f} on %{customdata} samples<extra></extra>",
                )
            )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "macro-F1", "range": [0, 1.05]},
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.15, "x": 0},
    )
    return figure


def curve_figure(run: TrainingRun) -> go.Figure | None:
    """Macro-F1 on the human test split per language against the training size (the paper's learning curve)."""
    rows = curve_rows(run)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    for language, part in frame.groupby("language"):
        name = "mean" if language == "mean" else language_name(str(language))
        figure.add_trace(
            go.Scatter(
                x=part["size"],
                y=part["macro_f1"],
                mode="lines+markers",
                name=plot_text(name),
                line={"width": 4 if language == "mean" else 2},
                hovertemplate="%{fullData.name}: %{y:.3f} at %{x} per language<extra></extra>",
            )
        )
    figure.update_layout(
        xaxis_title="training samples per language",
        yaxis_title="macro-F1 (human test)",
        xaxis_type="log",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def active_run(store: Store, run: TrainingRun) -> None:
    """Progress, cancel and the loss so far; refreshes itself while the run is going."""

    @st.fragment(run_every=2.0)
    def panel() -> None:
        reap_dead_workers(store)
        current = get_run_by_id(store, run.id)
        if current.job_id is not None:
            job_status(store, get_job(store, current.job_id))
        figure = loss_figure(current)
        if figure is not None:
            st.plotly_chart(figure, width="stretch", key=f"loss_live_{run.id}")
        if not current.active:
            st.rerun(scope="app")

    panel()


def runs_table_view(store: Store, project: Project, active: bool) -> None:
    """The runs table; while a run is active it is redrawn every few seconds from the runs' jobs."""

    @st.fragment(run_every=RUNS_REFRESH_SECONDS if active else None)
    def table() -> None:
        runs = list_runs(store, project.id)
        jobs = {r.job_id: get_job(store, r.job_id) for r in runs if r.active and r.job_id is not None}
        st.dataframe(pd.DataFrame(page_rows(runs, jobs)), hide_index=True, width="stretch")

    table()


def runs_list(store: Store, project: Project) -> None:
    runs = list_runs(store, project.id)
    if not runs:
        st.info("No trained model yet. Choose what to learn from above and start training.")
        return
    runs_table_view(store, project, any(r.active for r in runs))
    finished = [r for r in runs if not r.active]
    if not finished:
        return
    names = [r.name for r in finished]
    chosen_name = st.selectbox("Look at a run", names, key=f"train_{project.id}_chosen")
    run = next(r for r in finished if r.name == chosen_name)
    run_details(store, project, run)


def run_details(store: Store, project: Project, run: TrainingRun) -> None:
    if run.status != "done":
        st.warning(md(f"{run.name}: {run.status}. {run.message}"))
    scores = language_scores(run)
    if scores:
        frame = pd.DataFrame(scores)
        frame["language"] = [f"{language_name(c)} ({c})" for c in frame["language"]]
        st.markdown(f"**Human test split** — mean macro-F1 **{run.test_macro_f1:.3f}**")
        st.dataframe(frame.style.format({"accuracy": "{:.3f}", "macro_f1": "{:.3f}"}), hide_index=True, width="stretch")
        evaluation = run_evaluation_of(store, project.id, run.id)
        if evaluation is not None:
            st.page_link(
                "pages/evaluate.py",
                label="Evaluated on the test split: open its confusion matrices on Evaluate",
                icon=":material/analytics:",
                query_params={"evaluation": str(evaluation.id)},
            )
    left, right = st.columns(2)
    figure = loss_figure(run)
    scores_figure = language_scores_figure(run) if figure is None else None
    if figure is not None:
        left.markdown("**Loss**")
        left.plotly_chart(figure, width="stretch", key=f"loss_{run.id}")
    elif scores_figure is not None:
        left.markdown("**Macro-F1 per language: validation part and test split**")
        left.plotly_chart(scores_figure, width="stretch", key=f"scores_{run.id}", config={"displayModeBar": False})
    elif run.trainer in ("linear", "hybrid") and run.status == "done":
        left.caption(
            "This trainer is fitted in one go: it has no loss curve to follow. Give it a validation share "
            "(Advanced options) to see its validation scores per language here."
        )
    curve = curve_figure(run)
    if curve is not None:
        right.markdown("**Learning curve**")
        right.plotly_chart(curve, width="stretch", key=f"curve_{run.id}")
    with st.expander("Snapshot, trainer and parameters"):
        st.json({"trainer": run.trainer, "base model": run.base_model, "params": run.params, "options": run.options})
        st.json(run.snapshot, expanded=False)
    if run.status == "done":
        columns = st.columns([1, 1, 3])
        with friendly_errors("Preparing the download"):
            archive = zip_run(run)
            columns[0].download_button(
                "Download the model (zip)",
                archive.read_bytes(),
                file_name=archive.name,
                mime="application/zip",
                key=f"download_{run.id}",
            )
        predict_panel(store, project, run)
    with st.expander("Delete this run"):
        st.caption("Deletes the model files and the run's record. Evaluations of it are deleted too.")
        if st.button(say("Delete {}", run.name), type="primary", key=f"delete_{run.id}"):
            with friendly_errors("Deleting"):
                delete_run(store, run)
                flash(f"Deleted the run {run.name}.")
                st.rerun()


def predict_panel(store: Store, project: Project, run: TrainingRun) -> None:
    with st.expander("Label a file with this model", icon=":material/label:"):
        upload = st.file_uploader(
            "CSV, TSV, JSONL or Parquet with a text column",
            type=["csv", "tsv", "jsonl", "json", "parquet"],
            key=f"predict_upload_{run.id}",
        )
        column = st.text_input("Text column (empty: guess)", key=f"predict_column_{run.id}")
        if upload is not None and st.button("Label it", key=f"predict_go_{run.id}"):
            with friendly_errors("Labelling the file"), tempfile.TemporaryDirectory() as folder:
                source = Path(folder) / Path(upload.name).name
                source.write_bytes(upload.getvalue())
                with st.spinner("Labelling…"):
                    summary = predict_file(store, project.id, run.name, source, text_column=column.strip() or None)
                st.success(
                    f"Labelled {summary.labelled:,} of {summary.rows:,} rows (mean confidence "
                    f"{summary.mean_confidence:.2f}); {summary.skipped_empty:,} empty rows left unlabelled."
                )
                st.download_button(
                    say("Download {}", summary.out.name),
                    summary.out.read_bytes(),
                    file_name=summary.out.name,
                    key=f"predict_download_{run.id}",
                )
