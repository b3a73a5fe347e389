"""The store and the current project for a page: one cached store per server, the project from the URL."""

from __future__ import annotations

import streamlit as st

from components.sign_in import signed_in_actor
from core.errors import NotFound, PermissionDenied
from core.front.accounts import team_mode
from core.front.actor import Actor, Store
from core.front.projects import Project, get_project, list_projects, open_studio
from core.settings import get_settings

PROJECT_KEY = "project_id"


@st.cache_resource(show_spinner="Opening the studio's database…")
def _open(database_url: str, user: str, create_demo: bool) -> Store:
    return open_studio(database_url, user, create_demo=create_demo)


def run_inside_app() -> None:
    """Called first in every page (components.page_opening.open_page). On a fresh server whose first visitor follows
    a deep link (e.g. /generate), Streamlit runs the page in its old pages-folder mode, without app.py: no project
    switcher, another page list. Switch that mode off and run again, through app.py's navigation, on the same page.

    The switch is Streamlit's private `PagesManager.uses_pages_directory`: no public option turns the old mode off
    while the pages live in `pages/` (the layout this product keeps), and `st.navigation` leaves it only once some
    session has run app.py. tests/test_deep_links.py pins both: it fails when Streamlit no longer needs this (then
    remove it) and when the flag stops working."""
    from streamlit.runtime.pages_manager import PagesManager

    marker = "_studio_ran_through_app"
    if not PagesManager.uses_pages_directory:
        st.session_state[marker] = True
        return
    PagesManager.uses_pages_directory = False
    if not st.session_state.get(marker):  # only once: AppTest puts the old mode back before each of its runs
        st.session_state[marker] = True
        st.rerun()


def get_store() -> Store:
    """One store per (database, user) for the whole server process."""
    settings = get_settings()
    return _open(settings.database_url, settings.user, settings.create_demo)


def current_actor() -> Actor:
    """Who acts in this browser session, on the server's store: in personal mode the server's user; in team mode
    the signed-in account (checked again at every call: a deactivated account or a changed password ends it)."""
    store = get_store()
    if not team_mode(store):
        return Actor.of(store)
    actor = signed_in_actor(store)
    if actor is None:
        raise PermissionDenied("Sign in first: your session has ended.")
    return actor


def current_project_id() -> int | None:
    value = st.session_state.get(PROJECT_KEY)
    if value is None:
        raw = st.query_params.get("project")
        value = int(raw) if raw and raw.isdigit() else None
    return value


def select_project(project_id: int | None) -> None:
    st.session_state[PROJECT_KEY] = project_id
    if project_id is None:
        st.query_params.pop("project", None)
    else:
        st.query_params["project"] = str(project_id)


def current_project(store: Store) -> Project | None:
    project_id = current_project_id()
    if project_id is None:
        return None
    try:
        return get_project(current_actor(), project_id)
    except (NotFound, PermissionDenied):  # gone, or not a project this person is a member of
        select_project(None)
        return None


def project_switcher(store: Store) -> Project | None:
    """The sidebar's project picker; returns the current project (the first one when none is chosen yet)."""
    known = list_projects(current_actor())
    if not known:
        select_project(None)
        st.sidebar.caption("No project yet.")
        return None
    ids = [p.id for p in known]
    chosen = current_project_id()
    if chosen not in ids:
        chosen = ids[0]
    select_project(chosen)
    names = {p.id: p.name for p in known}

    def _changed() -> None:
        select_project(st.session_state["_project_picker"])

    st.session_state["_project_picker"] = chosen
    st.sidebar.selectbox("Project", ids, format_func=lambda i: names[i], key="_project_picker", on_change=_changed)
    return next(p for p in known if p.id == chosen)
