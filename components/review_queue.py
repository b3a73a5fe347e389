"""One sample at a time, fast with the keyboard: number keys give a label (and accept), A accepts, X rejects,
N and P move on and back. Every change names the version it was made on, so a concurrent edit is reported."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.safe_text import alert, md, say, show_text
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


def _act(store: Store, keys: ReviewKeys, sample: Sample, action: str, label: str | None = None) -> None:
    """Button callback: change the sample, then move on (or stay and say why not)."""
    try:
        change_sample(store, sample.id, action, version=sample.version, label=label)
    except EditConflict as exc:
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
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
        alert(kind)(md(message))
    total = count_samples(store, project.id, flt)
    if sample is None:
        st.info("Nothing left in this queue. Pick another queue above, or generate or import more samples.")
        return
    position = count_before(store, project.id, flt, sample.id) + 1
    st.caption(f"Sample {position:,} of {total:,} in this queue")
    _sample_card(project, sample)
    _label_buttons(store, project, keys, sample)
    _decision_buttons(store, keys, sample, flt, project)
    text_editor(store, keys, sample)


def _sample_card(project: Project, sample: Sample) -> None:
    with st.container(border=True):
        show_text(sample.text, size="large")
        label = say("**{}**", sample.label) if sample.label else "*no label yet*"
        st.markdown(
            say("\\#{} · {} · label ", sample.id, language_name(sample.language))
            + label
            + say(" · {} · {}, {}", sample.status, sample.origin, sample.split)
            + (say(" · {}", sample.model) if sample.model else "")
        )
        description = next((lab.description for lab in project.labels if lab.name == sample.label), "")
        if description:
            st.caption(say("{}: {}", sample.label, description))
        for flag in sample.flags:
            st.markdown(f":orange-badge[{flag.kind.replace('_', ' ')}] " + md(flag.reason))


# --- editing the text: a concurrent edit is reported, never silently replaced ----------------------------------


@dataclass(frozen=True)
class EditKeys:
    box: str  # the text area
    base: str  # (version, text) of the sample when this person started editing

    @classmethod
    def of(cls, sample: Sample) -> EditKeys:
        return cls(box=f"review_edit_{sample.id}", base=f"review_edit_{sample.id}_base")


def text_editor(store: Store, keys: ReviewKeys, sample: Sample) -> None:
    """The text box keeps what this person typed, whatever others save meanwhile; a save made on an older version
    is refused with the conflict message, both versions side by side, and a choice."""
    edit = EditKeys.of(sample)
    base = st.session_state.get(edit.base)
    typed = st.session_state.get(edit.box)
    if base is None or typed is None or (base[0] != sample.version and typed == base[1]):
        _start_edit(edit, sample)  # nothing typed yet: the box follows the stored text
    elif base[0] != sample.version and sample.text == base[1]:
        st.session_state[edit.base] = (sample.version, sample.text)  # its status changed, not its text: go on
    base_version, base_text = st.session_state[edit.base]
    conflict = base_version != sample.version  # someone saved another text while this person was typing
    with st.expander("Edit the text", icon=":material/edit:", expanded=conflict):
        new_text = st.text_area("Text", key=edit.box)
        if conflict:
            _conflict_panel(store, keys, sample, edit, new_text)
            return
        st.button(
            "Save text",
            key=f"review_save_{sample.id}",
            on_click=_save_text,
            args=(store, keys, sample.id, edit),
            disabled=new_text.strip() == base_text,
        )


def _start_edit(edit: EditKeys, sample: Sample) -> None:
    st.session_state[edit.base] = (sample.version, sample.text)
    st.session_state[edit.box] = sample.text


def _save_text(store: Store, keys: ReviewKeys, sample_id: int, edit: EditKeys, over: Sample | None = None) -> None:
    """Save the typed text, made on the version the person started from (or, `over`, knowingly on another's)."""
    version = over.version if over is not None else st.session_state[edit.base][0]
    try:
        saved = change_sample(store, sample_id, "edit", version=version, text=st.session_state.get(edit.box, ""))
    except EditConflict as exc:  # the box keeps the typed text; the panel shows both versions
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    st.session_state[edit.base] = (saved.version, saved.text)
    st.session_state[edit.box] = saved.text
    st.session_state[keys.message] = ("success", f"Saved the new text of sample #{sample_id}.")


def _conflict_panel(store: Store, keys: ReviewKeys, sample: Sample, edit: EditKeys, typed: str) -> None:
    st.warning(
        say(
            "{} saved another text of this sample at {} while you were editing it. Your text is still in the box "
            "and was not saved. Compare the two, then keep one.",
            sample.updated_by,
            f"{sample.updated_at:%H:%M:%S}",
        ),
        icon=":material/sync_problem:",
    )
    theirs, mine = st.columns(2)
    with theirs:
        st.caption(say("Saved now (by {})", sample.updated_by))
        show_text(sample.text)
        st.button(
            "Keep their text",
            key=f"review_keep_theirs_{sample.id}",
            on_click=_start_edit,
            args=(edit, sample),
            help="Drop your text and go on from theirs.",
        )
    with mine:
        st.caption("Yours (not saved)")
        show_text(typed)
        st.button(
            "Save mine instead",
            key=f"review_save_mine_{sample.id}",
            type="primary",
            on_click=_save_text,
            args=(store, keys, sample.id, edit),
            kwargs={"over": sample},
            help="Replace their text with yours (the change is logged; it can be edited again).",
            disabled=not typed.strip(),
        )


def _label_buttons(store: Store, project: Project, keys: ReviewKeys, sample: Sample) -> None:
    labels = project.label_names
    columns = st.columns(min(len(labels), 5) or 1)
    action = "relabel" if sample.label else "label"
    for index, label in enumerate(labels):
        shortcut = str(index + 1) if index < MAX_LABEL_KEYS else None
        columns[index % len(columns)].button(
            md(label),
            key=f"review_label_{index}",
            on_click=_act,
            args=(store, keys, sample, action),
            kwargs={"label": label},
            shortcut=shortcut,
            type="primary" if label == sample.label else "secondary",
            width="stretch",
            help=say("Give the label '{}' and accept (key {})", label, shortcut) if shortcut else None,
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
