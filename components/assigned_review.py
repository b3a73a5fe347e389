"""An annotator's queue (team mode): the samples handed to the signed-in person, one at a time, with the same keys
as the review queue (1-9 give a label, A accepts, X rejects, N and P move on and back, U undoes their last
judgement). Each key records a judgement through core (with the time taken since the sample was shown); the
sample's status follows from every annotator's judgements by the project's rule, never from one of them.

Nothing of the others' judgements of a sample is shown here, nor whether a sample is a gold check."""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from components.feedback import friendly_errors
from components.safe_text import alert, md, say, show_text
from components.studio_state import current_actor
from core.errors import StudioError
from core.front.projects import Project
from core.front.review import MyQueue, QueueEntry, judge, my_queue, undo_last_judgement
from core.language_names import language_name

QUEUE_WINDOW = 200  # open assignments read per drawing: N and P move within them (the rest come as these are judged)
MAX_LABEL_KEYS = 9
MY_QUEUE, EVERY_SAMPLE = "My queue", "Every sample"


@dataclass(frozen=True)
class QueueKeys:
    cursor: str  # (sample id, index) of the sample shown
    shown: str  # (sample id, time.monotonic() when it was first shown)
    message: str
    view: str  # a lead's choice between their queue and the whole project
    drawn: str  # set while the page draws the queue with what it has just read

    @classmethod
    def of(cls, project: Project) -> QueueKeys:
        prefix = f"myqueue_{project.id}"
        return cls(f"{prefix}_cursor", f"{prefix}_shown", f"{prefix}_message", f"{prefix}_view", f"{prefix}_drawn")


def assigned_work(project: Project) -> MyQueue | None:
    """The signed-in person's queue in the project (team mode), or None when nothing was ever assigned to them."""
    actor = current_actor()
    if not actor.team:
        return None
    mine = my_queue(actor, project, QUEUE_WINDOW)
    return mine if mine.open or mine.done else None


def wants_own_queue(project: Project, *, may_see_all: bool) -> bool:
    """For someone with assignments: their queue, or (leads and owners, by choice) the whole project's review."""
    if not may_see_all:
        return True
    keys = QueueKeys.of(project)
    choice = st.segmented_control(
        "Review", [MY_QUEUE, EVERY_SAMPLE], default=MY_QUEUE, key=keys.view, label_visibility="collapsed"
    )
    return choice != EVERY_SAMPLE


def _current(keys: QueueKeys, entries: list[QueueEntry]) -> int:
    """The index of the sample to show: the one shown last if it is still open, else the one now at its place."""
    sample_id, index = st.session_state.get(keys.cursor, (None, 0))
    for position, entry in enumerate(entries):
        if entry.sample_id == sample_id:
            return position
    return min(max(index, 0), len(entries) - 1)


def _started(keys: QueueKeys, sample_id: int) -> None:
    """Remember when this sample was first shown (kept while it stays on the screen)."""
    shown = st.session_state.get(keys.shown)
    if shown is None or shown[0] != sample_id:
        st.session_state[keys.shown] = (sample_id, time.monotonic())


def _seconds(keys: QueueKeys, sample_id: int) -> float | None:
    shown = st.session_state.get(keys.shown)
    if shown is None or shown[0] != sample_id:
        return None
    seconds = time.monotonic() - shown[1]
    return round(seconds, 2) if 0 <= seconds < 86_400 else None


def _judge(
    project: Project,
    keys: QueueKeys,
    entry: QueueEntry,
    index: int,
    decision: str,
    label: str | None = None,
    text: str | None = None,
) -> None:
    """Button callback: record the judgement, then show the next sample of the queue (or stay and say why not)."""
    try:
        done = judge(
            current_actor(),
            project,
            entry.sample_id,
            decision,
            label=label,
            text=text,
            seconds=_seconds(keys, entry.sample_id),
        )
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    st.session_state[keys.message] = ("success", done.message + " Press U to undo it.")
    st.session_state[keys.cursor] = (None, index)  # the judged sample left the queue: the next one takes its place
    st.session_state.pop(keys.shown, None)


def _undo(project: Project, keys: QueueKeys) -> None:
    try:
        undone = undo_last_judgement(current_actor(), project)
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    st.session_state[keys.message] = ("success", undone.message)
    st.session_state[keys.cursor] = (undone.sample_id, 0)
    st.session_state.pop(keys.shown, None)


def _move(keys: QueueKeys, entries: list[QueueEntry], index: int) -> None:
    index %= len(entries)
    st.session_state[keys.cursor] = (entries[index].sample_id, index)
    st.session_state.pop(keys.message, None)


def assigned_review(project: Project, mine: MyQueue) -> None:
    """The person's open assignments, one at a time, with a progress line; drawn as a fragment, so that a key press
    (Next, a judgement...) redraws the queue alone, not the page around it."""
    st.session_state[QueueKeys.of(project).drawn] = True  # `mine` was read for this drawing of the page
    _queue_fragment(project, mine)


@st.fragment
def _queue_fragment(project: Project, read: MyQueue) -> None:
    keys = QueueKeys.of(project)
    with friendly_errors("Reviewing"):  # a fragment's own drawing runs outside the page's
        # the queue the page read for its own drawing, or, when a key press redraws the fragment alone, now
        fresh = st.session_state.pop(keys.drawn, False)
        _assigned_review(project, read if fresh else my_queue(current_actor(), project, QUEUE_WINDOW))


def _assigned_review(project: Project, mine: MyQueue) -> None:
    keys = QueueKeys.of(project)
    total = mine.open + mine.done
    with st.container(key="myqueue_progress"):
        st.markdown(f"**My queue** · {mine.done:,} of {total:,} judged")
        st.progress(mine.done / total if total else 0.0)
    kind, message = st.session_state.pop(keys.message, (None, None))
    if message:
        alert(kind)(md(message))
    entries = mine.entries
    if not entries:
        st.success(
            "You have judged every sample handed to you in this project. A lead can hand out more on the Assign tab.",
            icon=":material/task_alt:",
        )
        _undo_button(project, keys, mine)
        return
    index = _current(keys, entries)
    entry = entries[index]
    _started(keys, entry.sample_id)
    st.caption(f"Sample {index + 1:,} of {mine.open:,} left to judge")
    _card(entry)
    _label_buttons(project, keys, entry, index)
    _decision_buttons(project, keys, mine, entry, index)
    _edit(project, keys, entry, index)


def _card(entry: QueueEntry) -> None:
    with st.container(border=True, key="myqueue_card"):
        show_text(entry.text, size="large")
        label = say("**{}**", entry.label) if entry.label else "*no label yet*"
        st.markdown(say("Sample \\#{} · {} · label ", entry.sample_id, language_name(entry.language)) + label)


def _label_buttons(project: Project, keys: QueueKeys, entry: QueueEntry, index: int) -> None:
    labels = project.label_names
    columns = st.columns(min(len(labels), 5) or 1)
    for number, label in enumerate(labels):
        shortcut = str(number + 1) if number < MAX_LABEL_KEYS else None
        columns[number % len(columns)].button(
            md(label),
            key=f"myqueue_label_{number}",
            on_click=_judge,
            args=(project, keys, entry, index, "label"),
            kwargs={"label": label},
            shortcut=shortcut,
            type="primary" if label == entry.label else "secondary",
            width="stretch",
            help=say("Your judgement: the label '{}' (key {})", label, shortcut) if shortcut else None,
        )


def _undo_button(project: Project, keys: QueueKeys, mine: MyQueue, column: object = None) -> None:
    where = column if column is not None else st
    where.button(  # type: ignore[attr-defined]
        "Undo",
        key="myqueue_undo",
        icon=":material/undo:",
        on_click=_undo,
        args=(project, keys),
        shortcut="U",
        disabled=not mine.done,
        width="stretch",
        help="Take back your last judgement in this project (key U)" if mine.done else "Nothing to undo yet",
    )


def _decision_buttons(project: Project, keys: QueueKeys, mine: MyQueue, entry: QueueEntry, index: int) -> None:
    columns = st.columns(5)
    columns[0].button(
        "Accept",
        key="myqueue_accept",
        icon=":material/check:",
        on_click=_judge,
        args=(project, keys, entry, index, "accept"),
        shortcut="A",
        disabled=not entry.label,
        width="stretch",
        help="Your judgement: right as it is, with its label (key A)",
    )
    columns[1].button(
        "Reject",
        key="myqueue_reject",
        icon=":material/close:",
        on_click=_judge,
        args=(project, keys, entry, index, "reject"),
        shortcut="X",
        width="stretch",
        help="Your judgement: of no use (key X)",
    )
    entries = mine.entries
    columns[2].button(
        "Previous",
        key="myqueue_previous",
        icon=":material/arrow_back:",
        on_click=_move,
        args=(keys, entries, index - 1),
        shortcut="P",
        disabled=len(entries) < 2,
        width="stretch",
    )
    columns[3].button(
        "Next",
        key="myqueue_next",
        icon=":material/arrow_forward:",
        on_click=_move,
        args=(keys, entries, index + 1),
        shortcut="N",
        disabled=len(entries) < 2,
        width="stretch",
        help="Skip this sample for now (it stays in your queue)",
    )
    _undo_button(project, keys, mine, columns[4])


def _edit(project: Project, keys: QueueKeys, entry: QueueEntry, index: int) -> None:
    """A corrected text as the judgement (it keeps the sample's label)."""
    box = f"myqueue_edit_{entry.sample_id}"
    st.session_state.setdefault(box, entry.text)
    with st.expander("Correct the text", icon=":material/edit:"):
        typed = st.text_area("Corrected text", key=box)
        st.button(
            "Save my corrected text",
            key=f"myqueue_save_{entry.sample_id}",
            on_click=_save_edit,
            args=(project, keys, entry, index, box),
            disabled=not entry.label or typed.strip() == entry.text.strip(),
            help="Your judgement: the sample is right with this text and its label"
            if entry.label
            else "Give the sample a label first",
        )


def _save_edit(project: Project, keys: QueueKeys, entry: QueueEntry, index: int, box: str) -> None:
    _judge(project, keys, entry, index, "edit", text=st.session_state.get(box, ""))
