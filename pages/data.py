"""Data: browse samples (filtered and paged in the database), import files, export."""

from __future__ import annotations

import streamlit as st

from components.export_panel import export_panel
from components.feedback import friendly_errors
from components.import_flow import import_flow
from components.page_opening import open_project_page
from components.sample_browser import sample_browser

store, project = open_project_page(
    "Data", without_project="Create a project first: it says which labels and languages your samples have."
)

browse, importing, exporting = st.tabs(["Browse", "Import", "Export"])
with browse, friendly_errors("Loading samples"):
    sample_browser(store, project)
with importing:
    import_flow(store, project)
with exporting:
    export_panel(store, project)
