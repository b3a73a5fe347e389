"""Curate: review one by one with the keyboard, change many at once, resolve repeats, choose the threshold. In team
mode, someone with review work handed to them judges their own queue on the Review tab, and leads hand out samples
(Assign) and decide the samples the annotators disagree on (Adjudicate).

Only the open tab runs (st.tabs with on_change="rerun"): a key press in the review runs the review alone, and an
action taken in a tab leaves the page on that tab."""

from __future__ import annotations

import streamlit as st

from components.adjudication_view import ADJUDICATE_TAB, adjudication_view
from components.assigned_review import assigned_review, assigned_work, wants_own_queue
from components.bulk_actions import bulk_actions
from components.curate_tabs import TAB_KEY, TABS
from components.curation_checks import checks_panel, threshold_helper
from components.curation_overview import curation_overview
from components.distribute_form import ASSIGN_TAB, distribute_form
from components.doubt_ranking import ranking_panel
from components.duplicate_groups_view import duplicate_groups_view
from components.feedback import friendly_errors
from components.page_opening import open_project_page
from components.review_queue import review_queue
from components.role_gate import gate, may
from components.sample_browser import sample_browser
from components.studio_state import current_actor
from core.front.data import has_samples

store, project = open_project_page(
    "Curate", without_project="Create a project first, then import or generate samples to curate."
)
if not has_samples(current_actor(), project):
    st.info("This project has no samples yet: generate some, or import a file on the Data page.")
    st.page_link("pages/generate.py", label="Go to Generate", icon=":material/auto_awesome:")
    st.stop()

with friendly_errors("The checks"):
    checks_panel(store, project)
leads_review = current_actor().team and may("review.assign")  # team mode: hands out review work, decides disputes
tabs = st.tabs([*TABS, ASSIGN_TAB, ADJUDICATE_TAB] if leads_review else list(TABS), key=TAB_KEY, on_change="rerun")
review, browse, repeats, threshold, overview = tabs[:5]
if review.open:
    with review, friendly_errors("Reviewing"):
        st.caption(
            "Keys: **1–9** give a label and accept · **A** accept · **X** reject · **N** next · **P** previous · "
            "**U** undo your last decision"
        )
        if gate("samples.review"):
            mine = assigned_work(project)
            if mine is not None and wants_own_queue(project, may_see_all=leads_review):
                assigned_review(project, mine)
            else:
                ranking_panel(store, project)  # order the texts to label by a model's doubt (leads)
                review_queue(store, project)


@st.fragment
def browse_and_bulk() -> None:
    """The Browse tab as a fragment: Next, Previous, a filter or a ticked row redraws the table alone, not the page
    around it (the checks panel above it catches up at the next full drawing). A bulk action (its callback leaves a
    message to show) redraws the whole page: its figures and the message are drawn after the change."""
    if st.session_state.get("_flash") and not st.session_state.get(FULL_DRAWING):
        st.rerun(scope="app")
    st.session_state[FULL_DRAWING] = False
    with friendly_errors("Loading samples"):  # a fragment's own drawing runs outside the page's
        state = sample_browser(store, project, key_prefix="curate", selectable=True)
        if state is not None and may("samples.bulk"):
            bulk_actions(store, project, state)


FULL_DRAWING = "curate_browse_full_drawing"  # set while the whole page draws the fragment (no rerun needed then)
if browse.open:
    with browse:
        st.session_state[FULL_DRAWING] = True
        browse_and_bulk()
if repeats.open:
    with repeats, friendly_errors("Loading the repeats"):
        duplicate_groups_view(store, project)
if threshold.open:
    with threshold:
        if gate("checks.settings"):
            threshold_helper(store, project)
if overview.open:
    with overview, friendly_errors("The overview"):
        curation_overview(store, project)
if leads_review and tabs[5].open:
    with tabs[5], friendly_errors("Handing out review work"):
        distribute_form(project)
if leads_review and tabs[6].open:
    with tabs[6], friendly_errors("The adjudication queue"):
        adjudication_view(project)
