"""One sample at a time, fast with the keyboard: number keys give a label (and accept), A accepts, X rejects,
N and P move on and back, U undoes this person's last decision. Every change names the version it was made on, so
a concurrent edit is reported (and an undo of a decision someone changed since is refused)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.curation_overview import FLAG_NAMES
from components.feedback import friendly_errors
from components.kept_widgets import kept, set_kept
from components.people import namer
from components.safe_text import alert, md, say, show_text
from components.studio_state import current_actor
from core.errors import EditConflict, StudioError
from core.front.actor import Store
from core.front.curation import Decision, decide, undo_decision
from core.front.data import Sample, SampleFilter, flag_kinds, review_step
from core.front.projects import Project
from core.front.queues import ARRIVAL, ORDER_WORDS, Flag, RankKey, ranked_kind, ranked_step
from core.language_names import language_name

QUEUES = {
    "To review (pending)": SampleFilter(statuses=("pending",)),
    "Flagged, to review": SampleFilter(statuses=("pending",), flags=("any",)),
    "To label (no label yet)": SampleFilter(statuses=("unlabeled",)),
    "Accepted": SampleFilter(statuses=("accepted",)),
    "Rejected": SampleFilter(statuses=("rejected",)),
}
FLAGGED = "Flagged, to review"
MAX_LABEL_KEYS = 9
ANY_FLAG = ""  # the Flag picker's "no flag filter"
MAX_UNDO = 50  # decisions remembered for undo, per project and browser session
RANKED, IN_ARRIVAL = "ranked", "arrival"  # the Order choice of a queue of a scored flag kind


@dataclass(frozen=True)
class ReviewKeys:
    cursor: str
    message: str
    decisions: str  # this person's decisions in this browser session, newest last: (action-log id, sample id)
    queue: str
    lang: str
    label: str
    flag: str
    order: str  # RANKED or IN_ARRIVAL, for a queue of a scored flag kind
    rank_cursor: str  # the place (RankKey) to show next in the ordered queue
    rank_kind: str  # the flag kind whose order the place is in
    rank_of: str  # sample id: its flag's score, for an undo in the ordered queue

    @classmethod
    def of(cls, project: Project) -> ReviewKeys:
        prefix = f"review_{project.id}"
        return cls(
            cursor=f"{prefix}_cursor",
            message=f"{prefix}_message",
            decisions=f"{prefix}_decisions",
            queue=f"{prefix}_queue",
            lang=f"{prefix}_lang",
            label=f"{prefix}_label",
            flag=f"{prefix}_flag",
            order=f"{prefix}_order",
            rank_cursor=f"{prefix}_rank_cursor",
            rank_kind=f"{prefix}_rank_kind",
            rank_of=f"{prefix}_rank_of",
        )


def open_flag_queue(project: Project, kind: str) -> None:
    """Set the review queue to the pending samples that carry one flag kind, from its first sample (a callback)."""
    keys = ReviewKeys.of(project)
    set_kept(keys.queue, FLAGGED)
    set_kept(keys.lang, [])
    set_kept(keys.label, [])
    set_kept(keys.flag, kind)
    st.session_state.pop(keys.cursor, None)
    st.session_state.pop(keys.rank_cursor, None)
    st.session_state.pop(keys.message, None)


def open_ranked_queue(project: Project, kind: str, queue: str) -> None:
    """Set the review queue to `queue`'s samples that carry the scored flag `kind`, highest score first, from its
    first sample (a callback, or before the queue is drawn)."""
    open_flag_queue(project, kind)
    keys = ReviewKeys.of(project)
    set_kept(keys.queue, queue)
    set_kept(keys.order, RANKED)


def _flag_name(kind: str) -> str:
    return FLAG_NAMES.get(kind, kind.replace("_", " ")) if kind else "No flag filter"


def _queue_filter(store: Store, project: Project, keys: ReviewKeys) -> SampleFilter:
    columns = st.columns([2, 2, 2, 2])
    name = columns[0].selectbox("Queue", list(QUEUES), **kept(keys.queue, options=list(QUEUES)))
    languages = columns[1].multiselect(
        "Language",
        project.language_codes,
        format_func=language_name,
        placeholder="All languages",
        **kept(keys.lang, options=project.language_codes),
    )
    labels = columns[2].multiselect(
        "Label", project.label_names, placeholder="All labels", **kept(keys.label, options=project.label_names)
    )
    kinds = [ANY_FLAG, *flag_kinds(current_actor(), project)]
    flag = columns[3].selectbox("Flag", kinds, format_func=_flag_name, **kept(keys.flag, ANY_FLAG, options=kinds))
    base = QUEUES[name or next(iter(QUEUES))]
    return SampleFilter(
        statuses=base.statuses,
        flags=(flag,) if flag else base.flags,
        languages=tuple(languages),
        labels=tuple(labels),
    )


def _ordered(keys: ReviewKeys, flt: SampleFilter) -> str | None:
    """The Order choice of a queue of one scored flag kind ("most doubtful first" or in order of arrival): the kind
    when the queue is to be walked in the order of its flags' scores."""
    kind = ranked_kind(flt)
    if kind is None:
        return None
    words = {RANKED: ORDER_WORDS.get(kind, "Highest score first"), IN_ARRIVAL: ARRIVAL}
    order = st.radio(
        "Order",
        list(words),
        format_func=words.__getitem__,
        horizontal=True,
        help="The checks (or the ranking by the model's doubt) score each of these samples: the samples whose "
        "label is most in doubt, or whose label would teach the model most, come first.",
        **kept(keys.order, RANKED, options=list(words)),
    )
    return kind if order == RANKED else None


def _act(
    store: Store,
    keys: ReviewKeys,
    sample: Sample,
    action: str,
    label: str | None = None,
    key: RankKey | None = None,
) -> None:
    """Button callback: change the sample, then move on (or stay and say why not). `key`: its place in the ordered
    queue, when the queue is walked in its flags' order."""
    try:
        decision = decide(current_actor(), sample.id, action, version=sample.version, label=label)
    except EditConflict as exc:
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    _remember(keys, decision)
    st.session_state[keys.message] = ("success", _done_message(sample, action, label) + " Press U to undo it.")
    st.session_state[keys.cursor] = sample.id + 1
    if key is not None:
        st.session_state[keys.rank_cursor] = key.after()
        st.session_state.setdefault(keys.rank_of, {})[sample.id] = key.score


def _remember(keys: ReviewKeys, decision: Decision) -> None:
    if decision.action_id is not None:
        decisions = st.session_state.setdefault(keys.decisions, [])
        decisions.append((decision.action_id, decision.sample.id))
        del decisions[:-MAX_UNDO]


def _undo(store: Store, keys: ReviewKeys) -> None:
    """Button callback: undo this person's last decision and show that sample again (or say why it cannot)."""
    decisions = st.session_state.get(keys.decisions) or []
    if not decisions:
        return
    action_id, sample_id = decisions.pop()
    st.session_state[keys.cursor] = sample_id
    ranked = st.session_state.get(keys.rank_of) or {}
    if sample_id in ranked:  # decided in the ordered queue: show it there again
        st.session_state[keys.rank_cursor] = RankKey(ranked[sample_id], sample_id)
    try:
        undone = undo_decision(current_actor(), action_id)
    except EditConflict as exc:
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    st.session_state[keys.message] = ("success", undone.message)


def _done_message(sample: Sample, action: str, label: str | None) -> str:
    if action in ("label", "relabel"):
        return f"Sample #{sample.id}: labelled '{label}' and accepted."
    return f"Sample #{sample.id}: {'accepted' if action == 'accept' else 'rejected'}."


def _move(keys: ReviewKeys, target: int | RankKey | None) -> None:
    if isinstance(target, RankKey):
        st.session_state[keys.rank_cursor] = target
    elif target is not None:
        st.session_state[keys.cursor] = target
    st.session_state.pop(keys.message, None)


def review_queue(store: Store, project: Project) -> None:
    """The review, drawn as a fragment: a key press (Next, Accept...) redraws the review alone, not the page around
    it (the checks panel above it catches up at the next full drawing)."""
    _review_fragment(store, project)


@st.fragment
def _review_fragment(store: Store, project: Project) -> None:
    with friendly_errors("Reviewing"):
        _review(store, project)


def _review(store: Store, project: Project) -> None:
    keys = ReviewKeys.of(project)
    flt = _queue_filter(store, project, keys)
    ranked = _ordered(keys, flt)
    if st.session_state.get(keys.rank_kind) != ranked:  # a place in another kind's order means nothing in this one
        st.session_state.pop(keys.rank_cursor, None)
        st.session_state[keys.rank_kind] = ranked
    # the first sample from the cursor on (past the end: the first one left), its place and the one before it
    place: RankKey | None = None
    previous: int | RankKey | None
    why: Flag | None = None
    if ranked is not None:
        ordered = ranked_step(current_actor(), project, flt, st.session_state.get(keys.rank_cursor))
        sample, position, total = ordered.sample, ordered.position, ordered.total
        place, previous, why = ordered.key, ordered.previous, ordered.flag
    else:
        step = review_step(current_actor(), project, flt, st.session_state.get(keys.cursor) or None)
        sample, position, total, previous = step.sample, step.position, step.total, step.previous_id
    kind, message = st.session_state.pop(keys.message, (None, None))
    if message:
        alert(kind)(md(message))
    if sample is None:
        st.info("Nothing left in this queue. Pick another queue above, or generate or import more samples.")
        _undo_button(store, keys)
        return
    order = f", {ORDER_WORDS[ranked].lower()}" if ranked in ORDER_WORDS else ""
    st.caption(f"Sample {position:,} of {total:,} in this queue{order}")
    _sample_card(project, sample, why)
    _label_buttons(store, project, keys, sample, place)
    _decision_buttons(store, keys, sample, previous, place)
    text_editor(store, keys, sample)


def _sample_card(project: Project, sample: Sample, why: Flag | None = None) -> None:
    """`why`: the flag that put the sample here in an ordered queue, shown first, with its reason."""
    with st.container(border=True):
        if why is not None:
            st.markdown(f":violet-badge[{_flag_name(why.kind)}] **Why it is here:** " + md(why.reason))
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
            if why is None or flag.kind != why.kind:
                st.markdown(f":orange-badge[{_flag_name(flag.kind)}] " + md(flag.reason))
        person = namer()
        added = say("Added by {} on {}", person(sample.created_by), f"{sample.created_at:%Y-%m-%d %H:%M}")
        if sample.version > 1:
            added += say(
                " · last changed by {} on {}", person(sample.updated_by), f"{sample.updated_at:%Y-%m-%d %H:%M}"
            )
        st.caption(added + " (UTC)")


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
        decision = decide(current_actor(), sample_id, "edit", version=version, text=st.session_state.get(edit.box, ""))
    except EditConflict as exc:  # the box keeps the typed text; the panel shows both versions
        st.session_state[keys.message] = ("warning", str(exc))
        return
    except StudioError as exc:
        st.session_state[keys.message] = ("error", str(exc))
        return
    _remember(keys, decision)
    saved = decision.sample
    st.session_state[edit.base] = (saved.version, saved.text)
    st.session_state[edit.box] = saved.text
    st.session_state[keys.message] = ("success", f"Saved the new text of sample #{sample_id}.")


def _conflict_panel(store: Store, keys: ReviewKeys, sample: Sample, edit: EditKeys, typed: str) -> None:
    st.warning(
        say(
            "{} saved another text of this sample at {} while you were editing it. Your text is still in the box "
            "and was not saved. Compare the two, then keep one.",
            namer()(sample.updated_by),
            f"{sample.updated_at:%H:%M:%S}",
        ),
        icon=":material/sync_problem:",
    )
    theirs, mine = st.columns(2)
    with theirs:
        st.caption(say("Saved now (by {})", namer()(sample.updated_by)))
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


def _label_buttons(
    store: Store, project: Project, keys: ReviewKeys, sample: Sample, place: RankKey | None = None
) -> None:
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
            kwargs={"label": label, "key": place},
            shortcut=shortcut,
            type="primary" if label == sample.label else "secondary",
            width="stretch",
            help=say("Give the label '{}' and accept (key {})", label, shortcut) if shortcut else None,
        )


def _undo_button(store: Store, keys: ReviewKeys, column: object = None) -> None:
    decisions = st.session_state.get(keys.decisions) or []
    where = column if column is not None else st
    where.button(  # type: ignore[attr-defined]
        "Undo",
        key="review_undo",
        icon=":material/undo:",
        on_click=_undo,
        args=(store, keys),
        shortcut="U",
        disabled=not decisions,
        width="stretch",
        help=f"Undo your last decision, on sample #{decisions[-1][1]} (key U)" if decisions else "Nothing to undo yet",
    )


def _decision_buttons(
    store: Store, keys: ReviewKeys, sample: Sample, previous: int | RankKey | None, place: RankKey | None = None
) -> None:
    columns = st.columns(5)
    columns[0].button(
        "Accept",
        key="review_accept",
        icon=":material/check:",
        on_click=_act,
        args=(store, keys, sample, "accept"),
        kwargs={"key": place},
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
        kwargs={"key": place},
        shortcut="X",
        disabled=sample.status == "rejected",
        width="stretch",
    )
    columns[2].button(
        "Previous",
        key="review_previous",
        icon=":material/arrow_back:",
        on_click=_move,
        args=(keys, previous),
        shortcut="P",
        disabled=previous is None,
        width="stretch",
    )
    columns[3].button(
        "Next",
        key="review_next",
        icon=":material/arrow_forward:",
        on_click=_move,
        args=(keys, place.after() if place is not None else sample.id + 1),
        shortcut="N",
        width="stretch",
    )
    _undo_button(store, keys, columns[4])
