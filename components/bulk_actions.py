"""Bulk actions on the samples a curator picked in the table, or on everything the filters match; and undo."""

from __future__ import annotations

import streamlit as st

from components.feedback import flash, friendly_errors
from components.safe_text import say
from components.sample_browser import BrowseState
from core.curation.sample_actions import bulk_change, last_bulk_action, undo_last_bulk
from core.store.database import Store
from core.store.projects import Project

BULK_ACTIONS = {
    "Accept": "accept",
    "Reject": "reject",
    "Give the label…": "relabel",
    "Back to pending": "reset",
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
        action_name = columns[1].selectbox("Action", list(BULK_ACTIONS), key=f"bulk_{project.id}_action")
        action = BULK_ACTIONS[action_name]
        label = None
        if action == "relabel":
            label = columns[2].selectbox("Label", project.label_names, key=f"bulk_{project.id}_label")
        on_all = not target.startswith("the ")
        confirmed = True
        if on_all and state.page.total > CONFIRM_ABOVE:
            confirmed = columns[2].checkbox(
                f"Yes, change {state.page.total:,} samples", key=f"bulk_{project.id}_confirm"
            )
        if not selected:
            st.caption("Tip: tick rows in the table to act on just those.")
        if columns[3].button("Apply", type="primary", disabled=not confirmed, key=f"bulk_{project.id}_apply"):
            with friendly_errors("The bulk action"):
                if on_all:
                    result = bulk_change(store, project.id, action, flt=state.flt, label=label)
                else:
                    result = bulk_change(
                        store,
                        project.id,
                        action,
                        ids=[s.id for s in state.selected],
                        versions={s.id: s.version for s in state.selected},
                        label=label,
                    )
                flash(result.message, "success" if result.changed else "info")
                st.rerun()
    undo_panel(store, project)


def undo_panel(store: Store, project: Project) -> None:
    last = last_bulk_action(store, project.id)
    if last is None:
        return
    columns = st.columns([5, 1])
    columns[0].caption(
        say(
            "Last bulk action: **{}** of {} samples by {} at {}.",
            last.action,
            f"{last.samples:,}",
            last.who,
            f"{last.at:%Y-%m-%d %H:%M}",
        )
    )
    if columns[1].button("Undo it", icon=":material/undo:", key=f"bulk_{project.id}_undo"):
        with friendly_errors("Undo"):
            flash(undo_last_bulk(store, project.id).message)
            st.rerun()
