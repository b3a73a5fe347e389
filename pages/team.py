"""Team: who works in the studio and what each may do; the accounts and project members (owners); how far the
current project's annotators agree (leads and owners); the audit log. In personal mode (no account yet), what team
mode is and the form that creates the first owner."""

from __future__ import annotations

import streamlit as st

from components.agreement_view import TEAM_TAB, agreement_section
from components.audit_log import audit_section
from components.feedback import friendly_errors
from components.page_opening import open_page
from components.studio_state import current_actor
from components.team_accounts import accounts_section, first_owner_section, team_overview
from components.team_endpoints import endpoints_section
from components.team_members import members_section
from core.front.accounts import is_loopback
from core.front.permissions import allowed

store, project = open_page("Team")
actor = current_actor()

if not actor.team:
    team_mode_tab, endpoints_tab, audit_tab = st.tabs(["Team mode", "LLM endpoints", "Audit log"])
    with team_mode_tab:
        first_owner_section(actor, served_here_only=is_loopback(st.get_option("server.address")))
    with endpoints_tab:
        endpoints_section(actor)
    with audit_tab:
        audit_section(actor)
elif allowed(actor, "accounts.manage"):
    accounts_tab, members_tab, agreement_tab, endpoints_tab, audit_tab = st.tabs(
        ["Accounts", "Project members", "Agreement", "LLM endpoints", "Audit log"], key=TEAM_TAB, on_change="rerun"
    )
    with accounts_tab:
        accounts_section(actor)
    with members_tab:
        members_section(actor, project)
    if agreement_tab.open:  # the agreement's bootstrap takes a while on a big project: only while its tab is open
        with agreement_tab, friendly_errors("The agreement"):
            agreement_section(actor, project)
    with endpoints_tab:
        endpoints_section(actor)
    with audit_tab:
        audit_section(actor)
else:
    team_overview(actor)
    if allowed(actor, "review.results"):
        st.subheader("Agreement between the annotators")
        with friendly_errors("The agreement"):
            agreement_section(actor, project)
    st.subheader("LLM endpoints")
    endpoints_section(actor)
