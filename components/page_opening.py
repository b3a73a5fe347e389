"""The opening every page shares, in one call: run through app.py, the store, the current project, the title and the
messages left by the last action; for a page that needs a project, a pointer to the Projects page when there is none.

    store, project = open_page("Jobs")  # project: Project | None
    store, project = open_project_page("Train", without_project="Create a project first: ...")  # project: Project
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from components.feedback import show_flash
from components.sign_in import require_sign_in
from components.studio_state import current_project, get_store, run_inside_app
from core.front.actor import Store
from core.front.projects import Project


class PageContext(NamedTuple):
    store: Store
    project: Project | None  # None: no project exists, or none is chosen


class ProjectPageContext(NamedTuple):
    store: Store
    project: Project


def open_page(title: str) -> PageContext:
    """Call first in a page: it runs the page through app.py, then shows the title and any message waiting."""
    run_inside_app()
    store = get_store()
    require_sign_in(store)  # team mode: only the sign-in form until this browser session signs in
    project = current_project(store)
    st.title(title)
    show_flash()
    return PageContext(store, project)


def open_project_page(title: str, *, without_project: str) -> ProjectPageContext:
    """`open_page` for a page that works on a project: without one it says `without_project`, links to the Projects
    page, and stops there."""
    store, project = open_page(title)
    if project is None:
        st.info(without_project)
        st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
        st.stop()
    return ProjectPageContext(store, project)
