"""Distill Studio: `streamlit run app.py` (the README's first command wraps it)."""

from __future__ import annotations

import streamlit as st

from components.feedback import friendly_errors
from components.sign_in import account_box, sign_in_page, signed_in_actor, sync_cookie
from components.studio_state import current_actor, get_store, project_switcher
from core.front.accounts import bind_problem, team_mode
from core.front.actor import Actor, Store
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
    st.Page("pages/team.py", title="Team", icon=":material/group:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]

store: Store | None = None
with friendly_errors("Opening the studio"):
    store = get_store()
    problem = bind_problem(st.get_option("server.address"), store)
    if problem is not None:  # served to the network while no account exists: nothing but the reason
        st.error(problem, icon=":material/block:")
        st.stop()
if store is None:  # the store could not be opened: the message above says why
    st.stop()
with friendly_errors("Opening the studio"):
    start_reaper(Actor.of(store))  # once per server process: jobs whose worker died are found every 10 s
if team_mode(store):
    signed_in = signed_in_actor(store)  # the session this browser holds (its cookie), checked in the store
    sync_cookie()  # a sign-in or sign-out of this tab reaches the browser's cookie
    if signed_in is None:
        sign_in_page(store, PAGES)  # every page's URL shows only the sign-in form, and keeps its path and query

navigation = st.navigation(PAGES)
st.sidebar.markdown("**Distill Studio**  \nsynthetic data → small multilingual classifiers")
with friendly_errors("Opening the studio"):
    account_box(store, current_actor())
    project_switcher(store)
navigation.run()
