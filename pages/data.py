"""Data: browse samples (filtered and paged in the database), import files, export."""

from __future__ import annotations

import streamlit as st

from components.export_panel import export_panel
from components.feedback import friendly_errors, show_flash
from components.import_flow import import_flow
from components.sample_browser import sample_browser
from components.studio_state import current_project, get_store, run_inside_app

run_inside_app()
store = get_store()
project = current_project(store)

st.title("Data")
show_flash()
if project is None:
    st.info("Create a project first: it says which labels and languages your samples have.")
    st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
    st.stop()

browse, importing, exporting = st.tabs(["Browse", "Import", "Export"])
with browse, friendly_errors("Loading samples"):
    sample_browser(store, project)
with importing:
    import_flow(store, project)
with exporting:
    export_panel(store, project)
