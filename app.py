"""Distill Studio: `streamlit run app.py` (the README's first command wraps it)."""

from __future__ import annotations

import streamlit as st

from components.feedback import friendly_errors
from components.studio_state import current_actor, get_store, project_switcher
from core.front.jobs import start_reaper

st.set_page_config(page_title="Distill Studio", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("pages/projects.py", title="Projects", icon=":material/folder_open:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/table_view:"),
    st.Page("pages/prompts.py", title="Prompts", icon=":material/edit_note:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("pages/curate.py", title="Curate", icon=":material/rule:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/insights:"),
    st.Page("pages/jobs.py", title="Jobs", icon=":material/pending_actions:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]

navigation = st.navigation(PAGES)
st.sidebar.markdown("**Distill Studio**  \nsynthetic data → small multilingual classifiers")
with friendly_errors("Opening the studio"):
    start_reaper(current_actor())  # once per server process: jobs whose worker died are found every 10 s
    project_switcher(get_store())
navigation.run()
