"""The adjudication queue (leads and owners, team mode): the samples whose judgements the project's rule gives no
answer for, each with every judgement side by side (who, what, how long), and buttons to decide: accept, reject or
a label. Core logs the decision with the judgements it overrode."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components.people import namer
from components.safe_text import alert, md, say, show_text
from components.studio_state import current_actor
from core.errors import StudioError
from core.front.projects import Project
from core.front.review import DisputedSample, Judgement, adjudicate, adjudication_queue, review_progress
from core.language_names import language_name

ADJUDICATE_TAB = "Adjudicate"
SHOWN = 25  # disputed samples drawn at once (the oldest first): deciding them brings the next ones
MESSAGE = "adjudicate_message"


def waiting(project: Project) -> int:
    """How many samples wait for a lead's decision."""
    return review_progress(current_actor(), project).items.get("adjudication", 0)


def what_they_said(judgement: Judgement) -> str:
    """A judgement in words: "rejected", "label 'pests'", "accepted (weather)", "corrected the text (weather)"."""
    if judgement.decision == "reject":
        return "rejected"
    if judgement.decision == "label":
        return f"label '{judgement.label}'"
    if judgement.decision == "edit":
        return f"corrected the text (label '{judgement.label}')"
    return f"accepted (label '{judgement.label}')"


def took(seconds: float | None) -> str:
    if seconds is None:
        return "time not measured"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def adjudication_view(project: Project) -> None:
    kind, message = st.session_state.pop(MESSAGE, (None, None))
    if message:
        alert(kind)(md(message))
    count = waiting(project)
    if not count:
        st.info(
            "No sample waits for a decision: every judged sample so far was settled by the project's rule.",
            icon=":material/gavel:",
        )
        return
    st.markdown(
        f"**{count:,} sample{'' if count == 1 else 's'}** wait{'s' if count == 1 else ''} for your decision: "
        "their annotators did not agree by the project's rule."
        + (f" The oldest {SHOWN} are shown." if count > SHOWN else "")
    )
    person = namer()
    for disputed in adjudication_queue(current_actor(), project, SHOWN):
        _disputed(project, disputed, person)


def _disputed(project: Project, disputed: DisputedSample, person: Callable[[str], str]) -> None:
    with st.container(border=True, key=f"adjudicate_{disputed.sample_id}"):
        label = say("**{}**", disputed.label) if disputed.label else "*no label*"
        st.markdown(say("Sample \\#{} · {} · label ", disputed.sample_id, language_name(disputed.language)) + label)
        show_text(disputed.text)
        judged = disputed.judgements
        for column, judgement in zip(st.columns(max(len(judged), 1)), judged, strict=False):
            with column.container(border=True):
                st.markdown(say("**{}**", person(judgement.annotator)))
                st.markdown(md(what_they_said(judgement)))
                st.caption(f"{took(judgement.seconds)} · {judgement.at:%Y-%m-%d %H:%M} UTC")
                if judgement.decision == "edit" and judgement.text:
                    with st.expander("Their text"):
                        show_text(judgement.text)
        _decision_buttons(project, disputed)


def _decision_buttons(project: Project, disputed: DisputedSample) -> None:
    labels = project.label_names
    columns = st.columns(2 + len(labels))
    sample_id = disputed.sample_id
    columns[0].button(
        "Accept",
        key=f"adjudicate_accept_{sample_id}",
        icon=":material/check:",
        on_click=_decide,
        args=(project, sample_id, "accept"),
        disabled=not disputed.label,
        help=say("Accept it with its label '{}'", disputed.label) if disputed.label else "It has no label to accept",
        width="stretch",
    )
    columns[1].button(
        "Reject",
        key=f"adjudicate_reject_{sample_id}",
        icon=":material/close:",
        on_click=_decide,
        args=(project, sample_id, "reject"),
        width="stretch",
    )
    for column, (number, label) in zip(columns[2:], enumerate(labels), strict=True):
        column.button(
            md(label),
            key=f"adjudicate_label_{sample_id}_{number}",
            on_click=_decide,
            args=(project, sample_id, "label"),
            kwargs={"label": label},
            help=say("Accept it with the label '{}'", label),
            width="stretch",
        )


def _decide(project: Project, sample_id: int, decision: str, label: str | None = None) -> None:
    """Button callback: the lead's decision (before the page is drawn, so the sample leaves the list at once)."""
    try:
        done = adjudicate(current_actor(), project, sample_id, decision, label=label)
    except StudioError as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
        return
    st.session_state[MESSAGE] = ("success", done.message)
