"""One sample at a time, fast with the keyboard: number keys give a label (and accept), A accepts, X rejects,
N and P move on and back. Every change names the version it was made on, so a concurrent edit is reported."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.curation.sample_actions import change_sample
from core.errors import EditConflict, StudioError
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.samples import Sample, SampleFilter, count_before, count_samples, step_sample

QUEUES = {
    "To review (pending)": SampleFilter(statuses=("pending",)),
    "Flagged, to review": SampleFilter(statuses=("pending",), flags=("any",)),
    "To label (no label yet)": SampleFilter(statuses=("unlabeled",)),
    "Accepted": SampleFilter(statuses=("accepted",)),
    "Rejected": SampleFilter(statuses=("rejected",)),
}
MAX_LABEL_KEYS = 9


@dataclass(frozen=True)
class ReviewKeys:
    cursor: str
    message: str

    @classmethod
    def of(cls, project: Project) -> ReviewKeys:
        return cls(cursor=f"review_{project.id}_cursor", message=f"review_{project.id}_message")


def _queue_filter(project: Project) -> SampleFilter:
    columns = st.columns([2, 2, 2])
    name = columns[0].selectbox("Queue", list(QUEUES), key=f"review_{project.id}_queue")
    languages = columns[1].multiselect(
        "Language",
        project.language_codes,
        format_func=language_name,
        key=f"review_{project.id}_lang",
        placeholder="All languages",
    )
    labels = columns[2].multiselect(
        "Label", project.label_names, key=f"review_{project.id}_label", placeholder="All labels"
    )
    base = QUEUES[name]
    return SampleFilter(statuses=base.statuses, flags=base.flags, languages=tuple(languages), labels=tuple(labels))


def _act(
    store: Store, keys: ReviewKeys, sample: Sample, action: str, label: str | None = None, text: str | None = None
) -> None:
    """Button callback: change the sample, then move on (or stay and say why not)."""
    try:
        change_sample(store, sample.id, action, version=sample.version, label=label, text=text)
    except EditConflict as exc:
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    if action == "edit":
        st.session_state[keys.message] = ("success", f"Saved the new text of sample #{sample.id}.")
        return
    st.session_state[keys.message] = ("success", _done_message(sample, action, label))
    st.session_state[keys.cursor] = sample.id + 1


def _done_message(sample: Sample, action: str, label: str | None) -> str:
    if action in ("label", "relabel"):
        return f"Sample #{sample.id}: labelled '{label}' and accepted."
    return f"Sample #{sample.id}: {'accepted' if action == 'accept' else 'rejected'}."


def _move(keys: ReviewKeys, target: int | None) -> None:
    if target is not None:
        st.session_state[keys.cursor] = target
    st.session_state.pop(keys.message, None)


def review_queue(store: Store, project: Project) -> None:
    keys = ReviewKeys.of(project)
    flt = _queue_filter(project)
    cursor = st.session_state.get(keys.cursor)
    sample = step_sample(store, project.id, flt, cursor - 1 if cursor else None)
    if sample is None and cursor:  # past the end: back to the first one left
        sample = step_sample(store, project.id, flt, None)
    kind, message = st.session_state.pop(keys.message, (None, None))
    if message:
        {"success": st.success, "warning": st.warning, "error": st.error}[kind](message)
    total = count_samples(store, project.id, flt)
    if sample is None:
        st.info("Nothing left in this queue. Pick another queue above, or generate or import more samples.")
        return
    position = count_before(store, project.id, flt, sample.id) + 1
    st.caption(f"Sample {position:,} of {total:,} in this queue")
    _sample_card(project, sample)
    _label_buttons(store, project, keys, sample)
    _decision_buttons(store, keys, sample, flt, project)
    with st.expander("Edit the text", icon=":material/edit:"):
        new_text = st.text_area("Text", sample.text, key=f"review_edit_{sample.id}_{sample.version}")
        st.button(
            "Save text",
            key=f"review_save_{sample.id}",
            on_click=_act,
            args=(store, keys, sample, "edit"),
            kwargs={"text": new_text},
            disabled=new_text.strip() == sample.text,
        )


def _sample_card(project: Project, sample: Sample) -> None:
    with st.container(border=True):
        st.markdown(f"#### {sample.text}")
        label = f"**{sample.label}**" if sample.label else "*no label yet*"
        st.markdown(
            f"#{sample.id} · {language_name(sample.language)} · label {label} · {sample.status} · "
            f"{sample.origin}, {sample.split}" + (f" · {sample.model}" if sample.model else "")
        )
        description = next((lab.description for lab in project.labels if lab.name == sample.label), "")
        if description:
            st.caption(f"{sample.label}: {description}")
        for flag in sample.flags:
            st.markdown(f":orange-badge[{flag.kind.replace('_', ' ')}] {flag.reason}")


def _label_buttons(store: Store, project: Project, keys: ReviewKeys, sample: Sample) -> None:
    labels = project.label_names
    columns = st.columns(min(len(labels), 5) or 1)
    action = "relabel" if sample.label else "label"
    for index, label in enumerate(labels):
        shortcut = str(index + 1) if index < MAX_LABEL_KEYS else None
        columns[index % len(columns)].button(
            f"{label}",
            key=f"review_label_{index}",
            on_click=_act,
            args=(store, keys, sample, action),
            kwargs={"label": label},
            shortcut=shortcut,
            type="primary" if label == sample.label else "secondary",
            width="stretch",
            help=f"Give the label '{label}' and accept (key {shortcut})" if shortcut else None,
        )


def _decision_buttons(store: Store, keys: ReviewKeys, sample: Sample, flt: SampleFilter, project: Project) -> None:
    columns = st.columns(4)
    columns[0].button(
        "Accept",
        key="review_accept",
        icon=":material/check:",
        on_click=_act,
        args=(store, keys, sample, "accept"),
        shortcut="A",
        disabled=not sample.label or sample.status == "accepted",
        width="stretch",
    )
    columns[1].button(
        "Reject",
        key="review_reject",
        icon=":material/close:",
        on_click=_act,
        args=(store, keys, sample, "reject"),
        shortcut="X",
        disabled=sample.status == "rejected",
        width="stretch",
    )
    previous = step_sample(store, project.id, flt, sample.id, direction=-1)
    columns[2].button(
        "Previous",
        key="review_previous",
        icon=":material/arrow_back:",
        on_click=_move,
        args=(keys, previous.id if previous else None),
        shortcut="P",
        disabled=previous is None,
        width="stretch",
    )
    columns[3].button(
        "Next",
        key="review_next",
        icon=":material/arrow_forward:",
        on_click=_move,
        args=(keys, sample.id + 1),
        shortcut="N",
        width="stretch",
    )
