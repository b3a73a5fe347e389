"""The Evaluate page's parts: scores per language and per label, the samples behind a matrix cell, weak cells with
"generate more here", the comparison with its bootstrap intervals, the LLM baselines and the report download.

Figures and rows are built by functions here from core results (tests check them); the views only draw them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core.front.evaluation as front
from components.backend_picker import BackendChoice, backend_picker, resume_env
from components.feedback import flash, friendly_errors
from components.role_gate import may
from components.safe_text import md, plot_text, say
from core.front.actor import Actor
from core.front.evaluation import (
    MIN_TEST_SAMPLES,
    MODE_HELP,
    MODES,
    NO_ANSWER,
    OVERALL,
    RESAMPLES,
    BaselineRun,
    BaselineSettings,
    Choice,
    Comparison,
    ErrorSample,
    Evaluation,
    Job,
    LanguageScores,
    Project,
    ScoreInterval,
    TargetCell,
    WeakCell,
    comparability,
    display_name,
    evaluation_scores,
    perfect_score_notes,
    report_file_name,
    small_test_warnings,
    weak_cells,
    weakest_label,
)
from core.language_names import language_name

JOBS_STATE = "evaluate_page_jobs"  # jobs started from this page in this browser session (running, or how they ended)
LLM_FORM = "evaluate_llm_form"  # which LLM form is open: only one at a time, so one backend picker on the page
TARGET = "evaluate_target_cell"
PALETTE = ["#2166ac", "#d6604d", "#1b7837", "#762a83", "#b35806", "#35978f"]
RESUMABLE = ("failed", "cancelled", "incomplete", "planned")
TABLE_ROWS = 30  # samples of a cell shown in full (wrapped); the rest in a scrolling table


def language_title(code: str) -> str:
    return "all languages (pooled)" if code == OVERALL else f"{language_name(code)} ({code})"


# --- starting jobs -----------------------------------------------------------------------------------------------


def follow(job: Job, message: str) -> None:
    """Keep the id of a job just launched, so the page shows it until it ends (the caller reruns)."""
    st.session_state.setdefault(JOBS_STATE, []).append(job.id)
    flash(message, "info")


def _open_form(name: str | None, target: TargetCell | None = None) -> None:
    st.session_state[LLM_FORM] = name
    st.session_state[TARGET] = target


# --- scores ------------------------------------------------------------------------------------------------------


def language_rows(evaluation: Evaluation, intervals: dict[str, ScoreInterval] | None = None) -> list[dict[str, Any]]:
    """One row per language, then the pooled row: test samples, macro-F1 (and its 95% bootstrap interval when
    `intervals` are given), accuracy, the weakest label (lowest F1), and the answers without a usable label
    (baselines)."""
    rows = []
    for scores in evaluation_scores(evaluation).groups:
        code = scores.code
        weakest = weakest_label(scores)  # None when every label is perfect: none is weak
        row: dict[str, Any] = {
            "language": language_title(code),
            "test samples": scores.n,
            "macro-F1": scores.macro_f1,
        }
        if intervals is not None:
            row["95% interval"] = intervals[code].text if code in intervals else ""
            row["few samples"] = "yes: means little" if scores.n < MIN_TEST_SAMPLES and not scores.pooled else ""
        row |= {
            "accuracy": scores.accuracy,
            "weakest label": weakest.text if weakest else "",
            "no usable answer": scores.unparsed,
        }
        rows.append(row)
    return rows


@st.cache_data(show_spinner=f"Resampling the test set {RESAMPLES:,} times…", max_entries=64)
def _cached_intervals(_actor: Actor, database: str, evaluation_id: int, created: str) -> dict[str, ScoreInterval]:
    return front.intervals(_actor, front.get_evaluation(_actor, evaluation_id))


def intervals_of(actor: Actor, evaluation: Evaluation) -> dict[str, ScoreInterval]:
    """The score intervals, cached per store and evaluation (an evaluation made again has a new time)."""
    return _cached_intervals(actor, actor.store.url, evaluation.id, evaluation.created_at.isoformat())


def language_table(actor: Actor, evaluation: Evaluation) -> None:
    table = pd.DataFrame(language_rows(evaluation, intervals_of(actor, evaluation)))
    if evaluation.source != "baseline" and not table["no usable answer"].any():
        table = table.drop(columns="no usable answer")
    if not table["few samples"].any():
        table = table.drop(columns="few samples")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "macro-F1": st.column_config.ProgressColumn(
                "macro-F1", min_value=0.0, max_value=1.0, format="%.3f", color="#2166ac"
            ),
            "95% interval": st.column_config.TextColumn(
                "95% interval",
                help=f"Where the macro-F1 would likely fall on another test set like this one: {RESAMPLES:,} "
                "bootstrap resamples of these test samples.",
            ),
            "accuracy": st.column_config.NumberColumn("accuracy", format="%.3f"),
        },
    )
    warnings = small_test_warnings(evaluation)
    if warnings:
        st.warning("\n".join(f"- {md(text)}" for text in warnings), icon=":material/warning:")
    for note in perfect_score_notes(evaluation):
        st.caption(md(note))


def per_label_rows(scores: LanguageScores) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "precision": s.precision,
            "recall": s.recall,
            "F1": s.f1,
            "test samples": s.support,
            "no usable answer": scores.unparsed_by_label.get(label, 0),
        }
        for label, s in scores.per_label.items()
    ]


def per_label_table(scores: LanguageScores) -> None:
    table = pd.DataFrame(per_label_rows(scores))
    if not scores.unparsed:
        table = table.drop(columns="no usable answer")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(name, format="%.3f") for name in ("precision", "recall", "F1")
        },
    )


# --- the samples behind a cell -----------------------------------------------------------------------------------


def cell_sentence(n: int, true: str, predicted: str, language: str, source: str = "run") -> str:
    """A Markdown sentence; the label names in it are escaped (they are the user's text)."""
    where = "" if language == OVERALL else f" in {language_name(language)}"
    samples = f"{n} test sample{'s' if n != 1 else ''}{where}"
    if predicted == true:
        return say("**{}** of **{}**, rightly predicted as {}.", samples, true, true)
    if predicted == NO_ANSWER and source == "file":
        return say("**{}** of **{}** whose predicted label in the file is none of the project's labels.", samples, true)
    if predicted == NO_ANSWER:
        return say("**{}** of **{}** for which the answer named no usable label.", samples, true)
    return say("**{}** of **{}** taken for **{}**.", samples, true, predicted)


def error_rows(samples: list[ErrorSample], *, with_language: bool, with_answer: bool) -> list[dict[str, Any]]:
    rows = []
    for sample in samples:
        row = sample.to_row()
        if not with_language:
            row.pop("language")
        if not with_answer:
            row.pop("answer")
        rows.append(row)
    return rows


def table_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for `st.table`, whose cells are drawn as Markdown: every text escaped (numbers stay numbers)."""
    return [{key: md(value) if isinstance(value, str) else value for key, value in row.items()} for row in rows]


def error_browser(actor: Actor, evaluation: Evaluation, true: str, predicted: str, language: str) -> list[ErrorSample]:
    """The test samples behind the picked cell (text, true, predicted, confidence; an LLM's raw answer)."""
    samples = front.cell_samples(actor, evaluation, true, predicted, language=language)
    st.markdown(cell_sentence(len(samples), true, predicted, language, evaluation.source))
    if not samples:
        st.caption("No test sample falls in this cell.")
        return samples
    # an LLM's raw answers; a file's predicted labels as written, where they are none of the project's labels
    with_answer = evaluation.source == "baseline" or (evaluation.source == "file" and predicted == NO_ANSWER)
    rows = error_rows(samples, with_language=language == OVERALL, with_answer=with_answer)
    if evaluation.source == "file":
        rows = [{("predicted in the file" if k == "answer" else k): v for k, v in row.items()} for row in rows]
    shown = pd.DataFrame(table_cells(rows[:TABLE_ROWS])).set_index("sample")
    if "confidence" in shown and shown["confidence"].isna().all():
        shown = shown.drop(columns="confidence")
    st.table(shown.style.format({"confidence": "{:.2f}"}, na_rep="") if "confidence" in shown else shown)
    if evaluation.source in ("run", "model"):
        st.caption(
            "Most confident first (confidence: the model's probability of its label). Confident mistakes are often "
            "mislabelled test samples, or something the training data never showed."
        )
    elif evaluation.source == "file" and "confidence" in shown:
        st.caption("Most confident first (confidence: as the file gives it).")
    if len(rows) > TABLE_ROWS:
        with st.expander(f"All {len(rows):,} samples of this cell"):
            st.dataframe(
                pd.DataFrame(rows),
                hide_index=True,
                width="stretch",
                column_config={"text": st.column_config.TextColumn("text", width="large")},
            )
    return samples


# --- weak cells and targeted generation --------------------------------------------------------------------------


def weak_cells_view(actor: Actor, project: Project, evaluation: Evaluation, language: str) -> list[WeakCell]:
    """The most frequent confusions, each with "Generate more here" (a targeted generation run)."""
    cells = weak_cells(evaluation, top=5, language=None if language == OVERALL else language)
    if not cells:
        st.success("No confusion at all here: every test sample got its true label.")
        return cells
    st.caption(
        "The confusions with the most test samples. *Generate more here* asks the LLM for new samples of the true "
        "label that are clearly not the label they were taken for (with that label's TRAIN samples as context, never "
        "test samples); they arrive as pending synthetic samples to curate."
    )
    for i, cell in enumerate(cells):
        text, action = st.columns([4, 1], vertical_alignment="center")
        text.markdown(
            say(
                "{}: **{}** taken for **{}** — {} test sample{} ({} of {})",
                language_name(cell.language),
                cell.true,
                cell.predicted,
                cell.count,
                "s" if cell.count != 1 else "",
                f"{cell.rate:.0%}",
                cell.true,
            )
        )
        action.button(
            "Generate more here",
            disabled=not may("generation.run"),
            key=f"weak_{evaluation.id}_{i}",
            icon=":material/auto_awesome:",
            on_click=_open_form,
            args=("targeted", TargetCell.of(cell)),
        )
    target = st.session_state.get(TARGET)
    if st.session_state.get(LLM_FORM) == "targeted" and isinstance(target, TargetCell):
        targeted_form(actor, project, target)
    return cells


def targeted_form(actor: Actor, project: Project, cell: TargetCell, count: int = 20) -> None:
    with st.container(border=True):
        st.markdown(
            say(
                "**Generate more {} samples of '{}' that are clearly not '{}'**",
                language_name(cell.language),
                cell.true,
                cell.confused_as,
            )
        )
        choice = backend_picker("targeted")
        ready = choice.ready
        if choice.backend == "replay" and replay_missing([f"{cell.language}|{cell.true}"]):
            st.warning(
                say(
                    "The recorded answers hold no {} samples of '{}': pick an OpenAI-compatible server or a local "
                    "model.",
                    language_name(cell.language),
                    cell.true,
                ),
                icon=":material/history:",
            )
            ready = False
        per_cell = st.number_input("How many new samples", 1, 2_000, count, key=f"targeted_per_cell_{count}")
        start, close = st.columns([1, 4])
        if start.button("Start generating", type="primary", icon=":material/play_arrow:", disabled=not ready):
            _start_targeted(actor, project, cell, choice, int(per_cell))
        close.button("Close", key="targeted_close", on_click=_open_form, args=(None,))


def _start_targeted(actor: Actor, project: Project, cell: TargetCell, choice: BackendChoice, per_cell: int) -> None:
    with friendly_errors("Starting the generation"):
        launched = front.generate_for_cell(
            actor, project.id, cell, backend=choice.backend, model=choice.model, per_cell=per_cell,
            base_url=choice.base_url, extra_env=choice.worker_env,
        )  # fmt: skip
        run = launched.run
        follow(
            launched.job,
            f"Generation run #{run.id} started: {per_cell} samples of '{cell.true}' in "
            f"{language_name(cell.language)}. They arrive as pending samples on the Curate page.",
        )
        _open_form(None)
        st.rerun()


# --- comparison --------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=f"Resampling the test set {RESAMPLES:,} times…", max_entries=32)
def _cached_comparison(
    _actor: Actor, database: str, keys: tuple[tuple[int, str], ...], reference: str | None
) -> Comparison:
    return front.compare(_actor, [evaluation_id for evaluation_id, _ in keys], reference=reference)


def comparison_of(actor: Actor, evaluations: list[Evaluation], reference: str | None = None) -> Comparison:
    """The comparison, cached per store and evaluation (an evaluation made again has a new time, so a new entry)."""
    keys = tuple((e.id, e.created_at.isoformat()) for e in evaluations)
    return _cached_comparison(actor, actor.store.url, keys, reference)


def comparison_figure(comparison: Comparison) -> go.Figure:
    """Grouped bars: macro-F1 per language (and the mean) for each evaluation, with the bootstrap interval as error
    bars; the interval is written in the hover text."""
    bars = comparison.bars()
    figure = go.Figure()
    for n, name in enumerate(comparison.names):
        mine = [bar for bar in bars if bar.evaluation == name]
        figure.add_trace(
            go.Bar(
                name=plot_text(name),
                x=[plot_text(bar.language) for bar in mine],
                y=[bar.macro_f1 for bar in mine],
                marker_color=PALETTE[n % len(PALETTE)],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [bar.high - bar.macro_f1 for bar in mine],
                    "arrayminus": [bar.macro_f1 - bar.low for bar in mine],
                    "thickness": 1.5,
                    "width": 4,
                },
                customdata=[[bar.low, bar.high] for bar in mine],
                hovertemplate=(  # the name through fullData: a name is the user's text, never part of a template
                    "%{fullData.name}<br>%{x}: macro-F1 %{y:.3f}<br>95% interval %{customdata[0]:.3f} – "
                    "%{customdata[1]:.3f}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        barmode="group",
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"title": "macro-F1", "range": [0, 1.05]},
        legend={"orientation": "h", "y": 1.12, "x": 0},
    )
    return figure


def difference_table(comparison: Comparison) -> pd.DataFrame:
    rows = [
        {
            "language": d.language,
            "compared": f"{d.evaluation} − {d.reference}",
            "difference": d.difference,
            "95% interval": f"[{d.low:+.3f}, {d.high:+.3f}]",
            "resamples better": d.share_better,
            "verdict": d.verdict,
        }
        for d in comparison.differences()
    ]
    return pd.DataFrame(rows)


def comparison_view(
    actor: Actor, evaluations: list[Evaluation], current: Evaluation, key: str = "compare"
) -> Comparison | None:
    """Pick evaluations (by default every newest one on the current one's test set), see why they cannot be compared
    or their table, chart and differences."""
    by_name = {display_name(e): e for e in evaluations}
    if len(by_name) < 2:
        st.caption("Evaluate a second run, an LLM baseline or another quick check to compare them here.")
        return None
    default = [name for name, e in by_name.items() if e.test_hash == current.test_hash][:4]
    if display_name(current) in default:
        default.remove(display_name(current))
        default.insert(0, display_name(current))
    chosen = st.multiselect("Compare", list(by_name), default=default, key=f"{key}_{current.id}")
    picked = [by_name[name] for name in chosen]
    reason = comparability(picked)
    if reason:
        st.warning(md(reason), icon=":material/block:")
        return None
    reference = st.selectbox(
        "Against", chosen, key=f"{key}_reference_{current.id}", help="The differences are each one minus this one."
    )
    comparison = comparison_of(actor, picked, reference)
    st.plotly_chart(comparison_figure(comparison), width="stretch", config={"displayModeBar": False})
    st.caption(
        f"Bars: macro-F1; whiskers: 95% paired bootstrap intervals ({comparison.result.resamples:,} resamples of the "
        f"same test samples, seed {comparison.result.seed}). When two whiskers overlap a lot, or a difference's "
        "interval contains 0, the test set cannot tell them apart: do not read much into it."
    )
    st.dataframe(pd.DataFrame(comparison.table()), hide_index=True, width="stretch")
    differences = difference_table(comparison)
    if not differences.empty:
        st.markdown(say("**Differences from {}**", reference))
        st.dataframe(
            differences,
            hide_index=True,
            width="stretch",
            column_config={
                "difference": st.column_config.NumberColumn("difference in macro-F1", format="%+.3f"),
                "resamples better": st.column_config.NumberColumn(
                    "resamples better", format="percent", help="The share of resamples in which it scored higher."
                ),
            },
        )
    return comparison


# --- report ------------------------------------------------------------------------------------------------------


def report_download(
    actor: Actor, project: Project, evaluations: list[Evaluation], comparison: Comparison | None
) -> None:
    html = front.report_html(actor, project, evaluations, comparison)
    listed = ", ".join(display_name(e) for e in evaluations)
    st.download_button(
        "Download the report (HTML)",
        data=html.encode("utf-8"),
        file_name=report_file_name(project.name),
        mime="text/html",
        icon=":material/download:",
        key="evaluate_report",
    )
    st.caption(
        say("One self-contained HTML file with {}: ", listed)
        + "the per-language table, per-label scores and the matrices"
        + (", and the comparison above." if comparison is not None else ".")
        + " It opens in any browser, offline."
    )


# --- evaluating a trained run ------------------------------------------------------------------------------------


def evaluate_run_form(actor: Actor, project: Project, runs: list[Choice]) -> None:
    """Pick a finished run (and a learning curve's point) and score it on the test split, as a job."""
    names = [choice.name for choice in runs]
    labels = {choice.name: choice.label for choice in runs}
    left, right = st.columns([3, 1])
    name = left.selectbox("Trained run", names, format_func=labels.get, key="evaluate_run")
    sizes = front.curve_sizes(actor, project.id, name)
    point = None
    if sizes:
        point = right.selectbox(
            "Curve point",
            sizes,
            index=len(sizes) - 1,
            key=f"evaluate_point_{project.id}_{name}",
            help="Samples per language.",
        )
    if st.button("Evaluate on the test split", type="primary", icon=":material/play_arrow:"):
        with friendly_errors("Starting the evaluation"):
            job = front.evaluate_run(actor, project.id, name, point=point).job
            follow(job, f"Evaluating '{name}' on the human test split (job #{job.id}).")
            st.query_params.pop("evaluation", None)  # show the new evaluation when it is ready
            st.rerun()


# --- LLM baselines -----------------------------------------------------------------------------------------------


def baselines_view(actor: Actor, project: Project) -> None:
    """The project's baselines, resume and raw answers, and the form of a new one."""
    baselines = front.list_baselines(actor, project.id)
    if baselines:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "name": b.name,
                        "mode": b.mode + (f" k={b.k}" if b.k else ""),
                        "backend": b.backend + (" (recorded)" if b.backend == "replay" else ""),
                        "model": b.model,
                        "status": b.status,
                        "message": b.message,
                        "cost $": baseline_cost(b.cost),
                    }
                    for b in baselines
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "cost $": st.column_config.TextColumn(
                    "cost $", help="unknown: the studio has no price for this model (a local or recorded one)."
                )
            },
        )
        _resume(actor, project, [b for b in baselines if b.status in RESUMABLE])
        with st.expander("The LLM's answers"):
            _answers(actor, baselines)
    else:
        st.caption(
            "The LLM itself as the classifier, as in the paper: zero-shot, or with k synthetic or k human TRAIN "
            "examples per label in the prompt. Its scores sit next to your small models in the comparison."
        )
    if st.session_state.get(LLM_FORM) == "baseline":
        baseline_form(actor, project)
    elif may("baseline.run"):
        st.button("New LLM baseline", icon=":material/add_circle:", on_click=_open_form, args=("baseline",))


def baseline_cost(cost: float | None) -> str:
    """The cost column's text: dollars to 4 places, or "unknown" for a model without a price."""
    return f"{cost:.4f}" if cost is not None else "unknown"


def _resume(actor: Actor, project: Project, stopped: list[BaselineRun]) -> None:
    if not stopped or not may("baseline.run"):
        return
    names = [b.name for b in stopped]
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    name = left.selectbox("Stopped baseline", names, key="baseline_resume_pick")
    if right.button("Resume", icon=":material/resume:", help="Sends only the test samples without an answer yet."):
        with friendly_errors("Resuming the baseline"):
            follow(
                front.resume_baseline(actor, project.id, name, extra_env=resume_env()).job,
                f"Baseline '{name}' resumed.",
            )
            st.rerun()


def _answers(actor: Actor, baselines: list[BaselineRun]) -> None:
    by_name = {b.name: b for b in baselines}
    left, right = st.columns(2)
    name = left.selectbox("Baseline", list(by_name), key="baseline_answers_pick")
    outcome = right.selectbox(
        "Answers",
        ["ambiguous", "unparseable", "failed", "label", None],
        format_func=lambda o: {
            "ambiguous": "named several labels",
            "unparseable": "named no label",
            "failed": "no answer (request failed)",
            "label": "mapped to a label",
            None: "all",
        }[o],
        key="baseline_answers_outcome",
    )
    rows = front.baseline_answers(actor, by_name[name].id, outcome=outcome)
    if not rows:
        st.caption("No answer of this kind.")
        return
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"answer": st.column_config.TextColumn("raw answer", width="large")},
    )


def replay_missing(cells: list[str], recording: str | None = None) -> list[str]:
    """The `<language>|<label>` cells a recording has no answers for (`<language>|baseline`: classification)."""
    return front.replay_missing(cells, recording)


def baseline_form(actor: Actor, project: Project) -> None:
    with st.container(border=True):
        st.markdown("**New LLM baseline** — the LLM labels every human test text itself")
        left, middle, right = st.columns([2, 2, 1])
        mode = middle.selectbox("Mode", MODES, key="baseline_mode", help=" · ".join(MODE_HELP.values()))
        k = right.number_input("Examples per label (k)", 1, 50, 5, key="baseline_k", disabled=mode == "zero-shot")
        st.caption(f"{mode}: {MODE_HELP[mode]}. Examples come from the TRAIN split only, never from the test split.")
        choice = backend_picker("baseline")
        name = left.text_input("Name", value=f"LLM {mode}" + (f" k={int(k)}" if mode != "zero-shot" else ""),
                               key=f"baseline_name_{mode}")  # fmt: skip
        languages = st.multiselect(
            "Languages",
            project.language_codes,
            default=project.language_codes,
            format_func=lambda c: f"{language_name(c)} ({c})",
            key="baseline_languages",
        )
        settings = BaselineSettings(
            name=name,
            backend=choice.backend,
            model=choice.model,
            mode=mode,
            k=int(k) if mode != "zero-shot" else 0,
            base_url=choice.base_url,
            languages=languages or None,
        )
        ready = bool(choice.ready and languages)
        if choice.backend == "replay":
            missing = replay_missing([f"{code}|baseline" for code in languages or project.language_codes])
            if missing:
                st.warning(
                    "The recorded answers hold no classification answers for "
                    + ", ".join(language_name(cell.split("|")[0]) for cell in missing)
                    + ": pick an OpenAI-compatible server or a local model for a baseline.",
                    icon=":material/history:",
                )
                ready = False
        if ready:
            with friendly_errors("Estimating the baseline"):
                guess = front.estimate_baseline(actor, project.id, settings)
                cost = f"about ${guess.cost:,.2f}" if guess.cost is not None else "unknown for this model"
                st.info(
                    f"**{guess.requests:,} requests** (one per test text), about {guess.prompt_tokens:,} prompt "
                    f"tokens; cost {cost}.",
                    icon=":material/calculate:",
                )
        start, close = st.columns([1, 4])
        if start.button("Start the baseline", type="primary", icon=":material/play_arrow:", disabled=not ready):
            with friendly_errors("Starting the baseline"):
                launched = front.start_baseline(actor, project.id, settings, extra_env=choice.worker_env)
                follow(launched.job, f"Baseline '{launched.run.name}' started (job #{launched.job.id}).")
                _open_form(None)
                st.rerun()
        close.button("Close", key="baseline_close", on_click=_open_form, args=(None,))
