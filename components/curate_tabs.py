"""The Curate page's tabs: their names, and opening one from code (a button elsewhere on the page)."""

from __future__ import annotations

import streamlit as st

TAB_KEY = "curate_tab"
REVIEW, BROWSE, REPEATS, THRESHOLD, OVERVIEW = "Review", "Browse & bulk", "Repeats", "Threshold", "Overview"
TABS = (REVIEW, BROWSE, REPEATS, THRESHOLD, OVERVIEW)


def open_tab(name: str) -> None:
    """Select a tab of the Curate page (from a callback, or before the tabs are drawn)."""
    st.session_state[TAB_KEY] = name
