"""Bulk actions on the samples a curator picked in the table, or on everything the filters match; and undo.

The buttons act in callbacks (before the page is drawn again), so every figure on the page is drawn after the
change, and the page stays on the tab where the button was pressed."""

from __future__ import annotations

import streamlit as st

from components.feedback import flash, friendly_errors
from components.kept_widgets import kept
from components.people import person
from components.role_gate import may
from components.safe_text import say
from components.sample_browser import BrowseState
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.curation import bulk_change, last_bulk_action, undo_last_bulk
from core.front.projects import Project
from core.front.review import mark_gold, unmark_gold

BULK_ACTIONS = {
    "Accept": "accept",
    "Reject": "reject",
    "Give the label…": "relabel",
    "Back to pending": "reset",
}
GOLD_ACTIONS = {  # leads: gold checks for team review (human samples with a label; the rows ticked in the table)
    "Mark as gold checks": "gold",
    "Gold checks no more": "ungold",
}
CONFIRM_ABOVE = 500  # filter-wide actions on more samples than this ask for a confirmation


def bulk_actions(store: Store, project: Project, state: BrowseState) -> None:
    with st.container(border=True):
        st.markdown("**Change many samples at once**")
        columns = st.columns([2, 2, 2, 1.2])
        selected = len(state.selected)
        targets = [f"the {selected} selected"] if selected else []
        targets.append(f"all {state.page.total:,} matching the filters")
        target = columns[0].radio("Apply to", targets, key=f"bulk_{project.id}_target")
        actions = {**BULK_ACTIONS, **(GOLD_ACTIONS if may("review.gold") else {})}
        action_name = columns[1].selectbox(
            "Action", list(actions), **kept(f"bulk_{project.id}_action", options=list(actions))
        )
        action = actions[action_name or "Accept"]
        label = None
        if action == "relabel":
            label = columns[2].selectbox(
                "Label", project.label_names, **kept(f"bulk_{project.id}_label", options=project.label_names)
            )
        on_all = not target.startswith("the ")
        confirmed = True
        if on_all and state.page.total > CONFIRM_ABOVE:
            confirmed = columns[2].checkbox(
                f"Yes, change {state.page.total:,} samples", key=f"bulk_{project.id}_confirm"
            )
        if action in GOLD_ACTIONS.values():
            st.caption(
                "Gold checks are human samples whose label is the right answer: mixed unannounced into the "
                "annotators' queues, they measure each annotator's accuracy (Team page). Tick the rows first."
            )
        elif not selected:
            st.caption("Tip: tick rows in the table to act on just those.")
        columns[3].button(
            "Apply",
            type="primary",
            disabled=not confirmed,
            key=f"bulk_{project.id}_apply",
            on_click=_apply,
            args=(store, project, state, action, label, on_all),
        )
    undo_panel(store, project, "browse")


def _apply(store: Store, project: Project, state: BrowseState, action: str, label: str | None, on_all: bool) -> None:
    with friendly_errors("The bulk action"):
        if action in GOLD_ACTIONS.values():
            _gold(project, state, action, on_all)
        elif on_all:
            result = bulk_change(current_actor(), project, action, flt=state.flt, label=label)
        else:
            result = bulk_change(
                current_actor(),
                project,
                action,
                ids=[s.id for s in state.selected],
                versions={s.id: s.version for s in state.selected},
                label=label,
            )
        flash(result.message, "success" if result.changed else "info")


def undo_panel(store: Store, project: Project, where: str) -> None:
    """The last bulk action and a button to undo it (for those who may change many samples at once); `where` names
    the place it is drawn (a tab), so that it can be drawn in several places of one page."""
    if not may("samples.bulk"):
        return
    last = last_bulk_action(current_actor(), project)
    if last is None:
        return
    columns = st.columns([5, 1])
    columns[0].caption(
        say(
            "Last bulk action: **{}** of {} sample{} by {} at {} UTC.",
            last.action,
            f"{last.samples:,}",
            "" if last.samples == 1 else "s",
            person(last.who),
            f"{last.at:%Y-%m-%d %H:%M}",
        )
    )
    columns[1].button(
        "Undo it",
        icon=":material/undo:",
        key=f"bulk_{project.id}_{where}_undo",
        on_click=_undo,
        args=(store, project),
    )


def _undo(store: Store, project: Project) -> None:
    with friendly_errors("Undo"):
        flash(undo_last_bulk(current_actor(), project).message)


def _gold(project: Project, state: BrowseState, action: str, on_all: bool) -> None:
    if on_all or not state.selected:
        flash("Tick the rows of the samples to mark in the table first: gold checks are chosen one by one.", "info")
        return
    ids = [s.id for s in state.selected]
    result = (mark_gold if action == "gold" else unmark_gold)(current_actor(), project, ids)
    flash(result.message, "success" if result.changed else "info")
