"""The Evaluate page's "Where the next samples pay most" (issue 21): per language, what the next 100 synthetic or 10
human samples are likely to buy, read off the project's own learning curves (core.evaluation.budget_advice), and
the buttons that buy them: the targeted generation of the language's worst confusion (the form of "Where it is weak",
filled in with 100) and the Curate review queue of its unlabelled human TRAIN texts. Without a curve: what to run,
and a button that trains it (a linear probe: seconds).

The rows and sentences are built by functions here (tests check them); the view only draws them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

import core.front.training as training
from components.curate_tabs import REVIEW, open_tab
from components.evaluation_views import LLM_FORM, TARGET, follow, language_title, targeted_form
from components.feedback import friendly_errors
from components.kept_widgets import set_kept
from components.review_queue import ANY_FLAG, QUEUES, ReviewKeys
from components.role_gate import may
from components.safe_text import md, say
from core.front.actor import Actor
from core.front.data import SampleFilter, counts_by_language_label_status
from core.front.evaluation import Evaluation, TargetCell, evaluation_scores, weak_cells
from core.front.training import (
    NEXT_HUMAN,
    NEXT_SYNTHETIC,
    Gain,
    LanguageAdvice,
    Project,
    SnapshotOptions,
    TrainingRequest,
    TrainingRun,
)
from core.language_names import language_name

FORM = "budget_targeted"  # this section's targeted form (LLM_FORM: one LLM form open on the page at a time)
CURVE_POINTS = 4  # sizes of a first learning curve: the samples a language has now, and halves of it
CURVE_TRAINER = "linear"  # seconds, and what the advice is about: the samples, not the trainer
UNLABELLED = SampleFilter(statuses=("unlabeled",), splits=("train",), origins=("human",))
WORDS = {"synthetic": "synthetic", "human": "labelled human"}


# --- rows and sentences ------------------------------------------------------------------------------------------


def gain_text(gain: Gain | None) -> str:
    """The expected gain with its 80% interval: "+0.012 (+0.004 to +0.020)"; "" without a curve point."""
    return "" if gain is None else f"+{gain.expected:.3f} ({gain.low:+.3f} to {gain.high:+.3f})"


def buy_words(advice: LanguageAdvice) -> str:
    """Which buys more, in words: the better buy, "too close to call" (the intervals overlap), or nothing to compare."""
    if advice.synthetic is None or advice.human is None:
        return ""
    return {
        "synthetic": f"{NEXT_SYNTHETIC} synthetic",
        "human": f"{NEXT_HUMAN} human",
    }.get(advice.better_buy() or "", "too close to call")


def current_f1(evaluation: Evaluation, code: str) -> float | None:
    return evaluation_scores(evaluation).of(code).macro_f1 if code in evaluation.languages else None


SYNTHETIC_GAIN = f"+{NEXT_SYNTHETIC} synthetic (80% interval)"
HUMAN_GAIN = f"+{NEXT_HUMAN} human (80% interval)"


def advice_rows(advice: list[LanguageAdvice], evaluation: Evaluation) -> list[dict[str, str]]:
    """One row per language, every figure as text: macro-F1 now (of the evaluation shown), the accepted TRAIN samples,
    the expected gain of the next synthetic samples with its 80% interval, and of the next human samples when there
    is a human curve, and which buys more."""
    with_human = any(a.human_run for a in advice)
    rows = []
    for row in advice:
        f1 = current_f1(evaluation, row.language)
        line = {
            "language": language_title(row.language),
            "macro-F1 now": "" if f1 is None else f"{f1:.3f}",
            "synthetic now": f"{row.synthetic_now:,}",
            SYNTHETIC_GAIN: gain_text(row.synthetic) or "not on the curve",
        }
        if with_human:
            line |= {
                "human now": f"{row.human_now:,}",
                HUMAN_GAIN: gain_text(row.human) or "not on the curve",
                "buys more": buy_words(row),
            }
        rows.append(line)
    return rows


def curve_sizes(largest: int, labels: int) -> tuple[int, ...]:
    """Sizes per language for a first learning curve: the accepted samples the largest language has, and halves of
    it, down to two per label; () below four per label (too few samples for a curve)."""
    floor = 2 * max(labels, 1)
    if largest < 2 * floor:
        return ()
    return tuple(sorted({max(floor, round(largest / 2**k)) for k in range(CURVE_POINTS)}))


def curve_command(project: Project, origin: str, sizes: tuple[int, ...]) -> str:
    listed = ",".join(map(str, sizes))
    return (
        f'python -m core train --project "{project.name}" --trainer {CURVE_TRAINER} --origin {origin} '
        f"--curve {listed} --name curve-{origin}"
    )


def missing_curve_sentence(project: Project, origin: str, largest: int, *, button: bool) -> str:
    """What to run for a learning curve of `origin`, or what is missing first (Markdown, the project name escaped)."""
    sizes = curve_sizes(largest, len(project.label_names))
    words = WORDS[origin]
    if not sizes:
        need = 4 * len(project.label_names)
        what = (
            "accept at least {} synthetic TRAIN samples"
            if origin == "synthetic"
            else "label at least {} human TRAIN texts"
        )
        return (
            f"No learning curve on {words} samples yet, and too few of them for one: {what.format(need)} in a "
            "language (Curate page) first."
        )
    gain = f"{NEXT_SYNTHETIC} synthetic" if origin == "synthetic" else f"{NEXT_HUMAN} human"
    return (
        f"No learning curve on {words} samples yet: the gain of the next {gain} samples is read off one. A learning "
        f"curve trains the same small model at several sizes per language (here {', '.join(map(str, sizes))} "
        f"accepted {words} TRAIN samples) and scores each on the human test samples. Train it "
        + ("with the button below, " if button else "")
        + f"on the Train page (*Samples from*: {origin} only; *Learning curve*: {','.join(map(str, sizes))}), or "
        f"with " + md(curve_command(project, origin, sizes)) + "."
    )


def target_cell(evaluation: Evaluation, code: str) -> TargetCell | None:
    """The language's most frequent confusion in the evaluation shown: what 'Generate 100 more' targets."""
    if code not in evaluation.languages:
        return None
    cells = weak_cells(evaluation, top=1, language=code)
    return TargetCell.of(cells[0]) if cells else None


def to_label_queue() -> str:
    """The review queue of texts without a label (found by its filter, not its name)."""
    return next(name for name, flt in QUEUES.items() if flt.statuses == ("unlabeled",) and not flt.flags)


# --- the view ----------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Fitting the learning curves…", max_entries=16)
def _cached_advice(_actor: Actor, _project: Project, database: str, project_id: int, key: tuple) -> list[Any]:
    return training.data_budget(_actor, _project)


def _accepted(actor: Actor, project: Project, origin: str) -> tuple[tuple[str, str, int], ...]:
    flt = SampleFilter(statuses=("accepted",), splits=("train",), origins=(origin,))
    rows = counts_by_language_label_status(actor, project, flt)
    return tuple(sorted((r.language, r.label or "", r.count) for r in rows))


def advice_of(actor: Actor, project: Project, runs: list[TrainingRun]) -> list[LanguageAdvice]:
    """The advice, fitted again only when a curve run or the accepted TRAIN samples change (the fit takes seconds)."""
    key = (
        tuple(project.language_codes),
        tuple((r.id, r.status) for r in runs if r.mode == "curve"),
        _accepted(actor, project, "synthetic"),
        _accepted(actor, project, "human"),
    )
    return _cached_advice(actor, project, actor.store.url, project.id, key)


def budget_advice_view(actor: Actor, project: Project, evaluation: Evaluation) -> list[LanguageAdvice]:
    with st.container(key="budget_advice"):
        return _section(actor, project, evaluation)


def _section(actor: Actor, project: Project, evaluation: Evaluation) -> list[LanguageAdvice]:
    runs = training.list_runs(actor, project.id)
    advice = advice_of(actor, project, runs)
    training_curve = next((r for r in runs if r.active and r.mode == "curve"), None)
    synthetic_run = advice[0].synthetic_run if advice else None
    human_run = advice[0].human_run if advice else None
    if training_curve is not None:
        st.info(
            say("The learning curve {} is training: the advice appears here when it ends.", training_curve.name),
            icon=":material/hourglass_top:",
        )
    if synthetic_run is None:
        _missing_curve(actor, project, "synthetic", advice, busy=training_curve is not None)
        return advice
    st.caption(
        say(
            "Read off the learning curves **{}** (synthetic only){}, at the accepted TRAIN samples each language has "
            "now; *macro-F1 now* is that of the evaluation picked above ({}). A gain is in macro-F1 (0–1); its 80% "
            "interval comes from refitting the curve with each point redrawn within its sampling error: wide where "
            "the curve has few points or the language few test samples. *Too close to call*: the intervals overlap.",
            synthetic_run,
            f" and {human_run} (human only)" if human_run else "",
            evaluation.title,
        )
    )
    st.dataframe(pd.DataFrame(advice_rows(advice, evaluation)), hide_index=True, width="stretch")
    if human_run is None:
        _missing_curve(actor, project, "human", advice, busy=training_curve is not None)
    _buy_buttons(actor, project, evaluation, advice)
    return advice


def _missing_curve(actor: Actor, project: Project, origin: str, advice: list[LanguageAdvice], *, busy: bool) -> None:
    largest = max((a.synthetic_now if origin == "synthetic" else a.human_now for a in advice), default=0)
    trains = may("training.run")
    sentence = missing_curve_sentence(project, origin, largest, button=trains)
    if origin == "synthetic":  # no figure at all without it
        st.info(sentence, icon=":material/show_chart:")
    else:
        st.caption(sentence)
    sizes = curve_sizes(largest, len(project.label_names))
    if sizes and trains:
        label = "Train the learning curve" if origin == "synthetic" else "Train a human learning curve"
        if st.button(label, key=f"budget_curve_{origin}", icon=":material/show_chart:", disabled=busy):
            _start_curve(actor, project, origin, sizes)


def _start_curve(actor: Actor, project: Project, origin: str, sizes: tuple[int, ...]) -> None:
    with friendly_errors("Starting the learning curve"):
        request = TrainingRequest(
            name=f"curve-{origin}-{datetime.now():%Y%m%d-%H%M%S}",
            trainer=CURVE_TRAINER,
            options=SnapshotOptions(origins=(origin,)),
            curve=sizes,
        )
        launched = training.launch(actor, project.id, request)
        follow(
            launched.job,
            f"Learning curve {launched.run.name} started ({len(sizes)} sizes, {CURVE_TRAINER} probe on "
            f"{WORDS[origin]} samples). The advice appears when it ends.",
        )
        st.rerun()


def _buy_buttons(actor: Actor, project: Project, evaluation: Evaluation, advice: list[LanguageAdvice]) -> None:
    unlabelled = {}
    for row in counts_by_language_label_status(actor, project, UNLABELLED):
        unlabelled[row.language] = unlabelled.get(row.language, 0) + row.count
    may_generate, may_review = may("generation.run"), may("samples.review")
    for row in advice:
        code, name = row.language, language_name(row.language)
        cell = target_cell(evaluation, code)
        text, generate, review = st.columns([3, 1.4, 1.6], vertical_alignment="center")
        text.markdown(say("**{}** · {}", language_title(code), row_sentence(row)))
        generate.button(
            f"Generate {NEXT_SYNTHETIC} more",
            key=f"budget_generate_{code}",
            icon=":material/auto_awesome:",
            type="primary" if row.better_buy() == "synthetic" else "secondary",
            disabled=cell is None or not may_generate,
            help=(
                say(
                    "New {} samples of '{}' that are clearly not '{}' (its most frequent confusion).",
                    name,
                    cell.true,
                    cell.confused_as,
                )
                if cell is not None
                else say("No confusion to target in {}: every test sample got its true label.", name)
            ),
            on_click=_open_generation,
            args=(cell,),
        )
        waiting = unlabelled.get(code, 0)
        if review.button(
            f"Review {NEXT_HUMAN} human samples",
            key=f"budget_review_{code}",
            icon=":material/rate_review:",
            type="primary" if row.better_buy() == "human" else "secondary",
            disabled=not waiting or not may_review,
            help=(
                say(
                    "Label {} of the {} {} human TRAIN texts without a label (Curate page).",
                    NEXT_HUMAN,
                    f"{waiting:,}",
                    name,
                )
                if waiting
                else say("No {} human TRAIN text without a label: import some on the Data page.", name)
            ),
        ):
            open_label_queue(project, code)
            st.switch_page("pages/curate.py", query_params={"project": str(project.id)})
    target = st.session_state.get(TARGET)
    if st.session_state.get(LLM_FORM) == FORM and isinstance(target, TargetCell):
        targeted_form(actor, project, target, count=NEXT_SYNTHETIC)


def row_sentence(row: LanguageAdvice) -> str:
    """What the language's row says, next to its buttons: the better buy, or what is known."""
    better = row.better_buy()
    if better == "synthetic":
        return f"{NEXT_SYNTHETIC} synthetic samples buy more"
    if better == "human":
        return f"{NEXT_HUMAN} human samples buy more"
    if row.synthetic is not None and row.human is not None:
        return "too close to call"
    if row.synthetic is not None:
        return f"{NEXT_SYNTHETIC} synthetic samples: likely +{row.synthetic.expected:.3f}"
    return "not on the learning curve"


def _open_generation(cell: TargetCell | None) -> None:
    st.session_state[LLM_FORM] = FORM
    st.session_state[TARGET] = cell


def open_label_queue(project: Project, code: str) -> None:
    """Set the Curate review queue to the language's texts without a label, from its first one, on the Review tab."""
    keys = ReviewKeys.of(project)
    set_kept(keys.queue, to_label_queue())
    set_kept(keys.lang, [code])
    set_kept(keys.label, [])
    set_kept(keys.flag, ANY_FLAG)
    st.session_state.pop(keys.cursor, None)
    st.session_state.pop(keys.message, None)
    open_tab(REVIEW)
