"""The Team page's project membership (owners): pick a project, see its members, add or remove leads and
annotators. Every change goes through core.front.accounts, which checks the acting user's role itself."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.safe_text import say
from core.front.accounts import (
    Account,
    add_project_member,
    list_accounts,
    members_of_project,
    remove_project_member,
)
from core.front.actor import Actor
from core.front.projects import Project, list_projects

MEMBER_ROLES = ("lead", "annotator")  # the roles that see only the projects they are members of


def _label(account: Account) -> str:
    name = account.display_name
    if name != account.username:
        name = f"{name} ({account.username})"
    return f"{name} · {account.role}"


def members_section(actor: Actor, current: Project | None) -> None:
    projects = list_projects(actor)
    if not projects:
        st.info("There is no project yet: create one on the Projects page, then choose who works on it here.")
        return
    st.caption("Leads and annotators see only the projects they are members of; owners and viewers see every project.")
    by_id = {p.id: p for p in projects}
    ids = list(by_id)
    default = ids.index(current.id) if current is not None and current.id in by_id else 0
    chosen = st.selectbox(
        "Project", ids, index=default, format_func=lambda i: by_id[i].name, key="team_members_project"
    )
    project = by_id[chosen]
    members = members_of_project(actor, project.id)
    if members:
        st.dataframe(
            pd.DataFrame(
                [{"name": m.display_name, "username": m.username, "role": m.role, "active": m.active} for m in members]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.info(say("'{}' has no members yet.", project.name), icon=":material/group_off:")

    member_names = {m.username for m in members}
    candidates = [
        a for a in list_accounts(actor) if a.active and a.role in MEMBER_ROLES and a.username not in member_names
    ]
    add_column, remove_column = st.columns(2)
    with add_column:
        if candidates:
            addable = {a.username: a for a in candidates}
            username = st.selectbox(
                "Add a lead or annotator",
                list(addable),
                format_func=lambda u: _label(addable[u]),
                key=f"team_member_add_{project.id}",
            )
            if st.button("Add to the project", icon=":material/group_add:", key="team_member_add"):
                with friendly_errors("Adding the member"):
                    add_project_member(actor, project.id, username)
                    flash(f"{addable[username].display_name} ({username}) is now a member of '{project.name}'.")
                    st.rerun()
        else:
            st.caption("Every active lead and annotator is a member already (add accounts on the Accounts tab).")
    with remove_column:
        if members:
            removable = {m.username: m for m in members}
            username = st.selectbox(
                "Remove a member",
                list(removable),
                format_func=lambda u: _label(removable[u]),
                key=f"team_member_remove_{project.id}",
            )
            if st.button("Remove from the project", icon=":material/group_remove:", key="team_member_remove"):
                with friendly_errors("Removing the member"):
                    remove_project_member(actor, project.id, username)
                    flash(f"{removable[username].display_name} ({username}) is no longer a member of '{project.name}'.")
                    st.rerun()
