"""Training runs on the Train page: live progress with the loss curve (fine-tuning) or nothing, the runs table
(following each active run's job), the finished runs with what means something for their trainer, download,
delete, and labelling a file with a run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core.front.training as front
from components.feedback import flash, friendly_errors
from components.job_progress import job_status
from components.people import namer
from components.role_gate import may
from components.safe_text import md, plot_text, say
from core.front.actor import Actor
from core.front.training import (
    Project,
    TrainingRun,
    curve_rows,
    language_scores,
    loss_rows,
    page_rows,
    part_scores,
    shows_loss,
)
from core.language_names import language_name

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
    scores = part_scores(run)
    if not any(s.part == "validation" for s in scores):
        return None
    figure = go.Figure()
    for part, colour in PARTS.items():
        mine = [s for s in scores if s.part == part]
        if mine:
            figure.add_trace(
                go.Bar(
                    name=f"{part} ({sum(s.samples for s in mine):,} samples)",
                    x=[plot_text(language_name(s.language)) for s in mine],
                    y=[s.macro_f1 for s in mine],
                    customdata=[s.samples for s in mine],
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


def active_run(actor: Actor, run: TrainingRun) -> None:
    """Progress, cancel and the loss so far; refreshes itself while the run is going."""

    @st.fragment(run_every=2.0)
    def panel() -> None:
        current = front.get_run(actor, run.id)
        job = front.run_job(actor, current)
        if job is not None:
            job_status(actor.store, job)
        figure = loss_figure(current)
        if figure is not None:
            st.plotly_chart(figure, width="stretch", key=f"loss_live_{run.id}")
        if not current.active:
            st.rerun(scope="app")

    panel()


def runs_table_view(actor: Actor, project: Project, active: bool) -> None:
    """The runs table; while a run is active it is redrawn every few seconds from the runs' jobs."""

    @st.fragment(run_every=RUNS_REFRESH_SECONDS if active else None)
    def table() -> None:
        runs = front.list_runs(actor, project.id)
        jobs = {job.id: job for job in (front.run_job(actor, r) for r in runs if r.active) if job is not None}
        person = namer()
        rows = [{**row, "by": person(row["by"])} for row in page_rows(runs, jobs)]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

    table()


def runs_list(actor: Actor, project: Project) -> None:
    runs = front.list_runs(actor, project.id)
    if not runs:
        st.info("No trained model yet. Choose what to learn from above and start training.")
        return
    runs_table_view(actor, project, any(r.active for r in runs))
    finished = [r for r in runs if not r.active]
    if not finished:
        return
    names = [r.name for r in finished]
    chosen_name = st.selectbox("Look at a run", names, key=f"train_{project.id}_chosen")
    run = next(r for r in finished if r.name == chosen_name)
    run_details(actor, project, run)


def run_details(actor: Actor, project: Project, run: TrainingRun) -> None:
    if run.status != "done":
        st.warning(md(f"{run.name}: {run.status}. {run.message}"))
    scores = language_scores(run)
    if scores:
        frame = pd.DataFrame(scores)
        frame["language"] = [f"{language_name(c)} ({c})" for c in frame["language"]]
        st.markdown(f"**Human test split** — mean macro-F1 **{run.test_macro_f1:.3f}**")
        st.dataframe(frame.style.format({"accuracy": "{:.3f}", "macro_f1": "{:.3f}"}), hide_index=True, width="stretch")
        evaluation = front.evaluation_of(actor, project.id, run)
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
            archive = front.model_archive(actor, run)
            columns[0].download_button(
                "Download the model (zip)",
                archive.read_bytes(),
                file_name=archive.name,
                mime="application/zip",
                key=f"download_{run.id}",
            )
        if may("predict.run"):
            predict_panel(actor, project, run)
    if not may("training.delete"):
        return
    with st.expander("Delete this run"):
        st.caption("Deletes the model files and the run's record. Evaluations of it are deleted too.")
        if st.button(say("Delete {}", run.name), type="primary", key=f"delete_{run.id}"):
            with friendly_errors("Deleting"):
                front.delete_run(actor, run)
                flash(f"Deleted the run {run.name}.")
                st.rerun()


def predict_panel(actor: Actor, project: Project, run: TrainingRun) -> None:
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
                    summary = front.label_file(actor, project.id, run, source, text_column=column.strip() or None)
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
