"""Data: browse samples (filtered and paged in the database), import files, export."""

from __future__ import annotations

import streamlit as st

from components.export_panel import export_panel
from components.feedback import friendly_errors
from components.import_flow import import_flow
from components.page_opening import open_project_page
from components.role_gate import may
from components.sample_browser import sample_browser

store, project = open_project_page(
    "Data", without_project="Create a project first: it says which labels and languages your samples have."
)

if may("import"):
    browse, importing, exporting = st.tabs(["Browse", "Import", "Export"])
    with importing:
        import_flow(store, project)
else:  # importing is for leads and owners
    browse, exporting = st.tabs(["Browse", "Export"])
with browse, friendly_errors("Loading samples"):
    sample_browser(store, project)
with exporting:
    export_panel(store, project)
